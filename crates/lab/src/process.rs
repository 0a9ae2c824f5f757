//! A server variant running as its own process, on port 0, through the lab binary.
//!
//! The server prints `listening on IP:PORT` first; we wait for that line (bounded), so no
//! test ever sleeps to "give the server time". Its stdout and stderr are drained by threads
//! into a bounded log: a server that logs every connection would otherwise fill the pipe and
//! block. Dropping a [`ServerProcess`] kills and reaps it.

use crate::variants::Variant;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Lines kept from a server's output; older ones are dropped.
const LOG_LINES: usize = 20_000;

/// The server's output so far, and a condition variable to wait for a line.
#[derive(Default)]
struct Log {
    lines: Mutex<LogState>,
    grew: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: VecDeque<String>,
    /// Prefix to print each line with as it arrives (the demos), or `None` to stay quiet.
    echo: Option<String>,
}

impl Log {
    fn push(&self, line: String) {
        let mut state = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(prefix) = &state.echo {
            println!("{prefix}{line}");
        }
        if state.lines.len() == LOG_LINES {
            state.lines.pop_front();
        }
        state.lines.push_back(line);
        self.grew.notify_all();
    }
}

/// A running server process.
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    log: Arc<Log>,
    name: String,
}

impl ServerProcess {
    /// Starts `lab serve KRATE --addr 127.0.0.1:0 ARGS...` and waits for its address.
    pub fn start(lab: &Path, krate: &str, args: &[&str]) -> crate::Result<ServerProcess> {
        let mut command = Command::new(lab);
        command
            .args(["serve", krate, "--addr", "127.0.0.1:0"])
            .args(args);
        ServerProcess::start_command(command, format!("{krate} {}", args.join(" ")))
    }

    /// Starts any server `command` that keeps the server contract (the bench's Python
    /// yardsticks): the caller has put its address flag in; `name` labels errors.
    pub fn start_command(mut command: Command, name: String) -> crate::Result<ServerProcess> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let log = Arc::new(Log::default());
        let (first_line, announced) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(line)) = lines.next() {
                    // Into the log before the starter hears of it: a demo echoes the log as
                    // soon as `start` returns, and a line pushed after that would print
                    // after whatever the demo's clients print first, out of order.
                    log.push(line.clone());
                    let _ = first_line.send(line);
                }
                drain(lines, &log);
            });
        }
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || drain(BufReader::new(stderr).lines(), &log));
        }
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            name,
        };
        let line = announced.recv_timeout(START_TIMEOUT).map_err(|_| {
            // Either it exited or it is stuck; the log says which, with the server's words.
            let status = match server.child.try_wait() {
                Ok(Some(status)) => format!("exited ({status})"),
                _ => format!("printed nothing in {START_TIMEOUT:?}"),
            };
            let _ = server.child.kill();
            // Give the drain threads a moment to collect its last words for the message.
            server.wait_for_log(|_| false, Duration::from_millis(200));
            format!(
                "server `{}` {status}; its output:\n{}",
                server.name,
                server.log_text()
            )
        })?;
        server.addr = protocol::announce::parse_announce(&line).ok_or_else(|| {
            format!(
                "server `{}` printed {line:?} instead of `listening on IP:PORT`",
                server.name
            )
        })?;
        Ok(server)
    }

    /// Starts `variant` with its soft descriptor limit (`RLIMIT_NOFILE`) lowered to `fds`, to
    /// see what it does when `accept` fails with EMFILE. The limit is set in the child between
    /// `fork` and `exec`, so any variant can be tested without a flag of its own.
    pub fn start_variant_with_fd_limit(
        lab: &Path,
        variant: &Variant,
        fds: u64,
    ) -> crate::Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(lab);
        command
            .args(["serve", variant.krate, "--addr", "127.0.0.1:0"])
            .args(variant.args);
        // SAFETY: the closure runs in the child after `fork`, where only async-signal-safe
        // calls are allowed: `getrlimit` and `setrlimit` are plain system calls on a struct
        // on the stack, and nothing is allocated.
        unsafe {
            command.pre_exec(move || {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                limit.rlim_cur = fds.min(limit.rlim_max);
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        ServerProcess::start_command(
            command,
            format!("{} (at most {fds} descriptors)", variant.name),
        )
    }

    /// Starts `variant` with `extra` flags appended.
    pub fn start_variant(lab: &Path, variant: &Variant, extra: &[&str]) -> crate::Result<Self> {
        let args: Vec<&str> = variant.args.iter().chain(extra).copied().collect();
        ServerProcess::start(lab, variant.krate, &args)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Prints the server's output with `prefix` (for the demos): what it printed so far, then
    /// every later line as it arrives. Both happen under the log's lock, so no line is printed
    /// twice or missed, however the drain threads race with this call.
    pub fn echo(&self, prefix: &str) {
        let mut state = self.log.lines.lock().unwrap_or_else(|e| e.into_inner());
        for line in &state.lines {
            println!("{prefix}{line}");
        }
        state.echo = Some(prefix.to_string());
    }

    /// Stops printing the server's output (it is still kept for [`log_text`](Self::log_text)).
    pub fn quiet(&self) {
        let mut state = self.log.lines.lock().unwrap_or_else(|e| e.into_inner());
        state.echo = None;
    }

    /// The server's output so far (both streams, interleaved as they arrived).
    pub fn log_text(&self) -> String {
        let state = self.log.lines.lock().unwrap_or_else(|e| e.into_inner());
        state.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// Waits until some line of the output satisfies `found`, for at most `timeout`.
    pub fn wait_for_log(&self, found: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.log.lines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.lines.iter().any(|l| found(l)) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.log.grew.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

fn drain<R: Read>(lines: std::io::Lines<BufReader<R>>, log: &Log) {
    for line in lines {
        match line {
            Ok(line) => log.push(line),
            Err(_) => break,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // SIGKILL: a server under test owes us nothing more. `wait` reaps it, so a long test
        // run leaves no zombie behind. Children of a `fork` server die with its process group
        // only if they were in it; they exit on their own when their client closes.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
