//! Resident memory of this process, for the deep-chain test and bench
//! (`benches/deep_chain.rs` includes this file by path).

/// Resident memory in bytes (Linux: `/proc/self/statm`'s second field, pages).
pub fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> i32;
}

/// Hands the allocator's free pages back to the system: glibc keeps freed
/// small blocks for reuse, so without this resident memory would show the
/// peak, not what is still allocated.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that malloc holds as free.
    unsafe {
        malloc_trim(0);
    }
}
