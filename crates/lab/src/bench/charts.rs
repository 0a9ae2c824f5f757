//! The SVG charts embedded in `results.md`: one line per server against the connection
//! count, at the headline message size, both axes logarithmic (10,000 connections and one
//! connection on the same picture).
//!
//! plotters' SVG backend writes text as SVG `<text>`; without its `ttf` feature (which needs
//! the system's fontconfig) it estimates text widths, which is enough for axis labels. The
//! legend sits beside the plot, not on it: with fifteen lines any corner hides some.

use super::entrants::Kind;
use super::report::FIGURES;
use super::results::{Measured, Outcome, Results};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A figure: which number of a cell it plots.
struct Figure {
    file: &'static str,
    y_label: &'static str,
    value: fn(&Measured, usize) -> Option<f64>,
    /// A log axis where values span orders of magnitude (latency, memory); a linear one
    /// from zero where differences should look like differences (throughput, CPU).
    log_y: bool,
}

const CHARTS: &[Figure] = &[
    Figure {
        file: "bench-rps.svg",
        y_label: "round trips per second",
        value: |m, _| Some(m.rps),
        log_y: false,
    },
    Figure {
        file: "bench-cpu.svg",
        y_label: "server CPU µs per round trip",
        value: |m, _| m.cpu_us_per_rt,
        log_y: false,
    },
    Figure {
        file: "bench-p99.svg",
        y_label: "p99 latency, µs",
        value: |m, _| Some(m.p99_us as f64),
        log_y: true,
    },
    Figure {
        file: "bench-memory.svg",
        y_label: "KiB per connection (peak RSS less idle)",
        value: |m, conns| Some(m.kib_per_conn(conns)),
        log_y: true,
    },
];

/// Distinct colours for the models (Tableau's 10, then darker variants).
const COLOURS: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(16, 60, 90),
    RGBColor(150, 70, 0),
    RGBColor(20, 90, 20),
    RGBColor(120, 20, 20),
    RGBColor(80, 50, 110),
    RGBColor(90, 120, 0),
];

const SIZE: (u32, u32) = (960, 540);
const LEGEND_WIDTH: u32 = 250;

/// One server's line.
struct Series {
    name: String,
    kind: Kind,
    points: Vec<(f64, f64)>,
}

/// Draws every chart into `dir`, returning the files written.
pub fn draw_all(results: &Results, dir: &Path) -> crate::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let size = results.grid.sizes.first().copied().unwrap_or(64);
    let mut written = Vec::new();
    for chart in CHARTS {
        let title = FIGURES
            .iter()
            .find(|(file, _)| *file == chart.file)
            .map_or(chart.file, |(_, title)| title);
        let path = dir.join(chart.file);
        let series = collect(results, size, chart);
        draw(&path, title, chart.y_label, chart.log_y, &series)
            .map_err(|e| format!("drawing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Every server's points at `size`, in the report's order (baselines first).
fn collect(results: &Results, size: usize, chart: &Figure) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for cell in results.cells.iter().filter(|c| c.size == size) {
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
        if let Some(y) = (chart.value)(m, cell.conns).filter(|y| y.is_finite() && *y > 0.0) {
            series[index].points.push((cell.conns as f64, y));
        }
    }
    series.sort_by_key(|s| s.kind != Kind::Baseline);
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

fn style(i: usize, s: &Series) -> ShapeStyle {
    let colour = match s.kind {
        // The yardsticks in black and grey, thicker, so every model is read against them.
        Kind::Baseline if i == 0 => BLACK,
        Kind::Baseline => RGBColor(110, 110, 110),
        _ => COLOURS[i % COLOURS.len()],
    };
    ShapeStyle {
        color: colour.to_rgba(),
        filled: true,
        stroke_width: if s.kind == Kind::Baseline { 3 } else { 2 },
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(path: &Path, title: &str, y_label: &str, log_y: bool, series: &[Series]) -> DrawResult {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = bounds(xs, 1.0);
    let (y0, y1) = bounds(ys, 1.0);
    let (y0, y1) = if log_y {
        (y0, y1)
    } else {
        (0.0, y1 / 1.6 * 1.1)
    };
    let mut builder = ChartBuilder::on(&plot);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(76);
    // The two axis kinds are different types in plotters, so the body is stamped twice.
    macro_rules! plot_with {
        ($y:expr) => {{
            let mut chart = builder.build_cartesian_2d((x0..x1).log_scale(), $y)?;
            chart
                .configure_mesh()
                .x_desc("connections")
                .y_desc(y_label)
                .y_labels(10)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| super::report::si(*y))
                .draw()?;
            for (i, s) in series.iter().enumerate() {
                let style = style(i, s);
                chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, style.filled())))?;
            }
        }};
    }
    if log_y {
        plot_with!((y0..y1).log_scale());
    } else {
        plot_with!(y0..y1);
    }
    draw_legend(&legend, series)?;
    root.present()?;
    Ok(())
}

fn draw_legend(area: &DrawingArea<SVGBackend<'_>, Shift>, series: &[Series]) -> DrawResult {
    let font = ("sans-serif", 14).into_font();
    for (i, s) in series.iter().enumerate() {
        let y = 40 + 22 * i as i32;
        let style = style(i, s);
        area.draw(&PathElement::new(vec![(8, y), (34, y)], style))?;
        area.draw(&Circle::new((21, y), 3, style.filled()))?;
        area.draw(&Text::new(s.name.clone(), (42, y - 8), font.clone()))?;
    }
    Ok(())
}

/// A log axis range around `values` with some room; `fallback` centred if there are none.
fn bounds(values: impl Iterator<Item = f64>, fallback: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (fallback / 2.0, fallback * 2.0)
    } else {
        (lo / 1.6, hi * 1.6)
    }
}
