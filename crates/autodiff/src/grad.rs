//! The backward pass: reverse-mode accumulation of vector-Jacobian products.

use std::collections::{HashMap, HashSet};

use crate::ops::cotangent;
use crate::tape;
use crate::tensor::Tensor;

/// Gradients of `Σᵢ ⟨grad_outputs[i], outputs[i]⟩` with respect to each of
/// `inputs`, returned in order (nothing is stored on the inputs).
///
/// - `grad_outputs`: one cotangent per output, shaped like it; `None` means
///   ones, allowed only for scalar outputs.
/// - Batched cotangents (`vmap` over the cotangent): a cotangent may carry
///   extra leading axes, `[P..., *output.shape]`, the same `P...` for every
///   output of the call. Then each gradient is `[P..., *input.shape]`, entry
///   `p` being the gradient for cotangents `p`: many VJPs in one backward
///   pass, e.g. every row of a Jacobian at once. After the prefix, a
///   cotangent may have size 1 where it is the same along an output axis
///   (`[D, 1, D]` for an output `[B, D]`: D cotangents, each shared by all B
///   rows); the backward pass keeps it that small as far as the rules allow.
/// - `create_graph`: record the backward pass, so the returned gradients are
///   differentiable again (to any order). Without it nothing is recorded: the
///   tape's length ([`tape::live_nodes`]) is unchanged and the gradients are
///   constants.
/// - An input that the outputs were not computed from (no recorded path from
///   an output back to it, or it does not require grad) is a **panic** naming
///   it (position, label, id, shape): usually a parameter left out of the
///   loss, or a tensor detached by mistake. Where a zero gradient is meant
///   (the second derivative of something linear, a bias a trace does not
///   see), ask for it with [`grad_with`] and [`GradOptions::allow_unused`]:
///   such an input then gets zeros of its shape, after the cotangents'
///   leading axes (PyTorch's `allow_unused` with `materialize_grads`).
/// - Inputs may be leaves or intermediate recorded tensors (`∂s/∂h` for a
///   hidden layer `h`, say). The graph is left intact: it can be
///   differentiated again, as often as wanted.
pub fn grad(outputs: &[Tensor], inputs: &[Tensor], grad_outputs: Option<&[Tensor]>, create_graph: bool) -> Vec<Tensor> {
    grad_with(outputs, inputs, grad_outputs, GradOptions::create_graph(create_graph))
}

/// How [`grad_with`] runs; the default is [`grad`]'s: nothing recorded, every
/// input must be used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradOptions {
    /// Record the backward pass, so the gradients can be differentiated again.
    pub create_graph: bool,
    /// Give an input that the outputs do not depend on a zero gradient
    /// instead of panicking.
    pub allow_unused: bool,
}

impl GradOptions {
    /// The default options with `create_graph` set as given.
    pub fn create_graph(create_graph: bool) -> Self {
        GradOptions { create_graph, ..GradOptions::default() }
    }

    /// These options, also accepting unused inputs (their gradient is zero).
    pub fn allow_unused(self) -> Self {
        GradOptions { allow_unused: true, ..self }
    }
}

/// [`grad`] with explicit [`GradOptions`]:
/// `grad_with(&[y], &[x, b], None, GradOptions::create_graph(true).allow_unused())`.
pub fn grad_with(outputs: &[Tensor], inputs: &[Tensor], grad_outputs: Option<&[Tensor]>, options: GradOptions) -> Vec<Tensor> {
    if let Some(gs) = grad_outputs {
        assert_eq!(gs.len(), outputs.len(), "grad: {} grad_outputs for {} outputs", gs.len(), outputs.len());
        for (i, (g, out)) in gs.iter().zip(outputs).enumerate() {
            let fits = g.rank() >= out.rank() && broadcasts_along(&g.dims()[g.rank() - out.rank()..], out.dims());
            assert!(fits, "grad: grad_output {i} has shape {}; it must be the output's shape {} (or broadcast to it) with optional leading axes", g.shape(), out.shape());
            let same_prefix = cotangent::prefix(g, out.rank()) == cotangent::prefix(&gs[0], outputs[0].rank());
            assert!(same_prefix, "grad: grad_outputs 0 and {i} have shapes {} and {} for outputs of shapes {} and {}: their leading axes differ", gs[0].shape(), g.shape(), outputs[0].shape(), out.shape());
        }
    }
    tape::with_grad_enabled(options.create_graph, || backward(outputs, inputs, grad_outputs, options.allow_unused))
}

/// `grad` for one scalar output and one input.
pub fn grad1(output: &Tensor, input: &Tensor, create_graph: bool) -> Tensor {
    grad(std::slice::from_ref(output), std::slice::from_ref(input), None, create_graph).remove(0)
}

fn backward(outputs: &[Tensor], inputs: &[Tensor], grad_outputs: Option<&[Tensor]>, allow_unused: bool) -> Vec<Tensor> {
    let wanted: HashSet<u64> = inputs.iter().filter(|t| t.requires_grad_flag()).map(Tensor::id).collect();
    let nodes = reachable(outputs);
    let leads_to_input = leads_to_input(&nodes, &wanted);
    if !allow_unused {
        if let Some((position, unused)) = inputs.iter().enumerate().find(|(_, x)| !leads_to_input.contains(&x.id())) {
            panic!("{}", unused_input_message(position, unused));
        }
    }
    // This pass differentiates values of order ≤ k, so what it records is of order k + 1.
    let pass_order = nodes.iter().map(Tensor::order).max().unwrap_or(0) + 1;

    // The cotangents' extra leading axes, shared by every gradient.
    let prefix: Vec<usize> = match (grad_outputs, outputs.first()) {
        (Some(g), Some(out)) => cotangent::prefix(&g[0], out.rank()).to_vec(),
        _ => Vec::new(),
    };
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    for (i, out) in outputs.iter().enumerate() {
        let seed = match grad_outputs {
            Some(g) => g[i].clone(),
            None => {
                assert_eq!(out.numel(), 1, "grad: output {i} has shape {}; pass grad_outputs for a non-scalar output", out.shape());
                out.ones_like()
            }
        };
        if out.requires_grad_flag() {
            accumulate(&mut grads, out.id(), seed);
        }
    }

    // Descending ids visit every consumer before what it consumes.
    for node in nodes.iter().rev() {
        if !leads_to_input.contains(&node.id()) {
            continue;
        }
        let Some(grad_fn) = &node.0.grad_fn else { continue };
        let gy = if wanted.contains(&node.id()) { grads.get(&node.id()).cloned() } else { grads.remove(&node.id()) };
        let Some(gy) = gy else { continue };
        let needs: Vec<bool> = grad_fn.inputs.iter().map(|x| leads_to_input.contains(&x.id())).collect();
        let input_grads = tape::with_order(pass_order, || grad_fn.op.vjp(&grad_fn.inputs, node, &gy, &needs));
        assert_eq!(input_grads.len(), grad_fn.inputs.len(), "{}: VJP returned the wrong number of gradients", grad_fn.op.name());
        for ((x, gx), need) in grad_fn.inputs.iter().zip(input_grads).zip(needs) {
            let Some(gx) = gx else { continue };
            if !need {
                continue;
            }
            let fits = gx.rank() == prefix.len() + x.rank() && gx.dims()[..prefix.len()] == prefix[..] && broadcasts_along(&gx.dims()[prefix.len()..], x.dims());
            assert!(fits, "{}: VJP gave shape {} for an input of shape {} and cotangent axes {prefix:?}", grad_fn.op.name(), gx.shape(), x.shape());
            tape::with_order(pass_order, || accumulate(&mut grads, x.id(), gx));
        }
    }

    // A gradient that is still the same along some axis (from a cotangent that
    // was) is spelled out now: the caller gets `[P..., *x.shape]`.
    let full = |x: &Tensor| cotangent::prefixed(&prefix, x.shape());
    inputs
        .iter()
        .map(|x| match grads.get(&x.id()) {
            Some(g) => g.broadcast_to(&full(x)),
            None => x.full_like(full(x), 0.0),
        })
        .collect()
}

/// What `grad` says about input `position` when the outputs do not depend on it.
fn unused_input_message(position: usize, x: &Tensor) -> String {
    let name = match x.label() {
        Some(label) => format!("`{label}` (input {position}, id {}, shape {})", x.id(), x.shape()),
        None => format!("input {position} (id {}, shape {})", x.id(), x.shape()),
    };
    let why = if x.requires_grad_flag() { "the outputs were not computed from it" } else { "it does not require grad" };
    format!("grad: {name} is unused: {why}. If a zero gradient is meant, pass GradOptions {{ allow_unused: true, .. }} to grad_with")
}

/// Whether `dims` equals `target` but for 1s, axis by axis (a same-rank broadcast).
fn broadcasts_along(dims: &[usize], target: &[usize]) -> bool {
    dims.len() == target.len() && dims.iter().zip(target).all(|(&d, &t)| d == t || d == 1)
}

/// Adds `g` into the gradient slot `id`: fan-out sums its cotangents.
fn accumulate(grads: &mut HashMap<u64, Tensor>, id: u64, g: Tensor) {
    let total = match grads.remove(&id) {
        Some(acc) => crate::ops::binary::add_spent(acc, g),
        None => g,
    };
    grads.insert(id, total);
}

/// Every tensor that requires grad and is reachable from `outputs`, by ascending id.
pub(crate) fn reachable(outputs: &[Tensor]) -> Vec<Tensor> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Tensor> = outputs.iter().filter(|t| t.requires_grad_flag()).cloned().collect();
    let mut nodes = Vec::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id()) {
            continue;
        }
        if let Some(grad_fn) = &t.0.grad_fn {
            stack.extend(grad_fn.inputs.iter().filter(|x| x.requires_grad_flag() && !seen.contains(&x.id())).cloned());
        }
        nodes.push(t);
    }
    nodes.sort_by_key(Tensor::id);
    nodes
}

/// The ids of nodes from which some wanted input can be reached backwards:
/// only these need a VJP.
fn leads_to_input(nodes: &[Tensor], wanted: &HashSet<u64>) -> HashSet<u64> {
    let mut set = HashSet::new();
    for node in nodes {
        let via_inputs = node.0.grad_fn.as_ref().is_some_and(|f| f.inputs.iter().any(|x| set.contains(&x.id())));
        if wanted.contains(&node.id()) || via_inputs {
            set.insert(node.id());
        }
    }
    set
}
