//! What a bench run found, as written to `results.json` and read back by the report.

use super::entrants::Kind;
use super::machine::Machine;
use serde::{Deserialize, Serialize};

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub machine: Machine,
    pub date: String,
    /// The 1-minute load average when the run began and when it ended.
    #[serde(default)]
    pub load_average: [Option<f64>; 2],
    /// The command as typed (`cargo lab bench ...`).
    pub command: String,
    pub grid: GridInfo,
    /// One line per yardstick that could not run here, saying why.
    pub skipped: Vec<String>,
    /// How this run departs from the default grid (empty for a full default run): the
    /// page then says its figures come from a reduced run.
    #[serde(default)]
    pub reduced: Vec<String>,
    pub cells: Vec<Cell>,
    /// The churn workload, one per server (empty when it did not run).
    #[serde(default)]
    pub churn: Vec<ChurnCell>,
    /// Wall-clock time of the whole run.
    pub elapsed_s: f64,
}

/// The grid, as run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridInfo {
    pub conns: Vec<usize>,
    pub sizes: Vec<usize>,
    pub other_size_conns: Vec<usize>,
    pub duration_s: f64,
    pub reps: usize,
    pub window_s: f64,
    pub warmup_s: f64,
    pub client_threads: usize,
    pub fd_limit: u64,
    /// Length of each echo cell's counting pass, if the run counted.
    #[serde(default)]
    pub count_s: Option<f64>,
    /// (size, connections) of the large-message cells.
    #[serde(default)]
    pub large: Vec<(usize, usize)>,
}

/// One server at one connection count and one message size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub variant: String,
    pub kind: Kind,
    pub size: usize,
    pub conns: usize,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Not run: beyond the variant's cap by design, or beyond this machine's limits.
    NotApplicable {
        reason: String,
    },
    /// The server did not start, or died during the cell.
    Failed {
        reason: String,
    },
    Ran(Box<Measured>),
}

/// A cell's figures: the medians over its windows, and the windows themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// Connections whose handshake completed.
    pub established: u64,
    /// Connections that made their first verified round trip during set-up.
    pub served: u64,
    /// Failed connections (refused, reset, closed early, timed out), whole cell.
    pub errors: u64,
    /// Replies that differed from what the server owed, whole cell.
    pub mismatches: u64,
    /// Round trips per second.
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The server's CPU time (user + system, whole process tree) per round trip.
    pub cpu_us_per_rt: Option<f64>,
    /// That CPU time split into user mode and kernel, in the ratio of the tree's
    /// `utime`/`stime` ticks over the measured windows (`None` if no tick fell in them).
    #[serde(default)]
    pub user_us_per_rt: Option<f64>,
    #[serde(default)]
    pub kernel_us_per_rt: Option<f64>,
    /// System calls and context switches, from a counting pass of its own after the
    /// timed windows (`None` when the run did not count, as `--quick` does not).
    #[serde(default)]
    pub count: Option<Count>,
    /// Resident memory right after start, before any connection (for an external server,
    /// at the start of the cell).
    pub rss_idle_kib: Option<u64>,
    /// Peak resident memory (VmHWM) over the cell; for an external server, which is not
    /// restarted, over its whole life.
    pub rss_peak_kib: Option<u64>,
    /// Threads with every connection open (processes too, for a fork server).
    pub threads: Option<u64>,
    pub processes: Option<u64>,
    /// Why the server's cost (CPU, memory, threads, system calls) was not read, when it was
    /// not: an external server given without `--external-pid`.
    #[serde(default)]
    pub no_cost: Option<String>,
    /// Seconds from the first connect to the last first reply.
    pub setup_s: f64,
    /// Why connections failed (the first few).
    pub error_samples: Vec<String>,
    pub reps: Vec<Rep>,
}

/// One server under connection churn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnCell {
    pub variant: String,
    pub kind: Kind,
    /// The figures, or why there are none.
    pub outcome: Result<ChurnMeasured, String>,
}

/// Connections per second and what each cost the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnMeasured {
    /// Client threads connecting in a loop.
    pub clients: usize,
    /// Verified connections (one round trip each) ended in the measured window.
    pub connections: u64,
    pub elapsed_s: f64,
    pub per_second: f64,
    /// The server's CPU time (whole tree) per connection, and its user/kernel split.
    pub cpu_us_per_conn: Option<f64>,
    pub user_us_per_conn: Option<f64>,
    pub kernel_us_per_conn: Option<f64>,
    /// Connections that failed, and replies that were wrong.
    pub errors: u64,
    pub mismatches: u64,
    pub error_samples: Vec<String>,
    /// Why the CPU figures are missing, when the server's process was not known (an
    /// external server without `--external-pid`).
    #[serde(default)]
    pub no_cost: Option<String>,
}

/// What `perf stat` counted over a server's process tree during the counting pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Count {
    Counted {
        /// Round trips completed during the pass.
        rounds: u64,
        seconds: f64,
        /// `raw_syscalls:sys_enter`, every thread and child of the server.
        syscalls: u64,
        /// `context-switches`, likewise.
        context_switches: u64,
    },
    /// perf is missing, not permitted, or would need too many descriptors: why.
    NotCounted { reason: String },
}

impl Count {
    /// System calls per round trip, if counted.
    pub fn syscalls_per_rt(&self) -> Option<f64> {
        match self {
            Count::Counted {
                rounds, syscalls, ..
            } if *rounds > 0 => Some(*syscalls as f64 / *rounds as f64),
            _ => None,
        }
    }

    /// Context switches per round trip, if counted.
    pub fn switches_per_rt(&self) -> Option<f64> {
        match self {
            Count::Counted {
                rounds,
                context_switches,
                ..
            } if *rounds > 0 => Some(*context_switches as f64 / *rounds as f64),
            _ => None,
        }
    }
}

/// One measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rep {
    pub rounds: u64,
    pub elapsed_s: f64,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The server's CPU time in the window (`None` when it was not read).
    pub cpu_s: Option<f64>,
    pub cpu_us_per_rt: Option<f64>,
}

impl Measured {
    /// Extra resident memory per connection: the peak less the idle server, shared out.
    pub fn kib_per_conn(&self, conns: usize) -> Option<f64> {
        let (peak, idle) = (self.rss_peak_kib?, self.rss_idle_kib?);
        Some(peak.saturating_sub(idle) as f64 / conns.max(1) as f64)
    }
}

impl Results {
    /// The measured figures of `variant` at (`size`, `conns`), if it ran.
    pub fn measured(&self, variant: &str, size: usize, conns: usize) -> Option<&Measured> {
        self.cells.iter().find_map(|c| match &c.outcome {
            Outcome::Ran(m) if c.variant == variant && c.size == size && c.conns == conns => {
                Some(&**m)
            }
            _ => None,
        })
    }

    /// Whether the run should fail: any mismatch, or a server that did not start or died.
    /// Never a speed figure.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for c in &self.cells {
            match &c.outcome {
                Outcome::Failed { reason } => problems.push(format!(
                    "{}, {} connection(s), {} B: {reason}",
                    c.variant, c.conns, c.size
                )),
                Outcome::Ran(m) if m.mismatches > 0 => problems.push(format!(
                    "{}, {} connection(s), {} B: {} replies differed from what was sent, upper-cased",
                    c.variant, c.conns, c.size, m.mismatches
                )),
                _ => {}
            }
        }
        for c in &self.churn {
            match &c.outcome {
                Err(reason) => problems.push(format!("{}, churn: {reason}", c.variant)),
                Ok(m) if m.mismatches > 0 => problems.push(format!(
                    "{}, churn: {} replies differed from what was sent, upper-cased",
                    c.variant, m.mismatches
                )),
                _ => {}
            }
        }
        problems
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(mismatches: u64) -> Outcome {
        Outcome::Ran(Box::new(Measured {
            established: 1,
            served: 1,
            errors: 0,
            mismatches,
            rps: 1.0,
            p50_us: 1,
            p99_us: 1,
            cpu_us_per_rt: None,
            user_us_per_rt: None,
            kernel_us_per_rt: None,
            count: None,
            rss_idle_kib: Some(1),
            rss_peak_kib: Some(1),
            threads: Some(1),
            processes: Some(1),
            no_cost: None,
            setup_s: 0.0,
            error_samples: Vec::new(),
            reps: Vec::new(),
        }))
    }

    #[test]
    fn a_run_fails_on_a_mismatch_or_a_dead_server_never_on_speed() {
        let cell = |variant: &str, outcome| Cell {
            variant: variant.into(),
            kind: Kind::Model,
            size: 64,
            conns: 1,
            outcome,
        };
        let mut results = Results {
            machine: Machine::this(),
            date: String::new(),
            load_average: [None, None],
            command: String::new(),
            grid: GridInfo {
                conns: vec![1],
                sizes: vec![64],
                other_size_conns: vec![],
                duration_s: 1.0,
                reps: 1,
                window_s: 1.0,
                warmup_s: 0.1,
                client_threads: 1,
                fd_limit: 1024,
                count_s: None,
                large: Vec::new(),
            },
            skipped: Vec::new(),
            reduced: Vec::new(),
            cells: vec![
                cell("slow", ran(0)),
                cell(
                    "capped",
                    Outcome::NotApplicable {
                        reason: "cap".into(),
                    },
                ),
            ],
            churn: Vec::new(),
            elapsed_s: 1.0,
        };
        assert!(results.problems().is_empty());
        results.cells.push(cell("wrong", ran(3)));
        results.cells.push(cell(
            "dead",
            Outcome::Failed {
                reason: "did not start".into(),
            },
        ));
        let problems = results.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("wrong") && problems[1].starts_with("dead"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
        assert_eq!(median(vec![]), None);
    }
}
