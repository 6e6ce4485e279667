//! Process figures from Linux `/proc`: resident memory and CPU time.

use anyhow::{Context as _, anyhow};

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// A process to read figures of: another one by pid, or this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// The benchmark process itself.
    This,
    /// Another process.
    Pid(u32),
}

impl Proc {
    fn path(self, file: &str) -> String {
        match self {
            Self::This => format!("/proc/self/{file}"),
            Self::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }

    /// Resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(self) -> anyhow::Result<u64> {
        let path = self.path("status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_vm_rss(&status).ok_or_else(|| anyhow!("no VmRSS in {path}"))
    }

    /// User plus system CPU time of all threads, in seconds.
    pub fn cpu_seconds(self) -> anyhow::Result<f64> {
        let path = self.path("stat");
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / USER_HZ).ok_or_else(|| anyhow!("cannot parse {path}"))
    }
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces; count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of stat(5); `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds the whole machine spent in processes, all cores: user, nice and
/// system time of the `cpu` line of `/proc/stat`, plus steal (time the
/// hypervisor gave to someone else). Interrupt time is left out: loopback
/// traffic of the benchmark itself is processed there.
pub fn machine_busy_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_machine_busy(&stat).map(|ticks| ticks as f64 / USER_HZ).ok_or_else(|| anyhow!("cannot parse /proc/stat"))
}

fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    Some(ticks.get(..3)?.iter().sum::<u64>() + ticks.get(7).copied().unwrap_or(0))
}

/// CPU seconds used by a process between two samples, if both could be read.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample(Option<f64>);

impl CpuSample {
    /// Samples `proc` now (a failed read yields an empty sample).
    pub fn take(proc: Option<Proc>) -> Self {
        Self(proc.and_then(|p| p.cpu_seconds().ok()))
    }

    /// Samples the whole machine's busy time now.
    pub fn machine() -> Self {
        Self(machine_busy_seconds().ok())
    }

    /// CPU seconds spent since `earlier`.
    pub fn since(self, earlier: Self) -> Option<f64> {
        Some(self.0? - earlier.0?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tcatalk-relay\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(5120 * 1024));
    }

    #[test]
    fn cpu_ticks_skip_a_command_name_with_spaces() {
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_cpu_ticks(stat), Some(267));
    }

    #[test]
    fn machine_busy_time_counts_processes_and_steal() {
        let stat = "cpu  100 5 50 9000 20 1 2 3 0 0\ncpu0 50 2 25 4500 10 0 1 1 0 0\n";
        assert_eq!(parse_machine_busy(stat), Some(158));
    }

    #[test]
    fn own_process_figures_are_readable() {
        assert!(Proc::This.rss_bytes().unwrap() > 0);
        assert!(Proc::This.cpu_seconds().unwrap() >= 0.0);
    }
}
