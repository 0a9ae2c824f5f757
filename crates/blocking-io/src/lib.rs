//! Sections 二 and 三 of the notes: the blocking I/O model (阻塞IO).
//!
//! Every read has two phases: 等待数据 *wait data* (until bytes reach the kernel) and 拷贝数据
//! *copy data* (from the kernel into our buffer). In this model the thread that calls
//! `accept` or `recv` sits through both; `send` only copies, and blocks only when the peer's
//! window and our send buffer are full. The notes' point (三): every server they showed
//! before gevent, with processes, threads or pools, is this model; those only change *how
//! many* threads are blocked at once. So one crate holds all five of them:
//!
//! | `--mode`    | file            | what waits                                   |
//! |-------------|-----------------|----------------------------------------------|
//! | `iterative` | [`iterative`]   | the one thread: the second client waits       |
//! | `thread`    | [`thread`]      | one OS thread per connection (default)        |
//! | `pool`      | [`pool`]        | `--workers N` threads; connection N+1 queues  |
//! | `fork`      | [`fork`]        | one process per connection                    |
//! | `prefork`   | [`prefork`]     | `--workers N` processes, each accepting       |
//!
//! Run it:
//!
//! ```text
//! cargo run -p blocking-io --bin server -- --mode thread     # terminal 1
//! cargo run -p blocking-io --bin client                      # terminal 2: the >>: client
//! nc 127.0.0.1 8080                                          # or any raw TCP client
//! cargo run -p blocking-io --bin client -- --conns 100 --duration 2
//! ```
//!
//! What to watch: with `--mode iterative` a second `nc` gets no reply until the first one
//! quits; with `--mode pool --workers 2` (or `--mode prefork --workers 2`) the third waits
//! for a free worker.

pub mod client;
pub mod conn;
pub mod fork;
pub mod iterative;
pub mod pool;
pub mod prefork;
pub mod thread;

use clap::{Parser, ValueEnum};
use protocol::cli::{ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::process::ExitCode;

pub use protocol::Result;

/// How the server spends its blocked threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One connection at a time (section 二's server).
    Iterative,
    /// An OS thread per connection.
    Thread,
    /// A fixed pool of `--workers` threads.
    Pool,
    /// A process per connection.
    Fork,
    /// A pool of `--workers` processes forked at start, all accepting on one listener.
    Prefork,
}

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "Blocking I/O echo-upper server (sections 二 and 三)"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// Which blocking server to run.
    #[arg(long, value_enum, default_value_t = Mode::Thread)]
    pub mode: Mode,

    /// Worker threads for `--mode pool`, worker processes for `--mode prefork`.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
}

/// The client's command line: the shared client flags, nothing of its own.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Blocking I/O client: >>: prompt, or one thread per connection"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub opts: ClientOpts,
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

// ANCHOR: run_server
/// Binds, prints `listening on`, then hands the listener to the chosen mode.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    let listener = protocol::listen::bind(cli.listen.addr)?;
    protocol::announce(listener.local_addr()?)?;
    match cli.mode {
        Mode::Iterative => iterative::run(listener),
        Mode::Thread => thread::run(listener),
        Mode::Pool => pool::run(listener, usize::from(cli.workers)),
        Mode::Fork => fork::run(listener),
        Mode::Prefork => prefork::run(listener, usize::from(cli.workers)),
    }
}
// ANCHOR_END: run_server

/// The `client` binary.
pub fn client_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ClientCli::parse_from(args);
    protocol::exit_code("client", client::run(&cli.opts))
}
