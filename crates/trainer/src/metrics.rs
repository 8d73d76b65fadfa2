//! `metrics.csv`: one row per step. The held-out column is filled on evaluation steps only.

use std::fmt::Write as _;
use std::path::Path;

use crate::checkpoint::write_atomic;
use crate::error::TrainError;

/// The per-step metrics, in a run folder.
pub const METRICS_FILE: &str = "metrics.csv";
/// The CSV header of [`METRICS_FILE`].
pub const HEADER: &str = "step,loss,grad_norm,lr,wall_time_s,images_per_s,heldout_exact_sm,inception_score,confident_share";

/// One training step.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The step, from 1.
    pub step: u64,
    /// The training objective's loss on this step's batch.
    pub loss: f64,
    /// The global gradient norm before clipping.
    pub grad_norm: f64,
    /// The learning rate of the step.
    pub lr: f64,
    /// Training wall time at the end of the step, in seconds (continues across resumes).
    pub wall_time_s: f64,
    /// This step's batch size over its duration.
    pub images_per_s: f64,
    /// The exact score-matching loss on the held-out set, on evaluation steps.
    pub heldout_exact_sm: Option<f64>,
    /// The samples' classifier Inception Score and confident share, every `--quality-every` steps.
    pub inception_score: Option<f64>,
    /// (The share of samples classified with p > 0.9.)
    pub confident_share: Option<f64>,
}

/// The whole table as CSV text. Floats are printed in Rust's shortest round-trip form, so a
/// value read back is the value written.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{:.3},{:.1},{},{},{}",
            r.step,
            r.loss,
            r.grad_norm,
            r.lr,
            r.wall_time_s,
            r.images_per_s,
            optional(r.heldout_exact_sm),
            optional(r.inception_score),
            optional(r.confident_share)
        );
    }
    out
}

/// Writes `metrics.csv` atomically.
pub fn write(path: &Path, rows: &[Row]) -> Result<(), TrainError> {
    write_atomic(path, to_csv(rows).as_bytes())
}

/// Reads a table written by [`write()`].
pub fn read(path: &Path) -> Result<Vec<Row>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
    parse(&text).map_err(|reason| TrainError::BadCheckpoint {
        path: path.into(),
        reason,
    })
}

/// Parses CSV text written by [`to_csv`].
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("the first line is not `{HEADER}`"));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != 9 {
                return Err(format!(
                    "line {}: {} fields, expected 9",
                    i + 2,
                    fields.len()
                ));
            }
            let num = |j: usize| {
                fields[j]
                    .parse::<f64>()
                    .map_err(|e| format!("line {}, column {}: {e}", i + 2, j + 1))
            };
            let optional = |j: usize| if fields[j].is_empty() { Ok(None) } else { num(j).map(Some) };
            Ok(Row {
                step: fields[0]
                    .parse()
                    .map_err(|e| format!("line {}: step: {e}", i + 2))?,
                loss: num(1)?,
                grad_norm: num(2)?,
                lr: num(3)?,
                wall_time_s: num(4)?,
                images_per_s: num(5)?,
                heldout_exact_sm: optional(6)?,
                inception_score: optional(7)?,
                confident_share: optional(8)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_exactly() {
        let rows = vec![
            Row {
                step: 1,
                loss: -123.456_789_012_345_67,
                grad_norm: 1e-7 / 3.0,
                lr: 1e-3,
                wall_time_s: 0.5,
                images_per_s: 250.0,
                heldout_exact_sm: None,
                inception_score: None,
                confident_share: None,
            },
            Row {
                step: 2,
                loss: f64::from(0.1f32),
                grad_norm: 3.0,
                lr: 1e-3,
                wall_time_s: 1.0,
                images_per_s: 256.0,
                heldout_exact_sm: Some(-77.25),
                inception_score: Some(7.125),
                confident_share: Some(0.8125),
            },
        ];
        let back = parse(&to_csv(&rows)).unwrap();
        assert_eq!(back, rows);
    }
}
