//! The first line every server prints: `listening on IP:PORT`, with the real port.
//!
//! Tests and the lab start servers on port 0 and learn the port the kernel chose from this
//! line, so it must be the first line on stdout and it must be flushed before the server
//! blocks in `accept` (stdout is block-buffered when it is a pipe).

use std::io::Write;
use std::net::SocketAddr;

/// Prints `listening on IP:PORT` and flushes stdout.
pub fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// Parses a line printed by [`announce`]; used by whoever starts a server.
pub fn parse_announce(line: &str) -> Option<SocketAddr> {
    line.trim_end().strip_prefix("listening on ")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_announce_prints() {
        assert_eq!(
            parse_announce("listening on 127.0.0.1:41234\n"),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(parse_announce("listening at 127.0.0.1:1"), None);
    }
}
