//! The server of one cell: a fresh process the bench started, or an external server that
//! was already running (`--external NAME=ADDR`), a student's own in any language.
//!
//! A cell needs three things from its server: an address to load, a process tree to read
//! the cost from, and a way to tell that the server died. A server of ours gives all three.
//! An external one gives the address; its process only if `--external-pid` names it (the
//! bench cannot tell which process listens on a port without reading every process's
//! descriptors, and guessing would charge some other program's CPU to the server); and
//! without a process, a dead server is seen the way a client sees it: its connections fail,
//! and the load generator's reason becomes the cell's.

use crate::process::ServerProcess;
use std::net::SocketAddr;

/// Why an external server without `--external-pid` has no CPU, memory or thread figures.
pub const NO_PID: &str = "no --external-pid";

/// Lines of a dead server's output quoted in the report.
const LOG_TAIL: usize = 8;

/// The server one cell (or the churn workload) runs against.
pub enum CellServer {
    /// Started for this cell, killed when it is dropped.
    Ours(ServerProcess),
    /// Already running: never started, restarted or stopped by the bench.
    External { addr: SocketAddr, pid: Option<u32> },
}

impl CellServer {
    pub fn addr(&self) -> SocketAddr {
        match self {
            CellServer::Ours(server) => server.addr(),
            CellServer::External { addr, .. } => *addr,
        }
    }

    /// The process whose tree the cost is read from, or why there is none.
    pub fn pid(&self) -> Result<u32, &'static str> {
        match self {
            CellServer::Ours(server) => Ok(server.pid()),
            CellServer::External { pid, .. } => pid.ok_or(NO_PID),
        }
    }

    /// Whether a cell in which no connection made a round trip failed, rather than ran
    /// with every connection failing: so for an external server, which may have died before
    /// the cell or never listened at that address (without a pid, failed connections are
    /// the only sign of either). A server of ours that died is caught by [`Self::died`].
    pub fn judged_by_connections(&self) -> bool {
        matches!(self, CellServer::External { .. })
    }

    /// Why the server is known to be gone, or `None` while it runs (or cannot be looked at).
    pub fn died(&mut self) -> Option<String> {
        match self {
            CellServer::Ours(server) => {
                if server.is_running() {
                    return None;
                }
                let log = server.log_text();
                let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Some(format!(
                    "the server died during the cell; its last words: {tail:?}"
                ))
            }
            // Not our child, so no exit status: its /proc entry going away is what says it
            // exited (a zombie keeps the entry, so read its state too).
            CellServer::External { pid: Some(pid), .. } => {
                let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
                let zombie = state
                    .as_deref()
                    .and_then(|s| s.rsplit_once(')'))
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
                (state.is_none() || zombie)
                    .then(|| format!("the external server's process {pid} exited during the cell"))
            }
            CellServer::External { pid: None, .. } => None,
        }
    }
}
