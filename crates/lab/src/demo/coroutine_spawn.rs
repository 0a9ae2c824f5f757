//! Demo for section 一: gevent's spawn/join and its greenlet-per-connection server, on `may`.
//!
//! Two measurements: how long three sleeping coroutines take when they sleep cooperatively
//! and when they block their worker; and what a coroutine per connection costs next to a
//! thread per connection under the same 1000 clients: threads, peak memory and context
//! switches per round trip, all read from `/proc`.

use super::{measured, pick, start_server, watch};
use crate::procfs;
use coroutine_spawn::runtime::Runtime;
use coroutine_spawn::spawn_join::{spawn_join, Sleep};
use protocol::load::Summary;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One unit of the notes' sleeps (they use seconds); short, so the demo is too.
const UNIT: Duration = Duration::from_millis(200);

/// Clients in the server half, as in the notes' `for i in range(1000)`.
const CLIENTS: &str = "1000";

/// How long each load runs, in seconds.
const LOAD_SECS: &str = "2";

/// 一: spawn/join, then 1000 clients on coroutines and on threads.
pub fn section_1(lab: &Path) -> crate::Result<()> {
    watch(
        "f1, f2, f3 sleep 3, 2 and 5 units on ONE worker thread, as gevent runs on one thread\n\
         may::coroutine::sleep parks only the coroutine: f2 wakes first, all done in ~5 units\n\
         std::thread::sleep blocks the worker: one function at a time, ~10 units\n\
         a client that floods the server (on one worker, as gevent has one thread) can keep\n\
         its coroutine from ever blocking: with --budget 0 it then keeps the worker and the\n\
         others wait (whether it wins depends on which side is faster this run; the debug\n\
         build's test sees it every time); the default budget yields every 64 reads\n\
         then 1000 clients: a coroutine per connection keeps a handful of threads, and its\n\
         waits are switched in user space, where the kernel counts no context switch",
        "f1、f2、f3 分别睡 3、2、5 个单位，都在同一个工作线程上，就像 gevent 只用一个线程\n\
         may::coroutine::sleep 只挂起协程：f2 先醒，约 5 个单位全部完成\n\
         std::thread::sleep 阻塞工作线程：函数一个接一个地跑，约 10 个单位\n\
         一个猛灌数据的客户端（只有一个工作线程，就像 gevent 只有一个线程）可以让它的协程\n\
         永远不阻塞：--budget 0 时它就一直占着工作线程，其他连接只能干等（这次谁快谁赢；\n\
         debug 构建的测试每次都能看到）；默认预算每读 64 次就让出一次\n\
         然后是 1000 个客户端：每个连接一个协程，只需要几个线程，等待都在用户态切换，\n\
         内核看不到，也就不算上下文切换",
    );
    let (cooperative, blocking) = spawn_and_join()?;
    let (unfair, fair) = flood(lab)?;

    println!("  (1000 client coroutines, {LOAD_SECS} s, against each server; server logs hidden)");
    let coroutines = under_load(lab, "coroutine-spawn", &[])?;
    let threads = under_load(lab, "blocking-io", &["--mode", "thread"])?;

    println!(
        "  {:<28} {:>8} {:>10} {:>26}",
        "server", "threads", "peak RSS", "context switches per trip"
    );
    for load in [&coroutines, &threads] {
        println!(
            "  {:<28} {:>8} {:>6.1} MiB {:>26.2}",
            load.name,
            load.peak_threads,
            load.peak_rss_kib as f64 / 1024.0,
            load.switches_per_trip()
        );
    }
    measured(
        format!(
            "one flooding client beside others: {unfair} with --budget 0, {fair} with the \
             default budget"
        ),
        format!("一个猛灌数据的客户端旁边：--budget 0 时{unfair}；默认预算时{fair}"),
    );
    let (co_threads, co_mib, co_cs) = (
        coroutines.peak_threads,
        coroutines.peak_rss_kib as f64 / 1024.0,
        coroutines.switches_per_trip(),
    );
    let (th_threads, th_mib, th_cs) = (
        threads.peak_threads,
        threads.peak_rss_kib as f64 / 1024.0,
        threads.switches_per_trip(),
    );
    measured(
        format!(
            "spawn/join took {cooperative:.1} units cooperative vs {blocking:.1} units blocking; \
             under {CLIENTS} connections coroutine-spawn ran {co_threads} threads ({co_mib:.1} \
             MiB, {co_cs:.2} context switches per round trip), blocking-io --mode thread \
             {th_threads} threads ({th_mib:.1} MiB, {th_cs:.2})"
        ),
        format!(
            "spawn/join 协作式睡眠用了 {cooperative:.1} 个单位，阻塞式睡眠用了 {blocking:.1} 个单位；\
             {CLIENTS} 个连接下 coroutine-spawn 用了 {co_threads} 个线程（{co_mib:.1} MiB，每次往返 \
             {co_cs:.2} 次上下文切换），blocking-io --mode thread 用了 {th_threads} 个线程\
             （{th_mib:.1} MiB，{th_cs:.2} 次）"
        ),
    );
    Ok(())
}

/// The cooperative scheduler's classic failure, then its fix: one client floods the server
/// (writes and reads at once, so its socket never runs dry) while another makes round trips
/// and newcomers connect. Returns what each server did, in words with the measured times.
fn flood(lab: &Path) -> crate::Result<(String, String)> {
    const FLOOD: Duration = Duration::from_secs(2);
    println!(
        "  a coroutine switches only when it would block: one client that keeps its socket \
         full never makes it block"
    );
    let mut outcomes = Vec::new();
    for budget in ["0", "64"] {
        let server = start_server(
            lab,
            "coroutine-spawn",
            &["--workers", "1", "--budget", budget],
        )?;
        server.quiet();
        let outcome = match crate::scenarios::flood_fairness_for(server.addr(), FLOOD) {
            Ok(seen) => {
                let (rtt, newcomer) = (
                    seen.worst_round_trip.as_secs_f64() * 1e3,
                    seen.worst_newcomer.as_secs_f64() * 1e3,
                );
                pick(
                    format!(
                        "others served, worst round trip {rtt:.1} ms, worst newcomer \
                         {newcomer:.1} ms"
                    ),
                    format!("其他连接照常得到服务，最慢一次往返 {rtt:.1} ms，最慢的新连接 {newcomer:.1} ms"),
                )
            }
            Err(err) => pick(
                format!("others starved ({err})"),
                format!("其他连接被饿死（{err}）"),
            ),
        };
        println!("  --budget {budget:<3}: {outcome}");
        outcomes.push(outcome);
    }
    let fair = outcomes.pop().unwrap_or_default();
    let unfair = outcomes.pop().unwrap_or_default();
    Ok((unfair, fair))
}

/// Runs the spawn/join example in this process; returns both totals in units.
fn spawn_and_join() -> crate::Result<(f64, f64)> {
    println!(
        "  $ cargo run --example spawn_join -- --unit-ms {}   (run here, in-process)",
        UNIT.as_millis()
    );
    coroutine_spawn::runtime::init(Runtime::one_worker())?;
    let mut units = Vec::new();
    for sleep in [Sleep::Cooperative, Sleep::Blocking] {
        let run = spawn_join(UNIT, sleep)?;
        for line in run.report(UNIT) {
            println!("  example  | {line}");
        }
        units.push(run.elapsed.as_secs_f64() / UNIT.as_secs_f64());
    }
    Ok((units[0], units[1]))
}

/// What one server did under the load.
struct Load {
    name: String,
    peak_threads: u64,
    peak_rss_kib: u64,
    /// Context switches of the server's threads during the load (see [`context_switches`]).
    switches: u64,
    summary: Summary,
}

impl Load {
    fn switches_per_trip(&self) -> f64 {
        self.switches as f64 / self.summary.rounds.max(1) as f64
    }
}

/// Context switches so far, summed over the threads of `pid` that are alive now
/// (`voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of each `/proc/PID/task/*`).
///
/// A thread that blocks in `recv` is switched out by the kernel each time; a coroutine that
/// parks is switched in user space, which the kernel never counts. That difference, not
/// memory, is what a thread per connection costs on every round trip.
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Starts `krate`'s server, runs the coroutine load client against it and samples the
/// server's `/proc/PID/status` while the load runs.
fn under_load(lab: &Path, krate: &str, args: &[&str]) -> crate::Result<Load> {
    let server = start_server(lab, krate, args)?;
    server.quiet();
    let pid = server.pid();
    let switches_before = context_switches(pid);
    let mut client = Command::new(lab)
        .args([
            "client",
            "coroutine-spawn",
            "--addr",
            &server.addr().to_string(),
        ])
        .args(["--conns", CLIENTS, "--duration", LOAD_SECS, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Sampling, not synchronisation: the thread count is only visible while clients are
    // connected, so look a few times a second until the client is done (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut peak_threads, mut switches) = (0, 0);
    while client.try_wait()?.is_none() && Instant::now() < deadline {
        peak_threads = peak_threads.max(procfs::status(pid)?.threads);
        // Read while the connection threads still exist: they take their counts with them.
        switches = switches.max(context_switches(pid).saturating_sub(switches_before));
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = client.wait_with_output()?;
    let status = procfs::status(pid)?;
    let summary = super::client_summary(&output)?;
    if !output.status.success() {
        return Err(format!("the load client failed against {krate}").into());
    }
    Ok(Load {
        name: format!("{krate} {}", args.join(" ")),
        peak_threads,
        peak_rss_kib: status.hwm_kib,
        switches,
        summary,
    })
}
