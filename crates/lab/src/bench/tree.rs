//! What a server costs, summed over its process tree: CPU time, resident memory, threads.
//!
//! Most servers are one process, but the process-per-connection server (section 三's fork
//! mode) spreads its work over a child per client, so reading only the parent would make it
//! look free. Its children are summed in:
//! - CPU: the parent's from `/proc/PID/stat` (all its threads, in 10 ms ticks), each child's
//!   from `/proc/PID/schedstat` in nanoseconds (a child serves one client and may run less
//!   than a tick per window: a hundred of them rounded down to ticks would read as zero),
//!   and the children already reaped from the parent's `cutime`, so a child that exits
//!   between two samples is neither lost nor counted twice.
//! - The user/kernel split: `/proc/PID/stat`'s `utime` and `stime` (and `cutime`, `cstime`
//!   for reaped children) summed over the tree, in ticks. Ticks are too coarse for a short
//!   child's total but their *ratio* over a whole window is sound, so [`CpuTimes::split`]
//!   applies it to the precise total above.
//! - Memory: the parent's `VmHWM` plus each child's `Pss` (shared pages divided among the
//!   processes that map them; a forked child shares most of its pages with its parent, and
//!   summing their RSS would count those pages once per child).

use crate::procfs;
use std::time::Duration;

/// One reading of a server's process tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// CPU time used so far by the server, its children and the children it reaped.
    pub cpu: Duration,
    /// Resident memory now, in KiB (children: their proportional share).
    pub rss_kib: u64,
    /// Peak resident memory over the server's life (`VmHWM`), plus its children's present
    /// proportional share, in KiB. A fresh server per bench cell makes this the cell's peak.
    pub hwm_kib: u64,
    /// Threads (for a fork server: one per child process, plus its own).
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
}

/// CPU time alone (read at the edges of every window, so it reads no more than it needs).
pub fn cpu(pid: u32) -> std::io::Result<Duration> {
    let mut cpu = procfs::cpu_time(pid)? + procfs::reaped_children_cpu_time(pid)?;
    for (child, _) in procfs::children(pid) {
        cpu += child_cpu(child);
    }
    Ok(cpu)
}

/// CPU time of a tree, with the user/kernel ticks its split is taken from.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    /// As [`cpu`] reads it.
    pub total: Duration,
    /// Clock ticks in user mode: the tree's `utime`, plus `cutime` of reaped children.
    pub user_ticks: u64,
    /// Clock ticks in the kernel: `stime` and `cstime` likewise.
    pub system_ticks: u64,
}

impl CpuTimes {
    /// The CPU time from `self` to `later`, split into (user, kernel): the precise total,
    /// divided as the ticks were. `None` when no tick fell in between (too short to say).
    pub fn split(&self, later: &CpuTimes) -> Option<(Duration, Duration)> {
        let total = later.total.saturating_sub(self.total);
        let user = later.user_ticks.saturating_sub(self.user_ticks);
        let system = later.system_ticks.saturating_sub(self.system_ticks);
        if user + system == 0 {
            return None;
        }
        let user_share = user as f64 / (user + system) as f64;
        let user = total.mul_f64(user_share);
        Some((user, total.saturating_sub(user)))
    }
}

/// The tree's CPU time and its user/kernel ticks, read in one pass.
pub fn cpu_times(pid: u32) -> std::io::Result<CpuTimes> {
    let own = stat_ticks(pid)?;
    let mut times = CpuTimes {
        total: procfs::cpu_time(pid)? + procfs::reaped_children_cpu_time(pid)?,
        user_ticks: own[0] + own[2],
        system_ticks: own[1] + own[3],
    };
    for (child, _) in procfs::children(pid) {
        times.total += child_cpu(child);
        // A child that exited since the listing is in the parent's cutime/cstime next time.
        if let Ok(ticks) = stat_ticks(child) {
            times.user_ticks += ticks[0];
            times.system_ticks += ticks[1];
        }
    }
    Ok(times)
}

/// `utime`, `stime`, `cutime`, `cstime` of `/proc/PID/stat`, in clock ticks.
fn stat_ticks(pid: u32) -> std::io::Result<[u64; 4]> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 to 17 of the whole line are 11 to 14 after the name.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0);
    Ok([tick(11), tick(12), tick(13), tick(14)])
}

/// A child's CPU time in nanoseconds, or in ticks if schedstat is missing. A child may exit
/// between the listing and this read: it is then counted in the parent's `cutime` instead.
fn child_cpu(child: u32) -> Duration {
    procfs::thread_cpu_time_ns(child)
        .or_else(|_| procfs::cpu_time(child))
        .unwrap_or_default()
}

/// Reads `pid` and its children (one level: the servers here never fork twice).
pub fn sample(pid: u32) -> std::io::Result<Sample> {
    let status = procfs::status(pid)?;
    let mut sample = Sample {
        cpu: procfs::cpu_time(pid)? + procfs::reaped_children_cpu_time(pid)?,
        rss_kib: status.rss_kib,
        hwm_kib: status.hwm_kib,
        threads: status.threads,
        processes: 1,
    };
    for (child, state) in procfs::children(pid) {
        // A zombie still has its CPU time (until reaped) but no memory.
        sample.cpu += child_cpu(child);
        if state == 'Z' {
            continue;
        }
        if let Ok(status) = procfs::status(child) {
            let pss = procfs::pss_kib(child).unwrap_or(status.rss_kib);
            sample.rss_kib += pss;
            sample.hwm_kib += pss;
            sample.threads += status.threads;
            sample.processes += 1;
        }
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_child_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep(1) is on every Linux");
        let with_child = sample(std::process::id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(with_child.processes >= 2, "{with_child:?}");
        assert!(with_child.threads >= 2 && with_child.hwm_kib >= with_child.rss_kib);
    }

    #[test]
    fn splits_user_from_kernel_time() {
        let me = std::process::id();
        let before = cpu_times(me).unwrap();
        // User time: arithmetic; kernel time: small reads of /proc (system calls).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_add(1));
            if x % 1024 == 0 {
                let _ = std::fs::metadata("/proc/self/stat");
            }
        }
        let after = cpu_times(me).unwrap();
        let (user, kernel) = before.split(&after).expect("15 ticks passed");
        assert_eq!(user + kernel, after.total - before.total);
        assert!(user > Duration::ZERO, "{user:?} {kernel:?}");
    }
}
