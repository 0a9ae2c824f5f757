//! `cargo lab ...`: the one binary that links every model crate.
//!
//! ```text
//! cargo lab demo-all                      # every section's demo, in the notes' order
//! cargo lab demo-all --section 3          # one section
//! cargo lab variants                      # the table of server variants
//! cargo lab serve blocking-io --mode pool # any crate's server, with its own flags
//! cargo lab client blocking-io --conns 100 --duration 2
//! cargo lab docs                          # build the book in docs/ and check it
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
        /// Only this section (1 to 7).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=7))]
        section: Option<u8>,
    },
    /// List every server variant the demos, tests and benchmark use.
    Variants,
    /// Build the book (`mdbook build docs`) and check its includes, anchors and links.
    Docs {
        /// The book's directory (with `book.toml`); the workspace's `docs/` by default.
        #[arg(long)]
        book: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { krate, args } => lab::models::run(&krate, lab::models::Role::Server, args),
        Command::Client { krate, args } => {
            lab::models::run(&krate, lab::models::Role::Client, args)
        }
        Command::DemoAll { section } => {
            protocol::exit_code("demo-all", lab::demo::run_all(section))
        }
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
        Command::Docs { book } => {
            let book = book.unwrap_or_else(lab::docs::default_book_dir);
            protocol::exit_code("docs", lab::docs::run(&book))
        }
    }
}
