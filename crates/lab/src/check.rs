//! `cargo lab check ADDR`: the lab's shared scenarios against a server someone else started.
//!
//! The conformance tests start every variant of the table themselves. A student who has
//! written the notes' server in their own words (in Rust, in Python with `socket` and
//! `select`, with gevent, in anything) wants the same verdict for it: start it, then
//!
//! ```text
//! cargo lab check 127.0.0.1:8080               # every scenario, one line each
//! cargo lab check 127.0.0.1:8080 --pid 4242    # and the memory checks, which need its pid
//! cargo lab check 127.0.0.1:8080 --cap 1       # an iterative server: skip what needs 2+
//! ```
//!
//! Each scenario prints `pass` or `FAIL` with its reason; a failure adds a hint and the
//! chapter of the book that explains what the server got wrong. The exit status is non-zero
//! when any scenario failed, so the check can sit in a student's own CI or `make` file.
//!
//! The service is the notes' one: whatever bytes arrive, the same bytes upper-cased (ASCII
//! only) go back, on the same connection, until the client closes.

use crate::scenarios::{Scenario, Target, SCENARIOS};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What to tell a student whose server failed one scenario.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    /// The scenario's name, as in [`SCENARIOS`].
    pub scenario: &'static str,
    /// What such a failure usually means, in one or two sentences.
    pub hint: &'static str,
    /// The book's chapter that explains it (`docs/src/...`).
    pub chapter: &'static str,
}

/// The hint for every scenario (a test checks none is missing); [`FALLBACK`] for a name
/// this table does not know.
pub const HINTS: &[Hint] = &[
    Hint {
        scenario: "correct reply",
        hint: "the reply must be the same bytes upper-cased, sent back on the same \
               connection; check the transform and that every byte read is answered",
        chapter: "docs/src/02-two-phases.md",
    },
    Hint {
        scenario: "all 256 byte values",
        hint: "treat the data as bytes, not text: upper-case a..z only and pass every \
               other byte (including invalid UTF-8 and bytes above 127) through unchanged",
        chapter: "docs/src/02-two-phases.md",
    },
    Hint {
        scenario: "half-close",
        hint: "recv returning 0 bytes (EOF) means the client will send no more, not that it \
               reads no more: finish sending every reply owed, then close",
        chapter: "docs/src/04-nonblocking-io.md",
    },
    Hint {
        scenario: "8 MiB message",
        hint: "a send may take only part of the buffer (a short write): keep the unsent \
               tail and send it when the socket is writable again, and keep reading \
               meanwhile; a lost tail or a server that only writes deadlocks here",
        chapter: "docs/src/05-multiplexing.md",
    },
    Hint {
        scenario: "disconnect mid-reply",
        hint: "a client that goes away mid-reply makes send fail (EPIPE, ECONNRESET): that \
               ends its connection only; the server must go on serving others (and ignore \
               SIGPIPE)",
        chapter: "docs/src/03-blocking-io.md",
    },
    Hint {
        scenario: "200 resets",
        hint: "a reset shows up as an error from recv or send (ConnectionResetError in \
               Python): close that socket, forget its state, and keep the 连接循环 going",
        chapter: "docs/src/03-blocking-io.md",
    },
    Hint {
        scenario: "200 concurrent clients",
        hint: "one blocked recv must not stop the others: a thread per connection, a \
               coroutine per connection, or one readiness loop (select, epoll) over all of \
               them; an iterative server or a small pool waits here (say so with --cap N)",
        chapter: "docs/src/03-blocking-io.md",
    },
    Hint {
        scenario: "slow reader",
        hint: "replies for a client that reads slowly must not pile up without bound: stop \
               reading from it while its unsent replies exceed a limit (backpressure), and \
               free sent bytes as they go",
        chapter: "docs/src/05-multiplexing.md",
    },
    Hint {
        scenario: "flood fairness",
        hint: "a connection whose socket never runs dry must not hold the loop: serve each \
               ready connection for a budget of reads, then move on (a coroutine yields \
               after its budget)",
        chapter: "docs/src/05-multiplexing.md",
    },
    Hint {
        scenario: "lost replies",
        hint: "a send that would block (BlockingIOError) or takes only part of the reply \
               must not drop the rest: keep it per connection and send it when the socket \
               takes more (四 a sends once and moves on)",
        chapter: "docs/src/04-nonblocking-io.md",
    },
    Hint {
        scenario: "closed sockets",
        hint: "recv returning 0 bytes is the client's EOF: close that socket and take it out \
               of your read list (r_list), or it is polled and kept for ever",
        chapter: "docs/src/04-nonblocking-io.md",
    },
    Hint {
        scenario: "reset while a reply waits",
        hint: "when a connection fails, drop its queued replies with it: a reply left in \
               w_list for a socket already closed makes the next send fail and, uncaught, \
               stops the server",
        chapter: "docs/src/04-nonblocking-io.md",
    },
    Hint {
        scenario: "back to back",
        hint: "two messages can arrive before you reply to the first: queue replies per \
               connection (append), never keep one reply slot per socket (w_data[r] = ...)",
        chapter: "docs/src/05-multiplexing.md",
    },
    Hint {
        scenario: "queued twice",
        hint: "a socket must be in the write list at most once, and its entry must go only \
               when everything it owed is sent; removing a reply that is not there \
               (KeyError) stops the server",
        chapter: "docs/src/05-multiplexing.md",
    },
];

/// The hint for a scenario this table does not know yet.
pub const FALLBACK: Hint = Hint {
    scenario: "",
    hint: "compare your server's log with the reason above, then run the same scenario \
           against a lab variant (`LAB_SCENARIO=NAME cargo test -p lab --test conformance`) \
           to see what a passing server does",
    chapter: "docs/src/comparison.md",
};

/// The hint for `scenario`, or [`FALLBACK`].
pub fn hint_for(scenario: &str) -> &'static Hint {
    HINTS
        .iter()
        .find(|h| h.scenario == scenario)
        .unwrap_or(&FALLBACK)
}

/// What one scenario did to the server.
#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// Its error, as the scenario worded it.
    Fail(String),
    /// Not run: it holds more connections at once than `--cap`.
    Skipped {
        needs: usize,
    },
}

/// One scenario's outcome.
#[derive(Debug)]
pub struct Outcome {
    pub scenario: &'static str,
    pub verdict: Verdict,
    pub took: Duration,
}

/// What `cargo lab check` was asked.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub addr: SocketAddr,
    /// The server's process: enables the memory checks of the scenarios that take it.
    pub pid: Option<u32>,
    /// The most connections the server serves at once by design (an iterative server: 1).
    pub cap: Option<usize>,
}

/// Runs every scenario against `options.addr`, printing each verdict as it comes, and
/// returns them all. Nothing here stops early: one failure says less than the whole list.
pub fn run(options: &Options) -> Vec<Outcome> {
    let target = Target {
        addr: options.addr,
        pid: options.pid,
    };
    println!(
        "checking {} with {} scenarios{}",
        options.addr,
        SCENARIOS.len(),
        match options.pid {
            Some(pid) => format!(", memory of process {pid} included"),
            None => " (no --pid: memory checks skipped, bytes still checked)".into(),
        }
    );
    let outcomes: Vec<Outcome> = SCENARIOS
        .iter()
        .map(|s| {
            let outcome = run_one(s, &target, options.cap);
            print(&outcome);
            outcome
        })
        .collect();
    let failed = failures(&outcomes);
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Skipped { .. }))
        .count();
    println!(
        "{} passed, {failed} failed, {skipped} skipped",
        outcomes.len() - failed - skipped
    );
    outcomes
}

/// How many outcomes are failures.
pub fn failures(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
        .count()
}

fn run_one(scenario: &Scenario, target: &Target, cap: Option<usize>) -> Outcome {
    let started = Instant::now();
    let verdict = match cap {
        Some(cap) if scenario.concurrent > cap => Verdict::Skipped {
            needs: scenario.concurrent,
        },
        _ => match (scenario.run)(target) {
            Ok(()) => Verdict::Pass,
            Err(err) => Verdict::Fail(err.to_string()),
        },
    };
    Outcome {
        scenario: scenario.name,
        verdict,
        took: started.elapsed(),
    }
}

fn print(outcome: &Outcome) {
    let took = outcome.took.as_secs_f64();
    match &outcome.verdict {
        Verdict::Pass => println!("pass  {:<24} {took:6.2} s", outcome.scenario),
        Verdict::Skipped { needs } => println!(
            "skip  {:<24} needs {needs} connections at once, more than --cap",
            outcome.scenario
        ),
        Verdict::Fail(why) => {
            let hint = hint_for(outcome.scenario);
            println!("FAIL  {:<24} {took:6.2} s", outcome.scenario);
            println!("      why:  {why}");
            println!("      hint: {}", hint.hint);
            println!("      read: {}", hint.chapter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hint_names_a_scenario_and_a_chapter_that_exist() {
        let book = crate::docs::default_book_dir().join("src");
        for hint in HINTS.iter().chain([&FALLBACK]) {
            assert!(
                hint.scenario.is_empty() || SCENARIOS.iter().any(|s| s.name == hint.scenario),
                "a hint for an unknown scenario {:?}",
                hint.scenario
            );
            let file = hint.chapter.trim_start_matches("docs/src/");
            assert!(
                book.join(file).is_file(),
                "{} is not in the book",
                hint.chapter
            );
        }
    }

    #[test]
    fn every_scenario_has_a_hint_of_its_own() {
        for scenario in SCENARIOS {
            assert!(
                HINTS.iter().any(|h| h.scenario == scenario.name),
                "no hint for {:?}: a student who fails it would get only the fallback",
                scenario.name
            );
        }
    }

    #[test]
    fn an_unknown_scenario_gets_the_fallback() {
        assert_eq!(
            hint_for("a scenario added tomorrow").chapter,
            FALLBACK.chapter
        );
        assert_eq!(
            hint_for("half-close").chapter,
            "docs/src/04-nonblocking-io.md"
        );
    }
}
