//! Op profile: where a computation's time goes, op by op and by derivative order.
//!
//! Inside [`profile`], every op's computation is timed and summed per op name, input shapes
//! and derivative order (0 = forward pass, 1 = recorded by a first backward pass, ...), as
//! `torch.profiler` groups by op and input shape. An op's time is the wall time of its
//! kernel on the calling thread, its work on rayon's threads included; what lies outside
//! every op (walking the tape, recording nodes, the caller's own code) is the profile's
//! wall time less its ops' sum. On CUDA, where kernels run asynchronously, the profile
//! waits for the device before and after each op, so that an op's time is its kernels'
//! run and not their launch: a profiled GPU step runs without host and device overlapping,
//! slower than it otherwise would. Off (the default), profiling costs one thread-local read
//! per op.
//!
//! It exists to compare like with like: the same step's matmuls beside PyTorch's, measured
//! in place (with the caches as the step leaves them), where a stand-alone benchmark of one
//! shape moves by more than the difference on a shared machine.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::backend::{cuda, Device};
use crate::shape::Shape;
use crate::tape::Restore;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static TABLE: RefCell<Option<Table>> = const { RefCell::new(None) };
}

/// One op, input shapes and derivative order, summed over its calls.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRow {
    /// The op's name, as the tape dump shows it.
    pub op: String,
    /// The shapes of its inputs.
    pub input_shapes: Vec<Shape>,
    /// 0 = forward pass, 1 = recorded by a first backward pass, ...
    pub order: u32,
    /// How many times it ran.
    pub calls: usize,
    /// Its total time.
    pub time: Duration,
}

/// What [`profile`] measured: one row per op, input shapes and order, the slowest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The rows, the largest `time` first.
    pub rows: Vec<ProfileRow>,
    /// The wall time of the whole profiled call.
    pub wall: Duration,
}

type Key = (String, Vec<Shape>, u32);
type Table = HashMap<Key, (usize, Duration)>;

/// Whether profiling is on (inside [`profile`]) on this thread.
pub fn is_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Runs `f` with every op on this thread timed; returns its result and the profile. A
/// profile inside another gives its rows to the outer one too. If `f` panics, the outer
/// scope's table and the profiling flag are restored as the panic leaves.
pub fn profile<R>(f: impl FnOnce() -> R) -> (R, Profile) {
    let _enabled = Restore::new(&ENABLED, true);
    let scope = Scope::enter();
    let start = Instant::now();
    let result = f();
    let wall = start.elapsed();
    let table = scope.leave();
    let mut rows: Vec<ProfileRow> = table
        .into_iter()
        .map(|((op, input_shapes, order), (calls, time))| ProfileRow { op, input_shapes, order, calls, time })
        .collect();
    rows.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| (&a.op, a.order).cmp(&(&b.op, b.order))));
    (result, Profile { rows, wall })
}

/// Runs `compute`, an op on `device`, timing it at derivative `order` when profiling is on,
/// as the op and input shapes `describe` gives: called only then, so that naming costs
/// nothing otherwise.
pub(crate) fn timed<R>(describe: impl FnOnce() -> (String, Vec<Shape>), order: u32, device: Device, compute: impl FnOnce() -> R) -> R {
    if !is_enabled() {
        return compute();
    }
    wait_for(device); // earlier ops' kernels are not this one's
    let start = Instant::now();
    let result = compute();
    wait_for(device);
    let time = start.elapsed();
    let (op, shapes) = describe();
    let key = (op, shapes, order);
    TABLE.with(|t| {
        let mut table = t.borrow_mut();
        let entry = table.get_or_insert_with(HashMap::new).entry(key).or_default();
        entry.0 += 1;
        entry.1 += time;
    });
    result
}

/// Waits until a CUDA device has run every kernel launched on it so far.
fn wait_for(device: Device) {
    if let Device::Cuda(ordinal) = device {
        cuda::synchronize(ordinal).unwrap_or_else(|e| panic!("profile: {}", e.reason));
    }
}

/// The table of one `profile` scope: entering sets aside the enclosing scope's, leaving
/// merges this one into it, and dropping (also on panic) puts the enclosing one back.
struct Scope {
    outer: Option<Table>,
}

impl Scope {
    fn enter() -> Self {
        Scope { outer: TABLE.with(|t| t.borrow_mut().replace(HashMap::new())) }
    }

    fn leave(mut self) -> Table {
        let inner = TABLE.with(|t| t.borrow_mut().take()).unwrap_or_default();
        if let Some(outer) = self.outer.as_mut() {
            for (key, (calls, time)) in &inner {
                let entry = outer.entry(key.clone()).or_default();
                entry.0 += calls;
                entry.1 += *time;
            }
        }
        inner
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        TABLE.with(|t| *t.borrow_mut() = self.outer.take());
    }
}

impl Profile {
    /// The sum of every op's time.
    pub fn ops_time(&self) -> Duration {
        self.rows.iter().map(|r| r.time).sum()
    }

    /// Time per op name (all shapes and orders of it), the largest first.
    pub fn by_op(&self) -> Vec<(String, Duration)> {
        sorted_sums(self.rows.iter().map(|r| (r.op.clone(), r.time)))
    }

    /// Time per derivative order, lowest order first.
    pub fn by_order(&self) -> Vec<(u32, Duration)> {
        let mut sums = sorted_sums(self.rows.iter().map(|r| (r.order, r.time)));
        sums.sort_by_key(|&(order, _)| order);
        sums
    }

    /// The same profile with every time and call count divided by `runs` (counts rounded
    /// down): per run of a profiled loop, where each run calls the same ops.
    pub fn per_run(&self, runs: u32) -> Profile {
        assert!(runs > 0, "Profile::per_run: runs must be positive");
        let rows = self.rows.iter().map(|r| ProfileRow { calls: r.calls / runs as usize, time: r.time / runs, ..r.clone() }).collect();
        Profile { rows, wall: self.wall / runs }
    }

    /// The table `Display` prints, with at most `limit` op rows.
    pub fn table(&self, limit: usize) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let share = |d: Duration| 100.0 * d.as_secs_f64() / self.wall.as_secs_f64().max(f64::MIN_POSITIVE);
        let mut out = format!("{:>9} {:>6} {:>6} {:>5}  op (inputs)\n", "ms", "%", "calls", "order");
        for r in self.rows.iter().take(limit) {
            let shapes: Vec<String> = r.input_shapes.iter().map(|s| s.to_string()).collect();
            let line = format!("{:>9.3} {:>5.1}% {:>6} {:>5}  {} ({})\n", ms(r.time), share(r.time), r.calls, r.order, r.op, shapes.join(", "));
            out.push_str(&line);
        }
        if self.rows.len() > limit {
            let rest: Duration = self.rows[limit..].iter().map(|r| r.time).sum();
            out.push_str(&format!("{:>9.3} {:>5.1}%  ({} more rows)\n", ms(rest), share(rest), self.rows.len() - limit));
        }
        let outside = self.wall.saturating_sub(self.ops_time());
        out.push_str(&format!("{:>9.3} {:>5.1}%  outside the ops (tape, recording, caller)\n", ms(outside), share(outside)));
        out.push_str(&format!("{:>9.3} 100.0%  wall\n", ms(self.wall)));
        let orders: Vec<String> = self.by_order().iter().map(|(o, t)| format!("order {o}: {:.3} ms ({:.1}%)", ms(*t), share(*t))).collect();
        out.push_str(&format!("by derivative order: {}\n", orders.join(", ")));
        out
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table(30))
    }
}

fn sorted_sums<K: std::hash::Hash + Eq>(items: impl Iterator<Item = (K, Duration)>) -> Vec<(K, Duration)> {
    let mut sums: HashMap<K, Duration> = HashMap::new();
    for (key, time) in items {
        *sums.entry(key).or_default() += time;
    }
    let mut sums: Vec<_> = sums.into_iter().collect();
    sums.sort_by_key(|&(_, time)| std::cmp::Reverse(time));
    sums
}
