//! Open id ranges `after < id < before` (`None` = unbounded) and merged sets
//! of them: what a peer has fully answered, so it is not asked again for
//! something it does not have.

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

    /// Whether `id` lies inside.
    pub fn contains(&self, id: FactId) -> bool {
        self.after.is_none_or(|a| a < id) && self.before.is_none_or(|b| id < b)
    }

    /// Whether the two ranges share an id.
    pub fn overlaps(&self, other: &Range) -> bool {
        below(self.after, other.before) && below(other.after, self.before)
    }

    /// Whether every id of `other` lies in `self`.
    pub fn covers(&self, other: &Range) -> bool {
        self.after <= other.after && upper_le(other.before, self.before)
    }
}

/// `lower < upper` where `None` is −∞ for `lower` and +∞ for `upper`.
fn below(lower: Option<FactId>, upper: Option<FactId>) -> bool {
    match (lower, upper) {
        (Some(l), Some(u)) => l < u,
        _ => true,
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
    fn empty_ranges_are_ignored() {
        let mut set = Intervals::default();
        set.insert(Range::new(id(5), id(5)));
        assert_eq!(set, Intervals::default());
    }
}
