//! A counting global allocator: live heap bytes and their peak, so a bench can
//! read what one step allocates at most, and how many allocations it makes.
//! Included by path (`#[path]`) by `benches/trace_table.rs`,
//! `benches/conditional_step.rs` and `crates/score/examples/diagonal_cost.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct PeakAlloc;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static LARGE: AtomicUsize = AtomicUsize::new(0);

/// Allocations at least this large are mapped fresh from the kernel by the
/// system allocator (and page-faulted in as they are first written), as the
/// engine's buffer cache explains (`buffer_pool`).
pub const LARGE_BYTES: usize = 64 << 10;

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
            COUNT.fetch_add(1, Ordering::Relaxed);
            if layout.size() >= LARGE_BYTES {
                LARGE.fetch_add(1, Ordering::Relaxed);
            }
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

/// Runs `f` and returns its result with the most bytes it held at once above
/// what was live when it started. The engine's buffer cache is off meanwhile:
/// buffers it kept would count as held.
#[allow(dead_code)] // not every bench that includes this file measures the peak
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    use autodiff::backend::buffer_pool;
    let limit = buffer_pool::limit();
    buffer_pool::set_limit(0);
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let r = f();
    let held = PEAK.load(Ordering::Relaxed) - baseline;
    buffer_pool::set_limit(limit);
    (r, held)
}

/// Heap allocations made by `f`: (all of them, those of at least [`LARGE_BYTES`]).
/// A reallocation counts as one (the default `realloc` allocates anew). The
/// engine's buffer cache stays as it is: this counts what a step asks of the
/// system allocator.
#[allow(dead_code)] // not every bench that includes this file counts
pub fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, (usize, usize)) {
    let (count, large) = (COUNT.load(Ordering::Relaxed), LARGE.load(Ordering::Relaxed));
    let r = f();
    (r, (COUNT.load(Ordering::Relaxed) - count, LARGE.load(Ordering::Relaxed) - large))
}
