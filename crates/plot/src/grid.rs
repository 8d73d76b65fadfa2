//! Grids of small grayscale images (MNIST digits, generated samples).

use crate::canvas::Canvas;

/// The colour between cells of an [`image_grid`].
pub const GRID_GAP: [u8; 3] = [70, 70, 90];

/// Grayscale images (values in [0, 1], clipped; NaN black) in a rows×cols
/// grid, filled row by row; each image img_h×img_w, magnified `scale` times,
/// `pad` pixels between cells (none around the edge). The canvas is
/// `cols·img_w·scale + (cols−1)·pad` wide and likewise high. Cells without an
/// image stay the gap colour; images beyond rows·cols are not drawn.
pub fn image_grid(images: &[&[f32]], rows: usize, cols: usize, img_h: usize, img_w: usize, scale: usize, pad: usize) -> Canvas {
    let (cell_w, cell_h) = (img_w * scale, img_h * scale);
    let width = cols * cell_w + cols.saturating_sub(1) * pad;
    let height = rows * cell_h + rows.saturating_sub(1) * pad;
    let mut canvas = Canvas::new(width, height, GRID_GAP);
    for (k, image) in images.iter().take(rows * cols).enumerate() {
        assert_eq!(image.len(), img_h * img_w, "image_grid: image {k} has {} values, expected {img_h}×{img_w}", image.len());
        let (x0, y0) = ((k % cols) * (cell_w + pad), (k / cols) * (cell_h + pad));
        for y in 0..cell_h {
            for x in 0..cell_w {
                let v = image[(y / scale) * img_w + x / scale];
                let g = if v.is_nan() { 0 } else { (v.clamp(0.0, 1.0) * 255.0).round() as u8 };
                canvas.set((x0 + x) as i64, (y0 + y) as i64, [g, g, g]);
            }
        }
    }
    canvas
}
