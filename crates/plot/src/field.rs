//! Pictures of 2-D fields: a [`Frame`] that maps data coordinates to pixels,
//! a scalar field sampled on a [`Grid`], drawn as a [`heatmap`] or as
//! [`contours`] (marching squares), and colour maps.

use crate::canvas::{Canvas, Rgb};

/// A data rectangle [x_min, x_max]×[y_min, y_max] drawn into the pixel
/// rectangle at (left, top) of size width×height, y pointing up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// `(x_min, x_max)` in data units.
    pub x_range: (f64, f64),
    /// `(y_min, y_max)` in data units.
    pub y_range: (f64, f64),
    /// The pixel column of the left edge.
    pub left: f64,
    /// The pixel row of the top edge.
    pub top: f64,
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
}

impl Frame {
    /// A frame mapping `x_range × y_range` onto the pixel rectangle at `(left, top)`.
    pub fn new(x_range: (f64, f64), y_range: (f64, f64), left: f64, top: f64, width: f64, height: f64) -> Frame {
        Frame { x_range, y_range, left, top, width, height }
    }

    /// The pixel position of the data point (x, y).
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let u = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let v = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        (self.left + u * self.width, self.top + (1.0 - v) * self.height)
    }

    /// The data point at pixel (px, py).
    pub fn to_data(&self, px: f64, py: f64) -> (f64, f64) {
        let u = (px - self.left) / self.width;
        let v = 1.0 - (py - self.top) / self.height;
        (self.x_range.0 + u * (self.x_range.1 - self.x_range.0), self.y_range.0 + v * (self.y_range.1 - self.y_range.0))
    }

    /// Pixels per data unit along x (for scaling arrows).
    pub fn pixels_per_unit(&self) -> f64 {
        self.width / (self.x_range.1 - self.x_range.0)
    }

    /// Whether the data point lies inside the frame.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.x_range.0 && x <= self.x_range.1 && y >= self.y_range.0 && y <= self.y_range.1
    }

    /// Draws the frame's border.
    pub fn outline(&self, canvas: &mut Canvas, c: Rgb) {
        canvas.rect(self.left.round() as i64, self.top.round() as i64, self.width.round() as usize + 1, self.height.round() as usize + 1, c);
    }
}

/// A scalar field sampled at nx×ny points spanning x_range×y_range
/// (corners included), `values[j * nx + i]` at (x_i, y_j).
#[derive(Clone, Debug)]
pub struct Grid {
    /// Points along x.
    pub nx: usize,
    /// Points along y.
    pub ny: usize,
    /// `(x_min, x_max)`.
    pub x_range: (f64, f64),
    /// `(y_min, y_max)`.
    pub y_range: (f64, f64),
    /// The samples, row by row from `y_min`: `values[j * nx + i]` at `(x_i, y_j)`.
    pub values: Vec<f64>,
}

impl Grid {
    /// Samples `f` on the grid.
    pub fn sample(x_range: (f64, f64), y_range: (f64, f64), nx: usize, ny: usize, f: impl Fn(f64, f64) -> f64) -> Grid {
        assert!(nx >= 2 && ny >= 2, "Grid::sample: need at least 2×2 points, got {nx}×{ny}");
        let mut values = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            for i in 0..nx {
                values.push(f(Self::coord(x_range, nx, i), Self::coord(y_range, ny, j)));
            }
        }
        Grid { nx, ny, x_range, y_range, values }
    }

    /// The grid's points, row by row, in the order of `values` (to evaluate
    /// a batched function once and fill the grid with [`Grid::from_values`]).
    pub fn points(x_range: (f64, f64), y_range: (f64, f64), nx: usize, ny: usize) -> Vec<(f64, f64)> {
        (0..ny).flat_map(|j| (0..nx).map(move |i| (Self::coord(x_range, nx, i), Self::coord(y_range, ny, j)))).collect()
    }

    /// A grid holding `values` (`nx · ny` of them, row by row from `y_min`).
    pub fn from_values(x_range: (f64, f64), y_range: (f64, f64), nx: usize, ny: usize, values: Vec<f64>) -> Grid {
        assert_eq!(values.len(), nx * ny, "Grid::from_values: {} values for {nx}×{ny} points", values.len());
        Grid { nx, ny, x_range, y_range, values }
    }

    fn coord(range: (f64, f64), n: usize, i: usize) -> f64 {
        range.0 + (range.1 - range.0) * i as f64 / (n - 1) as f64
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.values[j * self.nx + i]
    }

    /// Bilinear interpolation at (x, y); NaN outside the grid.
    pub fn interpolate(&self, x: f64, y: f64) -> f64 {
        let u = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0) * (self.nx - 1) as f64;
        let v = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0) * (self.ny - 1) as f64;
        if !(u >= 0.0 && v >= 0.0 && u <= (self.nx - 1) as f64 && v <= (self.ny - 1) as f64) {
            return f64::NAN;
        }
        let (i, j) = ((u.floor() as usize).min(self.nx - 2), (v.floor() as usize).min(self.ny - 2));
        let (fu, fv) = (u - i as f64, v - j as f64);
        let bottom = self.at(i, j) * (1.0 - fu) + self.at(i + 1, j) * fu;
        let top = self.at(i, j + 1) * (1.0 - fu) + self.at(i + 1, j + 1) * fu;
        bottom * (1.0 - fv) + top * fv
    }

    /// The smallest and largest finite values.
    pub fn finite_range(&self) -> (f64, f64) {
        self.values.iter().filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)))
    }
}

/// Paints every pixel of `frame` with `colormap((value − lo) / (hi − lo))`,
/// the value interpolated from `grid`; (lo, hi) defaults to the grid's range.
pub fn heatmap(canvas: &mut Canvas, frame: &Frame, grid: &Grid, range: Option<(f64, f64)>, colormap: impl Fn(f64) -> Rgb) {
    let (lo, hi) = range.unwrap_or_else(|| grid.finite_range());
    let span = if hi > lo { hi - lo } else { 1.0 };
    let (x0, y0) = (frame.left.round() as i64, frame.top.round() as i64);
    for py in y0..=y0 + frame.height.round() as i64 {
        for px in x0..=x0 + frame.width.round() as i64 {
            let (x, y) = frame.to_data(px as f64, py as f64);
            let v = grid.interpolate(x, y);
            if v.is_finite() {
                canvas.set(px, py, colormap((v - lo) / span));
            }
        }
    }
}

/// Draws the level sets {value = level} of `grid` for each level, by
/// marching squares: in each grid cell, the edges whose ends straddle the
/// level are cut where linear interpolation crosses it, and the cut points
/// are joined. A cell with four cuts (a saddle) is resolved by the value at
/// its centre.
pub fn contours(canvas: &mut Canvas, frame: &Frame, grid: &Grid, levels: &[f64], c: Rgb) {
    let xs = |i: usize| Grid::coord(grid.x_range, grid.nx, i);
    let ys = |j: usize| Grid::coord(grid.y_range, grid.ny, j);
    for &level in levels {
        for j in 0..grid.ny - 1 {
            for i in 0..grid.nx - 1 {
                // Corners counter-clockwise from bottom-left, and the edges between them.
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let vals = corners.map(|(a, b)| grid.at(a, b));
                if vals.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let mut cuts = Vec::with_capacity(4);
                for e in 0..4 {
                    let (a, b) = (e, (e + 1) % 4);
                    if (vals[a] >= level) != (vals[b] >= level) {
                        let t = (level - vals[a]) / (vals[b] - vals[a]);
                        let (pa, pb) = (corners[a], corners[b]);
                        let x = xs(pa.0) + t * (xs(pb.0) - xs(pa.0));
                        let y = ys(pa.1) + t * (ys(pb.1) - ys(pa.1));
                        cuts.push(frame.to_pixel(x, y));
                    }
                }
                let mut segment = |p: (f64, f64), q: (f64, f64)| canvas.line(p.0, p.1, q.0, q.1, c);
                match cuts.len() {
                    2 => segment(cuts[0], cuts[1]),
                    4 => {
                        // Saddle: corners 0 and 2 on one side, 1 and 3 on the other, and
                        // cuts on edges 0..3 in order (edge e joins corners e and e+1).
                        // If the centre sides with corners 0 and 2 they connect through
                        // it, and the lines cut off corners 1 (edges 0,1) and 3 (edges
                        // 2,3); otherwise they cut off corners 0 (edges 3,0) and 2 (1,2).
                        let centre = vals.iter().sum::<f64>() / 4.0;
                        if (centre >= level) == (vals[0] >= level) {
                            segment(cuts[0], cuts[1]);
                            segment(cuts[2], cuts[3]);
                        } else {
                            segment(cuts[3], cuts[0]);
                            segment(cuts[1], cuts[2]);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Linear interpolation through evenly spaced colour stops, t clamped to [0, 1].
fn through(stops: &[Rgb], t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (stops.len() - 1) as f64;
    let k = (x.floor() as usize).min(stops.len() - 2);
    let f = x - k as f64;
    let (a, b) = (stops[k], stops[k + 1]);
    [0, 1, 2].map(|i| (a[i] as f64 + f * (b[i] as f64 - a[i] as f64)).round() as u8)
}

/// Viridis (dark purple → teal → yellow), approximated by nine stops.
pub fn viridis(t: f64) -> Rgb {
    through(
        &[[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137], [53, 183, 121], [109, 205, 89], [253, 231, 37]],
        t,
    )
}

/// White → light blue → dark blue: a pale background that arrows and
/// scatters stay readable over.
pub fn blues(t: f64) -> Rgb {
    through(&[[255, 255, 255], [222, 235, 247], [158, 202, 225], [66, 146, 198], [8, 69, 148]], t)
}

/// Black → white.
pub fn grays(t: f64) -> Rgb {
    through(&[[0, 0, 0], [255, 255, 255]], t)
}
