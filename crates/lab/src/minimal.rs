//! The notes' own server programs, as minimal Rust, runnable by the lab as processes.
//!
//! Each `crates/CRATE/examples/notes_*.rs` server is compiled here a second time, by path,
//! so `lab serve notes-select-server --addr 127.0.0.1:0` runs exactly the code a student
//! reads, and the shared scenarios can run against it (`tests/minimal.rs`). Their bugs are
//! the notes' bugs, kept on purpose: which scenarios each fails is recorded there.

use std::ffi::OsString;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

// Each example's `main` is its own entry point when run with `cargo run --example`; here
// only its `serve` is called.
#[allow(dead_code)]
#[path = "../../blocking-io/examples/notes_blocking_server.rs"]
mod notes_blocking_server;
#[allow(dead_code)]
#[path = "../../coroutine-spawn/examples/notes_gevent_server.rs"]
mod notes_gevent_server;
#[allow(dead_code)]
#[path = "../../nonblocking-io/examples/notes_nonblocking_a.rs"]
mod notes_nonblocking_a;
#[allow(dead_code)]
#[path = "../../nonblocking-io/examples/notes_nonblocking_b.rs"]
mod notes_nonblocking_b;
#[allow(dead_code)]
#[path = "../../multiplexing/examples/notes_select_server.rs"]
mod notes_select_server;

/// One of the notes' servers in minimal Rust.
pub struct Program {
    /// What `lab serve` calls it; its variant is `minimal/NAME`.
    pub name: &'static str,
    /// The section of the notes it mirrors.
    pub section: &'static str,
    /// The same, on the Chinese page.
    pub section_zh: &'static str,
    /// The example file, from the workspace root (the book includes it from there).
    pub file: &'static str,
    /// The production variant of its crate that it is compared with.
    pub production: &'static str,
    pub serve: fn(TcpListener) -> std::io::Result<()>,
}

/// Every minimal server, in the order of the notes.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "notes-gevent-server",
        section: "一 b, the gevent server",
        section_zh: "一 b，gevent 服务端",
        file: "crates/coroutine-spawn/examples/notes_gevent_server.rs",
        production: "coroutine-spawn/may",
        serve: notes_gevent_server::serve,
    },
    Program {
        name: "notes-blocking-server",
        section: "二, the blocking server",
        section_zh: "二，阻塞服务端",
        file: "crates/blocking-io/examples/notes_blocking_server.rs",
        production: "blocking-io/iterative",
        serve: notes_blocking_server::serve,
    },
    Program {
        name: "notes-nonblocking-a",
        section: "四 a, the first non-blocking server",
        section_zh: "四 a，第一版非阻塞服务端",
        file: "crates/nonblocking-io/examples/notes_nonblocking_a.rs",
        production: "nonblocking-io/busy",
        serve: notes_nonblocking_a::serve,
    },
    Program {
        name: "notes-nonblocking-b",
        section: "四 b, the fixed non-blocking server",
        section_zh: "四 b，修正后的非阻塞服务端",
        file: "crates/nonblocking-io/examples/notes_nonblocking_b.rs",
        production: "nonblocking-io/busy",
        serve: notes_nonblocking_b::serve,
    },
    Program {
        name: "notes-select-server",
        section: "五, the select server",
        section_zh: "五，select 服务端",
        file: "crates/multiplexing/examples/notes_select_server.rs",
        production: "multiplexing/select",
        serve: notes_select_server::serve,
    },
];

/// The program called `name`.
pub fn find(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == name)
}

/// `lab serve NAME --addr IP:PORT`: binds, prints `listening on IP:PORT`, and serves until
/// the program stops. The only flag is the address, as in the examples themselves.
pub fn server_main(program: &Program, args: Vec<OsString>) -> ExitCode {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match (arg.to_str(), args.next().and_then(|a| a.into_string().ok())) {
            (Some("--addr"), Some(value)) => addr = value,
            _ => {
                eprintln!("{}: the only flag is --addr IP:PORT", program.name);
                return ExitCode::FAILURE;
            }
        }
    }
    let result = TcpListener::bind(&addr).and_then(|listener| {
        protocol::announce(listener.local_addr()?)?;
        (program.serve)(listener)
    });
    // The notes' programs stop on any error they do not catch, as Python does; say which.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: stopped: {e}", program.name);
            ExitCode::FAILURE
        }
    }
}

/// Scenarios a minimal program is not run against, and why (besides those its cap excuses).
/// Each costs its full timeout or more against a program that fails it anyway, and the
/// table says so instead of a verdict.
pub const SKIPS: &[(&str, &str, &str)] = &[
    ("minimal/notes-gevent-server", "slow reader", SLOW),
    ("minimal/notes-gevent-server", "flood fairness", FLOOD),
    ("minimal/notes-blocking-server", "slow reader", SLOW),
    ("minimal/notes-nonblocking-a", "slow reader", SLOW),
    ("minimal/notes-nonblocking-a", "flood fairness", FLOOD),
    (
        "minimal/notes-nonblocking-a",
        "half-close",
        "waits out its 10 s read timeout: the reply is lost",
    ),
    ("minimal/notes-nonblocking-b", "slow reader", SLOW),
    ("minimal/notes-nonblocking-b", "flood fairness", FLOOD),
    ("minimal/notes-select-server", "slow reader", SLOW),
    ("minimal/notes-select-server", "flood fairness", FLOOD),
];

const SLOW: &str = "100 MiB through a debug build takes up to 30 s; a short send's tail is \
                    lost here, which `lost replies` shows in 3 s";
const FLOOD: &str = "5 s of flooding each; without a budget it fails (measured once for \
                     the gevent server: a newcomer waited over 3 s)";

/// What one scenario did against one variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The scenario's error, or how the server stopped.
    Fail(String),
    /// Not run: the variant's cap, or an entry in [`SKIPS`].
    Skipped(String),
}

/// One cell of the table.
#[derive(Debug, Clone)]
pub struct Cell {
    pub variant: &'static str,
    pub scenario: &'static str,
    pub verdict: Verdict,
    pub elapsed: std::time::Duration,
}

/// Runs every scenario whose name contains `only` against `variant`, each against a fresh
/// process started by the `lab` binary at `lab`: a minimal program that a scenario stops, or
/// fills with dead sockets, must not turn the next scenario's verdict.
pub fn check(
    lab: &std::path::Path,
    variant: &'static crate::variants::Variant,
    only: &str,
) -> crate::Result<Vec<Cell>> {
    use crate::process::ServerProcess;
    let mut cells = Vec::new();
    for scenario in crate::scenarios::SCENARIOS {
        if !scenario.name.contains(only) {
            continue;
        }
        let skip = SKIPS
            .iter()
            .find(|(v, s, _)| *v == variant.name && *s == scenario.name)
            .map(|(_, _, why)| why.to_string());
        if let Some(why) = skip.or_else(|| variant.serves(scenario.concurrent).err()) {
            cells.push(Cell {
                variant: variant.name,
                scenario: scenario.name,
                verdict: Verdict::Skipped(why),
                elapsed: Duration::ZERO,
            });
            continue;
        }
        let mut server = ServerProcess::start_variant(lab, variant, &[])?;
        let target = crate::scenarios::Target {
            addr: server.addr(),
            pid: Some(server.pid()),
        };
        let began = std::time::Instant::now();
        let result = (scenario.run)(&target);
        let elapsed = began.elapsed();
        if result.is_err() {
            // A failure may be the server stopping: give its exit a moment to be seen.
            server.wait_for_log(|l| l.contains(": stopped: "), Duration::from_millis(300));
        }
        let verdict = if server.is_running() {
            match result {
                Ok(()) => Verdict::Pass,
                Err(e) => Verdict::Fail(e.to_string()),
            }
        } else {
            // Its last words say which uncaught error stopped it.
            let log = server.log_text();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let seen = result.err().map(|e| format!("{e}; ")).unwrap_or_default();
            Verdict::Fail(format!("{seen}the server stopped ({last})"))
        };
        cells.push(Cell {
            variant: variant.name,
            scenario: scenario.name,
            verdict,
            elapsed,
        });
    }
    Ok(cells)
}

/// One program's row of the table: its cells, and its production variant's.
pub struct Compared {
    pub program: &'static Program,
    pub minimal: Vec<Cell>,
    pub production: Vec<Cell>,
}

/// Every minimal variant beside its crate's production variant, every scenario.
pub fn measure(lab: &std::path::Path) -> crate::Result<Vec<Compared>> {
    let mut all = Vec::new();
    for program in PROGRAMS {
        let minimal = crate::variants::find(&format!("minimal/{}", program.name))
            .ok_or_else(|| format!("no variant minimal/{}", program.name))?;
        let production = crate::variants::find(program.production)
            .ok_or_else(|| format!("no variant {}", program.production))?;
        all.push(Compared {
            program,
            minimal: check(lab, minimal, "")?,
            production: check(lab, production, "")?,
        });
    }
    Ok(all)
}

/// The book's page `minimal-table.md` from one measurement, in English or (`zh`) Chinese;
/// `command` is how it was made, printed on the page. The reasons in the cells are the
/// scenarios' and servers' own words, English in both.
pub fn page(all: &[Compared], command: &str, zh: bool) -> String {
    let mut page = if zh {
        format!(
            "[English](../minimal-table.md)\n\n\
             # 笔记的程序在共享检查下的表现\n\n\
             由 `{command}` 生成：请不要手改。笔记里的每个服务端程序都写成了最小的 Rust \
             （`crates/*/examples/notes_*.rs`），与所在 crate 的生产版本并排运行每一个共享场景\
             （`crates/lab/src/scenarios.rs`）。这里的失败，就是笔记的程序在做笔记的程序会做的事；\
             `crates/lab/tests/minimal.rs` 检查每个程序仍然恰好通过、恰好失败这些场景。\n"
        )
    } else {
        format!(
            "[中文](zh/minimal-table.md)\n\n\
             # The notes' programs under the shared checks\n\n\
             Generated by `{command}`: do not edit by hand. Each of the notes' server programs, \
             written as minimal Rust (`crates/*/examples/notes_*.rs`), runs every shared \
             scenario (`crates/lab/src/scenarios.rs`) beside the production variant of its \
             crate. A failure here is the notes' program doing what the notes' program does; \
             `crates/lab/tests/minimal.rs` checks that each still passes and fails exactly \
             these.\n"
        )
    };
    for compared in all {
        let program = compared.program;
        page.push_str(&if zh {
            format!(
                "\n## {}\n\n`{}`（`lab serve {}`）与 `{}` 并排。\n\n\
                 | 场景 | 最小版本 | 生产版本 |\n|---|---|---|\n",
                program.section_zh, program.file, program.name, program.production
            )
        } else {
            format!(
                "\n## {}\n\n`{}` (`lab serve {}`) beside `{}`.\n\n\
                 | scenario | minimal | production |\n|---|---|---|\n",
                program.section, program.file, program.name, program.production
            )
        });
        for (a, b) in compared.minimal.iter().zip(&compared.production) {
            page.push_str(&format!(
                "| {} | {} | {} |\n",
                a.scenario,
                cell_text(&a.verdict, zh),
                cell_text(&b.verdict, zh)
            ));
        }
    }
    page
}

/// A verdict as a table cell: short, one line, no `|`.
fn cell_text(verdict: &Verdict, zh: bool) -> String {
    let (mark, why) = match verdict {
        Verdict::Pass => return if zh { "通过" } else { "pass" }.into(),
        Verdict::Fail(why) => (if zh { "**失败**" } else { "**fails**" }, why),
        Verdict::Skipped(why) => (if zh { "未运行" } else { "not run" }, why),
    };
    let mut why: String = why.replace('|', "/").replace('\n', " ");
    if why.chars().count() > 140 {
        why = why.chars().take(137).collect::<String>() + "...";
    }
    format!("{mark}: {why}")
}
