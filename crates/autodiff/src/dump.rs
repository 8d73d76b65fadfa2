//! A readable dump of a recorded graph, as text and as Graphviz DOT.
//!
//! Each node shows its op, inputs, shape, dtype, the derivative order that
//! recorded it (0 = forward pass, 1 = recorded by a first backward pass with
//! `create_graph`, ...) and the bytes its value holds: every node's value is
//! saved for as long as a consumer's backward pass may need it, which is what
//! makes a double-backward graph heavy.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use crate::tensor::Tensor;

struct Entry {
    tensor: Tensor,
    inputs: Vec<u64>,
    op: String,
    bytes: usize,
}

/// Every tensor reachable from `roots`, constants included, by ascending id.
fn collect(roots: &[Tensor]) -> Vec<Entry> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Tensor> = roots.to_vec();
    let mut entries = Vec::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id()) {
            continue;
        }
        let (op, inputs, extra) = match &t.0.grad_fn {
            Some(f) => {
                stack.extend(f.inputs.iter().cloned());
                (f.op.name(), f.inputs.iter().map(Tensor::id).collect(), f.op.saved_bytes())
            }
            None if t.requires_grad_flag() => ("leaf".to_string(), vec![], 0),
            None => ("constant".to_string(), vec![], 0),
        };
        let bytes = t.storage().size_in_bytes() + extra;
        entries.push(Entry { tensor: t, inputs, op, bytes });
    }
    entries.sort_by_key(|e| e.tensor.id());
    entries
}

/// The graph behind `roots` as text, one node per line, inputs before consumers.
pub fn dump(roots: &[Tensor]) -> String {
    let entries = collect(roots);
    let mut out = String::new();
    let mut per_order: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for e in &entries {
        let t = &e.tensor;
        let args: Vec<String> = e.inputs.iter().map(|i| format!("%{i}")).collect();
        let name = t.label().map(|l| format!(" \"{l}\"")).unwrap_or_default();
        let call = if e.inputs.is_empty() { format!("{}{name}", e.op) } else { format!("{}({})", e.op, args.join(", ")) };
        let _ = writeln!(out, "%{:<5} = {:<44} {:<12} {}  order {}  {:>9} B", t.id(), call, t.shape().to_string(), t.dtype(), t.order(), e.bytes);
        let slot = per_order.entry(t.order()).or_default();
        slot.0 += 1;
        slot.1 += e.bytes;
    }
    let total: usize = entries.iter().map(|e| e.bytes).sum();
    let _ = writeln!(out, "{} nodes, {} bytes held", entries.len(), total);
    for (order, (n, bytes)) in per_order {
        let _ = writeln!(out, "  order {order}: {n} nodes, {bytes} bytes");
    }
    out
}

/// The graph behind `roots` in Graphviz DOT (`dot -Tsvg`); nodes are coloured
/// by derivative order.
pub fn to_dot(roots: &[Tensor]) -> String {
    const COLOURS: [&str; 4] = ["#dbe9f6", "#fde2c8", "#d5f0d0", "#ead5f0"];
    let entries = collect(roots);
    let mut out = String::from("digraph tape {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n");
    for e in &entries {
        let t = &e.tensor;
        let name = t.label().map(|l| format!("{l}\\n")).unwrap_or_default();
        let colour = COLOURS[(t.order() as usize).min(COLOURS.len() - 1)];
        let op = e.op.replace('"', "'");
        let _ = writeln!(out, "  n{} [label=\"%{} {name}{op}\\n{} {}\\norder {} · {} B\", fillcolor=\"{colour}\"];",
            t.id(), t.id(), t.shape(), t.dtype(), t.order(), e.bytes);
        for i in &e.inputs {
            let _ = writeln!(out, "  n{i} -> n{};", t.id());
        }
    }
    out.push_str("}\n");
    out
}
