//! The book's page: `docs/src/phases.md` and its figures, written from a real run.
//!
//! Generated, not hand-written, so that it can always be redone on the reader's machine
//! and never drifts from the code: the receive functions are included by anchor, the
//! numbers and figures come from the run.

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
    Ok(written)
}

/// The page's text. `sources` is the path from the page to `crates/lab/src/phases`.
pub fn markdown(options: &Options, rows: &[Row], copy_alone: &Spread, sources: &str) -> String {
    let mut md = String::new();
    let _ = write!(
        md,
        "# The two phases, measured: 等待数据 wait data, 拷贝数据 copy data\n\n\
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
    md.push_str(&report::table(rows));
    md.push('\n');
    md.push_str(&report::notes(rows, copy_alone));
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
         when they first ask (look at EAGAIN / msg)?\n\
         2. Make `MESSAGE` in `crates/lab/src/phases/pace.rs` 1000 bytes long. Which column \
         grows, and is it by the same amount for every model?\n\
         3. Keep every core busy (one `yes > /dev/null` per core) while it runs. Which \
         models' p99 suffer most, and what do they have in common?\n",
    );
    md
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
    fn relative_paths_go_up_then_down() {
        let from = Path::new("/w/docs/src");
        let to = Path::new("/w/crates/lab/src/phases");
        assert_eq!(relative(from, to), "../../crates/lab/src/phases");
    }
}
