//! The classifier on tiny generated data (no MNIST needed): it learns, its
//! file round-trips exactly, and a damaged cache is named, set aside and
//! replaced.

use std::path::Path;

use mnist::{Dataset, Splits};
use quality::{Cached, Classifier, Quality, QualityError, Reference, TrainConfig, PIXELS};

/// `count` 28×28 images: class k is a bright 6×6 square at one of 10 places, plus faint stripes.
fn squares(count: usize, offset: usize) -> Dataset {
    let mut images = vec![0f32; count * PIXELS];
    let mut labels = Vec::with_capacity(count);
    for (i, image) in images.chunks_exact_mut(PIXELS).enumerate() {
        let k = (i + offset) % 10;
        let (top, left) = (3 + (k / 5) * 12, 2 + (k % 5) * 5);
        for r in top..top + 6 {
            for c in left..left + 6 {
                image[r * 28 + c] = 1.0;
            }
        }
        image.iter_mut().skip(i % 7).step_by(29).for_each(|p| *p = p.max(0.2));
        labels.push(k as u8);
    }
    Dataset { images, labels, rows: 28, cols: 28 }
}

fn tiny() -> (Splits, TrainConfig) {
    let splits = Splits { train: squares(400, 0), test: squares(100, 3) };
    let config = TrainConfig { hidden: vec![32, 16], epochs: 3, batch: 40, lr: 3e-3, max_shift: 1, seed: 5 };
    (splits, config)
}

#[test]
fn it_learns_and_its_file_round_trips_exactly() {
    let (splits, config) = tiny();
    let mut epochs = 0;
    let c = Classifier::train(&splits, &config, |_| epochs += 1).unwrap();
    assert_eq!(epochs, 3);
    assert!(c.provenance.test_accuracy > 0.9, "accuracy {}", c.provenance.test_accuracy);
    assert_eq!(c.widths(), vec![784, 32, 16, 10]);
    assert_eq!(c.architecture(), "784-32-16-10 relu");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classifier.safetensors");
    c.save(&path).unwrap();
    let back = Classifier::load(&path).unwrap();
    assert_eq!(back.provenance, c.provenance);
    let images = &splits.test.images;
    assert_eq!(back.probabilities(images).unwrap(), c.probabilities(images).unwrap());
    assert_eq!(back.features(images).unwrap(), c.features(images).unwrap());
    // Only the file is left in the folder: the temporary one was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // The same seed trains the same classifier.
    let again = Classifier::train(&splits, &config, |_| {}).unwrap();
    assert_eq!(again.probabilities(images).unwrap(), c.probabilities(images).unwrap());
}

#[test]
fn probabilities_sum_to_one_and_pixels_are_clamped() {
    let (splits, config) = tiny();
    let c = Classifier::train(&splits, &config, |_| {}).unwrap();
    for p in c.probabilities(&splits.test.images).unwrap() {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }
    let bright: Vec<f32> = splits.test.images[..PIXELS].iter().map(|p| p * 5.0 - 2.0).collect();
    let clamped: Vec<f32> = bright.iter().map(|p| p.clamp(0.0, 1.0)).collect();
    assert_eq!(c.probabilities(&bright).unwrap(), c.probabilities(&clamped).unwrap());
    assert!(matches!(c.probabilities(&[0.0; 100]), Err(QualityError::NotImages { len: 100, .. })));
}

#[test]
fn quality_against_the_test_set() {
    let (splits, config) = tiny();
    let c = Classifier::train(&splits, &config, |_| {}).unwrap();
    let reference = Reference::of(&c, &splits.test.images).unwrap();
    let same = Quality::of(&c, &splits.test.images, Some(&reference)).unwrap();
    assert_eq!(same.count, 100);
    assert!(same.fcd.unwrap() < 1e-6, "FCD of a set to itself: {:?}", same.fcd);
    assert!(same.inception_score > 6.0, "IS {}", same.inception_score);
    let one_class: Vec<f32> = (0..100).filter(|i| splits.test.labels[*i] == 4).flat_map(|i| splits.test.image(i).to_vec()).collect();
    let q = Quality::of(&c, &one_class, Some(&reference)).unwrap();
    assert!(q.inception_score < 1.5 && q.fcd.unwrap() > same.fcd.unwrap() + 1.0, "{q:?}");
    assert!(q.render().iter().any(|l| l.contains("Fréchet")));
}

#[test]
fn a_damaged_cache_is_named_then_set_aside_and_retrained() {
    let (splits, config) = tiny();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classifier.safetensors");
    std::fs::write(&path, b"not a safetensors file at all").unwrap();
    let err = Classifier::load(&path).unwrap_err();
    assert!(matches!(err, QualityError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("classifier.safetensors"), "{err}");

    let (trained, how) = Classifier::load_or_train(&path, &splits, &config, |_| {}).unwrap();
    let Cached::Trained { replaced: Some(why) } = how else { panic!("expected a retrain, got {how:?}") };
    assert!(why.contains("not a usable classifier file"), "{why}");
    // Nothing lost: the bad file is kept beside the new one.
    assert_eq!(std::fs::read(path.with_extension("safetensors.bad")).unwrap(), b"not a safetensors file at all");
    let (loaded, how) = Classifier::load_or_train(&path, &splits, &config, |_| panic!("no training")).unwrap();
    assert_eq!(how, Cached::Loaded);
    assert_eq!(loaded.probabilities(&splits.test.images).unwrap(), trained.probabilities(&splits.test.images).unwrap());

    // A truncated file names itself too.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Classifier::load(&path).unwrap_err();
    assert!(matches!(err, QualityError::Corrupt { .. }) && err.to_string().contains(&path.display().to_string()), "{err}");
    // A missing one is an I/O error that names it.
    let missing = Classifier::load(Path::new("/nonexistent/classifier.safetensors")).unwrap_err();
    assert!(matches!(missing, QualityError::Io { .. }) && missing.to_string().contains("/nonexistent/classifier.safetensors"));
}

#[test]
fn a_cache_of_another_format_or_architecture_is_replaced() {
    let (splits, config) = tiny();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classifier.safetensors");
    Classifier::load_or_train(&path, &splits, &config, |_| {}).unwrap();

    // Another format version (same length, so the header still parses).
    let mut bytes = std::fs::read(&path).unwrap();
    let key = br#""format_version":"1""#;
    let at = bytes.windows(key.len()).position(|w| w == key).expect("the metadata holds the format version");
    bytes[at + key.len() - 2] = b'9';
    std::fs::write(&path, &bytes).unwrap();
    let err = Classifier::load(&path).unwrap_err();
    assert!(matches!(err, QualityError::Mismatch { .. }) && err.to_string().contains("format version 9"), "{err}");

    // Other widths than asked for.
    Classifier::load_or_train(&path, &splits, &config, |_| {}).unwrap();
    let wider = TrainConfig { hidden: vec![48, 16], ..config };
    let (c, how) = Classifier::load_or_train(&path, &splits, &wider, |_| {}).unwrap();
    let Cached::Trained { replaced: Some(why) } = how else { panic!("expected a retrain, got {how:?}") };
    assert!(why.contains("784-32-16-10 relu") && why.contains("784-48-16-10 relu"), "{why}");
    assert_eq!(c.widths(), vec![784, 48, 16, 10]);
}

#[test]
fn data_it_cannot_train_on_is_an_error() {
    let (mut splits, config) = tiny();
    let small = TrainConfig { batch: 1000, ..config.clone() };
    assert!(matches!(Classifier::train(&splits, &small, |_| {}), Err(QualityError::TooFewImages { count: 400, needed: 1000, .. })));
    splits.test.rows = 14;
    let err = Classifier::train(&splits, &config, |_| {}).unwrap_err();
    assert!(err.to_string().contains("test images: images of 14×28 pixels"), "{err}");
}
