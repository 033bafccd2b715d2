//! SVG plots (plotters, SVG backend only): latency percentile curves per subject, and stream
//! throughput against event size.

use crate::measure::deserialize_hist;
use crate::role::Kind;
use crate::run::RunOutcome;
use crate::scenario::{Metric, Pacing};
use crate::stats::ScenarioRun;
use hdrhistogram::Histogram;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Quantiles the latency curves are drawn at (log-spaced towards the tail).
const QUANTILES: [f64; 9] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999];

const COLORS: [RGBColor; 7] = [
    BLACK,
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes every plot for `runs` into `dir` (created if missing). Returns the files written.
pub fn write_all(dir: &Path, runs: &[ScenarioRun]) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for r in runs.iter().filter(|r| !r.scenario.is_stream()) {
        let path = dir.join(format!("latency-{}.svg", r.case.title().replace(' ', "-")));
        latency(&path, r).map_err(|e| format!("plot {}: {e}", path.display()))?;
        files.push(path);
    }
    let mut sized: Vec<&str> = runs
        .iter()
        .filter(|r| r.scenario.is_stream() && r.scenario.sized)
        .map(|r| r.scenario.name)
        .collect();
    sized.dedup();
    for name in sized {
        let cases: Vec<&ScenarioRun> = runs.iter().filter(|r| r.scenario.name == name).collect();
        let path = dir.join(format!("throughput-{name}.svg"));
        throughput(&path, name, &cases).map_err(|e| format!("plot {}: {e}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// Every run of `kind` merged into one histogram (ns, round trips).
fn merged(runs: &[&RunOutcome]) -> Option<Histogram<u64>> {
    let mut all: Option<Histogram<u64>> = None;
    for o in runs {
        let h = deserialize_hist(o.a["result"]["rtt_hist_ns_v2z"].as_str()?)?;
        match &mut all {
            Some(a) => a.add(&h).ok()?,
            None => all = Some(h),
        }
    }
    all
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn latency(path: &Path, r: &ScenarioRun) -> PlotResult {
    let sc = r.scenario;
    let div = if sc.pacing == Pacing::Closed {
        2.0
    } else {
        1.0
    };
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut who: Vec<Kind> = vec![sc.floor];
    who.extend(&r.case.subjects);
    for kind in who {
        let runs: Vec<&RunOutcome> = if kind == sc.floor {
            r.floors.iter().collect()
        } else {
            r.subjects
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, o)| o)
                .collect()
        };
        let Some(h) = merged(&runs) else { continue };
        let pts = QUANTILES
            .iter()
            .map(|&q| {
                (
                    1.0 / (1.0 - q),
                    (h.value_at_quantile(q) as f64 / div).max(1.0),
                )
            })
            .collect();
        let label = if kind == sc.floor {
            format!("floor: {}", kind.name())
        } else {
            kind.name().to_owned()
        };
        curves.push((label, pts));
    }
    let ymax = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(10.0, f64::max)
        * 2.0;
    let ymin = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(f64::INFINITY, f64::min)
        .min(ymax / 4.0)
        / 2.0;
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let what = if div == 2.0 {
        "one-way latency (RTT/2), ns"
    } else {
        "round-trip latency, ns"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} ({}, merged over brackets)", r.case.title(), what),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (1.5f64..200_000f64).log_scale(),
            (ymin.max(1.0)..ymax).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc(what)
        .x_label_formatter(&|x| format!("{:.3}%", 100.0 * (1.0 - 1.0 / x)))
        .draw()?;
    draw_curves(&mut chart, curves, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

fn throughput(path: &Path, name: &str, cases: &[&ScenarioRun]) -> PlotResult {
    let Some(first) = cases.first() else {
        return Ok(());
    };
    let sc = first.scenario;
    let mut who: Vec<Kind> = vec![sc.floor];
    who.extend(&first.case.subjects);
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for kind in who {
        let mut pts = Vec::new();
        for r in cases {
            let v = if kind == sc.floor {
                r.summary(r.case.subjects[0], Metric::Rate).floor_median
            } else {
                r.summary(kind, Metric::Rate).subject_median
            };
            if v.is_finite() && v > 0.0 {
                pts.push((r.case.size as f64, v));
            }
        }
        let label = if kind == sc.floor {
            format!("floor: {}", kind.name())
        } else {
            kind.name().to_owned()
        };
        curves.push((label, pts));
    }
    let ys = curves.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
    let (ymin, ymax) = ys.fold((f64::INFINITY, 1.0f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let (xmin, xmax) = cases.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r.case.size as f64), hi.max(r.case.size as f64))
    });
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{name}: events/s against event size (median over brackets; the slowest reader)"
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (xmin / 1.5..xmax * 1.5).log_scale(),
            ((ymin / 2.0).max(1.0)..ymax * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("event size, bytes")
        .y_desc("events/s")
        .y_label_formatter(&|y| {
            if *y >= 1e6 {
                format!("{:.0}M", y / 1e6)
            } else {
                format!("{:.0}k", y / 1e3)
            }
        })
        .draw()?;
    draw_curves(&mut chart, curves, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

/// One labelled line per curve, in [`COLORS`] order, and the legend at `legend`.
fn draw_curves<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>,
    curves: Vec<(String, Vec<(f64, f64)>)>,
    legend: SeriesLabelPosition,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    for (i, (label, pts)) in curves.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
