//! Draws every glyph of the built-in font and a sample caption, to check by eye that they read:
//! `cargo run -p plot --example glyphs -- /tmp/glyphs.png`.

use plot::{Canvas, BLACK, WHITE};

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "glyphs.png".into());
    let lines = [
        "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "abcdefghijklmnopqrstuvwxyz .,-+=:;/()[]<>_%*|!?'",
        "σ ε λ γ ρ ² · × → ≈ ≥ ≤ … −  unknown: ∂ ‖ ✓",
        "rows: clean; then per σ (1.00, 0.10): noisy x+σε, denoised x+σ²s(x)",
        "Langevin, 10 σ 1.00…0.10 × 60 steps, s(x)/σ; λ ≈ 2·10−3 → 0",
        "pgqy descend; σε² sits on the baseline",
    ];
    let width = lines
        .iter()
        .map(|l| plot::font::text_width(l, 1))
        .max()
        .unwrap_or(0)
        + 8;
    let mut small = Canvas::new(width, 12 * lines.len() + 4, WHITE);
    for (i, line) in lines.iter().enumerate() {
        small.text(4, 4 + 12 * i as i64, line, BLACK);
    }
    // The same at 3×, below, to see each pixel.
    let mut canvas = Canvas::new(3 * width, small.height + 3 * small.height, WHITE);
    canvas.blit(&small, 0, 0);
    for (i, line) in lines.iter().enumerate() {
        canvas.text_scaled(12, small.height as i64 + 12 + 36 * i as i64, line, BLACK, 3);
    }
    canvas.save_png(std::path::Path::new(&path))?;
    println!("{path}");
    Ok(())
}
