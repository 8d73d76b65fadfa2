//! The score network: an MLP `R^D → R^D`, linear layers with an elementwise
//! activation between them (and optionally one on the output).
//!
//! Weights are stored `[out, in]`, PyTorch's `nn.Linear` layout, and applied
//! as `x·Wᵀ + b` (a transposed matmul, no copy), so a checkpoint maps one to
//! one onto `torch.nn.Sequential(Linear, act, Linear, ...)`.

use autodiff::{DType, Device, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::activation::Activation;
use crate::noise;

/// Anything that maps a batch `[B, D]` to scores `[B, D]`.
pub trait ScoreModel {
    /// The data dimension D.
    fn dim(&self) -> usize;
    /// `s(x)` for a batch `x` of shape `[B, D]`.
    fn score(&self, x: &Tensor) -> Tensor;
    /// The trainable tensors, leaves that require grad.
    fn parameters(&self) -> Vec<Tensor>;
    /// Structure-aware objectives look inside; other models get `None`.
    fn as_mlp(&self) -> Option<&Mlp> {
        None
    }
}

/// One affine layer, `x·Wᵀ + b`.
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out, in]`.
    pub weight: Tensor,
    /// `[out]`.
    pub bias: Tensor,
}

impl Linear {
    /// PyTorch's default initialisation: U(−1/√in, 1/√in) for both.
    pub fn new(inputs: usize, outputs: usize, dtype: DType, rng: &mut StdRng) -> Linear {
        let bound = 1.0 / (inputs as f64).sqrt();
        Linear {
            weight: noise::uniform([outputs, inputs], -bound, bound, dtype, rng).requires_grad(),
            bias: noise::uniform([outputs], -bound, bound, dtype, rng).requires_grad(),
        }
    }

    /// `x·Wᵀ + b`, recorded.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.matmul_t(&self.weight, false, true) + &self.bias
    }

    /// The input width.
    pub fn inputs(&self) -> usize {
        self.weight.dims()[1]
    }
    /// The output width.
    pub fn outputs(&self) -> usize {
        self.weight.dims()[0]
    }
}

/// The shape of an MLP score network.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// The data dimension D (input and output width).
    pub dim: usize,
    /// The width of every hidden layer.
    pub hidden: usize,
    /// Number of hidden layers (1 = `D → H → D`).
    pub hidden_layers: usize,
    /// The activation after every hidden layer.
    pub activation: Activation,
    /// An activation on the output too, as in the original write-up's toy.
    pub output_activation: Option<Activation>,
    /// The dtype of the weights.
    pub dtype: DType,
}

/// `D → H → … → H → D` with `activation` after every hidden layer.
#[derive(Clone, Debug)]
pub struct Mlp {
    /// The linear layers, input first.
    pub layers: Vec<Linear>,
    /// The activation after every hidden layer.
    pub activation: Activation,
    /// An activation on the output, if any.
    pub output_activation: Option<Activation>,
}

/// What a forward pass computed on the way: the structure-aware trace needs
/// every pre-activation `h` and activation `a`.
pub struct ForwardTrace {
    /// Pre-activations of the hidden layers, then of the output layer.
    pub pre: Vec<Tensor>,
    /// Activations of the hidden layers (the output's is `output`).
    pub post: Vec<Tensor>,
    /// The network's output.
    pub output: Tensor,
}

impl Mlp {
    /// A freshly initialised network, reproducible from `seed`.
    pub fn new(config: &MlpConfig, seed: u64) -> Mlp {
        assert!(config.hidden_layers >= 1, "an MLP score network needs at least one hidden layer");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut widths = vec![config.dim];
        widths.extend(std::iter::repeat_n(config.hidden, config.hidden_layers));
        widths.push(config.dim);
        let layers = widths.windows(2).map(|w| Linear::new(w[0], w[1], config.dtype, &mut rng)).collect();
        Mlp { layers, activation: config.activation, output_activation: config.output_activation }
    }

    /// A network from given `(weight [out, in], bias [out])` pairs; they are
    /// made leaves that require grad.
    pub fn from_layers(layers: Vec<(Tensor, Tensor)>, activation: Activation, output_activation: Option<Activation>) -> Mlp {
        for pair in layers.windows(2) {
            assert_eq!(pair[0].0.dims()[0], pair[1].0.dims()[1], "Mlp: layer widths do not chain ({} then {})", pair[0].0.shape(), pair[1].0.shape());
        }
        let layers = layers
            .into_iter()
            .map(|(w, b)| Linear { weight: w.detach().requires_grad(), bias: b.detach().requires_grad() })
            .collect();
        Mlp { layers, activation, output_activation }
    }

    /// The same architecture with new parameter values (in `parameters()` order), as fresh leaves.
    pub fn with_parameters(&self, params: &[Tensor]) -> Mlp {
        assert_eq!(params.len(), 2 * self.layers.len(), "with_parameters: {} tensors for {} layers", params.len(), self.layers.len());
        let layers = params.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
        Mlp::from_layers(layers, self.activation, self.output_activation)
    }

    /// The same network with its parameters on `device`, as fresh leaves there.
    pub fn to_device(&self, device: Device) -> Mlp {
        let params: Vec<Tensor> = self.parameters().iter().map(|p| p.to_device(device)).collect();
        self.with_parameters(&params)
    }

    /// Where the parameters live (inputs must be there too).
    pub fn device(&self) -> Device {
        self.layers[0].weight.device()
    }

    /// `layers.{i}.weight` / `layers.{i}.bias`, in `parameters()` order.
    pub fn parameter_names(&self) -> Vec<String> {
        (0..self.layers.len()).flat_map(|i| [format!("layers.{i}.weight"), format!("layers.{i}.bias")]).collect()
    }

    /// The number of hidden layers.
    pub fn hidden_layers(&self) -> usize {
        self.layers.len() - 1
    }

    /// The dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.layers[0].weight.dtype()
    }

    /// The forward pass, keeping what the structure-aware trace needs.
    pub fn forward_trace(&self, x: &Tensor) -> ForwardTrace {
        self.forward_trace_with(x, &[])
    }

    /// The forward pass with `extra[l]` (`[B, H_l]`, or `[1, H_l]` broadcast) added to hidden
    /// layer `l`'s pre-activation: a per-sample bias, such as a noise-level embedding. It does
    /// not depend on `x`, so the Jacobian keeps the structure the trace relies on.
    pub fn forward_trace_with(&self, x: &Tensor, extra: &[Tensor]) -> ForwardTrace {
        assert!(extra.len() <= self.hidden_layers(), "forward_trace_with: {} extra terms for {} hidden layers", extra.len(), self.hidden_layers());
        let mut pre = Vec::with_capacity(self.layers.len());
        let mut post = Vec::with_capacity(self.layers.len() - 1);
        let mut a = x.clone();
        for (l, layer) in self.layers[..self.layers.len() - 1].iter().enumerate() {
            let h = match extra.get(l) {
                Some(e) => layer.forward(&a) + e,
                None => layer.forward(&a),
            };
            a = self.activation.apply(&h);
            pre.push(h);
            post.push(a.clone());
        }
        let h = self.layers.last().unwrap().forward(&a);
        let output = match self.output_activation {
            Some(act) => act.apply(&h),
            None => h.clone(),
        };
        pre.push(h);
        ForwardTrace { pre, post, output }
    }
}

impl ScoreModel for Mlp {
    fn dim(&self) -> usize {
        self.layers[0].inputs()
    }
    fn score(&self, x: &Tensor) -> Tensor {
        self.forward_trace(x).output
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| [l.weight.clone(), l.bias.clone()]).collect()
    }
    fn as_mlp(&self) -> Option<&Mlp> {
        Some(self)
    }
}
