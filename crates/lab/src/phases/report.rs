//! The numbers: median and p99 of each phase, per model, as a table for the terminal and
//! the book.
//!
//! Medians, because a phase of a few microseconds is easily stretched by one unlucky
//! preemption on a shared machine; p99, to show how often that happens.

use super::{Model, Outcome, Shape};
use std::fmt::Write;
use std::time::Duration;

/// The middle and the tail of one phase over all samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    pub p50: Duration,
    pub p99: Duration,
}

impl Spread {
    /// Nearest-rank percentiles; `None` for no values.
    pub fn of(mut values: Vec<Duration>) -> Option<Spread> {
        values.sort_unstable();
        let rank = |p: f64| {
            let rank = (p * values.len() as f64).ceil() as usize;
            values[rank.clamp(1, values.len()) - 1]
        };
        (!values.is_empty()).then(|| Spread {
            p50: rank(0.50),
            p99: rank(0.99),
        })
    }

    /// `p50 / p99`, each in the unit that suits it.
    pub fn cell(&self) -> String {
        format!("{} / {}", duration(self.p50), duration(self.p99))
    }
}

/// One model's phases over all its samples.
#[derive(Clone, Debug)]
pub struct Stats {
    pub shape: Shape,
    pub samples: usize,
    /// Samples whose instants were out of order (a realtime clock step): left out.
    pub dropped: usize,
    pub wait: Spread,
    /// `None` for a one-step model.
    pub notification: Option<Spread>,
    /// Until the receive returns (see [`super::Phases::copy`]): the wake-up plus the copy for
    /// a one-step model or a pool worker, one `recvmsg` on queued data for a readiness model.
    pub copy: Spread,
    /// Arrival to bytes in hand and told.
    pub after: Spread,
    /// Median `recvmsg` calls per message that found nothing.
    pub wasted: u64,
}

/// One line of the table: a model and what was measured, or why nothing was.
pub struct Row {
    pub model: &'static Model,
    pub stats: Result<Stats, String>,
}

impl Row {
    pub fn new(model: &'static Model, outcome: Outcome) -> Row {
        let stats = match outcome {
            Outcome::Unavailable(why) => Err(why),
            Outcome::Measured(samples) => stats(&samples),
        };
        Row { model, stats }
    }

    /// A short progress line for the terminal.
    pub fn one_line(&self) -> String {
        match &self.stats {
            Ok(s) => format!(
                "wait {}, then {} from arrival to bytes in hand  ({} samples)",
                duration(s.wait.p50),
                duration(s.after.p50),
                s.samples
            ),
            Err(why) => format!("skipped: {why}"),
        }
    }
}

fn stats(samples: &[super::Sample]) -> Result<Stats, String> {
    let phases: Vec<_> = samples.iter().filter_map(|s| s.phases()).collect();
    let shape = samples
        .first()
        .map(|s| s.received.after.shape())
        .ok_or("no samples")?;
    let spread = |f: &dyn Fn(&super::Phases) -> Duration| {
        Spread::of(phases.iter().map(f).collect()).ok_or("every sample was dropped")
    };
    let mut wasted: Vec<u64> = samples.iter().map(|s| s.received.wasted).collect();
    wasted.sort_unstable();
    Ok(Stats {
        shape,
        samples: phases.len(),
        dropped: samples.len() - phases.len(),
        wait: spread(&|p| p.wait)?,
        notification: match shape {
            Shape::OneStep => None,
            _ => Some(spread(&|p| p.notification.unwrap_or_default())?),
        },
        copy: spread(&|p| p.copy)?,
        after: spread(&|p| p.after_arrival())?,
        wasted: wasted[wasted.len() / 2],
    })
}

/// A duration in the unit that suits it: `2.07 ms`, `13.4 µs`, `0.85 µs`.
pub fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    match micros {
        m if m < 10.0 => format!("{m:.2} µs"),
        m if m < 1_000.0 => format!("{m:.1} µs"),
        m if m < 10_000.0 => format!("{:.2} ms", m / 1e3),
        m if m < 1_000_000.0 => format!("{:.1} ms", m / 1e3),
        m => format!("{:.2} s", m / 1e6),
    }
}

const HEADER: [&str; 7] = [
    "model",
    "section",
    "wait data 等待数据 p50 / p99",
    "notification p50 / p99",
    "until recv returns p50 / p99",
    "arrival → in hand p50 / p99",
    "EAGAIN / msg",
];

const HEADER_ZH: [&str; 7] = [
    "模型",
    "笔记章节",
    "wait data 等待数据 p50 / p99",
    "通知 p50 / p99",
    "到 recv 返回 p50 / p99",
    "到达 → 到手 p50 / p99",
    "EAGAIN / 条",
];

/// The table, as Markdown whose columns also line up in a terminal; in Chinese if `zh`.
pub fn table(rows: &[Row], zh: bool) -> String {
    let header = if zh { HEADER_ZH } else { HEADER };
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for row in rows {
        let name = if zh {
            row.model.name_zh
        } else {
            row.model.name
        };
        let mut cells = vec![name.to_string(), row.model.section.to_string()];
        match &row.stats {
            Ok(s) => cells.extend([
                s.wait.cell(),
                match (s.shape, s.notification) {
                    (Shape::CopyThenNotify, Some(n)) if zh => format!("{}（拷贝之后）", n.cell()),
                    (Shape::CopyThenNotify, Some(n)) => format!("{} (after copy)", n.cell()),
                    (_, Some(n)) => n.cell(),
                    (_, None) if zh => "与 recv 合为一步".to_string(),
                    (_, None) => "one step with the recv".to_string(),
                },
                s.copy.cell(),
                s.after.cell(),
                s.wasted.to_string(),
            ]),
            Err(why) => {
                cells.push(if zh {
                    format!("无法测量：{why}")
                } else {
                    format!("unavailable: {why}")
                });
                cells.extend(std::iter::repeat_n(String::new(), 4));
            }
        }
        lines.push(cells);
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|c| lines.iter().map(|l| width(&l[c])).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - width(cell))))
            .collect();
        let _ = writeln!(out, "| {} |", padded.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

/// What the table's cells mean, and anything odd about this run. `copy_alone` is
/// [`super::copy::measure`]'s result: the copy with nothing else in the way.
pub fn notes(rows: &[Row], copy_alone: &Spread, zh: bool) -> String {
    if zh {
        return notes_zh(rows, copy_alone);
    }
    let mut out = String::from(
        "- until recv returns: for a one-step model, from the arrival until the call returns \
         (a blocking recvmsg, or an io_uring completion that arrives with the bytes already \
         copied): the sleeping thread's wake-up plus the copy. For a told-then-receive \
         model, from being told until its recvmsg returns: one system call on data already \
         queued. For the pool, the worker's wake-up plus its copy.\n\
         - one step with the recv: the call that tells is the call that copies, so nothing \
         between the arrival and its return can be told apart from outside.\n\
         - after copy: a pool worker receives, then the caller's callback is told.\n\
         - EAGAIN / msg: median recvmsg calls per message that found nothing.\n",
    );
    let _ = writeln!(
        out,
        "- copy data 拷贝数据 alone: {} (p50 / p99), a recv of the same {} bytes already \
         queued, timed with nothing to wait for (the system call included). The rest of \
         every span after the arrival is waking a thread and making calls, not copying.",
        copy_alone.cell(),
        super::pace::MESSAGE.len()
    );
    for row in rows {
        if let Ok(s) = &row.stats {
            if s.dropped > 0 {
                let _ = writeln!(
                    out,
                    "- {}: {} samples dropped, the realtime clock stepped during them.",
                    row.model.name, s.dropped
                );
            }
        }
    }
    out
}

/// [`notes`], in Chinese.
fn notes_zh(rows: &[Row], copy_alone: &Spread) -> String {
    let mut out = String::from(
        "- 到 recv 返回：对一步完成的模型，是从数据到达到调用返回（阻塞的 recvmsg，或数据已经\
         拷贝好才送达的 io_uring 完成通知）：睡着的线程被唤醒，再加上拷贝。对先通知、再接收的\
         模型，是从得到通知到 recvmsg 返回：对已经排队的数据做一次系统调用。对线程池，是工作\
         线程被唤醒再加上它的拷贝。\n\
         - 与 recv 合为一步：发出通知的调用就是做拷贝的调用，从外面分不出到达与返回之间的各段。\n\
         - 拷贝之后：池内工作线程先接收，然后调用方的回调才得到通知。\n\
         - EAGAIN / 条：每条消息有几次 recvmsg 什么也没拿到（中位数）。\n",
    );
    let _ = writeln!(
        out,
        "- 单独的 copy data 拷贝数据：{}（p50 / p99），对同样 {} 字节、已经排好队的数据做一次 \
         recv，没有任何等待（含系统调用本身）。数据到达之后的其余时间都花在唤醒线程和发起调用上，\
         而不是拷贝。",
        copy_alone.cell(),
        super::pace::MESSAGE.len()
    );
    for row in rows {
        if let Ok(s) = &row.stats {
            if s.dropped > 0 {
                let _ = writeln!(
                    out,
                    "- {}：丢弃了 {} 个样本，测量期间实时时钟发生了跳变。",
                    row.model.name_zh, s.dropped
                );
            }
        }
    }
    out
}

/// Columns a string takes in a terminal: CJK ideographs and punctuation take two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(us).collect();
        let spread = Spread::of(values).unwrap();
        assert_eq!(
            spread,
            Spread {
                p50: us(50),
                p99: us(99)
            }
        );
        assert_eq!(Spread::of(vec![us(7)]).unwrap().p99, us(7));
        assert_eq!(Spread::of(vec![]), None);
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(Duration::from_nanos(850)), "0.85 µs");
        assert_eq!(duration(us(134)), "134.0 µs");
        assert_eq!(duration(us(2_071)), "2.07 ms");
        assert_eq!(duration(Duration::from_millis(200)), "200.0 ms");
    }

    #[test]
    fn chinese_takes_two_columns() {
        assert_eq!(width("三 阻塞IO"), 2 + 1 + 4 + 2);
    }
}
