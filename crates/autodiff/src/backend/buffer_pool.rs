//! Reuse of large CPU buffers between ops.
//!
//! A training step allocates the same few hundred buffer sizes every step. Left
//! to the system allocator, a buffer of a few hundred KiB or more is mapped
//! fresh from the kernel and returned to it when freed: every step then pays a
//! page fault and a kernel-side zeroing for each 4 KiB page of every temporary
//! (a third of the trainer's default step, measured with `perf`), and again to
//! zero-fill each output that the op then overwrites. So the CPU backend keeps
//! the large buffers that tensors drop, keyed by length, and hands them to the
//! next op that needs that length, as PyTorch's CUDA caching allocator does for
//! device memory.
//!
//! The cache holds at most [`limit`] bytes (`GRADGRAD_CPU_CACHE_MB`, default
//! 256, or [`set_limit`]; 0 turns it off): the trainer's default step needs
//! less than that, and a larger limit only kept the buffers of its evaluation
//! and sampling phases (1 GiB took its peak resident memory from 0.65 to
//! 1.06 GB, at the same speed). A buffer that would go over the limit empties the
//! cache first, so a workload whose sizes change (a new batch size, sampling
//! after training) replaces the old set instead of piling up on top of it.
//! [`release`] empties it on demand.
//!
//! Buffers from [`take`] hold stale values: every op writes its whole output.
//! [`zeroed`] is for the ops that accumulate into theirs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::dtype::Element;

/// Buffers smaller than this many bytes go to and from the system allocator,
/// which serves them from its own free lists without touching the kernel.
const MIN_BYTES: usize = 64 << 10;

/// Environment variable: the cache's limit in MiB (0 turns it off).
pub const LIMIT_VAR: &str = "GRADGRAD_CPU_CACHE_MB";

/// Free buffers, by element type and length, and their total size in bytes.
pub struct Cache {
    f32: BTreeMap<usize, Vec<Vec<f32>>>,
    f64: BTreeMap<usize, Vec<Vec<f64>>>,
    bytes: usize,
}

/// An element type the cache keeps buffers of.
pub trait Pooled: Element {
    /// The cache's free buffers of this type.
    fn free(cache: &mut Cache) -> &mut BTreeMap<usize, Vec<Vec<Self>>>;
}
impl Pooled for f32 {
    fn free(cache: &mut Cache) -> &mut BTreeMap<usize, Vec<Vec<f32>>> {
        &mut cache.f32
    }
}
impl Pooled for f64 {
    fn free(cache: &mut Cache) -> &mut BTreeMap<usize, Vec<Vec<f64>>> {
        &mut cache.f64
    }
}

impl Cache {
    const fn new() -> Cache {
        Cache { f32: BTreeMap::new(), f64: BTreeMap::new(), bytes: 0 }
    }

    /// A cached buffer of exactly `len` values, if there is one.
    fn take<T: Pooled>(&mut self, len: usize) -> Option<Vec<T>> {
        let buffer = T::free(self).get_mut(&len)?.pop()?;
        self.bytes -= buffer.capacity() * size_of::<T>();
        Some(buffer)
    }

    /// Keeps `buffer`, emptying the cache first if it would go over `limit`
    /// bytes; frees it if it is too small to keep or larger than `limit`.
    fn give<T: Pooled>(&mut self, buffer: Vec<T>, limit: usize) {
        let bytes = buffer.capacity() * size_of::<T>();
        if buffer.len() * size_of::<T>() < MIN_BYTES || bytes > limit {
            return;
        }
        if self.bytes + bytes > limit {
            *self = Cache::new();
        }
        self.bytes += bytes;
        T::free(self).entry(buffer.len()).or_default().push(buffer);
    }
}

/// The process's cache, shared by every thread.
static CACHE: Mutex<Cache> = Mutex::new(Cache::new());

fn cache() -> MutexGuard<'static, Cache> {
    // A panic elsewhere while the lock was held leaves only whole buffers behind.
    CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The limit before it is first read: `usize::MAX`, which no real limit is.
const UNSET: usize = usize::MAX;
static LIMIT: AtomicUsize = AtomicUsize::new(UNSET);

/// The most bytes the cache keeps: as last [`set_limit`], else
/// `GRADGRAD_CPU_CACHE_MB` MiB, else 256 MiB.
pub fn limit() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        UNSET => {
            let bytes = match std::env::var(LIMIT_VAR) {
                Ok(mb) => mb.trim().parse::<usize>().unwrap_or_else(|_| panic!("{LIMIT_VAR}={mb}: expected a whole number of MiB")) << 20,
                Err(_) => 256 << 20,
            };
            LIMIT.store(bytes.min(UNSET - 1), Ordering::Relaxed);
            bytes
        }
        bytes => bytes,
    }
}

/// Sets the cache's limit in bytes, emptying it if it holds more; 0 turns it
/// off (a memory measurement then sees only live tensors).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes.min(UNSET - 1), Ordering::Relaxed);
    if cached_bytes() > bytes {
        release();
    }
}

/// Bytes the cache holds now.
pub fn cached_bytes() -> usize {
    cache().bytes
}

/// A buffer of `len` values, which the caller must overwrite: a cached one
/// (holding whatever its last user wrote), or a new one.
pub fn take<T: Pooled>(len: usize) -> Vec<T> {
    cached(len).unwrap_or_else(|| vec![T::zero(); len])
}

/// A buffer of `len` zeros (a new one is zeroed once, by the allocation).
pub fn zeroed<T: Pooled>(len: usize) -> Vec<T> {
    match cached(len) {
        Some(mut buffer) => {
            buffer.fill(T::zero());
            buffer
        }
        None => vec![T::zero(); len],
    }
}

/// A cached buffer of `len` values, if one is kept at that length.
fn cached<T: Pooled>(len: usize) -> Option<Vec<T>> {
    if len * size_of::<T>() >= MIN_BYTES { cache().take(len) } else { None }
}

/// A copy of `x` in a buffer from the cache.
pub fn copy_of<T: Pooled>(x: &[T]) -> Vec<T> {
    let mut buffer = take(x.len());
    buffer.copy_from_slice(x);
    buffer
}

/// Keeps `buffer` for the next [`take`] of its length, or frees it.
pub fn give<T: Pooled>(buffer: Vec<T>) {
    if buffer.len() * size_of::<T>() >= MIN_BYTES {
        cache().give(buffer, limit());
    }
}

/// Frees every cached buffer (PyTorch's `empty_cache`).
pub fn release() {
    *cache() = Cache::new();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_handed_to_the_next_take_of_its_length() {
        let mut cache = Cache::new();
        let len = MIN_BYTES; // f64: 8× the smallest kept size
        let buffer = vec![1.5f64; len];
        let address = buffer.as_ptr();
        cache.give(buffer, usize::MAX);
        assert_eq!(cache.bytes, len * 8);
        assert!(cache.take::<f64>(len + 1).is_none(), "another length is not served");
        assert!(cache.take::<f32>(len).is_none(), "another type is not served");
        let reused = cache.take::<f64>(len).expect("the buffer is cached");
        assert_eq!(reused.as_ptr(), address);
        assert_eq!(reused[0], 1.5, "take keeps the old contents");
        assert_eq!(cache.bytes, 0);
    }

    #[test]
    fn small_buffers_are_freed_and_the_limit_empties_the_cache() {
        let mut cache = Cache::new();
        cache.give(vec![0f32; 16], usize::MAX);
        assert_eq!(cache.bytes, 0, "below MIN_BYTES");
        let len = MIN_BYTES / 4; // exactly MIN_BYTES of f32
        cache.give(vec![0f32; len], 4 * MIN_BYTES);
        cache.give(vec![0f32; len], 4 * MIN_BYTES);
        cache.give(vec![0f32; len + 1], 4 * MIN_BYTES);
        assert_eq!(cache.bytes, 3 * MIN_BYTES + 4, "a third still fits");
        cache.give(vec![0f32; len], 4 * MIN_BYTES);
        assert_eq!(cache.bytes, MIN_BYTES, "the fourth emptied the cache, then was kept");
        cache.give(vec![0f32; 5 * len], 4 * MIN_BYTES);
        assert_eq!(cache.bytes, MIN_BYTES, "larger than the limit: freed");
    }

    #[test]
    fn zeroed_buffers_are_zero_whatever_was_cached() {
        let len = MIN_BYTES;
        give(vec![7.0f64; len]);
        assert!(zeroed::<f64>(len).iter().all(|&v| v == 0.0));
    }
}
