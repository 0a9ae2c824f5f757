//! Demos for sections 二 and 三: who waits, and for how long, in the blocking model.

use super::{late_client_wait, show_client, start_server, watch};
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
    );
    let server = start_server(lab, "blocking-io", &["--mode", "iterative"])?;
    let waited = late_client_wait(server.addr(), 1, HOLD)?;
    drop(server);
    // Receive timestamps may be refused here; that costs this part of the demo, not the rest.
    let phases = two_phases().unwrap_or_else(|err| {
        println!("  phases   | cannot time the two phases on this machine: {err}");
        String::new()
    });
    println!(
        "=> measured: the late client waited {:.0} ms for its reply; client A stayed {:.0} ms{phases}",
        waited.as_secs_f64() * 1e3,
        HOLD.as_secs_f64() * 1e3
    );
    Ok(())
}

/// How long the client thinks before the timed `recv`'s message: long enough to feel.
#[cfg(target_os = "linux")]
const THINK: Duration = Duration::from_millis(200);

/// Receives of already-queued bytes timed to show the copy alone; the median is quoted.
#[cfg(target_os = "linux")]
const COPY_SAMPLES: usize = 100;

/// Times one blocking `recv` as `cargo lab phases` does; returns the tail of the closing line.
#[cfg(target_os = "linux")]
fn two_phases() -> crate::Result<String> {
    use crate::phases::{self, report::duration, Outcome};
    let ms = THINK.as_millis();
    println!("  phases   | the same blocking recv as the server's, timed in the lab:");
    println!("  phases   | a client connects, thinks {ms} ms, then sends one line");
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
    println!(
        "  phases   | wait data 等待数据: {:>9}  recv called -> the packet reaches the socket \
         (kernel timestamp)",
        duration(p.wait)
    );
    // After the arrival, one call does two things: the kernel wakes the thread, and the
    // thread copies. Named for both, then the copy timed by itself.
    println!(
        "  phases   | wake-up + copy:    {:>9}  kernel stamp -> recv returns with the bytes (one \
         step)",
        duration(p.copy)
    );
    let copy = phases::copy::measure(COPY_SAMPLES)?;
    println!(
        "  phases   | copy data 拷贝数据: {:>9}  alone: a recv of the same bytes already queued \
         (median of {COPY_SAMPLES})",
        duration(copy.p50)
    );
    Ok(format!(
        "; one blocking recv: wait data {}, then wake-up + copy {}, of which the copy alone is \
         about {}",
        duration(p.wait),
        duration(p.copy),
        duration(copy.p50)
    ))
}

#[cfg(not(target_os = "linux"))]
fn two_phases() -> crate::Result<String> {
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
    println!("  $ cargo lab client blocking-io --conns 100 --rounds 200   (server log hidden)");
    let output = Command::new(lab)
        .args(["client", "blocking-io", "--addr", &fork.addr().to_string()])
        .args(["--conns", "100", "--rounds", "200"])
        .output()?;
    show_client(&output)?;
    drop(fork);

    let prefork = start_server(lab, "blocking-io", &["--mode", "prefork", "--workers", "2"])?;
    let prefork_wait = late_client_wait(prefork.addr(), 2, HOLD)?;
    drop(prefork);

    println!(
        "=> measured: the late client waited {:.1} ms (thread), {:.0} ms (pool of 2, both \
         workers held {:.0} ms), {:.1} ms (fork), {:.0} ms (prefork of 2, both processes held)",
        thread_wait.as_secs_f64() * 1e3,
        pool_wait.as_secs_f64() * 1e3,
        HOLD.as_secs_f64() * 1e3,
        fork_wait.as_secs_f64() * 1e3,
        prefork_wait.as_secs_f64() * 1e3
    );
    Ok(())
}
