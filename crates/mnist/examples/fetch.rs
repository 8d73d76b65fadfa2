//! Finds or fetches the real data into a cache folder and loads it, timing each step:
//! `cargo run -p mnist --example fetch -- <cache-dir> [mnist|fashion]`.

use std::path::PathBuf;
use std::time::Instant;

use mnist::{load_dir, locate_or_fetch, FetchOptions, Kind};

fn main() {
    // Display, not Debug: the not-found report is meant to be read.
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cache = PathBuf::from(
        args.next()
            .ok_or("usage: fetch <cache-dir> [mnist|fashion]")?,
    );
    let kind: Kind = args.next().as_deref().unwrap_or("mnist").parse()?;

    let start = Instant::now();
    let dir = locate_or_fetch(kind, &FetchOptions::new(kind, &cache))?;
    println!(
        "{kind}: files in {} ({:.1} s)",
        dir.display(),
        start.elapsed().as_secs_f64()
    );

    // load_dir checks every file against the built-in SHA-256 sums again before reading it.
    let start = Instant::now();
    let splits = load_dir(kind, &dir)?;
    println!(
        "checksums match; loaded {} train + {} test images of {}x{} ({:.1} s)",
        splits.train.len(),
        splits.test.len(),
        splits.train.rows,
        splits.train.cols,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
