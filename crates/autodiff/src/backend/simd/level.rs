//! Which instruction set the loops run at: the widest this CPU has, chosen
//! once per process, or a lower one named by `GRADGRAD_SIMD`.

use std::fmt;
use std::sync::OnceLock;

/// The environment variable that caps the level: `avx512`, `avx2`, `sse2`
/// (x86-64) or `neon` (aarch64). Read once, at the first loop.
pub const LEVEL_ENV: &str = "GRADGRAD_SIMD";

/// An instruction-set level for the loops, lowest first. `Baseline` is what
/// every CPU of the target has: SSE2 on x86-64, NEON on aarch64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// SSE2 on x86-64, NEON on aarch64: every CPU of the target has it.
    Baseline,
    /// AVX2 and FMA (x86-64-v3): 8 f32 lanes.
    Avx2,
    /// AVX-512 F, VL, BW and DQ: 16 f32 lanes.
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    /// The widest level this CPU runs (probed once).
    pub fn detected() -> Level {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(Level::probe)
    }

    fn probe() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") && has!("avx2") && has!("fma") {
                return Level::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    }

    /// The levels this CPU runs, lowest first: the paths a test can check.
    pub fn supported() -> Vec<Level> {
        let top = Level::detected();
        Level::ALL.into_iter().filter(|&l| l <= top).collect()
    }

    /// The level `GRADGRAD_SIMD` names, if it names one.
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" => Some(Level::Avx512),
            "avx2" => Some(Level::Avx2),
            "sse2" | "neon" | "baseline" => Some(Level::Baseline),
            _ => None,
        }
    }

    /// The level to run at: the detected one, lowered to `requested` if that
    /// is lower (a request above what the CPU has cannot be honoured).
    pub fn choose(requested: Option<Level>, detected: Level) -> Level {
        requested.map_or(detected, |r| r.min(detected))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Avx512 => "avx512",
            Level::Avx2 => "avx2",
            Level::Baseline if cfg!(target_arch = "x86_64") => "sse2",
            Level::Baseline if cfg!(target_arch = "aarch64") => "neon",
            Level::Baseline => "baseline",
        })
    }
}

/// The level every loop of this process runs at, decided at the first call.
pub fn active() -> Level {
    static ACTIVE: OnceLock<Level> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let detected = Level::detected();
        let requested = match std::env::var(LEVEL_ENV) {
            Ok(name) if !name.is_empty() => {
                let level = Level::parse(&name);
                if level.is_none() {
                    eprintln!("{LEVEL_ENV}={name:?} names no level (avx512, avx2, sse2, neon): using {detected}");
                } else if level > Some(detected) {
                    eprintln!("{LEVEL_ENV}={name:?}: this CPU's widest level is {detected}");
                }
                level
            }
            _ => None,
        };
        Level::choose(requested, detected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_lowers_the_level_but_never_raises_it() {
        assert_eq!(Level::choose(None, Level::Avx2), Level::Avx2);
        assert_eq!(Level::choose(Some(Level::Baseline), Level::Avx512), Level::Baseline);
        assert_eq!(Level::choose(Some(Level::Avx512), Level::Avx2), Level::Avx2);
        assert_eq!(Level::parse(" AVX512 "), Some(Level::Avx512));
        assert_eq!(Level::parse("sse2"), Some(Level::Baseline));
        assert_eq!(Level::parse("avx"), None);
        for level in Level::ALL {
            assert_eq!(Level::parse(&level.to_string()), Some(level), "{level} reads back");
        }
    }

    #[test]
    fn the_supported_levels_run_from_the_baseline_up_to_the_detected_one() {
        let supported = Level::supported();
        assert_eq!(supported.first(), Some(&Level::Baseline));
        assert_eq!(supported.last(), Some(&Level::detected()));
        assert!(supported.contains(&active()));
    }
}
