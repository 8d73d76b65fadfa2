//! Trains the MNIST classifier (or loads it), prints its test accuracy and
//! training time, then the quality figures of three sets of 1000 images: real
//! test digits, uniform noise, and real digits of one class only.
//!
//! `cargo run -p quality --example classifier -- <mnist dir> [cache file | -] [epochs] [seed]`
//! With no cache file (or `-`) it trains every time.

use std::path::PathBuf;
use std::time::Instant;

use quality::{Classifier, Quality, Reference, TrainConfig, PIXELS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    autodiff::threads::pool_with_caller(None)?;
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: classifier <mnist dir> [cache file | -] [epochs] [seed]")?);
    let cache = args.next().filter(|s| !s.is_empty() && s != "-").map(PathBuf::from);
    let mut config = TrainConfig::default();
    if let Some(epochs) = args.next() {
        config.epochs = epochs.parse()?;
    }
    if let Some(seed) = args.next() {
        config.seed = seed.parse()?;
    }
    let splits = mnist::load_dir(mnist::Kind::Mnist, &dir)?;
    println!("training {:?} (threads: {})", config, std::thread::available_parallelism().map_or(0, |n| n.get()));
    let report = |r: &quality::EpochReport| {
        println!("epoch {}/{}: loss {:.4}, test accuracy {:.2}%, {:.1} s", r.epoch, r.epochs, r.loss, 100.0 * r.test_accuracy, r.elapsed_seconds);
    };
    let classifier = match &cache {
        Some(path) => {
            let (c, how) = Classifier::load_or_train(path, &splits, &config, report)?;
            println!("{}: {how:?}", path.display());
            c
        }
        None => Classifier::train(&splits, &config, report)?,
    };
    let p = &classifier.provenance;
    println!("classifier {}: test accuracy {:.2}%, trained in {:.1} s ({} epochs, seed {})", classifier.architecture(), 100.0 * p.test_accuracy, p.train_seconds, p.epochs, p.seed);

    let start = Instant::now();
    let reference = Reference::of(&classifier, &splits.test.images)?;
    println!("reference: the {} test images' features ({} wide), {:.1} s", splits.test.len(), classifier.feature_dim(), start.elapsed().as_secs_f64());

    let real = splits.test.images[..1000 * PIXELS].to_vec();
    let noise = uniform_noise(1000, 1);
    let sevens: Vec<f32> = (0..splits.test.len()).filter(|&i| splits.test.labels[i] == 7).take(1000).flat_map(|i| splits.test.image(i).to_vec()).collect();
    for (name, images) in [("1000 real test images", &real), ("1000 uniform-noise images", &noise), ("1000 real images of the digit 7", &sevens)] {
        let start = Instant::now();
        let q = Quality::of(&classifier, images, Some(&reference))?;
        println!("\n{name} ({:.1} s):", start.elapsed().as_secs_f64());
        q.render().iter().for_each(|line| println!("  {line}"));
    }
    Ok(())
}

/// `count` images of independent uniform pixels in [0, 1].
fn uniform_noise(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..count * PIXELS)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}
