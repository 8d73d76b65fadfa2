//! Line charts: axes with numeric ticks, a legend, optional log-scale y.

use crate::canvas::{Canvas, Rgb, BLACK, LIGHT_GRAY, WHITE};
use crate::font::{text_width, GLYPH_H};

/// One curve: its legend name, its points in data coordinates, its colour.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// The `(x, y)` points, joined in order; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// The line's colour.
    pub color: Rgb,
}

/// A palette of distinguishable colours for series (cycled).
pub const PALETTE: [Rgb; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
];

/// Axes with numeric tick labels, a legend, optional log-scale y; NaN/inf
/// points (and, with `log_y`, points with y ≤ 0) are skipped, and a curve is
/// broken where they were rather than bridged.
pub fn line_chart(series: &[Series], title: &str, x_label: &str, y_label: &str, width: usize, height: usize, log_y: bool) -> Canvas {
    let mut canvas = Canvas::new(width, height, WHITE);
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let ty = |y: f64| if log_y { y.log10() } else { y };
    let points = || series.iter().flat_map(|s| s.points.iter().filter(|p| usable(p)));
    let (x_lo, x_hi) = padded_range(points().map(|p| p.0), 0.0);
    let (y_lo, y_hi) = padded_range(points().map(|p| ty(p.1)), 0.05);

    let x_ticks = linear_ticks(x_lo, x_hi);
    let y_ticks = if log_y { log_ticks(y_lo, y_hi) } else { linear_ticks(y_lo, y_hi) };
    let label_w = y_ticks.iter().map(|(_, s)| text_width(s, 1)).max().unwrap_or(0);
    let (left, right, top, bottom) = (label_w as f64 + 12.0, 16.0, 40.0, 40.0);
    let (pw, ph) = ((width as f64 - left - right).max(1.0), (height as f64 - top - bottom).max(1.0));
    let px = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * pw;
    let py = |y: f64| top + ph - (y - y_lo) / (y_hi - y_lo) * ph;

    // Grid and tick labels.
    for (v, label) in &x_ticks {
        let x = px(*v);
        canvas.line(x, top, x, top + ph, LIGHT_GRAY);
        let w = text_width(label, 1) as f64;
        canvas.text((x - w / 2.0).round() as i64, (top + ph + 5.0) as i64, label, BLACK);
    }
    for (v, label) in &y_ticks {
        let y = py(*v);
        canvas.line(left, y, left + pw, y, LIGHT_GRAY);
        let w = text_width(label, 1) as f64;
        canvas.text((left - 5.0 - w).round() as i64, (y - GLYPH_H as f64 / 2.0).round() as i64, label, BLACK);
    }
    canvas.rect(left as i64, top as i64, pw as usize + 1, ph as usize + 1, BLACK);

    // Curves; a lone point (or a short series) also gets dots.
    for s in series {
        let mut prev: Option<(f64, f64)> = None;
        let dots = s.points.iter().filter(|p| usable(p)).count() <= 20;
        for p in &s.points {
            if !usable(p) {
                prev = None;
                continue;
            }
            let q = (px(p.0), py(ty(p.1)));
            if let Some(a) = prev {
                canvas.line(a.0, a.1, q.0, q.1, s.color);
            }
            if dots {
                canvas.disc(q.0, q.1, 2.0, s.color);
            }
            prev = Some(q);
        }
    }

    // Title, axis labels, legend.
    let tw = text_width(title, 2) as f64;
    canvas.text_scaled(((width as f64 - tw) / 2.0).round() as i64, 6, title, BLACK, 2);
    canvas.text(left as i64, (top - 12.0) as i64, y_label, BLACK);
    let xw = text_width(x_label, 1) as f64;
    canvas.text((left + (pw - xw) / 2.0).round() as i64, (top + ph + 20.0) as i64, x_label, BLACK);
    legend(&mut canvas, series, (left + pw) as i64, top as i64);
    canvas
}

/// The legend box in the plot's top-right corner (right edge at `right`).
fn legend(canvas: &mut Canvas, series: &[Series], right: i64, top: i64) {
    let named: Vec<&Series> = series.iter().filter(|s| !s.name.is_empty()).collect();
    if named.is_empty() {
        return;
    }
    let row_h = GLYPH_H + 5;
    let w = named.iter().map(|s| text_width(&s.name, 1)).max().unwrap_or(0) + 30;
    let h = named.len() * row_h + 6;
    let (x, y) = (right - w as i64 - 6, top + 6);
    canvas.fill_rect(x, y, w, h, WHITE);
    canvas.rect(x, y, w, h, LIGHT_GRAY);
    for (i, s) in named.iter().enumerate() {
        let ry = y + 4 + (i * row_h) as i64;
        let mid = (ry + GLYPH_H as i64 / 2) as f64;
        for dy in [-0.5, 0.5] {
            canvas.line((x + 5) as f64, mid + dy, (x + 20) as f64, mid + dy, s.color);
        }
        canvas.text(x + 25, ry, &s.name, BLACK);
    }
}

/// The range of `values` widened by `pad` of its span on each side; a
/// degenerate or empty range becomes a unit one around its value.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo <= 1e-12 * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    let span = hi - lo;
    (lo - pad * span, hi + pad * span)
}

/// Ticks at 1, 2 or 5 × 10^k steps, about six of them, with labels.
fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            (v, format_tick(v, step))
        })
        .collect()
}

/// Ticks for a log10 axis (`lo`, `hi` are log10 values): every decade, or
/// every few decades when there are many; with 1, 2, 5 within a decade when
/// the range spans less than two.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (d0, d1) = (lo.floor() as i64, hi.ceil() as i64);
    let every = ((d1 - d0) / 8).max(1);
    let mantissas: &[f64] = if hi - lo < 2.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut ticks = Vec::new();
    for d in (d0..=d1).filter(|d| d.rem_euclid(every) == 0) {
        for m in mantissas {
            let v = m * 10f64.powi(d as i32);
            let lv = v.log10();
            if lv >= lo - 1e-9 && lv <= hi + 1e-9 {
                ticks.push((lv, format_tick(v, v)));
            }
        }
    }
    ticks
}

/// A short label: plain decimals with as many places as the step needs, or
/// `1e-4` style for very large or small numbers.
pub fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 || v.abs() < step.abs() * 1e-9 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        // Rust prints 1e-4, 2.5e6: trim the mantissa to three significant digits.
        let s = format!("{:.2e}", v);
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        return format!("{mant}e{exp}");
    }
    let decimals = (-step.abs().log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        let t = linear_ticks(0.03, 0.97);
        let labels: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["0.2", "0.4", "0.6", "0.8"]);
        assert_eq!(format_tick(2.5e-5, 2.5e-5), "2.5e-5");
        assert_eq!(format_tick(1000.0, 200.0), "1000");
        let lt = log_ticks(-3.2, 0.1);
        assert_eq!(lt.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["0.001", "0.01", "0.1", "1"]);
    }
}
