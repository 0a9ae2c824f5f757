//! The table of server variants: the one place a variant is registered.
//!
//! The demos, the conformance tests and the benchmark all read [`VARIANTS`], so a variant
//! added here is demonstrated, tested and measured without another edit.

/// A limit a variant has by design on how many connections it serves at once.
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    pub conns: usize,
    pub why: &'static str,
}

/// One way to run one model crate's server.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// `crate/variant`, as printed in tables and test failures.
    pub name: &'static str,
    /// The model crate whose `server_main` runs it.
    pub krate: &'static str,
    /// The server flags that select it (`--addr` is added by whoever starts it).
    pub args: &'static [&'static str],
    /// `None` when it serves any number of connections at once.
    pub cap: Option<Cap>,
    /// One of the notes' programs in minimal Rust ([`crate::minimal`]): it keeps the notes'
    /// bugs, so it is left out of the bench and of `tests/conformance.rs`, and
    /// `tests/minimal.rs` checks which scenarios it fails.
    pub minimal: bool,
}

impl Variant {
    /// Whether it serves `conns` connections at once, and if not, why.
    pub fn serves(&self, conns: usize) -> Result<(), String> {
        match self.cap {
            Some(cap) if conns > cap.conns => Err(format!(
                "{} serves at most {} connections at once by design: {}",
                self.name, cap.conns, cap.why
            )),
            _ => Ok(()),
        }
    }
}

/// Workers in the pool variant.
pub const POOL_WORKERS: usize = 4;

/// Every server variant, in the order of the notes.
pub const VARIANTS: &[Variant] = &[
    Variant {
        // A worker per core (its default), 16 KiB stacks, workers not pinned to cores.
        name: "coroutine-spawn/may",
        krate: "coroutine-spawn",
        args: &[],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "blocking-io/iterative",
        krate: "blocking-io",
        args: &["--mode", "iterative"],
        cap: Some(Cap {
            conns: 1,
            why: "one thread serves one client at a time; the next waits until it leaves",
        }),
        minimal: false,
    },
    Variant {
        name: "blocking-io/thread",
        krate: "blocking-io",
        args: &["--mode", "thread"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "blocking-io/pool",
        krate: "blocking-io",
        args: &["--mode", "pool", "--workers", "4"],
        cap: Some(Cap {
            conns: POOL_WORKERS,
            why: "each of the 4 workers is held by one connection until it leaves",
        }),
        minimal: false,
    },
    Variant {
        name: "blocking-io/fork",
        krate: "blocking-io",
        args: &["--mode", "fork"],
        cap: None,
        minimal: false,
    },
    Variant {
        // Section 三's 进程池: Stevens' preforked server, every child accepting.
        name: "blocking-io/prefork",
        krate: "blocking-io",
        args: &["--mode", "prefork", "--workers", "4"],
        cap: Some(Cap {
            conns: POOL_WORKERS,
            why: "each of the 4 worker processes serves one client until it leaves; the next \
                  waits in the listen queue",
        }),
        minimal: false,
    },
    // The notes' first version (`--naive`) is not here on purpose: it loses replies and
    // keeps closed sockets by design, so it fails the shared scenarios. Its flaws are asserted
    // in `tests/nonblocking_io.rs` instead.
    Variant {
        name: "nonblocking-io/busy",
        krate: "nonblocking-io",
        args: &[],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "nonblocking-io/sleep-1ms",
        krate: "nonblocking-io",
        args: &["--sleep-ms", "1"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "multiplexing/polling",
        krate: "multiplexing",
        args: &["--backend", "polling"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "multiplexing/mio",
        krate: "multiplexing",
        args: &["--backend", "mio"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "multiplexing/select",
        krate: "multiplexing",
        args: &["--backend", "select"],
        cap: Some(Cap {
            conns: SELECT_CONNS,
            why: "select(2)'s fd_set holds descriptors 0..1023 (FD_SETSIZE = 1024), and \
                  stdio, the listener and a few more already take some of them",
        }),
        minimal: false,
    },
    Variant {
        name: "async-callback/uring",
        krate: "async-callback",
        // Explicit, so a machine without io_uring fails here instead of testing the pool.
        args: &["--backend", "uring"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "async-callback/uring-multishot",
        krate: "async-callback",
        args: &["--backend", "uring-multishot"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "async-callback/pool",
        krate: "async-callback",
        args: &["--backend", "pool", "--workers", "4"],
        cap: Some(Cap {
            conns: POOL_WORKERS,
            why: "each connection's blocking loop is one pool task: the 4 workers are held \
                  until their clients leave, and the next connection's task waits in the queue",
        }),
        minimal: false,
    },
    Variant {
        // One thread, one task per connection, the runtime of crates/own-gevent.
        name: "own-gevent/stackless",
        krate: "own-gevent",
        args: &[],
        cap: None,
        minimal: false,
    },
    // The bench's yardstick (crates/lab/src/baseline.rs), not a model: every ratio in
    // docs/src/results.md is divided by these. Listed here so conformance tests them too.
    Variant {
        name: "baseline/tokio-current",
        krate: "baseline",
        args: &["--flavor", "current-thread"],
        cap: None,
        minimal: false,
    },
    Variant {
        name: "baseline/tokio-multi",
        krate: "baseline",
        args: &["--flavor", "multi-thread"],
        cap: None,
        minimal: false,
    },
    // The notes' own servers, as minimal Rust (crates/lab/src/minimal.rs): `krate` is the
    // program's name for `lab serve`.
    Variant {
        name: "minimal/notes-gevent-server",
        krate: "notes-gevent-server",
        args: &[],
        cap: None,
        minimal: true,
    },
    Variant {
        name: "minimal/notes-blocking-server",
        krate: "notes-blocking-server",
        args: &[],
        cap: Some(Cap {
            conns: 1,
            why: "the notes' blocking server serves one client until it leaves",
        }),
        minimal: true,
    },
    Variant {
        name: "minimal/notes-nonblocking-a",
        krate: "notes-nonblocking-a",
        args: &[],
        cap: None,
        minimal: true,
    },
    Variant {
        name: "minimal/notes-nonblocking-b",
        krate: "notes-nonblocking-b",
        args: &[],
        cap: None,
        minimal: true,
    },
    Variant {
        name: "minimal/notes-select-server",
        krate: "notes-select-server",
        args: &[],
        cap: Some(Cap {
            conns: SELECT_CONNS,
            why: "select(2) takes descriptors below FD_SETSIZE (1024) only",
        }),
        minimal: true,
    },
];

/// What the select variant serves at once: a bit under `FD_SETSIZE` (1024), because the
/// process already holds descriptors 0 to 3 (stdio and the listener) before any client.
pub const SELECT_CONNS: usize = 1000;

// Checked when compiling: the cap plus those four descriptors fits in an `fd_set`.
const _: () = assert!(SELECT_CONNS + 4 <= libc::FD_SETSIZE);

/// The variant called `name`.
pub fn find(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_names_a_linked_crate_and_is_unique() {
        for (i, v) in VARIANTS.iter().enumerate() {
            if v.minimal {
                assert!(
                    crate::minimal::find(v.krate).is_some()
                        && v.name.strip_prefix("minimal/") == Some(v.krate),
                    "{} names no minimal program",
                    v.name
                );
                continue;
            }
            assert!(
                crate::models::MODELS.iter().any(|m| m.krate == v.krate),
                "{} names an unknown crate",
                v.name
            );
            assert!(
                v.name.starts_with(v.krate),
                "{} is not under its crate",
                v.name
            );
            assert!(
                VARIANTS[..i].iter().all(|w| w.name != v.name),
                "{} is listed twice",
                v.name
            );
        }
    }

    #[test]
    fn the_select_cap_fits_in_an_fd_set() {
        let select = find("multiplexing/select").unwrap();
        assert!(select.serves(SELECT_CONNS).is_ok() && select.serves(SELECT_CONNS + 1).is_err());
    }

    #[test]
    fn the_pool_cap_matches_its_flag() {
        for name in ["blocking-io/pool", "async-callback/pool"] {
            let pool = find(name).unwrap();
            assert!(pool.args.ends_with(&["--workers", "4"]) && POOL_WORKERS == 4);
            assert!(pool.serves(4).is_ok() && pool.serves(5).is_err());
        }
    }
}
