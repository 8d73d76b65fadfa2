//! Which device trains the model. One function, [`select`], so that the CUDA backend can be
//! wired in here alone once it lands.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceRequest {
    Cpu,
    Cuda,
    /// CUDA when a backend and a device are there, else the CPU.
    #[default]
    Auto,
}

/// The device a run uses, and what to tell the user about the choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    pub device: autodiff::Device,
    /// A line for the start of the run, e.g. why `auto` chose the CPU.
    pub note: Option<String>,
}

/// `--device cuda` when there is no CUDA to be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CUDA requested but not available: {0}")]
pub struct Unavailable(pub String);

/// Why there is no CUDA device to train on, or `None` when there is one. The trainer builds its
/// tensors on the CPU, so for now there never is; once it can place them on a GPU, this is the
/// one place to ask the engine (`autodiff::backend::cuda::availability()`).
fn cuda_unavailable_reason() -> Option<String> {
    Some("the trainer has no CUDA path yet: its tensors are made on the CPU".into())
}

/// Resolves `--device`: `cpu` is the CPU; `auto` is CUDA where available, else the CPU with a
/// note saying why; `cuda` is CUDA or an error.
pub fn select(request: DeviceRequest) -> Result<Selected, Unavailable> {
    match (request, cuda_unavailable_reason()) {
        (DeviceRequest::Cpu, _) => Ok(Selected {
            device: autodiff::Device::Cpu,
            note: None,
        }),
        (DeviceRequest::Auto | DeviceRequest::Cuda, None) => Ok(Selected {
            device: autodiff::Device::Cuda(0),
            note: None,
        }),
        (DeviceRequest::Auto, Some(reason)) => Ok(Selected {
            device: autodiff::Device::Cpu,
            note: Some(format!(
                "device: auto chose the CPU: no CUDA backend/device was found ({reason})"
            )),
        }),
        (DeviceRequest::Cuda, Some(reason)) => Err(Unavailable(reason)),
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceRequest::Cpu => "cpu",
            DeviceRequest::Cuda => "cuda",
            DeviceRequest::Auto => "auto",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_there_and_cuda_is_refused_without_a_backend() {
        assert_eq!(
            select(DeviceRequest::Cpu).unwrap().device,
            autodiff::Device::Cpu
        );
        let auto = select(DeviceRequest::Auto).unwrap();
        assert_eq!(auto.device, autodiff::Device::Cpu);
        assert!(auto
            .note
            .unwrap()
            .contains("no CUDA backend/device was found"));
        let err = select(DeviceRequest::Cuda).unwrap_err().to_string();
        assert!(
            err.starts_with("CUDA requested but not available: "),
            "{err}"
        );
    }
}
