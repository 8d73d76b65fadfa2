//! Any bytes at all: the IDX parsers must return an error or a consistent result, never
//! panic, and never allocate more than the input justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = mnist::parse_idx_images(data) {
        // An accepted file holds exactly its declared pixels, each scaled into [0, 1].
        assert_eq!(16 + images.pixels.len(), data.len());
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
        assert!(images.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    if let Ok(labels) = mnist::parse_idx_labels(data) {
        assert_eq!(8 + labels.len(), data.len());
    }
});
