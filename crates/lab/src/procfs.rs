//! What Linux reports about a process, read from `/proc` (see proc(5)).

use std::time::Duration;

/// CPU time (user + system) the process has used so far.
pub fn cpu_time(pid: u32) -> std::io::Result<Duration> {
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    stat_ticks(pid, 11, 12)
}

/// CPU time (user + system) of the children `pid` has waited for (cutime, cstime). A
/// process-per-connection server's children move their CPU time here when reaped.
pub fn reaped_children_cpu_time(pid: u32) -> std::io::Result<Duration> {
    // Fields 16 and 17 of the whole line are 14 and 15 after the name.
    stat_ticks(pid, 13, 14)
}

/// The sum of two tick counters of `/proc/PID/stat`, counted after the command name.
fn stat_ticks(pid: u32, a: usize, b: usize) -> std::io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(Duration::from_secs_f64(
        (ticks(a) + ticks(b)) as f64 / per_second,
    ))
}

/// CPU time of `pid`'s main thread in nanoseconds, from `/proc/PID/schedstat` (its first
/// field). `/proc/PID/stat` counts in clock ticks (10 ms): fine for a server busy for
/// seconds, useless for a fork server's child that runs a few milliseconds per window.
pub fn thread_cpu_time_ns(pid: u32) -> std::io::Result<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|f| f.parse::<u64>().ok())
        .ok_or_else(|| std::io::Error::other(format!("/proc/{pid}/schedstat: {text:?}")))?;
    Ok(Duration::from_nanos(ns))
}

/// Proportional set size in KiB (`Pss` of `/proc/PID/smaps_rollup`): resident memory with
/// each shared page divided among the processes that map it. Summing VmRSS over a fork
/// server's children would count the pages they share with their parent once per child.
pub fn pss_kib(pid: u32) -> std::io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no Pss in /proc/{pid}/smaps_rollup")))
}

/// Memory and threads, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    /// Resident memory now, in KiB.
    pub rss_kib: u64,
    /// Peak resident memory, in KiB.
    pub hwm_kib: u64,
    /// Threads in the process.
    pub threads: u64,
}

pub fn status(pid: u32) -> std::io::Result<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mut status = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = || {
            value
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        match key {
            "VmRSS" => status.rss_kib = number(),
            "VmHWM" => status.hwm_kib = number(),
            "Threads" => status.threads = number(),
            _ => {}
        }
    }
    Ok(status)
}

/// How many of the process's open descriptors are sockets (listening ones included).
///
/// A server that forgets to close finished connections shows it here: the count stays up
/// after its clients have gone.
pub fn open_sockets(pid: u32) -> std::io::Result<usize> {
    let mut sockets = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // A descriptor closed while we list them is simply not counted.
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        if target.to_string_lossy().starts_with("socket:") {
            sockets += 1;
        }
    }
    Ok(sockets)
}

/// Processes whose parent is `pid`, with their state letter (`Z` for a zombie).
pub fn children(pid: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push((child, state));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let s = status(me).unwrap();
        assert!(s.threads >= 1 && s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
        // Burn a little CPU so the reading cannot be a constant zero.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_time(me).unwrap() > Duration::ZERO);
        assert!(thread_cpu_time_ns(me).unwrap() > Duration::ZERO);
        let pss = pss_kib(me).unwrap();
        assert!(pss > 0 && pss <= s.rss_kib, "{pss} vs {s:?}");
    }

    #[test]
    fn counts_open_sockets() {
        // Other tests run in parallel threads and may hold sockets too, so: at least ours.
        let held: Vec<_> = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        assert!(open_sockets(std::process::id()).unwrap() >= held.len());
    }
}
