//! Demo for section 五: one thread serves a thousand clients and sleeps while they are idle;
//! and the notes' remark that with a single socket, multiplexing is slower than blocking.
//!
//! The remark is shown by a count, not only a time. One round trip takes a few microseconds
//! either way, and on a shared machine the timing of the two servers swaps places from run
//! to run. The system calls each server makes per round trip do not: a blocked thread makes
//! two (`recv`, then `send`), a readiness loop adds at least its wait. [`crate::syscalls`]
//! counts them with `perf stat`; where perf is missing or not permitted, the demo says so
//! and shows the timing alone.

use super::{measured, pick, start_server, watch, Talker};
use crate::process::ServerProcess;
use crate::procfs;
use crate::scenarios::{connect, round_trip};
use crate::syscalls;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Connections held open at once.
const CONNS: usize = 1000;

/// How long the idle server's CPU time is watched.
const IDLE: Duration = Duration::from_secs(1);

/// Round trips timed on a single connection (after [`WARM_UP`] untimed ones), and then
/// counted under perf (a separate run: perf's tracepoint slows every call a little).
const ROUNDS: usize = 2000;
const WARM_UP: usize = 200;

/// One server's single-client cost: the median round trip, and system calls per round trip
/// (`None` when perf cannot count).
struct Cost {
    median: Duration,
    calls: Option<f64>,
}

/// 五: IO multiplexing.
pub fn section_5(lab: &Path) -> crate::Result<()> {
    watch(
        "one thread serves every client: Threads in /proc/PID/status stays 1 with 1000 connected\n\
         while they are idle the thread sleeps in epoll_wait (wait data for all at once): no CPU\n\
         with one client, count system calls per round trip: blocking makes 2 (recv, send), a\n\
         readiness loop adds its wait: the notes' remark that for one socket multiplexing costs\n\
         more than blocking I/O. The timing beside it is a few microseconds and may go either way",
        "一个线程服务所有客户端：连着 1000 个连接时，/proc/PID/status 里的 Threads 仍然是 1\n\
         连接空闲时，这个线程睡在 epoll_wait 里（一次替所有连接 wait data）：不占 CPU\n\
         只有一个客户端时，数一数每次往返的系统调用：阻塞IO是 2 次（recv、send），就绪通知的\n\
         循环还要加上等待那一次：这就是笔记说的，只监测一个套接字时多路复用比阻塞IO还慢。\n\
         旁边的计时只差几微秒，哪边快都有可能",
    );
    let server = start_server(lab, "multiplexing", &["--backend", "polling"])?;
    Talker::connect("client A", server.addr())?.say("hello, select")?;

    // A thousand "connected" lines would bury the point: keep the server quiet from here.
    server.quiet();
    println!("  demo     | opening {CONNS} connections, one round trip each   (server log hidden)");
    let held = hold_idle_connections(server.addr())?;
    let status = procfs::status(server.pid())?;
    println!(
        "  /proc    | Threads: {}   VmRSS: {} KiB   with {} connections open",
        status.threads,
        status.rss_kib,
        held.len()
    );
    let before = procfs::cpu_time(server.pid())?;
    // A measurement window, not synchronisation: the clients simply stay idle for it.
    std::thread::sleep(IDLE);
    let idle_cpu = procfs::cpu_time(server.pid())? - before;
    println!(
        "  /proc    | CPU time used in {:.0} s with {} idle clients: {:.0} ms",
        IDLE.as_secs_f64(),
        held.len(),
        idle_cpu.as_secs_f64() * 1e3
    );
    drop(held);

    let perf = syscalls::available();
    match &perf {
        Ok(()) => println!(
            "  demo     | one client, {ROUNDS} round trips of 64 bytes: median time, then \
             system calls per round trip (perf stat -e raw_syscalls:sys_enter -p PID)"
        ),
        Err(why) => println!("  perf     | {why}: skipping the system-call count, timing only"),
    }
    let counting = perf.is_ok();
    let multiplexed = single_client_cost(&server, counting)?;
    print_cost("multiplexing (polling)", &multiplexed);
    drop(server);
    // The notes' own call, for comparison: select's wait is one system call.
    let select = ServerProcess::start(lab, "multiplexing", &["--backend", "select"])?;
    println!("  $ cargo lab serve multiplexing --backend select   (server log hidden)");
    let selected = single_client_cost(&select, counting)?;
    print_cost("multiplexing (select)", &selected);
    drop(select);
    let blocking = ServerProcess::start(lab, "blocking-io", &["--mode", "thread"])?;
    println!("  $ cargo lab serve blocking-io --mode thread   (server log hidden)");
    let blocked = single_client_cost(&blocking, counting)?;
    print_cost("blocking-io (thread)", &blocked);

    let ratio = micros(multiplexed.median) / micros(blocked.median);
    let verdict = if ratio > 1.0 {
        pick(
            "this run's timing agrees with the notes",
            "这次的计时与笔记一致",
        )
    } else {
        pick(
            "this run's timing does not agree with the notes (noise: the count is the evidence)",
            "这次的计时与笔记不一致（噪声所致：系统调用的次数才是证据）",
        )
    };
    let counts = match (multiplexed.calls, selected.calls, blocked.calls) {
        (Some(p), Some(s), Some(b)) => pick(
            format!(
                "system calls per round trip: {p:.2} polling, {s:.2} select, {b:.2} blocking; "
            ),
            format!("每次往返的系统调用：polling {p:.2} 次，select {s:.2} 次，阻塞 {b:.2} 次；"),
        ),
        _ => pick(
            "system calls not counted (no perf); ".into(),
            "没有统计系统调用（没有 perf）；".into(),
        ),
    };
    let (threads, cpu_ms, idle_s) = (
        status.threads,
        idle_cpu.as_secs_f64() * 1e3,
        IDLE.as_secs_f64(),
    );
    let (mux_us, block_us) = (micros(multiplexed.median), micros(blocked.median));
    measured(
        format!(
            "{threads} thread served {CONNS} connections and used {cpu_ms:.0} ms of CPU in \
             {idle_s:.0} s while they idled; {counts}one round trip took {mux_us:.1} us \
             multiplexed (polling) vs {block_us:.1} us blocking ({ratio:.2}x): {verdict}"
        ),
        format!(
            "{threads} 个线程服务 {CONNS} 个连接，它们空闲的 {idle_s:.0} 秒里用了 {cpu_ms:.0} ms \
             CPU；{counts}一次往返多路复用（polling）用了 {mux_us:.1} us，阻塞用了 \
             {block_us:.1} us（{ratio:.2} 倍）：{verdict}"
        ),
    );
    Ok(())
}

fn print_cost(name: &str, cost: &Cost) {
    let calls = cost
        .calls
        .map(|c| format!("   {c:.2} system calls per round trip"))
        .unwrap_or_default();
    println!(
        "  client   | {name:<23} {:>5.1} us{calls}",
        micros(cost.median)
    );
}

/// Opens [`CONNS`] connections, each served one round trip so the server has really
/// accepted it, and returns them open and idle.
fn hold_idle_connections(addr: SocketAddr) -> crate::Result<Vec<std::net::TcpStream>> {
    // This process holds all of them: make sure its descriptor limit allows it.
    ::multiplexing::fd_limit::raise_to(CONNS as u64 + 64)?;
    let mut held = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let mut stream = connect(addr)?;
        round_trip(&mut stream, format!("client {i}").as_bytes())?;
        held.push(stream);
    }
    Ok(held)
}

/// One connection to `server`: [`WARM_UP`] round trips, the median of [`ROUNDS`] timed
/// ones, then (if `count`) [`ROUNDS`] more with the server's system calls counted.
fn single_client_cost(server: &ServerProcess, count: bool) -> crate::Result<Cost> {
    // Connected and warmed up first: a thread-per-connection server starts the thread that
    // serves us now, before perf attaches (perf counts the threads that exist when it does).
    let mut stream = connect(server.addr())?;
    let message = [b'm'; 64];
    for _ in 0..WARM_UP {
        round_trip(&mut stream, &message)?;
    }
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        round_trip(&mut stream, &message)?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let median = times[ROUNDS / 2];
    let calls = if count {
        let counter = syscalls::Counter::attach(server.pid())?;
        let ((), calls) = counter.count(|| rounds(&mut stream, &message))?;
        Some(calls as f64 / ROUNDS as f64)
    } else {
        None
    };
    Ok(Cost { median, calls })
}

/// [`ROUNDS`] back-to-back round trips of `message`.
fn rounds(stream: &mut TcpStream, message: &[u8]) -> crate::Result<()> {
    for _ in 0..ROUNDS {
        round_trip(stream, message)?;
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
