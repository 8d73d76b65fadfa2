//! Every elementwise CUDA kernel, run on the CPU through the emulation
//! (`kernels/emu/cuda_emu.h`), against the CPU backend: one case per entry of
//! `Unary::ALL` and `Binary::ALL`, so a new op is covered the moment it is
//! declared, with no GPU. g++ compiles `kernels/unary.cu` and
//! `kernels/binary.cu` into a shared library (cached by source hash) that
//! this test loads; a kernel the family list names but the `.cu` file lacks
//! fails here. Skipped, with a line saying so, where g++ is absent.
//!
//! Tolerances: f64 within 1e-12 of the CPU (the same libm functions, in
//! another order for some), f32 within 1e-5 of the CPU's f64 (the CPU's f32
//! takes vectorisable approximations). NaN must land where the CPU puts it:
//! each input holds one.

use std::collections::hash_map::DefaultHasher;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use autodiff::backend::{BackendStorage, Binary, CpuStorage, Unary};
use autodiff::DType;

type UnaryLaunch = unsafe extern "C" fn(*const c_void, u32, *const c_void, *mut c_void, u64, f64, f64);
type BinaryLaunch = unsafe extern "C" fn(*const c_void, u32, *const c_void, *const c_void, *mut c_void, u64);

/// Launches a kernel over a grid of 3 blocks of 64 threads (the kernels
/// stride over the grid, so any size covers the buffer).
const SHIM: &str = r#"
#include "cuda_emu.h"
typedef unsigned long long u64;
extern "C" void emu_launch_unary(void (*k)(const void*, void*, u64, double, double), unsigned grid, const void* x, void* y, u64 n, double a, double b) {
    launch({grid}, {64}, [&] { k(x, y, n, a, b); });
}
extern "C" void emu_launch_binary(void (*k)(const void*, const void*, void*, u64), unsigned grid, const void* a, const void* b, void* y, u64 n) {
    launch({grid}, {64}, [&] { k(a, b, y, n); });
}
"#;

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels").canonicalize().expect("kernels/ next to crates/")
}

/// The emulated elementwise kernels as a shared library, built once per
/// version of the sources; `None` without g++.
/// The emulation runs one launch at a time (its launch dimensions and
/// `__shared__` arrays are process-wide), and the library is built once: each
/// test holds this for its whole run, so the tests' threads take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn emulated_library() -> Option<libloading::Library> {
    if Command::new("g++").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        let _ = writeln!(std::io::stderr(), "emulated kernels: skipped: g++ not found (kernels/emu/run.sh needs it too)");
        return None;
    }
    let dir = kernels_dir();
    let sources = ["unary.cu", "binary.cu", "emu/cuda_emu.h", "emu/emu_unary.cpp", "emu/emu_binary.cpp"];
    let mut hasher = DefaultHasher::new();
    SHIM.hash(&mut hasher);
    for s in sources {
        std::fs::read(dir.join(s)).unwrap_or_else(|e| panic!("reading kernels/{s}: {e}")).hash(&mut hasher);
    }
    let out = std::env::temp_dir().join(format!("gradgrad-emulated-elementwise-{:016x}", hasher.finish()));
    let lib = out.join("libemulated.so");
    if !lib.exists() {
        std::fs::create_dir_all(&out).unwrap();
        let shim = out.join("shim.cpp");
        std::fs::write(&shim, SHIM).unwrap();
        // Built under a name of its own, then renamed: another test process sees all or nothing.
        let partial = out.join(format!("libemulated.{}.so", std::process::id()));
        let status = Command::new("g++")
            .args(["-std=c++20", "-O1", "-ffp-contract=off", "-pthread", "-shared", "-fPIC", "-Wno-unknown-pragmas"])
            .arg("-I")
            .arg(dir.join("emu"))
            .arg(dir.join("emu/emu_unary.cpp"))
            .arg(dir.join("emu/emu_binary.cpp"))
            .arg(&shim)
            .arg("-o")
            .arg(&partial)
            .status()
            .expect("running g++");
        assert!(status.success(), "g++ could not build the emulated kernels");
        std::fs::rename(&partial, &lib).unwrap();
    }
    // SAFETY: the library is ours, built just now from kernels/; loading it runs no initialisers of note.
    Some(unsafe { libloading::Library::new(&lib) }.expect("loading the emulated kernels"))
}

fn symbol(lib: &libloading::Library, name: &str) -> *const c_void {
    // SAFETY: only the address is taken; it is called through the launch shim with the kernel's own signature.
    let s = unsafe { lib.get::<*const c_void>(name.as_bytes()) };
    *s.unwrap_or_else(|_| panic!("`{name}` is named by the op family list but kernels/ has no such kernel"))
}

/// Deterministic inputs in `range`, at least 0.05 from 0 (kinks), with one NaN.
fn inputs(range: &std::ops::Range<f64>, n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f64> = (0..n)
        .map(|_| loop {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let x = range.start + u * (range.end - range.start);
            if x.abs() > 0.05 {
                break x;
            }
        })
        .collect();
    v[n / 2] = f64::NAN;
    v
}

fn storage(values: &[f64], dtype: DType) -> CpuStorage {
    CpuStorage::from_vec(values.to_vec()).to_dtype(dtype)
}

/// Runs `launch` on fresh NaN-poisoned output of `n` elements of `dtype`; returns the values widened.
fn emulate(dtype: DType, n: usize, launch: impl FnOnce(*mut c_void)) -> Vec<f64> {
    match dtype {
        DType::F32 => {
            let mut y = vec![f32::NAN; n];
            launch(y.as_mut_ptr().cast());
            y.into_iter().map(f64::from).collect()
        }
        DType::F64 => {
            let mut y = vec![f64::NAN; n];
            launch(y.as_mut_ptr().cast());
            y
        }
    }
}

/// The input buffer's address, as the kernel's dtype.
fn raw(s: &CpuStorage) -> *const c_void {
    match s.dtype() {
        DType::F32 => s.as_slice::<f32>().unwrap().as_ptr().cast(),
        DType::F64 => s.as_slice::<f64>().unwrap().as_ptr().cast(),
    }
}

fn assert_matches(what: &str, got: &[f64], want: &[f64], dtype: DType) {
    let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.is_nan(), w.is_nan(), "{what}: element {i} is {g}, the CPU gives {w}");
    }
    let (diff, norm) = got.iter().zip(want).filter(|(_, w)| !w.is_nan()).fold((0.0, 0.0), |(d, s), (g, w)| (d + (g - w) * (g - w), s + w * w));
    let rel = diff.sqrt() / norm.sqrt().max(1e-300);
    assert!(rel <= tol, "{what}: ‖emulated − cpu‖/‖cpu‖ = {rel:.3e} > {tol:.0e}");
}

const SIZES: [usize; 4] = [1, 7, 33, 1001];

#[test]
fn every_unary_kernel_matches_the_cpu_backend() {
    let _turn = one_at_a_time();
    let Some(lib) = emulated_library() else { return };
    // SAFETY: the shim's signature, declared above.
    let launch = unsafe { lib.get::<UnaryLaunch>(b"emu_launch_unary") }.unwrap();
    for &op in Unary::ALL {
        for dtype in [DType::F32, DType::F64] {
            let kernel = symbol(&lib, &format!("{}_{dtype}", op.kernel()));
            for (k, n) in SIZES.into_iter().enumerate() {
                let x = inputs(&op.check_inputs(), n, k as u64 + 1);
                let want = storage(&x, DType::F64).unary(op).to_f64_vec();
                let xs = storage(&x, dtype);
                let [a, b] = op.params();
                // SAFETY: x and y hold n elements of the kernel's dtype.
                let got = emulate(dtype, n, |y| unsafe { launch(kernel, 3, raw(&xs), y, n as u64, a, b) });
                assert_matches(&format!("{op:?} {dtype} n={n}"), &got, &want, dtype);
            }
        }
    }
}

#[test]
fn every_binary_kernel_matches_the_cpu_backend() {
    let _turn = one_at_a_time();
    let Some(lib) = emulated_library() else { return };
    // SAFETY: the shim's signature, declared above.
    let launch = unsafe { lib.get::<BinaryLaunch>(b"emu_launch_binary") }.unwrap();
    for &op in Binary::ALL {
        for dtype in [DType::F32, DType::F64] {
            let kernel = symbol(&lib, &format!("{}_{dtype}", op.kernel()));
            for (k, n) in SIZES.into_iter().enumerate() {
                let (a, b) = (inputs(&op.check_inputs(), n, 2 * k as u64 + 1), inputs(&op.check_inputs(), n, 2 * k as u64 + 2));
                let want = storage(&a, DType::F64).binary(&storage(&b, DType::F64), op).to_f64_vec();
                let (sa, sb) = (storage(&a, dtype), storage(&b, dtype));
                // SAFETY: a, b and y hold n elements of the kernel's dtype.
                let got = emulate(dtype, n, |y| unsafe { launch(kernel, 3, raw(&sa), raw(&sb), y, n as u64) });
                assert_matches(&format!("{op:?} {dtype} n={n}"), &got, &want, dtype);
            }
        }
    }
}
