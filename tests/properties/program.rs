//! Random programs over the engine's ops, for `tests/properties.rs`.
//!
//! A program is drawn as a [`Recipe`] of raw numbers (a base shape, how each
//! input derives its shape from it, then per step an op kind, two operand
//! choices and a parameter) and *read* by [`Program::read`] into concrete
//! steps that are valid for the shapes at hand. An operand that does not fit
//! is adapted (reshaped to a matrix, squashed by `tanh`, paired with itself)
//! instead of rejected, so every recipe, and every smaller recipe that
//! proptest tries while shrinking, reads into a valid program: a failure
//! shrinks to a short op list, which `Display` prints.
//!
//! Smoothness, so that finite differences are valid: `log` and `sqrt` see
//! `softplus(x) + 0.1`, division is by `1 + b²`, negative powers are of
//! `1 + x²`. relu, step, clamp, max, maximum/minimum, masks and `where` have
//! kinks or jumps, but only on sets that random inputs miss (or where both
//! sides agree: ties among copies of one entry); clamp's bounds avoid the
//! round values that constant entries take, and maximum/minimum compare `a`
//! with `b ± 0.37`, so that a value is never tied with its own copy.
//! Axes of size 0 are drawn too; where an op on them is undefined by design
//! (the max, logsumexp or log-softmax over an empty axis panic, as PyTorch's
//! `amax`; a mean over nothing is NaN), the reader sums instead.
//! Magnitudes stay below [`BOUND`]: each value carries a bound on `|v|`, and
//! an op that would exceed it gets its large operands squashed by `tanh` first.

use std::fmt;

use gradgrad::autodiff::backend::{Binary, Unary};
use gradgrad::autodiff::{concat, Shape, Tensor};
use proptest::prelude::*;
use proptest::sample::select;

/// Whether axes of size 0 are drawn, and narrows of length 0 (every op takes
/// zero-size tensors since the "ops" work of issue #13).
pub const ZERO_SIZE_AXES: bool = true;

/// The largest `|value|` a step may produce before its operands are squashed.
/// At 100, central differences (ε = 1e-6) keep a rounding error near 1e-8.
pub const BOUND: f64 = 100.0;

/// The most elements a value may have: growth ops (broadcast, concat, pad,
/// gather) past it sum the operand's first axis instead, keeping each check cheap.
pub const MAX_NUMEL: usize = 96;

/// Inputs are uniform in `[-INPUT_RANGE, INPUT_RANGE]`.
pub const INPUT_RANGE: f64 = 2.0;

/// Every op a step may apply, by family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    // elementwise, one operand
    Neg,
    Exp,
    Log,
    Sigmoid,
    Tanh,
    Softplus,
    Silu,
    SiluDerivative,
    SiluSecondDerivative,
    Relu,
    Step,
    Clamp,
    Powi,
    Recip,
    Sqrt,
    Affine,
    // elementwise, two operands, broadcasting
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    // elementwise, three operands, broadcasting
    Where,
    // reductions
    Sum,
    Mean,
    SumAxis,
    MeanAxis,
    MaxAxis,
    LogSumExp,
    LogSoftmax,
    SumTo,
    // shapes and indexing
    BroadcastTo,
    Reshape,
    Transpose,
    Permute,
    Narrow,
    Pad,
    Concat,
    Gather,
    Mask,
    // products
    MatMul,
}

impl Kind {
    pub const ALL: [Kind; 41] = [
        Kind::Neg, Kind::Exp, Kind::Log, Kind::Sigmoid, Kind::Tanh, Kind::Softplus, Kind::Silu, Kind::SiluDerivative,
        Kind::SiluSecondDerivative, Kind::Relu, Kind::Step, Kind::Clamp, Kind::Powi, Kind::Recip, Kind::Sqrt, Kind::Affine, Kind::Add, Kind::Sub, Kind::Mul, Kind::Div,
        Kind::Maximum, Kind::Minimum, Kind::Where, Kind::Sum, Kind::Mean, Kind::SumAxis, Kind::MeanAxis,
        Kind::MaxAxis, Kind::LogSumExp, Kind::LogSoftmax, Kind::SumTo, Kind::BroadcastTo, Kind::Reshape,
        Kind::Transpose, Kind::Permute, Kind::Narrow, Kind::Pad, Kind::Concat, Kind::Gather, Kind::Mask,
        Kind::MatMul,
    ];

    /// The kind that draws `op`. The match has no catch-all, so a new
    /// variant of the family fails to compile until the generator draws it
    /// (and `every_op_is_drawn` checks that it is drawn).
    pub fn of_unary(op: Unary) -> Kind {
        match op {
            Unary::Neg => Kind::Neg,
            Unary::Exp => Kind::Exp,
            Unary::Log => Kind::Log,
            Unary::Sigmoid => Kind::Sigmoid,
            Unary::Tanh => Kind::Tanh,
            Unary::Softplus => Kind::Softplus,
            Unary::Silu => Kind::Silu,
            Unary::SiluDerivative => Kind::SiluDerivative,
            Unary::SiluSecondDerivative => Kind::SiluSecondDerivative,
            Unary::Relu => Kind::Relu,
            Unary::Step => Kind::Step,
            Unary::Powi(_) => Kind::Powi,
            Unary::Sqrt => Kind::Sqrt,
            Unary::Affine { .. } => Kind::Affine,
            Unary::Clamp { .. } => Kind::Clamp,
        }
    }

    /// The kind that draws `op`, as [`Kind::of_unary`].
    pub fn of_binary(op: Binary) -> Kind {
        match op {
            Binary::Add => Kind::Add,
            Binary::Sub => Kind::Sub,
            Binary::Mul => Kind::Mul,
            Binary::Div => Kind::Div,
            Binary::Maximum => Kind::Maximum,
            Binary::Minimum => Kind::Minimum,
        }
    }

    /// How a step of this kind prints, where it is more than the op's name.
    fn spelled(self) -> Option<&'static str> {
        match self {
            Kind::Log => Some("log(softplus(·) + 0.1)"),
            Kind::Sqrt => Some("sqrt(softplus(·) + 0.1)"),
            Kind::Recip => Some("1 / (1 + ·²)"),
            Kind::Div => Some("a / (1 + b²)"),
            Kind::Maximum => Some("maximum(a, b + 0.37)"),
            Kind::Minimum => Some("minimum(a, b − 0.37)"),
            _ => None,
        }
    }
}

/// How an input's shape derives from the base shape: its first `drop_leading`
/// axes dropped, and the axes whose bit is set in `ones` made size 1, so
/// that inputs broadcast against each other.
#[derive(Clone, Debug)]
pub struct InputRecipe {
    pub drop_leading: usize,
    pub ones: u8,
}

/// One step before reading: which op, operands counted back from the latest
/// value (0 = the latest), and a parameter that picks axes, sizes, powers.
#[derive(Clone, Debug)]
pub struct StepRecipe {
    pub kind: Kind,
    pub operand: usize,
    pub partner: usize,
    pub param: usize,
}

#[derive(Clone, Debug)]
pub struct Recipe {
    pub base: Vec<usize>,
    pub inputs: Vec<InputRecipe>,
    pub steps: Vec<StepRecipe>,
    pub values_seed: u64,
}

/// Recipes with 1–3 inputs of rank ≤ 3 (axes of size 1–4, or 0–4 with
/// [`ZERO_SIZE_AXES`]) and 1–`max_steps` steps.
pub fn recipe(max_steps: usize) -> impl Strategy<Value = Recipe> {
    let smallest = if ZERO_SIZE_AXES { 0 } else { 1 };
    // Mostly the full base shape, each axis size 1 with probability 1/4.
    let drop_leading = prop_oneof![3 => Just(0usize), 1 => 1..=3usize];
    let ones = (any::<u8>(), any::<u8>()).prop_map(|(a, b)| a & b);
    let input = (drop_leading, ones).prop_map(|(drop_leading, ones)| InputRecipe { drop_leading, ones });
    // Mostly the latest value, so that steps chain rather than branch off the inputs.
    let operand = prop_oneof![3 => Just(0usize), 2 => 0..6usize];
    let step = (select(Kind::ALL.to_vec()), operand, 0..6usize, 0..256usize)
        .prop_map(|(kind, operand, partner, param)| StepRecipe { kind, operand, partner, param });
    (
        prop::collection::vec(smallest..=4usize, 1..=3),
        prop::collection::vec(input, 1..=3),
        prop::collection::vec(step, 1..=max_steps),
        any::<u64>(),
    )
        .prop_map(|(base, inputs, steps, values_seed)| Recipe { base, inputs, steps, values_seed })
}

/// A concrete step: operands are value indices (inputs first, then one value per step).
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Neg, Exp, Log, Sigmoid, Tanh, Softplus, Silu, SiluDerivative, SiluSecondDerivative, Relu, Step,
    /// Recip, Sqrt.
    Unary(Kind, usize),
    Clamp(usize, f64, f64),
    Powi(usize, i32),
    Affine(usize, f64, f64),
    /// Add, Sub, Mul, Div, Maximum, Minimum.
    Binary(Kind, usize, usize),
    /// `where(c, a, b)` for a fixed 0/1 condition `c` of shape `shape`, by `pattern`.
    Where { a: usize, b: usize, shape: Vec<usize>, pattern: usize },
    Sum(usize),
    Mean(usize),
    /// SumAxis, MeanAxis, MaxAxis, LogSumExp, LogSoftmax.
    Axis(Kind, usize, usize),
    SumTo(usize, Vec<usize>),
    BroadcastTo(usize, Vec<usize>),
    Reshape(usize, Vec<usize>),
    Transpose(usize),
    Permute(usize, Vec<usize>),
    Narrow { v: usize, axis: usize, start: usize, len: usize },
    Pad { v: usize, axis: usize, start: usize, total: usize },
    Concat { a: usize, b: usize, axis: usize },
    Gather(usize, Vec<usize>),
    Mask(usize, usize),
    MatMul { a: usize, b: usize, ta: bool, tb: bool },
}

impl Step {
    fn operands_mut(&mut self) -> Vec<&mut usize> {
        match self {
            Step::Binary(_, a, b) | Step::Concat { a, b, .. } | Step::MatMul { a, b, .. } | Step::Where { a, b, .. } => vec![a, b],
            Step::Clamp(v, ..) | Step::Permute(v, _) => vec![v],
            Step::Unary(_, v) | Step::Powi(v, _) | Step::Affine(v, ..) | Step::Sum(v) | Step::Mean(v) => vec![v],
            Step::Axis(_, v, _) | Step::SumTo(v, _) | Step::BroadcastTo(v, _) | Step::Reshape(v, _) => vec![v],
            Step::Transpose(v) | Step::Narrow { v, .. } | Step::Pad { v, .. } | Step::Gather(v, _) | Step::Mask(v, _) => vec![v],
        }
    }

    /// The op this step applies.
    pub fn kind(&self) -> Kind {
        match *self {
            Step::Unary(kind, _) | Step::Binary(kind, ..) | Step::Axis(kind, ..) => kind,
            Step::Powi(..) => Kind::Powi,
            Step::Clamp(..) => Kind::Clamp,
            Step::Where { .. } => Kind::Where,
            Step::Permute(..) => Kind::Permute,
            Step::Affine(..) => Kind::Affine,
            Step::Sum(_) => Kind::Sum,
            Step::Mean(_) => Kind::Mean,
            Step::SumTo(..) => Kind::SumTo,
            Step::BroadcastTo(..) => Kind::BroadcastTo,
            Step::Reshape(..) => Kind::Reshape,
            Step::Transpose(_) => Kind::Transpose,
            Step::Narrow { .. } => Kind::Narrow,
            Step::Pad { .. } => Kind::Pad,
            Step::Concat { .. } => Kind::Concat,
            Step::Gather(..) => Kind::Gather,
            Step::Mask(..) => Kind::Mask,
            Step::MatMul { .. } => Kind::MatMul,
        }
    }

    fn first_operand(&self) -> usize {
        *self.clone().operands_mut()[0]
    }
}

/// A program read from a recipe: input shapes, steps, and each value's shape and bound.
#[derive(Clone, Debug)]
pub struct Program {
    pub inputs: Vec<Vec<usize>>,
    pub steps: Vec<Step>,
    pub values_seed: u64,
    shapes: Vec<Vec<usize>>,
    bounds: Vec<f64>,
}

impl Program {
    /// Reads `recipe` into valid steps (see the module doc).
    pub fn read(recipe: &Recipe) -> Program {
        let inputs: Vec<Vec<usize>> = recipe
            .inputs
            .iter()
            .map(|input| {
                let kept = &recipe.base[input.drop_leading.min(recipe.base.len())..];
                kept.iter().enumerate().map(|(a, &d)| if input.ones >> a & 1 == 1 { 1 } else { d }).collect()
            })
            .collect();
        let mut program = Program {
            shapes: inputs.clone(),
            bounds: vec![INPUT_RANGE; inputs.len()],
            inputs,
            steps: Vec::new(),
            values_seed: recipe.values_seed,
        };
        for step in &recipe.steps {
            program.read_step(step);
        }
        program
    }

    /// Whether one of `step`'s operands has no elements.
    pub fn reads_empty(&self, step: &Step) -> bool {
        step.clone().operands_mut().into_iter().any(|v| self.shape(*v).contains(&0))
    }

    /// The latest value: the one the program's output builds on.
    fn last(&self) -> usize {
        self.shapes.len() - 1
    }

    fn shape(&self, v: usize) -> &[usize] {
        &self.shapes[v]
    }

    /// The value `back` places before the latest.
    fn pick(&self, back: usize) -> usize {
        self.last() - back % self.shapes.len()
    }

    /// The `choice`-th of the values other than `fallback` that satisfy
    /// `fits`, latest first; `fallback` if none does.
    fn pick_where(&self, choice: usize, fallback: usize, fits: impl Fn(&[usize]) -> bool) -> usize {
        let fitting: Vec<usize> =
            (0..self.shapes.len()).rev().filter(|&v| v != fallback && fits(self.shape(v))).collect();
        if fitting.is_empty() {
            fallback
        } else {
            fitting[choice % fitting.len()]
        }
    }

    /// Appends `step` (squashing operands if the result could exceed [`BOUND`]) and returns its value.
    fn push(&mut self, mut step: Step) -> usize {
        if self.bound_of(&step) > BOUND {
            for v in step.operands_mut() {
                if self.bounds[*v] > 1.0 {
                    *v = self.push(Step::Unary(Kind::Tanh, *v));
                }
            }
        }
        let shape = self.shape_of(&step);
        let bound = self.bound_of(&step);
        self.steps.push(step);
        self.shapes.push(shape);
        self.bounds.push(bound);
        self.last()
    }

    /// Appends `step` unless its result would pass [`MAX_NUMEL`]; then sums
    /// the operand's first axis instead.
    fn push_growing(&mut self, step: Step) -> usize {
        if self.shape_of(&step).iter().product::<usize>() <= MAX_NUMEL {
            return self.push(step);
        }
        // Growth ops act on values of rank ≥ 1.
        self.push(Step::Axis(Kind::SumAxis, step.first_operand(), 0))
    }

    /// `v` as a matrix: unchanged at rank ≥ 2, else reshaped to a row or a column.
    fn as_matrix(&mut self, v: usize, as_row: bool) -> usize {
        if self.shape(v).len() >= 2 {
            return v;
        }
        let n: usize = self.shape(v).iter().product();
        self.push(Step::Reshape(v, if as_row { vec![1, n] } else { vec![n, 1] }))
    }

    /// `v` with at least one axis: a scalar becomes `[1]`.
    fn with_axis(&mut self, v: usize) -> usize {
        if self.shape(v).is_empty() {
            self.push(Step::Reshape(v, vec![1]))
        } else {
            v
        }
    }

    fn read_step(&mut self, raw: &StepRecipe) {
        let v = self.pick(raw.operand);
        let p = raw.param;
        match raw.kind {
            Kind::Neg | Kind::Exp | Kind::Log | Kind::Sigmoid | Kind::Tanh | Kind::Softplus | Kind::Silu | Kind::SiluDerivative
            | Kind::SiluSecondDerivative | Kind::Relu | Kind::Step | Kind::Recip | Kind::Sqrt => {
                self.push(Step::Unary(raw.kind, v));
            }
            Kind::Clamp => {
                // Bounds off the round numbers that constant entries take
                // (0, ±1, a step's or a mask's output), so that only moving
                // entries meet a kink, and those miss it (as relu's).
                let (lo, hi) = [(-1.3, 0.9), (f64::NEG_INFINITY, 0.45), (-0.65, f64::INFINITY), (-2.1, 1.7)][p % 4];
                self.push(Step::Clamp(v, lo, hi));
            }
            Kind::Powi => {
                self.push(Step::Powi(v, [2, 3, 1, 0][p % 4]));
            }
            Kind::Affine => {
                self.push(Step::Affine(v, [2.5, -0.5, 1.0, -1.5][p % 4], [0.0, 1.0, -0.75][p / 4 % 3]));
            }
            Kind::Add | Kind::Sub | Kind::Mul | Kind::Div | Kind::Maximum | Kind::Minimum => {
                let a = Shape::new(self.shape(v).to_vec());
                let b = self.pick_where(raw.partner, v, |b| {
                    Shape::broadcast(&a, &Shape::new(b.to_vec())).is_some_and(|s| s.numel() <= MAX_NUMEL)
                });
                // The partner comes first or second, so either operand may be the broadcast one.
                let (a, b) = if p % 2 == 0 { (v, b) } else { (b, v) };
                self.push(Step::Binary(raw.kind, a, b));
            }
            Kind::Where => {
                let a = Shape::new(self.shape(v).to_vec());
                let b = self.pick_where(raw.partner, v, |b| {
                    Shape::broadcast(&a, &Shape::new(b.to_vec())).is_some_and(|s| s.numel() <= MAX_NUMEL)
                });
                let (a, b) = if p % 2 == 0 { (v, b) } else { (b, v) };
                let out = Shape::broadcast(&Shape::new(self.shape(a).to_vec()), &Shape::new(self.shape(b).to_vec()))
                    .expect("operands broadcast");
                // The condition broadcasts too: axes whose bit is set have size 1.
                let shape = out.dims().iter().enumerate().map(|(i, &d)| if p >> (i + 1) & 1 == 1 { 1 } else { d }).collect();
                self.push(Step::Where { a, b, shape, pattern: p / 16 });
            }
            Kind::Sum => {
                self.push(Step::Sum(v));
            }
            // The mean of nothing is 0/0 = NaN: sum it instead.
            Kind::Mean if self.shape(v).contains(&0) => {
                self.push(Step::Sum(v));
            }
            Kind::Mean => {
                self.push(Step::Mean(v));
            }
            Kind::SumAxis | Kind::MeanAxis | Kind::MaxAxis | Kind::LogSumExp | Kind::LogSoftmax => {
                let v = self.with_axis(v);
                let axis = p % self.shape(v).len();
                // An empty axis has no max, a logsumexp of −∞ and a mean of NaN: sum it instead.
                let kind = if self.shape(v)[axis] == 0 { Kind::SumAxis } else { raw.kind };
                self.push(Step::Axis(kind, v, axis));
            }
            Kind::SumTo => {
                let dims = self.shape(v);
                let kept = &dims[(p % 2).min(dims.len())..];
                let target = kept.iter().enumerate().map(|(a, &d)| if p >> (a + 1) & 1 == 1 { 1 } else { d }).collect();
                self.push(Step::SumTo(v, target));
            }
            Kind::BroadcastTo => {
                let v = self.with_axis(v);
                let wide = 2 + p / 16 % 2;
                let mut target: Vec<usize> =
                    self.shape(v).iter().enumerate().map(|(a, &d)| if d == 1 && p >> (a + 1) & 1 == 1 { wide } else { d }).collect();
                if p % 2 == 1 && target.len() < 3 {
                    target.insert(0, wide);
                }
                self.push_growing(Step::BroadcastTo(v, target));
            }
            Kind::Reshape => {
                let dims = self.shape(v).to_vec();
                let n: usize = dims.iter().product();
                let mut choices = vec![vec![n], vec![1, n], vec![n, 1], dims.iter().rev().copied().collect()];
                if dims.len() < 3 {
                    choices.push([&[1], &dims[..]].concat());
                }
                choices.push(dims.iter().copied().filter(|&d| d != 1).collect());
                self.push(Step::Reshape(v, choices[p % choices.len()].clone()));
            }
            Kind::Transpose => {
                let v = self.as_matrix(v, p % 2 == 0);
                self.push(Step::Transpose(v));
            }
            Kind::Permute => {
                // The `p`-th permutation of the axes (a Lehmer code).
                let mut left: Vec<usize> = (0..self.shape(v).len()).collect();
                let mut code = p;
                let mut axes = Vec::new();
                while !left.is_empty() {
                    axes.push(left.remove(code % left.len()));
                    code /= left.len() + 1;
                }
                self.push(Step::Permute(v, axes));
            }
            Kind::Narrow => {
                let v = self.with_axis(v);
                let axis = p % self.shape(v).len();
                let d = self.shape(v)[axis];
                let start = if d == 0 { 0 } else { p / 3 % d };
                let shortest = if ZERO_SIZE_AXES || d == 0 { 0 } else { 1 };
                let len = shortest + p / 7 % (d - start + 1 - shortest);
                self.push(Step::Narrow { v, axis, start, len });
            }
            Kind::Pad => {
                let v = self.with_axis(v);
                let axis = p % self.shape(v).len();
                let start = p / 3 % 3;
                let total = self.shape(v)[axis] + start + p / 9 % 3;
                self.push_growing(Step::Pad { v, axis, start, total });
            }
            Kind::Concat => {
                let v = self.with_axis(v);
                let a = self.shape(v).to_vec();
                let axis = p % a.len();
                let b = self.pick_where(raw.partner, v, |b| {
                    b.len() == a.len() && (0..a.len()).all(|i| i == axis || a[i] == b[i])
                });
                let (a, b) = if p / 4 % 2 == 0 { (v, b) } else { (b, v) };
                self.push_growing(Step::Concat { a, b, axis });
            }
            Kind::Gather => {
                let v = self.with_axis(v);
                let rows = self.shape(v)[0];
                let indices = if rows == 0 { vec![] } else { (0..1 + p % 4).map(|j| (p / 4 + 5 * j * j + j) % rows).collect() };
                self.push_growing(Step::Gather(v, indices));
            }
            Kind::Mask => {
                self.push(Step::Mask(v, p));
            }
            Kind::MatMul => {
                let (ta, tb) = (p % 2 == 1, p / 2 % 2 == 1);
                let a = self.as_matrix(v, p / 4 % 2 == 0);
                let a_dims = self.shape(a).to_vec();
                let (a_batch, a_matrix) = a_dims.split_at(a_dims.len() - 2);
                let (r, c) = (a_matrix[0], a_matrix[1]);
                let (m, inner) = if ta { (c, r) } else { (r, c) };
                let b = self.pick_where(raw.partner, a, |b| {
                    let Some(b_batch_len) = b.len().checked_sub(2) else { return false };
                    let (b_batch, b_matrix) = b.split_at(b_batch_len);
                    let (b_inner, n) = if tb { (b_matrix[1], b_matrix[0]) } else { (b_matrix[0], b_matrix[1]) };
                    let batch = Shape::broadcast(&Shape::new(a_batch.to_vec()), &Shape::new(b_batch.to_vec()));
                    b_inner == inner && batch.is_some_and(|s| s.numel() * m * n <= MAX_NUMEL)
                });
                // Nothing fits: a Gram product of `a` with itself always does;
                // the smaller one (`a·aᵀ` or `aᵀ·a`) has at most `a`'s size.
                let (ta, tb) = if b == a { (r > c, r <= c) } else { (ta, tb) };
                self.push(Step::MatMul { a, b, ta, tb });
            }
        }
    }

    fn shape_of(&self, step: &Step) -> Vec<usize> {
        let dims = |v: usize| self.shape(v).to_vec();
        match step {
            Step::Unary(_, v) | Step::Clamp(v, ..) | Step::Powi(v, _) | Step::Affine(v, ..) | Step::Mask(v, _) => dims(*v),
            Step::Binary(_, a, b) | Step::Where { a, b, .. } => {
                Shape::broadcast(&Shape::new(dims(*a)), &Shape::new(dims(*b))).expect("operands broadcast").dims().to_vec()
            }
            Step::Permute(v, axes) => {
                let d = dims(*v);
                axes.iter().map(|&a| d[a]).collect()
            }
            Step::Sum(_) | Step::Mean(_) => vec![],
            Step::Axis(kind, v, axis) => {
                let mut d = dims(*v);
                if *kind != Kind::LogSoftmax {
                    d.remove(*axis);
                }
                d
            }
            Step::SumTo(_, s) | Step::BroadcastTo(_, s) | Step::Reshape(_, s) => s.clone(),
            Step::Transpose(v) => {
                let mut d = dims(*v);
                let r = d.len();
                d.swap(r - 2, r - 1);
                d
            }
            Step::Narrow { v, axis, len, .. } => {
                let mut d = dims(*v);
                d[*axis] = *len;
                d
            }
            Step::Pad { v, axis, total, .. } => {
                let mut d = dims(*v);
                d[*axis] = *total;
                d
            }
            Step::Concat { a, b, axis } => {
                let mut d = dims(*a);
                d[*axis] += dims(*b)[*axis];
                d
            }
            Step::Gather(v, indices) => {
                let mut d = dims(*v);
                d[0] = indices.len();
                d
            }
            Step::MatMul { a, b, ta, tb } => {
                let (a, b) = (dims(*a), dims(*b));
                let (ra, rb) = (a.len(), b.len());
                let batch = Shape::broadcast(&Shape::new(a[..ra - 2].to_vec()), &Shape::new(b[..rb - 2].to_vec()))
                    .expect("batch axes broadcast");
                let m = if *ta { a[ra - 1] } else { a[ra - 2] };
                let n = if *tb { b[rb - 2] } else { b[rb - 1] };
                [batch.dims(), &[m, n]].concat()
            }
        }
    }

    /// A bound on `|value|` of the step's result, from its operands' bounds.
    fn bound_of(&self, step: &Step) -> f64 {
        let b = |v: usize| self.bounds[v];
        let numel = |v: usize| self.shape(v).iter().product::<usize>().max(1) as f64;
        let axis_len = |v: usize, axis: usize| self.shape(v)[axis].max(1) as f64;
        match *step {
            Step::Unary(Kind::Exp, v) => b(v).exp(),
            Step::Unary(Kind::Log, v) => b(v) + 2.31, // log(softplus(x) + 0.1) ≥ log 0.1 = −2.30…
            Step::Unary(Kind::Sigmoid | Kind::Tanh | Kind::Recip | Kind::Step, _) => 1.0,
            Step::Unary(Kind::Silu, v) => b(v),
            Step::Unary(Kind::SiluDerivative, _) => 1.1, // in [−0.1, 1.1]
            Step::Unary(Kind::SiluSecondDerivative, _) => 0.5, // in [−0.1, 0.5]
            Step::Clamp(v, lo, hi) => b(v).min(lo.abs().max(hi.abs())),
            Step::Unary(Kind::Softplus | Kind::Sqrt, v) => b(v) + 1.0,
            Step::Powi(v, n) => b(v).powi(n).max(1.0),
            Step::Affine(v, mul, add) => mul.abs() * b(v) + add.abs(),
            Step::Binary(Kind::Mul, x, y) => b(x) * b(y),
            Step::Binary(Kind::Div, x, _) => b(x),
            Step::Binary(Kind::Maximum | Kind::Minimum, x, y) => b(x).max(b(y) + 0.37),
            Step::Where { a, b: y, .. } => b(a).max(b(y)),
            Step::Binary(_, x, y) => b(x) + b(y),
            Step::Sum(v) => numel(v) * b(v),
            Step::Axis(Kind::SumAxis, v, axis) => axis_len(v, axis) * b(v),
            Step::Axis(Kind::LogSumExp, v, axis) => b(v) + axis_len(v, axis).ln(),
            Step::Axis(Kind::LogSoftmax, v, axis) => 2.0 * b(v) + axis_len(v, axis).ln(),
            Step::SumTo(v, ref s) => numel(v) / s.iter().product::<usize>().max(1) as f64 * b(v),
            Step::MatMul { a, b: y, ta, .. } => {
                let d = self.shape(a);
                let inner = d[d.len() - if ta { 2 } else { 1 }];
                inner as f64 * b(a) * b(y)
            }
            Step::Concat { a, b: y, .. } => b(a).max(b(y)),
            _ => b(step.first_operand()),
        }
    }

    /// The input values: uniform in `[-INPUT_RANGE, INPUT_RANGE]`, from the recipe's seed.
    pub fn input_values(&self) -> Vec<Tensor> {
        let mut rng = crate::common::rng(self.values_seed);
        self.inputs.iter().map(|s| crate::common::uniform(&mut rng, s, -INPUT_RANGE, INPUT_RANGE)).collect()
    }

    /// The steps' values that no later step reads, but the latest.
    fn dangling(&self) -> Vec<usize> {
        let mut read = vec![false; self.shapes.len()];
        for step in &self.steps {
            for v in step.clone().operands_mut() {
                read[*v] = true;
            }
        }
        (self.inputs.len()..self.last()).filter(|&v| !read[v]).collect()
    }

    /// Evaluates the program at `inputs` (any dtype; recorded if they require
    /// grad). The output is the latest value, plus `0.1·Σ tanh(d)` for each
    /// value `d` that no step reads (so no step is wasted), plus `0.1·Σ x²`
    /// for every input `x`: it depends on every input, to second order,
    /// whichever steps were drawn.
    pub fn run(&self, inputs: &[Tensor]) -> Tensor {
        assert_eq!(inputs.len(), self.inputs.len(), "the program takes {} inputs", self.inputs.len());
        let mut values: Vec<Tensor> = inputs.to_vec();
        for step in &self.steps {
            let out = eval(step, &values);
            assert_eq!(out.dims(), self.shapes[values.len()], "{step:?}: shape differs from the one read");
            values.push(out);
        }
        let dangling = self.dangling().into_iter().map(|d| values[d].tanh().sum().scale(0.1));
        let inputs = inputs.iter().map(|x| x.square().sum().scale(0.1));
        dangling.chain(inputs).fold(values[self.last()].clone(), |out, term| out + term)
    }
}

/// One step on the values computed so far.
fn eval(step: &Step, values: &[Tensor]) -> Tensor {
    let v = |i: usize| &values[i];
    match step {
        Step::Unary(kind, x) => {
            let x = v(*x);
            match kind {
                Kind::Neg => -x,
                Kind::Exp => x.exp(),
                Kind::Log => x.softplus().shift(0.1).log(),
                Kind::Sigmoid => x.sigmoid(),
                Kind::Tanh => x.tanh(),
                Kind::Softplus => x.softplus(),
                Kind::Silu => x.silu(),
                Kind::SiluDerivative => x.silu_derivative(),
                Kind::SiluSecondDerivative => x.silu_second_derivative(),
                Kind::Relu => x.relu(),
                Kind::Step => x.step(),
                Kind::Recip => x.square().shift(1.0).powi(-1),
                Kind::Sqrt => x.softplus().shift(0.1).sqrt(),
                other => unreachable!("{other:?} is not unary"),
            }
        }
        Step::Clamp(x, lo, hi) => v(*x).clamp(*lo, *hi),
        Step::Where { a, b, shape, pattern } => {
            let numel = shape.iter().product();
            let condition = v(*a).constant_like(&mask_values(numel, *pattern), Shape::new(shape.clone()));
            condition.select(v(*a), v(*b))
        }
        Step::Powi(x, n) => v(*x).powi(*n),
        Step::Affine(x, mul, add) => v(*x).affine(*mul, *add),
        Step::Binary(kind, a, b) => {
            let (a, b) = (v(*a), v(*b));
            match kind {
                Kind::Add => a + b,
                Kind::Sub => a - b,
                Kind::Mul => a * b,
                Kind::Div => a / &b.square().shift(1.0),
                // Apart by 0.37, a value is never tied with its own copy.
                Kind::Maximum => a.maximum(&b.shift(0.37)),
                Kind::Minimum => a.minimum(&b.shift(-0.37)),
                other => unreachable!("{other:?} is not binary"),
            }
        }
        Step::Sum(x) => v(*x).sum(),
        Step::Mean(x) => v(*x).mean(),
        Step::Axis(kind, x, axis) => {
            let x = v(*x);
            match kind {
                Kind::SumAxis => x.sum_axis(*axis),
                Kind::MeanAxis => x.mean_axis(*axis),
                Kind::MaxAxis => x.max_axis(*axis),
                Kind::LogSumExp => x.logsumexp(*axis),
                Kind::LogSoftmax => x.log_softmax(*axis),
                other => unreachable!("{other:?} is not an axis reduction"),
            }
        }
        Step::SumTo(x, s) => v(*x).sum_to(&Shape::new(s.clone())),
        Step::BroadcastTo(x, s) => v(*x).broadcast_to(&Shape::new(s.clone())),
        Step::Reshape(x, s) => v(*x).reshape(s.clone()),
        Step::Transpose(x) => v(*x).t(),
        Step::Permute(x, axes) => v(*x).permute(axes),
        Step::Narrow { v: x, axis, start, len } => v(*x).narrow(*axis, *start, *len),
        Step::Pad { v: x, axis, start, total } => v(*x).pad_axis(*axis, *start, *total),
        Step::Concat { a, b, axis } => concat(&[v(*a).clone(), v(*b).clone()], *axis),
        Step::Gather(x, indices) => v(*x).gather_rows(indices),
        Step::Mask(x, pattern) => {
            let x = v(*x);
            x.mask(&x.constant_like(&mask_values(x.numel(), *pattern), x.shape().clone()))
        }
        Step::MatMul { a, b, ta, tb } => v(*a).matmul_t(v(*b), *ta, *tb),
    }
}

/// A 0/1 mask, about two thirds ones, that `pattern` shifts.
fn mask_values(n: usize, pattern: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 7 + pattern) % 3 != 0) as u8 as f64).collect()
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lower = |kind: &Kind| format!("{kind:?}").to_lowercase();
        match self {
            Step::Unary(kind, x) => match kind.spelled() {
                Some(spelled) => write!(f, "{spelled} of v{x}"),
                None => write!(f, "{}(v{x})", lower(kind)),
            },
            Step::Clamp(x, lo, hi) => write!(f, "clamp(v{x}, {lo}, {hi})"),
            Step::Where { a, b, shape, pattern } => write!(f, "where(mask {shape:?} pattern {pattern}, v{a}, v{b})"),
            Step::Permute(x, axes) => write!(f, "permute(v{x}, {axes:?})"),
            Step::Powi(x, n) => write!(f, "powi(v{x}, {n})"),
            Step::Affine(x, mul, add) => write!(f, "{mul}·v{x} + {add}"),
            Step::Binary(kind, a, b) => match kind.spelled() {
                Some(spelled) => write!(f, "{spelled} with a = v{a}, b = v{b}"),
                None => write!(f, "{}(v{a}, v{b})", lower(kind)),
            },
            Step::Sum(x) => write!(f, "sum(v{x})"),
            Step::Mean(x) => write!(f, "mean(v{x})"),
            Step::Axis(kind, x, axis) => write!(f, "{}(v{x}, axis {axis})", lower(kind)),
            Step::SumTo(x, s) => write!(f, "sum_to(v{x}, {s:?})"),
            Step::BroadcastTo(x, s) => write!(f, "broadcast_to(v{x}, {s:?})"),
            Step::Reshape(x, s) => write!(f, "reshape(v{x}, {s:?})"),
            Step::Transpose(x) => write!(f, "transpose(v{x})"),
            Step::Narrow { v, axis, start, len } => write!(f, "narrow(v{v}, axis {axis}, {start}..{})", start + len),
            Step::Pad { v, axis, start, total } => write!(f, "pad(v{v}, axis {axis}, at {start} of {total})"),
            Step::Concat { a, b, axis } => write!(f, "concat([v{a}, v{b}], axis {axis})"),
            Step::Gather(x, indices) => write!(f, "gather_rows(v{x}, {indices:?})"),
            Step::Mask(x, pattern) => write!(f, "mask(v{x}, pattern {pattern})"),
            Step::MatMul { a, b, ta, tb } => write!(f, "matmul_t(v{a}, v{b}, trans_a {ta}, trans_b {tb})"),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, s) in self.inputs.iter().enumerate() {
            writeln!(f, "  v{k} = input {s:?}")?;
        }
        for (i, step) in self.steps.iter().enumerate() {
            let v = self.inputs.len() + i;
            writeln!(f, "  v{v} = {:<52} {:?}", step.to_string(), self.shapes[v])?;
        }
        let dangling: String = self.dangling().iter().map(|d| format!(" + 0.1·sum(tanh(v{d}))")).collect();
        let inputs: String = (0..self.inputs.len()).map(|k| format!(" + 0.1·sum(v{k}²)")).collect();
        write!(f, "  out = v{}{dangling}{inputs}  (values seed {:#x})", self.last(), self.values_seed)
    }
}
