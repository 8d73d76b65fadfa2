//! Finding a GPU without crashing, opening it once, and the kernels compiled for it.
//!
//! cudarc loads the CUDA libraries at run time and *panics* on first use when
//! they are missing. So [`availability`] probes in steps that cannot crash: is
//! the driver library there (a plain `dlopen`), how many devices does it see
//! (inside `catch_unwind`), is NVRTC there (the kernels are compiled from
//! source at run time). The answer is computed once per process.
//!
//! A device is opened once ([`device`]): a context, one stream (every kernel
//! of the process runs on it, in order, so no other synchronisation is
//! needed), and a cache of compiled modules. Each `.cu` file of `kernels/` is
//! compiled by NVRTC the first time one of its kernels is launched, once per
//! process and architecture.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::catch_unwind;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, ValidAsZeroBits};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

use super::storage::ConstantCache;
use crate::dtype::Element;

/// CUDA was asked for but cannot be used here; `reason` says why (no driver,
/// no device, no NVRTC, the kernels failed to load, ...). A run-time condition,
/// not a bug: callers map it to an error message or a CPU fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaUnavailable {
    /// Why: which probe failed, with the driver's or NVRTC's words.
    pub reason: String,
}

impl fmt::Display for CudaUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CUDA requested but unavailable: {}", self.reason)
    }
}

impl std::error::Error for CudaUnavailable {}

fn unavailable<T>(reason: impl Into<String>) -> Result<T, CudaUnavailable> {
    Err(CudaUnavailable { reason: reason.into() })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "unknown panic".into())
}

/// The number of CUDA devices this process can use, or why it can use none.
/// Probed once; never panics. Setting `GRADGRAD_NO_CUDA=1` hides every device
/// (to exercise the CPU fallback on a machine with a GPU).
pub fn availability() -> Result<usize, CudaUnavailable> {
    static PROBE: OnceLock<Result<usize, CudaUnavailable>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

/// Whether at least one CUDA device can be used (see [`availability`]).
pub fn is_available() -> bool {
    availability().is_ok()
}

fn probe() -> Result<usize, CudaUnavailable> {
    if std::env::var("GRADGRAD_NO_CUDA").is_ok_and(|v| !v.is_empty() && v != "0") {
        return unavailable("disabled by GRADGRAD_NO_CUDA");
    }
    // SAFETY: only tries to dlopen the library names cudarc would use.
    let driver = catch_unwind(|| unsafe { sys::is_culib_present() });
    if !matches!(driver, Ok(true)) {
        return unavailable("the CUDA driver library (libcuda.so) was not found");
    }
    let count = match catch_unwind(CudaContext::device_count) {
        Err(p) => return unavailable(format!("the CUDA driver failed: {}", panic_message(&*p))),
        Ok(Err(e)) => return unavailable(format!("the CUDA driver found no usable device ({e:?})")),
        Ok(Ok(n)) if n <= 0 => return unavailable("the CUDA driver reports no device"),
        Ok(Ok(n)) => n as usize,
    };
    // SAFETY: as above, for NVRTC.
    let nvrtc = catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() });
    if !matches!(nvrtc, Ok(true)) {
        return unavailable(
            "the CUDA runtime compiler (libnvrtc.so.13) was not found, so the kernels cannot be compiled; \
             add its folder to LD_LIBRARY_PATH",
        );
    }
    Ok(count)
}

/// Host↔device copies made by this thread so far, over all devices: what a
/// test reads to hold a training step to "no copy but the loss". (Copies
/// happen on the thread that asks for them, so threads do not mix counts.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transfers {
    /// Host-to-device copies.
    pub uploads: u64,
    /// Bytes copied to devices.
    pub upload_bytes: u64,
    /// Device-to-host copies.
    pub downloads: u64,
    /// Bytes copied to the host.
    pub download_bytes: u64,
}

thread_local! {
    static TRANSFERS: Cell<Transfers> = Cell::new(Transfers::default());
}

/// The copies this thread has made so far (see [`Transfers`]).
pub fn transfers() -> Transfers {
    TRANSFERS.with(Cell::get)
}

/// Counts one copy of `bytes` to the device (`up`) or to the host.
pub(crate) fn count_transfer(up: bool, bytes: usize) {
    TRANSFERS.with(|t| {
        let mut c = t.get();
        if up {
            c.uploads += 1;
            c.upload_bytes += bytes as u64;
        } else {
            c.downloads += 1;
            c.download_bytes += bytes as u64;
        }
        t.set(c);
    });
}

static CHECKED: AtomicBool = AtomicBool::new(false);

/// A test knob: when on, every kernel's output buffer is filled with NaN
/// before the kernel runs (so an element the kernel fails to write shows up),
/// and the stream is synchronised after every launch (so an error names its
/// kernel). Slow; for parity tests and debugging.
pub fn set_checked_launches(on: bool) {
    CHECKED.store(on, Ordering::Relaxed);
}

pub(crate) fn checked_launches() -> bool {
    CHECKED.load(Ordering::Relaxed)
}

/// The kernel files, one per op family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    Matmul,
    Unary,
    Binary,
    Reduce,
    Index,
    Cast,
    Random,
    Adam,
}

impl Family {
    #[cfg(test)]
    pub(crate) const ALL: [Family; 8] = [
        Family::Matmul,
        Family::Unary,
        Family::Binary,
        Family::Reduce,
        Family::Index,
        Family::Cast,
        Family::Random,
        Family::Adam,
    ];

    pub(crate) fn file(self) -> &'static str {
        match self {
            Family::Matmul => "matmul.cu",
            Family::Unary => "unary.cu",
            Family::Binary => "binary.cu",
            Family::Reduce => "reduce.cu",
            Family::Index => "index.cu",
            Family::Cast => "cast.cu",
            Family::Random => "random.cu",
            Family::Adam => "adam.cu",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Family::Matmul => include_str!("../../../../../kernels/matmul.cu"),
            Family::Unary => include_str!("../../../../../kernels/unary.cu"),
            Family::Binary => include_str!("../../../../../kernels/binary.cu"),
            Family::Reduce => include_str!("../../../../../kernels/reduce.cu"),
            Family::Index => include_str!("../../../../../kernels/index.cu"),
            Family::Cast => include_str!("../../../../../kernels/cast.cu"),
            Family::Random => include_str!("../../../../../kernels/random.cu"),
            Family::Adam => include_str!("../../../../../kernels/adam.cu"),
        }
    }
}

/// PTX for `family` on `arch` (`compute_90`, say): compiled once per process.
pub(crate) fn ptx(family: Family, arch: &str) -> Result<Ptx, String> {
    static CACHE: OnceLock<Mutex<HashMap<(Family, String), Ptx>>> = OnceLock::new();
    let mut cache = lock(CACHE.get_or_init(Default::default));
    if let Some(p) = cache.get(&(family, arch.to_string())) {
        return Ok(p.clone());
    }
    let mut options = vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()];
    if family == Family::Random {
        // Only the fused multiply-adds written out: the CPU's arithmetic, bit for bit.
        options.push("--fmad=false".into());
    }
    let opts = CompileOptions {
        options,
        name: Some(family.file().into()),
        ..Default::default()
    };
    let compiled = compile_ptx_with_opts(family.source(), opts).map_err(|e| match e {
        cudarc::nvrtc::CompileError::CompileError { log, .. } => {
            format!("NVRTC failed on kernels/{}:\n{}", family.file(), log.to_string_lossy())
        }
        other => format!("NVRTC failed on kernels/{}: {other:?}", family.file()),
    })?;
    cache.insert((family, arch.to_string()), compiled.clone());
    Ok(compiled)
}

/// A lock that shrugs off poisoning: the guarded maps stay valid after a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last `N` small uploads, found again by what they were made from. A
/// device buffer never changes once written, so handing one out again is
/// safe, and an upload that recurs every step (a gather's indices, a
/// noise-level ladder) is copied once, with no stall of the stream after.
pub(crate) struct RecentUploads<K, B, const N: usize>(VecDeque<(K, B)>);

impl<K, B, const N: usize> Default for RecentUploads<K, B, N> {
    fn default() -> Self {
        RecentUploads(VecDeque::with_capacity(N))
    }
}

impl<K, B: Clone, const N: usize> RecentUploads<K, B, N> {
    /// The buffer whose key `matches`, or else the one `upload` makes, kept
    /// under its key in place of the oldest.
    pub(crate) fn get_or_upload(&mut self, matches: impl Fn(&K) -> bool, upload: impl FnOnce() -> (K, B)) -> B {
        if let Some((_, buf)) = self.0.iter().find(|(key, _)| matches(key)) {
            return buf.clone();
        }
        let (key, buf) = upload();
        if self.0.len() == N {
            self.0.pop_front();
        }
        self.0.push_back((key, buf.clone()));
        buf
    }
}

/// Index lists by (what for, its extra key, the host indices): the gathers
/// and one-hot cotangents of a training step repeat every step.
type IndexCache = RecentUploads<(IndexKind, usize, Vec<usize>), Arc<CudaSlice<u32>>, 32>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexKind {
    Gather,
    /// CSR for `scatter_add_rows`; the extra key is the output row count.
    Scatter,
    OneHot,
}

/// One opened GPU: its context, its stream and its compiled kernels.
pub(crate) struct CudaDevice {
    pub(crate) ordinal: usize,
    ctx: Arc<CudaContext>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) sm_count: usize,
    arch: String,
    modules: Mutex<HashMap<Family, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
    indices: Mutex<IndexCache>,
    pub(crate) constants: Mutex<ConstantCache>,
}

impl fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cuda:{} ({}, {} SMs)", self.ordinal, self.arch, self.sm_count)
    }
}

/// The opened device `ordinal`, opening it on first use.
pub(crate) fn device(ordinal: usize) -> Result<Arc<CudaDevice>, CudaUnavailable> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<CudaDevice>>>> = OnceLock::new();
    let count = availability()?;
    if ordinal >= count {
        return unavailable(format!("cuda:{ordinal} was asked for, but the driver sees {count} device(s)"));
    }
    let mut devices = lock(DEVICES.get_or_init(Default::default));
    if let Some(d) = devices.get(&ordinal) {
        return Ok(d.clone());
    }
    let opened = match catch_unwind(|| CudaDevice::open(ordinal)) {
        Ok(result) => result?,
        Err(p) => return unavailable(format!("opening cuda:{ordinal} panicked: {}", panic_message(&*p))),
    };
    let d = Arc::new(opened);
    devices.insert(ordinal, d.clone());
    Ok(d)
}

impl CudaDevice {
    fn open(ordinal: usize) -> Result<CudaDevice, CudaUnavailable> {
        let fail = |what: &str, e: &dyn fmt::Debug| CudaUnavailable { reason: format!("cuda:{ordinal}: {what} failed: {e:?}") };
        let ctx = CudaContext::new(ordinal).map_err(|e| fail("creating the context", &e))?;
        // One stream per device orders every kernel, copy and free, so the
        // per-buffer events cudarc would record for multi-stream use are pure cost.
        // SAFETY: set before any buffer exists, and all work goes to `stream`.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(|e| fail("creating a stream", &e))?;
        let sm_count = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|e| fail("reading the multiprocessor count", &e))? as usize;
        let (major, minor) = ctx.compute_capability().map_err(|e| fail("reading the compute capability", &e))?;
        keep_freed_memory_pooled(&ctx);
        let device = CudaDevice {
            ordinal,
            ctx,
            stream,
            sm_count: sm_count.max(1),
            arch: format!("compute_{major}{minor}"),
            modules: Mutex::default(),
            functions: Mutex::default(),
            indices: Mutex::default(),
            constants: Mutex::default(),
        };
        // Compile and load the smallest kernel file now: a toolkit that cannot
        // build or load kernels for this GPU (an NVRTC newer than the driver,
        // say) makes the device unavailable here, not a panic in the first op.
        device.module(Family::Cast).map_err(|reason| CudaUnavailable { reason })?;
        Ok(device)
    }

    fn module(&self, family: Family) -> Result<Arc<CudaModule>, String> {
        let mut modules = lock(&self.modules);
        if let Some(m) = modules.get(&family) {
            return Ok(m.clone());
        }
        let ptx = ptx(family, &self.arch)?;
        let module = self.ctx.load_module(ptx).map_err(|e| format!("loading kernels/{} on cuda:{}: {e:?}", family.file(), self.ordinal))?;
        modules.insert(family, module.clone());
        Ok(module)
    }

    /// The kernel `name` of `family`. A missing kernel or a compile error is a
    /// bug in kernels/, so it panics with NVRTC's log.
    pub(crate) fn function(&self, family: Family, name: &str) -> CudaFunction {
        if let Some(f) = lock(&self.functions).get(name) {
            return f.clone();
        }
        let module = self.module(family).unwrap_or_else(|e| panic!("{e}"));
        let f = module
            .load_function(name)
            .unwrap_or_else(|e| panic!("cuda: kernel `{name}` not found in kernels/{}: {e:?}", family.file()));
        lock(&self.functions).insert(name.to_string(), f.clone());
        f
    }

    /// An output buffer of `len` elements (at least one is allocated, so a
    /// zero-length buffer is still a valid pointer), NaN-filled under
    /// [`set_checked_launches`].
    pub(crate) fn alloc<T: GpuElem>(&self, len: usize) -> CudaSlice<T> {
        // SAFETY: every kernel writes its whole output; `checked_launches` tests that.
        let mut buf = unsafe { self.stream.alloc::<T>(len.max(1)) }
            .unwrap_or_else(|e| panic!("cuda:{}: allocating {len} × {}: {e:?}", self.ordinal, T::NAME));
        if checked_launches() {
            self.fill(&mut buf, len.max(1), T::nan());
        }
        buf
    }

    /// Sets the first `len` elements of `buf` to `value`.
    pub(crate) fn fill<T: GpuElem>(&self, buf: &mut CudaSlice<T>, len: usize, value: T) {
        let name = format!("fill_{}", T::NAME);
        let n = len as u64;
        crate::backend::cuda::launch!(self, Family::Cast, name, self.grid_1d(n), buf, &n, &value);
    }

    /// A 1-D grid of 256-thread blocks for `work` grid-stride items, capped
    /// at 32 blocks per multiprocessor.
    pub(crate) fn grid_1d(&self, work: u64) -> LaunchConfig {
        let blocks = work.div_ceil(256).clamp(1, self.sm_count as u64 * 32);
        LaunchConfig { grid_dim: (blocks as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
    }

    /// After a launch: under [`set_checked_launches`], wait for it and name it if it failed.
    pub(crate) fn after_launch(&self, name: &str) {
        if checked_launches() {
            if let Err(e) = self.stream.synchronize() {
                panic!("cuda:{}: kernel `{name}` failed: {e:?}", self.ordinal);
            }
        }
    }

    /// `indices` on the device, built by `build` (u32 form, or CSR) on a cache miss.
    pub(crate) fn indices(&self, kind: IndexKind, extra: usize, indices: &[usize], build: impl FnOnce() -> Vec<u32>) -> Arc<CudaSlice<u32>> {
        let matches = |(k, e, key): &(IndexKind, usize, Vec<usize>)| *k == kind && *e == extra && key.as_slice() == indices;
        lock(&self.indices).get_or_upload(matches, || {
            let data = build();
            count_transfer(true, 4 * data.len().max(1));
            let buf = if data.is_empty() { self.stream.clone_htod(&[0u32]) } else { self.stream.clone_htod(&data) };
            let buf = Arc::new(buf.unwrap_or_else(|e| panic!("cuda:{}: uploading {} indices: {e:?}", self.ordinal, data.len())));
            ((kind, extra, indices.to_vec()), buf)
        })
    }
}

/// Freed buffers go back to the stream's memory pool; by default the pool
/// returns them to the driver at every synchronisation, so each training step
/// would allocate afresh. Keep them (best effort: a failure costs only speed).
fn keep_freed_memory_pooled(ctx: &CudaContext) {
    // SAFETY: plain driver calls on a valid device handle with a valid u64 out-value.
    unsafe {
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        if sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) == sys::CUresult::CUDA_SUCCESS && !pool.is_null() {
            let mut threshold = u64::MAX;
            let _ = sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                &mut threshold as *mut u64 as *mut std::ffi::c_void,
            );
        }
    }
}

/// An element type the kernels handle: `f32` or `f64`, named by the suffix
/// of its kernels (`sigmoid_f32`).
pub(crate) trait GpuElem: Element + DeviceRepr + ValidAsZeroBits + Unpin {
    const NAME: &'static str;
}
impl GpuElem for f32 {
    const NAME: &'static str = "f32";
}
impl GpuElem for f64 {
    const NAME: &'static str = "f64";
}

/// The device's stream, for code outside the engine that works on the same
/// buffers (the benchmarks' cuBLAS reference and event timers).
pub fn stream(ordinal: usize) -> Result<Arc<CudaStream>, CudaUnavailable> {
    Ok(device(ordinal)?.stream.clone())
}

/// Waits until every kernel launched on `ordinal` so far has finished.
pub fn synchronize(ordinal: usize) -> Result<(), CudaUnavailable> {
    let d = device(ordinal)?;
    d.stream.synchronize().map_err(|e| CudaUnavailable { reason: format!("cuda:{ordinal}: synchronize failed: {e:?}") })
}

/// A short description of the device (`cuda:0: NVIDIA H100 80GB HBM3, compute_90, 132 SMs`).
pub fn describe(ordinal: usize) -> Result<String, CudaUnavailable> {
    let d = device(ordinal)?;
    let name = d.ctx.name().unwrap_or_else(|_| "unknown GPU".into());
    Ok(format!("cuda:{ordinal}: {name}, {}, {} SMs", d.arch, d.sm_count))
}
