//! Connection churn: every client connects, makes one verified round trip and leaves, over
//! and over. What a server pays to *take on* a connection (accept, and a fork, a thread or a
//! registration) rather than to serve one, the comparison of Stevens' *Unix Network
//! Programming*, vol. 1, chapter 30, figure 30.1, for the models of the notes (三 to 六).
//!
//! [`CLIENTS`] blocking client threads run the loop; each connection is a fresh socket. The
//! cell counts verified connections per second over a measured window and reads the server's
//! CPU time (whole process tree, user and kernel apart) at its edges, so the figure per
//! connection includes the fork of a process-per-client server and its child's exit.
//!
//! **TIME_WAIT.** The side that closes first keeps the connection's 4-tuple in TIME_WAIT for
//! a minute. Here the client closes first (it has its reply; the server closes on the EOF it
//! then reads), so the server never holds TIME_WAIT sockets: in production that is the
//! server's wish too, as its port and memory are the ones that matter. The cost lands on the
//! client's ephemeral ports: ~28,000 per source address (`ip_local_port_range`), which a
//! churn of 20,000 connections a second would use up within two seconds and then fail with
//! `EADDRNOTAVAIL`. So each connection binds its source address first, cycling through
//! [`SOURCES`] addresses of loopback's 127.0.0.0/8, which multiplies the ports. `SO_LINGER`
//! of 0 would avoid TIME_WAIT altogether but ends every connection with a reset, which the
//! servers would rightly log as an error and which is not how clients leave.

use super::entrants::Entrant;
use super::grid::Grid;
use super::results::ChurnMeasured;
use super::tree;
use protocol::load::Messages;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client threads connecting in a loop. More than the two cores, so a server that can take
/// clients in parallel has some to take; few enough that the clients do not crowd it out.
pub const CLIENTS: usize = 4;

/// Source addresses cycled through, 127.0.0.10 to 127.0.0.73: 64 × ~28,000 ephemeral ports.
pub const SOURCES: u8 = 64;
const FIRST_SOURCE: u8 = 10;

/// Bytes of the one request each connection makes.
pub const SIZE: usize = 64;

/// Not measured: the server's first fork, thread or allocation, and the clients' own start.
const WARM_UP: Duration = Duration::from_millis(200);

/// Error texts kept per cell.
const KEPT_ERRORS: usize = 5;

/// Where the clients are.
const WARM: u8 = 0;
const MEASURED: u8 = 1;
const STOP: u8 = 2;

/// What one client thread did in the measured window.
#[derive(Default)]
struct Tally {
    connections: u64,
    errors: u64,
    mismatches: u64,
    samples: Vec<String>,
}

/// Runs the churn workload against `entrant` for the grid's churn time.
pub fn run(lab: &Path, entrant: &Entrant, grid: &Grid) -> Result<ChurnMeasured, String> {
    let mut server = entrant
        .start(lab)
        .map_err(|e| format!("the server did not start: {e}"))?;
    // No pid (an external server without --external-pid): connections per second alone.
    let pid = server.pid();
    let cpu_now = || pid.ok().map(|pid| tree::cpu_times(pid).unwrap_or_default());
    let addr = server.addr();
    let phase = Arc::new(AtomicU8::new(WARM));
    let mut clients = Vec::with_capacity(CLIENTS);
    for t in 0..CLIENTS {
        let shared = Arc::clone(&phase);
        let timeout = grid.timeout;
        let spawned = std::thread::Builder::new()
            .name(format!("churn-{t}"))
            .spawn(move || client(t, addr, timeout, &shared));
        match spawned {
            Ok(handle) => clients.push(handle),
            Err(err) => {
                phase.store(STOP, Ordering::Release);
                for handle in clients.drain(..) {
                    let _ = handle.join();
                }
                return Err(format!("cannot start a churn client: {err}"));
            }
        }
    }
    std::thread::sleep(WARM_UP);
    // ANCHOR: churn_window
    let window = grid.churn_time();
    phase.store(MEASURED, Ordering::Release);
    let start = Instant::now();
    let cpu_start = cpu_now();
    std::thread::sleep(window);
    phase.store(STOP, Ordering::Release);
    let elapsed = start.elapsed();
    let cpu_end = cpu_now();
    // ANCHOR_END: churn_window
    let mut total = Tally::default();
    for handle in clients {
        match handle.join() {
            Ok(t) => {
                total.connections += t.connections;
                total.errors += t.errors;
                total.mismatches += t.mismatches;
                for s in t.samples {
                    if total.samples.len() < KEPT_ERRORS {
                        total.samples.push(s);
                    }
                }
            }
            Err(_) => {
                total.errors += 1;
                total.samples.push("a churn client panicked".into());
            }
        }
    }
    if let Some(reason) = server.died() {
        return Err(reason);
    }
    // As in an echo cell: a server the bench did not start is judged by its clients.
    if server.judged_by_connections() && total.connections == 0 && total.mismatches == 0 {
        let why = total
            .samples
            .first()
            .map_or("no connection ended", String::as_str);
        return Err(format!(
            "no connection to the external server succeeded: {why}"
        ));
    }
    drop(server);
    let per_conn = |d: Duration| {
        (total.connections > 0).then(|| d.as_secs_f64() * 1e6 / total.connections as f64)
    };
    let cpu = cpu_start
        .zip(cpu_end)
        .map(|(a, b)| b.total.saturating_sub(a.total));
    let split = cpu_start.zip(cpu_end).and_then(|(a, b)| a.split(&b));
    Ok(ChurnMeasured {
        clients: CLIENTS,
        connections: total.connections,
        elapsed_s: elapsed.as_secs_f64(),
        per_second: total.connections as f64 / elapsed.as_secs_f64(),
        cpu_us_per_conn: cpu.and_then(per_conn),
        user_us_per_conn: split.and_then(|(user, _)| per_conn(user)),
        kernel_us_per_conn: split.and_then(|(_, kernel)| per_conn(kernel)),
        errors: total.errors,
        mismatches: total.mismatches,
        error_samples: total.samples,
        no_cost: pid.err().map(str::to_string),
    })
}

/// One client thread: connect, one round trip, close, until told to stop. Only connections
/// that *end* in the measured window are counted, like round trips in the echo cells.
fn client(t: usize, addr: SocketAddr, timeout: Duration, phase: &AtomicU8) -> Tally {
    let mut tally = Tally::default();
    let mut messages = Messages::new(17, t as u64);
    let mut n: u64 = 0;
    loop {
        let now = phase.load(Ordering::Acquire);
        if now == STOP {
            return tally;
        }
        // Each thread starts at its own source address, so the threads do not all queue on
        // the same one's port allocation.
        let source = FIRST_SOURCE + ((n + t as u64 * 16) % u64::from(SOURCES)) as u8;
        n += 1;
        let message = messages.next_message(SIZE);
        let result = once(addr, source, &message, timeout);
        // The phase may have changed while this connection ran: count it where it ended.
        if phase.load(Ordering::Acquire) != MEASURED {
            continue;
        }
        match result {
            Ok(true) => tally.connections += 1,
            Ok(false) => tally.mismatches += 1,
            Err(err) => {
                tally.errors += 1;
                if tally.samples.len() < KEPT_ERRORS {
                    tally.samples.push(format!("from 127.0.0.{source}: {err}"));
                }
            }
        }
    }
}

/// One connection's life: bind to 127.0.0.`source`, connect, send, read the whole reply,
/// check it, close (the client first). `Ok(false)` is a wrong reply.
fn once(addr: SocketAddr, source: u8, message: &[u8], timeout: Duration) -> io::Result<bool> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, source), 0);
    socket.bind(&SockAddr::from(from))?;
    socket.connect_timeout(&SockAddr::from(addr), timeout)?;
    let mut stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    // Bounded: a server that never answers fails this connection, not the whole cell.
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(message)?;
    let mut reply = [0u8; SIZE];
    stream.read_exact(&mut reply[..message.len()])?;
    Ok(protocol::load::reply_matches(
        message,
        &reply[..message.len()],
    ))
    // Dropping `stream` closes it: FIN from the client, TIME_WAIT on the client's side.
}
