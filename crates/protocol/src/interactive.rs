//! The notes' client: read a line at the `>>: ` prompt, strip it, send it, print the reply.
//!
//! Every section of the notes uses this same client, so it lives here once, over any
//! `Read + Write` stream. One thing differs from the notes on purpose: the notes print
//! `client.recv(1024)`, assuming one `recv` is one reply. TCP is a byte stream and a reply may
//! arrive in pieces (or, for a long line, not fit in 1024 bytes), so we read exactly as many
//! bytes as we sent, because upper-casing keeps the length.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Connects to `addr` and runs the `>>: ` loop on this terminal.
///
/// The interactive client is the notes' blocking client in every section: one person types
/// one line at a time, so there is nothing to multiplex. Each crate's load mode is where its
/// model shows.
pub fn connect(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    run(&mut stream, io::stdin().lock(), io::stdout())
}

// ANCHOR: prompt
/// Runs the `>>: ` loop until `input` ends. An empty line asks again, as in the notes.
pub fn run<S: Read + Write>(
    stream: &mut S,
    input: impl BufRead,
    mut output: impl Write,
) -> io::Result<()> {
    let mut lines = input.lines();
    loop {
        write!(output, ">>: ")?;
        output.flush()?;
        let Some(line) = lines.next() else {
            // End of input (Ctrl-D, or a pipe that ran dry) is the normal way out.
            writeln!(output)?;
            return Ok(());
        };
        let line = line?;
        let data = line.trim();
        if data.is_empty() {
            continue;
        }
        stream.write_all(data.as_bytes())?;
        let mut reply = vec![0; data.len()];
        stream.read_exact(&mut reply).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the server closed the connection mid-reply")
            } else {
                e
            }
        })?;
        writeln!(output, "{}", String::from_utf8_lossy(&reply))?;
    }
}
// ANCHOR_END: prompt

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake server: whatever is written is upper-cased and handed back one byte per read,
    /// the worst split TCP could choose.
    struct Trickle {
        queued: std::collections::VecDeque<u8>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.queued.pop_front() {
                Some(b) if !buf.is_empty() => {
                    buf[0] = b;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.queued.extend(crate::upper(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reads_each_reply_by_length_and_skips_empty_lines() {
        let mut server = Trickle {
            queued: Default::default(),
        };
        let mut out = Vec::new();
        run(&mut server, &b"  hello \n\nworld\n"[..], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ">>: HELLO\n>>: >>: WORLD\n>>: \n"
        );
    }

    #[test]
    fn a_server_that_closes_mid_reply_is_an_error() {
        struct Closed;
        impl Read for Closed {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Ok(0)
            }
        }
        impl Write for Closed {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = run(&mut Closed, &b"hi\n"[..], io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
