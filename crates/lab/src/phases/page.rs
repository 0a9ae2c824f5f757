//! The book's page: `docs/src/phases.md` and its figures, written from a real run, and the
//! same page in Chinese, `docs/zh/src/phases.md`, from the same numbers and figures.
//!
//! Generated, not hand-written, so that it can always be redone on the reader's machine
//! and never drifts from the code: the receive functions are included by anchor, the
//! numbers and figures come from the run. The two languages are written side by side here
//! (`markdown` and `markdown_zh`), so an edit to one is made next to the other; the book's
//! parity check (`cargo lab docs`) fails if their listings, figures or exercises differ.

use super::report::{self, Row, Spread};
use super::{svg, Options};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes the page and the figures under `options.out`; returns the files written.
pub fn write(options: &Options, rows: &[Row], copy_alone: &Spread) -> crate::Result<Vec<PathBuf>> {
    let figures = options.out.join("figures");
    std::fs::create_dir_all(&figures)?;
    let mut written = Vec::new();
    for row in rows {
        if let Ok(stats) = &row.stats {
            let path = figures.join(format!("phases-{}.svg", row.model.slug));
            std::fs::write(&path, svg::timeline(row.model, stats))?;
            written.push(path);
        }
    }
    let overview = figures.join("phases-all.svg");
    std::fs::write(&overview, svg::overview(rows))?;
    written.push(overview);
    let page = options.out.join("phases.md");
    let text = markdown(options, rows, copy_alone, &sources_from(&options.out));
    std::fs::write(&page, text)?;
    written.push(page);
    std::fs::create_dir_all(&options.out_zh)?;
    let page = options.out_zh.join("phases.md");
    let text = markdown_zh(options, rows, copy_alone, &sources_from(&options.out_zh));
    std::fs::write(&page, text)?;
    written.push(page);
    Ok(written)
}

/// The page's text. `sources` is the path from the page to `crates/lab/src/phases`.
pub fn markdown(options: &Options, rows: &[Row], copy_alone: &Spread, sources: &str) -> String {
    let mut md = String::new();
    let _ = write!(
        md,
        "[中文](zh/phases.md)\n\n\
         # The two phases, measured: 等待数据 wait data, 拷贝数据 copy data\n\n\
         <!-- Written by `cargo lab phases`: run it again to redo this page on your machine. -->\n\n\
         Section 二 of the notes says that every network read has two phases: waiting for the \
         data (等待数据 wait data) and copying it from the kernel into the program (拷贝数据 \
         copy data), and that the I/O models differ only in how the program spends them. This \
         page measures both, for every model, on a real machine. A client thinks {think} \
         before sending each of {n} messages ({len} bytes over 127.0.0.1), and the receiver \
         records four instants per message:\n\n\
         1. it starts waiting;\n\
         2. the data reaches the host: the kernel's receive timestamp (`SO_TIMESTAMPNS`), \
         taken as the packet enters the kernel's receive path;\n\
         3. it is told it can go on: a poller returns, a coroutine resumes, a callback runs;\n\
         4. the bytes are in its buffer.\n\n\
         Wait data is ① → ②. What follows is tens of microseconds, in an order that is the \
         model itself: told, then a receive call (the readiness models); a worker's receive, \
         then told (a pool worker and its callback); or both in one step that cannot be split \
         from outside (a blocking `recv`, an io_uring completion). Those spans are mostly not \
         the copy: they are a sleeping thread being woken (the scheduler's wake-up and the \
         return to user space) and system calls. Copy data by itself is measured apart, as a \
         `recv` of bytes already queued, and is a small fraction of them.\n\n\
         - Machine: {machine}\n\
         - Date: {date}\n\
         - Load: {load} (other work on the machine stretches the tails)\n\
         - Command: `{command}`\n\n\
         ## Every model\n\n",
        think = report::duration(options.think),
        n = options.samples,
        len = super::pace::MESSAGE.len(),
        machine = machine(),
        date = utc_now(),
        load = load(),
        command = options.command,
    );
    md.push_str(&report::table(rows, false));
    md.push('\n');
    md.push_str(&report::notes(rows, copy_alone, false));
    md.push_str(
        "\n![Every model's median message: the wait, and what follows the arrival magnified]\
         (figures/phases-all.svg)\n\n\
         What this run shows:\n\n",
    );
    md.push_str(&observations(options, rows, copy_alone));
    md.push_str(
        "\n## Each model\n\n\
         Each receive below is the function the lab ran, receiving one message the way that \
         model's server does, with the same library.\n",
    );
    for row in rows {
        let model = row.model;
        let _ = write!(md, "\n### {} · {}\n\n", model.name, model.section);
        match &row.stats {
            Ok(stats) => {
                let _ = write!(
                    md,
                    "![{name}: wait, then what follows the arrival, magnified]\
                     (figures/phases-{slug}.svg)\n\n\
                     While it waits: {waiting}. Median wait {wait}; from the arrival to the \
                     bytes in hand {after}.\n\n",
                    name = model.name,
                    slug = model.slug,
                    waiting = model.waiting,
                    wait = report::duration(stats.wait.p50),
                    after = report::duration(stats.after.p50),
                );
            }
            Err(why) => {
                let _ = write!(md, "Not measured on this machine: {why}.\n\n");
            }
        }
        let (file, anchor) = model.source;
        let _ = write!(
            md,
            "```rust\n{{{{#include {sources}/{file}:{anchor}}}}}\n```\n"
        );
    }
    let _ = write!(
        md,
        "\n## How the arrival is read\n\n\
         Every receive above calls this instead of `recv`: a `recvmsg` that also returns the \
         kernel's timestamp of the packet. The stamp is on `CLOCK_REALTIME`, so every other \
         instant is read from that clock too, never from `Instant` (`CLOCK_MONOTONIC`, which \
         counts from boot).\n\n\
         ```rust\n{{{{#include {sources}/timestamp.rs:recv_stamped}}}}\n```\n\n\
         ## Copy data alone\n\n\
         The copy, with no wait and no wake-up in front of it: the lab sends a message to \
         itself, waits in a `MSG_PEEK` until all of it is queued, then times one `recv`.\n\n\
         ```rust\n{{{{#include {sources}/copy.rs:copy_alone}}}}\n```\n\n\
         ## Run it yourself\n\n\
         ```text\n\
         cargo lab phases                          # 2 ms think time, 300 messages per model\n\
         cargo lab phases --think-ms 20 --samples 100\n\
         ```\n\n\
         It prints the table and rewrites this page and its figures (`--out` chooses where). \
         It needs Linux: elsewhere, or where the kernel refuses `SO_TIMESTAMPNS`, it says so \
         and stops, and the rest of the lab works as before. Where io_uring is not allowed \
         (many containers), that row says so and the others are measured.\n\n\
         ## Exercises\n\n\
         1. Run it with `--think-ms 0`: the client sends as soon as the receiver says it \
         waits. What is left of wait data, and which models now find the data already there \
         when they first ask (look at EAGAIN / msg)?\n\n\
         \x20  <details><summary>Hint</summary>\n\n\
         \x20  The client is a thread of its own, told over a channel that the receiver \
         waits: count what has to happen before its bytes arrive.\n\n\
         \x20  </details>\n\
         \x20  <details><summary>Answer</summary>\n\n\
         \x20  Wait data falls from about 2.1 ms to about 18 µs (measured once here: \
         `cargo lab phases --think-ms 0 --samples 100 --out /tmp/ph0`): what is left is the \
         client thread's wake-up and its `send`. No model finds the data on its first ask: \
         the busy loop still asks in vain about 19 times per message (against thousands \
         with 2 ms), mio, may and our own runtime make their one try before they wait (1), \
         and the models that wait first make none (0).\n\n\
         \x20  </details>\n\n\
         2. Make `MESSAGE` in `crates/lab/src/phases/pace.rs` 1000 bytes long. Which column \
         grows, and is it by the same amount for every model?\n\n\
         \x20  <details><summary>Hint</summary>\n\n\
         \x20  Compare the extra bytes with what a `memcpy` moves per microsecond, and with \
         the spread between two runs.\n\n\
         \x20  </details>\n\
         \x20  <details><summary>Answer</summary>\n\n\
         \x20  Only the spans that contain the copy (until recv returns, and copy data \
         alone) can grow, and by the copy of 950 more bytes: a fraction of a microsecond, \
         the same for every model because each copies the message once. That is smaller \
         than the difference between two runs, so the table barely moves: the spans after \
         the arrival are wake-ups and calls, not copying. 1000 bytes still travel as one \
         loopback packet, so the one-packet check still holds.\n\n\
         \x20  </details>\n\n\
         3. Keep every core busy (one `yes > /dev/null` per core) while it runs. Which \
         models' p99 suffer most, and what do they have in common?\n\n\
         \x20  <details><summary>Hint</summary>\n\n\
         \x20  Which receivers need the scheduler to give a thread a CPU that `yes` is \
         using, and which one competes with `yes` for its own CPU all the time?\n\n\
         \x20  </details>\n\
         \x20  <details><summary>Answer</summary>\n\n\
         \x20  Measured once here with two `yes` on two cores (`--samples 100`): the busy \
         loop's p99 from arrival to bytes in hand went from 12 µs to 4.3 ms, io_uring's to \
         0.83 ms and may's to 0.23 ms, and the blocking and pool receivers' p99 wait data \
         grew to 2.9 and 4.9 ms (2.1 ms quiet). Each of them needs the scheduler to run a \
         thread on a CPU that `yes` holds: a woken thread, a worker, or the busy loop itself, \
         which loses its time slice to `yes`. Medians went the other way for the sleeping \
         models (select's from 22 to 10 µs): waking a thread on a busy CPU skips the wake-up \
         of an idle one.\n\n\
         \x20  </details>\n",
    );
    md
}

/// The page in Chinese: the same sections, listings, figures and exercises as [`markdown`].
pub fn markdown_zh(options: &Options, rows: &[Row], copy_alone: &Spread, sources: &str) -> String {
    let mut md = String::new();
    let _ = write!(
        md,
        "[English](../phases.md)\n\n\
         # 两个阶段的实测：wait data 等待数据，copy data 拷贝数据\n\n\
         <!-- 由 `cargo lab phases` 生成：在你的机器上再运行一次即可重写本页。 -->\n\n\
         笔记第二节说，每次网络读取都分两个阶段：等数据到来（wait data 等待数据），以及把数据\
         从内核拷贝到程序里（copy data 拷贝数据）；各种IO模型的区别只在于程序怎样度过这两个\
         阶段。本页在一台真实的机器上，为每个模型测量这两个阶段。客户端每次发送前先“思考” \
         {think}，共发送 {n} 条消息（每条 {len} 字节，经 127.0.0.1），接收方为每条消息记下四个\
         时刻：\n\n\
         1. 它开始等待；\n\
         2. 数据到达本机：内核的接收时间戳（`SO_TIMESTAMPNS`），在数据包进入内核接收路径时打上；\n\
         3. 它得知可以继续：轮询器返回、协程被恢复、回调开始运行；\n\
         4. 数据已经在它的缓冲区里。\n\n\
         wait data 是 ① → ②。之后只有几十微秒，其先后顺序恰恰就是模型本身：先得到通知，再发起\
         接收调用（各种就绪通知模型）；工作线程先接收，再通知（线程池及其回调）；或者两件事在一步\
         里完成，从外面无法拆开（阻塞的 `recv`、io_uring 的完成通知）。这些时间段大部分并不是拷贝：\
         它们是把一个睡着的线程唤醒（调度器的唤醒和返回用户态）以及系统调用。单独的 copy data \
         另行测量——对已经排队的数据做一次 `recv`——它只占其中很小一部分。\n\n\
         - 机器：{machine}\n\
         - 日期：{date}\n\
         - 负载：{load}（机器上的其他工作会拉长尾部延迟）\n\
         - 命令：`{command}`\n\n\
         ## 所有模型\n\n",
        think = report::duration(options.think),
        n = options.samples,
        len = super::pace::MESSAGE.len(),
        machine = machine(),
        date = utc_now(),
        load = load(),
        command = options.command,
    );
    md.push_str(&report::table(rows, true));
    md.push('\n');
    md.push_str(&report::notes(rows, copy_alone, true));
    md.push_str(
        "\n![每个模型的中位数消息：等待，以及放大后的到达之后的部分](figures/phases-all.svg)\n\n\
         这次运行说明了什么：\n\n",
    );
    md.push_str(&observations_zh(options, rows, copy_alone));
    md.push_str(
        "\n## 逐个模型\n\n\
         下面每个接收函数都是实验室实际运行的函数：按该模型服务端的方式、用同一个库接收一条消息。\n",
    );
    for row in rows {
        let model = row.model;
        let _ = write!(md, "\n### {} · {}\n\n", model.name_zh, model.section);
        match &row.stats {
            Ok(stats) => {
                let _ = write!(
                    md,
                    "![{name}：等待，以及放大后的到达之后的部分](figures/phases-{slug}.svg)\n\n\
                     等待期间：{waiting}。等待的中位数 {wait}；从数据到达到数据到手 {after}。\n\n",
                    name = model.name_zh,
                    slug = model.slug,
                    waiting = model.waiting_zh,
                    wait = report::duration(stats.wait.p50),
                    after = report::duration(stats.after.p50),
                );
            }
            Err(why) => {
                let _ = write!(md, "这台机器上无法测量：{why}。\n\n");
            }
        }
        let (file, anchor) = model.source;
        let _ = write!(
            md,
            "```rust\n{{{{#include {sources}/{file}:{anchor}}}}}\n```\n"
        );
    }
    let _ = write!(
        md,
        "\n## 怎样读出到达时刻\n\n\
         上面每个接收函数调用的都不是 `recv`，而是这个函数：一次 `recvmsg`，同时取回内核给这个\
         数据包打的时间戳。时间戳基于 `CLOCK_REALTIME`，所以其他时刻也都从这个时钟读取，而不是\
         `Instant`（`CLOCK_MONOTONIC`，从开机算起）。\n\n\
         ```rust\n{{{{#include {sources}/timestamp.rs:recv_stamped}}}}\n```\n\n\
         ## 单独的 copy data\n\n\
         前面既没有等待也没有唤醒的拷贝：实验室给自己发一条消息，用 `MSG_PEEK` 等到它全部排好队，\
         再给一次 `recv` 计时。\n\n\
         ```rust\n{{{{#include {sources}/copy.rs:copy_alone}}}}\n```\n\n\
         ## 自己运行\n\n\
         ```text\n\
         cargo lab phases                          # 思考 2 ms，每个模型 300 条消息\n\
         cargo lab phases --think-ms 20 --samples 100\n\
         ```\n\n\
         它打印表格，并重写本页、英文版和图（`--out` 指定写到哪里）。它需要 Linux：在别的系统上，\
         或内核拒绝 `SO_TIMESTAMPNS` 时，它会说明原因并停止，实验室的其余部分照常工作。不允许使用 \
         io_uring 的地方（很多容器），那一行会注明，其余模型照常测量。\n\n\
         ## 练习\n\n\
         1. 用 `--think-ms 0` 运行：接收方一说它在等，客户端就立刻发送。wait data 还剩多少？\
         哪些模型第一次询问时数据就已经到了（看 EAGAIN / 条）？\n\n\
         \x20  <details><summary>提示</summary>\n\n\
         \x20  客户端是单独的一个线程，通过通道得知接收方在等：数一数它的字节到达之前要发生哪些事。\n\n\
         \x20  </details>\n\
         \x20  <details><summary>答案</summary>\n\n\
         \x20  wait data 从约 2.1 ms 降到约 18 µs（在这里测过一次：\
         `cargo lab phases --think-ms 0 --samples 100 --out /tmp/ph0`）：剩下的是客户端线程被唤醒和它的 \
         `send`。没有哪个模型第一次询问时数据就到了：忙轮询每条消息仍要白问约 19 次（思考 2 ms \
         时是几千次），mio、may 和我们自己的运行时在等待之前先试一次（1），先等待的模型一次也不白问（0）。\n\n\
         \x20  </details>\n\n\
         2. 把 `crates/lab/src/phases/pace.rs` 里的 `MESSAGE` 改成 1000 字节。哪一列变长了？\
         每个模型变长的量一样吗？\n\n\
         \x20  <details><summary>提示</summary>\n\n\
         \x20  把多出来的字节和 `memcpy` 每微秒能搬的量比一比，再和两次运行之间的差别比一比。\n\n\
         \x20  </details>\n\
         \x20  <details><summary>答案</summary>\n\n\
         \x20  只有包含拷贝的时间段（到 recv 返回，以及单独的 copy data）会变长，多出来的是多拷贝 \
         950 字节的时间：不到一微秒，而且每个模型都一样，因为每个模型都只拷贝这条消息一次。这比两次\
         运行之间的差别还小，所以表格几乎不动：到达之后的那些时间段是唤醒和调用，不是拷贝。1000 字节\
         在回环接口上仍然是一个数据包，所以\u{201c}一条消息一个包\u{201d}的检查依然成立。\n\n\
         \x20  </details>\n\n\
         3. 运行时让每个核都忙起来（每个核跑一个 `yes > /dev/null`）。哪些模型的 p99 受影响\
         最大？它们有什么共同点？\n\n\
         \x20  <details><summary>提示</summary>\n\n\
         \x20  哪些接收方需要调度器把一个 CPU 从 `yes` 手里交给某个线程？哪一个一直在和 `yes` 抢自己的 CPU？\n\n\
         \x20  </details>\n\
         \x20  <details><summary>答案</summary>\n\n\
         \x20  在这里用两个 `yes` 占满两个核测过一次（`--samples 100`）：忙轮询从到达到数据到手的 \
         p99 从 12 µs 变成 4.3 ms，io_uring 变成 0.83 ms，may 变成 0.23 ms；阻塞和线程池接收方的 \
         wait data p99 涨到 2.9 ms 和 4.9 ms（安静时是 2.1 ms）。它们都需要调度器在 `yes` 占着的 \
         CPU 上运行一个线程：一个被唤醒的线程、一个工作线程，或者忙轮询自己——它的时间片被 `yes` \
         抢走了。睡眠型模型的中位数反而变小了（select 从 22 µs 降到 10 µs）：在忙碌的 CPU 上唤醒线程，\
         省掉了唤醒一个空闲 CPU 的时间。\n\n\
         \x20  </details>\n",
    );
    md
}

/// [`observations`], in Chinese: the same facts from the same numbers.
fn observations_zh(options: &Options, rows: &[Row], copy_alone: &Spread) -> String {
    let stats = |slug: &str| {
        rows.iter()
            .find(|r| r.model.slug == slug)
            .and_then(|r| r.stats.as_ref().ok())
    };
    let d = report::duration;
    let mut out = String::new();
    let late: Vec<String> = rows
        .iter()
        .filter_map(|r| r.stats.as_ref().ok().map(|s| (r.model.name_zh, s.wait.p50)))
        .filter(|(_, wait)| *wait > options.think + Duration::from_millis(1))
        .map(|(name, wait)| format!("{name}（{}）", d(wait)))
        .collect();
    let _ = write!(
        out,
        "- wait data 就是客户端的思考时间（{}）加上它被唤醒和发送的时间：没有哪个模型能让数据来得\
         更早，区别只在于等待期间做了什么。",
        d(options.think)
    );
    if late.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(
            out,
            "这次更长的有：{}。空转的接收方占着客户端发送所需要的核：这就是笔记对非阻塞IO\
             白白占用 CPU 的警告，被测了出来。",
            late.join("、")
        );
    }
    if let Some(busy) = stats("nonblocking") {
        if let Some(notified) = busy.notification {
            let _ = writeln!(
                out,
                "- 忙轮询每条消息白问 {} 次，却在时间戳之后 {} 才看到数据：时间戳是数据包进入内核接收\
                 路径时打的，TCP 自己的处理在那之后。每个模型都要付出这一段；比它更长的通知才是模型\
                 自己的开销。",
                busy.wasted,
                d(notified.p50)
            );
        }
    }
    if let (Some(blocking), Some(select)) = (stats("blocking"), stats("select")) {
        let _ = writeln!(
            out,
            "- 阻塞的 recv 无法拆分：内核唤醒线程，线程在同一个调用里完成拷贝（从到达起 {}）。\
             select 把同一段拆成一次通知（{}）和它自己的一次 recvmsg 调用（{}）。单独测量的拷贝本身\
             是 {}：其余都是唤醒线程和发起调用。",
            d(blocking.copy.p50),
            d(select.notification.map_or(Duration::ZERO, |n| n.p50)),
            d(select.copy.p50),
            d(copy_alone.p50)
        );
    }
    let mut after: Vec<(&str, Duration)> = rows
        .iter()
        .filter_map(|r| {
            r.stats
                .as_ref()
                .ok()
                .map(|s| (r.model.name_zh, s.after.p50))
        })
        .collect();
    after.sort_by_key(|(_, span)| *span);
    if let (Some(first), Some(last)) = (after.first(), after.last()) {
        let _ = writeln!(
            out,
            "- 从数据到达到数据到手：最快的是{}（{}），最慢的是{}（{}）；与等待相比，它们都只是\
             薄薄一片（看图中的放大部分）。",
            first.0,
            d(first.1),
            last.0,
            d(last.1)
        );
    }
    out
}

/// What this run's numbers say, in words: written from the numbers, so it stays true when
/// the page is redone on another machine.
fn observations(options: &Options, rows: &[Row], copy_alone: &Spread) -> String {
    let stats = |slug: &str| {
        rows.iter()
            .find(|r| r.model.slug == slug)
            .and_then(|r| r.stats.as_ref().ok())
    };
    let d = report::duration;
    let mut out = String::new();
    // The wait: the think time, unless the receiver took the client's CPU.
    let late: Vec<String> = rows
        .iter()
        .filter_map(|r| r.stats.as_ref().ok().map(|s| (r.model.name, s.wait.p50)))
        .filter(|(_, wait)| *wait > options.think + Duration::from_millis(1))
        .map(|(name, wait)| format!("{name} ({})", d(wait)))
        .collect();
    let _ = write!(
        out,
        "- Wait data is the client's think time ({}) plus its wake-up and send: no model \
         makes the data come sooner, they differ in what they do meanwhile.",
        d(options.think)
    );
    if late.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(
            out,
            " Longer here: {}. A receiver that spins holds a core the client needs to send \
             on: the notes' warning that non-blocking I/O keeps the CPU busy for nothing, \
             measured.",
            late.join(", ")
        );
    }
    if let Some(busy) = stats("nonblocking") {
        if let Some(notified) = busy.notification {
            let _ = writeln!(
                out,
                "- The busy loop asks {} times per message in vain, yet sees the data only {} \
                 after the stamp: the stamp is taken as the packet enters the kernel's receive \
                 path, and TCP's own processing comes after it. Every model pays that; a \
                 notification longer than it is the model's own cost.",
                busy.wasted,
                d(notified.p50)
            );
        }
    }
    if let (Some(blocking), Some(select)) = (stats("blocking"), stats("select")) {
        let _ = writeln!(
            out,
            "- A blocking recv cannot be split: the kernel wakes the thread and the thread \
             copies in the same call ({} from the arrival). select splits the same span into \
             a notification ({}) and a recvmsg call of its own ({}). The copy itself, timed \
             alone, is {}: the rest is waking the thread and making the calls.",
            d(blocking.copy.p50),
            d(select.notification.map_or(Duration::ZERO, |n| n.p50)),
            d(select.copy.p50),
            d(copy_alone.p50)
        );
    }
    let mut after: Vec<(&str, Duration)> = rows
        .iter()
        .filter_map(|r| r.stats.as_ref().ok().map(|s| (r.model.name, s.after.p50)))
        .collect();
    after.sort_by_key(|(_, span)| *span);
    if let (Some(first), Some(last)) = (after.first(), after.last()) {
        let _ = writeln!(
            out,
            "- From the arrival to the bytes in hand: quickest {} ({}), slowest {} ({}); next \
             to the wait, every one of them is a sliver (see the figures' zoom).",
            first.0,
            d(first.1),
            last.0,
            d(last.1)
        );
    }
    out
}

/// The path from the page's folder to the phases sources, for mdBook's `#include`.
fn sources_from(out: &Path) -> String {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/phases");
    match (out.canonicalize(), sources.canonicalize()) {
        (Ok(out), Ok(sources)) => relative(&out, &sources),
        // The usual layout: the page in docs/src, the sources two levels up.
        _ => "../../crates/lab/src/phases".to_string(),
    }
}

/// `to` as seen from `from`, both absolute: up to the common ancestor, then down.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..".to_string(), from.len() - common);
    let downs = to[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}

/// "AMD EPYC 7B13, 2 cores, Linux 6.1.0 x86_64": enough to compare two runs' machines.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = nix::sys::utsname::uname().map_or_else(
        |_| "Linux".to_string(),
        |u| {
            format!(
                "{} {} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            )
        },
    );
    format!("{cpu}, {cores} cores, {kernel}")
}

/// The 1-minute load average, as `/proc/loadavg` says: how busy the machine was.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .map_or_else(
            || "unknown".to_string(),
            |one| format!("1-minute load average {one}"),
        )
}

/// Now as `YYYY-MM-DD HH:MM UTC` (the bench's page says when it was measured with it too).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let (hh, mm) = (secs % 86_400 / 3_600, secs % 3_600 / 60);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's `civil_from_days`): a date
/// is all the page needs, so no calendar crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn both_languages_have_the_same_listings_figures_and_exercises() {
        let options = Options {
            think: Duration::from_millis(2),
            samples: 1,
            out: "docs/src".into(),
            out_zh: "docs/zh/src".into(),
            command: "cargo lab phases".into(),
        };
        let rows: Vec<Row> = super::super::MODELS
            .iter()
            .map(|m| Row::new(m, super::super::Outcome::Unavailable("a test".into())))
            .collect();
        let copy = Spread {
            p50: Duration::from_micros(3),
            p99: Duration::from_micros(4),
        };
        let en = crate::parity::skeleton(&markdown(&options, &rows, &copy, "../../x"));
        let zh = crate::parity::skeleton(&markdown_zh(&options, &rows, &copy, "../../../x"));
        assert_eq!(en, zh);
        assert_eq!(en.includes.len(), super::super::MODELS.len() + 2);
        assert_eq!(en.exercises, 3);
    }

    #[test]
    fn relative_paths_go_up_then_down() {
        let from = Path::new("/w/docs/src");
        let to = Path::new("/w/crates/lab/src/phases");
        assert_eq!(relative(from, to), "../../crates/lab/src/phases");
    }
}
