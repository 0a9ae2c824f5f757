//! What every server variant must survive, whatever its model.
//!
//! Each scenario is a function of the server under test (its address, and its pid where the
//! lab started it), bounded in time by socket timeouts and deadlines, and returns an error
//! that says what went wrong. `tests/conformance.rs` runs them all against every variant in
//! [`VARIANTS`](crate::variants::VARIANTS).

use protocol::load::{reply_matches, Messages};
use socket2::SockRef;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// How long any one read or write in a scenario may block.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Concurrent clients in [`many_concurrent_clients`] and [`resets`].
pub const CLIENTS: usize = 200;

/// The server a scenario runs against.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub addr: SocketAddr,
    /// Its process, when the lab started it: scenarios that measure memory need it, and
    /// without it they check the bytes only and say so.
    pub pid: Option<u32>,
}

/// One scenario.
pub struct Scenario {
    pub name: &'static str,
    /// Connections it holds open at once; a variant with a smaller cap is excused.
    pub concurrent: usize,
    pub run: fn(&Target) -> crate::Result<()>,
}

/// Every scenario, cheapest first.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "correct reply",
        concurrent: 1,
        run: |t| correct_reply(t.addr),
    },
    Scenario {
        name: "all 256 byte values",
        concurrent: 1,
        run: |t| all_byte_values(t.addr),
    },
    Scenario {
        name: "half-close",
        concurrent: 1,
        run: |t| half_close(t.addr),
    },
    Scenario {
        name: "8 MiB message",
        concurrent: 1,
        run: |t| big_message(t.addr),
    },
    Scenario {
        name: "disconnect mid-reply",
        concurrent: 1,
        run: |t| disconnect_mid_reply(t.addr),
    },
    Scenario {
        name: "200 resets",
        concurrent: 1,
        run: |t| resets(t.addr),
    },
    Scenario {
        name: "200 concurrent clients",
        concurrent: CLIENTS,
        run: |t| many_concurrent_clients(t.addr),
    },
    Scenario {
        name: "slow reader",
        concurrent: 1,
        run: |t| slow_reader(t).map(|seen| println!("  slow reader: {seen:?}")),
    },
    Scenario {
        name: "flood fairness",
        concurrent: 3,
        run: |t| flood_fairness(t.addr).map(|seen| println!("  flood fairness: {seen:?}")),
    },
    // The notes' own bugs, one scenario each (crates/*/examples/notes_*.rs keep them).
    Scenario {
        name: "lost replies",
        concurrent: 1,
        run: |t| lost_replies(t.addr),
    },
    Scenario {
        name: "closed sockets",
        concurrent: 1,
        run: closed_sockets,
    },
    Scenario {
        name: "reset while a reply waits",
        concurrent: 1,
        run: |t| reset_while_a_reply_waits(t.addr),
    },
    Scenario {
        name: "back to back",
        concurrent: 1,
        run: |t| back_to_back(t.addr),
    },
    Scenario {
        name: "queued twice",
        concurrent: 1,
        run: |t| queued_twice(t.addr),
    },
];

/// A client socket with bounded reads and writes.
pub fn connect(addr: SocketAddr) -> crate::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `message` and reads exactly its length back; errors unless it is the right reply.
pub fn round_trip(stream: &mut TcpStream, message: &[u8]) -> crate::Result<()> {
    stream.write_all(message)?;
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply)?;
    if reply_matches(message, &reply) {
        Ok(())
    } else {
        Err(format!(
            "wrong reply: sent {:?}, got {:?}",
            String::from_utf8_lossy(&message[..message.len().min(64)]),
            String::from_utf8_lossy(&reply[..reply.len().min(64)])
        )
        .into())
    }
}

/// The notes' exchange: one line in, the same line upper-cased back.
pub fn correct_reply(addr: SocketAddr) -> crate::Result<()> {
    let mut stream = connect(addr)?;
    round_trip(&mut stream, b"hello, world! \xc3\xa9 z{")
}

/// Every byte value, so a server that treats bytes as text (or as Latin-1) is caught.
pub fn all_byte_values(addr: SocketAddr) -> crate::Result<()> {
    let mut stream = connect(addr)?;
    let message: Vec<u8> = (0..=255u8).cycle().take(256 * 4).collect();
    round_trip(&mut stream, &message)
}

/// Send, shut down writing, and still receive the whole reply, then EOF.
///
/// An event-loop server sees EOF possibly before it has sent every reply: it must finish
/// sending before it closes.
pub fn half_close(addr: SocketAddr) -> crate::Result<()> {
    let mut stream = connect(addr)?;
    let message = Messages::new(3, 0).next_message(16 * 1024);
    stream.write_all(&message)?;
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    if reply_matches(&message, &reply) {
        Ok(())
    } else {
        Err(format!(
            "after a half-close got {} of {} reply bytes (or wrong bytes)",
            reply.len(),
            message.len()
        )
        .into())
    }
}

/// 8 MiB written by one thread while another reads the reply: more than any socket buffer,
/// so a server that does not read and write in turn (or drops a short write's tail) fails.
pub fn big_message(addr: SocketAddr) -> crate::Result<()> {
    const SIZE: usize = 8 * 1024 * 1024;
    let mut stream = connect(addr)?;
    let message = Arc::new(Messages::new(5, 0).next_message(SIZE));
    let mut writer = stream.try_clone()?;
    let to_send = Arc::clone(&message);
    let sending = std::thread::spawn(move || writer.write_all(&to_send));
    let mut reply = vec![0; SIZE];
    let read = stream.read_exact(&mut reply);
    let sent = sending.join().map_err(|_| "writer thread panicked")?;
    sent?;
    read?;
    if reply_matches(&message, &reply) {
        Ok(())
    } else {
        let at = message
            .iter()
            .zip(&reply)
            .position(|(m, r)| m.to_ascii_uppercase() != *r)
            .unwrap_or(0);
        Err(format!("8 MiB reply differs first at byte {at}").into())
    }
}

/// A client that reads part of a long reply and goes away; the next client is served.
pub fn disconnect_mid_reply(addr: SocketAddr) -> crate::Result<()> {
    let mut stream = connect(addr)?;
    let mut writer = stream.try_clone()?;
    let message = Messages::new(7, 0).next_message(1024 * 1024);
    // The writer may fail once we close (reset, broken pipe): that is the point.
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&message);
    });
    let mut part = vec![0; 64 * 1024];
    stream.read_exact(&mut part)?;
    // Unread reply bytes make this close a reset, as when a client crashes.
    stream.shutdown(Shutdown::Both)?;
    drop(stream);
    let _ = sending.join();
    correct_reply(addr).map_err(|e| format!("after a client left mid-reply: {e}").into())
}

/// 200 clients send and then reset (SO_LINGER 0); a new client is still served.
pub fn resets(addr: SocketAddr) -> crate::Result<()> {
    for i in 0..CLIENTS {
        let mut stream = connect(addr)?;
        stream.write_all(format!("reset me {i}").as_bytes())?;
        // Linger 0: close sends RST instead of FIN, the server's next call on it fails.
        SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        drop(stream);
    }
    correct_reply(addr).map_err(|e| format!("after {CLIENTS} resets: {e}").into())
}

/// 200 clients connected at once, each making 20 verified round trips.
///
/// A barrier holds every client until all have had their first reply, so the server really
/// serves them concurrently (an iterative server would stall here, which is why it is
/// excused by its cap).
pub fn many_concurrent_clients(addr: SocketAddr) -> crate::Result<()> {
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::Builder::new().stack_size(128 * 1024).spawn(
                move || -> Result<(), String> {
                    let result = (|| {
                        let mut stream = connect(addr)?;
                        let mut messages = Messages::new(11, i as u64);
                        round_trip(&mut stream, &messages.next_message(64))?;
                        Ok::<_, protocol::Error>((stream, messages))
                    })();
                    // Everyone reaches the barrier, failed or not, so nobody waits forever.
                    barrier.wait();
                    let (mut stream, mut messages) = result.map_err(|e| e.to_string())?;
                    for round in 0..20 {
                        let size = 1 + (round * 97 + i * 31) % 2048;
                        round_trip(&mut stream, &messages.next_message(size))
                            .map_err(|e| format!("client {i} round {round}: {e}"))?;
                    }
                    Ok(())
                },
            )
        })
        .collect::<Result<_, _>>()?;
    let mut failures = Vec::new();
    for client in clients {
        match client.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("client thread panicked".into()),
        }
    }
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {CLIENTS} clients failed; first: {first}",
            failures.len()
        )
        .into()),
    }
}

/// What [`never_reading_client`] saw.
#[derive(Debug, Clone, Copy)]
pub struct NeverReader {
    /// Bytes the server took from the client before it stopped reading (or all of them).
    pub written: usize,
    /// Growth of the server's resident memory meanwhile, in KiB.
    pub growth_kib: u64,
}

/// A client that writes up to `total` bytes and never reads a reply, while another client
/// is served. A server with backpressure stops reading it once its replies back up, so its
/// memory stays bounded; one that buffers replies without bound grows by about `total`.
///
/// Not in [`SCENARIOS`] because it needs the server's pid to read its memory.
pub fn never_reading_client(
    addr: SocketAddr,
    pid: u32,
    total: usize,
) -> crate::Result<NeverReader> {
    let before = crate::procfs::status(pid)?.rss_kib;
    // A small receive buffer, set before connecting so the window is small from the start:
    // replies back up into the server after a few KiB instead of a few MiB.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.connect_timeout(&addr.into(), IO_TIMEOUT)?;
    let mut stream: TcpStream = socket.into();
    // A write that makes no progress for this long means the server has stopped reading.
    stream.set_write_timeout(Some(Duration::from_millis(500)))?;
    let chunk = vec![b'x'; 64 * 1024];
    let mut written = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while written < total && std::time::Instant::now() < deadline {
        match stream.write(&chunk[..chunk.len().min(total - written)]) {
            Ok(n) => written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    correct_reply(addr).map_err(|e| format!("while a client never reads: {e}"))?;
    let after = crate::procfs::status(pid)?.rss_kib;
    drop(stream);
    Ok(NeverReader {
        written,
        growth_kib: after.saturating_sub(before),
    })
}

/// Bytes [`slow_reader`] streams through its one connection.
pub const SLOW_READER_TOTAL: usize = 100 * 1024 * 1024;

/// How fast [`slow_reader`]'s reader takes replies: slower than any variant serves one
/// connection (the slowest, debug builds included, pass 8 MiB in well under a second), so
/// the server always has replies queued for it.
const SLOW_READER_RATE: f64 = 64.0 * 1024.0 * 1024.0;

/// The most a server may grow while [`slow_reader`] runs.
pub const SLOW_READER_MAX_GROWTH_KIB: u64 = 16 * 1024;

/// What [`slow_reader`] saw.
#[derive(Debug, Clone, Copy)]
pub struct SlowReader {
    /// Largest growth of the server's resident memory (its children's included) over the
    /// run, in KiB; `None` without a pid.
    pub growth_kib: Option<u64>,
    pub elapsed: Duration,
}

/// A stream with a known, checkable content at every offset: a 65,521-byte block (a prime,
/// so a lost, repeated or reordered read never lines up with itself again) over and over.
struct Pattern {
    block: Vec<u8>,
    /// The reply owed for `block`, so a check is one `memcmp` (fast even in a debug build:
    /// a slow checker would be a slow reader, and hide what a fast one finds).
    reply: Vec<u8>,
}

impl Pattern {
    fn new(seed: u64) -> Pattern {
        let block = Messages::new(seed, 0).next_message(65_521);
        let reply = protocol::upper(&block);
        Pattern { block, reply }
    }

    /// The message bytes at `offset`, as many as fit in one block from there.
    fn message_at(&self, offset: u64) -> &[u8] {
        &self.block[(offset % self.block.len() as u64) as usize..]
    }

    /// Checks `got` against the reply owed for the bytes at `offset`; says where it differs.
    fn check_reply(&self, mut offset: u64, mut got: &[u8]) -> Result<(), String> {
        while !got.is_empty() {
            let owed = &self.reply[(offset % self.reply.len() as u64) as usize..];
            let n = owed.len().min(got.len());
            if owed[..n] != got[..n] {
                let at = owed.iter().zip(got).position(|(o, g)| o != g).unwrap_or(0);
                return Err(format!("reply byte {} is wrong", offset + at as u64));
            }
            offset += n as u64;
            got = &got[n..];
        }
        Ok(())
    }
}

/// Resident memory of `pid` and its children (a fork server's connections live in them).
fn tree_rss_kib(pid: u32) -> crate::Result<u64> {
    let mut kib = crate::procfs::status(pid)?.rss_kib;
    for (child, _) in crate::procfs::children(pid) {
        // A child that has just exited is simply not counted.
        kib += crate::procfs::status(child).map(|s| s.rss_kib).unwrap_or(0);
    }
    Ok(kib)
}

/// 100 MiB through one connection whose reader keeps taking replies, steadily, but more
/// slowly than its writer sends: the server always has replies queued and never sees its
/// queue empty. Every byte is checked, and the server's memory must stay bounded at every
/// moment (a queue that frees sent bytes only once it empties grows by every byte that
/// passes through).
pub fn slow_reader(target: &Target) -> crate::Result<SlowReader> {
    let pattern = Arc::new(Pattern::new(13));
    // A small receive window, set before connecting: the kernel then frees the server's send
    // buffer a few KiB at a time, so each of its sends takes only part of its queue and the
    // queue never empties. (With loopback's megabyte windows, a send that takes everything
    // comes often enough to hide an unbounded queue.)
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(16 * 1024)?;
    socket.connect_timeout(&target.addr.into(), IO_TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let before = target.pid.map(tree_rss_kib).transpose()?;
    let start = Instant::now();
    let mut writer = stream.try_clone()?;
    let to_send = Arc::clone(&pattern);
    let sending = std::thread::spawn(move || -> std::io::Result<()> {
        let mut sent = 0u64;
        while sent < SLOW_READER_TOTAL as u64 {
            let chunk = to_send.message_at(sent);
            let n = chunk.len().min(SLOW_READER_TOTAL - sent as usize);
            writer.write_all(&chunk[..n])?;
            sent += n as u64;
        }
        Ok(())
    });
    let done = Arc::new(AtomicBool::new(false));
    let reading = {
        let done = Arc::clone(&done);
        let mut stream = stream;
        let pattern = Arc::clone(&pattern);
        std::thread::spawn(move || -> Result<(), String> {
            // Small reads, often: the window opens a little at a time.
            let mut buf = vec![0; 4 * 1024];
            let mut got = 0u64;
            let result = loop {
                if got == SLOW_READER_TOTAL as u64 {
                    break Ok(());
                }
                // Pacing, not synchronisation: stay below SLOW_READER_RATE.
                let due = Duration::from_secs_f64(got as f64 / SLOW_READER_RATE);
                if let Some(early) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(early);
                }
                let want = buf.len().min(SLOW_READER_TOTAL - got as usize);
                match stream.read(&mut buf[..want]) {
                    Ok(0) => break Err(format!("the server closed after {got} reply bytes")),
                    Ok(n) => {
                        if let Err(e) = pattern.check_reply(got, &buf[..n]) {
                            break Err(e);
                        }
                        got += n as u64;
                    }
                    Err(e) => break Err(format!("after {got} reply bytes: {e}")),
                }
            };
            done.store(true, Ordering::Release);
            result
        })
    };
    // Sample the server's memory while the bytes flow: the bound must hold at every moment.
    let mut most = before;
    while !done.load(Ordering::Acquire) {
        if let Some(pid) = target.pid {
            let now = tree_rss_kib(pid)?;
            most = most.map(|m| m.max(now));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = reading.join().map_err(|_| "reader thread panicked")?;
    let sent = sending.join().map_err(|_| "writer thread panicked")?;
    read?;
    sent?;
    let seen = SlowReader {
        growth_kib: before.zip(most).map(|(b, m)| m.saturating_sub(b)),
        elapsed: start.elapsed(),
    };
    match seen.growth_kib {
        Some(kib) if kib >= SLOW_READER_MAX_GROWTH_KIB => Err(format!(
            "the server grew by {} MiB while {} MiB passed to a slow reader: its queue is \
             not bounded at every moment",
            kib / 1024,
            SLOW_READER_TOTAL >> 20
        )
        .into()),
        _ => Ok(seen),
    }
}

/// How long [`flood_fairness`] floods.
pub const FLOOD_FOR: Duration = Duration::from_secs(5);

/// The longest a round trip or a new connection's first reply may wait during the flood.
pub const FLOOD_WORST_ALLOWED: Duration = Duration::from_millis(250);

/// What [`flood_fairness`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// The slowest 64-byte round trip on the second connection.
    pub worst_round_trip: Duration,
    /// The slowest connect-plus-first-reply of a newcomer.
    pub worst_newcomer: Duration,
    pub round_trips: u64,
    pub newcomers: u64,
    /// Bytes the flooding connection got back, all checked.
    pub flooded: u64,
}

/// A read timeout (EAGAIN on Linux) said as what it means here.
fn stuck(err: protocol::Error) -> String {
    match err.downcast_ref::<std::io::Error>() {
        Some(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            "no reply within 3 s while one connection floods the server".into()
        }
        _ => err.to_string(),
    }
}

/// One connection floods the server from two threads (a writer that never pauses, a reader
/// that takes every reply as fast as it comes) for [`FLOOD_FOR`]. Its socket never runs dry,
/// so a loop that serves a ready connection until `WouldBlock`, or a coroutine that never
/// meets a `WouldBlock` and so never yields, serves it alone. Meanwhile a second connection
/// makes 64-byte round trips back to back, and a newcomer connects every 500 ms: none of
/// them may wait longer than [`FLOOD_WORST_ALLOWED`].
pub fn flood_fairness(addr: SocketAddr) -> crate::Result<Flood> {
    flood_fairness_for(addr, FLOOD_FOR)
}

/// [`flood_fairness`], flooding for `flood_for` (the demos use a shorter flood).
pub fn flood_fairness_for(addr: SocketAddr, flood_for: Duration) -> crate::Result<Flood> {
    // How long one read may block before we call it a failure outright; the verdict on
    // fairness is the measured worst time, compared after.
    const STUCK: Duration = Duration::from_secs(3);
    let pattern = Arc::new(Pattern::new(17));
    let flood = connect(addr)?;
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));

    let mut writer = flood.try_clone()?;
    let sending = {
        let pattern = Arc::clone(&pattern);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> std::io::Result<u64> {
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let chunk = pattern.message_at(sent);
                let n = chunk.len().min(64 * 1024);
                writer.write_all(&chunk[..n])?;
                sent += n as u64;
            }
            // The end of the flood: the server must send back everything, then EOF.
            writer.shutdown(Shutdown::Write)?;
            Ok(sent)
        })
    };
    let reading = {
        let pattern = Arc::clone(&pattern);
        let mut reader = flood;
        std::thread::spawn(move || -> Result<u64, String> {
            let mut buf = vec![0; 64 * 1024];
            let mut got = 0u64;
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => {
                        pattern.check_reply(got, &buf[..n])?;
                        got += n as u64;
                    }
                    Err(e) => return Err(format!("flooding connection, after {got} bytes: {e}")),
                }
            }
        })
    };

    let mut seen = Flood {
        worst_round_trip: Duration::ZERO,
        worst_newcomer: Duration::ZERO,
        round_trips: 0,
        newcomers: 0,
        flooded: 0,
    };
    let result = (|| -> crate::Result<()> {
        let mut steady = connect(addr)?;
        steady.set_read_timeout(Some(STUCK))?;
        let mut messages = Messages::new(19, 0);
        let mut next_newcomer = start;
        while start.elapsed() < flood_for {
            if Instant::now() >= next_newcomer {
                next_newcomer += Duration::from_millis(500);
                let began = Instant::now();
                let mut newcomer = TcpStream::connect_timeout(&addr, STUCK)?;
                newcomer.set_read_timeout(Some(STUCK))?;
                newcomer.set_nodelay(true)?;
                round_trip(
                    &mut newcomer,
                    format!("newcomer {}", seen.newcomers).as_bytes(),
                )
                .map_err(|e| format!("newcomer {}: {}", seen.newcomers, stuck(e)))?;
                seen.worst_newcomer = seen.worst_newcomer.max(began.elapsed());
                seen.newcomers += 1;
            }
            let began = Instant::now();
            round_trip(&mut steady, &messages.next_message(64)).map_err(|e| {
                format!(
                    "round trip {} beside the flood: {}",
                    seen.round_trips,
                    stuck(e)
                )
            })?;
            seen.worst_round_trip = seen.worst_round_trip.max(began.elapsed());
            seen.round_trips += 1;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let sent = sending.join().map_err(|_| "flood writer panicked")?;
    let got = reading.join().map_err(|_| "flood reader panicked")?;
    result?;
    let sent = sent.map_err(|e| format!("flooding connection, writing: {e}"))?;
    seen.flooded = got?;
    if seen.flooded != sent {
        return Err(format!(
            "the flooding connection sent {sent} bytes and got {} back",
            seen.flooded
        )
        .into());
    }
    let worst = seen.worst_round_trip.max(seen.worst_newcomer);
    if worst > FLOOD_WORST_ALLOWED {
        return Err(format!(
            "one flooding connection held up the others: worst round trip {:?}, worst \
             newcomer {:?} (allowed {FLOOD_WORST_ALLOWED:?})",
            seen.worst_round_trip, seen.worst_newcomer
        )
        .into());
    }
    Ok(seen)
}

/// 四 a's first bug. A client writes 8 MiB before it reads anything, through a 4 KiB
/// receive window: a correct server keeps each reply until the socket takes it, so every
/// byte comes back, in order. The notes' first server sends each reply once, right after
/// its `recv`, and drops what the socket refuses.
pub fn lost_replies(addr: SocketAddr) -> crate::Result<()> {
    // More than any send buffer the kernel grows on loopback (4 MiB by default), so a
    // lossy server cannot hide the loss in its own socket.
    const TOTAL: usize = 8 * 1024 * 1024;
    // How late the client starts reading. A correct server's result does not depend on it;
    // it only gives a lossy one time to fill the window and lose the rest.
    let late = || std::thread::sleep(Duration::from_millis(200));
    let seen = crate::late_reader::late_reader(addr, TOTAL, late, Duration::from_secs(2))?;
    if seen.intact {
        Ok(())
    } else {
        Err(format!(
            "{} of {} reply bytes came back{}",
            seen.received,
            seen.sent,
            if seen.lost() == 0 { ", wrong" } else { "" }
        )
        .into())
    }
}

/// 四 a's second bug. 20 clients, one after another, each makes a round trip and closes
/// (a FIN). A correct server closes each connection once it reads the EOF, so its count of
/// open sockets falls back to where it was; the notes' first server keeps every closed
/// socket in `r_list` for ever. Needs the server's pid (else it checks the replies only).
pub fn closed_sockets(target: &Target) -> crate::Result<()> {
    const CLIENTS: usize = 20;
    const WAIT: Duration = Duration::from_secs(3);
    let before = target.pid.map(crate::procfs::open_sockets).transpose()?;
    for i in 0..CLIENTS {
        let mut stream = connect(target.addr)?;
        round_trip(&mut stream, format!("client {i}, then gone").as_bytes())?;
    }
    let (Some(pid), Some(before)) = (target.pid, before) else {
        return Ok(());
    };
    // Closing happens when the server next reads each socket: a bounded wait for it, polled.
    let deadline = Instant::now() + WAIT;
    loop {
        let now = crate::procfs::open_sockets(pid)?;
        if now <= before {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{CLIENTS} clients closed, yet {} more sockets are open {WAIT:?} later",
                now - before
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// 四 b's bug. A client writes up to 16 MiB without reading (a 4 KiB window, so replies
/// wait in the server), then resets (SO_LINGER 0). A correct server drops the connection and
/// what it still owed it, and serves the next client. The notes' fixed server closes the
/// socket in its receive loop while replies to it still wait in `w_list`, then sends them:
/// an error it does not catch, and it stops.
pub fn reset_while_a_reply_waits(addr: SocketAddr) -> crate::Result<()> {
    // More than the server's socket can hold (4 MiB at most by default on loopback), so a
    // server without backpressure has replies waiting in its own queue when the reset comes.
    const TOTAL: usize = 16 * 1024 * 1024;
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.connect_timeout(&addr.into(), IO_TIMEOUT)?;
    let mut stream: TcpStream = socket.into();
    // A server with backpressure stops reading soon: a write stuck this long means it has.
    stream.set_write_timeout(Some(Duration::from_millis(500)))?;
    let chunk = vec![b'r'; 64 * 1024];
    let mut written = 0;
    while written < TOTAL {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Replies are waiting unread in our buffer, so this close is a reset whatever linger is.
    SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    drop(stream);
    correct_reply(addr)
        .map_err(|e| format!("after a reset with {written} bytes' replies owed: {e}").into())
}

/// The first message of [`back_to_back`]: exactly one of the notes' `recv(1024)`.
const FIRST: usize = 1024;

/// Sends two messages in one write (1024 bytes, then 64), so a server reading 1024 bytes at
/// a time gets them in two reads, before it has replied to the first.
fn two_messages(addr: SocketAddr) -> crate::Result<(TcpStream, Vec<u8>)> {
    let mut stream = connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut messages = Messages::new(23, 0);
    let mut both = messages.next_message(FIRST);
    both.extend(messages.next_message(64));
    stream.write_all(&both)?;
    Ok((stream, both))
}

/// 五's first bug. Two messages back to back, before reading: a correct server replies to
/// both, in order. The notes' select server keeps one reply per socket (`w_data[r]`), so the
/// second message overwrites the first one's reply before it went out.
pub fn back_to_back(addr: SocketAddr) -> crate::Result<()> {
    let (mut stream, both) = two_messages(addr)?;
    let mut reply = vec![0; both.len()];
    let mut got = 0;
    while got < reply.len() {
        match stream.read(&mut reply[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if got == both.len() && reply_matches(&both, &reply) {
        Ok(())
    } else if got == both.len() - FIRST && reply_matches(&both[FIRST..], &reply[..got]) {
        Err("only the second message's reply came back: the first was overwritten".into())
    } else {
        Err(format!(
            "{got} of {} reply bytes came back (or wrong bytes)",
            both.len()
        )
        .into())
    }
}

/// 五's second bug. The same two messages put the socket in the notes' `w_list` twice; the
/// first writable pass removes one copy and the reply, the next finds no reply for the
/// other (Python's KeyError) and the server stops. A correct server serves a newcomer next.
pub fn queued_twice(addr: SocketAddr) -> crate::Result<()> {
    let (mut stream, both) = two_messages(addr)?;
    // Whatever comes back (checked by `back to back`), bounded by the read timeout.
    let mut reply = vec![0; both.len()];
    let _ = stream.read_exact(&mut reply);
    // Gone before the newcomer comes, so a server that serves one client at a time can too.
    drop(stream);
    correct_reply(addr).map_err(|e| format!("after one socket was queued twice: {e}").into())
}
