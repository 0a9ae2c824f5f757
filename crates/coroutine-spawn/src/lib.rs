//! Section 一 of the notes: gevent's `spawn`/`join` and its greenlet-per-connection server,
//! rebuilt on `may`'s stackful coroutines (协程).
//!
//! The notes end the chapter where they started: in their summary (七, item 5), a coroutine
//! switches between tasks and keeps each one's state inside the application, and it is worth
//! having only when it switches *because a task is about to wait for I/O* (switching for its
//! own sake just costs time). gevent does that switch for you; `may` does too, as long as you use its types. Each connection gets its own
//! coroutine, which reads like `blocking-io`'s thread-per-connection code (put the two
//! crates' `conn.rs` side by side), yet 1000 clients cost a handful of OS threads.
//!
//! | concept                                    | file             |
//! |--------------------------------------------|------------------|
//! | `spawn` three sleepers, `join` them         | [`spawn_join`]   |
//! | `spawn(server).join()`, accept + spawn       | [`server`]       |
//! | `talk(conn)`: recv, upper, send; a budget    | [`conn`]         |
//! | 1000 client coroutines, every reply checked  | [`client`]       |
//! | workers, stack size, pinning                 | [`runtime`]      |
//!
//! Run it:
//!
//! ```text
//! cargo run --example spawn_join                                # f2, f1, f3; ~5 s, then ~10 s
//! cargo run -p coroutine-spawn --bin server                     # terminal 1
//! cargo run -p coroutine-spawn --bin client                     # terminal 2: the >>: client
//! nc 127.0.0.1 8080                                             # or any raw TCP client
//! cargo run -p coroutine-spawn --bin client -- --conns 1000 --duration 2
//! grep Threads /proc/$(pgrep -n server)/status                  # while the load runs
//! ```
//!
//! # gevent's `monkey.patch_all()` against `may`'s explicit types
//!
//! gevent makes blocking code cooperative by *replacing* parts of the standard library at
//! run time: after `monkey.patch_all()`, the `socket`, `time`, `select` and `threading`
//! modules' own functions and classes are gevent's, and code that reaches them through the
//! module (`time.sleep(3)`) yields to gevent's hub instead of blocking. A name bound before
//! the patch (`from socket import socket`) keeps the original; that is why gevent asks to be
//! patched first. Rust cannot patch `std` (nor should it want
//! to), so `may` offers look-alike types instead, and the program must use them:
//! `may::net::{TcpListener, TcpStream}` for sockets, `may::coroutine::sleep` for sleeping,
//! `may::sync::{Mutex, mpsc, ...}` for waiting on each other. Their methods park the
//! coroutine where the `std` ones would block the thread.
//!
//! # Caveats, each of which this crate steps around in plain sight
//!
//! - **No thread-blocking calls inside a coroutine.** `std::thread::sleep`, a `std::net`
//!   socket, a `std::sync::Mutex` held while waiting, a blocking DNS lookup or file read:
//!   each stops the *worker thread*, and with it every coroutine queued on that worker.
//!   Nothing warns you; the [`spawn_join`] example measures the cost (10 units instead of 5).
//!   The interactive client reads stdin on the main thread for the same reason.
//! - **Thread-local storage.** A coroutine may be resumed on a different thread after any
//!   yield (another worker, or `may`'s timer thread after a sleep), so a thread-local read
//!   before a yield and one after may be two different variables, and a reference to one
//!   held across a yield dangles. That is why `go!` is `unsafe` underneath: the compiler
//!   cannot check it. Every `go!` here says why its body is sound. `may::coroutine_local!`
//!   is the per-coroutine replacement.
//! - **Bounded stacks.** A coroutine's stack is fixed when it is spawned (`--stack-size`,
//!   16 KiB by default, see [`runtime::DEFAULT_STACK`]) and cannot grow; overflowing it
//!   hits a guard page and `may` ends the process. Keep large buffers on the heap and deep
//!   recursion out of coroutines.
//! - **A coroutine that never waits never yields.** A switch happens only where an
//!   operation would block. A client that keeps its socket full (it writes and reads at
//!   once) never makes `read` block, so its coroutine would keep its worker, and the accept
//!   loop and every other coroutine on that worker would wait: the classic failure of a
//!   cooperative scheduler, gevent's too. [`conn::talk`] yields after a budget of reads
//!   (`--budget`, 64 by default; 0 shows the failure).
//! - **Blocking is contagious.** A logged line is a `write` to stderr, which blocks if
//!   nobody drains the pipe. We accept that (the lab always drains it); a production server
//!   would hand log lines to a logging thread through a channel.

pub mod client;
pub mod conn;
pub mod runtime;
pub mod server;
pub mod spawn_join;

use clap::Parser;
use protocol::cli::{ClientOpts, ServerOpts};
use runtime::Runtime;
use std::ffi::OsString;
use std::process::ExitCode;

pub use protocol::Result;

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "Coroutine echo-upper server: a may coroutine per connection (section 一)"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// Worker threads that run the coroutines [default: one per core].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,

    /// Stack per coroutine, in bytes (`16384`, `16K`, `1M`); fixed, it never grows.
    #[arg(long, default_value = "16K", value_parser = parse_stack_size)]
    pub stack_size: usize,

    /// Pin worker i to core i, as `may` does unless told otherwise.
    #[arg(long)]
    pub pin_workers: bool,

    /// Print every connection coroutine's peak stack use (in 8-byte words) when it ends.
    #[arg(long)]
    pub measure_stack: bool,

    /// Reads a connection's coroutine (or accepts the accept loop) makes before it yields to
    /// the others; 0 never yields, as the notes' gevent server (one flooding client then
    /// holds up everyone).
    #[arg(long, default_value_t = conn::DEFAULT_BUDGET)]
    pub budget: u32,
}

impl ServerCli {
    /// The scheduler these flags ask for.
    pub fn runtime(&self) -> Runtime {
        Runtime {
            workers: self.workers.map_or_else(runtime::cores, usize::from),
            stack_bytes: self.stack_size,
            pin_workers: self.pin_workers,
            measure_stack: self.measure_stack,
        }
    }
}

/// Stack per client coroutine. Memory is not what the client is measured on, and its loop
/// formats error lines and records into a histogram, so it gets more headroom than the
/// server's 16 KiB; only the pages it touches become resident.
pub const CLIENT_STACK: usize = 64 * 1024;

/// The client's command line: the shared client flags and the worker count.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Coroutine client: >>: prompt, or one may coroutine per connection"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub opts: ClientOpts,

    /// Worker threads that run the load coroutines [default: one per core].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
}

/// Parses `16384`, `16K`/`16KiB` or `1M`/`1MiB` into bytes, within the accepted range.
fn parse_stack_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let scale = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1024,
        "M" | "MB" | "MIB" => 1024 * 1024,
        _ => return Err(format!("unknown unit {unit:?}; use bytes, K or M")),
    };
    let bytes = digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{s:?} is not a size"))?;
    if (runtime::MIN_STACK..=runtime::MAX_STACK).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "must be between {} KiB and {} MiB",
            runtime::MIN_STACK / 1024,
            runtime::MAX_STACK / (1024 * 1024)
        ))
    }
}

/// The `server` binary: parse `args` (program name first), configure `may`, bind, serve.
pub fn server_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ServerCli::parse_from(args);
    protocol::exit_code("server", run_server(&cli))
}

/// Configures the scheduler, binds, prints `listening on`, then runs the accept loop.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    // Before anything touches `may`: the first `may` socket starts the scheduler.
    runtime::init(cli.runtime())?;
    let listener = protocol::listen::bind(cli.listen.addr)?;
    let addr = listener.local_addr()?;
    let listener = into_may(listener)?;
    protocol::announce(addr)?;
    server::run(listener, cli.budget)
}

/// Hands a bound std listener to `may` (made non-blocking and registered with its epoll).
///
/// `may::net::TcpListener::bind` would do the binding too, but it also sets SO_REUSEPORT,
/// which lets a second server start on the same port and silently take half the clients;
/// `protocol::listen::bind` gives every crate the same socket options.
fn into_may(listener: std::net::TcpListener) -> Result<may::net::TcpListener> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = listener.into_raw_fd();
    // `from_raw_fd` registers the descriptor with may's epoll and panics if that fails (out
    // of memory, in practice). Catch it, so even then the server exits with a message.
    std::panic::catch_unwind(|| {
        // SAFETY: `fd` is an open listening socket that we own: `into_raw_fd` released it
        // from the std listener, so the may listener is now its only owner and closes it.
        unsafe { may::net::TcpListener::from_raw_fd(fd) }
    })
    .map_err(|_| "cannot register the listening socket with may's epoll".into())
}

/// The `client` binary.
pub fn client_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ClientCli::parse_from(args);
    let runtime = Runtime {
        workers: cli.workers.map_or_else(runtime::cores, usize::from),
        stack_bytes: CLIENT_STACK,
        ..Runtime::per_core()
    };
    protocol::exit_code("client", client::run(&cli.opts, runtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> std::result::Result<ServerCli, clap::Error> {
        ServerCli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_a_worker_per_core_16k_stacks_and_no_pinning() {
        let rt = server(&[]).unwrap().runtime();
        assert_eq!(rt.workers, runtime::cores());
        assert_eq!(rt.stack_bytes, 16 * 1024);
        assert!(!rt.pin_workers && !rt.measure_stack);
    }

    #[test]
    fn stack_sizes_parse_with_units_and_stay_in_range() {
        assert_eq!(parse_stack_size("16384"), Ok(16384));
        assert_eq!(parse_stack_size("32K"), Ok(32 * 1024));
        assert_eq!(parse_stack_size("64KiB"), Ok(64 * 1024));
        assert_eq!(parse_stack_size("1M"), Ok(1024 * 1024));
        assert!(parse_stack_size("4K").is_err(), "below a page of frames");
        assert!(parse_stack_size("16M").is_err());
        assert!(parse_stack_size("16Q").is_err());
        assert!(parse_stack_size("K").is_err());
        assert!(server(&["--workers", "0"]).is_err());
        let cli = server(&["--workers", "3", "--stack-size", "32K", "--pin-workers"]).unwrap();
        let rt = cli.runtime();
        assert_eq!(
            (rt.workers, rt.stack_bytes, rt.pin_workers),
            (3, 32768, true)
        );
    }
}
