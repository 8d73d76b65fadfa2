//! The CPU backend's threads: rayon's global pool, with the program's own
//! thread as one of them.
//!
//! By default the thread that records a step is not in rayon's pool. Each
//! parallel op it calls (a matmul's two halves, an elementwise map's chunks)
//! is then handed to the pool's queue: a worker wakes to take the op, a
//! second wakes to steal half of it, and the caller sleeps until the op ends
//! and is woken again. A training step makes dozens of such calls. With the
//! caller in the pool, it runs its own share of each op and a worker steals
//! the rest: one hand-off per op instead of three, and the same number of
//! busy threads. On the 2-core development VM this took 6–7% off the
//! trainer's steps (`benches/README.md`, "The calling thread in rayon's pool").

/// Builds rayon's global pool with `threads` threads (`None`: rayon's default,
/// `RAYON_NUM_THREADS` or one per core), the calling thread being thread 0.
/// Returns the pool's size.
///
/// Call it first thing in `main`, before any op runs: the global pool is
/// built once, and an error says it already was. Thread 0 takes part in the
/// work it starts itself (and whatever it waits on), never in work that other
/// threads hand to the pool, so call it from the thread that runs the steps.
pub fn pool_with_caller(threads: Option<usize>) -> Result<usize, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).use_current_thread().build_global()?;
    Ok(rayon::current_num_threads())
}
