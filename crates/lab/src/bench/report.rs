//! `results.md`: the machine, the command, the targets and one table per cell size, with
//! ratios to the tokio baselines of the same run as the headline columns; written twice
//! from the same `Results`, in English (`docs/src/results.md`) and in Chinese
//! (`docs/zh/src/results.md`), sharing one set of figures.
//!
//! On loopback most of a round trip is the kernel's TCP path, so round trips per second
//! differ less between models than the models do: a Python `select` server can come close to
//! tokio on it. The tables therefore lead with ratios and with what the model itself costs
//! (CPU time per round trip, the latency tail, memory, threads), not with throughput alone.
//!
//! Every block of words takes `zh: bool` and holds both languages next to each other
//! (`if zh { .. } else { .. }`), so an edit to one is made beside the other; numbers and
//! variant names are shared. The book's parity check (`cargo lab docs`) fails if the two
//! pages' figures drift apart, and a unit test below compares their skeletons.

use super::entrants::{Kind, TOKIO_CURRENT, TOKIO_MULTI};
use super::results::{Cell, Count, Measured, Outcome, Results};
use std::fmt::Write as _;

/// Charts embedded in the page, as drawn by [`super::charts`], with their English captions
/// (also the charts' titles).
pub const FIGURES: &[(&str, &str)] = &[
    (
        "bench-rps.svg",
        "Round trips per second against connections",
    ),
    (
        "bench-cpu.svg",
        "Server CPU time per round trip against connections",
    ),
    ("bench-p99.svg", "p99 latency against connections"),
    (
        "bench-memory.svg",
        "Resident memory per connection against connections",
    ),
    ("bench-syscalls.svg", "System calls per round trip"),
    (
        "bench-cpu-split.svg",
        "Server CPU per round trip, user and kernel",
    ),
];

/// The Chinese captions of [`FIGURES`], in the same order (the array's length is that of
/// `FIGURES`, so a chart added to one and not the other does not compile). The figures
/// themselves are shared: `docs/zh/src/figures` links to the English book's.
pub(super) const FIGURES_ZH: [&str; FIGURES.len()] = [
    "连接数与每秒往返次数",
    "连接数与服务端每次往返的 CPU 时间",
    "连接数与 p99 延迟",
    "连接数与每个连接的常驻内存 RSS",
    "每次往返的系统调用次数",
    "服务端每次往返的 CPU 时间：用户态与内核态",
];

/// The churn chart, embedded in its section.
pub const CHURN_FIGURE: (&str, &str) = (
    "bench-churn.svg",
    "Server CPU per connection under churn, user and kernel",
);
/// [`CHURN_FIGURE`]'s caption in Chinese.
pub(super) const CHURN_FIGURE_ZH: &str = "连接抖动下服务端每个连接的 CPU 时间：用户态与内核态";

/// A ratio target of the issue: `variant` (a name prefix) at `conns` reaches `min` times the
/// `baseline`'s round trips per second, at the headline size.
struct RatioTarget {
    variant: &'static str,
    baseline: &'static str,
    min: f64,
}

const RATIO_TARGETS: &[RatioTarget] = &[
    RatioTarget {
        variant: "multiplexing/polling",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "multiplexing/mio",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "async-callback/uring",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "coroutine-spawn",
        baseline: TOKIO_MULTI,
        min: 0.8,
    },
];

/// Connection counts at which the ratio targets apply.
const RATIO_CONNS: &[usize] = &[100, 1000];

/// At this many connections the same four must hold every connection, with no mismatch,
/// in less than this much resident memory.
const HOLD_CONNS: usize = 10_000;
const HOLD_MAX_KIB: u64 = 64 * 1024;

/// The whole page, in English or (`zh`) in Chinese.
pub fn markdown(results: &Results, zh: bool) -> String {
    let mut md = String::new();
    let g = &results.grid;
    let m = &results.machine;
    // Each page links to its counterpart first, as the parity check wants.
    if zh {
        let _ = writeln!(md, "[English](../results.md)\n");
        let _ = writeln!(md, "# 测量结果：同一个负载生成器下的每种IO模型\n");
        let _ = writeln!(
            md,
            "<!-- 由 `cargo lab bench` 生成（crates/lab/src/bench/report.rs）。\
             要改就重新运行它，不要手工编辑。 -->\n"
        );
    } else {
        let _ = writeln!(md, "[中文](zh/results.md)\n");
        let _ = writeln!(md, "# Results: every I/O model under one load generator\n");
        let _ = writeln!(
            md,
            "<!-- Written by `cargo lab bench` (crates/lab/src/bench/report.rs). \
             Run it again rather than editing. -->\n"
        );
    }
    if !results.reduced.is_empty() {
        // The reductions themselves are the run's own words (from `Grid::reductions`).
        let reduced = results.reduced.join(", ");
        let _ = if zh {
            writeln!(
                md,
                "> **这不是默认的完整测量**（{reduced}）：只测了一部分，或缩短了时间。\
                 不带参数运行 `cargo lab bench` 会测量整个网格，并重写本页。\n"
            )
        } else {
            writeln!(
                md,
                "> **Not the default run** ({reduced}): a partial or shortened measurement. \
                 `cargo lab bench` with no flags measures the full grid and rewrites this page.\n"
            )
        };
    }
    let minutes = results.elapsed_s / 60.0;
    let load = |l: Option<f64>| {
        l.map_or(if zh { "未知" } else { "unknown" }.into(), |l| {
            format!("{l:.2}")
        })
    };
    let (start, end) = (load(results.load_average[0]), load(results.load_average[1]));
    if zh {
        let _ = writeln!(
            md,
            "测量于 {}，命令 `{}`，用时 {minutes:.1} 分钟。\n",
            results.date, results.command
        );
        let _ = writeln!(md, "| 机器 | |\n|---|---|");
        let _ = writeln!(md, "| CPU | {} |", m.cpu);
        let _ = writeln!(md, "| 核数 | {} |", m.cores);
        let _ = writeln!(md, "| 内核 | {} |", m.kernel);
        let _ = writeln!(md, "| 内存 | {} GiB |", m.memory_gib);
        let _ = writeln!(md, "| 1 分钟平均负载，开始 / 结束 | {start} / {end} |");
        let _ = writeln!(md, "| 文件描述符上限 | {} |\n", g.fd_limit);
    } else {
        let _ = writeln!(
            md,
            "Measured on {} with `{}` ({minutes:.1} minutes).\n",
            results.date, results.command
        );
        let _ = writeln!(md, "| machine | |\n|---|---|");
        let _ = writeln!(md, "| CPU | {} |", m.cpu);
        let _ = writeln!(md, "| cores | {} |", m.cores);
        let _ = writeln!(md, "| kernel | {} |", m.kernel);
        let _ = writeln!(md, "| memory | {} GiB |", m.memory_gib);
        let _ = writeln!(
            md,
            "| load average (1 min), start / end | {start} / {end} |"
        );
        let _ = writeln!(md, "| descriptor limit | {} |\n", g.fd_limit);
    }
    let ramp = super::loadgen::RAMP;
    let warmup = g.warmup_s;
    let _ = if zh {
        writeln!(
            md,
            "**测量方法。** 每个单元格都启动一个新的服务端，建立全部连接（同一时刻最多 {ramp} \
             个连接在等第一次回复），并在每个连接上完成一次经过校验的往返；建立连接不计时。\
             预热至少 {warmup:.2} 秒、并且每个连接都又完成一次往返之后，{}；每个数字都取这些\
             窗口的中位数。所有服务端都由实验室里同一个基于 `mio` 的负载生成器（{}）以同样的\
             方式驱动：每个连接发送一条由小写字母和 >= 0x80 的字节组成的消息，按长度读回回复，\
             逐字节核对。服务端的 CPU 时间在每个窗口的起止时刻从 `/proc/PID/stat` 读取（fork \
             服务端的每个子进程则从 `/proc/PID/schedstat` 读取）；峰值内存取 \
             `/proc/PID/status` 中的 `VmHWM`（再加上每个子进程的 `Pss`），线程数取其中的 \
             `Threads`，读取时所有连接都开着。\n",
            counted(
                g.reps,
                &format!("测量一个 {:.2} 秒的窗口", g.window_s),
                &format!("连续测量 {} 个 {:.2} 秒的窗口", g.reps, g.window_s)
            ),
            counted(
                g.client_threads,
                "一个线程",
                &format!("{} 个线程", g.client_threads)
            ),
        )
    } else {
        writeln!(
            md,
            "**How it was measured.** Each cell starts a fresh server, opens the connections \
             (at most {ramp} waiting for their first reply at once) and makes one verified \
             round trip on each; set-up is not timed. After a warm-up of at least {warmup:.2} \
             s, and until every connection has made another round trip, it measures {} back \
             to back; every figure is the median over them. One `mio` load generator in the \
             lab ({}) drives every server alike: each connection writes a message of \
             lower-case letters and bytes >= 0x80, reads the reply by its length and checks \
             every byte. The server's CPU time is read from `/proc/PID/stat` at the edges of \
             each window (for a fork server, each child's from `/proc/PID/schedstat`); peak \
             memory is `VmHWM` from `/proc/PID/status` (plus each child's `Pss`), threads are \
             `Threads` there, with every connection open.\n",
            counted(
                g.reps,
                &format!("one window of {:.2} s", g.window_s),
                &format!("{} windows of {:.2} s", g.reps, g.window_s)
            ),
            counted(
                g.client_threads,
                "one thread",
                &format!("{} threads", g.client_threads)
            ),
        )
    };
    if let Some(pass) = g.count_s {
        let _ = if zh {
            writeln!(
                md,
                "**系统调用和上下文切换**的次数来自单独的一轮计数：计时窗口结束后，在同一批连接上，\
                 把 `perf stat -e raw_syscalls:sys_enter,context-switches` 附加到服务端上，\
                 交给它服务端的 pid 和当时的每一个子进程（fork 服务端的每个客户端各有一个子进程：\
                 `-p` 只覆盖列出的进程，以及它们在附加*之后*才 fork 出的子进程，perf 靠继承跟踪\
                 后者），并启用 {pass:.2} 秒。跟踪每一次系统调用会拖慢服务端，所以这一轮从不计时。\
                 CPU 时间在用户态和内核态之间的拆分，是用计时窗口内整棵进程树的 `utime` 与 \
                 `stime` 的 tick 数之比（包括已回收子进程的 `cutime`/`cstime`）去分 CPU 那一列；\
                 窗口内一个 tick 都没落下时记为 `–`。*n/c*：perf 没能计数（原因见“说明”一节）。\n"
            )
        } else {
            writeln!(
                md,
                "**System calls and context switches** come from a counting pass of its own: \
                 after the timed windows, on the same connections, `perf stat -e \
                 raw_syscalls:sys_enter,context-switches` is attached to the server, given the \
                 server's pid and every child it has (a fork server's clients each have one: \
                 `-p` covers only the processes named and the children they fork *after* the \
                 attach, which perf follows by inheritance), and enabled for {pass:.2} s. \
                 Tracing every system call slows the server, so this pass is never timed. The \
                 user / kernel split of CPU time is the ratio of the process tree's `utime` to \
                 `stime` ticks (with `cutime`/`cstime` of reaped children) over the timed \
                 windows, applied to the CPU column; `–` where no tick fell in them. *n/c*: \
                 perf could not count (the notes say why).\n"
            )
        };
    }
    let _ = if zh {
        writeln!(
            md,
            "**怎样读这些表。** 标着 **× tokio** 的各列，逐个单元格除以同一次运行中测得的 tokio \
             服务端：`{TOKIO_CURRENT}`（单线程，拿单线程的事件循环和它比才公平）和 \
             `{TOKIO_MULTI}`（每个核一个工作线程）。每秒往返次数大于 1× 表示比 tokio 多；\
             每次往返的 CPU 时间小于 1× 表示比 tokio 省。在回环接口上，一次往返的大部分时间\
             花在内核的 TCP 路径上，所以各模型每秒往返次数的差距比模型本身的差距小；真正显出\
             每种模型代价的，是每次往返的 CPU 时间、p99 延迟、线程数和内存。负载生成器和服务端\
             共用这台机器的 {}；如果平均负载明显高于基准测试自己造成的（这里约为 2），说明还有\
             别的工作在抢这些核，数字的噪声也更大。*保持 · 错误* 是保持住的连接数（有失败时\
             加粗）和错误回复的条数；n/a 的单元格超出了服务端设计上的上限，没有运行。\n",
            counted(m.cores, "一个核", &format!("{} 个核", m.cores))
        )
    } else {
        writeln!(
            md,
            "**How to read it.** The **× tokio** columns divide by the tokio servers measured \
             in this same run, cell by cell: `{TOKIO_CURRENT}` (one thread: the fair match for \
             single-threaded event loops) and `{TOKIO_MULTI}` (a worker per core). Above 1× is \
             more round trips per second than tokio; for CPU per round trip, below 1× is \
             cheaper. On loopback most of a round trip is the kernel's TCP path, so round trips \
             per second differ less than the models do; CPU per round trip, p99 latency, \
             threads and memory show what each model costs. The load generator shares the \
             machine's {} with the server; a load average well above the bench's own (about 2 \
             here) means other work shared them too, and the figures are noisier. *held · \
             wrong* is how many connections were held (failures in bold) and how many replies \
             were wrong; n/a cells are beyond a server's limit by design and were not run.\n",
            counted(m.cores, "one core", &format!("{} cores", m.cores))
        )
    };
    external(&mut md, results, zh);
    targets(&mut md, results, zh);
    for &size in &g.sizes {
        let _ = if zh {
            writeln!(md, "## {} 消息\n", size_label(size))
        } else {
            writeln!(md, "## {} messages\n", size_label(size))
        };
        for &conns in &g.conns {
            let cells: Vec<&Cell> = ordered(results, size, conns);
            if cells.is_empty() {
                continue;
            }
            let _ = writeln!(md, "### {}\n", connections(conns, zh));
            md.push_str(&table(results, &cells, zh));
            md.push('\n');
        }
    }
    large(&mut md, results, zh);
    churn(&mut md, results, zh);
    let first = size_label(g.sizes.first().copied().unwrap_or(64));
    let _ = if zh {
        writeln!(md, "## 图表（{first} 消息）\n")
    } else {
        writeln!(md, "## Charts ({first} messages)\n")
    };
    for (i, (file, title)) in FIGURES.iter().enumerate() {
        let title = if zh { FIGURES_ZH[i] } else { title };
        let _ = writeln!(md, "![{title}](figures/{file})\n");
    }
    notes(&mut md, results, zh);
    md
}

/// `1 connection`, `100 connections`, `100 个连接`.
fn connections(n: usize, zh: bool) -> String {
    if zh {
        format!("{n} 个连接")
    } else {
        format!("{n} {}", plural(n, "connection"))
    }
}

/// The tables alone, for the terminal.
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    for &size in &results.grid.sizes {
        for &conns in &results.grid.conns {
            let cells = ordered(results, size, conns);
            if cells.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n{} messages, {} connections",
                size_label(size),
                conns
            );
            out.push_str(&table(results, &cells, false));
        }
    }
    out
}

/// The cells at (`size`, `conns`): baselines first, then the models in the table's order,
/// then the Python servers, then the external ones.
fn ordered(results: &Results, size: usize, conns: usize) -> Vec<&Cell> {
    let mut cells: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.size == size && c.conns == conns)
        .collect();
    cells.sort_by_key(|c| match c.kind {
        Kind::Baseline => 0,
        Kind::Model => 1,
        Kind::Python => 2,
        Kind::External => 3,
    });
    cells
}

// ANCHOR: columns
const HEADER: &str = "| server | rt/s × tokio-ct | rt/s × tokio-mt | CPU/rt × tokio-ct \
    | CPU µs/rt | user / kernel µs | syscalls/rt | ctx sw/rt | rt/s | p50 / p99 µs \
    | peak RSS | threads | held · wrong |\n\
    |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
// ANCHOR_END: columns
/// [`HEADER`] in Chinese: the same columns in the same order.
const HEADER_ZH: &str = "| 服务端 | 往返/秒 × tokio-ct | 往返/秒 × tokio-mt | CPU/往返 × tokio-ct \
    | CPU µs/往返 | 用户态 / 内核态 µs | 系统调用/往返 | 上下文切换/往返 | 往返/秒 \
    | p50 / p99 µs | 峰值 RSS | 线程数 | 保持 · 错误 |\n\
    |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";

/// A cell that did not run (n/a) or failed: its reason fills the row. The reason is the
/// run's own text (from the grid or the cell), so it stays in English on both pages.
fn not_run(outcome: &Outcome, zh: bool) -> Option<String> {
    match outcome {
        Outcome::NotApplicable { reason } => Some(if zh {
            format!("n/a：{}", escape(reason))
        } else {
            format!("n/a: {}", escape(reason))
        }),
        Outcome::Failed { reason } => Some(if zh {
            format!("**失败**：{}", escape(reason))
        } else {
            format!("**failed**: {}", escape(reason))
        }),
        Outcome::Ran(_) => None,
    }
}

/// A server's name in a table: an external server says so.
fn server_name(variant: &str, kind: Kind, zh: bool) -> String {
    match (kind, zh) {
        (Kind::External, false) => format!("{variant} (external)"),
        (Kind::External, true) => format!("{variant}（外部）"),
        _ => variant.to_string(),
    }
}

/// A figure of the server's cost, or `n/a` when its process was not known.
fn cost(m: &Measured, figure: String) -> String {
    if m.no_cost.is_some() {
        "n/a".into()
    } else {
        figure
    }
}

/// The CPU column of a server whose cost was not read: `n/a` and the reason, once a row.
fn cost_why(m: &Measured, figure: String, zh: bool) -> String {
    match &m.no_cost {
        Some(why) if zh => format!("n/a：{}", escape(why)),
        Some(why) => format!("n/a: {}", escape(why)),
        None => figure,
    }
}

fn table(results: &Results, cells: &[&Cell], zh: bool) -> String {
    let mut t = String::from(if zh { HEADER_ZH } else { HEADER });
    for cell in cells {
        let name = server_name(&cell.variant, cell.kind, zh);
        let row = match &cell.outcome {
            Outcome::Ran(m) => {
                let ct = results.measured(TOKIO_CURRENT, cell.size, cell.conns);
                let mt = results.measured(TOKIO_MULTI, cell.size, cell.conns);
                let cpu_ratio = match (m.cpu_us_per_rt, ct.and_then(|b| b.cpu_us_per_rt)) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                    _ => "–".into(),
                };
                let cpu_ratio = cost(m, cpu_ratio);
                let wrong = if m.mismatches == 0 {
                    "0".to_string()
                } else {
                    format!("**{}**", m.mismatches)
                };
                format!(
                    "| {name} | {} | {} | {cpu_ratio} | {} | {} | {} | {} | {} | {} / {} | {} \
                     | {} | {} · {wrong} |",
                    rps_ratio(m, ct),
                    rps_ratio(m, mt),
                    cost_why(
                        m,
                        m.cpu_us_per_rt.map_or("–".into(), |c| format!("{c:.1}")),
                        zh
                    ),
                    cost(m, user_kernel(m)),
                    cost(m, per_rt(m, Count::syscalls_per_rt)),
                    cost(m, per_rt(m, Count::switches_per_rt)),
                    si(m.rps),
                    m.p50_us,
                    m.p99_us,
                    cost(m, mib(m.rss_peak_kib)),
                    cost(m, threads(m, zh)),
                    held(m, cell.conns, zh),
                )
            }
            other => format!(
                "| {name} | {} ||||||||||||",
                not_run(other, zh).unwrap_or_default()
            ),
        };
        t.push_str(&row);
        t.push('\n');
    }
    t
}

/// `0.6 / 4.9`: the CPU column split into user mode and kernel.
fn user_kernel(m: &Measured) -> String {
    match (m.user_us_per_rt, m.kernel_us_per_rt) {
        (Some(u), Some(k)) => format!("{u:.1} / {k:.1}"),
        _ => "–".into(),
    }
}

/// A figure of the counting pass: `–` when the run did not count, `n/c` when perf could
/// not (the notes say why).
fn per_rt(m: &Measured, f: fn(&Count) -> Option<f64>) -> String {
    match &m.count {
        None => "–".into(),
        Some(count) => f(count).map_or("n/c".into(), |v| format!("{v:.2}")),
    }
}

fn rps_ratio(m: &Measured, base: Option<&Measured>) -> String {
    match base {
        Some(b) if b.rps > 0.0 => format!("{:.2}×", m.rps / b.rps),
        _ => "–".into(),
    }
}

fn held(m: &Measured, conns: usize, zh: bool) -> String {
    if m.errors == 0 && m.established == conns as u64 {
        format!("{conns}")
    } else if zh {
        format!("**{}/{conns}**，{} 个失败", m.established, m.errors)
    } else {
        format!("**{}/{conns}**, {} failed", m.established, m.errors)
    }
}

fn threads(m: &Measured, zh: bool) -> String {
    match (m.threads, m.processes) {
        (None, _) => "–".into(),
        (Some(threads), None | Some(0 | 1)) => threads.to_string(),
        (Some(threads), Some(processes)) if zh => format!("{threads}（{processes} 个进程）"),
        (Some(threads), Some(processes)) => format!("{threads} ({processes} processes)"),
    }
}

/// What an external server's rows mean, when the run has one.
fn external(md: &mut String, results: &Results, zh: bool) {
    let mut names: Vec<&str> = results
        .cells
        .iter()
        .filter(|c| c.kind == Kind::External)
        .map(|c| c.variant.as_str())
        .chain(
            results
                .churn
                .iter()
                .filter(|c| c.kind == Kind::External)
                .map(|c| c.variant.as_str()),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return;
    }
    let names = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = if zh {
        writeln!(
            md,
            "**外部服务端**（{names}）。标着“外部”的行，是基准测试开始之前就已经在这台机器上运行\
             的服务端，用 `--external 名字=IP:端口` 给出，比如读者自己用任何语言写的那一个。\
             基准测试用同一个负载生成器、以同样的方式驱动它，也一样逐字节核对回复，但不启动、\
             也不重启它：所以它的峰值 RSS 是它整个生命期里的峰值（包括之前的每个单元格），\
             而不是这一个单元格的，每个连接的内存也只是粗略的估计。它的 CPU 时间、系统调用、\
             内存和线程数，只有用 `--external-pid 名字=PID` 给出它的进程时才读取（读这个进程\
             和它的子进程）；否则这些列写 n/a。一个单元格里它的连接一次往返都没有完成时，\
             这个单元格算失败，原因取自负载生成器。\n"
        )
    } else {
        writeln!(
            md,
            "**External servers** ({names}). A row marked *external* is a server that was \
             already running on this machine when the bench began, given with `--external \
             NAME=IP:PORT`: a reader's own, in any language. The same load generator drives \
             it in the same way and checks every byte of its replies, but the bench neither \
             starts nor restarts it, so its peak RSS is the peak over its whole life (every \
             earlier cell included), not this cell's, and its memory per connection is rough. \
             Its CPU time, system calls, memory and threads are read only when its process is \
             given with `--external-pid NAME=PID` (that process and its children); otherwise \
             those columns say n/a. A cell in which none of its connections made a round trip \
             failed, with the load generator's reason.\n"
        )
    };
}

/// The targets, checked against this run.
fn targets(md: &mut String, results: &Results, zh: bool) {
    let size = results.grid.sizes.first().copied().unwrap_or(64);
    let label = size_label(size);
    let _ = if zh {
        writeln!(
            md,
            "## 目标（{label} 消息）\n\n| 目标 | 实测 | 达到 |\n|---|---|---|"
        )
    } else {
        writeln!(
            md,
            "## Targets ({label} messages)\n\n| target | measured | met |\n|---|---|---|"
        )
    };
    let absent = if zh {
        "本次未运行"
    } else {
        "not in this run"
    };
    let names = |prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = results
            .cells
            .iter()
            // An external server's name is the reader's choice: it is not a model's target.
            .filter(|c| c.kind != Kind::External && c.variant.starts_with(prefix))
            .map(|c| c.variant.clone())
            .collect();
        // Cells come size by size and count by count: a name recurs, not only next to itself.
        names.sort();
        names.dedup();
        names
    };
    for target in RATIO_TARGETS {
        for &conns in RATIO_CONNS {
            let (v, min, base) = (target.variant, target.min, target.baseline);
            let label = if zh {
                format!("{conns} 个连接时 `{v}` ≥ {min:.1}× `{base}`")
            } else {
                format!("`{v}` ≥ {min:.1}× `{base}` at {conns} connections")
            };
            let found = names(target.variant);
            if found.is_empty() {
                let _ = writeln!(md, "| {label} | {absent} | – |");
            }
            for name in found {
                let a = results.measured(&name, size, conns);
                let b = results.measured(target.baseline, size, conns);
                let (text, met) = match (a, b) {
                    (Some(a), Some(b)) if b.rps > 0.0 => {
                        let r = a.rps / b.rps;
                        let met = r >= target.min;
                        let short = (target.min - r) / target.min * 100.0;
                        let (ours, theirs) = (si(a.rps), si(b.rps));
                        let text = match (zh, met) {
                            (true, true) => {
                                format!("`{name}`：{r:.2}×（{ours} 对 {theirs} 往返/秒）")
                            }
                            (true, false) => format!(
                                "`{name}`：{r:.2}×（{ours} 对 {theirs} 往返/秒，差 {short:.0}%）"
                            ),
                            (false, true) => format!("`{name}`: {r:.2}× ({ours} vs {theirs} rt/s)"),
                            (false, false) => format!(
                                "`{name}`: {r:.2}× ({ours} vs {theirs} rt/s, {short:.0}% short)"
                            ),
                        };
                        (text, met)
                    }
                    _ if zh => (format!("`{name}`：没有在 {conns} 个连接时测量"), false),
                    _ => (format!("`{name}`: not measured at {conns}"), false),
                };
                let _ = writeln!(md, "| {label} | {text} | {} |", yes_no(met, zh));
            }
        }
    }
    for target in RATIO_TARGETS {
        let (v, max) = (target.variant, HOLD_MAX_KIB / 1024);
        let label = if zh {
            format!("`{v}` 保持 {HOLD_CONNS} 个连接，0 个错误回复，RSS < {max} MiB")
        } else {
            format!("`{v}` holds {HOLD_CONNS} connections, 0 mismatches, RSS < {max} MiB")
        };
        let found = names(target.variant);
        if found.is_empty() {
            let _ = writeln!(md, "| {label} | {absent} | – |");
        }
        for name in found {
            let (text, met) = match results.measured(&name, size, HOLD_CONNS) {
                Some(m) => {
                    let (held, failed, wrong) = (m.established, m.errors, m.mismatches);
                    let rss = mib(m.rss_peak_kib);
                    (
                        if zh {
                            format!(
                                "`{name}`：保持 {held}/{HOLD_CONNS}，{failed} 个失败，\
                                 {wrong} 个错误回复，{rss}"
                            )
                        } else {
                            format!(
                                "`{name}`: {held}/{HOLD_CONNS} held, {failed} failed, \
                                 {wrong} mismatches, {rss}"
                            )
                        },
                        held == HOLD_CONNS as u64
                            && failed == 0
                            && wrong == 0
                            && m.rss_peak_kib.is_some_and(|kib| kib < HOLD_MAX_KIB),
                    )
                }
                None if zh => (format!("`{name}`：没有在 {HOLD_CONNS} 个连接时测量"), false),
                None => (format!("`{name}`: not measured at {HOLD_CONNS}"), false),
            };
            let _ = writeln!(md, "| {label} | {text} | {} |", yes_no(met, zh));
        }
    }
    md.push('\n');
}

/// Stevens' row and design name (UNP vol. 1, 3rd ed., ch. 30, figure 30.1) for one of our
/// servers, where one maps; the other rows (2 to 5, 7: preforked children, locking around
/// `accept`, descriptor passing, prethreaded with a mutex) have no server of ours. In
/// Chinese his design names follow in English, in parentheses, as readers meet them in his
/// book.
fn stevens(variant: &str, zh: bool) -> (&'static str, &'static str) {
    let (row, en, cn) = match variant {
        "blocking-io/iterative" => (
            "0",
            "iterative server (no process control)",
            "迭代服务器，不做进程控制（iterative server, no process control）",
        ),
        "blocking-io/fork" => (
            "1",
            "concurrent server, one fork per client",
            "并发服务器，每个客户端 fork 一个进程（concurrent server, one fork per client）",
        ),
        v if v.contains("prefork") => (
            "2",
            "preforked, each child calling accept",
            "预先派生子进程，各自调用 accept（preforked, each child calling accept）",
        ),
        "blocking-io/thread" => (
            "6",
            "concurrent server, one thread per client",
            "并发服务器，每个客户端一个线程（concurrent server, one thread per client）",
        ),
        "blocking-io/pool" | "async-callback/pool" => (
            "8",
            "prethreaded, main thread calling accept",
            "预先创建线程池，由主线程调用 accept（prethreaded, main thread calling accept）",
        ),
        _ => (
            "–",
            "not in Stevens' table (one thread or a runtime, no process control)",
            "不在 Stevens 的表里（单线程或运行时，不做进程控制）",
        ),
    };
    (row, if zh { cn } else { en })
}

/// Connection churn, laid out like Stevens' figure 30.1.
fn churn(md: &mut String, results: &Results, zh: bool) {
    if results.churn.is_empty() {
        return;
    }
    let clients = results
        .churn
        .iter()
        .find_map(|c| c.outcome.as_ref().ok().map(|m| m.clients))
        .unwrap_or(super::churn::CLIENTS);
    let seconds = results
        .churn
        .iter()
        .find_map(|c| c.outcome.as_ref().ok().map(|m| m.elapsed_s))
        .unwrap_or(0.0);
    let (size, sources) = (super::churn::SIZE, super::churn::SOURCES);
    let _ = if zh {
        writeln!(
            md,
            "## 连接抖动：每个请求一个短连接\n\n\
             {clients} 个客户端线程各自循环：建立连接，发一条 {size} B 的消息，读回并核对回复，\
             然后关闭；每个服务端先短暂预热，再测 {seconds:.1} 秒（Stevens 在《UNIX 网络编程》\
             卷一第 30 章就是这样逐一测量各种服务器设计的）。*进程控制*一列是服务端每个连接的 \
             CPU 时间减去迭代服务器的，和他的图 30.1 一样：它是为每个客户端创建进程或线程、\
             或者把客户端转交出去，在接受并服务这个客户端之外多花的时间。由客户端先关闭连接，\
             并且每个套接字在连接之前绑定到 127.0.0.0/8 中 {sources} 个源地址之一：这样 \
             TIME_WAIT 状态留在客户端一侧（服务端正希望如此），而轮换源地址让可用的临时端口\
             变成单个地址约 28,000 个的 {sources} 倍，否则几秒钟的连接抖动就会把端口用光。\
             （把 `SO_LINGER` 设为 0 固然不会留下 TIME_WAIT，但每个连接都会以 RST 告终。）\n"
        )
    } else {
        writeln!(
            md,
            "## Connection churn: a connection per request\n\n\
             {clients} client threads each connect, send one {size} B message, read and check \
             the reply and close, in a loop, for {seconds:.1} s per server after a short \
             warm-up (Stevens, *Unix Network Programming* vol. 1, ch. 30, measured each server \
             design the same way). *Process control* is the server's CPU time per connection \
             less the iterative server's, as in his figure 30.1: what creating a process or \
             thread per client, or handing the client over, adds to accepting and serving it. \
             The client closes first and binds each socket to one of {sources} source \
             addresses in 127.0.0.0/8 before connecting: the TIME_WAIT state stays on the \
             client's side (as a server wants), and cycling the source addresses gives it \
             {sources}× the ~28,000 ephemeral ports of one address, which a few seconds of \
             churn would otherwise use up. (`SO_LINGER` 0 would leave no TIME_WAIT but ends \
             every connection with a reset.)\n"
        )
    };
    let _ = if zh {
        writeln!(
            md,
            "| Stevens 的行 | 他的设计 | 我们的服务端 | 连接/秒 | × tokio-ct | CPU µs/连接 | \
             用户态 / 内核态 µs | 进程控制 µs | 失败 · 错误 |\n\
             |--:|---|---|--:|--:|--:|--:|--:|--:|"
        )
    } else {
        writeln!(
            md,
            "| Stevens | his design | our server | conn/s | × tokio-ct | CPU µs/conn | \
             user / kernel µs | process control µs | failed · wrong |\n\
             |--:|---|---|--:|--:|--:|--:|--:|--:|"
        )
    };
    let find = |name: &str| {
        results
            .churn
            .iter()
            .find(|c| c.variant == name)
            .and_then(|c| c.outcome.as_ref().ok())
    };
    let base = find(TOKIO_CURRENT);
    let iterative = find("blocking-io/iterative").and_then(|m| m.cpu_us_per_conn);
    let mut rows: Vec<&super::results::ChurnCell> = results.churn.iter().collect();
    // Stevens' rows in his order, then ours, then the baselines and the Python servers.
    rows.sort_by_key(|c| {
        let row = stevens(&c.variant, false)
            .0
            .parse::<u8>()
            .unwrap_or(u8::MAX);
        (
            row,
            c.kind == Kind::External,
            c.kind == Kind::Python,
            c.kind != Kind::Baseline,
        )
    });
    for c in rows {
        let (row, design) = match (c.kind, zh) {
            (Kind::External, false) => ("–", "an external server, of its own design"),
            (Kind::External, true) => ("–", "外部服务端，设计由它自己决定"),
            _ => stevens(&c.variant, zh),
        };
        let name = server_name(&c.variant, c.kind, zh);
        let figures = match &c.outcome {
            Err(reason) if zh => format!("**失败**：{} ||||||", escape(reason)),
            Err(reason) => format!("**failed**: {} ||||||", escape(reason)),
            Ok(m) => {
                let ratio = base.filter(|b| b.per_second > 0.0).map_or("–".into(), |b| {
                    format!("{:.2}×", m.per_second / b.per_second)
                });
                let control = match (m.cpu_us_per_conn, iterative) {
                    (Some(cpu), Some(it)) => format!("{:.1}", cpu - it),
                    _ => "–".into(),
                };
                // No pid: n/a, with the reason in the CPU column.
                let unread = |figure: String| match &m.no_cost {
                    Some(_) => "n/a".to_string(),
                    None => figure,
                };
                let cpu = match &m.no_cost {
                    Some(why) if zh => format!("n/a：{}", escape(why)),
                    Some(why) => format!("n/a: {}", escape(why)),
                    None => m.cpu_us_per_conn.map_or("–".into(), |c| format!("{c:.1}")),
                };
                let wrong = if m.mismatches == 0 {
                    "0".to_string()
                } else {
                    format!("**{}**", m.mismatches)
                };
                format!(
                    "{} | {ratio} | {cpu} | {} / {} | {} | {} · {wrong}",
                    si(m.per_second),
                    unread(m.user_us_per_conn.map_or("–".into(), |c| format!("{c:.1}"))),
                    unread(
                        m.kernel_us_per_conn
                            .map_or("–".into(), |c| format!("{c:.1}"))
                    ),
                    unread(control),
                    m.errors,
                )
            }
        };
        let _ = writeln!(md, "| {row} | {design} | {name} | {figures} |");
    }
    md.push('\n');
    let caption = if zh { CHURN_FIGURE_ZH } else { CHURN_FIGURE.1 };
    let _ = writeln!(md, "![{caption}](figures/{})\n", CHURN_FIGURE.0);
    let cost = |name: &str| find(name).and_then(|m| m.cpu_us_per_conn);
    let this_run = match (
        cost("blocking-io/fork"),
        cost("blocking-io/thread"),
        cost("blocking-io/pool"),
    ) {
        (Some(f), Some(t), Some(p)) if zh => format!(
            "（本次运行每个连接的 CPU 时间：fork 为 {f:.0} µs，线程为 {t:.0} µs，线程池为 \
             {p:.0} µs）"
        ),
        (Some(f), Some(t), Some(p)) => format!(
            " (this run: {f:.0} µs of CPU per connection with a fork, {t:.0} with a thread, \
             {p:.0} with a pool)"
        ),
        _ => String::new(),
    };
    let _ = if zh {
        writeln!(
            md,
            "**1998 年以来变了什么。** Stevens 当年测得：每个客户端 fork 一个进程，进程控制的\
             开销大约是进程池的十倍；每个客户端一个线程则远低于 fork。这两个先后顺序在这里依然\
             成立{this_run}，但原因已经和他那时不同。如今 fork 不再复制父进程的内存，只复制\
             页表（写时复制），而一个小小的 Rust 服务端没有多少页表可复制；每个客户端 fork \
             一次，仍要付出的是页表、子进程的退出和回收，以及子进程头几次写内存引起的缺页。\
             每个客户端一个线程，要付出一次栈映射、一次 `clone`、线程的退出，以及它和接受连接\
             的线程之间的唤醒，合起来仍只是 fork 的一小部分；线程池只付出交接的开销。（fork \
             出来的子进程运行不到一个时钟 tick，所以从 tick 数得出的用户态 / 内核态拆分很粗，\
             但总数是准确的。）事件循环和运行时反而*低于*迭代服务器：迭代服务器睡在 `accept` \
             里，每来一个客户端都要被唤醒一次，而处在连接抖动下的事件循环，总能发现下一个连接\
             已经在队列里等着。accept 的惊群也不复存在：多个进程或线程阻塞在同一个套接字的 \
             `accept` 上时，Linux 只唤醒其中一个（epoll 也为等在它上面的事件循环提供了 \
             `EPOLLEXCLUSIVE`），所以他第 3、4、7 行里围绕 `accept` 加锁的做法已经用不着了。\
             剩下的是内核自己为每个连接做的事：三次握手、分配套接字、关闭和 TIME_WAIT，它们占了\
             每一行内核态时间的大头：一个完全不做进程控制的服务端，每个连接仍要花几十微秒的\
             内核态时间。\n"
        )
    } else {
        writeln!(
            md,
            "**What changed since 1998.** Stevens measured a fork per client at roughly ten \
             times the process-control cost of a pool, and a thread per client well below a \
             fork. Both orders hold here{this_run}, but for other reasons than his. A fork no \
             longer copies the parent's memory, only its page tables (copy-on-write), and a \
             small Rust server has few to copy; what a fork per client still pays is the page \
             tables, the child's exit and reaping, and the page faults of its first writes. A \
             thread per client pays a stack mapping, a `clone`, its exit and the wake-ups \
             between it and the acceptor, still a fraction of a fork; a pool pays only the \
             hand-over. (A fork child runs for less than a clock tick, so its user/kernel \
             split, read from tick counts, is rough; its total is exact.) The event loops and \
             runtimes come out *below* the iterative server: it sleeps in `accept` and is woken \
             for every client, while a loop under churn finds the next connection already \
             queued. And accept's thundering herd is gone: Linux wakes one of the processes or \
             threads blocked in `accept` on the same socket (and epoll has `EPOLLEXCLUSIVE` for \
             loops that wait on it), so the locking around `accept` of his rows 3, 4 and 7 is \
             no longer needed. What is left is the kernel's own work per connection, three-way \
             handshake, socket allocation, close and TIME_WAIT, the bulk of every row's kernel \
             time: a server that does no process control at all still spends tens of \
             microseconds of kernel time per connection.\n"
        )
    };
}

/// The large-message cells: bandwidth and CPU per MiB.
fn large(md: &mut String, results: &Results, zh: bool) {
    let cells: Vec<&Cell> = results
        .grid
        .large
        .iter()
        .flat_map(|&(size, conns)| ordered(results, size, conns))
        .collect();
    if cells.is_empty() {
        return;
    }
    let seconds = super::grid::LARGE_TIME
        .as_secs_f64()
        .min(results.grid.duration_s);
    let _ = if zh {
        writeln!(
            md,
            "## 大消息\n\n\
             同样是一来一回的回显，只是消息比套接字缓冲区还大：一条消息还没写完，它的回复就已经\
             在往回传了，所以先写完再去读的服务端会死锁。这里测的是拷贝：MiB/s 是每秒回显的\
             消息字节数（只算一个方向），每 MiB 的 CPU 时间是服务端的。这些单元格比 64 B 的\
             短（{seconds:.1} 秒），也不用 perf 计数。\n"
        )
    } else {
        writeln!(
            md,
            "## Large messages\n\n\
             The same ping-pong with messages larger than a socket buffer: each is written \
             while its reply is already coming back, so a server that finished writing before \
             reading would deadlock. What is measured is copying: MiB/s is message bytes echoed \
             per second (one direction), CPU per MiB is the server's. Cells are shorter \
             ({seconds:.1} s) than the 64 B ones and not counted with perf.\n"
        )
    };
    for &(size, conns) in &results.grid.large {
        let cells = ordered(results, size, conns);
        if cells.is_empty() {
            continue;
        }
        let label = size_label(size);
        let conns_label = connections(conns, zh);
        let _ = if zh {
            writeln!(
                md,
                "### {label} 消息，{conns_label}\n\n\
                 | 服务端 | MiB/s | × tokio-ct | CPU ms/MiB | 用户态 / 内核态 ms/MiB | p99 µs | \
                 峰值 RSS | 保持 · 错误 |\n|---|--:|--:|--:|--:|--:|--:|--:|"
            )
        } else {
            writeln!(
                md,
                "### {label} messages, {conns_label}\n\n\
                 | server | MiB/s | × tokio-ct | CPU ms/MiB | user / kernel ms/MiB | p99 µs | \
                 peak RSS | held · wrong |\n|---|--:|--:|--:|--:|--:|--:|--:|"
            )
        };
        let mib_per = size as f64 / (1024.0 * 1024.0);
        let base = results.measured(TOKIO_CURRENT, size, conns);
        for cell in cells {
            let name = server_name(&cell.variant, cell.kind, zh);
            let row = match &cell.outcome {
                Outcome::Ran(m) => {
                    let per_mib = |us: Option<f64>| {
                        cost(
                            m,
                            us.map_or("–".into(), |u| format!("{:.2}", u / 1000.0 / mib_per)),
                        )
                    };
                    format!(
                        "| {name} | {:.0} | {} | {} | {} / {} | {} | {} | {} · {} |",
                        m.rps * mib_per,
                        rps_ratio(m, base),
                        per_mib(m.cpu_us_per_rt),
                        per_mib(m.user_us_per_rt),
                        per_mib(m.kernel_us_per_rt),
                        m.p99_us,
                        cost(m, mib(m.rss_peak_kib)),
                        held(m, cell.conns, zh),
                        m.mismatches
                    )
                }
                other => format!(
                    "| {name} | {} |||||||",
                    not_run(other, zh).unwrap_or_default()
                ),
            };
            let _ = writeln!(md, "{row}");
        }
        md.push('\n');
    }
}

/// What did not run, and why connections failed where they did. The reasons quoted are
/// the run's own (an error's text, a skipped entrant's), in English on both pages.
fn notes(md: &mut String, results: &Results, zh: bool) {
    let mut lines: Vec<String> = results.skipped.clone();
    for c in &results.cells {
        if let Outcome::Ran(m) = &c.outcome {
            let (v, n, size) = (&c.variant, c.conns, size_label(c.size));
            if let Some(Count::NotCounted { reason }) = &m.count {
                let reason = escape(reason);
                lines.push(if zh {
                    format!("`{v}`，{n} 个连接（{size}）：未计数（n/c）：{reason}")
                } else {
                    format!("`{v}` at {n} connections ({size}): not counted (n/c): {reason}")
                });
            }
            if let Some(first) = m.error_samples.first() {
                let (errors, first) = (m.errors, escape(first));
                lines.push(if zh {
                    format!("`{v}`，{n} 个连接（{size}）：{errors} 个失败，例如：{first}")
                } else {
                    format!(
                        "`{v}` at {n} connections ({size}): {errors} failed, for example: \
                         {first}"
                    )
                });
            }
        }
    }
    for c in &results.churn {
        if let Ok(m) = &c.outcome {
            if let Some(first) = m.error_samples.first() {
                let (v, errors, first) = (&c.variant, m.errors, escape(first));
                lines.push(if zh {
                    format!("`{v}` 在连接抖动下：{errors} 个连接失败，例如：{first}")
                } else {
                    format!("`{v}` under churn: {errors} connections failed, for example: {first}")
                });
            }
        }
    }
    lines.extend(results.problems());
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(md, "{}\n", if zh { "## 说明" } else { "## Notes" });
    for line in lines {
        let _ = writeln!(md, "- {line}");
    }
    md.push('\n');
}

fn yes_no(met: bool, zh: bool) -> &'static str {
    match (met, zh) {
        (true, false) => "yes",
        (false, false) => "**no**",
        (true, true) => "是",
        (false, true) => "**否**",
    }
}

/// `64 B`, `16 KiB`, `1 MiB`.
pub fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// `one` when `n` is 1, else `many`.
fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// `141.2k`, `2.31M`, `873`.
pub fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `12.3 MiB`, or `–` when memory was not read.
fn mib(kib: Option<u64>) -> String {
    kib.map_or("–".into(), |kib| {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    })
}

/// Keeps a reason on one table row.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(16_384), "16 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(si(141_234.0), "141.2k");
        assert_eq!(si(873.4), "873");
        assert_eq!(escape("a|b\nc"), "a\\|b c");
    }

    /// The committed full run: every section of the page has something to show.
    fn committed() -> Results {
        let json = include_str!("../../../../docs/src/results.json");
        let mut results: Results = serde_json::from_str(json).expect("docs/src/results.json");
        // The branches a full run may not take: a reduced run, a failed cell.
        results.reduced.push("a test".into());
        if let Some(cell) = results.cells.last_mut() {
            cell.outcome = Outcome::Failed {
                reason: "a test".into(),
            };
        }
        results
    }

    #[test]
    fn both_languages_have_the_same_figures_in_the_same_order() {
        let results = committed();
        let (en, zh) = (markdown(&results, false), markdown(&results, true));
        let (a, b) = (crate::parity::skeleton(&en), crate::parity::skeleton(&zh));
        assert_eq!(a, b);
        // Every chart, and the churn chart, is on both pages.
        assert_eq!(a.figures.len(), FIGURES.len() + 1, "{:?}", a.figures);
        // Each page opens with the link to the other (the parity check looks at its top).
        assert!(en.starts_with("[中文](zh/results.md)\n"));
        assert!(zh.starts_with("[English](../results.md)\n"));
        // The same tables: as many rows on each page.
        let rows = |md: &str| md.lines().filter(|l| l.starts_with("| ")).count();
        assert_eq!(rows(&en), rows(&zh));
    }

    #[test]
    fn each_target_is_listed_once_per_variant() {
        let en = markdown(&committed(), false);
        let start = en.find("## Targets").expect("a targets section");
        let section = &en[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
        let mut unique = rows.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(rows.len(), unique.len(), "a target row repeats:\n{section}");
    }

    #[test]
    fn the_chinese_page_says_its_words_in_chinese() {
        let zh = markdown(&committed(), true);
        for english in [
            "How it was measured",
            "How to read it",
            "## Targets",
            "messages",
            "Connection churn",
            "What changed since 1998",
            "## Large messages",
            "## Charts",
            "## Notes",
            "| server |",
            "held · wrong",
            "Round trips per second",
            "**failed**",
            "Not the default run",
        ] {
            assert!(!zh.contains(english), "the Chinese page says {english:?}");
        }
        // Stevens' design names stay in English beside the Chinese ones.
        assert!(zh.contains("（iterative server, no process control）"));
    }
}
