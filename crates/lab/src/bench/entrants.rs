//! Who runs in the bench: every variant in the lab's one table, plus the notes' own Python
//! servers as a second yardstick when this machine has Python.
//!
//! Nothing is listed here by hand: a variant registered in
//! [`VARIANTS`](crate::variants::VARIANTS) is measured, its by-design [`Cap`] decides which
//! cells are "not applicable", and the tokio servers there (krate `baseline`) are what every
//! ratio is divided by. Servers already running outside the bench (`--external NAME=ADDR`,
//! a student's own in any language) join them as [`Kind::External`].

use super::server::CellServer;
use crate::process::ServerProcess;
use crate::variants::{Cap, Variant, VARIANTS};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tokio servers every ratio is divided by.
pub const TOKIO_CURRENT: &str = "baseline/tokio-current";
pub const TOKIO_MULTI: &str = "baseline/tokio-multi";

/// What part an entrant plays in the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The tokio yardstick.
    Baseline,
    /// A model crate's server.
    Model,
    /// The notes' Python servers.
    Python,
    /// A server already running, given with `--external NAME=ADDR`: loaded as it is, never
    /// restarted, its cost read only if `--external-pid` names its process.
    External,
}

/// A Python server from the notes, kept in `crates/lab/python/`.
struct PythonServer {
    name: &'static str,
    file: &'static str,
    /// A module it needs besides the standard library.
    module: Option<&'static str>,
    cap: Option<Cap>,
}

const PYTHON_SERVERS: &[PythonServer] = &[
    PythonServer {
        name: "python/select",
        file: "select_server.py",
        module: None,
        cap: Some(Cap {
            // The same bound as the Rust select server: 1024 descriptors, less stdio, the
            // listener and some slack.
            conns: crate::variants::SELECT_CONNS,
            why: "select() only takes descriptors below FD_SETSIZE (1024)",
        }),
    },
    PythonServer {
        name: "python/gevent",
        file: "gevent_server.py",
        module: Some("gevent"),
        cap: None,
    },
];

/// One server the bench measures.
#[derive(Debug, Clone)]
pub struct Entrant {
    pub name: String,
    pub kind: Kind,
    pub cap: Option<Cap>,
    launch: Launch,
}

#[derive(Debug, Clone)]
enum Launch {
    /// `lab serve KRATE ARGS...`
    Lab(&'static Variant),
    /// `python3 FILE --addr 127.0.0.1:0`
    Python(PathBuf),
    /// Nothing to start: every cell loads this address.
    External { addr: SocketAddr, pid: Option<u32> },
}

impl Entrant {
    /// Whether it serves `conns` connections at once, and if not, why (its cap).
    pub fn serves(&self, conns: usize) -> Result<(), String> {
        match self.cap {
            Some(cap) if conns > cap.conns => Err(format!(
                "serves at most {} connections at once by design: {}",
                cap.conns, cap.why
            )),
            _ => Ok(()),
        }
    }

    /// The server of one cell: a fresh process on port 0 (`lab` is the lab binary), or the
    /// external server as it is.
    pub fn start(&self, lab: &Path) -> crate::Result<CellServer> {
        let server = match &self.launch {
            Launch::Lab(variant) => ServerProcess::start_variant(lab, variant, &[])?,
            Launch::Python(file) => {
                let mut command = Command::new("python3");
                command.arg(file).args(["--addr", "127.0.0.1:0"]);
                ServerProcess::start_command(command, self.name.clone())?
            }
            Launch::External { addr, pid } => {
                return Ok(CellServer::External {
                    addr: *addr,
                    pid: *pid,
                })
            }
        };
        Ok(CellServer::Ours(server))
    }
}

/// Every variant in the table, then the Python servers this machine can run. The second
/// list says, one line each, which Python servers were skipped and why.
pub fn all() -> (Vec<Entrant>, Vec<String>) {
    let mut entrants: Vec<Entrant> = VARIANTS
        .iter()
        .filter(|v| !v.minimal) // the notes' minimal programs: checked, not measured
        .map(|v| Entrant {
            name: v.name.to_string(),
            kind: if v.krate == "baseline" {
                Kind::Baseline
            } else {
                Kind::Model
            },
            cap: v.cap,
            launch: Launch::Lab(v),
        })
        .collect();
    let mut skipped = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    for py in PYTHON_SERVERS {
        let file = dir.join(py.file);
        let missing = if !file.is_file() {
            Some(format!("{} is not there", file.display()))
        } else {
            python_lacks(py.module)
        };
        match missing {
            Some(why) => skipped.push(format!("{} skipped: {why}", py.name)),
            None => entrants.push(Entrant {
                name: py.name.to_string(),
                kind: Kind::Python,
                cap: py.cap,
                launch: Launch::Python(file),
            }),
        }
    }
    (entrants, skipped)
}

/// Why `python3` cannot run a server needing `module`, or `None` if it can.
fn python_lacks(module: Option<&str>) -> Option<String> {
    let import = format!("import {}", module.unwrap_or("select"));
    let status = Command::new("python3")
        .args(["-c", &import])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match (status, module) {
        (Ok(s), _) if s.success() => None,
        (Err(_), _) => Some("no python3 on this machine".into()),
        (Ok(_), Some(m)) => Some(format!(
            "python3 has no `{m}` module (`pip install {m}` adds it)"
        )),
        (Ok(_), None) => Some("python3 cannot import select".into()),
    }
}

/// Keeps the entrants whose name contains one of `filters` (all of them if it is empty).
/// The tokio baselines always stay: every ratio in the report is divided by them; and so do
/// the external servers, which were asked for by name.
pub fn select(entrants: Vec<Entrant>, filters: &[String]) -> Vec<Entrant> {
    entrants
        .into_iter()
        .filter(|e| {
            filters.is_empty()
                || matches!(e.kind, Kind::Baseline | Kind::External)
                || filters.iter().any(|f| e.name.contains(f.as_str()))
        })
        .collect()
}

/// `--external NAME=ADDR`: a name for the tables and an IPv4 loopback address. Anything
/// else is refused here, before a byte is sent: this project never loads another machine
/// (nor a service on this one that listens on a public address).
pub fn parse_external(text: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=ADDR (for example mine=127.0.0.1:9000)"))?;
    check_name(name)?;
    let addr: SocketAddr = addr.parse().map_err(|_| {
        format!("{addr:?} is not IP:PORT (for example 127.0.0.1:9000; names are not looked up)")
    })?;
    // IPv4 only: the churn workload binds its clients to 127.0.0.x source addresses.
    let loopback = matches!(addr, SocketAddr::V4(v4) if v4.ip().is_loopback());
    if !loopback {
        return Err(format!(
            "{addr} is not a loopback address: the bench only loads servers on this machine,              at 127.0.0.0/8 (start yours on 127.0.0.1)"
        ));
    }
    if addr.port() == 0 {
        return Err(format!("{addr}: give the port your server listens on"));
    }
    Ok((name.to_string(), addr))
}

/// `--external-pid NAME=PID`: the process of an external server, for its cost.
pub fn parse_external_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=PID (for example mine=12345)"))?;
    check_name(name)?;
    let pid: u32 = pid
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("{pid:?} is not a process id"))?;
    Ok((name.to_string(), pid))
}

/// A name that can stand in a table row and a chart's legend.
fn check_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_alphanumeric() || "-_./".contains(c);
    if name.is_empty() || !name.chars().all(plain) {
        return Err(format!(
            "{name:?}: an external server's name is letters, digits and - _ . /"
        ));
    }
    Ok(())
}

/// The external servers of `--external` and `--external-pid`, after the entrants `taken`:
/// a name may not be one of theirs (or another external's), and every pid must name an
/// external server and a process that exists.
pub fn externals(
    addrs: &[(String, SocketAddr)],
    pids: &[(String, u32)],
    taken: &[Entrant],
) -> crate::Result<Vec<Entrant>> {
    let mut externals: Vec<Entrant> = Vec::with_capacity(addrs.len());
    for (name, addr) in addrs {
        // Every variant, the minimal ones too (checked, not measured, but still ours).
        let clash = VARIANTS.iter().any(|v| v.name == name)
            || taken.iter().any(|e| &e.name == name)
            || PYTHON_SERVERS.iter().any(|p| p.name == name)
            || externals.iter().any(|e| &e.name == name);
        if clash {
            return Err(format!(
                "--external {name}={addr}: {name:?} is already a server's name in the bench;                  choose another"
            )
            .into());
        }
        externals.push(Entrant {
            name: name.clone(),
            kind: Kind::External,
            cap: None,
            launch: Launch::External {
                addr: *addr,
                pid: None,
            },
        });
    }
    for (name, pid) in pids {
        let Some(entrant) = externals.iter_mut().find(|e| &e.name == name) else {
            return Err(
                format!("--external-pid {name}={pid}: no --external is called {name:?}").into(),
            );
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(format!("--external-pid {name}={pid}: no process {pid} is running").into());
        }
        if let Launch::External { pid: slot, .. } = &mut entrant.launch {
            if slot.is_some() {
                return Err(format!("--external-pid {name}: given twice").into());
            }
            *slot = Some(*pid);
        }
    }
    Ok(externals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_are_registered_and_always_selected() {
        let (all, _) = all();
        for name in [TOKIO_CURRENT, TOKIO_MULTI] {
            assert!(all
                .iter()
                .any(|e| e.name == name && e.kind == Kind::Baseline));
        }
        let picked = select(all, &["blocking-io/thread".to_string()]);
        let mut names: Vec<&str> = picked.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "baseline/tokio-current",
                "baseline/tokio-multi",
                "blocking-io/thread"
            ]
        );
    }

    #[test]
    fn a_cap_makes_a_cell_not_applicable_with_its_reason() {
        let (all, _) = all();
        let iterative = all
            .iter()
            .find(|e| e.name == "blocking-io/iterative")
            .unwrap();
        assert!(iterative.serves(1).is_ok());
        let why = iterative.serves(10).unwrap_err();
        assert!(why.contains("at most 1"), "{why}");
    }
}
