//! Open id ranges `after < id < before` (`None` = unbounded) and merged sets
//! of them: what a peer has fully answered, so it is not asked again for
//! something it does not have. Ids are 128-bit integers, so ranges are exact:
//! `(x, x + 1)` holds no id, and a range can be cut into pieces that share no
//! id and leave none out.

use catalk_proto::FactId;

/// An open range of ids: `after < id < before`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Range {
    /// Exclusive lower bound; `None` = from the start.
    pub after: Option<FactId>,
    /// Exclusive upper bound; `None` = to the end.
    pub before: Option<FactId>,
}

impl Range {
    /// A range between two bounds.
    pub const fn new(after: Option<FactId>, before: Option<FactId>) -> Self {
        Self { after, before }
    }

    /// The range holding `id` alone.
    pub fn only(id: FactId) -> Self {
        Self::new(Some(previous(id)), Some(next(id)))
    }

    /// Every id up to and including `last` (`None`: every id).
    pub fn through(last: Option<FactId>) -> Self {
        Self::new(None, last.map(next))
    }

    /// Whether `id` lies inside.
    pub fn contains(&self, id: FactId) -> bool {
        self.after.is_none_or(|a| a < id) && self.before.is_none_or(|b| id < b)
    }

    /// Whether no id lies inside.
    pub fn is_empty(&self) -> bool {
        !below(self.after, self.before)
    }

    /// Whether the two ranges share an id.
    pub fn overlaps(&self, other: &Range) -> bool {
        !self.intersection(other).is_empty()
    }

    /// The ids in both ranges.
    pub fn intersection(&self, other: &Range) -> Range {
        let after = self.after.max(other.after);
        let before = match (self.before, other.before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Range::new(after, before)
    }

    /// The ids of `self` not in `other`: none, one or two ranges, in order.
    pub fn minus(&self, other: &Range) -> Vec<Range> {
        if !self.overlaps(other) {
            return vec![*self];
        }
        let mut parts = Vec::with_capacity(2);
        // Ids up to and including `other.after`, and from `other.before` on.
        if let Some(after) = other.after {
            parts.push(self.intersection(&Range::new(None, Some(next(after)))));
        }
        if let Some(before) = other.before {
            parts.push(self.intersection(&Range::new(Some(previous(before)), None)));
        }
        parts.retain(|part| !part.is_empty());
        parts
    }

    /// Cuts the range at each of `cuts` (ascending): a piece ends below a cut
    /// and the next starts at it, so the pieces share no id and together hold
    /// every id of the range. Cuts that would leave an empty piece are skipped.
    pub fn split(&self, cuts: &[FactId]) -> Vec<Range> {
        let mut pieces = Vec::with_capacity(cuts.len() + 1);
        let mut rest = *self;
        for &cut in cuts {
            let lower = Range::new(rest.after, Some(cut));
            let upper = Range::new(Some(previous(cut)), rest.before);
            if !lower.is_empty() && !upper.is_empty() {
                pieces.push(lower);
                rest = upper;
            }
        }
        pieces.push(rest);
        pieces
    }

    /// Whether every id of `other` lies in `self`.
    pub fn covers(&self, other: &Range) -> bool {
        self.after <= other.after && upper_le(other.before, self.before)
    }
}

fn as_int(id: FactId) -> u128 {
    u128::from_be_bytes(id.to_bytes())
}

fn from_int(n: u128) -> FactId {
    FactId::from_bytes(n.to_be_bytes())
}

/// The id right after `id` (saturating).
fn next(id: FactId) -> FactId {
    from_int(as_int(id).saturating_add(1))
}

/// The id right before `id` (saturating).
pub(crate) fn previous(id: FactId) -> FactId {
    from_int(as_int(id).saturating_sub(1))
}

/// Whether an id lies strictly between `lower` and `upper`, where `None` is
/// −∞ for `lower` and +∞ for `upper`.
fn below(lower: Option<FactId>, upper: Option<FactId>) -> bool {
    match (lower, upper) {
        (Some(l), Some(u)) => as_int(l).saturating_add(1) < as_int(u),
        (Some(l), None) => as_int(l) < u128::MAX,
        (None, Some(u)) => as_int(u) > 0,
        (None, None) => true,
    }
}

/// `a <= b` for upper bounds, where `None` is +∞.
fn upper_le(a: Option<FactId>, b: Option<FactId>) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    }
}

/// A set of ranges, merged. Bounds are held ids, so two ranges that touch at
/// a bound merge (the bound itself is held, not missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Intervals {
    ranges: Vec<Range>,
}

impl Intervals {
    /// Adds a range.
    pub fn insert(&mut self, range: Range) {
        if !below(range.after, range.before) {
            return;
        }
        self.ranges.push(range);
        self.ranges.sort();
        let mut merged: Vec<Range> = Vec::with_capacity(self.ranges.len());
        for next in self.ranges.drain(..) {
            match merged.last_mut() {
                // Touching or overlapping: `next.after <= last.before`.
                Some(last) if next.after.is_none() || upper_le(next.after, last.before) => {
                    if upper_le(last.before, next.before) {
                        last.before = next.before;
                    }
                }
                _ => merged.push(next),
            }
        }
        self.ranges = merged;
    }

    /// Whether `range` lies inside one of the ranges.
    pub fn covers(&self, range: &Range) -> bool {
        self.ranges.iter().any(|r| r.covers(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Option<FactId> {
        Some(FactId::from_parts(n, 0))
    }

    #[test]
    fn touching_ranges_merge_and_cover_their_union() {
        let mut set = Intervals::default();
        set.insert(Range::new(id(10), id(20)));
        set.insert(Range::new(id(20), None));
        assert!(set.covers(&Range::new(id(12), None)));
        assert!(!set.covers(&Range::new(id(5), id(15))));
        set.insert(Range::new(None, id(10)));
        assert!(set.covers(&Range::new(None, None)));
    }

    #[test]
    fn overlap_and_containment_treat_none_as_unbounded() {
        let all = Range::new(None, None);
        let top = Range::new(id(50), None);
        let low = Range::new(None, id(50));
        assert!(all.overlaps(&top) && all.overlaps(&low));
        assert!(!top.overlaps(&low));
        assert!(all.covers(&top) && !top.covers(&all));
        assert!(top.contains(FactId::from_parts(51, 0)) && !top.contains(FactId::from_parts(50, 0)));
    }

    #[test]
    fn a_range_minus_another_keeps_exactly_the_ids_outside_it() {
        let whole = Range::new(id(10), id(50));
        let middle = Range::new(id(20), id(30));
        let parts = whole.minus(&middle);
        assert_eq!(parts.len(), 2);
        for n in 11..50 {
            let at = FactId::from_parts(n, 0);
            let inside = parts.iter().filter(|p| p.contains(at)).count();
            assert_eq!(inside, usize::from(!middle.contains(at)), "{n}");
        }
        assert_eq!(whole.minus(&Range::new(None, None)), vec![]);
        assert_eq!(whole.minus(&Range::new(id(60), None)), vec![whole]);
        assert_eq!(Range::new(None, None).minus(&Range::new(id(20), None)).len(), 1);
    }

    #[test]
    fn split_pieces_share_no_id_and_leave_none_out() {
        let whole = Range::new(None, id(100));
        let cuts = [FactId::from_parts(20, 0), FactId::from_parts(20, 0), FactId::from_parts(60, 0)];
        let pieces = whole.split(&cuts);
        assert_eq!(pieces.len(), 3, "a repeated cut is skipped");
        for window in pieces.windows(2) {
            assert!(!window[0].overlaps(&window[1]));
            assert_eq!(window[1].after.map(next), window[0].before, "a piece starts at the previous one's cut");
        }
        // The cut id itself and its neighbours each lie in exactly one piece.
        for at in [previous(cuts[0]), cuts[0], next(cuts[0]), FactId::from_parts(99, u128::from(u64::MAX))] {
            assert_eq!(pieces.iter().filter(|p| p.contains(at)).count(), 1, "{at}");
        }
        assert!(!pieces.iter().any(|p| p.contains(FactId::from_parts(100, 0))));
        let mut set = Intervals::default();
        pieces.iter().for_each(|p| set.insert(*p));
        assert!(set.covers(&whole));
    }

    #[test]
    fn empty_ranges_are_ignored() {
        let mut set = Intervals::default();
        set.insert(Range::new(id(5), id(5)));
        set.insert(Range::new(id(5), Some(next(FactId::from_parts(5, 0)))));
        assert_eq!(set, Intervals::default());
        assert!(Range::new(id(5), Some(next(FactId::from_parts(5, 0)))).is_empty());
    }
}
