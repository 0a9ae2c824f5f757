//! The bookkeeping every load client keeps, whatever model drives its sockets.
//!
//! A load client sends a generated message, reads the reply *by its length* (never "one
//! `recv` is one reply": TCP is a byte stream, the sticky-packet lesson of section 七),
//! checks it byte for byte against [`upper`](crate::upper) and records the round trip. Each
//! connection keeps a [`Tally`]; the tallies are merged into one [`Summary`] line.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// Seeded message generator (xorshift64*), so a failing run can be repeated with `--seed`.
///
/// Messages hold lower-case letters and bytes >= 0x80 only: a server that forgot to
/// upper-case, or upper-cased non-ASCII bytes as Latin-1, sends back different bytes.
#[derive(Debug, Clone)]
pub struct Messages {
    state: u64,
}

impl Messages {
    /// A generator for connection `conn` of a run seeded with `seed`.
    pub fn new(seed: u64, conn: u64) -> Messages {
        // Mix both so connections differ; `| 1` because xorshift must never hold zero.
        let state = (seed ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xD605) | 1;
        Messages { state }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf` with the next message.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            let r = (self.next_u64() >> 32) as u32;
            *b = if r & 1 == 0 {
                b'a' + ((r >> 1) % 26) as u8
            } else {
                0x80 | (r >> 8) as u8
            };
        }
    }

    /// The next message of `size` bytes.
    pub fn next_message(&mut self, size: usize) -> Vec<u8> {
        let mut buf = vec![0; size];
        self.fill(&mut buf);
        buf
    }
}

/// Whether `reply` is exactly what the server owes for `sent`.
pub fn reply_matches(sent: &[u8], reply: &[u8]) -> bool {
    sent.len() == reply.len()
        && sent
            .iter()
            .zip(reply)
            .all(|(s, r)| s.to_ascii_uppercase() == *r)
}

/// One round trip on a blocking socket, bounded as a whole by `deadline`: writes `message`,
/// then reads exactly `reply.len()` bytes back.
///
/// `SO_RCVTIMEO` bounds one `recv`, not a reply: a server that sends one byte just inside
/// the timeout would keep a round alive for ever. So before every call the socket's timeout
/// is set to what is left of the round (`set_timeout`, because std's and `may`'s sockets each
/// have their own `set_read_timeout`/`set_write_timeout`).
pub fn round_trip_by<S: Read + Write>(
    stream: &mut S,
    message: &[u8],
    reply: &mut [u8],
    deadline: Instant,
    mut set_timeout: impl FnMut(&S, Duration) -> io::Result<()>,
) -> io::Result<()> {
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                ErrorKind::TimedOut,
                "the round trip did not finish by its deadline (--timeout)",
            ))
        } else {
            Ok(left)
        }
    };
    let mut sent = 0;
    while sent < message.len() {
        set_timeout(stream, left()?)?;
        match stream.write(&message[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out_as_such(e)),
        }
    }
    let mut got = 0;
    while got < reply.len() {
        set_timeout(stream, left()?)?;
        match stream.read(&mut reply[got..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "the server closed after {got} of {} reply bytes",
                        reply.len()
                    ),
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out_as_such(e)),
        }
    }
    Ok(())
}

/// A socket timeout shows up as `WouldBlock` (EAGAIN) on Linux: name it what it is.
fn timed_out_as_such(e: io::Error) -> io::Error {
    if e.kind() == ErrorKind::WouldBlock {
        io::Error::new(ErrorKind::TimedOut, "the round trip timed out (--timeout)")
    } else {
        e
    }
}

/// What one connection (or, merged, a whole run) did.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Connections that completed their TCP handshake.
    pub established: u64,
    /// Round trips whose reply arrived in full.
    pub rounds: u64,
    /// Bytes sent and verified in those round trips.
    pub bytes: u64,
    /// Replies that arrived in full but differed from what was owed.
    pub mismatches: u64,
    /// Connections that failed: refused, reset, timed out, or closed before a full reply.
    pub errors: u64,
    /// Round-trip latency in microseconds.
    pub latency_us: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            established: 0,
            rounds: 0,
            bytes: 0,
            mismatches: 0,
            errors: 0,
            // Two significant digits (1% resolution) and auto-resize: it starts at about 2 KiB
            // and grows only as far as the slowest round trip recorded. A load client keeps one
            // per connection, so a fixed 1 µs..10 min range at three digits (about 140 KiB
            // each) would cost 1.4 GiB at 10,000 connections. `new(2)` cannot fail: 2 is a
            // valid precision.
            latency_us: Histogram::new(2).expect("2 significant digits is a valid precision"),
        }
    }

    /// Records one round trip of `bytes` bytes.
    pub fn record(&mut self, latency: Duration, bytes: usize, matched: bool) {
        self.rounds += 1;
        self.bytes += bytes as u64;
        if !matched {
            self.mismatches += 1;
        }
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // `record` (not `saturating_record`, which clamps to the current size) grows the
        // histogram to fit. Clamped to an hour, it is far inside what auto-resize can reach,
        // so it cannot fail.
        let _ = self.latency_us.record(us.clamp(1, 3_600_000_000));
    }

    /// Adds another connection's tally to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.established += other.established;
        self.rounds += other.rounds;
        self.bytes += other.bytes;
        self.mismatches += other.mismatches;
        self.errors += other.errors;
        // Both histograms auto-resize, so adding one to the other cannot run out of range.
        let _ = self.latency_us.add(&other.latency_us);
    }

    /// The summary of a run of `conns` connections that took `elapsed`.
    pub fn summary(&self, conns: usize, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64();
        let (p50, p99, max) = if self.latency_us.is_empty() {
            (0, 0, 0)
        } else {
            (
                self.latency_us.value_at_quantile(0.50),
                self.latency_us.value_at_quantile(0.99),
                self.latency_us.max(),
            )
        };
        Summary {
            conns: conns as u64,
            established: self.established,
            rounds: self.rounds,
            bytes: self.bytes,
            mismatches: self.mismatches,
            errors: self.errors,
            elapsed_s: secs,
            rps: if secs > 0.0 {
                self.rounds as f64 / secs
            } else {
                0.0
            },
            p50_us: p50,
            p99_us: p99,
            max_us: max,
        }
    }
}

/// The one line a load client ends with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub conns: u64,
    pub established: u64,
    pub rounds: u64,
    pub bytes: u64,
    pub mismatches: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Summary {
    /// A run passes when every connection was established and every reply matched.
    pub fn passed(&self) -> bool {
        self.mismatches == 0 && self.errors == 0 && self.established == self.conns
    }

    /// The summary as one line: JSON, or `key=value` pairs for a human.
    pub fn line(&self, json: bool) -> String {
        if json {
            // Serialising plain numbers cannot fail.
            serde_json::to_string(self).unwrap_or_default()
        } else {
            format!(
                "conns={} established={} rounds={} bytes={} mismatches={} errors={} \
                 elapsed_s={:.3} rps={:.0} p50_us={} p99_us={} max_us={}",
                self.conns,
                self.established,
                self.rounds,
                self.bytes,
                self.mismatches,
                self.errors,
                self.elapsed_s,
                self.rps,
                self.p50_us,
                self.p99_us,
                self.max_us
            )
        }
    }

    /// Prints the line and turns the verdict into the client's result, so a load client
    /// exits non-zero on any mismatch or failed connection.
    pub fn report(&self, json: bool) -> crate::Result<()> {
        println!("{}", self.line(json));
        if self.passed() {
            Ok(())
        } else {
            Err(format!(
                "load run failed: {} mismatches, {} errors, {} of {} connections established",
                self.mismatches, self.errors, self.established, self.conns
            )
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_repeatable_and_need_upper_casing() {
        let a = Messages::new(7, 3).next_message(4096);
        let b = Messages::new(7, 3).next_message(4096);
        assert_eq!(a, b);
        assert_ne!(a, Messages::new(7, 4).next_message(4096));
        assert!(a.iter().all(|&x| x.is_ascii_lowercase() || x >= 0x80));
        assert!(a.iter().any(|x| x.is_ascii_lowercase()));
        assert!(a.iter().any(|&x| x >= 0x80));
    }

    #[test]
    fn replies_are_checked_byte_for_byte() {
        assert!(reply_matches(b"ab\xe9", b"AB\xe9"));
        assert!(!reply_matches(b"ab\xe9", b"ab\xe9"), "not upper-cased");
        assert!(
            !reply_matches(b"ab\xe9", b"AB\xc9"),
            "0xe9 upper-cased as Latin-1"
        );
        assert!(!reply_matches(b"ab", b"A"), "short reply");
    }

    #[test]
    fn a_trickling_server_cannot_stretch_a_round_past_its_deadline() {
        // A server that sends one byte every 20 ms: each read succeeds well inside any
        // per-read timeout, but the whole reply would take 2 s. The round must end at 200 ms.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut msg = [0; 100];
            conn.read_exact(&mut msg).unwrap();
            for b in msg.to_ascii_uppercase() {
                if conn.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        let mut reply = [0; 100];
        let err = round_trip_by(
            &mut stream,
            &[b'a'; 100],
            &mut reply,
            start + Duration::from_millis(200),
            |s, t| {
                s.set_read_timeout(Some(t))
                    .and(s.set_write_timeout(Some(t)))
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        drop(stream);
        server.join().unwrap();
    }

    #[test]
    fn summary_merges_and_judges() {
        let mut a = Tally::new();
        a.established = 1;
        a.record(Duration::from_micros(100), 64, true);
        let mut b = Tally::new();
        b.established = 1;
        b.record(Duration::from_micros(300), 64, true);
        a.merge(&b);
        let s = a.summary(2, Duration::from_secs(1));
        assert_eq!((s.rounds, s.bytes, s.mismatches), (2, 128, 0));
        assert!(s.passed());
        assert!(
            (297..=303).contains(&s.max_us),
            "max {} is not 300 µs within 1%",
            s.max_us
        );
        let back: Summary = serde_json::from_str(&s.line(true)).unwrap();
        assert_eq!(back, s);

        b.record(Duration::from_micros(1), 1, false);
        assert!(!b.summary(1, Duration::from_secs(1)).passed());
        assert!(
            !a.summary(3, Duration::from_secs(1)).passed(),
            "one never connected"
        );
    }
}
