//! Known-good and known-bad sets on the real classifier. Needs the real MNIST
//! files and about a minute of training, so it is ignored by default:
//! `MNIST_DIR=<dir with the four IDX files> cargo test -p quality --test real_mnist -- --ignored`

use quality::{Classifier, Quality, Reference, TrainConfig, PIXELS};

#[test]
#[ignore = "needs the real MNIST files (MNIST_DIR) and a minute of training"]
fn real_digits_score_near_the_ceiling_and_noise_or_one_class_score_low() {
    let dir = std::env::var("MNIST_DIR").expect("set MNIST_DIR to a folder with the four MNIST IDX files");
    let splits = mnist::load_dir(mnist::Kind::Mnist, dir.as_ref()).unwrap();
    let c = Classifier::train(&splits, &TrainConfig::default(), |_| {}).unwrap();
    assert!(c.provenance.test_accuracy >= 0.985, "test accuracy {}", c.provenance.test_accuracy);
    let reference = Reference::of(&c, &splits.test.images).unwrap();

    let real = Quality::of(&c, &splits.test.images[..1000 * PIXELS], Some(&reference)).unwrap();
    assert!(real.inception_score > 9.0 && real.confident_share > 0.9, "real: {real:?}");

    let mut state = 1u64;
    let noise: Vec<f32> = (0..1000 * PIXELS)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let noise = Quality::of(&c, &noise, Some(&reference)).unwrap();
    assert!(noise.inception_score < 2.0 && noise.fcd.unwrap() > 10.0 * real.fcd.unwrap(), "noise: {noise:?}");

    let sevens: Vec<f32> = (0..10_000).filter(|&i| splits.test.labels[i] == 7).take(1000).flat_map(|i| splits.test.image(i).to_vec()).collect();
    let sevens = Quality::of(&c, &sevens, Some(&reference)).unwrap();
    assert!(sevens.inception_score < 1.5 && sevens.fcd.unwrap() > 10.0 * real.fcd.unwrap(), "one class: {sevens:?}");
}
