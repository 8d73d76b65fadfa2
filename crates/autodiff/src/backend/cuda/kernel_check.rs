//! The kernels through the real CUDA compiler, with no GPU: every
//! `kernels/*.cu` file compiles under NVRTC with the backend's own options
//! for the architectures it meets (A100, H100), and every kernel the backend
//! launches by name is an entry of that file's PTX. A misspelt kernel name or
//! a source NVRTC rejects fails here instead of on a lent GPU. Skipped, with a
//! line saying so, where `libnvrtc.so.13` is absent; `.ci/run` fetches it.

use std::collections::BTreeSet;
use std::io::Write;
use std::panic::catch_unwind;

use super::device::{ptx, Family};
use super::layout::BIG_GEMM_VARIANTS;
use crate::backend::{Binary, Unary};

const ARCHS: [&str; 2] = ["compute_80", "compute_90"];
const DTYPES: [&str; 2] = ["f32", "f64"];

fn nvrtc_present() -> bool {
    matches!(catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }), Ok(true))
}

/// The `.entry` names of a PTX module.
fn entries(ptx: &str) -> BTreeSet<String> {
    ptx.lines()
        .filter_map(|line| line.split(".entry ").nth(1))
        .map(|rest| rest.split(['(', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

/// `(family, kernel)` for every launch in `source` whose kernel is named by a
/// literal, `launch!(dev, Family::X, kernel_name::<T>("op"), …)`: one kernel
/// per dtype.
fn literal_launches(source: &str) -> Vec<(Family, String)> {
    let mut found = Vec::new();
    for site in source.split("launch!(").skip(1) {
        let Some((_, after)) = site.split_once("Family::") else { continue };
        let family_name: String = after.chars().take_while(char::is_ascii_alphanumeric).collect();
        let family = Family::ALL.into_iter().find(|f| format!("{f:?}") == family_name);
        let family = family.unwrap_or_else(|| panic!("launch! names an unknown family `{family_name}`"));
        let Some(rest) = after[family_name.len()..].strip_prefix(", kernel_name::<T>(\"") else { continue };
        let op = rest.split('"').next().unwrap();
        found.extend(DTYPES.map(|d| (family, format!("{op}_{d}"))));
    }
    found
}

/// Every kernel the backend can launch, with its family.
fn launched_kernels() -> Vec<(Family, String)> {
    let mut kernels = literal_launches(include_str!("storage.rs"));
    assert!(kernels.len() >= 30, "the scan of storage.rs found only {} literal launches", kernels.len());
    for d in DTYPES {
        kernels.extend(Unary::ALL.iter().map(|op| (Family::Unary, format!("{}_{d}", op.kernel()))));
        kernels.extend(Binary::ALL.iter().map(|op| (Family::Binary, format!("{}_{d}", op.kernel()))));
        kernels.extend(["slice_axis", "pad_axis"].map(|op| (Family::Index, format!("{op}_{d}"))));
        kernels.push((Family::Cast, format!("fill_{d}")));
    }
    kernels.extend(["cast_f32_to_f64", "cast_f64_to_f32"].map(|k| (Family::Cast, k.to_string())));
    // Tilings: small in both dtypes, the big variants in f32 only (layout::plan_gemm).
    let tilings = std::iter::once(("small", &DTYPES[..])).chain(BIG_GEMM_VARIANTS.map(|v| (v, &DTYPES[..1])));
    for (tiling, dtypes) in tilings {
        for t in ["nn", "nt", "tn", "tt"] {
            kernels.extend(dtypes.iter().map(|d| (Family::Matmul, format!("matmul_{tiling}_{t}_{d}"))));
        }
    }
    kernels
}

#[test]
fn every_kernel_compiles_under_nvrtc_and_every_launched_name_exists() {
    if !nvrtc_present() {
        // Straight to the stream, past libtest's capture, so the skip is visible.
        let _ = writeln!(std::io::stderr(), "kernel check: skipped: NVRTC (libnvrtc.so.13) not found; put its folder on LD_LIBRARY_PATH to run it");
        return;
    }
    let launched = launched_kernels();
    for arch in ARCHS {
        for family in Family::ALL {
            let ptx = ptx(family, arch).unwrap_or_else(|e| panic!("{arch}: {e}"));
            let have = entries(&ptx.to_src());
            assert!(!have.is_empty(), "{arch}: kernels/{} has no entries", family.file());
            for (_, kernel) in launched.iter().filter(|(f, _)| *f == family) {
                assert!(have.contains(kernel), "{arch}: `{kernel}` is launched but kernels/{} has no such entry; it has {have:?}", family.file());
            }
        }
    }
}

#[test]
fn the_launch_scan_reads_literal_names() {
    let source = r#"launch!(dev, Family::Random, kernel_name::<T>("normal"), cfg, &mut y);
                    launch!(dev, Family::Matmul, name, cfg, a);"#;
    let found = literal_launches(source);
    assert_eq!(found, vec![(Family::Random, "normal_f32".to_string()), (Family::Random, "normal_f64".to_string())]);
    let ptx = "//\n.visible .entry sample_rows_f32(\n\t.param .u64 a\n)\n.entry fill_f64 (\n";
    assert_eq!(entries(ptx), BTreeSet::from(["sample_rows_f32".to_string(), "fill_f64".to_string()]));
}
