//! Checkpoints in safetensors: `model.safetensors` (the network, loadable by PyTorch) and
//! `optimizer.safetensors` (Adam's moments and step, the training step, the RNG position).
//! Every file is written to a temporary name beside its target and renamed when whole, so a
//! crash mid-write leaves the previous checkpoint as it was.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use autodiff::{DType, Tensor};
use safetensors::{Dtype, SafeTensors};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::model::Net;

/// The network a user samples with (the EMA weights), in a run folder.
pub const MODEL_FILE: &str = "model.safetensors";
/// What resuming needs besides the model: optimiser state, trained weights, the EMA.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Every setting of the run, as JSON.
pub const CONFIG_FILE: &str = "config.json";

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(TrainError::io(dir))?;
    tmp.write_all(bytes).map_err(TrainError::io(tmp.path()))?;
    tmp.as_file()
        .sync_all()
        .map_err(TrainError::io(tmp.path()))?;
    tmp.persist(path).map_err(|e| TrainError::Io {
        path: path.into(),
        source: e.error,
    })?;
    Ok(())
}

/// What a model file says about itself (its safetensors metadata).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The run's configuration, as in `config.json`.
    pub config: TrainConfig,
    /// Image height and width: the network maps `rows·cols` pixels to as many scores.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// The training step the weights are from.
    pub step: u64,
}

/// Saves the network a user samples with (the EMA weights when the run keeps an average):
/// tensors `layers.{i}.weight` `[out, in]`, `layers.{i}.bias` `[out]` and, for a conditional
/// model, `embeddings.{l}` `[H_l, F]`, f32, with metadata `model`, `weights` (`ema` or
/// `trained`), `activation`, `hidden_layers`, `hidden`, `objective`, `noise_sigma`,
/// `image_rows`, `image_cols`, `step`, and the full `config` as JSON.
pub fn save_model(path: &Path, net: &Net, info: &ModelInfo) -> Result<(), TrainError> {
    let c = &info.config;
    let metadata: HashMap<String, String> = [
        ("format", "pt".to_string()),
        ("model", c.model.to_string()),
        ("weights", if c.ema_decay > 0.0 { format!("ema (decay {})", c.ema_decay) } else { "trained".into() }),
        ("activation", c.activation.to_string()),
        ("hidden_layers", c.layers.to_string()),
        ("hidden", c.hidden.to_string()),
        ("objective", c.objective.to_string()),
        ("noise_sigma", c.noise_sigma.to_string()),
        ("image_rows", info.rows.to_string()),
        ("image_cols", info.cols.to_string()),
        ("step", info.step.to_string()),
        ("config", serde_json::to_string(c).expect("a config serialises")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let named: Vec<(String, Tensor)> = net.parameter_names().into_iter().zip(net.parameters()).collect();
    write_atomic(path, &serialize(&named, metadata, path)?)
}

/// A run's configuration from its JSON, refusing one written before the trainer had a `model`
/// (the single-σ unconditional set-up) with a message that says what to do.
pub fn parse_config(json: &str, path: &Path) -> Result<TrainConfig, TrainError> {
    let bad = |reason: String| TrainError::BadCheckpoint { path: path.into(), reason };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    if value.get("model").is_none() && value.get("objective").is_some() {
        return Err(bad("this run was written by an earlier trainer (an unconditional single-σ model, before \
                        noise-conditional models and EMA); this version cannot continue or load it. \
                        Start a new run (`--model unconditional` trains that set-up again)"
            .into()));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// Loads a network written by [`save_model`].
pub fn load_model(path: &Path) -> Result<(Net, ModelInfo), TrainError> {
    let bad = |reason: String| TrainError::BadCheckpoint { path: path.into(), reason };
    open(path, |file, meta| {
        let field = |key: &str| meta.get(key).ok_or_else(|| bad(format!("metadata has no `{key}`; was it written by the trainer?")));
        let config = parse_config(field("config")?, path)?;
        let number = |key: &str| field(key)?.parse::<u64>().map_err(|e| bad(format!("metadata `{key}`: {e}")));
        let info = ModelInfo { rows: number("image_rows")? as usize, cols: number("image_cols")? as usize, step: number("step")?, config };
        let template = Net::fresh(&info.config, info.rows * info.cols, 0);
        let params = read_like(file, &template, path)?;
        Ok((template.with_parameters(&params), info))
    })
}

/// The tensors named as `template`'s parameters, checked against its shapes.
fn read_like(file: &SafeTensors, template: &Net, path: &Path) -> Result<Vec<Tensor>, TrainError> {
    let names = template.parameter_names();
    names.iter().zip(template.parameters()).map(|(name, expected)| shaped_like(name, read_tensor(file, name, path)?, &expected, path)).collect()
}

/// `t`, if it has `expected`'s shape.
fn shaped_like(name: &str, t: Tensor, expected: &Tensor, path: &Path) -> Result<Tensor, TrainError> {
    if t.shape() != expected.shape() {
        return Err(TrainError::BadCheckpoint {
            path: path.into(),
            reason: format!("tensor `{name}` is {}; the configuration needs {}", t.shape(), expected.shape()),
        });
    }
    Ok(t)
}

/// The trained (not averaged) weights as `optimizer.safetensors` keeps them: `params.{i}`, in
/// `parameters()` order.
pub fn trained_weights(model: &Net) -> Vec<(String, Tensor)> {
    model.parameters().into_iter().enumerate().map(|(i, p)| (format!("params.{i}"), p)).collect()
}

/// The trained weights back from a loaded `optimizer.safetensors`, checked against
/// `template`'s shapes.
pub fn read_trained_weights(state: &[(String, Tensor)], template: &Net, path: &Path) -> Result<Vec<Tensor>, TrainError> {
    template
        .parameters()
        .iter()
        .zip(trained_weights(template))
        .map(|(expected, (name, _))| {
            let found = state.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone());
            let t = found.ok_or_else(|| TrainError::BadCheckpoint { path: path.into(), reason: format!("no tensor `{name}`") })?;
            shaped_like(&name, t, expected, path)
        })
        .collect()
}

/// Where training stands, besides the model: saved in `optimizer.safetensors`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Steps taken.
    pub step: u64,
    /// Training wall time so far, in seconds (continues across resumes).
    pub elapsed_s: f64,
}

/// Saves Adam's state (`m.{i}`, `v.{i}`, `step`) with metadata `training_step`, `elapsed_s`,
/// `seed` and `rng`: the next step draws from the batch stream at index `training_step + 1`.
pub fn save_optimizer(
    path: &Path,
    adam_state: &[(String, Tensor)],
    state: &TrainingState,
    seed: u64,
) -> Result<(), TrainError> {
    let metadata: HashMap<String, String> = [
        ("training_step", state.step.to_string()),
        ("elapsed_s", state.elapsed_s.to_string()),
        ("seed", seed.to_string()),
        (
            "rng",
            format!("batch stream (seed {seed}, index {})", state.step + 1),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    write_atomic(path, &serialize(adam_state, metadata, path)?)
}

/// Loads what [`save_optimizer`] wrote: Adam's named state and the training state.
pub fn load_optimizer(path: &Path) -> Result<(Vec<(String, Tensor)>, TrainingState), TrainError> {
    let bad = |reason: String| TrainError::BadCheckpoint {
        path: path.into(),
        reason,
    };
    open(path, |file, meta| {
        let field = |key: &str| {
            meta.get(key)
                .ok_or_else(|| bad(format!("metadata has no `{key}`")))
        };
        let step = field("training_step")?
            .parse()
            .map_err(|e| bad(format!("metadata `training_step`: {e}")))?;
        let elapsed_s = field("elapsed_s")?
            .parse()
            .map_err(|e| bad(format!("metadata `elapsed_s`: {e}")))?;
        let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
        names.sort();
        let tensors = names
            .into_iter()
            .map(|n| read_tensor(file, &n, path).map(|t| (n, t)))
            .collect::<Result<_, _>>()?;
        Ok((tensors, TrainingState { step, elapsed_s }))
    })
}

/// Opens a safetensors checkpoint and hands `read` its tensors and metadata.
fn open<R>(
    path: &Path,
    read: impl FnOnce(&SafeTensors, &HashMap<String, String>) -> Result<R, TrainError>,
) -> Result<R, TrainError> {
    let bad = |reason: String| TrainError::BadCheckpoint {
        path: path.into(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(TrainError::io(path))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    read(&file, &header.metadata().clone().unwrap_or_default())
}

fn serialize(
    named: &[(String, Tensor)],
    metadata: HashMap<String, String>,
    path: &Path,
) -> Result<Vec<u8>, TrainError> {
    let buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(name, t)| {
            let (dtype, bytes) = match t.dtype() {
                DType::F32 => (
                    Dtype::F32,
                    t.to_vec::<f32>()
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                ),
                DType::F64 => (
                    Dtype::F64,
                    t.to_vec::<f64>()
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                ),
            };
            (name.clone(), dtype, t.dims().to_vec(), bytes)
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrainError::BadCheckpoint {
            path: path.into(),
            reason: e.to_string(),
        })?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| TrainError::BadCheckpoint {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn read_tensor(file: &SafeTensors, name: &str, path: &Path) -> Result<Tensor, TrainError> {
    let bad = |reason: String| TrainError::BadCheckpoint {
        path: path.into(),
        reason,
    };
    let view = file
        .tensor(name)
        .map_err(|_| bad(format!("no tensor `{name}`")))?;
    let shape = view.shape().to_vec();
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => Tensor::from_vec(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect::<Vec<_>>(),
            shape,
        ),
        Dtype::F64 => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect::<Vec<_>>(),
            shape,
        ),
        other => {
            return Err(bad(format!(
                "tensor `{name}` is {other:?}; expected F32 or F64"
            )))
        }
    })
}

/// The run folder's checkpoint files.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(MODEL_FILE), dir.join(OPTIMIZER_FILE))
}

/// The samples drawn at the end, unclamped, with their sampler in the metadata.
pub const SAMPLES_FILE: &str = "samples.safetensors";

/// Saves the drawn samples: tensor `samples`, f32 `[N, dim]`, in pixel units (0 black, 1
/// white) as the sampler left them (not clamped), with metadata `sampler`, `evaluations`
/// (score evaluations per sample), `seed`, `ema` (whether the averaged weights drew them),
/// `model` and `objective`.
pub fn save_samples(path: &Path, samples: &crate::eval::Samples, config: &TrainConfig, dim: usize) -> Result<(), TrainError> {
    let n = samples.raw.len() / dim;
    let tensor = Tensor::from_slice(&samples.raw, [n, dim]);
    let metadata: HashMap<String, String> = [
        ("sampler", samples.sampler.to_string()),
        ("evaluations", samples.sampler.evaluations().to_string()),
        ("seed", config.seed.to_string()),
        ("ema", (config.ema_decay > 0.0).to_string()),
        ("model", config.model.to_string()),
        ("objective", config.objective.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    write_atomic(path, &serialize(&[("samples".to_string(), tensor)], metadata, path)?)
}
