//! `cargo lab ...`: the one binary that links every model crate.
//!
//! ```text
//! cargo lab demo-all                      # every section's demo, in the notes' order
//! cargo lab demo-all --section 3          # one section
//! cargo lab variants                      # the table of server variants
//! cargo lab serve blocking-io --mode pool # any crate's server, with its own flags
//! cargo lab client blocking-io --conns 100 --duration 2
//! cargo lab docs                          # build the book in docs/ and check it
//! cargo lab phases                        # wait data vs copy data, timed, per model
//! cargo lab bench                         # every variant against tokio: docs/src/results.md
//! cargo lab bench --quick --out /tmp/b    # the smoke test CI runs
//! cargo lab check 127.0.0.1:8080          # every scenario against your own running server
//! cargo lab minimal-table                 # the notes' programs under every scenario
//! ```
//!
//! Five crates each have a binary called `server`; cargo writes them all to `target/*/server`,
//! so tests could not tell them apart. The lab runs them by crate name instead.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lab",
    about = "Run, demonstrate and test the io-models servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model crate's server: `lab serve CRATE [server flags...]`.
    Serve {
        /// The model crate, for example `blocking-io`.
        krate: String,
        /// Passed to that crate's server untouched (try `--help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run a model crate's client: `lab client CRATE [client flags...]`.
    Client {
        /// The model crate, for example `blocking-io`.
        krate: String,
        /// Passed to that crate's client untouched (try `--help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run the demos in the order of the notes.
    DemoAll {
        /// Only this section: 1 to 6 for the notes' sections, 8 for 自己实现gevent (the notes'
        /// 七 is a summary with no demo; its programs are `cargo run -p examples --example`).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=8))]
        section: Option<u8>,
        /// The language of the headings, the watch lines and the measured lines (the
        /// servers' own log lines stay English).
        #[arg(long, value_enum, default_value_t = lab::demo::Lang::En)]
        lang: lab::demo::Lang,
    },
    /// List every server variant the demos, tests and benchmark use.
    Variants,
    /// Build the book (`mdbook build docs`) and check its includes, anchors and links.
    Docs {
        /// The book's directory (with `book.toml`); the workspace's `docs/` by default.
        #[arg(long)]
        book: Option<std::path::PathBuf>,
    },
    /// Time each model's wait data and copy data with kernel receive timestamps (Linux):
    /// print the table, write the book's page and figures.
    Phases {
        /// How long the client thinks before sending each message (at most 5 s: every wait
        /// in the lab gives up after 10).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=5_000))]
        think_ms: u64,
        /// Messages per model.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        samples: u64,
        /// Where the page goes (`phases.md`, figures in `figures/`) [default: the
        /// workspace's docs/src].
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Measure every variant against tokio; write results.md, results.json and charts.
    Bench(lab::bench::BenchArgs),
    /// Run every shared scenario against a server already running (yours, in any
    /// language); exits non-zero if any fails, with a hint and the chapter to read.
    Check {
        /// Where it listens, for example `127.0.0.1:8080`.
        addr: std::net::SocketAddr,
        /// Its process id: enables the scenarios' memory checks (Linux `/proc`).
        #[arg(long)]
        pid: Option<u32>,
        /// The most connections it serves at once by design (1 for an iterative server):
        /// scenarios that need more are skipped, and say so.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        cap: Option<u64>,
    },
    /// Run the notes' minimal programs and their crates' servers under every scenario;
    /// write the book's page docs/src/minimal-table.md.
    MinimalTable {
        /// Where the page goes [default: the workspace's docs/src/minimal-table.md].
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { krate, args } => lab::models::run(&krate, lab::models::Role::Server, args),
        Command::Client { krate, args } => {
            lab::models::run(&krate, lab::models::Role::Client, args)
        }
        Command::DemoAll { section, lang } => {
            lab::demo::set_lang(lang);
            protocol::exit_code("demo-all", lab::demo::run_all(section))
        }
        Command::Bench(args) => protocol::exit_code("bench", lab::bench::run(&args)),
        Command::MinimalTable { out } => protocol::exit_code("minimal-table", minimal_table(out)),
        Command::Variants => {
            for v in lab::variants::VARIANTS {
                let cap = v
                    .cap
                    .map(|c| format!("  (at most {} at once: {})", c.conns, c.why))
                    .unwrap_or_default();
                println!(
                    "{:<28} lab serve {} {}{cap}",
                    v.name,
                    v.krate,
                    v.args.join(" ")
                );
            }
            ExitCode::SUCCESS
        }
        Command::Check { addr, pid, cap } => {
            let outcomes = lab::check::run(&lab::check::Options {
                addr,
                pid,
                cap: cap.map(|c| c as usize),
            });
            if lab::check::failures(&outcomes) == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Docs { book } => {
            let book = book.unwrap_or_else(lab::docs::default_book_dir);
            protocol::exit_code("docs", lab::docs::run(&book))
        }
        Command::Phases {
            think_ms,
            samples,
            out,
        } => protocol::exit_code("phases", phases(think_ms, samples, out)),
    }
}

/// `lab minimal-table`: the page, from a real run of this very binary's servers.
/// `lab minimal-table`: one measurement, the page in both languages: into the two books by
/// default, or `--out FILE` and `FILE` with `.zh.md` for its end.
fn minimal_table(out: Option<std::path::PathBuf>) -> lab::Result<()> {
    let book = lab::docs::default_book_dir();
    let (out, out_zh) = match out {
        Some(file) => (file.clone(), file.with_extension("zh.md")),
        None => (
            book.join("src/minimal-table.md"),
            book.join("zh/src/minimal-table.md"),
        ),
    };
    let all = lab::minimal::measure(&std::env::current_exe()?)?;
    for (path, zh) in [(&out, false), (&out_zh, true)] {
        std::fs::write(
            path,
            lab::minimal::page(&all, "cargo lab minimal-table", zh),
        )?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `lab phases`: Linux only, and saying so elsewhere rather than failing to build.
#[cfg(target_os = "linux")]
fn phases(think_ms: u64, samples: u64, out: Option<std::path::PathBuf>) -> lab::Result<()> {
    let mut command = format!("cargo lab phases --think-ms {think_ms} --samples {samples}");
    if let Some(out) = &out {
        command.push_str(&format!(" --out {}", out.display()));
    }
    // By default, the books of the workspace this binary was built from; with `--out DIR`,
    // the English page in DIR and the Chinese one in DIR/zh.
    let (out, out_zh) = match out {
        Some(dir) => (dir.clone(), dir.join("zh")),
        None => (
            lab::docs::default_book_dir().join("src"),
            lab::docs::default_book_dir().join("zh/src"),
        ),
    };
    lab::phases::run(&lab::phases::Options {
        think: std::time::Duration::from_millis(think_ms),
        samples: samples as usize,
        out,
        out_zh,
        command,
    })
}

#[cfg(not(target_os = "linux"))]
fn phases(_: u64, _: u64, _: Option<std::path::PathBuf>) -> lab::Result<()> {
    Err(format!(
        "needs Linux's receive timestamps (SO_TIMESTAMPNS), and this is {}: the rest of \
         the lab works as usual",
        std::env::consts::OS
    )
    .into())
}
