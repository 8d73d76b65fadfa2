//! The CUDA backend: the same kernels as [`super::cpu`], hand-written in CUDA C
//! (`kernels/*.cu`, one file per op family), compiled at run time by NVRTC
//! and launched through cudarc.
//!
//! It builds everywhere: cudarc loads the CUDA libraries when first used, not
//! at link time, and nothing here runs until a tensor is moved to a GPU.
//! [`availability`] says whether this machine has one (and why not, if not);
//! [`crate::Device::cuda`] turns that into a `Result` for `--device cuda`, and
//! [`crate::Device::cuda_if_available`] into a fallback for `--device auto`.
//!
//! A buffer lives on one device and never changes after its kernel wrote it
//! (storages are immutable), so cloning a [`CudaStorage`] shares it. Every
//! kernel of a device runs on that device's one stream, in launch order;
//! values come back to the host only through [`CudaStorage::to_cpu`].

mod device;
mod layout;
mod storage;
#[cfg(test)]
mod kernel_check;

pub use device::{availability, describe, is_available, set_checked_launches, stream, synchronize, transfers, CudaUnavailable, Transfers};
pub use layout::{big_gemm_variant, set_big_gemm_variant, BIG_GEMM_VARIANTS};
pub use storage::CudaStorage;

/// Launches kernel `$name` of `$family` on `$dev`'s stream with `$cfg` and the
/// arguments in order (buffers as `&CudaSlice` / `&mut CudaSlice`, scalars as
/// references to locals of the exact C type: `u64`, `i32`, `f32`, `f64`).
/// A launch error is a bug (bad configuration) and panics with the kernel's name.
macro_rules! launch {
    ($dev:expr, $family:expr, $name:expr, $cfg:expr, $($arg:expr),* $(,)?) => {{
        #[allow(unused_imports)]
        use cudarc::driver::PushKernelArg as _;
        let dev = &$dev;
        let name: &str = &$name;
        let function = dev.function($family, name);
        let mut builder = dev.stream.launch_builder(&function);
        $( builder.arg($arg); )*
        // SAFETY: each call site passes the arguments its kernel in kernels/
        // declares, in order and with the same C types, and sizes the grid so
        // the kernel stays inside its buffers.
        unsafe { builder.launch($cfg) }.unwrap_or_else(|e| panic!("cuda:{}: launching `{}`: {:?}", dev.ordinal, name, e));
        dev.after_launch(name);
    }};
}
pub(crate) use launch;
