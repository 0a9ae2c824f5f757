//! Sticky packets (粘包) and the custom header (自定义报头): section 七, 网络编程 5,
//! "tcp流式协议独有的粘包问题, 解决方法: 自定义报头".
//!
//! TCP delivers a stream of bytes, not messages: the kernel keeps no trace of where one
//! `send` ended and the next began. A reader that takes each `recv(1024)` as one message, as
//! every server in the notes does, is wrong in two ways, and [`without_header`] shows both
//! happening over loopback:
//! - two quick sends arrive as one read (the server was busy, both piled up in its receive
//!   buffer: `b'helloworld'`);
//! - one large message needs several reads (4 KiB through a 1024-byte `recv` is 4 reads).
//!
//! The fix is [`protocol::framing`]: each message goes out behind a 4-byte length header,
//! and the reader feeds whatever each read returns to a decoder that hands back whole
//! messages. [`with_header`] runs the same exchange against [`FramedServer`] and gets every
//! message back intact. What to watch: the framed server still reads 1024 bytes at a time;
//! it is the header, not the read size, that restores the boundaries.
//!
//! UDP has no such problem (数据报协议没有粘包问题): see `udp_echo`.

use protocol::accept::{Episode, Next, BACK_OFF};
use protocol::framing::{self, Decoded, Decoder};
use protocol::limits::READ_SIZE;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long any read in this example waits before giving up: loopback answers in
/// microseconds, so this only ends a run that went wrong.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The two quick messages of the exchange.
pub const SMALL: [&[u8]; 2] = [b"hello", b"world"];

/// The large message: four of the notes' `recv(1024)`.
pub const LARGE_LEN: usize = 4 * READ_SIZE;

/// The messages of the exchange, in the order the client sends them.
pub fn messages() -> Vec<Vec<u8>> {
    let large = (0..LARGE_LEN).map(|i| b'a' + (i % 26) as u8).collect();
    vec![SMALL[0].to_vec(), SMALL[1].to_vec(), large]
}

/// What the header-less exchange looked like from the server's side.
#[derive(Debug)]
pub struct NaiveRun {
    /// What the client sent, one entry per `send`.
    pub sent: Vec<Vec<u8>>,
    /// What each of the server's `recv(1024)` returned: the naive server takes each entry
    /// for one message.
    pub reads: Vec<Vec<u8>>,
}

// ANCHOR: naive
/// The bug: a client sends `hello` and `world` quickly, then one 4 KiB message; the server
/// takes each `recv(1024)` for one message, as the notes' servers do.
pub fn without_header() -> io::Result<NaiveRun> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sent = messages();
    let to_send = sent.clone();
    let (first_read_done, wait_for_first_read) = mpsc::channel::<()>();
    let client = thread::spawn(move || -> io::Result<()> {
        let mut stream = TcpStream::connect(addr)?;
        // Nagle off: each `send` leaves at once as its own segment. The sticking below
        // happens at the receiver, which no sender setting can prevent.
        stream.set_nodelay(true)?;
        stream.write_all(&to_send[0])?;
        stream.write_all(&to_send[1])?;
        // The large message goes only after the server's first read, so that read holds
        // exactly the two small ones.
        let _ = wait_for_first_read.recv_timeout(TIMEOUT);
        stream.write_all(&to_send[2])?;
        Ok(()) // dropping the stream closes it: the server reads EOF
    });

    let (mut conn, _) = listener.accept()?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    // The server was busy elsewhere: by the time it reads, both small sends have arrived.
    // (We wait for that without consuming anything, so the read below is the first.)
    wait_until_buffered(&conn, SMALL[0].len() + SMALL[1].len())?;
    let mut buf = [0u8; READ_SIZE];
    let mut reads = Vec::new();
    let n = read_retrying(&mut conn, &mut buf)?;
    reads.push(buf[..n].to_vec());
    let _ = first_read_done.send(());
    loop {
        match read_retrying(&mut conn, &mut buf)? {
            0 => break,
            n => reads.push(buf[..n].to_vec()),
        }
    }
    join(client)?;
    Ok(NaiveRun { sent, reads })
}
// ANCHOR_END: naive

/// Blocks until at least `n` bytes wait in `stream`'s receive buffer, consuming none.
///
/// `MSG_PEEK | MSG_WAITALL`: the kernel waits as for a full read, then copies without
/// removing. This stands in for "the server was busy"; no real server would do it.
fn wait_until_buffered(stream: &TcpStream, n: usize) -> io::Result<()> {
    let mut buf = vec![0u8; n];
    let sock = socket2::SockRef::from(stream);
    loop {
        match sock.recv_with_flags(
            crate::as_uninit(&mut buf),
            libc::MSG_PEEK | libc::MSG_WAITALL,
        ) {
            Ok(got) if got >= n => return Ok(()),
            // Cut short with part of it: the peer closed, or the read timeout expired.
            // (Peeking again would return the same bytes at once, for ever.)
            Ok(got) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("only {got} of the {n} bytes sent arrived"),
                ))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `read`, retried on `Interrupted`.
fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn join<T>(handle: JoinHandle<io::Result<T>>) -> io::Result<T> {
    handle
        .join()
        .map_err(|_| io::Error::other("a thread of the example panicked"))?
}

/// What the framed exchange looked like from the client's side.
#[derive(Debug)]
pub struct FramedRun {
    /// The messages sent, each behind its header.
    pub sent: Vec<Vec<u8>>,
    /// The replies, one per decoded frame.
    pub replies: Vec<Vec<u8>>,
    /// How many `recv(1024)` the client needed for them.
    pub reads: usize,
}

// ANCHOR: framed_client
/// The fix: the same three sends, each behind a 4-byte length header, against a
/// [`FramedServer`] at `addr`. Replies are read 1024 bytes at a time and decoded.
pub fn with_header(addr: SocketAddr) -> io::Result<FramedRun> {
    let sent = messages();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    // Three sends in a row, as before; the replies (about 4 KiB) fit in the socket buffers,
    // so writing everything before reading cannot deadlock.
    for message in &sent {
        stream.write_all(&framing::encode(message).map_err(io::Error::other)?)?;
    }
    let mut decoder = Decoder::default();
    let mut replies = Vec::new();
    let mut buf = [0u8; READ_SIZE];
    let mut reads = 0;
    while replies.len() < sent.len() {
        let n = read_retrying(&mut stream, &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "the server closed before every reply arrived",
            ));
        }
        reads += 1;
        decoder.push(&buf[..n]);
        // One read may end in the middle of a frame, or hold several: ask until Incomplete.
        while let Decoded::Frame(reply) = decoder.decode().map_err(io::Error::other)? {
            replies.push(reply);
        }
    }
    Ok(FramedRun {
        sent,
        replies,
        reads,
    })
}
// ANCHOR_END: framed_client

/// The echo-upper server, speaking frames: a thread per connection (as in section 三), each
/// reading `recv(1024)` and replying one frame per decoded frame.
///
/// Production alternative: an event loop (section 五) with the same decoder per connection.
pub struct FramedServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl FramedServer {
    /// Listens on `addr` (port 0 allowed) and serves on a background thread until dropped.
    pub fn start(addr: SocketAddr, max_frame: usize) -> io::Result<FramedServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept_thread = thread::Builder::new()
            .name("framed-accept".into())
            .spawn(move || accept_loop(&listener, max_frame, &flag))?;
        Ok(FramedServer {
            addr,
            stop,
            accept_thread: Some(accept_thread),
        })
    }

    /// Where it listens (the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FramedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `accept` has no timeout: one connection wakes it to see the flag. If even that
        // fails the thread stays blocked, which only costs the thread.
        if TcpStream::connect(self.addr).is_ok() {
            if let Some(handle) = self.accept_thread.take() {
                let _ = handle.join();
            }
        }
    }
}

/// Accepts until `stop` is set, a thread per connection.
///
/// Out of descriptors or memory, `accept` fails at once for as long as the condition lasts
/// (the connection waits in the listen queue): it backs off instead of spinning a core, with
/// one log line per episode (see `protocol::accept`).
pub fn accept_loop(listener: &TcpListener, max_frame: usize, stop: &AtomicBool) {
    let mut episode = Episode::new();
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => {
                episode.accepted();
                let spawned = thread::Builder::new()
                    .name(format!("framed-{peer}"))
                    .spawn(move || serve_framed(stream, peer, max_frame));
                if let Err(err) = spawned {
                    protocol::log!("[{peer}] no thread for this connection: {err}");
                }
            }
            Err(err) => {
                if episode.failed(&err, None) == Next::BackOff {
                    thread::sleep(BACK_OFF);
                }
            }
        }
    }
}

/// The framed server as a process: `--addr IP:PORT` (port 0 allowed), the `listening on`
/// line, then [`accept_loop`] until killed. The example's `--serve` and `lab serve
/// sticky-packets` both run it.
pub fn server_main(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    use clap::Parser;
    #[derive(Parser)]
    #[command(
        name = "sticky_packets",
        about = "The framed echo-upper server (section 七)"
    )]
    struct Cli {
        #[command(flatten)]
        listen: protocol::cli::ServerOpts,
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let run = || -> protocol::Result<()> {
        let listener = protocol::listen::bind(cli.listen.addr)?;
        protocol::announce(listener.local_addr()?)?;
        accept_loop(
            &listener,
            protocol::framing::MAX_FRAME,
            &AtomicBool::new(false),
        );
        Ok(())
    };
    protocol::exit_code("sticky_packets", run())
}

// ANCHOR: framed_server
/// Serves one connection: read what comes, decode whole frames, reply one frame per frame.
pub fn serve_framed(mut stream: TcpStream, peer: SocketAddr, max_frame: usize) {
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    let mut decoder = Decoder::new(max_frame);
    let mut buf = [0u8; READ_SIZE];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return, // EOF: every frame so far has had its reply
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                protocol::log!("[{peer}] read failed: {e}");
                return;
            }
        };
        decoder.push(&buf[..n]);
        out.clear();
        let verdict = loop {
            match decoder.decode() {
                Ok(Decoded::Frame(mut body)) => {
                    protocol::upper_in_place(&mut body);
                    // The body came through a 4-byte header, so its reply fits one too.
                    if let Err(err) = framing::encode_into(&mut out, &body) {
                        break Err(err);
                    }
                }
                // The rest of the frame is still on its way: read again.
                Ok(Decoded::Incomplete) => break Ok(()),
                Err(err) => break Err(err),
            }
        };
        // Replies owed for the frames before a bad header still go out.
        if let Err(e) = stream.write_all(&out) {
            protocol::log!("[{peer}] write failed: {e}");
            return;
        }
        if let Err(err) = verdict {
            // Invalid, not incomplete: waiting would mean buffering whatever the header
            // claims. This connection ends here; every other one goes on.
            protocol::log!("[{peer}] {err}: dropping this connection");
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}
// ANCHOR_END: framed_server

/// Sends only a header announcing `len` bytes and reports how the server reacted: `Ok` when
/// it closed the connection at once (EOF or reset), an error if it waited for the body.
pub fn announce_too_much(addr: SocketAddr, len: u32) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(&len.to_be_bytes())?;
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "the server answered {n} bytes to a bare header instead of closing"
        ))),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(io::Error::new(
                e.kind(),
                "the server kept the connection open, waiting for the body",
            ))
        }
        Err(e) => Err(e),
    }
}

/// Shows a byte string the way Python's `repr` of `bytes` would, shortened past `max` bytes.
pub fn show(bytes: &[u8], max: usize) -> String {
    let shown: String = bytes[..bytes.len().min(max)]
        .escape_ascii()
        .map(char::from)
        .collect();
    if bytes.len() > max {
        format!("b'{shown}...' ({} bytes)", bytes.len())
    } else {
        format!("b'{shown}'")
    }
}
