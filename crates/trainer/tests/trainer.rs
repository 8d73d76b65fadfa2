//! The trainer binary end to end, on small generated IDX files (CI has no network and no MNIST):
//! every objective's outputs, exact resumption, divergence, Ctrl-C, and the clear failures.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use safetensors::SafeTensors;

const BIN: &str = env!("CARGO_BIN_EXE_trainer");
/// Generated images are 8×8, so the networks are 64 → 16 → 64.
const SIDE: usize = 8;
const DIM: usize = SIDE * SIDE;

/// A small MNIST-shaped data set: bars and boxes on 8×8 pixels, with a SHA256SUMS file beside
/// it so the trainer verifies the files against their own sums.
fn make_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let image = |k: usize| -> Vec<u8> {
        let mut px = vec![0u8; DIM];
        let (a, b) = (k % SIDE, (k / SIDE) % SIDE);
        for i in 0..SIDE {
            px[a * SIDE + i] = 255; // a row
            px[i * SIDE + b] = 200; // a column
        }
        px
    };
    let write = |images: &str, labels: &str, range: std::ops::Range<usize>| {
        let pixels: Vec<u8> = range.clone().flat_map(image).collect();
        let labels_v: Vec<u8> = range.clone().map(|k| (k % 10) as u8).collect();
        mnist::write_idx_images(&dir.join(images), &pixels, range.len(), SIDE, SIDE).unwrap();
        mnist::write_idx_labels(&dir.join(labels), &labels_v).unwrap();
    };
    write("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 0..96);
    write(
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte",
        100..124,
    );
    let sums: String = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte",
    ]
    .iter()
    .map(|name| format!("{}  {name}\n", mnist::sha256_file(&dir.join(name)).unwrap()))
    .collect();
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
}

/// Tiny model, tiny batches: each run takes well under a second.
fn small_args(data: &Path, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--batch",
        "8",
        "--hidden",
        "16",
        "--eval-every",
        "3",
        "--samples",
        "64",
        "--sampler-steps",
        "4",
        "--device",
        "cpu",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend([
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]);
    args
}

/// Runs the trainer with any GPU hidden, so every test sees the same machine.
fn trainer(args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MNIST_DIR")
        .env("GRADGRAD_NO_CUDA", "1")
        .output()
        .expect("the trainer binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// `(width, height)` of a PNG, decoding it fully.
fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

/// The rows of metrics.csv, split into fields, after checking the header.
fn metrics(dir: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,loss,grad_norm,lr,wall_time_s,images_per_s,heldout_exact_sm,inception_score,confident_share"
    );
    lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// Tensor names with their shapes, and a file's metadata.
type Contents = (
    Vec<(String, Vec<usize>)>,
    std::collections::HashMap<String, String>,
);

/// Tensor names and shapes, and the metadata, of a safetensors file.
fn safetensors_contents(path: &Path) -> Contents {
    let bytes = std::fs::read(path).unwrap();
    let file =
        SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tensors: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    tensors.sort();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    (tensors, header.metadata().clone().unwrap_or_default())
}

/// The f32 values of every tensor, by name: for bit-for-bit comparisons.
fn tensor_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    out.sort();
    out
}

fn smoke(model: &str, objective: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("run"));
    make_dataset(&data);
    let conditional = model != "unconditional";
    let run = trainer(&with(
        small_args(&data, &out),
        &[
            "--model",
            model,
            "--layers",
            "1",
            "--objective",
            objective,
            "--steps",
            "6",
            "--checkpoint-every",
            "4",
        ],
    ));
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{objective}: {stderr}");
    assert!(
        stderr.contains(&format!("objective        {objective}")),
        "the settings are printed at start:\n{stderr}"
    );
    assert!(stdout.contains("held-out exact SM loss"), "{stdout}");
    // The classifier reads 28×28 digits; these images are 8×8, and the report says so.
    assert!(stdout.contains("sample quality           not measured: the classifier reads 28×28 images; these are 8×8"), "{stdout}");
    for name in [
        "config.json",
        "metrics.csv",
        "loss.png",
        "samples.png",
        "samples.safetensors",
        "denoise.png",
        "model.safetensors",
        "optimizer.safetensors",
    ] {
        assert!(out.join(name).is_file(), "{objective}: {name} missing");
        assert!(
            stdout.contains(&out.join(name).display().to_string()),
            "the report names {name}:\n{stdout}"
        );
    }

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["objective"], objective);
    assert_eq!(config["steps"], 6);

    let rows = metrics(&out);
    assert_eq!(rows.len(), 6);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 9);
        assert!(row[7].is_empty() && row[8].is_empty(), "no quality without --quality-every");
        assert_eq!(row[0], (i + 1).to_string());
        for field in &row[1..6] {
            assert!(
                field.parse::<f64>().unwrap().is_finite(),
                "{objective}: row {row:?}"
            );
        }
        // Evaluated on steps 3 and 6 (every 3, and the last).
        assert_eq!(
            row[6].is_empty(),
            (i + 1) % 3 != 0,
            "{objective}: row {row:?}"
        );
    }

    assert_eq!(png_size(&out.join("loss.png")), (1040, 380));
    // 8×8 grid of 8×8 images magnified 4 times, 2 pixels apart, under a 14-pixel title.
    let (w, h) = png_size(&out.join("samples.png"));
    assert_eq!(h, 14 + 8 * 32 + 7 * 2);
    assert!(w >= 8 * 32 + 7 * 2);
    let rows_of_images = match (conditional, objective) {
        (true, _) => 7,
        (false, "anneal-dsm") => 5,
        _ => 3,
    };
    let (_, h) = png_size(&out.join("denoise.png"));
    assert_eq!(
        h as usize,
        14 + rows_of_images * 32 + (rows_of_images - 1) * 2
    );

    let (tensors, meta) = safetensors_contents(&out.join("model.safetensors"));
    let mut expected: Vec<(String, Vec<usize>)> = vec![
        ("layers.0.bias".into(), vec![16]),
        ("layers.0.weight".into(), vec![16, DIM]),
        ("layers.1.bias".into(), vec![DIM]),
        ("layers.1.weight".into(), vec![DIM, 16]),
    ];
    if conditional {
        expected.insert(0, ("embeddings.0".into(), vec![16, 32]));
    }
    if model == "edm-diag" {
        expected.extend([("prior.log_variance".into(), vec![DIM]), ("prior.mean".into(), vec![DIM])]);
    }
    assert_eq!(tensors, expected);
    assert_eq!(meta["activation"], if conditional { "silu" } else { "softplus" });
    assert_eq!(meta["model"], model);
    assert_eq!(meta["weights"], if conditional { "ema (decay 0.999)" } else { "trained" });
    assert_eq!(meta["hidden_layers"], "1");
    assert_eq!(meta["objective"], objective);
    assert_eq!(meta["noise_sigma"], "0.1");
    assert_eq!(meta["step"], "6");

    let (state, meta) = safetensors_contents(&out.join("optimizer.safetensors"));
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    let count = match model {
        "edm-diag" => 7,
        "unconditional" => 4,
        _ => 5,
    };
    let mut expected: Vec<String> = ["ema", "m", "params", "v"]
        .iter()
        .flat_map(|prefix| (0..count).map(move |i| format!("{prefix}.{i}")))
        .collect();
    expected.extend(["ema_updates".to_string(), "step".to_string()]);
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(meta["training_step"], "6");

    let (samples, meta) = safetensors_contents(&out.join("samples.safetensors"));
    assert_eq!(samples, vec![("samples".to_string(), vec![64, DIM])]);
    assert_eq!(meta["ema"], conditional.to_string());
    assert_eq!(meta["seed"], "0");
    assert!(meta["evaluations"].parse::<usize>().unwrap() > 1);

    // `eval` recomputes the same held-out loss from the saved model.
    let again = trainer(&[
        "eval".into(),
        "--model".into(),
        out.join("model.safetensors").display().to_string(),
        "--data".into(),
        data.display().to_string(),
        "--out".into(),
        tmp.path().join("eval").display().to_string(),
    ]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let held_out = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("held-out exact SM loss"))
            .map(|l| l.split_whitespace().nth(4).unwrap().to_string())
    };
    assert_eq!(
        held_out(&text(&again.stdout)),
        held_out(&stdout),
        "eval:\n{}",
        text(&again.stdout)
    );
    assert!(tmp.path().join("eval/samples.png").is_file());
    assert!(tmp.path().join("eval/denoise.png").is_file());
}

#[test]
fn smoke_edm_exact() {
    smoke("edm", "exact");
}
#[test]
fn smoke_edm_ssm_vr() {
    smoke("edm", "ssm-vr");
}
#[test]
fn smoke_edm_dsm() {
    smoke("edm", "dsm");
}
#[test]
fn smoke_edm_diag_exact() {
    smoke("edm-diag", "exact");
}
#[test]
fn smoke_ncsn_dsm() {
    smoke("ncsn", "dsm");
}
#[test]
fn smoke_unconditional_exact() {
    smoke("unconditional", "exact");
}
#[test]
fn smoke_unconditional_ssm() {
    smoke("unconditional", "ssm");
}
#[test]
fn smoke_unconditional_ssm_vr() {
    smoke("unconditional", "ssm-vr");
}
#[test]
fn smoke_unconditional_dsm() {
    smoke("unconditional", "dsm");
}
#[test]
fn smoke_unconditional_anneal_dsm() {
    smoke("unconditional", "anneal-dsm");
}

/// N steps, then M resumed: the same losses, gradient norms and final weights, bit for bit, as
/// N + M steps in one go. Checked for a second-order objective with random projections (its RNG
/// use is the most intricate) and for the exact one.
#[test]
fn resume_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data);
    for objective in ["ssm-vr", "exact"] {
        let (split, whole) = (
            tmp.path().join(format!("split-{objective}")),
            tmp.path().join(format!("whole-{objective}")),
        );
        let first = trainer(&with(
            small_args(&data, &split),
            &[
                "--objective",
                objective,
                "--steps",
                "5",
                "--checkpoint-every",
                "2",
            ],
        ));
        assert!(first.status.success(), "{}", text(&first.stderr));
        let resumed = trainer(&[
            "--resume".into(),
            split.display().to_string(),
            "--steps".into(),
            "11".into(),
            "--data".into(),
            data.display().to_string(),
        ]);
        assert!(resumed.status.success(), "{}", text(&resumed.stderr));
        assert!(
            text(&resumed.stderr).contains("resuming at step 6 of 11"),
            "{}",
            text(&resumed.stderr)
        );
        let once = trainer(&with(
            small_args(&data, &whole),
            &[
                "--objective",
                objective,
                "--steps",
                "11",
                "--checkpoint-every",
                "2",
            ],
        ));
        assert!(once.status.success(), "{}", text(&once.stderr));

        let columns = |rows: Vec<Vec<String>>| {
            rows.into_iter()
                .map(|r| r[..4].to_vec())
                .collect::<Vec<_>>()
        };
        let (a, b) = (metrics(&split), metrics(&whole));
        assert_eq!(a.len(), 11);
        assert_eq!(
            columns(a.clone()),
            columns(b.clone()),
            "{objective}: step, loss, grad_norm, lr"
        );
        assert_eq!(a[10][6], b[10][6], "{objective}: the final held-out loss");
        assert_eq!(
            tensor_bytes(&split.join("model.safetensors")),
            tensor_bytes(&whole.join("model.safetensors"))
        );
        assert_eq!(
            tensor_bytes(&split.join("optimizer.safetensors")),
            tensor_bytes(&whole.join("optimizer.safetensors"))
        );
    }

    // A flag that would change the run is refused, not silently applied.
    let split = tmp.path().join("split-exact");
    let changed = trainer(&[
        "--resume".into(),
        split.display().to_string(),
        "--steps".into(),
        "20".into(),
        "--lr".into(),
        "0.5".into(),
    ]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(
        text(&changed.stderr).contains("--lr (given 0.5, the run has 0.001)"),
        "{}",
        text(&changed.stderr)
    );
    // So is resuming a finished run without more steps.
    let done = trainer(&[
        "--resume".into(),
        split.display().to_string(),
        "--data".into(),
        data.display().to_string(),
    ]);
    assert_eq!(done.status.code(), Some(2));
    assert!(
        text(&done.stderr).contains("already taken 11 of 11 steps"),
        "{}",
        text(&done.stderr)
    );
}

/// `trainer classifier` on images the classifier cannot read stops with a usage error that says why.
#[test]
fn the_classifier_refuses_images_of_another_size() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data);
    let run = trainer(&["classifier".into(), "--data".into(), data.display().to_string()]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the classifier reads 28×28 images; these are 8×8"), "{stderr}");
}

/// A run folder from before the trainer had noise-conditional models is refused, saying why and
/// what to do, and nothing in it is touched.
#[test]
fn a_run_from_the_unconditional_era_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("run"));
    make_dataset(&data);
    let first = trainer(&with(small_args(&data, &out), &["--model", "unconditional", "--steps", "2"]));
    assert!(first.status.success(), "{}", text(&first.stderr));
    // What an earlier trainer wrote: the same config without `model` (and the fields it added).
    let path = out.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("model");
    let old = serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(&path, &old).unwrap();
    let resumed = trainer(&["--resume".into(), out.display().to_string(), "--steps".into(), "4".into(), "--data".into(), data.display().to_string()]);
    let stderr = text(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("written by an earlier trainer") && stderr.contains("--model unconditional"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), old, "the old run is left as it was");
}

/// An absurd learning rate overflows the weights: training stops with the step, the objective
/// and a hint, exits non-zero, and the last checkpoint is whole and from before the failure.
#[test]
fn divergence_stops_with_a_hint_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("run"));
    make_dataset(&data);
    let args = with(
        small_args(&data, &out),
        &[
            "--objective",
            "exact",
            "--steps",
            "50",
            "--lr",
            "1e30",
            "--checkpoint-every",
            "1",
        ],
    );
    let run = trainer(&args);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("training diverged at step"), "{stderr}");
    assert!(stderr.contains("(exact)"), "{stderr}");
    assert!(
        stderr.contains("lower the learning rate (--lr") && stderr.contains("--noise-sigma"),
        "{stderr}"
    );
    let failed_at: u64 = stderr
        .split("diverged at step ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(failed_at >= 2, "step 1 starts from a finite initialisation");
    assert!(
        stderr.contains(&format!("last good checkpoint (step {})", failed_at - 1)),
        "{stderr}"
    );

    let (_, meta) = safetensors_contents(&out.join("model.safetensors"));
    assert_eq!(meta["step"], (failed_at - 1).to_string());
    let (_, meta) = safetensors_contents(&out.join("optimizer.safetensors"));
    assert_eq!(meta["training_step"], (failed_at - 1).to_string());
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// SIGINT mid-run: the step finishes, a checkpoint is written, the exit code is 0 and the resume
/// command is printed; resuming from it works.
#[test]
fn ctrl_c_checkpoints_and_prints_the_resume_command() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("run"));
    make_dataset(&data);
    let args = with(
        small_args(&data, &out),
        &["--steps", "100000000", "--checkpoint-every", "1000000"],
    );
    let mut child = Command::new(BIN)
        .args(&args)
        .env_remove("MNIST_DIR")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Wait until training has started (held-out evaluations are logged every 3 steps).
    while !seen.contains("held-out exact SM") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the trainer ended early:\n{seen}"
        );
        seen.push_str(&line);
    }
    // SAFETY: kill(2) on the child we spawned, which has not been waited for, so its pid is live.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the trainer did not stop within 60 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(
        seen.contains(&format!(
            "resume with: cargo run -p trainer -- --resume {}",
            out.display()
        )),
        "{seen}"
    );

    let rows = metrics(&out);
    let step = rows.len() as u64;
    assert!(step >= 3);
    let (_, meta) = safetensors_contents(&out.join("model.safetensors"));
    assert_eq!(
        meta["step"],
        step.to_string(),
        "the checkpoint is from the last finished step"
    );

    let resumed = trainer(&[
        "--resume".into(),
        out.display().to_string(),
        "--steps".into(),
        (step + 2).to_string(),
        "--data".into(),
        data.display().to_string(),
    ]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(metrics(&out).len() as u64, step + 2);
}

#[test]
fn missing_data_lists_where_it_looked() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nowhere");
    let run = trainer(&small_args(&nowhere, &tmp.path().join("run")));
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("--data") && stderr.contains(&nowhere.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn data_that_is_not_mnist_fails_the_builtin_checksums() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data);
    std::fs::remove_file(data.join("SHA256SUMS")).unwrap();
    let run = trainer(&small_args(&data, &tmp.path().join("run")));
    assert_eq!(run.status.code(), Some(1));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = small_args(&tmp.path().join("data"), &tmp.path().join("run"));
    let at = args.iter().position(|a| a == "cpu").unwrap();
    args[at] = "cuda".into();
    let run = trainer(&args);
    assert_ne!(run.status.code(), Some(0));
    assert!(
        text(&run.stderr).contains("CUDA requested but not available: "),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn an_existing_run_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("run"));
    make_dataset(&data);
    assert!(trainer(&with(
        small_args(&data, &out),
        &["--objective", "dsm", "--steps", "2"]
    ))
    .status
    .success());
    let again = trainer(&with(
        small_args(&data, &out),
        &["--objective", "dsm", "--steps", "2"],
    ));
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already holds a run"),
        "{}",
        text(&again.stderr)
    );
}
