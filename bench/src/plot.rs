//! The wall-time plot: median wall time against the number of secrets, one
//! line per tool, log–log, as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::BenchError;

/// One line of the plot: a tool's (secrets, median wall ms) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend text.
    pub label: String,
    /// (number of secrets, median wall time in ms), by increasing count.
    pub points: Vec<(f64, f64)>,
}

/// Draws `series` into an SVG at `path`.
pub fn draw(path: &Path, title: &str, series: &[Series]) -> Result<(), BenchError> {
    let all = series.iter().flat_map(|s| s.points.iter().copied());
    let (mut x_max, mut y_min, mut y_max) = (1.0_f64, f64::MAX, 1.0_f64);
    for (x, y) in all {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let y_min = if y_min == f64::MAX { 1.0 } else { y_min };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (5.0..x_max * 1.6).log_scale(),
            (y_min / 2.0..y_max * 2.0).log_scale(),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("secrets in the job")
        .y_desc("median wall time (ms, whole process)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(plot_error)?;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (index, line) in series.iter().enumerate() {
        let color = colors[index % colors.len()];
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(line.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                line.points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
            )
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

fn plot_error(err: impl std::fmt::Display) -> BenchError {
    BenchError::Plot(err.to_string())
}
