//! An RGB pixel canvas with the few drawing primitives the charts need, and
//! PNG output. Coordinates are pixels, x to the right, y down; everything
//! outside the canvas is clipped silently, so callers can draw freely.

use std::path::Path;

use crate::font::{drop, glyph, ADVANCE};

/// A colour, red, green, blue.
pub type Rgb = [u8; 3];

/// White.
pub const WHITE: Rgb = [255, 255, 255];
/// Black.
pub const BLACK: Rgb = [0, 0, 0];
/// Mid grey.
pub const GRAY: Rgb = [128, 128, 128];
/// Light grey (grid lines).
pub const LIGHT_GRAY: Rgb = [220, 220, 220];

/// A width×height grid of pixels, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    /// A `width × height` canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        Canvas { width, height, pixels: vec![background; width * height] }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        let inside = x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height;
        inside.then(|| y as usize * self.width + x as usize)
    }

    /// Sets one pixel; outside the canvas it does nothing.
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = c;
        }
    }

    /// Mixes `c` into one pixel with weight `alpha` ∈ [0, 1] (clamped): many
    /// faint points add up where a scatter is dense.
    pub fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f64) {
        let a = if alpha.is_nan() { 0.0 } else { alpha.clamp(0.0, 1.0) };
        if let Some(i) = self.index(x, y) {
            let p = &mut self.pixels[i];
            for k in 0..3 {
                p[k] = (p[k] as f64 * (1.0 - a) + c[k] as f64 * a).round() as u8;
            }
        }
    }

    /// The colour of one pixel; panics outside the canvas.
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        assert!(x < self.width && y < self.height, "pixel({x}, {y}) outside a {}×{} canvas", self.width, self.height);
        self.pixels[y * self.width + x]
    }

    /// A one-pixel line between two points (pixel centres at integers).
    /// Non-finite ends draw nothing; the segment is clipped to the canvas
    /// first, so a point far outside costs nothing.
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        let Some((x0, y0, x1, y1)) = self.clip(x0, y0, x1, y1) else { return };
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            self.set((x0 + t * (x1 - x0)).round() as i64, (y0 + t * (y1 - y0)).round() as i64, c);
        }
    }

    /// Liang–Barsky clipping of a segment to the canvas (plus a one-pixel margin).
    fn clip(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> Option<(f64, f64, f64, f64)> {
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return None;
        }
        let (dx, dy) = (x1 - x0, y1 - y0);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let (xmin, ymin, xmax, ymax) = (-1.0, -1.0, self.width as f64, self.height as f64);
        for (p, q) in [(-dx, x0 - xmin), (dx, xmax - x0), (-dy, y0 - ymin), (dy, ymax - y0)] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        (t0 <= t1).then_some((x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy))
    }

    /// A filled disc of radius `r` pixels, its edge anti-aliased.
    pub fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        if !(cx.is_finite() && cy.is_finite() && r.is_finite()) || r <= 0.0 {
            return;
        }
        let (x_lo, x_hi) = ((cx - r - 1.0).floor().max(-1.0), (cx + r + 1.0).ceil().min(self.width as f64));
        let (y_lo, y_hi) = ((cy - r - 1.0).floor().max(-1.0), (cy + r + 1.0).ceil().min(self.height as f64));
        for y in y_lo as i64..=y_hi as i64 {
            for x in x_lo as i64..=x_hi as i64 {
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                // Coverage of the pixel by the disc, linear across the edge.
                let coverage = (r + 0.5 - d).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    self.blend(x, y, c, coverage);
                }
            }
        }
    }

    /// A line from (x0, y0) with an open arrow head at (x1, y1); the head is
    /// a third of the length, at most 6 pixels.
    pub fn arrow(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        self.line(x0, y0, x1, y1, c);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len = (dx * dx + dy * dy).sqrt();
        if !(len.is_finite() && len > 1e-9) {
            return;
        }
        let head = (len / 3.0).min(6.0);
        let (ux, uy) = (dx / len, dy / len);
        let (cos, sin) = (0.4f64.cos(), 0.4f64.sin()); // barbs at ±23°
        for s in [sin, -sin] {
            let (bx, by) = (ux * cos - uy * s, ux * s + uy * cos);
            self.line(x1, y1, x1 - head * bx, y1 - head * by, c);
        }
    }

    /// Text in the built-in 5×7 font, top-left corner at (x, y).
    pub fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        self.text_scaled(x, y, s, c, 1);
    }

    /// Text magnified `scale` times (each font pixel a scale×scale block).
    pub fn text_scaled(&mut self, x: i64, y: i64, s: &str, c: Rgb, scale: usize) {
        let scale = scale.max(1) as i64;
        for (i, ch) in s.chars().enumerate() {
            let left = x + (i * ADVANCE) as i64 * scale;
            let top = y + drop(ch) as i64 * scale;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for (col, bit) in bits.bytes().enumerate() {
                    if bit == b'#' {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.set(left + col as i64 * scale + dx, top + row as i64 * scale + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Copies `other` with its top-left corner at (x, y), clipped.
    pub fn blit(&mut self, other: &Canvas, x: usize, y: usize) {
        for oy in 0..other.height {
            for ox in 0..other.width {
                self.set((x + ox) as i64, (y + oy) as i64, other.pixels[oy * other.width + ox]);
            }
        }
    }

    /// Fills the rectangle [x, x+w)×[y, y+h), clipped.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: usize, h: usize, c: Rgb) {
        for yy in y..y + h as i64 {
            for xx in x..x + w as i64 {
                self.set(xx, yy, c);
            }
        }
    }

    /// The outline of the rectangle [x, x+w)×[y, y+h).
    pub fn rect(&mut self, x: i64, y: i64, w: usize, h: usize, c: Rgb) {
        let (x1, y1) = ((x + w as i64 - 1) as f64, (y + h as i64 - 1) as f64);
        let (x0, y0) = (x as f64, y as f64);
        self.line(x0, y0, x1, y0, c);
        self.line(x0, y1, x1, y1, c);
        self.line(x0, y0, x0, y1, c);
        self.line(x1, y0, x1, y1, c);
    }

    /// The pixels as packed RGB bytes, row by row (what a PNG stores).
    pub fn to_rgb_bytes(&self) -> Vec<u8> {
        self.pixels.iter().flatten().copied().collect()
    }

    /// Writes an 8-bit RGB PNG. It goes to `<path>.tmp` first and is renamed
    /// into place, so a reader (a viewer refreshing during training) never
    /// sees half a file.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            let mut encoder = png::Encoder::new(file, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&self.to_rgb_bytes())?;
            writer.finish()?;
        }
        std::fs::rename(&tmp, path)
    }
}
