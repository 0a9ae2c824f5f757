//! `cargo lab phases`: section 二's two phases, wait data (等待数据) and copy data (拷贝数据),
//! measured for every I/O model on this machine.
//!
//! For one message there are four instants:
//! 1. the program starts waiting ([`Sample::start`]);
//! 2. the data reaches the socket: the kernel's receive timestamp ([`timestamp`]);
//! 3. the program learns it can go on: `select` returns, a coroutine resumes, a callback runs;
//! 4. the bytes are in the program's buffer.
//!
//! Wait data is 1 → 2. After 2, models differ in order and in what can be seen ([`After`]):
//! a blocking `recv` and an io_uring completion tell and copy in one step; the readiness
//! models (the busy loop, `select`, `polling`, `mio`, a `may` coroutine) are told, then call
//! `recvmsg`; the pool with a callback has a worker receive, then tells the program. That
//! difference is the lesson of Stevens' figure 6.6, and the table and figures show it to scale.
//!
//! Name the spans for what they hold: what follows the arrival is mostly *not* the copy. A
//! blocking `recv`'s span from the arrival to its return is the thread's wake-up (the
//! scheduler, the return to user space) plus the copy; a readiness model's `recvmsg` is a
//! system call of its own. The copy of 50 bytes by itself is measured apart ([`copy`]): a
//! `recv` of bytes already queued, with nothing to wait for.
//!
//! The model crates are not instrumented: each model's receive is one small function here
//! that receives one message the way that model's server does, with the same library
//! ([`blocking`], [`nonblocking`], [`multiplexing`], [`uring`], [`callback`], [`coroutine`],
//! [`own_gevent`]).
//! What to watch: the wait is the client's think time for every model; what happens after
//! the arrival costs microseconds, and costs more where another thread must be woken.

pub mod blocking;
pub mod callback;
pub mod copy;
pub mod coroutine;
pub mod multiplexing;
pub mod nonblocking;
pub mod own_gevent;
pub mod pace;
pub mod page;
pub mod report;
pub mod svg;
pub mod timestamp;
pub mod uring;

pub use pace::{Link, Pacer};
pub use timestamp::RealTime;

use std::path::PathBuf;
use std::time::Duration;

/// What happens between the data's arrival (instant 2) and the bytes in hand (instant 4).
#[derive(Clone, Copy, Debug)]
pub enum After {
    /// One call both tells and copies (a blocking `recv` returns; an io_uring completion is
    /// reaped with the bytes already copied): nothing in between can be seen from outside.
    OneStep { done: RealTime },
    /// The program is told it may read (readiness, a resumed coroutine), then copies.
    ///
    /// For a model that asks without waiting (the busy loop), `notified` is when it started
    /// the call that found the data, and can precede the arrival by a hair: the data came
    /// while that call was already under way, so nothing was left to notice.
    NotifyThenCopy {
        notified: RealTime,
        copied: RealTime,
    },
    /// Someone else copies (a pool worker), then the program is told (its callback runs).
    CopyThenNotify {
        copied: RealTime,
        notified: RealTime,
    },
}

/// The order of the phases after the arrival, for tables and figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    OneStep,
    NotifyThenCopy,
    CopyThenNotify,
}

impl After {
    pub fn shape(&self) -> Shape {
        match self {
            After::OneStep { .. } => Shape::OneStep,
            After::NotifyThenCopy { .. } => Shape::NotifyThenCopy,
            After::CopyThenNotify { .. } => Shape::CopyThenNotify,
        }
    }
}

/// What one model's receive saw for one message.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// Bytes received.
    pub len: usize,
    /// Instant 2: the kernel's stamp.
    pub arrival: RealTime,
    /// Instants 3 and 4.
    pub after: After,
    /// `recvmsg` calls that found nothing (`EAGAIN`): the busy loop's wasted work.
    pub wasted: u64,
}

/// One message: when the wait started, and what the receive saw.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub start: RealTime,
    pub received: Received,
}

/// One message's phases.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// Wait data: start of the wait to the arrival.
    pub wait: Duration,
    /// Arrival (or the worker's receive) to the program being told; `None` for a one-step
    /// model.
    pub notification: Option<Duration>,
    /// Until the receive returns with the bytes: from being told for a readiness model (one
    /// `recvmsg` that finds the data queued), from the arrival for a one-step model and a pool
    /// worker (the thread's wake-up plus the copy). Never the copy alone: see [`copy`].
    pub copy: Duration,
}

impl Phases {
    /// Arrival to bytes in hand (and told): what every model spends after the wait.
    pub fn after_arrival(&self) -> Duration {
        self.notification.unwrap_or_default() + self.copy
    }
}

impl Sample {
    /// The phases, or `None` if the instants are out of order (a realtime clock step).
    pub fn phases(&self) -> Option<Phases> {
        let r = &self.received;
        let wait = r.arrival.since(self.start)?;
        let (notification, copy) = match r.after {
            After::OneStep { done } => (None, done.since(r.arrival)?),
            After::NotifyThenCopy { notified, copied } => {
                // A call already under way at the arrival had nothing to be told.
                let told = notified.max(r.arrival);
                (Some(told.since(r.arrival)?), copied.since(told)?)
            }
            After::CopyThenNotify { copied, notified } => {
                (Some(notified.since(copied)?), copied.since(r.arrival)?)
            }
        };
        Some(Phases {
            wait,
            notification,
            copy,
        })
    }
}

/// What one model's measurement gave.
pub enum Outcome {
    Measured(Vec<Sample>),
    /// The model cannot run here (io_uring refused, for one); the reason is for the table.
    Unavailable(String),
}

/// One I/O model's receive path, as the table, the figures and the page name it.
pub struct Model {
    /// For file names: `figures/phases-<slug>.svg`.
    pub slug: &'static str,
    pub name: &'static str,
    /// The name on the Chinese page.
    pub name_zh: &'static str,
    /// The notes' section, with its Chinese title.
    pub section: &'static str,
    /// What the receiving thread does while it waits.
    pub waiting: &'static str,
    /// The same, on the Chinese page.
    pub waiting_zh: &'static str,
    /// Where the receive function is, for the book: file under `crates/lab/src/phases/`
    /// and its anchor.
    pub source: (&'static str, &'static str),
    /// Receives every sample's message over the link.
    pub run: fn(&mut Link) -> crate::Result<Outcome>,
}

/// Every model, in the order of the notes.
pub const MODELS: &[Model] = &[
    Model {
        slug: "blocking",
        name: "blocking recvmsg",
        name_zh: "阻塞 recvmsg",
        section: "三 阻塞IO",
        waiting: "asleep in recvmsg",
        waiting_zh: "睡在 recvmsg 里",
        source: ("blocking.rs", "blocking"),
        run: blocking::run,
    },
    Model {
        slug: "nonblocking",
        name: "non-blocking busy loop",
        name_zh: "非阻塞忙轮询",
        section: "四 非阻塞IO",
        waiting: "spinning: recvmsg returns EAGAIN, again and again",
        waiting_zh: "空转：recvmsg 一次又一次返回 EAGAIN",
        source: ("nonblocking.rs", "busy_loop"),
        run: nonblocking::run,
    },
    Model {
        slug: "select",
        name: "select(2)",
        name_zh: "select(2)",
        section: "五 IO多路复用",
        waiting: "asleep in select",
        waiting_zh: "睡在 select 里",
        source: ("multiplexing.rs", "select"),
        run: multiplexing::run_select,
    },
    Model {
        slug: "polling",
        name: "polling (level-triggered)",
        name_zh: "polling（水平触发）",
        section: "五 IO多路复用",
        waiting: "asleep in epoll_wait (polling)",
        waiting_zh: "睡在 epoll_wait 里（polling）",
        source: ("multiplexing.rs", "polling"),
        run: multiplexing::run_polling,
    },
    Model {
        slug: "mio",
        name: "mio (edge-triggered)",
        name_zh: "mio（边缘触发）",
        section: "五 IO多路复用",
        waiting: "asleep in epoll_wait (mio)",
        waiting_zh: "睡在 epoll_wait 里（mio）",
        source: ("multiplexing.rs", "mio"),
        run: multiplexing::run_mio,
    },
    Model {
        slug: "io-uring",
        name: "io_uring RecvMsg completion",
        name_zh: "io_uring RecvMsg 完成通知",
        section: "六 异步IO",
        waiting: "asleep in io_uring_enter; the kernel waits and copies",
        waiting_zh: "睡在 io_uring_enter 里；由内核等待并拷贝",
        source: ("uring.rs", "io_uring"),
        run: uring::run,
    },
    Model {
        slug: "callback",
        name: "pool worker + callback",
        name_zh: "线程池工作线程 + 回调",
        section: "六 异步IO (异步调用+回调)",
        waiting: "caller free; a pool worker is asleep in recvmsg",
        waiting_zh: "调用方空闲；一个池内工作线程睡在 recvmsg 里",
        source: ("callback.rs", "callback"),
        run: callback::run,
    },
    Model {
        slug: "may",
        name: "may coroutine",
        name_zh: "may 协程",
        section: "一 协程 (gevent's spawn)",
        waiting: "coroutine parked; may's threads free for others",
        waiting_zh: "协程挂起；may 的线程可以去服务别人",
        source: ("coroutine.rs", "may"),
        run: coroutine::run,
    },
    Model {
        slug: "own-gevent",
        name: "own-gevent task",
        name_zh: "own-gevent 任务",
        section: "自己实现gevent (our runtime)",
        waiting: "task suspended; the one thread asleep in epoll_wait",
        waiting_zh: "任务挂起；唯一的线程睡在 epoll_wait 里",
        source: ("own_gevent.rs", "own_gevent"),
        run: own_gevent::run,
    },
];

/// Measures one model: `samples` messages, each sent `think` after the wait started.
pub fn measure(model: &Model, think: Duration, samples: usize) -> crate::Result<Outcome> {
    let mut link = Link::new(think, samples);
    let outcome = (model.run)(&mut link);
    // The client's error matters only if the receiver had none: a failed receiver stops
    // the client too.
    let client = link.finish();
    let outcome = outcome.map_err(|err| format!("{}: {err}", model.name))?;
    client.map_err(|err| format!("{}: the lab's client: {err}", model.name))?;
    Ok(outcome)
}

/// `cargo lab phases`'s options.
#[derive(Clone, Debug)]
pub struct Options {
    pub think: Duration,
    pub samples: usize,
    /// The book's source folder: the page goes here, the figures in `figures/` under it.
    pub out: PathBuf,
    /// The Chinese book's source folder: the same page in Chinese goes here, showing the
    /// same figures (its `figures/` is the English book's).
    pub out_zh: PathBuf,
    /// The command line that produced the run, for the page.
    pub command: String,
}

/// `cargo lab phases`: measure every model, print the table, write the page and figures.
pub fn run(options: &Options) -> crate::Result<()> {
    println!(
        "phases: {} messages of {} bytes per model over 127.0.0.1, each sent {} after the \
         receiver starts waiting",
        options.samples,
        pace::MESSAGE.len(),
        report::duration(options.think)
    );
    let mut rows = Vec::new();
    for model in MODELS {
        let outcome = measure(model, options.think, options.samples)?;
        let row = report::Row::new(model, outcome);
        println!("  {:<28} {}", model.name, row.one_line());
        rows.push(row);
    }
    let copy_alone = copy::measure(options.samples)?;
    println!(
        "  {:<28} {} (a recv of bytes already queued)",
        "copy data alone",
        copy_alone.cell()
    );
    println!();
    print!("{}", report::table(&rows, false));
    println!();
    print!("{}", report::notes(&rows, &copy_alone, false));
    let written = page::write(options, &rows, &copy_alone)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}
