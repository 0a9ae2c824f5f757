//! What every server variant must survive, whatever its model.
//!
//! Each scenario is a function of the server's address, bounded in time by socket timeouts,
//! and returns an error that says what went wrong. `tests/conformance.rs` runs them all
//! against every variant in [`VARIANTS`](crate::variants::VARIANTS).

use protocol::load::{reply_matches, Messages};
use socket2::SockRef;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// How long any one read or write in a scenario may block.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Concurrent clients in [`many_concurrent_clients`] and [`resets`].
pub const CLIENTS: usize = 200;

/// One scenario.
pub struct Scenario {
    pub name: &'static str,
    /// Connections it holds open at once; a variant with a smaller cap is excused.
    pub concurrent: usize,
    pub run: fn(SocketAddr) -> crate::Result<()>,
}

/// Every scenario, cheapest first.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "correct reply",
        concurrent: 1,
        run: correct_reply,
    },
    Scenario {
        name: "all 256 byte values",
        concurrent: 1,
        run: all_byte_values,
    },
    Scenario {
        name: "half-close",
        concurrent: 1,
        run: half_close,
    },
    Scenario {
        name: "8 MiB message",
        concurrent: 1,
        run: big_message,
    },
    Scenario {
        name: "disconnect mid-reply",
        concurrent: 1,
        run: disconnect_mid_reply,
    },
    Scenario {
        name: "200 resets",
        concurrent: 1,
        run: resets,
    },
    Scenario {
        name: "200 concurrent clients",
        concurrent: CLIENTS,
        run: many_concurrent_clients,
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
