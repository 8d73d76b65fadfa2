//! # plot: tiny hand-written PNG plotting
//!
//! Enough drawing to watch a training run and to look at 2-D score fields,
//! with one dependency (`png`, for the file format):
//!
//! - [`Canvas`]: RGB pixels with clipped lines, discs, arrows, blending,
//!   text in a built-in 5×7 font, and an atomic [`Canvas::save_png`];
//! - [`line_chart`]: curves with ticks, a legend and optional log-scale y;
//! - [`image_grid`]: grayscale images (samples, digits) in a grid;
//! - [`Frame`], [`Grid`], [`heatmap`], [`contours`]: data coordinates to
//!   pixels, scalar fields as colour and as level sets (marching squares).
//!
//! ```
//! use plot::{line_chart, Series};
//! let loss = Series { name: "loss".into(), points: (1..100).map(|i| (i as f64, 1.0 / i as f64)).collect(), color: [200, 0, 0] };
//! let chart = line_chart(&[loss], "training", "step", "loss", 480, 320, true);
//! assert_eq!((chart.width, chart.height), (480, 320));
//! ```
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

mod canvas;
mod chart;
mod field;
pub mod font;
mod grid;

pub use canvas::{Canvas, Rgb, BLACK, GRAY, LIGHT_GRAY, WHITE};
pub use chart::{format_tick, line_chart, Series, PALETTE};
pub use field::{blues, contours, grays, heatmap, viridis, Frame, Grid};
pub use grid::{image_grid, GRID_GAP};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("plot-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn png_round_trip_keeps_size_and_pixels() {
        let mut c = Canvas::new(7, 5, WHITE);
        c.set(0, 0, [255, 0, 0]);
        c.set(6, 4, [0, 0, 255]);
        c.set(3, 2, [1, 2, 3]);
        c.set(-1, 9, BLACK); // clipped, no panic
        let path = temp_path("roundtrip.png");
        c.save_png(&path).unwrap();
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        assert!(!std::path::Path::new(&tmp).exists(), "the temporary file was renamed away");
        let (w, h, bytes) = decode(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!((w, h), (7, 5));
        let at = |x: usize, y: usize| [bytes[3 * (y * 7 + x)], bytes[3 * (y * 7 + x) + 1], bytes[3 * (y * 7 + x) + 2]];
        assert_eq!(at(0, 0), [255, 0, 0]);
        assert_eq!(at(6, 4), [0, 0, 255]);
        assert_eq!(at(3, 2), [1, 2, 3]);
        assert_eq!(at(1, 1), WHITE);
        assert_eq!(bytes, c.to_rgb_bytes());
    }

    #[test]
    fn blend_mixes_and_primitives_clip() {
        let mut c = Canvas::new(10, 10, [0, 0, 0]);
        c.blend(2, 2, [200, 100, 0], 0.5);
        assert_eq!(c.pixel(2, 2), [100, 50, 0]);
        c.line(-1e12, 5.0, 1e12, 5.0, WHITE); // huge: clipped before stepping
        assert!((0..10).all(|x| c.pixel(x, 5) == WHITE));
        c.line(f64::NAN, 0.0, 3.0, 3.0, WHITE);
        c.disc(0.0, 0.0, 30.0, [9, 9, 9]);
        c.arrow(1.0, 8.0, 8.0, 8.0, [1, 1, 1]);
        c.text(-3, -3, "Hello, w0rld: 1e-3 (x/y) = +2", WHITE);
        c.text_scaled(8, 8, "AB", WHITE, 2);
    }

    #[test]
    fn text_draws_ink_in_its_cell() {
        let mut c = Canvas::new(20, 10, WHITE);
        c.text(1, 1, "1", BLACK);
        // '1' has a full-width foot on its last row: columns 1..=3 of the glyph.
        assert_eq!(c.pixel(1 + 2, 1 + 6), BLACK);
        assert_eq!(c.pixel(1, 1), WHITE);
    }

    #[test]
    fn line_chart_with_nans_and_infinities_does_not_panic() {
        let s = Series { name: "a".into(), points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, f64::INFINITY), (3.0, 0.5), (f64::NAN, 2.0), (4.0, -1.0)], color: PALETTE[0] };
        for log_y in [false, true] {
            let c = line_chart(std::slice::from_ref(&s), "t", "x", "y", 300, 200, log_y);
            assert_eq!((c.width, c.height), (300, 200));
        }
        let empty = Series { name: "all nan".into(), points: vec![(f64::NAN, f64::NAN)], color: PALETTE[1] };
        line_chart(&[empty], "", "", "", 120, 90, true);
        line_chart(&[], "nothing", "x", "y", 50, 40, false);
        let one = Series { name: "one".into(), points: vec![(3.0, 3.0)], color: PALETTE[2] };
        line_chart(&[one], "one point", "x", "y", 200, 150, false);
    }

    #[test]
    fn line_chart_draws_the_series_colour() {
        let red = [230, 0, 0];
        let s = Series { name: String::new(), points: (0..50).map(|i| (i as f64, (i as f64).sin())).collect(), color: red };
        let c = line_chart(&[s], "sin", "x", "y", 320, 240, false);
        let reds = (0..c.height).flat_map(|y| (0..c.width).map(move |x| (x, y))).filter(|&(x, y)| c.pixel(x, y) == red).count();
        assert!(reds > 200, "only {reds} red pixels");
    }

    #[test]
    fn image_grid_has_the_stated_size_and_places_images() {
        let ones = vec![1.0f32; 4 * 3];
        let zeros = vec![0.0f32; 4 * 3];
        let images: Vec<&[f32]> = vec![&ones, &zeros, &ones];
        let g = image_grid(&images, 2, 2, 4, 3, 2, 1);
        assert_eq!((g.width, g.height), (2 * 3 * 2 + 1, 2 * 4 * 2 + 1));
        assert_eq!(g.pixel(0, 0), WHITE);
        assert_eq!(g.pixel(7, 0), BLACK); // second image starts at x = 3·2 + 1
        assert_eq!(g.pixel(6, 0), GRID_GAP);
        assert_eq!(g.pixel(0, 9), WHITE); // third image, second row
        assert_eq!(g.pixel(12, 16), GRID_GAP); // fourth cell is empty
    }

    #[test]
    fn frame_maps_both_ways_with_y_up() {
        let f = Frame::new((-2.0, 2.0), (0.0, 1.0), 10.0, 20.0, 400.0, 100.0);
        assert_eq!(f.to_pixel(-2.0, 1.0), (10.0, 20.0));
        assert_eq!(f.to_pixel(2.0, 0.0), (410.0, 120.0));
        let (x, y) = f.to_data(210.0, 70.0);
        assert!((x - 0.0).abs() < 1e-12 && (y - 0.5).abs() < 1e-12);
    }

    #[test]
    fn contours_of_a_cone_are_circles() {
        // r(x, y) = √(x² + y²): the level set r = 1 is the unit circle.
        let grid = Grid::sample((-2.0, 2.0), (-2.0, 2.0), 41, 41, |x, y| (x * x + y * y).sqrt());
        let frame = Frame::new((-2.0, 2.0), (-2.0, 2.0), 0.0, 0.0, 200.0, 200.0);
        let mut c = Canvas::new(201, 201, WHITE);
        contours(&mut c, &frame, &grid, &[1.0], BLACK);
        let mut inked = 0;
        for y in 0..201 {
            for x in 0..201 {
                if c.pixel(x, y) == BLACK {
                    inked += 1;
                    let (dx, dy) = frame.to_data(x as f64, y as f64);
                    let r = (dx * dx + dy * dy).sqrt();
                    assert!((r - 1.0).abs() < 0.03, "pixel ({x}, {y}) at radius {r}");
                }
            }
        }
        assert!(inked > 250, "{inked} pixels: the circle is 2π·50 ≈ 314 long");
        let mut h = Canvas::new(201, 201, WHITE);
        heatmap(&mut h, &frame, &grid, None, viridis);
        assert_eq!(h.pixel(100, 100), viridis(0.0));
    }
}
