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
}
