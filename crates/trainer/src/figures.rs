//! The run's pictures, drawn with the `plot` crate: `loss.png`, `samples.png`, `denoise.png`.

use std::path::Path;

use plot::{image_grid, line_chart, Canvas, Series, BLACK, PALETTE, WHITE};

use crate::error::TrainError;
use crate::eval::Denoising;
use crate::metrics::Row;

/// The training and held-out loss curves.
pub const LOSS_FILE: &str = "loss.png";
/// The first 64 samples, titled with the sampler and the quality figures.
pub const SAMPLES_FILE: &str = "samples.png";
/// Test digits, noised and denoised at three levels.
pub const DENOISE_FILE: &str = "denoise.png";

/// Height of the title strip above a grid.
const TITLE_H: usize = 14;

/// Two panels side by side: the training loss (a moving average over about 1% of the run,
/// so the trend shows through the minibatch noise) and the held-out exact SM loss.
pub fn loss_chart(rows: &[Row], objective: &str) -> Canvas {
    let window = (rows.len() / 100).max(1);
    let mut smoothed = Vec::with_capacity(rows.len());
    let mut sum = 0.0;
    for (i, r) in rows.iter().enumerate() {
        sum += r.loss;
        if i >= window {
            sum -= rows[i - window].loss;
        }
        let n = (i + 1).min(window) as f64;
        smoothed.push((r.step as f64, sum / n));
    }
    let train = Series {
        name: format!("{objective} loss, mean of {window} steps"),
        points: smoothed,
        color: PALETTE[0],
    };
    let heldout: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| r.heldout_exact_sm.map(|v| (r.step as f64, v)))
        .collect();
    let heldout = Series {
        name: "held-out exact SM loss".into(),
        points: heldout,
        color: PALETTE[1],
    };
    let (w, h) = (520, 380);
    let left = line_chart(
        &[train],
        &format!("training loss ({objective})"),
        "step",
        "loss",
        w,
        h,
        false,
    );
    let right = line_chart(
        &[heldout],
        "held-out exact score-matching loss",
        "step",
        "loss",
        w,
        h,
        false,
    );
    let mut canvas = Canvas::new(2 * w, h, WHITE);
    canvas.blit(&left, 0, 0);
    canvas.blit(&right, w, 0);
    canvas
}

/// Images in a grid with a title above, one strip per line of `title`.
pub fn titled_grid(
    images: &[&[f32]],
    rows: usize,
    cols: usize,
    img_h: usize,
    img_w: usize,
    title: &str,
) -> Canvas {
    let scale = if img_h * img_w >= 28 * 28 { 2 } else { 4 };
    let grid = image_grid(images, rows, cols, img_h, img_w, scale, 2);
    let lines: Vec<&str> = title.lines().collect();
    let widest = lines.iter().map(|l| plot::font::text_width(l, 1) + 4).max().unwrap_or(0);
    let top = TITLE_H * lines.len().max(1);
    let mut canvas = Canvas::new(grid.width.max(widest), grid.height + top, WHITE);
    for (i, line) in lines.iter().enumerate() {
        canvas.text(2, (3 + i * TITLE_H) as i64, line, BLACK);
    }
    canvas.blit(&grid, 0, top);
    canvas
}

/// Clean test images in the first row; then, per noise level, a noisy row and its denoised row.
pub fn denoise_grid(d: &Denoising, img_h: usize, img_w: usize) -> Canvas {
    let mut images: Vec<&[f32]> = d.clean.iter().map(Vec::as_slice).collect();
    for level in &d.levels {
        images.extend(level.noisy.iter().map(Vec::as_slice));
        images.extend(level.denoised.iter().map(Vec::as_slice));
    }
    let sigmas: Vec<String> = d.levels.iter().map(|l| format!("{:.2}", l.sigma)).collect();
    let title = format!(
        "rows: clean; then per σ ({}): noisy x+σε, denoised x+σ²s(x)",
        sigmas.join(", ")
    );
    titled_grid(
        &images,
        1 + 2 * d.levels.len(),
        d.clean.len(),
        img_h,
        img_w,
        &title,
    )
}

/// Saves a canvas as PNG (atomically: `plot` writes a temporary file and renames it).
pub fn save(canvas: &Canvas, path: &Path) -> Result<(), TrainError> {
    canvas.save_png(path).map_err(TrainError::io(path))
}
