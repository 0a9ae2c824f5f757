//! Section 四 of the notes: the non-blocking I/O model (非阻塞IO).
//!
//! In the blocking model (三) a thread sits through both phases of every read, 等待数据
//! *wait data* and 拷贝数据 *copy data*. Here every socket is put in non-blocking mode
//! (`s.setblocking(False)`), so a call that would have to wait returns at once with
//! `WouldBlock` (Python's `BlockingIOError`) and the one thread goes to ask the next socket.
//! Copy data still happens inside the call; only wait data is given back to us. The price,
//! which the notes state plainly (it may keep the CPU busy with useless work, so they advise
//! against the model): nothing ever tells the thread *when* to ask, so it asks all the time
//! and burns a core even when every client is idle. Section 五 (multiplexing) fixes exactly
//! that.
//!
//! The notes write the server twice, and so does this crate:
//!
//! | notes | flag | file | what to watch |
//! |---|---|---|---|
//! | 四 a (bug版) | `--naive` | [`naive`] | replies lost to `WouldBlock`; closed sockets kept |
//! | 四 b (修正) | (default) | [`fixed`] | read list, write list: nothing lost or leaked |
//! | 四 b, the commented-out sleep | `--sleep-ms N` | [`fixed`] | CPU drops; a reply may wait N ms |
//!
//! What each line of the notes' fixed version (四 b) became:
//!
//! | the notes | here |
//! |---|---|
//! | `s.setblocking(False)` | [`accept::Acceptor::new`] |
//! | `s.accept()` / `except BlockingIOError` | [`accept::Acceptor::accept`] returns `None` |
//! | `r_list.append(conn)` | `conns.push(..)` in [`fixed::Server::pass`] |
//! | `data = conn.recv(1024)` | [`conn::Conn::try_read`] |
//! | `if not data: conn.close(); del_rlist.append(conn)` | [`conn::Conn::end`] is set |
//! | appending `(conn, data.upper())` to `w_list` | the connection's own [`Pending`] |
//! | `conn.send(res)`; `del_wlist.append(item)` | [`conn::Conn::try_write`] keeps the tail |
//! | removing each of `del_rlist` from `r_list` | `conns.retain(..)` after the pass |
//! | the commented-out `time.sleep(0.05)` | `--sleep-ms` in [`fixed::run`] |
//!
//! [`Pending`]: protocol::pending::Pending
//!
//! The client is the same model applied to the other side ([`client`]): one thread, every
//! connection non-blocking (even `connect`), one busy loop over all of them.
//!
//! Run it:
//!
//! ```text
//! cargo run -p nonblocking-io --bin server                   # terminal 1: the fixed server
//! cargo run -p nonblocking-io --bin client                   # terminal 2: the >>: client
//! nc 127.0.0.1 8080                                          # or any raw TCP client
//! cargo run -p nonblocking-io --bin client -- --conns 100 --duration 2
//! cargo run -p nonblocking-io --bin server -- --sleep-ms 1   # nap when there is nothing to do
//! cargo run -p nonblocking-io --bin server -- --naive        # the notes' first version
//! ```
//!
//! What to watch: `top` shows the default server at ~100% CPU with no client at all; with
//! `--sleep-ms 1` it is near 0%. The `--naive` server prints one `naive stats:` line a
//! second: connect with `nc` and quit, and `closed_still_held` goes up and never down.

pub mod accept;
pub mod client;
pub mod conn;
pub mod fixed;
pub mod naive;

use clap::Parser;
use protocol::cli::{ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

pub use protocol::Result;

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "Non-blocking I/O echo-upper server: one thread polling every socket (section 四)"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// Run the notes' first version (四 a), bugs and all, with its losses counted and logged
    /// once per second.
    #[arg(long)]
    pub naive: bool,

    /// Sleep this many milliseconds after a pass over the sockets that found nothing to do.
    /// 0 (the default) is a true busy loop.
    #[arg(long, default_value_t = 0, conflicts_with = "naive")]
    pub sleep_ms: u64,
}

/// The client's command line: the shared client flags, nothing of its own.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Non-blocking I/O client: >>: prompt, or one thread polling every connection"
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

/// Binds, prints `listening on`, then runs the naive or the fixed loop.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    let listener = protocol::listen::bind(cli.listen.addr)?;
    protocol::announce(listener.local_addr()?)?;
    if cli.naive {
        naive::run(listener)
    } else {
        let nap = (cli.sleep_ms > 0).then(|| Duration::from_millis(cli.sleep_ms));
        fixed::run(listener, nap)
    }
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

/// `WouldBlock` is not an error in this model: it is the answer "nothing yet, ask again
/// later" (the notes catch `BlockingIOError` and go on). Named so every loop reads the same.
pub(crate) fn would_block(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::WouldBlock
}

/// A signal arrived during the call; nothing happened, so the call may simply be repeated.
pub(crate) fn interrupted(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::Interrupted
}
