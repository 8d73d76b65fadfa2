//! A recorded chain of 10⁷ ops, `y ← 4·σ(y) − 2` (sigmoid, scale, shift per
//! step, as in `tests/deep_chain.rs`): built, differentiated, differentiated
//! again through the recorded first pass, and dropped, with each phase's wall
//! and CPU time (and CPU time per forward node), the tape's length and resident memory after it (and
//! after `malloc_trim`, which returns the allocator's free pages: without it
//! glibc keeps them, and resident memory stays at its peak). Prints a table;
//! `benches/deep_chain_torch.py` prints the same for PyTorch.
//!
//! `cargo bench --bench deep_chain` (10⁷ nodes, several GB), or
//! `cargo bench --bench deep_chain -- --nodes 1000000`.

use std::time::Instant;

use autodiff::{grad1, tape, DType, Tensor};

#[path = "../tests/common/memory.rs"]
mod memory;

use memory::return_free_memory;

/// Resident memory in MB (NaN where `/proc` is not there).
fn resident_mb() -> f64 {
    memory::resident_bytes().map_or(f64::NAN, |b| b as f64 / (1 << 20) as f64)
}

/// CPU time of this process in seconds (Linux: `/proc/self/stat`'s utime and
/// stime, in ticks of 1/100 s): on a shared machine it varies less than the
/// wall clock.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

struct Table {
    nodes: usize,
}

impl Table {
    fn header(&self) {
        println!("| phase | wall s | CPU s | CPU ns per forward node | live nodes after | resident MB after |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    }

    /// Times `f`, then prints its row.
    fn row<R>(&self, phase: &str, f: impl FnOnce() -> R) -> R {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let result = f();
        let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
        let per_node = cpu * 1e9 / self.nodes as f64;
        println!("| {phase} | {wall:.2} | {cpu:.2} | {per_node:.0} | {} | {:.0} |", tape::live_nodes(), resident_mb());
        result
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes: usize = args.iter().position(|a| a == "--nodes").map_or(10_000_000, |i| args[i + 1].parse().expect("--nodes N"));
    let steps = nodes.div_ceil(3);
    let table = Table { nodes: 3 * steps };
    println!("chain of {} recorded ops ({steps} steps of y ← 4·σ(y) − 2), f64 scalar, start: {:.0} MB resident", 3 * steps, resident_mb());
    table.header();
    let x = Tensor::scalar(0.5, DType::F64).requires_grad();
    let build = |label: &str| table.row(label, || (0..steps).fold(x.clone(), |y, _| y.sigmoid().scale(4.0).shift(-2.0)));

    // First order: one plain backward pass.
    let y = build("build");
    let dy = table.row("grad", || grad1(&y, &x, false));
    table.row("drop", || drop(y));
    table.row("(malloc_trim)", return_free_memory);
    // Second order: the first pass recorded, then differentiated.
    let y = build("build");
    let dy_recorded = table.row("grad, create_graph", || grad1(&y, &x, true));
    let d2y = table.row("grad of grad", || grad1(&dy_recorded, &x, false));
    table.row("drop both graphs", || drop((y, dy_recorded)));
    table.row("(malloc_trim)", return_free_memory);
    println!("dy/dx = {:.6e}, d²y/dx² = {:.6e}; final: {} live nodes, {:.0} MB resident", dy.item(), d2y.item(), tape::live_nodes(), resident_mb());
}
