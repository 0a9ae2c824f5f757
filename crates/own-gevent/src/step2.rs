//! Step 2 of the chapter: one connection's work as a hand-written `Future`, a state machine
//! that remembers where it stopped. Echo one message: read it, then write it back upper-cased.
//!
//! The callback of step 1 becomes `poll`, and the loop's memory of "which socket means
//! what" becomes the future's own state (`Reading`, then `Writing` with an offset). When a
//! system call says `WouldBlock`, `poll` tells the reactor which task to wake and returns
//! `Pending`; the executor polls it again later, and it carries on from its state. This is
//! what the compiler writes for us from an `async fn` (step 3, `conn.rs`).

use crate::net::Registered;
use crate::reactor::{self, Direction};
use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

// ANCHOR: state
/// Where the echo of one message stands.
enum State {
    Reading,
    /// `len` bytes of `buf` to send, `sent` of them gone.
    Writing {
        len: usize,
        sent: usize,
    },
    Done,
}

/// Reads one message (up to 1 KiB) and writes it back upper-cased; returns its length.
pub struct EchoOnce {
    socket: Registered<std::net::TcpStream>,
    buf: [u8; protocol::limits::READ_SIZE],
    state: State,
}
// ANCHOR_END: state

impl EchoOnce {
    pub fn new(stream: std::net::TcpStream) -> io::Result<EchoOnce> {
        stream.set_nonblocking(true)?;
        Ok(EchoOnce {
            socket: Registered::new(stream)?,
            buf: [0; protocol::limits::READ_SIZE],
            state: State::Reading,
        })
    }
}

// ANCHOR: poll
impl Future for EchoOnce {
    type Output = io::Result<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = &mut *self; // `EchoOnce` is `Unpin`: plain fields, no self-references
        loop {
            let (result, dir) = match this.state {
                State::Reading => match (&this.socket.socket).read(&mut this.buf) {
                    Ok(len) => {
                        protocol::upper_in_place(&mut this.buf[..len]);
                        this.state = State::Writing { len, sent: 0 };
                        continue;
                    }
                    Err(e) => (e, Direction::Read),
                },
                State::Writing { len, sent } if sent == len => {
                    this.state = State::Done;
                    return Poll::Ready(Ok(len));
                }
                State::Writing { len, sent } => {
                    match (&this.socket.socket).write(&this.buf[sent..len]) {
                        Ok(n) => {
                            this.state = State::Writing {
                                len,
                                sent: sent + n,
                            };
                            continue;
                        }
                        Err(e) => (e, Direction::Write),
                    }
                }
                State::Done => panic!("EchoOnce polled after it finished"),
            };
            match result.kind() {
                // Not ready: leave our waker with the reactor and give the thread back.
                ErrorKind::WouldBlock => {
                    let key = this.socket.key;
                    return match reactor::with(|r| r.wait_on(key, dir, cx.waker())) {
                        Ok(()) => Poll::Pending,
                        Err(err) => Poll::Ready(Err(err)),
                    };
                }
                ErrorKind::Interrupted => continue,
                _ => return Poll::Ready(Err(result)),
            }
        }
    }
}
// ANCHOR_END: poll

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{block_on, sleep, spawn};
    use std::time::Duration;

    #[test]
    fn the_state_machine_waits_for_its_message_then_echoes_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let echo = EchoOnce::new(listener.accept().unwrap().0).unwrap();
        let mut writer = client.try_clone().unwrap();
        // The message comes later, so the first poll finds nothing and returns `Pending`.
        let late = spawn(async move {
            sleep(Duration::from_millis(20)).await;
            writer.write_all(b"late message").unwrap();
        });
        assert_eq!(block_on(echo).unwrap(), 12);
        late.join().unwrap();
        let mut reply = [0u8; 12];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"LATE MESSAGE");
    }
}
