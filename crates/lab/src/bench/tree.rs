//! What a server costs, summed over its process tree: CPU time, resident memory, threads.
//!
//! Most servers are one process, but the process-per-connection server (section 三's fork
//! mode) spreads its work over a child per client, so reading only the parent would make it
//! look free. Its children are summed in; once reaped, a child's CPU time moves into the
//! parent's `cutime`, which is counted too, so a child that exits between two samples is
//! neither lost nor counted twice. Shared pages are counted in every process that maps them,
//! so a fork server's memory is an upper bound (`/proc/PID/smaps_rollup`'s `Pss` would split
//! them; it costs a page-table walk per process).

use crate::procfs;
use std::time::Duration;

/// One reading of a server's process tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// CPU time used so far by the server, its children and the children it reaped.
    pub cpu: Duration,
    /// Resident memory now, in KiB.
    pub rss_kib: u64,
    /// Peak resident memory over each process's life, summed, in KiB. A fresh server per
    /// bench cell makes this the cell's peak.
    pub hwm_kib: u64,
    /// Threads (for a fork server: one per child process, plus its own).
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
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
        // A child may exit between the listing and these reads: it is then simply absent.
        // A zombie still has its CPU time (until reaped) but no memory.
        sample.cpu += procfs::cpu_time(child).unwrap_or_default();
        if state == 'Z' {
            continue;
        }
        if let Ok(status) = procfs::status(child) {
            sample.rss_kib += status.rss_kib;
            sample.hwm_kib += status.hwm_kib;
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
