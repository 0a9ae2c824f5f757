//! Section 五 of the notes: IO multiplexing (IO多路复用), one thread serving every socket.
//!
//! The notes' server hands `select` the list of sockets it cares about and sleeps until some
//! are ready; it then calls `accept`, `recv` or `send` only on those, and none of them waits.
//! The wait data phase (等待数据) moved: one call waits for *every* socket at once, and each
//! `recv` only copies data (拷贝数据). So one thread serves a thousand idle clients without
//! spending a cycle on them, where blocking I/O (三) needed a thousand blocked threads and
//! non-blocking I/O (四) a core spinning over all of them.
//!
//! The readiness API is the part a server can choose, so this crate has three, over one
//! shared per-connection state ([`conn::Conn`]) and one accept-error policy ([`accept`]):
//!
//! | `--backend`  | file                  | triggering                  | cost per wait        |
//! |--------------|-----------------------|-----------------------------|----------------------|
//! | `polling`    | [`polling_backend`]   | level (`PollMode::Level`)   | ready sockets        |
//! | `mio`        | [`mio_backend`]       | edge (drain to WouldBlock)  | ready sockets        |
//! | `select`     | [`select_backend`]    | level, sets rebuilt         | every socket; < 1024 |
//!
//! Run it:
//!
//! ```text
//! cargo run -p multiplexing --bin server                      # terminal 1 (polling)
//! cargo run -p multiplexing --bin server -- --backend select  # or mio, or select
//! cargo run -p multiplexing --bin client                      # terminal 2: the >>: client
//! nc 127.0.0.1 8080                                           # or any raw TCP client
//! cargo run -p multiplexing --bin client -- --conns 1000 --duration 2
//! ```
//!
//! What to watch: `grep Threads /proc/$(pgrep -n server)/status` says 1 with a thousand
//! clients connected, and `top` shows it idle while they are. The notes' other remark holds
//! too: with a single client, multiplexing costs more than blocking I/O. A blocking server
//! makes two system calls per round trip (`recv`, `send`); `select` makes three (the wait
//! too), and `polling`'s wait is several calls by itself. `cargo lab demo-all --section 5`
//! counts them with perf and times both.

pub mod accept;
pub mod client;
pub mod conn;
pub mod fd_limit;
pub mod mio_backend;
pub mod polling_backend;
pub mod select_backend;

use clap::{Parser, ValueEnum};
use protocol::cli::{ClientOpts, ServerOpts};
use std::ffi::OsString;
use std::process::ExitCode;

pub use protocol::Result;

/// Which readiness API the one thread waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// `polling::Poller` (epoll), level-triggered.
    Polling,
    /// `mio` (epoll), edge-triggered.
    Mio,
    /// `select(2)` itself, as in the notes; at most FD_SETSIZE (1024) descriptors.
    Select,
}

/// The server's command line.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    about = "IO multiplexing echo-upper server: one thread, every socket (section 五)"
)]
pub struct ServerCli {
    #[command(flatten)]
    pub listen: ServerOpts,

    /// Which readiness API to wait in.
    #[arg(long, value_enum, default_value_t = Backend::Polling)]
    pub backend: Backend,

    /// Lower this process's descriptor limit (RLIMIT_NOFILE) to N at start, to watch the
    /// server run out of descriptors and keep going.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(8..))]
    pub max_fds: Option<u64>,
}

/// The client's command line: the shared client flags, nothing of its own.
#[derive(Parser, Debug)]
#[command(
    name = "client",
    about = "Multiplexing client: >>: prompt, or every connection driven from one thread"
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
/// Sets the descriptor limit if asked, binds, prints `listening on`, then runs the backend.
pub fn run_server(cli: &ServerCli) -> Result<()> {
    if let Some(n) = cli.max_fds {
        fd_limit::set_max_fds(n)?;
        protocol::log!("descriptor limit set to {n}");
    }
    let listener = protocol::listen::bind(cli.listen.addr)?;
    protocol::announce(listener.local_addr()?)?;
    match cli.backend {
        Backend::Polling => polling_backend::run(listener),
        Backend::Mio => mio_backend::run(listener),
        Backend::Select => select_backend::run(listener),
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

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::cli::{LoadPlan, Stop};
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpStream};
    use std::time::Duration;

    const BACKENDS: [Backend; 3] = [Backend::Polling, Backend::Mio, Backend::Select];

    /// A server of `backend` on a thread of this test process. It runs until the process
    /// ends; each test starts its own.
    fn start(backend: Backend) -> SocketAddr {
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || match backend {
            Backend::Polling => polling_backend::run(listener),
            Backend::Mio => mio_backend::run(listener),
            Backend::Select => select_backend::run(listener),
        });
        addr
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    #[test]
    fn every_backend_serves_many_connections_from_one_thread() {
        for backend in BACKENDS {
            let plan = LoadPlan {
                conns: 50,
                stop: Stop::Rounds(20),
                size: 2000,
                timeout: Duration::from_secs(10),
                json: false,
                seed: 9,
            };
            let s = client::load(start(backend), &plan).unwrap();
            assert!(s.passed(), "{backend:?}: {s:?}");
            assert_eq!(s.rounds, 1000, "{backend:?}");
        }
    }

    #[test]
    fn every_backend_sends_every_reply_after_a_half_close() {
        for backend in BACKENDS {
            let mut stream = connect(start(backend));
            let message = protocol::load::Messages::new(4, 0).next_message(16 * 1024);
            stream.write_all(&message).unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).unwrap();
            assert_eq!(reply, protocol::upper(&message), "{backend:?}");
        }
    }

    #[test]
    fn every_backend_serves_a_message_larger_than_its_bound_read_while_written() {
        // 1 MiB, far past the 64 KiB pending bound: the server must stop reading, send,
        // and resume (for mio, without a new readable edge).
        for backend in BACKENDS {
            let mut stream = connect(start(backend));
            let message = protocol::load::Messages::new(6, 0).next_message(1 << 20);
            let mut writer = stream.try_clone().unwrap();
            let to_send = message.clone();
            let sending = std::thread::spawn(move || writer.write_all(&to_send));
            let mut reply = vec![0; message.len()];
            stream.read_exact(&mut reply).unwrap();
            sending.join().unwrap().unwrap();
            assert!(reply == protocol::upper(&message), "{backend:?}");
        }
    }
}
