//! The tape: what gets recorded, when, and at which derivative order.
//!
//! gradgrad records eagerly, PyTorch-style: every op applied to a tensor that
//! requires grad creates a node holding its value, its op and its inputs. The
//! graph is owned by the tensors themselves (a node owns its inputs, never its
//! consumers), so dropping the last tensor frees everything: there are no
//! reference cycles to leak.
//!
//! Three pieces of thread-local state steer recording:
//! - **grad mode**: off inside [`no_grad`] and inside a `grad(.., create_graph
//!   = false)`, so a plain backward pass records nothing;
//! - **derivative order**: 0 for the forward pass; a backward pass through a
//!   graph whose deepest values are of order k records order k + 1 (the
//!   tape dump shows it), and a value computed from others inherits the
//!   highest of their orders;
//! - **live nodes**: how many recorded nodes exist right now, the "length of
//!   the tape", which tests use to prove that nothing was recorded or leaked.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static ORDER: Cell<u32> = const { Cell::new(0) };
    static LIVE_NODES: Cell<usize> = const { Cell::new(0) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// Whether ops applied now are recorded (when an input requires grad).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with recording switched off: values only, no graph.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_enabled(false, f)
}

/// Runs `f` with recording set to `enabled`, restoring the previous mode after.
pub fn with_grad_enabled<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    let _guard = Restore::new(&GRAD_ENABLED, enabled);
    f()
}

/// The derivative order assigned to nodes recorded now.
pub fn current_order() -> u32 {
    ORDER.with(|o| o.get())
}

pub(crate) fn with_order<R>(order: u32, f: impl FnOnce() -> R) -> R {
    let _guard = Restore::new(&ORDER, order);
    f()
}

/// Recorded nodes alive on this thread: the length of the tape.
pub fn live_nodes() -> usize {
    LIVE_NODES.with(|n| n.get())
}

pub(crate) fn node_created() {
    LIVE_NODES.with(|n| n.set(n.get() + 1));
}

pub(crate) fn node_dropped() {
    LIVE_NODES.with(|n| n.set(n.get() - 1));
}

/// A fresh id; ids grow with creation time, so an input's id is always smaller
/// than its consumer's and descending ids are a valid backward order.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Sets a thread-local cell for a scope and restores it on drop (also on panic).
pub(crate) struct Restore<T: Copy + 'static> {
    cell: &'static std::thread::LocalKey<Cell<T>>,
    previous: T,
}

impl<T: Copy + 'static> Restore<T> {
    pub(crate) fn new(cell: &'static std::thread::LocalKey<Cell<T>>, value: T) -> Self {
        let previous = cell.with(|c| c.replace(value));
        Restore { cell, previous }
    }
}

impl<T: Copy + 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        self.cell.with(|c| c.set(self.previous));
    }
}
