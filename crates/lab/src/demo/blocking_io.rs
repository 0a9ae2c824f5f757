//! Demos for sections 二 and 三: who waits, and for how long, in the blocking model.

use super::{late_client_wait, measured, pick, show_client, start_server, watch};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long the first clients stay connected in these demos.
const HOLD: Duration = Duration::from_secs(1);

/// 二: the notes' iterative server makes the second client wait for the first; then one
/// blocking `recv` split into its two phases by the kernel's receive timestamp.
pub fn section_2(lab: &Path) -> crate::Result<()> {
    watch(
        "the server's one thread is blocked in client A's recv (wait data), so the late\n\
         client's bytes sit in the kernel until A leaves\n\
         then one recv, timed: wait data lasts as long as the client thinks; what follows the\n\
         arrival is mostly waking the thread, and the copy itself is tinier still",
        "服务端唯一的线程阻塞在客户端 A 的 recv 上（wait data），所以后来的客户端发出的字节\n\
         只能躺在内核里，直到 A 离开\n\
         然后给一次 recv 计时：wait data 的长短取决于客户端想了多久；数据到达之后的时间\n\
         大多花在唤醒线程上，拷贝本身还要短得多",
    );
    let server = start_server(lab, "blocking-io", &["--mode", "iterative"])?;
    let waited = late_client_wait(server.addr(), 1, HOLD)?;
    drop(server);
    // Receive timestamps may be refused here; that costs this part of the demo, not the rest.
    let phases = two_phases().unwrap_or_else(|err| {
        println!(
            "{}",
            pick(
                format!("  phases   | cannot time the two phases on this machine: {err}"),
                format!("  phases   | 这台机器上无法给两个阶段计时：{err}"),
            )
        );
        Tail::default()
    });
    let (waited_ms, hold_ms) = (waited.as_secs_f64() * 1e3, HOLD.as_secs_f64() * 1e3);
    measured(
        format!(
            "the late client waited {waited_ms:.0} ms for its reply; client A stayed \
             {hold_ms:.0} ms{}",
            phases.en
        ),
        format!(
            "后来的客户端等了 {waited_ms:.0} ms 才拿到回复；客户端 A 停留了 {hold_ms:.0} ms{}",
            phases.zh
        ),
    );
    Ok(())
}

/// How long the client thinks before the timed `recv`'s message: long enough to feel.
#[cfg(target_os = "linux")]
const THINK: Duration = Duration::from_millis(200);

/// Receives of already-queued bytes timed to show the copy alone; the median is quoted.
#[cfg(target_os = "linux")]
const COPY_SAMPLES: usize = 100;

/// The end of section 二's closing line, in both languages: empty when the phases could not
/// be timed.
#[derive(Default)]
struct Tail {
    en: String,
    zh: String,
}

/// Times one blocking `recv` as `cargo lab phases` does; returns the tail of the closing line.
#[cfg(target_os = "linux")]
fn two_phases() -> crate::Result<Tail> {
    use crate::phases::{self, report::duration, Outcome};
    let ms = THINK.as_millis();
    println!(
        "{}",
        pick(
            "  phases   | the same blocking recv as the server's, timed in the lab:".to_string(),
            "  phases   | 与服务端相同的阻塞 recv，在实验里计时：".to_string(),
        )
    );
    println!(
        "{}",
        pick(
            format!("  phases   | a client connects, thinks {ms} ms, then sends one line"),
            format!("  phases   | 客户端连上来，想 {ms} ms，再发一行"),
        )
    );
    let blocking = phases::MODELS
        .iter()
        .find(|m| m.slug == "blocking")
        .ok_or("no blocking model in phases::MODELS")?;
    let sample = match phases::measure(blocking, THINK, 1)? {
        Outcome::Measured(samples) => samples.into_iter().next(),
        Outcome::Unavailable(why) => return Err(why.into()),
    };
    let Some(p) = sample.and_then(|s| s.phases()) else {
        return Err("the realtime clock stepped during the sample; run it again".into());
    };
    let (wait, wake_copy) = (duration(p.wait), duration(p.copy));
    println!(
        "  phases   | wait data 等待数据: {wait:>9}  {}",
        pick(
            "recv called -> the packet reaches the socket (kernel timestamp)",
            "调用 recv -> 数据包到达套接字（内核时间戳）"
        )
    );
    // After the arrival, one call does two things: the kernel wakes the thread, and the
    // thread copies. Named for both, then the copy timed by itself.
    println!(
        "  phases   | {} {wake_copy:>9}  {}",
        pick("wake-up + copy:   ", "唤醒 + 拷贝:       "),
        pick(
            "kernel stamp -> recv returns with the bytes (one step)",
            "内核时间戳 -> recv 带着字节返回（一步完成）"
        )
    );
    let copy = duration(phases::copy::measure(COPY_SAMPLES)?.p50);
    println!(
        "  phases   | copy data 拷贝数据: {copy:>9}  {}",
        pick(
            format!("alone: a recv of the same bytes already queued (median of {COPY_SAMPLES})"),
            format!("单独计时：同样的字节已在队列里时的一次 recv（{COPY_SAMPLES} 次的中位数）"),
        )
    );
    Ok(Tail {
        en: format!(
            "; one blocking recv: wait data {wait}, then wake-up + copy {wake_copy}, of which \
             the copy alone is about {copy}"
        ),
        zh: format!(
            "；一次阻塞 recv：wait data {wait}，然后唤醒 + 拷贝 {wake_copy}，其中拷贝本身约 {copy}"
        ),
    })
}

#[cfg(not(target_os = "linux"))]
fn two_phases() -> crate::Result<Tail> {
    Err("it needs Linux's receive timestamps (SO_TIMESTAMPNS)".into())
}

/// 三: more threads, same model: the wait moves, it does not go away.
pub fn section_3(lab: &Path) -> crate::Result<()> {
    watch(
        "thread per connection: the late client is served at once, in a thread of its own\n\
         pool of 2 workers: two clients hold both workers, the third waits for one to leave\n\
         fork: every client gets a process; the parent only accepts\n\
         prefork of 2 processes (进程池): two clients hold both, the third waits in the listen \
         queue",
        "每连接一个线程：后来的客户端立刻得到服务，用的是它自己的线程\n\
         2 个工作线程的线程池：两个客户端占住两个工作线程，第三个要等其中一个离开\n\
         fork：每个客户端一个进程；父进程只管 accept\n\
         2 个进程的 prefork（进程池）：两个客户端占住两个进程，第三个在 listen 队列里等",
    );
    let thread = start_server(lab, "blocking-io", &["--mode", "thread"])?;
    let thread_wait = late_client_wait(thread.addr(), 1, HOLD)?;
    drop(thread);

    let pool = start_server(lab, "blocking-io", &["--mode", "pool", "--workers", "2"])?;
    let pool_wait = late_client_wait(pool.addr(), 2, HOLD)?;
    drop(pool);

    let fork = start_server(lab, "blocking-io", &["--mode", "fork"])?;
    let fork_wait = late_client_wait(fork.addr(), 1, HOLD)?;

    // A hundred connect and close lines would bury the summary: keep the server quiet.
    fork.quiet();
    println!(
        "  $ cargo lab client blocking-io --conns 100 --rounds 200   {}",
        pick("(server log hidden)", "（不显示服务端日志）")
    );
    let output = Command::new(lab)
        .args(["client", "blocking-io", "--addr", &fork.addr().to_string()])
        .args(["--conns", "100", "--rounds", "200"])
        .output()?;
    show_client(&output)?;
    drop(fork);

    let prefork = start_server(lab, "blocking-io", &["--mode", "prefork", "--workers", "2"])?;
    let prefork_wait = late_client_wait(prefork.addr(), 2, HOLD)?;
    drop(prefork);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (thread_ms, pool_ms, hold_ms) = (ms(thread_wait), ms(pool_wait), ms(HOLD));
    let (fork_ms, prefork_ms) = (ms(fork_wait), ms(prefork_wait));
    measured(
        format!(
            "the late client waited {thread_ms:.1} ms (thread), {pool_ms:.0} ms (pool of 2, both \
             workers held {hold_ms:.0} ms), {fork_ms:.1} ms (fork), {prefork_ms:.0} ms (prefork \
             of 2, both processes held)"
        ),
        format!(
            "后来的客户端等了 {thread_ms:.1} ms（每连接一个线程）、{pool_ms:.0} ms（2 个工作线程的\
             线程池，两个都被占住 {hold_ms:.0} ms）、{fork_ms:.1} ms（fork）、{prefork_ms:.0} ms\
             （2 个进程的 prefork，两个进程都被占住）"
        ),
    );
    Ok(())
}
