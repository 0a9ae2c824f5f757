//! Demo for section 六: callbacks on a pool (the notes' program), the pool server's bound,
//! and io_uring serving a thousand connections from one thread.

use super::{late_client_wait, measured, pick, show_client, start_server, watch};
use async_callback::example::{self, What};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The notes' task sleeps two seconds.
const TASK_SLEEP: Duration = Duration::from_secs(2);

/// One task's sleep in the synchronous-against-asynchronous part (the notes' 2 s, shortened:
/// the point is the count of units).
const SYNC_VS_ASYNC_UNIT: Duration = Duration::from_millis(250);

/// How long the first clients hold the pool's workers.
const HOLD: Duration = Duration::from_secs(1);

/// Connections and rounds for the io_uring part.
const CONNS: usize = 1000;
const ROUNDS: u64 = 50;

pub fn section_6(lab: &Path) -> crate::Result<()> {
    watch(
        "the notes' program: four tasks that sleep 2 s on a pool of four finish in about 2 s,\n\
         and each parse callback runs on the worker that ran its task, not on main\n\
         同步调用 vs 异步调用: the same four tasks, waiting for each result() in place (about\n\
         4 units), then with callbacks (about 1 unit)\n\
         pool backend, 2 workers: two clients hold both, the third waits (synchronous I/O on\n\
         worker threads); each connection's done-callback logs where it ran\n\
         uring backend: the kernel waits and copies; one thread serves 1000 connections",
        "笔记的程序：四个各睡 2 秒的任务交给 4 个线程的线程池，大约 2 秒全部完成，\n\
         每个 parse 回调都在跑完对应任务的那个工作线程上执行，而不是在主线程上\n\
         同步调用 vs 异步调用：同样四个任务，先原地逐个等 result()（约 4 个单位），\n\
         再改用回调（约 1 个单位）\n\
         pool 后端，2 个工作线程：两个客户端占住两个线程，第三个只能等（工作线程上做的\n\
         仍是同步IO）；每个连接的完成回调都会在日志里记下它在哪个线程上运行\n\
         uring 后端：等数据和拷贝数据都由内核完成；一个线程服务 1000 个连接",
    );

    println!("  $ cargo run --example pool_callbacks");
    let report = example::run(&[1, 2, 3, 4], 4, TASK_SLEEP, |event| {
        println!("  example  | {event}");
    });
    let callback_threads: BTreeSet<&str> = report
        .events
        .iter()
        .filter(|e| matches!(e.what, What::Parsed { .. }))
        .map(|e| e.thread.as_str())
        .collect();

    let unit = SYNC_VS_ASYNC_UNIT;
    let ms = unit.as_millis();
    println!(
        "{}",
        pick(
            format!("  two ways to submit four tasks of {ms} ms each to a pool of 4:"),
            format!("  向 4 个线程的线程池提交四个各需 {ms} ms 的任务，两种做法："),
        )
    );
    let synchronous = example::submit_then_wait(&[1, 2, 3, 4], 4, unit);
    let (results, took_ms, units) = (
        &synchronous.results,
        synchronous.elapsed.as_secs_f64() * 1e3,
        synchronous.units(unit),
    );
    println!(
        "  同步调用  | {}",
        pick(
            format!(
                "submit(task, n).result(), one after another: {results:?} in {took_ms:.0} ms = \
                 {units:.2} units"
            ),
            format!(
                "submit(task, n).result()，一个接一个：{results:?}，用时 {took_ms:.0} ms = \
                 {units:.2} 个单位"
            ),
        )
    );
    let asynchronous = example::submit_with_callbacks(&[1, 2, 3, 4], 4, unit);
    let (results, took_ms, units) = (
        &asynchronous.results,
        asynchronous.elapsed.as_secs_f64() * 1e3,
        asynchronous.units(unit),
    );
    println!(
        "  异步调用  | {}",
        pick(
            format!(
                "submit(task, n) + add_done_callback, all four first: {results:?} in \
                 {took_ms:.0} ms = {units:.2} units"
            ),
            format!(
                "submit(task, n) + add_done_callback，四个先全部提交：{results:?}，用时 \
                 {took_ms:.0} ms = {units:.2} 个单位"
            ),
        )
    );

    let pool = start_server(
        lab,
        "async-callback",
        &["--backend", "pool", "--workers", "2"],
    )?;
    let pool_wait = late_client_wait(pool.addr(), 2, HOLD)?;
    // Let the holders' done-callbacks reach the log before the server goes.
    pool.wait_for_log(|l| l.contains("callback ran on"), Duration::from_secs(5));
    drop(pool);

    let uring = start_server(lab, "async-callback", &["--backend", "uring"])?;
    // A thousand connect and close lines would bury the point: keep the server quiet.
    uring.quiet();
    println!(
        "  $ cargo lab client async-callback --conns {CONNS} --rounds {ROUNDS}   {}",
        pick("(server log hidden)", "（不显示服务端日志）")
    );
    let mut client = Command::new(lab)
        .args([
            "client",
            "async-callback",
            "--addr",
            &uring.addr().to_string(),
        ])
        .args([
            "--conns",
            &CONNS.to_string(),
            "--rounds",
            &ROUNDS.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Watch the server from /proc while the client runs (bounded by the client's own
    // time-outs): the most descriptors it held, its threads, its memory.
    let (mut max_fds, mut max_threads, mut max_rss_kib) = (0, 0, 0);
    while client.try_wait()?.is_none() {
        let status = crate::procfs::status(uring.pid())?;
        max_threads = max_threads.max(status.threads);
        max_rss_kib = max_rss_kib.max(status.rss_kib);
        max_fds = max_fds.max(open_fds(uring.pid()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = client.wait_with_output()?;
    show_client(&output)?;
    let (pid, rss_mib) = (uring.pid(), max_rss_kib as f64 / 1024.0);
    println!(
        "  /proc    | {}",
        pick(
            format!(
                "server pid {pid}: at most {max_fds} descriptors open, {max_threads} thread(s), \
                 {rss_mib:.1} MiB resident"
            ),
            format!(
                "服务端 pid {pid}：最多同时打开 {max_fds} 个描述符，{max_threads} 个线程，常驻内存 \
                 {rss_mib:.1} MiB"
            ),
        )
    );
    drop(uring);

    let took = report.elapsed.as_secs_f64();
    let parsed_on = callback_threads
        .iter()
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let workers = callback_threads.len();
    let (sync_units, async_units) = (synchronous.units(unit), asynchronous.units(unit));
    let pool_ms = pool_wait.as_secs_f64() * 1e3;
    measured(
        format!(
            "four 2 s tasks took {took:.2} s, parsed on {parsed_on} ({workers} worker threads); \
             submitted synchronously {sync_units:.2} units, asynchronously {async_units:.2} \
             units; pool of 2: the late client waited {pool_ms:.0} ms; uring: {CONNS} \
             connections with up to {max_fds} descriptors open, served by {max_threads} thread"
        ),
        format!(
            "四个 2 秒的任务共用 {took:.2} 秒，回调 parse 运行在 {parsed_on} 上（{workers} 个工作\
             线程）；同步调用 {sync_units:.2} 个单位，异步调用 {async_units:.2} 个单位；2 个\
             工作线程的线程池：后来的客户端等了 {pool_ms:.0} ms；uring：{CONNS} 个连接，最多同时\
             打开 {max_fds} 个描述符，由 {max_threads} 个线程服务"
        ),
    );
    Ok(())
}

/// Descriptors `pid` has open (its connections, its listener, its ring, stdio).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}
