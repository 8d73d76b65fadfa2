//! `cargo run -p trainer`: see the crate docs, the README's "Training MNIST" and docs/trainer.md.

use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

static STOP: AtomicBool = AtomicBool::new(false);

fn main() {
    // This thread records every step: in rayon's pool it runs its own share of
    // each parallel op instead of handing the op over and sleeping.
    if let Err(e) = autodiff::threads::pool_with_caller(None) {
        eprintln!("warning: rayon's pool was already built ({e}); ops hand their work to it");
    }
    let cli = trainer::cli::Cli::parse();
    // The first Ctrl-C asks the loop to finish its step and checkpoint; a second one quits now,
    // and so does the first before training has started.
    let handler = ctrlc::set_handler(|| {
        if !trainer::TRAINING.load(Ordering::SeqCst) {
            eprintln!("\nCtrl-C: stopped before training began; nothing to checkpoint");
            std::process::exit(130);
        }
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: quitting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!(
            "\nCtrl-C: finishing this step, then writing a checkpoint (Ctrl-C again to quit now)"
        );
    });
    if let Err(e) = handler {
        eprintln!("warning: Ctrl-C will stop the trainer without a checkpoint ({e})");
    }
    if let Err(e) = trainer::run_cli(cli, &STOP) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
