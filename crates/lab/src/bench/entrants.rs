//! Who runs in the bench: every variant in the lab's one table, plus the notes' own Python
//! servers as a second yardstick when this machine has Python.
//!
//! Nothing is listed here by hand: a variant registered in
//! [`VARIANTS`](crate::variants::VARIANTS) is measured, its by-design [`Cap`] decides which
//! cells are "not applicable", and the tokio servers there (krate `baseline`) are what every
//! ratio is divided by.

use crate::process::ServerProcess;
use crate::variants::{Cap, Variant, VARIANTS};
use serde::{Deserialize, Serialize};
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

    /// Starts a fresh server process on port 0 (`lab` is the lab binary).
    pub fn start(&self, lab: &Path) -> crate::Result<ServerProcess> {
        match &self.launch {
            Launch::Lab(variant) => ServerProcess::start_variant(lab, variant, &[]),
            Launch::Python(file) => {
                let mut command = Command::new("python3");
                command.arg(file).args(["--addr", "127.0.0.1:0"]);
                ServerProcess::start_command(command, self.name.clone())
            }
        }
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
/// The tokio baselines always stay: every ratio in the report is divided by them.
pub fn select(entrants: Vec<Entrant>, filters: &[String]) -> Vec<Entrant> {
    entrants
        .into_iter()
        .filter(|e| {
            filters.is_empty()
                || e.kind == Kind::Baseline
                || filters.iter().any(|f| e.name.contains(f.as_str()))
        })
        .collect()
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
