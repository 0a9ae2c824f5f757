//! The yardstick: the echo-upper service as a Rust engineer would write it in production, on
//! tokio. It is not a model of the notes; `cargo lab bench` divides every model's figures by
//! this server's, measured in the same run on the same machine.
//!
//! ```text
//! cargo lab serve baseline --flavor current-thread     # one thread runs every task
//! cargo lab serve baseline --flavor multi-thread       # a work-stealing pool, one per core
//! nc 127.0.0.1 8080
//! cargo lab client baseline --conns 1000 --duration 2   # the bench's load generator
//! ```
//!
//! What to watch: the connection handler reads like the blocking server of section 三
//! (`read`, upper-case, `write_all`), yet one thread serves every connection. tokio parks the
//! task on `WouldBlock` and an epoll loop (mio) wakes it: sections 五 (multiplexing) and 一
//! (gevent's `spawn`) in one library. Its client is the lab's own load generator
//! ([`crate::bench::loadgen`]), so `lab client baseline` can load any server.

use clap::{Parser, ValueEnum};
use protocol::accept::{Episode, Next, BACK_OFF};
use protocol::cli::{ClientMode, ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which tokio scheduler runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flavor {
    /// Every task on the one thread that runs the event loop: the fair match for the
    /// single-threaded models (select, poll, epoll, io_uring).
    CurrentThread,
    /// One worker thread per core, stealing tasks from each other: the match for models that
    /// use every core (coroutines on several threads, a thread per connection).
    MultiThread,
}

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "tokio echo-upper server: the bench's yardstick"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// Which tokio runtime to use.
    #[arg(long, value_enum, default_value_t = Flavor::CurrentThread)]
    pub flavor: Flavor,
}

/// The client's command line: the shared client flags, run by the lab's load generator.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "The bench's mio load generator (or the >>: client without load flags)"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub opts: ClientOpts,
}

/// `lab serve baseline ...`.
pub fn server_main(args: Vec<OsString>) -> ExitCode {
    let cli = ServerCli::parse_from(args);
    protocol::exit_code("server", run_server(&cli))
}

/// Builds the runtime the flavour names and serves on it until killed.
pub fn run_server(cli: &ServerCli) -> crate::Result<()> {
    let mut builder = match cli.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        // Worker threads default to the number of cores, as in production.
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = builder.enable_io().enable_time().build()?;
    // The same socket set-up as every model (SO_REUSEADDR, the lab's backlog), then handed
    // to tokio, which makes it non-blocking and registers it with its epoll instance.
    let std_listener = protocol::listen::bind(cli.listen.addr)?;
    std_listener.set_nonblocking(true)?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(std_listener)?;
        protocol::announce(listener.local_addr()?)?;
        accept_loop(listener).await
    })
}

// ANCHOR: accept
/// The connection loop: one task per connection, as gevent's `spawn(talk, conn)`.
async fn accept_loop(listener: TcpListener) -> crate::Result<()> {
    let mut episode = Episode::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                episode.accepted();
                protocol::log!("[{peer}] connected; served by a task");
                tokio::spawn(talk(stream, peer));
            }
            // Out of descriptors or memory: the connection stays queued and accept would
            // fail again at once; pause instead of spinning, as every model's loop does,
            // with one log line per episode.
            Err(err) => {
                if episode.failed(&err, None) == Next::BackOff {
                    tokio::time::sleep(BACK_OFF).await;
                }
            }
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: talk
/// The communication loop. `read` and `write_all` look blocking, but each `.await` that would
/// block returns the thread to the scheduler (WouldBlock is handled inside tokio) until epoll
/// says this socket is ready.
async fn talk(mut stream: TcpStream, peer: SocketAddr) {
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    // The notes' recv(1024), as every model reads: the bench compares models, not buffer
    // sizes. Production code would read 8 KiB or more at a time.
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            // EOF (close or half-close): every reply so far is already written.
            Ok(0) => {
                protocol::log!("[{peer}] closed by peer");
                return;
            }
            Ok(n) => n,
            Err(err) => {
                protocol::log!("[{peer}] read failed: {err}");
                return;
            }
        };
        protocol::upper_in_place(&mut buf[..n]);
        // The next read waits until this reply is written in full, so a client that never
        // reads costs one 1 KiB buffer and a parked task, never a growing queue.
        if let Err(err) = stream.write_all(&buf[..n]).await {
            protocol::log!("[{peer}] write failed: {err}");
            return;
        }
    }
}
// ANCHOR_END: talk

/// `lab client baseline ...`: the notes' `>>: ` client, or the bench's load generator.
pub fn client_main(args: Vec<OsString>) -> ExitCode {
    let cli = ClientCli::parse_from(args);
    protocol::exit_code("client", run_client(&cli.opts))
}

fn run_client(opts: &ClientOpts) -> crate::Result<()> {
    match opts.mode()? {
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => crate::bench::loadgen::run_plan(opts.addr, &plan),
    }
}
