//! Counting a running process's system calls with `perf stat`, for the demos.
//!
//! Timing one round trip on a shared machine is noisy: the same two servers swap places
//! from run to run. The number of system calls each makes per round trip does not: a
//! blocking server makes two (`recv`, `send`), a readiness loop adds its wait. So a demo
//! that wants to show *why* one model costs more than another counts instead of (or beside)
//! timing.
//!
//! How: `perf stat -e raw_syscalls:sys_enter -p PID` counts every system call entry of every
//! thread of PID. It starts with its counter disabled (`-D -1`) and takes `enable` and
//! `disable` on a control FIFO, acknowledging each (`--control fifo:CTL,ACK`), so the count
//! covers exactly the workload between the two: no sleep waits for perf to attach.
//!
//! The bench asks for more: [`Counter::attach_tree`] counts several events (system calls
//! and context switches) over a server's whole process tree. `perf stat -p` opens one
//! counter per thread of each process it is given, and with perf's default inheritance
//! (`-i`/`--no-inherit` turns it off) each counter also follows every process or thread
//! forked *after* the attach, the children's counts summed into the parent's on read, alive
//! or exited. Tested here (perf 6.1): a shell that forks 20 children after the attach reads
//! the same count under `-p` as when perf starts it, and ~1% of it under `--no-inherit`. What
//! `-p PID` misses is the children forked *before* the attach: a fork server that already
//! holds its connections has one per client, so their pids are given too (`-p P,C1,C2,...`).
//! Each thread costs perf one descriptor per event, so a 10,000-thread server is beyond a
//! 20,000-descriptor limit: [`Counter::attach_tree`] says so instead of trying.
//!
//! perf may be missing, or not permitted (`kernel.perf_event_paranoid` above 1 without
//! `CAP_PERFMON`, or no tracepoints in a container). [`available`] says so in one line, and
//! the callers skip the count.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The perf binary, found on `PATH`.
const PERF: &str = "perf";

/// The tracepoint hit once per system call entry.
pub const EVENT: &str = "raw_syscalls:sys_enter";

/// The software event counted each time the scheduler switches a thread off a CPU.
pub const CONTEXT_SWITCHES: &str = "context-switches";

/// Descriptors perf needs besides one per (event, thread): its binary, pipes, output.
const PERF_FD_SLACK: u64 = 64;

/// How long perf may take to start or to answer a command before we give up on it.
const PERF_WAIT: Duration = Duration::from_secs(10);

/// Whether `perf stat -e raw_syscalls:sys_enter` works here: `Ok`, or one line saying why
/// not, for the demo to print.
pub fn available() -> Result<(), String> {
    let out = Command::new(PERF)
        .args(["stat", "-x", ",", "-e", EVENT, "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("perf is not installed or cannot run ({e})"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && parse_count(&text).is_some() {
        Ok(())
    } else {
        let why = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        Err(format!("perf cannot count {EVENT} here: {}", why.trim()))
    }
}

/// A `perf stat` attached to one process, its counter off until [`Counter::count`].
pub struct Counter {
    perf: Child,
    /// The events counted, in the order [`Counter::count_events`] returns them.
    events: Vec<String>,
    /// Where we write `enable` and `disable`.
    ctl: File,
    /// Where perf answers `ack` to each.
    ack: File,
    dir: PathBuf,
}

impl Counter {
    /// Attaches perf to every thread `pid` has now, counting nothing yet. Threads the
    /// process starts later are not counted: start the connections first.
    pub fn attach(pid: u32) -> crate::Result<Counter> {
        Counter::attach_tree(&[pid], &[EVENT])
    }

    /// Attaches perf to every thread of every process in `pids` (a server and the children
    /// it has now), counting each of `events`, nothing yet. Processes forked later by any of
    /// them are counted too (perf's inheritance, see the module's docs). Fails, saying why,
    /// when perf would need more descriptors than this process may open.
    pub fn attach_tree(pids: &[u32], events: &[&str]) -> crate::Result<Counter> {
        if pids.is_empty() || events.is_empty() {
            return Err("perf needs at least one process and one event".into());
        }
        let threads: u64 = pids.iter().map(|&p| thread_count(p)).sum();
        let needed = threads * events.len() as u64 + PERF_FD_SLACK;
        let limit = fd_limit();
        if needed > limit {
            return Err(format!(
                "perf would need {needed} descriptors (one per event per thread, {threads} \
                 threads) and the limit is {limit}"
            )
            .into());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "io-models-syscalls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let (ctl_path, ack_path) = (dir.join("ctl"), dir.join("ack"));
        mkfifo(&ctl_path)?;
        mkfifo(&ack_path)?;
        // Both ends opened read-write on our side: on Linux that never blocks, whether or
        // not perf has opened its end yet (a write-only open would wait for a reader).
        let open = |path: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
        };
        let ctl = open(&ctl_path)?;
        let ack = open(&ack_path)?;
        let control = format!(
            "fifo:{},{}",
            ctl_path.to_string_lossy(),
            ack_path.to_string_lossy()
        );
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        let perf = Command::new(PERF)
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                &events.join(","),
                "-D",
                "-1",
                "--control",
            ])
            .arg(&control)
            .arg("-o")
            .arg(dir.join("out"))
            .args(["-p", &list.join(",")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Counter {
            perf,
            events: events.iter().map(|e| e.to_string()).collect(),
            ctl,
            ack,
            dir,
        })
    }

    /// Counts the system calls the process makes while `work` runs, then ends perf.
    pub fn count<T>(self, work: impl FnOnce() -> crate::Result<T>) -> crate::Result<(T, u64)> {
        let (value, counts) = self.count_events(work)?;
        let calls = counts.first().copied().ok_or("perf counted no event")?;
        Ok((value, calls))
    }

    /// Counts every event given to [`Counter::attach_tree`] while `work` runs, in that
    /// order, then ends perf.
    pub fn count_events<T>(
        mut self,
        work: impl FnOnce() -> crate::Result<T>,
    ) -> crate::Result<(T, Vec<u64>)> {
        self.command("enable")?;
        let result = work();
        self.command("disable")?;
        let value = result?;
        let counts = self.finish()?;
        Ok((value, counts))
    }

    /// Sends one control command and waits (bounded) for perf's `ack`.
    fn command(&mut self, what: &str) -> crate::Result<()> {
        self.ctl.write_all(format!("{what}\n").as_bytes())?;
        let deadline = Instant::now() + PERF_WAIT;
        let mut got = Vec::new();
        // perf writes `ack\n` and the C string's NUL after it; look for the tag anywhere.
        while !got.windows(4).any(|w| w == b"ack\n") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !readable_within(&self.ack, left)? {
                return Err(
                    format!("perf did not acknowledge `{what}` within {PERF_WAIT:?}").into(),
                );
            }
            let mut byte = [0u8; 64];
            let n = self.ack.read(&mut byte)?;
            got.extend_from_slice(&byte[..n]);
        }
        Ok(())
    }

    /// Stops perf (SIGINT, as at a terminal, so it writes its count) and reads the count.
    fn finish(mut self) -> crate::Result<Vec<u64>> {
        let pid = libc::pid_t::try_from(self.perf.id())?;
        // SAFETY: kill(2) only sends a signal; `pid` is our own child, not yet reaped (we
        // hold its `Child`), so the number cannot name another process.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        let status = self.perf.wait()?;
        let text = std::fs::read_to_string(self.dir.join("out")).unwrap_or_default();
        self.events
            .iter()
            .map(|event| {
                parse_event(&text, event).ok_or_else(|| {
                    format!("perf ({status}) wrote no {event} count: {}", text.trim()).into()
                })
            })
            .collect()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        // If `count` failed half way, perf may still run: end it. Errors only mean it is
        // already gone.
        let _ = self.perf.kill();
        let _ = self.perf.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The system call count in perf's CSV output.
fn parse_count(text: &str) -> Option<u64> {
    parse_event(text, EVENT)
}

/// `event`'s count in perf's CSV output (`-x ,`): the first field of the line whose third
/// field names the event (`<not counted>` or `<not supported>` parse as nothing).
fn parse_event(text: &str, event: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.split(',').nth(2).is_some_and(|e| e.trim() == event))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse().ok())
}

/// Threads of `pid` now (`/proc/PID/task`): perf opens one counter per event for each.
/// A process that has gone counts as one, so the estimate errs on the high side.
fn thread_count(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(1, |d| d.count() as u64)
}

/// This process's descriptor limit (soft), which perf inherits.
fn fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a pointer to a live, owned value.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_cur
}

fn mkfifo(path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: `c` is a valid NUL-terminated path that lives across the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `file` has bytes to read within `timeout` (poll(2) on one descriptor).
fn readable_within(file: &File, timeout: Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: one live `pollfd`, and the count says one.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        match n {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    #[test]
    fn perf_output_is_parsed() {
        assert_eq!(
            parse_count("\n1234,,raw_syscalls:sys_enter,1000,100.00,,\n"),
            Some(1234)
        );
        assert_eq!(
            parse_count("<not counted>,,raw_syscalls:sys_enter,0,0.00,,"),
            None
        );
        let both = "12,,raw_syscalls:sys_enter,1,100.00,,\n3,,context-switches,1,100.00,,\n";
        assert_eq!(parse_event(both, CONTEXT_SWITCHES), Some(3));
        assert_eq!(parse_event(both, EVENT), Some(12));
        assert_eq!(parse_event(both, "cpu-migrations"), None);
    }

    /// A process that forks children only after perf has attached to it: each child's
    /// system calls are counted in the parent's total (perf's inheritance under `-p`), the
    /// case of a fork server accepting new clients while it is counted.
    #[test]
    fn children_forked_after_the_attach_are_counted() {
        if let Err(why) = available() {
            println!("skipped: {why}");
            return;
        }
        const CHILDREN: usize = 20;
        const LINES: u64 = 200;
        // The shell waits for a line, then runs `CHILDREN` subshells in turn, each making
        // `LINES` empty writes to /dev/null (an open, a write... per line: at least one
        // system call each), and answers when done.
        let script = format!(
            "read go; for i in $(seq {CHILDREN}); do (for j in $(seq {LINES}); do \
             : > /dev/null; done); done; echo done"
        );
        let mut sh = Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("bash runs");
        let mut input = sh.stdin.take().expect("piped");
        let mut output = BufReader::new(sh.stdout.take().expect("piped"));
        let counter =
            Counter::attach_tree(&[sh.id()], &[EVENT, CONTEXT_SWITCHES]).expect("perf attaches");
        let ((), counts) = counter
            .count_events(|| {
                input.write_all(b"go\n")?;
                let mut line = String::new();
                output.read_line(&mut line)?;
                Ok(())
            })
            .expect("counted");
        let _ = sh.wait();
        println!("bash and {CHILDREN} children: {counts:?}");
        // Each redirection alone is an openat, a dup2 and a close: the children's share
        // dwarfs the parent's few dozen calls.
        assert!(
            counts[0] >= CHILDREN as u64 * LINES * 3,
            "children not counted: {counts:?}"
        );
        assert!(counts[1] >= 1, "{counts:?}");
    }

    /// `cat` between two pipes, one line at a time, each echo awaited: a blocking
    /// round trip, exactly one `read` and one `write` per line.
    #[test]
    fn cat_makes_two_calls_per_line() {
        if let Err(why) = available() {
            println!("skipped: {why}");
            return;
        }
        const LINES: u64 = 1000;
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat runs");
        let mut input = cat.stdin.take().expect("piped");
        let mut output = BufReader::new(cat.stdout.take().expect("piped"));
        let mut line = String::new();
        let mut echo = |input: &mut std::process::ChildStdin| -> crate::Result<()> {
            input.write_all(b"ping\n")?;
            line.clear();
            output.read_line(&mut line)?;
            if line != "ping\n" {
                return Err(format!("cat echoed {line:?}").into());
            }
            Ok(())
        };
        // One line first, so cat is past its start-up and blocked in `read`.
        echo(&mut input).expect("first echo");
        let counter = Counter::attach(cat.id()).expect("perf attaches");
        let ((), calls) = counter
            .count(|| (0..LINES).try_for_each(|_| echo(&mut input)))
            .expect("counted");
        drop(input);
        cat.wait().expect("cat exits at EOF");
        println!("cat: {calls} system calls for {LINES} lines");
        // 2 per line. cat is blocked in `read` when the counter is enabled and again when
        // it is disabled, so nothing else should land in the window; allow the one `read`
        // at each end to fall either side of an edge (1999 was seen: the last `read` entered
        // just after the counter stopped).
        assert!(
            (2 * LINES - 2..=2 * LINES + 2).contains(&calls),
            "cat made {calls} system calls for {LINES} lines"
        );
    }
}
