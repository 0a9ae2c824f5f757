//! Section 六 of the notes: the asynchronous I/O model (异步IO), and the pattern the notes
//! mistake for it.
//!
//! The notes illustrate 异步IO with "asynchronous calls plus callbacks" (异步调用 + 回调):
//! `ThreadPoolExecutor.submit` returns a future at once, and `add_done_callback(parse)` runs
//! `parse` when the task is done. That is an asynchronous *call*, not asynchronous I/O: by
//! the classic definition (Stevens, *Unix Network Programming*, 6.2) it is still synchronous
//! I/O. A worker thread calls `recv` and is blocked through both phases, 等待数据 wait data
//! and 拷贝数据 copy data; the caller is free only because another thread waits in its
//! place. Asynchronous I/O is when
//! the *kernel* does both phases and tells you when the data is already in your buffer. On
//! Linux that interface is io_uring: you submit "receive into this buffer", and what comes
//! back is a completion, "done, n bytes", not "ready, try now" (readiness, as in 五).
//!
//! | piece            | file               | what waits                                         |
//! |------------------|--------------------|----------------------------------------------------|
//! | `Pool`, `Future` | [`pool`]           | the notes' pool, futures and callbacks              |
//! | the notes' demo  | [`example`]        | four `n -> n*n` tasks, a `parse` callback            |
//! | `--backend uring`| [`uring`]          | nobody: the kernel; one thread handles completions  |
//! | `--backend uring-multishot` | [`multishot`], [`buf_ring`] | the kernel; idle connections hold no buffer |
//! | `--backend pool` | [`pool_server`]    | `--workers N` threads, each blocked in one `recv`: blocking I/O, asynchronous calls |
//! | the ring itself  | [`ring`]           | submission, full queue, completions                 |
//! | availability     | [`probe`]          | is io_uring allowed here? else fall back to `pool`  |
//! | client           | [`client`], [`uring_client`], [`pool_client`] | `>>: `, or load on the ring |
//!
//! Run it:
//!
//! ```text
//! cargo run --example pool_callbacks                                   # the notes' program (src/example.rs)
//! cargo run -p async-callback --bin server                             # uring (default)
//! cargo run -p async-callback --bin server -- --backend uring-multishot
//! cargo run -p async-callback --bin server -- --backend pool --workers 2
//! cargo run -p async-callback --bin client                             # the >>: client
//! nc 127.0.0.1 8080                                                    # or any raw TCP client
//! cargo run -p async-callback --bin client -- --conns 1000 --duration 2
//! ```
//!
//! What to watch: the uring server serves a thousand clients from one thread (`top -H`, or
//! `grep Threads /proc/PID/status`); the pool server serves `--workers` clients at once and
//! the next one waits, and its log says on which thread each connection's callback ran.
//! Without io_uring (an old kernel, a seccomp profile, `kernel.io_uring_disabled`), the
//! default backend prints why and falls back to `pool`; `--backend uring` refuses instead.

pub mod buf_ring;
pub mod client;
pub mod example;
pub mod multishot;
pub mod pool;
pub mod pool_client;
pub mod pool_server;
pub mod probe;
pub mod ring;
pub mod uring;
pub mod uring_client;

#[cfg(test)]
mod test_servers;

use clap::{Parser, ValueEnum};
use protocol::cli::{ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::process::ExitCode;

pub use protocol::Result;

/// How the server (or the load client) waits for its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// io_uring: the kernel waits and copies, we handle completions (true asynchronous I/O).
    Uring,
    /// io_uring as production runtimes use it: multishot accept, multishot receive into
    /// provided buffers (idle connections hold none), one system call per loop turn.
    /// Falls back to `uring`, with a line saying why, on kernels older than 6.0.
    UringMultishot,
    /// The notes' pool: each connection's blocking loop is a task, a callback logs its end.
    /// Blocking I/O on worker threads, asynchronous only in how it is called.
    Pool,
}

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "Asynchronous I/O echo-upper server (section 六): io_uring, or a pool with callbacks"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// `uring`, `uring-multishot` or `pool`. Without this flag: `uring`, or `pool` (with a line saying why) when
    /// io_uring is unavailable; with `--backend uring` its absence is an error.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,

    /// Worker threads for `--backend pool`: at most this many clients are served at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
}

/// The client's command line: the shared flags, and which backend drives load mode.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Asynchronous I/O client: >>: prompt, or load on io_uring (or on a pool)"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub opts: ClientOpts,

    /// Load mode's backend; as for the server, the default falls back to `pool`.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
}

/// The `server` binary: parse `args` (program name first), bind, announce, serve.
pub fn server_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ServerCli::parse_from(args);
    protocol::exit_code("server", run_server(&cli))
}

/// Chooses the backend (before binding, so a refused `--backend uring` announces nothing),
/// binds, prints `listening on`, then serves.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    let backend = probe::choose(cli.backend, probe::check)?;
    let listener = protocol::listen::bind(cli.listen.addr)?;
    protocol::announce(listener.local_addr()?)?;
    match backend {
        Backend::Uring => uring::run(listener, uring::Config::default()),
        Backend::UringMultishot => multishot::run(listener, multishot::Config::default()),
        Backend::Pool => pool_server::run(listener, usize::from(cli.workers)),
    }
}

/// The `client` binary.
pub fn client_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ClientCli::parse_from(args);
    protocol::exit_code("client", client::run(&cli.opts, cli.backend))
}
