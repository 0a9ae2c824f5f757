//! The command line every binary shares, so `--addr` means the same thing everywhere.
//!
//! Each model crate's server defines its own flags (`--mode`, `--backend`, ...) and pulls in
//! [`ServerOpts`] with `#[command(flatten)]`. Every client is [`ClientOpts`] plus, at most, a
//! crate's own extras: with no load flag it is the notes' interactive `>>: ` client, with
//! `--conns`, `--duration` or `--rounds` it is a load client.

use crate::limits::{DEFAULT_ADDR, LOAD_BUF_SIZE};
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

/// Flags every server takes.
#[derive(Args, Debug, Clone)]
pub struct ServerOpts {
    /// Address to listen on; port 0 lets the kernel choose (the first line printed says which).
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
}

/// Flags every client takes.
#[derive(Args, Debug, Clone)]
pub struct ClientOpts {
    /// The server to talk to.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub load: LoadOpts,
}

/// Load-mode flags. Any of `--conns`, `--duration`, `--rounds` turns load mode on.
#[derive(Args, Debug, Clone)]
pub struct LoadOpts {
    /// Number of connections, all open at once (load mode).
    #[arg(long)]
    pub conns: Option<usize>,

    /// Keep every connection busy for this many seconds (load mode).
    #[arg(long, conflicts_with = "rounds")]
    pub duration: Option<f64>,

    /// Round trips per connection (load mode; the default is 100 when --duration is absent).
    #[arg(long)]
    pub rounds: Option<u64>,

    /// Bytes per message. A message is written whole before its reply is read, so it is
    /// capped at 64 KiB: beyond what socket buffers hold, a blocking client would deadlock
    /// against a server that applies backpressure.
    #[arg(long, default_value_t = 64, value_parser = parse_size)]
    pub size: usize,

    /// Give up on a connection that waits longer than this many seconds for a reply.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,

    /// Print the summary as one JSON object instead of a human line.
    #[arg(long)]
    pub json: bool,

    /// Seed for the generated messages, so a failing run can be repeated exactly.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if (1..=LOAD_BUF_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between 1 and {LOAD_BUF_SIZE}"))
    }
}

/// What a client was asked to do.
#[derive(Debug, Clone)]
pub enum ClientMode {
    /// The notes' `>>: ` loop on standard input.
    Interactive,
    /// Many connections, every reply verified.
    Load(LoadPlan),
}

/// When a load run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Each connection runs until this much time has passed since the start.
    After(Duration),
    /// Each connection makes exactly this many round trips.
    Rounds(u64),
}

/// A load run, decoded from [`LoadOpts`].
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub conns: usize,
    pub stop: Stop,
    pub size: usize,
    pub timeout: Duration,
    pub json: bool,
    pub seed: u64,
}

impl ClientOpts {
    /// Interactive unless a load flag was given.
    pub fn mode(&self) -> crate::Result<ClientMode> {
        let l = &self.load;
        if l.conns.is_none() && l.duration.is_none() && l.rounds.is_none() {
            return Ok(ClientMode::Interactive);
        }
        let conns = l.conns.unwrap_or(1);
        if conns == 0 {
            return Err("--conns must be at least 1".into());
        }
        let stop = match (l.duration, l.rounds) {
            (Some(secs), _) => Stop::After(seconds("--duration", secs)?),
            (None, Some(rounds)) => Stop::Rounds(rounds),
            (None, None) => Stop::Rounds(100),
        };
        Ok(ClientMode::Load(LoadPlan {
            conns,
            stop,
            size: l.size,
            timeout: seconds("--timeout", l.timeout)?,
            json: l.json,
            seed: l.seed,
        }))
    }
}

/// A flag given in seconds, as a `Duration`: positive, finite, and small enough to add to
/// `Instant::now()`. `Duration::from_secs_f64` panics on `1e20`; a student gets a sentence.
pub fn seconds(flag: &str, secs: f64) -> crate::Result<Duration> {
    // A year is far beyond any run here, and far inside what `Instant` can add.
    const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;
    if secs.is_finite() && secs > 0.0 && secs <= MAX_SECS {
        // Cannot fail: the range was checked above.
        Duration::try_from_secs_f64(secs).map_err(|e| format!("{flag}: {e}").into())
    } else {
        Err(
            format!("{flag} must be a positive number of seconds, at most a year (got {secs})")
                .into(),
        )
    }
}

impl LoadPlan {
    /// Whether a connection that has made `rounds` round trips, `elapsed` after the start,
    /// should stop.
    pub fn finished(&self, rounds: u64, elapsed: Duration) -> bool {
        match self.stop {
            Stop::After(limit) => elapsed >= limit,
            Stop::Rounds(limit) => rounds >= limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        client: ClientOpts,
    }

    fn mode(args: &[&str]) -> crate::Result<ClientMode> {
        let cli = Cli::try_parse_from(std::iter::once("client").chain(args.iter().copied()))?;
        cli.client.mode()
    }

    #[test]
    fn no_load_flag_is_interactive() {
        assert!(matches!(mode(&[]), Ok(ClientMode::Interactive)));
        assert!(matches!(
            mode(&["--addr", "127.0.0.1:1"]),
            Ok(ClientMode::Interactive)
        ));
    }

    #[test]
    fn load_flags_decode() {
        let Ok(ClientMode::Load(plan)) = mode(&["--conns", "3", "--duration", "0.5"]) else {
            panic!("expected a load plan");
        };
        assert_eq!(plan.conns, 3);
        assert_eq!(plan.stop, Stop::After(Duration::from_millis(500)));
        let Ok(ClientMode::Load(plan)) = mode(&["--rounds", "7"]) else {
            panic!("expected a load plan");
        };
        assert_eq!((plan.conns, plan.stop), (1, Stop::Rounds(7)));
        assert!(plan.finished(7, Duration::ZERO) && !plan.finished(6, Duration::MAX));
    }

    #[test]
    fn bad_load_flags_are_refused() {
        assert!(mode(&["--conns", "0"]).is_err());
        assert!(mode(&["--duration", "-1"]).is_err());
        assert!(mode(&["--duration", "1", "--rounds", "1"]).is_err());
        assert!(mode(&["--rounds", "1", "--size", "0"]).is_err());
        assert!(mode(&["--rounds", "1", "--size", "70000"]).is_err());
    }

    #[test]
    fn huge_or_odd_seconds_are_refused_not_panicked_on() {
        for bad in ["1e20", "inf", "NaN", "0", "-0.5"] {
            assert!(mode(&["--duration", bad]).is_err(), "--duration {bad}");
            assert!(
                mode(&["--rounds", "1", "--timeout", bad]).is_err(),
                "--timeout {bad}"
            );
        }
        assert!(mode(&["--duration", "0.25", "--timeout", "30"]).is_ok());
    }
}
