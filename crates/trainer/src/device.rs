//! Which device trains the model: [`select`] turns `--device` into an [`autodiff::Device`].

use std::fmt;

use clap::ValueEnum;
use autodiff::backend::cuda;
use autodiff::Device;
use serde::{Deserialize, Serialize};

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceRequest {
    /// The CPU, even when a GPU is there.
    Cpu,
    /// The first GPU, or an error saying why there is none.
    Cuda,
    /// CUDA when a backend and a device are there, else the CPU.
    #[default]
    Auto,
}

/// The device a run uses, and what to tell the user about the choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// The device chosen.
    pub device: Device,
    /// A line for the start of the run, e.g. why `auto` chose the CPU.
    pub note: Option<String>,
}

/// `--device cuda` when there is no CUDA to be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CUDA requested but not available: {0}")]
pub struct Unavailable(pub String);

/// Resolves `--device`: `cpu` is the CPU; `auto` is the first GPU where CUDA has one, else the
/// CPU, saying which and why; `cuda` is the first GPU or an error. The engine's probe never panics
/// on a machine without CUDA, and `GRADGRAD_NO_CUDA=1` hides the GPU.
pub fn select(request: DeviceRequest) -> Result<Selected, Unavailable> {
    select_given(request, cuda::availability().map_err(|e| e.reason))
}

/// [`select`] with the probe's answer passed in (so tests can exercise both machines).
fn select_given(request: DeviceRequest, cuda: Result<usize, String>) -> Result<Selected, Unavailable> {
    match (request, cuda) {
        (DeviceRequest::Cpu, _) => Ok(Selected {
            device: Device::Cpu,
            note: None,
        }),
        (DeviceRequest::Auto | DeviceRequest::Cuda, Ok(_)) => {
            let name = cuda::describe(0).unwrap_or_else(|e| e.to_string());
            Ok(Selected {
                device: Device::Cuda(0),
                note: Some(format!("device: {request} chose the GPU: {name}")),
            })
        }
        (DeviceRequest::Auto, Err(reason)) => Ok(Selected {
            device: Device::Cpu,
            note: Some(format!("device: auto chose the CPU: no CUDA device ({reason})")),
        }),
        (DeviceRequest::Cuda, Err(reason)) => Err(Unavailable(reason)),
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
    fn without_a_gpu_auto_falls_back_and_cuda_is_an_error() {
        let none = || Err("no driver".to_string());
        assert_eq!(select_given(DeviceRequest::Cpu, none()).unwrap().device, Device::Cpu);
        let auto = select_given(DeviceRequest::Auto, none()).unwrap();
        assert_eq!(auto.device, Device::Cpu);
        assert_eq!(auto.note.unwrap(), "device: auto chose the CPU: no CUDA device (no driver)");
        let err = select_given(DeviceRequest::Cuda, none()).unwrap_err().to_string();
        assert_eq!(err, "CUDA requested but not available: no driver");
    }

    #[test]
    fn with_a_gpu_auto_and_cuda_take_it_and_cpu_stays() {
        assert_eq!(select_given(DeviceRequest::Auto, Ok(1)).unwrap().device, Device::Cuda(0));
        assert_eq!(select_given(DeviceRequest::Cuda, Ok(1)).unwrap().device, Device::Cuda(0));
        assert_eq!(select_given(DeviceRequest::Cpu, Ok(1)).unwrap().device, Device::Cpu);
    }

    #[test]
    fn this_machine_resolves_without_panicking() {
        // Whatever the machine has: auto always succeeds, and cuda agrees with the probe.
        let auto = select(DeviceRequest::Auto).unwrap();
        assert_eq!(select(DeviceRequest::Cuda).is_ok(), auto.device != Device::Cpu);
    }
}
