//! The figures: one timeline per model in the spirit of Stevens' figure 6.6, drawn to scale
//! from the measured medians, and one overview of every model.
//!
//! Wait data is thousands of times longer than what follows the arrival, so to scale the
//! wake-up and the receive would be far thinner than a pixel. Each timeline therefore has a zoom inset: the
//! span from the arrival to the bytes in hand, magnified to the figure's width, on its own
//! axis in microseconds. Hand-written SVG: a few rectangles and labels need no library.

use super::report::{duration, Row, Stats};
use super::{Model, Shape};
use std::fmt::Write;
use std::time::Duration;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 20.0;
const RIGHT: f64 = WIDTH - 20.0;
const BAR: f64 = 26.0;

const WAIT: &str = "#8fb3c9";
const NOTIFY: &str = "#f0a04b";
const COPY: &str = "#c8433a";
const ONE_STEP: &str = "#8e5ea2";
const INK: &str = "#222";
const GREY: &str = "#666";

/// How a piece of text looks, and which of its points `x` names.
#[derive(Clone, Copy)]
struct Style {
    size: f64,
    fill: &'static str,
    bold: bool,
    anchor: &'static str,
}

const TITLE: Style = Style {
    size: 15.0,
    fill: INK,
    bold: true,
    anchor: "start",
};
const LABEL: Style = Style {
    size: 12.0,
    fill: INK,
    bold: false,
    anchor: "start",
};
const NAME: Style = Style {
    bold: true,
    ..LABEL
};
const NOTE: Style = Style {
    size: 11.0,
    fill: GREY,
    bold: false,
    anchor: "start",
};
const NOTE_END: Style = Style {
    anchor: "end",
    ..NOTE
};
const MARK: Style = Style {
    fill: INK,
    anchor: "middle",
    ..NOTE
};
const SMALL: Style = Style { size: 10.0, ..NOTE };
const TICK: Style = Style {
    anchor: "middle",
    ..SMALL
};

/// One segment of a timeline, in order.
struct Segment {
    label: &'static str,
    colour: &'static str,
    length: Duration,
}

/// The segments after the arrival, in the order they happen.
fn after_arrival(stats: &Stats) -> Vec<Segment> {
    let notify = Segment {
        label: "notification 通知",
        colour: NOTIFY,
        length: stats.notification.map(|n| n.p50).unwrap_or_default(),
    };
    // Named for what they measure: only a small part of either is the copy itself.
    let recv_call = Segment {
        label: "recv call 接收调用",
        colour: COPY,
        length: stats.copy.p50,
    };
    let worker = Segment {
        label: "worker wake-up + copy 工作线程唤醒+拷贝",
        ..recv_call
    };
    match stats.shape {
        Shape::OneStep => vec![Segment {
            label: "wake-up + copy: one step 唤醒+拷贝，一步完成",
            colour: ONE_STEP,
            length: stats.copy.p50,
        }],
        Shape::NotifyThenCopy => vec![notify, recv_call],
        Shape::CopyThenNotify => vec![worker, notify],
    }
}

/// A model's timeline: the whole sample to scale, and the part after the arrival magnified.
pub fn timeline(model: &Model, stats: &Stats) -> String {
    let segments = after_arrival(stats);
    let after: Duration = segments.iter().map(|s| s.length).sum();
    let total = stats.wait.p50 + after;
    let mut svg = Svg::new(WIDTH, 286.0);
    // Both languages: the English and the Chinese page show this one figure.
    let title = if model.name_zh == model.name {
        format!("{} · {}", model.name, model.section)
    } else {
        format!("{} · {} · {}", model.name, model.name_zh, model.section)
    };
    svg.text(LEFT, 24.0, TITLE, &title);
    svg.text(
        LEFT,
        44.0,
        Style {
            fill: GREY,
            ..LABEL
        },
        &format!(
            "median of {} messages · while waiting: {}",
            stats.samples, model.waiting
        ),
    );
    svg.text(
        LEFT,
        62.0,
        Style {
            fill: GREY,
            ..LABEL
        },
        &format!(
            "{} 条消息的中位数 · 等待期间：{}",
            stats.samples, model.waiting_zh
        ),
    );

    // The whole sample, to scale.
    let scale = (RIGHT - LEFT) / secs(total).max(1e-9);
    let x = |d: Duration| LEFT + secs(d) * scale;
    let arrival_x = x(stats.wait.p50);
    let top = 88.0;
    svg.rect(LEFT, top, arrival_x - LEFT, BAR, WAIT);
    let wait = format!("wait data 等待数据 {}", duration(stats.wait.p50));
    svg.text(LEFT + 8.0, top + 17.0, LABEL, &wait);
    let mut at = arrival_x;
    for segment in &segments {
        let w = secs(segment.length) * scale;
        svg.rect(at, top, w, BAR, segment.colour);
        at += w;
    }
    svg.text(LEFT, top - 6.0, NOTE, "① start waiting 开始等待");
    svg.text(
        RIGHT,
        top - 6.0,
        NOTE_END,
        "② arrival and after: magnified below 到达及之后（下方放大）",
    );
    svg.axis(LEFT, top + BAR, total, scale);

    // The zoom: a box around the part after the arrival, widened so it can be seen and
    // reaching below the axis labels, and lines from it down to the magnified part.
    let zoom_left = arrival_x.min(RIGHT - 6.0) - 2.0;
    let zoom_bottom = top + BAR + 24.0;
    let inset = 178.0;
    let _ = writeln!(
        svg.body,
        r#"<rect x="{zoom_left:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="{INK}" stroke-dasharray="3 2"/>"#,
        top - 3.0,
        RIGHT + 2.0 - zoom_left,
        zoom_bottom - (top - 3.0)
    );
    for (from, to) in [(zoom_left, LEFT), (RIGHT + 2.0, RIGHT)] {
        svg.line(from, zoom_bottom, to, inset - 16.0, GREY, true);
    }

    // The magnified part after the arrival, on its own axis.
    let zoom_scale = (RIGHT - LEFT) / secs(after).max(1e-9);
    let mut at = LEFT;
    let mut instants = vec![(LEFT, "②")];
    let marks = match stats.shape {
        Shape::OneStep => vec!["③④"],
        Shape::NotifyThenCopy => vec!["③", "④"],
        Shape::CopyThenNotify => vec!["④", "③"],
    };
    for (segment, mark) in segments.iter().zip(marks) {
        // Never thinner than 2 px: a phase that took time must show.
        let w = (secs(segment.length) * zoom_scale).max(2.0);
        svg.rect(at, inset, w, BAR, segment.colour);
        at += w;
        instants.push((at.min(RIGHT), mark));
    }
    for (x, mark) in instants {
        svg.text(x, inset - 4.0, MARK, mark);
    }
    svg.axis(LEFT, inset + BAR, after, zoom_scale);

    // The legend says what each magnified colour is and how long it took.
    let mut x = LEFT;
    for segment in &segments {
        svg.rect(x, 240.0, 12.0, 12.0, segment.colour);
        let label = format!("{} {}", segment.label, duration(segment.length));
        svg.text(x + 16.0, 250.0, LABEL, &label);
        x += 40.0 + text_width(&label);
    }
    let stamp = "② arrival = the kernel's receive timestamp 到达 = 内核接收时间戳";
    svg.text(RIGHT, 274.0, NOTE_END, stamp);
    svg.finish()
}

/// Every model at once: the wait on one scale, what follows the arrival on another.
pub fn overview(rows: &[Row]) -> String {
    let measured: Vec<(&Model, &Stats)> = rows
        .iter()
        .filter_map(|r| r.stats.as_ref().ok().map(|s| (r.model, s)))
        .collect();
    let longest_wait = measured.iter().map(|(_, s)| s.wait.p50).max();
    let longest_after = measured.iter().map(|(_, s)| s.after.p50).max();
    let row_height = 34.0;
    let top = 84.0;
    // The legend wraps onto a second line: its labels carry both languages.
    let height = top + row_height * rows.len() as f64 + 62.0;
    let mut svg = Svg::new(WIDTH, height);
    let title = "Every model, median message: wait data (left), after the arrival (right, \
                 magnified)";
    svg.text(LEFT, 24.0, TITLE, title);
    svg.text(
        LEFT,
        48.0,
        TITLE,
        "各模型的中位数消息：左为 wait data，右为到达之后（放大）",
    );
    let (name_w, wait_left, wait_right, after_left, after_right) =
        (LEFT, 220.0, 400.0, 430.0, RIGHT - 70.0);
    let wait_scale = (wait_right - wait_left) / secs(longest_wait.unwrap_or_default()).max(1e-9);
    let after_scale =
        (after_right - after_left) / secs(longest_after.unwrap_or_default()).max(1e-9);
    for (x, longest) in [(wait_left, longest_wait), (after_left, longest_after)] {
        let range = format!("0 … {}", duration(longest.unwrap_or_default()));
        svg.text(x, top - 12.0, NOTE, &range);
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + row_height * i as f64;
        svg.text(name_w, y + 12.0, NAME, row.model.name);
        svg.text(name_w, y + 25.0, SMALL, row.model.section);
        let stats = match &row.stats {
            Ok(stats) => stats,
            Err(why) => {
                let why: String = why.chars().take(70).collect();
                svg.text(wait_left, y + 16.0, NOTE, &format!("unavailable: {why}"));
                continue;
            }
        };
        svg.rect(
            wait_left,
            y + 4.0,
            secs(stats.wait.p50) * wait_scale,
            18.0,
            WAIT,
        );
        let mut x = after_left;
        for segment in after_arrival(stats) {
            let w = (secs(segment.length) * after_scale).max(1.5);
            svg.rect(x, y + 4.0, w, 18.0, segment.colour);
            x += w;
        }
        svg.text(
            x + 6.0,
            y + 17.0,
            Style { fill: INK, ..NOTE },
            &duration(stats.after.p50),
        );
    }
    let mut legend_y = top + row_height * rows.len() as f64 + 16.0;
    let mut x = LEFT;
    for (colour, label) in [
        (WAIT, "wait data 等待数据"),
        (NOTIFY, "notification 通知"),
        (COPY, "recv call (copy inside) 接收调用（含拷贝）"),
        (ONE_STEP, "wake-up + copy in one step 唤醒+拷贝一步完成"),
    ] {
        if x + 16.0 + text_width(label) > WIDTH - LEFT {
            x = LEFT;
            legend_y += 22.0;
        }
        svg.rect(x, legend_y, 12.0, 12.0, colour);
        svg.text(x + 16.0, legend_y + 10.0, LABEL, label);
        x += 30.0 + text_width(label);
    }
    svg.finish()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A step of 1, 2 or 5 times a power of ten that cuts `range` into about five ticks.
fn tick_step(range: f64) -> f64 {
    let raw = range / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// A tick's label in the unit of its axis, with as many decimals as the step needs:
/// `0`, `0.5 ms`, `1.0 ms`; `0`, `10 µs`, `20 µs`.
fn tick_label(tick: f64, step: f64) -> String {
    if tick == 0.0 {
        return "0".to_string();
    }
    let (unit, scale) = match step {
        s if s >= 1.0 => ("s", 1.0),
        s if s >= 1e-4 => ("ms", 1e3),
        _ => ("µs", 1e6),
    };
    let decimals = (-(step * scale).log10().floor()).max(0.0) as usize;
    format!("{:.*} {unit}", decimals, tick * scale)
}

/// The SVG being drawn.
struct Svg {
    body: String,
    width: f64,
    height: f64,
}

impl Svg {
    fn new(width: f64, height: f64) -> Svg {
        Svg {
            body: String::new(),
            width,
            height,
        }
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{h:.2}" fill="{fill}"/>"#,
            w.max(0.0)
        );
        self.body.push('\n');
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, dashed: bool) {
        let dash = if dashed {
            r#" stroke-dasharray="3 2""#
        } else {
            ""
        };
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{stroke}"{dash}/>"#
        );
    }

    fn text(&mut self, x: f64, y: f64, style: Style, text: &str) {
        let Style {
            size,
            fill,
            bold,
            anchor,
        } = style;
        let weight = if bold { "bold" } else { "normal" };
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.2}" y="{y:.2}" font-size="{size}" fill="{fill}" font-weight="{weight}" text-anchor="{anchor}">{}</text>"#,
            escape(text)
        );
    }

    /// A time axis under a bar starting at `left`: `range` long, `scale` pixels a second.
    fn axis(&mut self, left: f64, y: f64, range: Duration, scale: f64) {
        let range = secs(range);
        if range <= 0.0 {
            return;
        }
        self.line(left, y + 2.0, left + range * scale, y + 2.0, GREY, false);
        let step = tick_step(range);
        // Counted, not summed, so rounding cannot add or lose a tick.
        let ticks = (range / step + 1e-6).floor() as usize;
        for i in 0..=ticks {
            let tick = step * i as f64;
            let x = left + tick * scale;
            self.line(x, y + 2.0, x, y + 6.0, GREY, false);
            let label = tick_label(tick, step);
            self.text(x, y + 17.0, TICK, &label);
        }
    }

    fn finish(self) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">
<rect width="{w}" height="{h}" fill="white"/>
{body}</svg>
"#,
            w = self.width,
            h = self.height,
            body = self.body
        )
    }
}

/// Text for an SVG element: the three characters XML reserves, escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Roughly how wide `text` is at the label size: a CJK character takes about twice the
/// width of a Latin one.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 12.5 } else { 6.6 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::report::Spread;

    fn spread(us: u64) -> Spread {
        let d = Duration::from_micros(us);
        Spread { p50: d, p99: d }
    }

    fn stats(shape: Shape) -> Stats {
        Stats {
            shape,
            samples: 10,
            dropped: 0,
            wait: spread(2_000),
            notification: (shape != Shape::OneStep).then(|| spread(10)),
            copy: spread(2),
            after: spread(12),
            wasted: 0,
        }
    }

    #[test]
    fn a_timeline_magnifies_what_follows_the_arrival() {
        let svg = timeline(&crate::phases::MODELS[2], &stats(Shape::NotifyThenCopy));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("wait data 等待数据 2.00 ms"));
        assert!(svg.contains("notification 通知 10.0 µs"));
        assert!(svg.contains("recv call 接收调用 2.00 µs"));
        // In the inset the 12 µs after the arrival fill the 720 px: the copy is a fifth of
        // the notification, not a sliver.
        assert!(svg.contains(r#"width="600.00""#), "{svg}");
        assert!(svg.contains(r#"width="120.00""#), "{svg}");
    }

    #[test]
    fn a_one_step_model_has_one_segment_after_the_arrival() {
        let svg = timeline(&crate::phases::MODELS[0], &stats(Shape::OneStep));
        assert!(svg.contains("wake-up + copy: one step"));
        assert!(!svg.contains("notification "));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & c>"), "a&lt;b &amp; c&gt;");
    }

    #[test]
    fn ticks_are_round() {
        let close = |a: f64, b: f64| (a - b).abs() < b * 1e-9;
        assert!(close(tick_step(2.07e-3), 5e-4));
        assert!(close(tick_step(12e-6), 5e-6));
        assert!(close(tick_step(1.0), 0.2));
        assert_eq!(tick_label(1.5e-3, 5e-4), "1.5 ms");
        assert_eq!(tick_label(20e-6, 10e-6), "20 µs");
        assert_eq!(tick_label(0.0, 10e-6), "0");
    }
}
