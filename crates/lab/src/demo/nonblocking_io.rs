//! Demo for section 四: what busy polling costs, what a nap buys, and the notes' first
//! version losing replies and keeping dead sockets next to the fixed one.

use super::{measured, pick, start_server, watch, Talker};
use crate::late_reader::late_reader;
use crate::process::ServerProcess;
use crate::procfs;
use nonblocking_io::naive::Stats;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Idle connections held open while the server's CPU time is measured.
const IDLE_CLIENTS: usize = 10;

/// How long the CPU time is measured.
const WINDOW: Duration = Duration::from_secs(2);

/// Round trips timed on an idle connection, to show what a nap costs in latency, and the
/// quiet spell before each. Back-to-back requests would not show it: a pass over eleven
/// sockets takes about as long as the client needs to send its next request, so the server
/// finds it without napping. A request after a pause, like a person typing, meets the nap.
/// The gaps vary across one millisecond: the server's naps restart at each reply, so a fixed
/// gap would land every request at the same point of a nap and measure only that point.
const PINGS: usize = 50;
const PING_GAP: Duration = Duration::from_millis(2);
const PING_SPREAD_US: u64 = 1000;

/// Bytes the late reader sends, and how long it waits before reading.
const LATE_TOTAL: usize = 8 * 1024 * 1024;
const LATE_PAUSE: Duration = Duration::from_millis(300);

/// Clients that make one round trip each and leave.
const LEAVERS: usize = 5;

/// What one polling server cost with idle clients.
struct Idle {
    cpu: Duration,
    wall: Duration,
    median_rtt: Duration,
}

/// What one server did to a late reader and to clients that left.
struct Leftovers {
    lost_bytes: usize,
    /// Sockets still open besides the listener, after every client left.
    held_sockets: usize,
}

/// 四: busy polling, a nap in the loop, and the naive version's losses.
pub fn section_4(lab: &Path) -> crate::Result<()> {
    watch(
        "busy mode: one thread asks every socket \"anything yet?\" without pause, so with\n\
         ten idle clients (and with none) it burns a whole core\n\
         --sleep-ms 1: a nap after a pass that found nothing; CPU drops, and a request that\n\
         arrives during a nap waits for it to end\n\
         --naive (the notes' first version, 四 a): a client that reads late loses replies, and\n\
         clients that leave stay in its list; its `naive stats:` line says so every second",
        "忙轮询模式：一个线程不停地问每个套接字\u{201c}有数据了吗？\u{201d}，所以即使十个客户端都空闲\n\
         （甚至一个客户端都没有），它也会占满一整个核\n\
         --sleep-ms 1：一轮什么都没等到就睡一会儿；CPU 占用降下来，但在睡眠中到达的请求要等它睡醒\n\
         --naive（笔记的第一版，四 a）：读得晚的客户端会丢回复，离开的客户端仍留在列表里；\n\
         它每秒打印一行 `naive stats:` 说明这一点",
    );
    let busy = idle_cost(lab, &[])?;
    let napping = idle_cost(lab, &["--sleep-ms", "1"])?;

    let naive = start_server(lab, "nonblocking-io", &["--naive"])?;
    let naive_left = leftovers(&naive, |server, at_least| {
        let found = |l: &str| Stats::parse(l).is_some_and(|s| s.closed_still_held >= at_least);
        server.wait_for_log(found, Duration::from_secs(5))
    })?;
    drop(naive);

    let fixed = start_server(lab, "nonblocking-io", &[])?;
    let fixed_left = leftovers(&fixed, |server, _| {
        // Closed connections are dropped after the pass that saw them go.
        let deadline = Instant::now() + Duration::from_secs(5);
        while procfs::open_sockets(server.pid()).unwrap_or(0) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    })?;
    drop(fixed);

    let percent = |idle: &Idle| 100.0 * idle.cpu.as_secs_f64() / idle.wall.as_secs_f64();
    if percent(&busy) < 80.0 {
        // Other processes wanted the cores too. The scheduler then runs the spinning server
        // only part of the time, and a request may wait for its turn: slower than a nap,
        // whose wake-up the scheduler serves promptly.
        println!(
            "{}",
            pick(
                format!(
                    "  note     | this machine is busy: the spinning server got only {:.0}% of \
                     a core, so its replies also waited for the CPU",
                    percent(&busy)
                ),
                format!(
                    "  注意     | 这台机器很忙：忙轮询的服务端只分到一个核的 {:.0}%，所以它的回复\
                     也在等 CPU",
                    percent(&busy)
                )
            )
        );
    }
    let (busy_cpu, busy_wall, busy_pct) = (
        busy.cpu.as_secs_f64(),
        busy.wall.as_secs_f64(),
        percent(&busy),
    );
    let (nap_cpu, nap_pct) = (napping.cpu.as_secs_f64(), percent(&napping));
    let (busy_us, nap_us) = (
        busy.median_rtt.as_secs_f64() * 1e6,
        napping.median_rtt.as_secs_f64() * 1e6,
    );
    let (lost, held) = (naive_left.lost_bytes, naive_left.held_sockets);
    let (fixed_lost, fixed_held) = (fixed_left.lost_bytes, fixed_left.held_sockets);
    measured(
        format!(
            "with {IDLE_CLIENTS} idle clients the busy server used {busy_cpu:.2} s of CPU in \
             {busy_wall:.1} s ({busy_pct:.0}%), with --sleep-ms 1 {nap_cpu:.2} s ({nap_pct:.0}%); \
             a request after a quiet spell was answered in {busy_us:.0} µs vs {nap_us:.0} µs \
             (median). Naive: {lost} of {LATE_TOTAL} reply bytes lost, {held} closed sockets \
             still open; fixed: {fixed_lost} lost, {fixed_held} left open"
        ),
        format!(
            "{IDLE_CLIENTS} 个空闲客户端时，忙轮询服务端 {busy_wall:.1} 秒内用了 {busy_cpu:.2} 秒 CPU\
             （{busy_pct:.0}%），--sleep-ms 1 时用了 {nap_cpu:.2} 秒（{nap_pct:.0}%）；安静一阵后的\
             请求分别在 {busy_us:.0} µs 和 {nap_us:.0} µs 内得到回复（中位数）。naive 版：\
             {LATE_TOTAL} 字节回复丢了 {lost} 字节，{held} 个已关闭的套接字仍开着；修正版：丢了 \
             {fixed_lost} 字节，留下 {fixed_held} 个"
        ),
    );
    Ok(())
}

/// Starts a fixed server with `args`, holds ten idle connections, and measures its CPU time
/// over [`WINDOW`] and the round trip on an otherwise idle connection.
fn idle_cost(lab: &Path, args: &[&str]) -> crate::Result<Idle> {
    let server = start_server(lab, "nonblocking-io", args)?;
    // Ten "connected" lines would bury the point: keep the server quiet meanwhile.
    server.quiet();
    let mut talker = Talker::connect("client A", server.addr())?;
    talker.say("hello")?;
    let mut idle = Vec::new();
    for i in 1..IDLE_CLIENTS {
        let mut stream = crate::scenarios::connect(server.addr())?;
        crate::scenarios::round_trip(&mut stream, format!("client {i}").as_bytes())?;
        idle.push(stream);
    }
    println!("  clients  | {IDLE_CLIENTS} connections open, each served once, now silent");

    let cpu_before = procfs::cpu_time(server.pid())?;
    let started = Instant::now();
    // The measurement window itself: nothing happens on any connection meanwhile.
    std::thread::sleep(WINDOW);
    let cpu = procfs::cpu_time(server.pid())?.saturating_sub(cpu_before);
    let wall = started.elapsed();
    println!(
        "  /proc    | server CPU time over {:.1} s: {:.2} s",
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );

    let mut stream = crate::scenarios::connect(server.addr())?;
    let mut rtts = Vec::with_capacity(PINGS);
    for i in 0..PINGS {
        // The demo's script: a quiet spell, so the server has found nothing to do.
        std::thread::sleep(
            PING_GAP + Duration::from_micros(PING_SPREAD_US * i as u64 / PINGS as u64),
        );
        let sent = Instant::now();
        crate::scenarios::round_trip(&mut stream, format!("ping {i}").as_bytes())?;
        rtts.push(sent.elapsed());
    }
    rtts.sort();
    let median_rtt = rtts[PINGS / 2];
    println!(
        "  client B | {PINGS} requests, each after {}-{} ms of quiet: median reply in {:.0} µs",
        PING_GAP.as_millis(),
        PING_GAP.as_millis() + u128::from(PING_SPREAD_US / 1000),
        median_rtt.as_secs_f64() * 1e6
    );
    Ok(Idle {
        cpu,
        wall,
        median_rtt,
    })
}

/// A late reader, then [`LEAVERS`] clients that come and go; `settled(server, gone)` waits
/// until the server has dealt with `gone` departed clients. Returns what was lost and left.
fn leftovers(
    server: &ServerProcess,
    settled: impl Fn(&ServerProcess, usize) -> bool,
) -> crate::Result<Leftovers> {
    println!(
        "  client R | sends {} MiB, reads nothing for {} ms, then reads every reply it can",
        LATE_TOTAL >> 20,
        LATE_PAUSE.as_millis()
    );
    let late = late_reader(
        server.addr(),
        LATE_TOTAL,
        // The demo's script: the client is simply slow to read.
        || std::thread::sleep(LATE_PAUSE),
        Duration::from_millis(500),
    )?;
    println!(
        "  client R | got {} of {} reply bytes back{}",
        late.received,
        late.sent,
        if late.intact {
            ", every one correct"
        } else {
            ""
        }
    );
    for i in 0..LEAVERS {
        leave_after_one_round_trip(server.addr(), i)?;
    }
    println!("  clients  | {LEAVERS} more clients said hello and left");
    if !settled(server, LEAVERS + 1) {
        return Err(format!("the server never settled; its log:\n{}", server.log_text()).into());
    }
    let sockets = procfs::open_sockets(server.pid())?;
    println!("  /proc    | sockets the server holds now: {sockets} (one is the listener)");
    Ok(Leftovers {
        lost_bytes: late.lost(),
        held_sockets: sockets.saturating_sub(1),
    })
}

fn leave_after_one_round_trip(addr: SocketAddr, i: usize) -> crate::Result<()> {
    let mut stream = crate::scenarios::connect(addr)?;
    crate::scenarios::round_trip(&mut stream, format!("hello from {i}").as_bytes())
}
