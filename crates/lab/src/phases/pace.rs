//! The other end of every measurement: a client that thinks, then sends one message.
//!
//! The receiver says "I start waiting now" over a channel; the client sleeps the think time
//! from that instant and sends. So the wait phase of every sample should be the think time
//! plus the client's wake-up and send: that is what `tests/phases.rs` checks, for the
//! instrument's sake. The sleep here is the think time being measured, not synchronisation.

use super::{Received, Sample};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the client sends each time: a short line like the notes' `hello` messages, so the
/// copy phase is the copy of a few dozen bytes, and one packet carries it.
pub const MESSAGE: &[u8] = b"phases: hello from the lab, one packet, one stamp\n";

/// How long any step of a measurement may take before it counts as stuck.
const STUCK: Duration = Duration::from_secs(10);

/// One measurement's plumbing: the client thread and the channel that paces it.
pub struct Link {
    think: Duration,
    samples: usize,
    ready: mpsc::Sender<Instant>,
    starts: Option<mpsc::Receiver<Instant>>,
    client: Option<JoinHandle<crate::Result<()>>>,
}

impl Link {
    pub fn new(think: Duration, samples: usize) -> Link {
        let (ready, starts) = mpsc::channel();
        Link {
            think,
            samples,
            ready,
            starts: Some(starts),
            client: None,
        }
    }

    /// Connects the client to `addr` and starts it: it sends one message per sample.
    ///
    /// The connection is made here, before anything accepts it (the kernel completes the
    /// handshake from the listen queue), so a failed connect is an error now, never an
    /// `accept` that waits for a client that will not come.
    pub fn start_client(&mut self, addr: SocketAddr) -> crate::Result<()> {
        let starts = self.starts.take().ok_or("the client is already running")?;
        let stream = crate::scenarios::connect(addr)?;
        let (think, samples) = (self.think, self.samples);
        let client = std::thread::Builder::new()
            .name("phases-client".into())
            .spawn(move || client(stream, think, samples, starts))?;
        self.client = Some(client);
        Ok(())
    }

    /// The usual set-up: a listener on port 0, the client connected to it, and the accepted
    /// socket with receive timestamps on.
    pub fn accept(&mut self) -> crate::Result<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        self.start_client(listener.local_addr()?)?;
        let (stream, _) = listener.accept()?;
        super::timestamp::enable(&stream)?;
        Ok(stream)
    }

    /// The receiving side's handle, to move into whatever thread or coroutine receives.
    pub fn pacer(&self) -> Pacer {
        Pacer {
            samples: self.samples,
            ready: self.ready.clone(),
        }
    }

    /// Waits for the client to finish, and returns its error if it had one.
    pub fn finish(mut self) -> crate::Result<()> {
        // Without this sender the client's next wait for a start ends at once, so a receiver
        // that failed early does not leave the client waiting out its timeout.
        drop(self.ready);
        match self.client.take() {
            Some(client) => client.join().map_err(|_| "the lab's client panicked")?,
            None => Ok(()),
        }
    }
}

/// The receiver's end: it runs one receive per sample and tells the client when each
/// wait starts.
pub struct Pacer {
    samples: usize,
    ready: mpsc::Sender<Instant>,
}

impl Pacer {
    /// Runs `receive` once per sample; `receive` is one model's way to get one message.
    pub fn collect(
        &self,
        mut receive: impl FnMut() -> std::io::Result<Received>,
    ) -> crate::Result<Vec<Sample>> {
        let mut samples = Vec::with_capacity(self.samples);
        for _ in 0..self.samples {
            // Instant 1: the program starts waiting. Read before telling the client, so the
            // client cannot send before it.
            let start = super::RealTime::now();
            self.ready
                .send(Instant::now())
                .map_err(|_| "the lab's client stopped early")?;
            let received = receive()?;
            if received.len != MESSAGE.len() {
                // Never expected over loopback for one short write; if it happens the stamp
                // is of a piece of the message, and the sample would measure the wrong thing.
                return Err(format!(
                    "one message arrived in pieces ({} of {} bytes): the measurement assumes \
                     one packet per message",
                    received.len,
                    MESSAGE.len()
                )
                .into());
            }
            samples.push(Sample { start, received });
        }
        Ok(samples)
    }
}

/// The client: for each sample, wait for the receiver's start, think, send.
fn client(
    mut stream: TcpStream,
    think: Duration,
    samples: usize,
    starts: mpsc::Receiver<Instant>,
) -> crate::Result<()> {
    for _ in 0..samples {
        let Ok(start) = starts.recv_timeout(STUCK) else {
            // The receiver stopped (its error is the one to report) or is stuck.
            return Ok(());
        };
        // Think: sleep until `think` after the receiver started waiting. sleep can overshoot
        // by the scheduler's wake-up latency; that overshoot is part of the wait, as it
        // would be for a real client.
        std::thread::sleep((start + think).saturating_duration_since(Instant::now()));
        stream.write_all(MESSAGE)?;
    }
    Ok(())
}
