//! Demo for 自己实现gevent: section 一's spawn/join and gevent server, on the runtime of
//! crates/own-gevent (task, executor, reactor, timers on one `polling::Poller`).
//!
//! Three measurements: spawn/join in units with our `sleep().await` and with a blocking
//! sleep; the threads of our server under 1000 busy connections (from /proc); and its memory
//! then, beside coroutine-spawn's stackful coroutines under the same load.

use super::{measured, start_server, watch};
use crate::procfs;
use own_gevent::spawn_join::{spawn_join, Sleep};
use protocol::load::Summary;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One unit of the notes' sleeps (they use seconds); short, so the demo is too.
const UNIT: Duration = Duration::from_millis(100);

/// Connections held open and busy, as the notes' 1000-thread client.
const CLIENTS: &str = "1000";

/// How long each load runs, in seconds.
const LOAD_SECS: &str = "2";

/// 自己实现gevent: spawn/join on our runtime, then our server and may's under 1000 clients.
pub fn section_8(lab: &Path) -> crate::Result<()> {
    watch(
        "f1, f2, f3 sleep 3, 2, 5 units as tasks on our own runtime, on this one thread:\n\
         own_gevent::sleep(..).await yields, so all three sleep at once: ~5 units\n\
         std::thread::sleep blocks the thread, and with it every task: ~10 units\n\
         then 1000 clients: our server keeps ONE thread; its memory per connection is a\n\
         future (a 1 KiB buffer and a few words), where may gives each one a stack",
        "f1、f2、f3 作为我们自己运行时上的任务，在这一个线程里分别睡 3、2、5 个单位：\n\
         own_gevent::sleep(..).await 会让出，所以三个同时睡：约 5 个单位\n\
         std::thread::sleep 阻塞线程，也就阻塞了所有任务：约 10 个单位\n\
         然后是 1000 个客户端：我们的服务端始终只有一个线程；每个连接的内存只是一个\n\
         future（1 KiB 缓冲区加几个字），而 may 要给每个连接一个栈",
    );
    println!(
        "  (in-process: own_gevent::spawn_join::spawn_join, unit {} ms)",
        UNIT.as_millis()
    );
    let mut units = Vec::new();
    for how in [Sleep::Cooperative, Sleep::Blocking] {
        let run = spawn_join(UNIT, how);
        println!(
            "  example  | {how:?}: {}   => {:.1} units",
            run.lines.join(", "),
            run.units(UNIT)
        );
        units.push(run.units(UNIT));
    }

    println!("  ({CLIENTS} client tasks, {LOAD_SECS} s, against each server; server logs hidden)");
    let ours = under_load(lab, "own-gevent")?;
    let may = under_load(lab, "coroutine-spawn")?;
    println!(
        "  {:<18} {:>8} {:>12} {:>14} {:>16}",
        "server", "threads", "idle RSS", "peak RSS", "per connection"
    );
    for load in [&ours, &may] {
        println!(
            "  {:<18} {:>8} {:>8.1} MiB {:>10.1} MiB {:>12.1} KiB",
            load.krate,
            load.peak_threads,
            load.idle_kib as f64 / 1024.0,
            load.peak_kib as f64 / 1024.0,
            load.per_conn_kib()
        );
    }
    let (threads, mib, per) = (
        ours.peak_threads,
        ours.peak_kib as f64 / 1024.0,
        ours.per_conn_kib(),
    );
    let (may_mib, may_per, may_threads) = (
        may.peak_kib as f64 / 1024.0,
        may.per_conn_kib(),
        may.peak_threads,
    );
    let (awaited, blocked) = (units[0], units[1]);
    measured(
        format!(
            "own-gevent ran {threads} thread(s) with {CLIENTS} connections open and busy, peak \
             RSS {mib:.1} MiB ({per:.1} KiB per connection over idle; coroutine-spawn \
             {may_mib:.1} MiB, {may_per:.1} KiB, {may_threads} threads); spawn/join took \
             {awaited:.1} units with sleep().await vs {blocked:.1} with std::thread::sleep"
        ),
        format!(
            "own-gevent 在 {CLIENTS} 个连接都开着且忙碌时只用了 {threads} 个线程，峰值 RSS \
             {mib:.1} MiB（比空闲时每个连接多 {per:.1} KiB；coroutine-spawn 是 {may_mib:.1} MiB、\
             {may_per:.1} KiB、{may_threads} 个线程）；spawn/join 用 sleep().await 花了 \
             {awaited:.1} 个单位，用 std::thread::sleep 花了 {blocked:.1} 个单位"
        ),
    );
    Ok(())
}

/// What one server did under the load.
struct Load {
    krate: &'static str,
    peak_threads: u64,
    /// Resident memory before any client connected.
    idle_kib: u64,
    /// The high-water mark of resident memory, read once the load is over.
    peak_kib: u64,
    summary: Summary,
}

impl Load {
    fn per_conn_kib(&self) -> f64 {
        let conns = self.summary.conns.max(1) as f64;
        self.peak_kib.saturating_sub(self.idle_kib) as f64 / conns
    }
}

/// Starts `krate`'s server with its defaults, runs our load client against it and samples
/// the server's `/proc/PID/status` while the load runs.
fn under_load(lab: &Path, krate: &'static str) -> crate::Result<Load> {
    let server = start_server(lab, krate, &[])?;
    server.quiet();
    let pid = server.pid();
    let idle_kib = procfs::status(pid)?.rss_kib;
    let mut client = Command::new(lab)
        .args(["client", "own-gevent", "--addr", &server.addr().to_string()])
        .args(["--conns", CLIENTS, "--duration", LOAD_SECS, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Sampling, not synchronisation: threads are counted while clients are connected, a few
    // times a second, until the client is done (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut peak_threads = 0;
    while client.try_wait()?.is_none() && Instant::now() < deadline {
        peak_threads = peak_threads.max(procfs::status(pid)?.threads);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = client.wait_with_output()?;
    let peak_kib = procfs::status(pid)?.hwm_kib;
    let summary = super::client_summary(&output)?;
    if !output.status.success() || !summary.passed() {
        return Err(format!("the load client failed against {krate}").into());
    }
    Ok(Load {
        krate,
        peak_threads,
        idle_kib,
        peak_kib,
        summary,
    })
}
