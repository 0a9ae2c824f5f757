//! `cargo lab demo-all`: a short scripted demo per section of the notes, in their order.
//!
//! Each demo prints a heading (the section, and what to watch), the server's and clients'
//! output with labels, and ends with a line that starts `=> measured:` and gives the number
//! that makes the section's point on this machine.

mod async_callback;
mod blocking_io;
mod coroutine_spawn;
mod multiplexing;
mod nonblocking_io;
mod own_gevent;

use crate::process::ServerProcess;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The language a demo speaks: its headings, watch lines and measured lines. What the
/// servers and clients print stays English: it is program output students grep for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// Set once, by `demo-all --lang`, before any demo runs.
static CHINESE: AtomicBool = AtomicBool::new(false);

pub fn set_lang(lang: Lang) {
    CHINESE.store(lang == Lang::Zh, Ordering::Relaxed);
}

/// Whether the demos speak Chinese.
pub fn zh() -> bool {
    CHINESE.load(Ordering::Relaxed)
}

/// The English or the Chinese of a line, as the demo's language says. Both are written out
/// beside each other in the demo's code, so a change to one is seen next to the other.
pub fn pick<T>(en: T, zh: T) -> T {
    if self::zh() {
        zh
    } else {
        en
    }
}

/// Prints a demo's closing line: the number that makes the section's point.
pub fn measured(en: String, zh: String) {
    println!("=> {} {}", pick("measured:", "实测:"), pick(en, zh));
}

/// One section's demo.
pub struct Section {
    /// The section's number in the notes (一 is 1).
    pub number: u8,
    pub title: &'static str,
    pub title_zh: &'static str,
    pub run: fn(&Path) -> crate::Result<()>,
}

/// Every demo, in the order of the notes.
pub const SECTIONS: &[Section] = &[
    Section {
        number: 1,
        title: "一 gevent's spawn/join and server, on may coroutines",
        title_zh: "一 gevent 的 spawn/join 与服务端，用 may 协程重写",
        run: coroutine_spawn::section_1,
    },
    Section {
        number: 2,
        title: "二 wait data and copy data: the iterative server",
        title_zh: "二 wait data 与 copy data：迭代服务端",
        run: blocking_io::section_2,
    },
    Section {
        number: 3,
        title: "三 blocking I/O: thread per connection, pool, process per connection",
        title_zh: "三 阻塞IO：每连接一个线程、线程池、每连接一个进程",
        run: blocking_io::section_3,
    },
    Section {
        number: 4,
        title: "四 non-blocking I/O: busy polling, a nap, and the notes' buggy first version",
        title_zh: "四 非阻塞IO：忙轮询、加一点睡眠，以及笔记里有 bug 的第一版",
        run: nonblocking_io::section_4,
    },
    Section {
        number: 5,
        title: "五 IO multiplexing: one thread waits for every socket (polling, mio, select)",
        title_zh: "五 IO多路复用：一个线程同时等待所有套接字（polling、mio、select）",
        run: multiplexing::section_5,
    },
    Section {
        number: 6,
        title: "六 asynchronous I/O: callbacks on a pool, and completions on io_uring",
        title_zh: "六 异步IO：线程池上的回调，以及 io_uring 上的完成通知",
        run: async_callback::section_6,
    },
    Section {
        number: 8,
        title: "自己实现gevent: our own runtime on 五's loop (task, executor, reactor, timers)",
        title_zh:
            "自己实现gevent：在五的事件循环上写出我们自己的运行时（任务、执行器、反应器、定时器）",
        run: own_gevent::section_8,
    },
];

/// Runs every section's demo, or only `only`.
pub fn run_all(only: Option<u8>) -> crate::Result<()> {
    let lab = lab_exe()?;
    let chosen: Vec<&Section> = SECTIONS
        .iter()
        .filter(|s| only.is_none_or(|n| n == s.number))
        .collect();
    if chosen.is_empty() {
        return Err(format!("no demo for section {} yet", only.unwrap_or(0)).into());
    }
    for section in chosen {
        println!("\n=== {} ===", pick(section.title, section.title_zh));
        (section.run)(&lab)?;
    }
    Ok(())
}

/// This binary: the demos start servers as `lab serve ...` children of it.
fn lab_exe() -> crate::Result<PathBuf> {
    Ok(std::env::current_exe()?)
}

/// Prints what to watch for, indented under the heading, in the demo's language.
pub fn watch(en: &str, zh: &str) {
    let label = pick("watch:", "看点:");
    for line in pick(en, zh).lines() {
        println!("  {label} {line}");
    }
}

/// Starts `lab serve KRATE ARGS`, echoing its output as `  server | ...`.
pub fn start_server(lab: &Path, krate: &str, args: &[&str]) -> crate::Result<ServerProcess> {
    println!("  $ cargo lab serve {krate} {}", args.join(" "));
    let server = ServerProcess::start(lab, krate, args)?;
    server.echo("  server   | ");
    Ok(server)
}

/// Prints a finished load client's output, labelled, and turns its failure into an error.
pub fn show_client(output: &std::process::Output) -> crate::Result<()> {
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("  client   | {line}");
    }
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the load client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into())
    }
}

/// The one-line JSON summary a load client run with `--json` ended with, printed as the
/// human line, labelled.
pub fn client_summary(output: &std::process::Output) -> crate::Result<protocol::load::Summary> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let summary: protocol::load::Summary = serde_json::from_str(line).map_err(|e| {
        format!(
            "the load client printed no summary ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    println!("  client   | {}", summary.line(false));
    Ok(summary)
}

/// A scripted client that prints what it does, labelled with its name.
pub struct Talker {
    name: String,
    stream: TcpStream,
}

impl Talker {
    pub fn connect(name: &str, addr: SocketAddr) -> crate::Result<Talker> {
        let stream = crate::scenarios::connect(addr)?;
        Ok(Talker {
            name: name.to_string(),
            stream,
        })
    }

    /// Sends `text` and waits for its reply; returns how long the reply took.
    pub fn say(&mut self, text: &str) -> crate::Result<Duration> {
        println!("  {:<8} | >>: {text}", self.name);
        let start = Instant::now();
        self.stream.write_all(text.as_bytes())?;
        let mut reply = vec![0; text.len()];
        self.stream.read_exact(&mut reply)?;
        let took = start.elapsed();
        println!(
            "  {:<8} | {}   ({:.1} ms)",
            self.name,
            String::from_utf8_lossy(&reply),
            took.as_secs_f64() * 1e3
        );
        Ok(took)
    }
}

/// `holders` clients connect, get one reply each and stay connected for `hold`; then one
/// more client asks. Returns how long that last client waited for its reply.
///
/// This is the measurement behind "the second client waits": on an iterative server it
/// waits about `hold`, on a thread-per-connection server about nothing.
pub fn late_client_wait(
    addr: SocketAddr,
    holders: usize,
    hold: Duration,
) -> crate::Result<Duration> {
    let (served, first_replies) = mpsc::channel();
    let mut threads = Vec::new();
    for i in 0..holders {
        let served = served.clone();
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let name = format!("client {}", (b'A' + i as u8) as char);
            let mut talker = Talker::connect(&name, addr).map_err(|e| e.to_string())?;
            talker.say("hello").map_err(|e| e.to_string())?;
            let _ = served.send(());
            // The demo's script, not synchronisation: this client simply stays a while.
            std::thread::sleep(hold);
            println!("  {name:<8} | leaves after {:.1} s", hold.as_secs_f64());
            Ok(())
        }));
    }
    drop(served);
    // The late client starts only once every holder has been served, so it really is late.
    for _ in 0..holders {
        first_replies
            .recv_timeout(hold + Duration::from_secs(10))
            .map_err(|_| "a holding client was never served")?;
    }
    let mut late = Talker::connect("late", addr)?;
    let waited = late.say("are you there")?;
    for thread in threads {
        thread.join().map_err(|_| "client thread panicked")??;
    }
    Ok(waited)
}
