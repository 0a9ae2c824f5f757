//! The grid of cells a bench run measures, and how long it will take.
//!
//! A cell is one server at one connection count and one message size. The default run is
//! 64-byte ping-pong at every `--conns` and must fit in ten minutes on a 2-core machine with
//! some fifteen servers (each cell costs its measured time plus about 0.6 s). Further sizes
//! (`--sizes 64,16384`) run only at `--other-size-conns` (100 by default), which adds about
//! six seconds per server. `--duration` is the measured time per cell, split into
//! `--reps` back-to-back windows on the same connections, whose medians are reported: set-up
//! (a fresh server, the handshakes, one verified round trip each) and a short warm-up are
//! outside it, so 10,000 connections cost their set-up once, not once per repetition.

use super::entrants::Entrant;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `cargo lab bench` flags.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Measured seconds per cell, split into --reps windows [default: 5; --quick: 1].
    #[arg(long)]
    pub duration: Option<f64>,

    /// Windows per cell; the median of each figure is reported [default: 3; --quick: 1].
    #[arg(long)]
    pub reps: Option<usize>,

    /// Connection counts [default: 1,10,100,1000,10000; --quick: 1,100].
    #[arg(long, value_delimiter = ',')]
    pub conns: Option<Vec<usize>>,

    /// Message sizes in bytes; the first is the headline (try 64,16384) [default: 64].
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<usize>>,

    /// The connection counts (of --conns) at which sizes after the first run [default: 100].
    #[arg(long, value_delimiter = ',')]
    pub other_size_conns: Option<Vec<usize>>,

    /// A smoke test: 1 and 100 connections, 1 s, one window.
    #[arg(long)]
    pub quick: bool,

    /// Only variants whose name contains one of these (the tokio baselines always run).
    #[arg(long, value_delimiter = ',')]
    pub variants: Vec<String>,

    /// Where results.md, results.json and figures/ go [default: the book's docs/src].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Load generator threads (each polls its share of the connections).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub client_threads: u16,

    /// Seconds a connection may wait for a reply before it counts as failed.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,

    /// Only these workloads: echo (the grid), churn (a connection per request), large
    /// (16 KiB and 1 MiB messages) [default: all three; --quick: echo].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Workload>,

    /// Count system calls and context switches with perf in a pass after each echo cell's
    /// timed windows [default: yes; --quick: no].
    #[arg(long, conflicts_with = "no_count")]
    pub count: bool,

    /// Do not count (see --count).
    #[arg(long)]
    pub no_count: bool,

    /// Measure nothing: write results.md and the charts again from the results.json in
    /// --out (after a change to the report's text or the charts).
    #[arg(long)]
    pub redraw: bool,

    /// A server already running on this machine, measured beside the models as NAME (any
    /// language; repeatable). ADDR is IP:PORT on loopback; the server is never restarted.
    #[arg(long, value_name = "NAME=ADDR", value_parser = super::entrants::parse_external)]
    pub external: Vec<(String, SocketAddr)>,

    /// The process of --external NAME, for its CPU time, memory, threads and system calls
    /// (without it those columns are n/a; repeatable).
    #[arg(long, value_name = "NAME=PID", value_parser = super::entrants::parse_external_pid)]
    pub external_pid: Vec<(String, u32)>,
}

/// The bench's workloads (`--only`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Ping-pong of the headline size on long-lived connections, at every --conns.
    Echo,
    /// Each client connects, makes one verified round trip and leaves (UNP ch. 30).
    Churn,
    /// Bulk: 16 KiB messages at 100 connections, 1 MiB at 10 (unless --sizes is given).
    Large,
}

/// The large-message cells of the default run: (message size, connections).
pub const LARGE_CELLS: &[(usize, usize)] = &[(16 * 1024, 100), (1 << 20, 10)];

/// The counting pass after each echo cell's timed windows.
pub const COUNT_PASS: Duration = Duration::from_millis(500);

/// Measured time of a churn cell, at most (shorter if --duration is).
pub const CHURN_TIME: Duration = Duration::from_secs(2);

/// Measured time of a large-message cell, at most, in at most two windows.
pub const LARGE_TIME: Duration = Duration::from_secs(2);

/// The resolved grid.
#[derive(Debug, Clone)]
pub struct Grid {
    pub conns: Vec<usize>,
    pub sizes: Vec<usize>,
    pub other_size_conns: Vec<usize>,
    /// Measured time per cell.
    pub duration: Duration,
    pub reps: usize,
    pub warmup: Duration,
    pub client_threads: usize,
    pub timeout: Duration,
    pub workloads: Vec<Workload>,
    /// The counting pass's length, if the run counts.
    pub count: Option<Duration>,
    /// (size, connections) of the large-message cells, if that workload runs.
    pub large: Vec<(usize, usize)>,
}

/// The largest message the generator is asked to send.
const MAX_SIZE: usize = 1 << 20;

impl Grid {
    pub fn from_args(args: &BenchArgs) -> crate::Result<Grid> {
        let quick = args.quick;
        let secs = args.duration.unwrap_or(if quick { 1.0 } else { 5.0 });
        if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
            return Err("--duration must be between 0 and 3600 seconds".into());
        }
        let reps = args.reps.unwrap_or(if quick { 1 } else { 3 });
        if !(1..=100).contains(&reps) {
            return Err("--reps must be between 1 and 100".into());
        }
        let conns = args.conns.clone().unwrap_or_else(|| {
            if quick {
                vec![1, 100]
            } else {
                vec![1, 10, 100, 1000, 10_000]
            }
        });
        let sizes = args.sizes.clone().unwrap_or_else(|| vec![64]);
        if conns.is_empty() || conns.contains(&0) {
            return Err("--conns needs connection counts of at least 1".into());
        }
        if sizes.is_empty() || sizes.iter().any(|s| !(1..=MAX_SIZE).contains(s)) {
            return Err(format!("--sizes must be between 1 and {MAX_SIZE} bytes").into());
        }
        // Checked, not `Duration::from_secs_f64`, which panics on `1e20`.
        let duration = protocol::cli::seconds("--duration", secs)?;
        let timeout = protocol::cli::seconds("--timeout", args.timeout)?;
        let workloads = if !args.only.is_empty() {
            args.only.clone()
        } else if quick {
            // CI runs --quick: the extra workloads would double its time.
            vec![Workload::Echo]
        } else {
            vec![Workload::Echo, Workload::Churn, Workload::Large]
        };
        let count = (args.count || !(quick || args.no_count)).then_some(COUNT_PASS);
        Ok(Grid {
            // Explicit --sizes replace the large workload's sizes: they run at
            // --other-size-conns, as echo cells.
            large: if workloads.contains(&Workload::Large) && args.sizes.is_none() {
                LARGE_CELLS.to_vec()
            } else {
                Vec::new()
            },
            workloads,
            count,
            conns,
            sizes,
            other_size_conns: args.other_size_conns.clone().unwrap_or_else(|| vec![100]),
            duration,
            reps,
            // Long enough for thread pools and schedulers to settle, short beside the window.
            // Then [`Load::wait_warmed`](super::loadgen::Load::wait_warmed) also waits for a
            // round trip on every connection.
            warmup: (duration / 10).clamp(Duration::from_millis(50), Duration::from_millis(300)),
            client_threads: usize::from(args.client_threads),
            timeout,
        })
    }

    /// How `args` depart from the default run, one phrase each (empty when they do not).
    /// A page written by such a run says so at its top.
    pub fn reductions(&self, args: &BenchArgs) -> Vec<String> {
        let mut reduced = Vec::new();
        if args.quick {
            reduced.push("--quick".to_string());
        }
        let default = Grid {
            conns: vec![1, 10, 100, 1000, 10_000],
            sizes: vec![64],
            duration: Duration::from_secs(5),
            reps: 3,
            ..self.clone()
        };
        if self.conns != default.conns {
            reduced.push(format!("connections {:?}", self.conns));
        }
        // Further sizes only add cells; a different headline size changes every table.
        if self.sizes.first() != default.sizes.first() {
            reduced.push(format!("sizes {:?}", self.sizes));
        }
        if self.duration != default.duration || self.reps != default.reps {
            reduced.push(format!(
                "{:.2} s per cell in {} window(s)",
                self.duration.as_secs_f64(),
                self.reps
            ));
        }
        if self.client_threads != 1 {
            reduced.push(format!("{} load generator threads", self.client_threads));
        }
        if !args.variants.is_empty() {
            reduced.push(format!("only variants matching {:?}", args.variants));
        }
        if !args.quick && self.workloads.len() < 3 {
            reduced.push(format!("only workloads {:?}", self.workloads));
        }
        if !args.quick && self.count.is_none() {
            reduced.push("no system call count".into());
        }
        reduced
    }

    /// One measured window.
    pub fn window(&self) -> Duration {
        self.duration / self.reps as u32
    }

    /// The headline size: charts and targets use it.
    pub fn headline_size(&self) -> usize {
        self.sizes[0]
    }

    /// Every cell, size by size and connection count by connection count, every entrant
    /// side by side (so all servers at one count run close in time, under the same noise).
    /// Cells an entrant cannot serve, or this machine cannot open, say why and are not run.
    pub fn plan(&self, entrants: &[Entrant], fd_limit: u64) -> Vec<Planned> {
        let mut cells = Vec::new();
        let echo = self.workloads.contains(&Workload::Echo);
        for (i, &size) in self.sizes.iter().enumerate().filter(|_| echo) {
            let counts = self
                .conns
                .iter()
                .copied()
                .filter(|c| i == 0 || self.other_size_conns.contains(c));
            for conns in counts {
                for (entrant, e) in entrants.iter().enumerate() {
                    let skip = e
                        .serves(conns)
                        .err()
                        .or_else(|| super::loadgen::fd_shortfall(conns, fd_limit));
                    cells.push(Planned {
                        entrant,
                        size,
                        conns,
                        skip,
                        large: false,
                    });
                }
            }
        }
        for &(size, conns) in &self.large {
            for (entrant, e) in entrants.iter().enumerate() {
                let skip = e
                    .serves(conns)
                    .err()
                    .or_else(|| super::loadgen::fd_shortfall(conns, fd_limit));
                cells.push(Planned {
                    entrant,
                    size,
                    conns,
                    skip,
                    large: true,
                });
            }
        }
        cells
    }

    /// The grid a large-message cell runs with: shorter, as its cells are about bandwidth
    /// and CPU per byte, which settle fast, and not counted.
    pub fn for_large(&self) -> Grid {
        Grid {
            duration: self.duration.min(LARGE_TIME),
            reps: self.reps.min(2),
            count: None,
            ..self.clone()
        }
    }

    /// Measured time of one churn cell.
    pub fn churn_time(&self) -> Duration {
        self.duration.min(CHURN_TIME)
    }

    /// Roughly how long `cells` take: measured time, warm-up, and set-up that grows with the
    /// connection count (a fork per connection is the slowest, ~0.2 ms each here).
    pub fn estimate(&self, cells: &[Planned]) -> Duration {
        cells
            .iter()
            .filter(|c| c.skip.is_none())
            .map(|c| {
                let grid = if c.large {
                    self.for_large()
                } else {
                    self.clone()
                };
                // perf's start-up and the pass itself.
                let count = grid
                    .count
                    .map_or(Duration::ZERO, |d| d + Duration::from_millis(200));
                Duration::from_millis(400)
                    + Duration::from_micros(200 * c.conns as u64)
                    + grid.warmup
                    + grid.duration
                    + count
            })
            .sum()
    }

    /// Roughly how long the churn workload takes for `servers` servers.
    pub fn churn_estimate(&self, servers: usize) -> Duration {
        if !self.workloads.contains(&Workload::Churn) {
            return Duration::ZERO;
        }
        (self.churn_time() + Duration::from_millis(600)) * servers as u32
    }
}

/// One cell of the grid.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Index into the entrants.
    pub entrant: usize,
    pub size: usize,
    pub conns: usize,
    /// Why it is not run, if it is not.
    pub skip: Option<String>,
    /// A cell of the large-message workload.
    pub large: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `bench ARGS...` as the lab's command line would.
    fn args(list: &[&str]) -> BenchArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let argv = std::iter::once("bench").chain(list.iter().copied());
        <Cli as clap::Parser>::parse_from(argv).bench
    }

    #[test]
    fn defaults_and_quick() {
        let grid = Grid::from_args(&args(&[])).unwrap();
        assert_eq!(grid.conns, [1, 10, 100, 1000, 10_000]);
        assert_eq!((grid.reps, grid.duration.as_secs()), (3, 5));
        assert_eq!(grid.sizes, [64]);
        assert_eq!(grid.workloads.len(), 3);
        assert_eq!(grid.large, [(16_384, 100), (1 << 20, 10)]);
        assert_eq!(grid.count, Some(COUNT_PASS));
        let churn = args(&["--only", "churn"]);
        let only = Grid::from_args(&churn).unwrap();
        assert_eq!(only.workloads, [Workload::Churn]);
        assert!(only.plan(&[], 100_000).is_empty() && only.large.is_empty());
        assert_eq!(only.reductions(&churn), ["only workloads [Churn]"]);
        let quick = Grid::from_args(&args(&["--quick"])).unwrap();
        assert_eq!((quick.conns.as_slice(), quick.reps), (&[1, 100][..], 1));
        let flags = Grid::from_args(&args(&["--quick", "--conns", "3,5"])).unwrap();
        assert_eq!(flags.conns, [3, 5], "an explicit flag wins over --quick");
        assert!(grid.reductions(&args(&[])).is_empty());
        assert_eq!(
            quick.reductions(&args(&["--quick"])).len(),
            3,
            "quick, conns, time"
        );
        let more = args(&["--sizes", "64,16384"]);
        let wider = Grid::from_args(&more).unwrap();
        assert!(
            wider.reductions(&more).is_empty(),
            "more sizes only add cells"
        );
        let other = args(&["--sizes", "16384"]);
        assert_eq!(
            Grid::from_args(&other).unwrap().reductions(&other),
            ["sizes [16384]"]
        );
        assert!(Grid::from_args(&args(&["--conns", "0"])).is_err());
        assert!(Grid::from_args(&args(&["--duration=-1"])).is_err());
    }

    #[test]
    fn an_external_server_must_be_on_loopback() {
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let parse = |list: &[&str]| {
            let argv = std::iter::once("bench").chain(list.iter().copied());
            <Cli as clap::Parser>::try_parse_from(argv)
        };
        let refused = parse(&["--external", "x=10.0.0.1:80"])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not a loopback address"), "{refused}");
        for wrong in [
            "x=[::1]:80",
            "x=localhost:80",
            "x127.0.0.1:80",
            "=127.0.0.1:80",
        ] {
            assert!(parse(&["--external", wrong]).is_err(), "{wrong} was taken");
        }
        let ok = parse(&[
            "--external",
            "mine=127.0.0.1:9000",
            "--external-pid",
            "mine=1",
        ])
        .unwrap()
        .bench;
        assert_eq!(ok.external[0].0, "mine");
        assert_eq!(ok.external[0].1.to_string(), "127.0.0.1:9000");
        assert_eq!(ok.external_pid, [("mine".to_string(), 1)]);
    }

    #[test]
    fn an_external_name_is_new_and_a_pid_names_an_external() {
        use super::super::entrants::{all, externals, Kind};
        let (taken, _) = all();
        let addr = "127.0.0.1:9000".parse().unwrap();
        let mine = [("mine".to_string(), addr)];
        let me = std::process::id();
        let ok = externals(&mine, &[("mine".into(), me)], &taken).unwrap();
        assert_eq!((ok[0].name.as_str(), ok[0].kind), ("mine", Kind::External));
        let clash = [("multiplexing/mio".to_string(), addr)];
        assert!(externals(&clash, &[], &taken).is_err());
        assert!(externals(&mine, &[("other".into(), me)], &taken).is_err());
        // PIDs are below pid_max (at most 2^22): this one is never a process.
        assert!(externals(&mine, &[("mine".into(), u32::MAX)], &taken).is_err());
    }

    #[test]
    fn other_sizes_run_only_where_asked() {
        let grid = Grid::from_args(&args(&["--quick", "--sizes", "64,16384"])).unwrap();
        assert!(
            grid.large.is_empty() && grid.count.is_none(),
            "quick: echo alone"
        );
        let (entrants, _) = super::super::entrants::all();
        let one: Vec<Entrant> = entrants
            .into_iter()
            .filter(|e| e.name == "blocking-io/iterative")
            .collect();
        let cells = grid.plan(&one, 100_000);
        let shape: Vec<(usize, usize, bool)> = cells
            .iter()
            .map(|c| (c.size, c.conns, c.skip.is_some()))
            .collect();
        // The iterative server serves one client at a time: its 100-connection cells are
        // planned, with the reason, and not run.
        assert_eq!(
            shape,
            [(64, 1, false), (64, 100, true), (16_384, 100, true)]
        );
        // A descriptor limit too low for a cell: planned, with what to do, and not run.
        let cells = grid.plan(&one, 50);
        assert!(cells[0]
            .skip
            .as_deref()
            .is_some_and(|why| why.contains("ulimit")));
    }
}
