//! 自己实现gevent: the chapter's stated purpose (section 二 of the notes: learn the I/O
//! models in order to build gevent ourselves and solve network I/O inside one thread), done.
//! A stackless coroutine runtime of our own on section 五's poller, from `std` and
//! `polling` only, and the notes' gevent server and 1000-connection client on top of it.
//!
//! | concept                                              | file            |
//! |------------------------------------------------------|-----------------|
//! | step 1: a readiness loop calling a callback (五)      | [`step1`]       |
//! | step 2: one connection as a hand-written `Future`    | [`step2`]       |
//! | a task and its `Waker`                               | [`task`]        |
//! | run queue, `spawn`, `JoinHandle`, `joinall`, `block_on` | [`executor`] |
//! | one poller, the wakers waiting on each socket        | [`reactor`]     |
//! | `sleep`, deadlines in a heap, `timeout`              | [`timer`]       |
//! | `accept`, `read`, `write_all`: try first, wait on `WouldBlock` | [`net`] |
//! | a non-blocking `connect` for the client (libc)        | [`connect`]     |
//! | section 一's spawn/join: 5 units, or 10 with a blocking sleep | [`spawn_join`] |
//! | the 连接循环 and the 通信循环 of the gevent server     | [`server`], [`conn`] |
//! | one task per client connection                       | [`client`]      |
//!
//! ```text
//! cargo run -p own-gevent --bin server                         # terminal 1
//! cargo run -p own-gevent --bin client                         # terminal 2: the >>: client
//! nc 127.0.0.1 8080                                            # or any raw TCP client
//! cargo run -p own-gevent --bin client -- --conns 1000 --duration 2
//! grep Threads /proc/$(pgrep -n server)/status                 # 1
//! ```
//!
//! # Stackless, single-threaded, thread-local
//!
//! A task is a Rust `Future`: a state machine the compiler builds from an `async fn`, whose
//! size is the largest set of variables alive across one `.await` (for a connection, its
//! 1 KiB buffer and a few words). There is no stack per task to size or overflow, unlike
//! gevent's greenlets or `may`'s coroutines (crate `coroutine-spawn`).
//!
//! The runtime lives in thread-locals (one executor, one reactor, one timer heap per
//! thread), as gevent's hub does. So `spawn`, `sleep` and the sockets are free functions
//! and types, gevent's vocabulary with no runtime value to pass around, and tasks need not
//! be `Send` (they may share `Rc`s). The price: a task cannot move to another thread, and
//! one thread's tasks use one core. tokio offers both: a current-thread runtime like this
//! one and a multi-threaded one that steals work.
//!
//! # Caveats
//!
//! - **No thread-blocking calls in a task**: `std::thread::sleep`, a blocking socket, a
//!   `std::sync::Mutex` held while waiting. Each stops the one thread; [`spawn_join`]
//!   measures the cost. The compiler does not warn, but the cooperative call is visible:
//!   it is the one followed by `.await`.
//! - **A task that computes without awaiting** holds the thread until it returns. Socket
//!   calls spend a budget ([`executor::BUDGET`]) and yield when it is spent, so a socket that
//!   never runs dry cannot do this; a loop of pure computation still can.
//! - **Log lines block**: `protocol::log!` writes to stderr, which blocks if nobody drains
//!   the pipe. A production server would hand them to a logging thread.

pub mod client;
pub mod conn;
pub mod connect;
pub mod executor;
pub mod net;
pub mod reactor;
pub mod server;
pub mod spawn_join;
pub mod step1;
pub mod step2;
pub mod task;
pub mod timer;

pub use executor::{block_on, joinall, spawn, JoinError, JoinHandle};
pub use net::{TcpListener, TcpStream};
pub use protocol::Result;
pub use timer::{sleep, timeout};

use clap::Parser;
use protocol::cli::{ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::process::ExitCode;

/// The server's command line: only the shared flags; the runtime has no knobs.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "Echo-upper server on our own gevent: one task per connection, one thread"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,
}

/// The client's command line: the shared client flags.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Client on our own gevent: >>: prompt, or one task per connection"
)]
pub struct ClientCli {
    #[command(flatten)]
    pub opts: ClientOpts,
}

/// The `server` binary: parse `args` (program name first), bind, serve.
pub fn server_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ServerCli::parse_from(args);
    protocol::exit_code("server", run_server(&cli))
}

/// Binds, prints `listening on`, then runs the accept loop as a task and joins it, as the
/// notes' `spawn(server, ...).join()`.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    let listener = protocol::listen::bind(cli.listen.addr)?;
    let addr = listener.local_addr()?;
    // Registering the listener is where a missing poller (epoll_create failed) shows up.
    let listener = TcpListener::from_std(listener)?;
    protocol::announce(addr)?;
    spawn(server::serve(listener)).join()?;
    Ok(())
}

/// The `client` binary.
pub fn client_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = ClientCli::parse_from(args);
    protocol::exit_code("client", client::run(&cli.opts))
}
