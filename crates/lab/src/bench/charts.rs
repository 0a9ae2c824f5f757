//! The SVG charts embedded in `results.md`, drawn with plotters.
//!
//! - Lines against the connection count (both axes logarithmic where values span orders of
//!   magnitude) as **small multiples**: one panel per model family (crate), every panel on
//!   the same axes and with the two tokio baselines dashed in black and grey, so each model
//!   is read against the yardstick without fifteen lines on one plot.
//! - **Bars** for what one cell costs: system calls per round trip (from the counting pass),
//!   and CPU per round trip stacked as user over kernel time, per variant, at 100 and 1000
//!   connections; and CPU per connection under churn, stacked the same way.
//!
//! One colour family per crate: its variants are shades of one hue, in every chart.
//! plotters' SVG backend writes text as SVG `<text>`; without its `ttf` feature (which needs
//! the system's fontconfig) it estimates text widths, which is enough for labels.

use super::entrants::Kind;
use super::report::{CHURN_FIGURE, FIGURES};
use super::results::{Measured, Outcome, Results};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A line figure: which number of a cell it plots.
struct Figure {
    file: &'static str,
    y_label: &'static str,
    value: fn(&Measured, usize) -> Option<f64>,
    /// A log axis where values span orders of magnitude (latency, memory); a linear one
    /// from zero where differences should look like differences (throughput, CPU).
    log_y: bool,
}

const LINES: &[Figure] = &[
    Figure {
        file: "bench-rps.svg",
        y_label: "round trips per second · 每秒往返次数",
        value: |m, _| Some(m.rps),
        log_y: false,
    },
    Figure {
        file: "bench-cpu.svg",
        y_label: "server CPU µs per round trip · 每次往返的 CPU µs",
        value: |m, _| m.cpu_us_per_rt,
        log_y: false,
    },
    Figure {
        file: "bench-p99.svg",
        y_label: "p99 latency, µs · p99 延迟",
        value: |m, _| Some(m.p99_us as f64),
        log_y: true,
    },
    Figure {
        file: "bench-memory.svg",
        y_label: "KiB per connection (peak RSS less idle) · 每连接 KiB",
        value: |m, conns| m.kib_per_conn(conns),
        log_y: true,
    },
];

/// Connection counts the bar charts show, when the run has them.
const BAR_CONNS: &[usize] = &[100, 1000];

/// A hue per crate (Tableau's 10): its variants are shades of it.
const HUES: &[(&str, RGBColor)] = &[
    ("blocking-io", RGBColor(31, 119, 180)),
    ("nonblocking-io", RGBColor(255, 127, 14)),
    ("multiplexing", RGBColor(44, 160, 44)),
    ("async-callback", RGBColor(214, 39, 40)),
    ("coroutine-spawn", RGBColor(148, 103, 189)),
    ("own-gevent", RGBColor(140, 86, 75)),
    ("python", RGBColor(227, 119, 194)),
];
const OTHER_HUE: RGBColor = RGBColor(23, 190, 207);

const PANEL: (u32, u32) = (420, 300);
const COLUMNS: u32 = 3;

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The crate part of `crate/variant`.
fn family(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// `name`'s colour: its crate's hue, lighter for each later variant of the crate.
fn colour(name: &str, shade: usize, kind: Kind) -> RGBColor {
    if kind == Kind::Baseline {
        return if name.ends_with("current") {
            BLACK
        } else {
            RGBColor(120, 120, 120)
        };
    }
    let hue = HUES
        .iter()
        .find(|(f, _)| *f == family(name))
        .map_or(OTHER_HUE, |(_, c)| *c);
    // Darker first, then towards white: 0, 30%, 50%, 65% mixed with white.
    let mix = [0.0, 0.3, 0.5, 0.65][shade.min(3)];
    let towards = |c: u8| (c as f64 + (255.0 - c as f64) * mix) as u8;
    RGBColor(towards(hue.0), towards(hue.1), towards(hue.2))
}

/// Each variant's index among the variants of its crate, in the run's order.
fn shade(results: &Results, name: &str) -> usize {
    let mut seen: Vec<&str> = Vec::new();
    for c in &results.cells {
        if family(&c.variant) == family(name) && !seen.contains(&c.variant.as_str()) {
            seen.push(&c.variant);
        }
    }
    seen.iter().position(|v| *v == name).unwrap_or(0)
}

/// Draws every chart into `dir`, returning the files written.
pub fn draw_all(results: &Results, dir: &Path) -> crate::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    // Both languages in every title and label: the English and the Chinese page show the
    // same chart files.
    let title = |file: &str| -> String {
        if file == CHURN_FIGURE.0 {
            return format!("{} · {}", CHURN_FIGURE.1, super::report::CHURN_FIGURE_ZH);
        }
        FIGURES
            .iter()
            .position(|(f, _)| *f == file)
            .map_or(file.to_string(), |i| {
                format!("{} · {}", FIGURES[i].1, super::report::FIGURES_ZH[i])
            })
    };
    let fail =
        |path: &Path, e: Box<dyn std::error::Error>| -> Box<dyn std::error::Error + Send + Sync> {
            format!("drawing {}: {e}", path.display()).into()
        };
    for figure in LINES {
        let path = dir.join(figure.file);
        draw_lines(results, &path, &title(figure.file), figure).map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    let conns = bar_conns(results);
    let path = dir.join("bench-syscalls.svg");
    let bars = echo_bars(results, &conns, |m| match m.count.as_ref() {
        None => (Vec::new(), Some("not counted in this run".into())),
        Some(count) => match count.syscalls_per_rt() {
            Some(calls) => (vec![calls], None),
            None => (Vec::new(), Some("perf could not count (see notes)".into())),
        },
    });
    draw_bars(
        &path,
        &title("bench-syscalls.svg"),
        "system calls per round trip (perf, counting pass) · 每次往返的系统调用",
        &bars,
        &["system calls 系统调用"],
    )
    .map_err(|e| fail(&path, e))?;
    written.push(path);
    let path = dir.join("bench-cpu-split.svg");
    let bars = echo_bars(results, &conns, |m| {
        split_parts(m.cpu_us_per_rt, m.user_us_per_rt, m.kernel_us_per_rt)
    });
    draw_bars(
        &path,
        &title("bench-cpu-split.svg"),
        "server CPU µs per round trip · 每次往返的 CPU µs",
        &bars,
        &["user 用户态", "kernel 内核态"],
    )
    .map_err(|e| fail(&path, e))?;
    written.push(path);
    if !results.churn.is_empty() {
        let path = dir.join("bench-churn.svg");
        let panel: Vec<Bar> = results
            .churn
            .iter()
            .filter_map(|c| {
                let m = c.outcome.as_ref().ok()?;
                let (parts, note) =
                    split_parts(m.cpu_us_per_conn, m.user_us_per_conn, m.kernel_us_per_conn);
                Some(Bar {
                    name: c.variant.clone(),
                    colour: colour(&c.variant, shade(results, &c.variant), c.kind),
                    parts,
                    note,
                })
            })
            .collect();
        draw_bars(
            &path,
            &title("bench-churn.svg"),
            "server CPU µs per connection · 每个连接的 CPU µs",
            &[("connection churn 短连接".to_string(), panel)],
            &["user 用户态", "kernel 内核态"],
        )
        .map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// The connection counts the bar charts show: 100 and 1000 if the run has them, else its
/// first count.
fn bar_conns(results: &Results) -> Vec<usize> {
    let grid = &results.grid.conns;
    let wanted: Vec<usize> = BAR_CONNS
        .iter()
        .copied()
        .filter(|c| grid.contains(c))
        .collect();
    if wanted.is_empty() {
        grid.first().copied().into_iter().collect()
    } else {
        wanted
    }
}

/// One server's line in a panel.
struct Series {
    name: String,
    kind: Kind,
    points: Vec<(f64, f64)>,
}

/// Every server's points at the headline size, in the report's order (baselines first).
fn collect(results: &Results, figure: &Figure) -> Vec<Series> {
    let size = results.grid.sizes.first().copied().unwrap_or(64);
    let mut series: Vec<Series> = Vec::new();
    for cell in results.cells.iter().filter(|c| c.size == size) {
        // Only the echo grid's counts: a large-message cell at the same size is not a point.
        if !results.grid.conns.contains(&cell.conns) {
            continue;
        }
        let Outcome::Ran(m) = &cell.outcome else {
            continue;
        };
        let index = match series.iter().position(|s| s.name == cell.variant) {
            Some(index) => index,
            None => {
                // In the legend even without a point to draw, so no server silently vanishes.
                series.push(Series {
                    name: cell.variant.clone(),
                    kind: cell.kind,
                    points: Vec::new(),
                });
                series.len() - 1
            }
        };
        // A log axis has no zero: a server that grew by nothing has no point there.
        if let Some(y) = (figure.value)(m, cell.conns).filter(|y| y.is_finite() && *y > 0.0) {
            series[index].points.push((cell.conns as f64, y));
        }
    }
    series.sort_by_key(|s| s.kind != Kind::Baseline);
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// The line figure as small multiples: a panel per crate, each with the baselines.
fn draw_lines(results: &Results, path: &Path, title: &str, figure: &Figure) -> DrawResult {
    let series = collect(results, figure);
    let (baselines, models): (Vec<&Series>, Vec<&Series>) =
        series.iter().partition(|s| s.kind == Kind::Baseline);
    let mut families: Vec<&str> = Vec::new();
    for s in &models {
        if !families.contains(&family(&s.name)) {
            families.push(family(&s.name));
        }
    }
    if families.is_empty() {
        families.push("baseline");
    }
    let rows = (families.len() as u32).div_ceil(COLUMNS);
    let size = (PANEL.0 * COLUMNS, PANEL.1 * rows + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    let panels = root.split_evenly((rows as usize, COLUMNS as usize));
    // One scale for every panel, so the panels compare at a glance.
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = bounds(xs);
    let (y0, y1) = bounds(ys);
    let (y0, y1) = if figure.log_y {
        (y0, y1)
    } else {
        (0.0, y1 / 1.6 * 1.1)
    };
    for (panel, name) in panels.iter().zip(&families) {
        let mut builder = ChartBuilder::on(panel);
        builder
            .caption(*name, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(58);
        let shown: Vec<&Series> = baselines
            .iter()
            .copied()
            .chain(models.iter().copied().filter(|s| family(&s.name) == *name))
            .collect();
        // The two axis kinds are different types in plotters, so the body is stamped twice.
        macro_rules! plot_with {
            ($y:expr) => {{
                let mut chart = builder.build_cartesian_2d((x0..x1).log_scale(), $y)?;
                chart
                    .configure_mesh()
                    .x_desc("connections 连接数")
                    .y_desc(figure.y_label)
                    .axis_desc_style(("sans-serif", 11))
                    .y_labels(6)
                    // Powers of ten only: a log axis labels every mesh line otherwise.
                    .x_label_formatter(&|x| {
                        let exp = x.log10();
                        if (exp - exp.round()).abs() < 1e-6 {
                            format!("{x:.0}")
                        } else {
                            String::new()
                        }
                    })
                    .y_label_formatter(&|y| super::report::si(*y))
                    .draw()?;
                for s in &shown {
                    let c = colour(&s.name, shade(results, &s.name), s.kind);
                    let style = ShapeStyle {
                        color: c.to_rgba(),
                        filled: true,
                        stroke_width: 2,
                    };
                    let points = s.points.iter().copied();
                    let legend = move |(x, y): (i32, i32)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], style)
                    };
                    if s.kind == Kind::Baseline {
                        chart
                            .draw_series(DashedLineSeries::new(points, 6, 4, style))?
                            .label(s.name.clone())
                            .legend(legend);
                    } else {
                        chart
                            .draw_series(LineSeries::new(points, style))?
                            .label(s.name.clone())
                            .legend(legend);
                        chart.draw_series(
                            s.points.iter().map(|&p| Circle::new(p, 3, style.filled())),
                        )?;
                    }
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .label_font(("sans-serif", 11))
                    .background_style(WHITE.mix(0.8))
                    .border_style(RGBColor(200, 200, 200))
                    .draw()?;
            }};
        }
        if figure.log_y {
            plot_with!((y0..y1).log_scale());
        } else {
            plot_with!(y0..y1);
        }
    }
    root.present()?;
    Ok(())
}

/// One bar: a server, its colour, and its stacked parts (user, then kernel, ...).
struct Bar {
    name: String,
    colour: RGBColor,
    parts: Vec<f64>,
    /// Said at the end of the bar instead of its total (why it is missing or partial).
    note: Option<String>,
}

/// User and kernel parts of a CPU figure, or the total alone with a note when no clock
/// tick fell in the window to split it by.
fn split_parts(
    total: Option<f64>,
    user: Option<f64>,
    kernel: Option<f64>,
) -> (Vec<f64>, Option<String>) {
    match (total, user, kernel) {
        (_, Some(u), Some(k)) => (vec![u, k], None),
        (Some(t), _, _) => (vec![t], Some(format!("{t:.2} (no split)"))),
        _ => (Vec::new(), None),
    }
}

/// A panel of bars per connection count, every server that ran in the echo grid.
fn echo_bars(
    results: &Results,
    conns: &[usize],
    parts: impl Fn(&Measured) -> (Vec<f64>, Option<String>),
) -> Vec<(String, Vec<Bar>)> {
    let size = results.grid.sizes.first().copied().unwrap_or(64);
    conns
        .iter()
        .map(|&n| {
            let mut bars: Vec<(Kind, Bar)> = results
                .cells
                .iter()
                .filter(|c| c.size == size && c.conns == n)
                .filter_map(|c| match &c.outcome {
                    Outcome::Ran(m) => {
                        let (parts, note) = parts(m);
                        Some((
                            c.kind,
                            Bar {
                                name: c.variant.clone(),
                                colour: colour(&c.variant, shade(results, &c.variant), c.kind),
                                parts,
                                note,
                            },
                        ))
                    }
                    _ => None,
                })
                .collect();
            bars.sort_by_key(|(kind, _)| *kind != Kind::Baseline);
            let label = format!(
                "{n} {} · {n} 个连接",
                super::report::plural(n, "connection")
            );
            (label, bars.into_iter().map(|(_, b)| b).collect())
        })
        .collect()
}

/// Horizontal bars, one panel per entry of `panels` side by side, parts stacked left to
/// right: the first part in the server's colour, the second a lighter shade of it inside the
/// same outline, so "user" and "kernel" read apart in every colour.
fn draw_bars(
    path: &Path,
    title: &str,
    x_label: &str,
    panels: &[(String, Vec<Bar>)],
    parts: &[&str],
) -> DrawResult {
    let most = panels
        .iter()
        .map(|(_, b)| b.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 560 * panels.len().max(1) as u32;
    let height = 90 + 22 * most as u32;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let subtitle = if parts.len() > 1 {
        format!("{title} ({}; lighter: {})", parts[0], parts[1])
    } else {
        title.to_string()
    };
    let root = root.titled(&subtitle, ("sans-serif", 18))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    let top = panels
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|b| b.parts.iter().sum::<f64>()))
        .fold(0.0f64, f64::max);
    let x_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    for (area, (label, bars)) in areas.iter().zip(panels) {
        // Row 0 is at the bottom: the first bar (a baseline) goes on the top row.
        let rows = bars.len().max(1);
        let names: Vec<String> = bars.iter().rev().map(|b| b.name.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(label, ("sans-serif", 15))
            .margin(8)
            // Room for the figure written after the longest bar.
            .margin_right(90)
            .x_label_area_size(34)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..x_max, (0..rows - 1).into_segmented())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .axis_desc_style(("sans-serif", 11))
            .y_labels(rows)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|x| format!("{x:.1}"))
            .disable_y_mesh()
            .draw()?;
        for (n, bar) in bars.iter().enumerate() {
            let i = rows - 1 - n;
            let mut left = 0.0;
            for (p, &value) in bar.parts.iter().enumerate() {
                if value <= 0.0 {
                    continue;
                }
                let fill = if p == 0 {
                    bar.colour
                } else {
                    let l = |c: u8| (c as f64 + (255.0 - c as f64) * 0.6) as u8;
                    RGBColor(l(bar.colour.0), l(bar.colour.1), l(bar.colour.2))
                };
                let mut rect = Rectangle::new(
                    [
                        (left, SegmentValue::Exact(i)),
                        (left + value, SegmentValue::Exact(i + 1)),
                    ],
                    fill.filled(),
                );
                rect.set_margin(3, 3, 0, 0);
                chart.draw_series(std::iter::once(rect))?;
                let mut edge = Rectangle::new(
                    [
                        (left, SegmentValue::Exact(i)),
                        (left + value, SegmentValue::Exact(i + 1)),
                    ],
                    bar.colour.stroke_width(1),
                );
                edge.set_margin(3, 3, 0, 0);
                chart.draw_series(std::iter::once(edge))?;
                left += value;
            }
            // The total at the end of the bar: the figure a reader looks for.
            let text = match &bar.note {
                Some(note) => note.clone(),
                None if left > 0.0 => format!("{left:.2}"),
                None => "not measured".into(),
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (left + x_max * 0.01, SegmentValue::CenterOf(i)),
                ("sans-serif", 11).into_font(),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

/// A log-friendly axis range around `values`, with some room; 0.5 to 2 if there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.5, 2.0)
    } else {
        (lo / 1.6, hi * 1.6)
    }
}
