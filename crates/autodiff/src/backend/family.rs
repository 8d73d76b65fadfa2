//! One list per op family. `op_family!` declares a family's enum and, on the
//! same line as each variant, what every check needs to cover it: the kernel
//! name (`kernels/<family>.cu` defines `<kernel>_f32` and `<kernel>_f64`), an
//! example value (for a variant with parameters, a typical one) and the inputs
//! the checks draw from (where the op is defined and smooth). `ALL` lists the
//! examples, one per variant, in declaration order, and every check iterates
//! it: the kernel-name check, the emulated kernels against the CPU, the GPU
//! parity tests and the gradchecks. A variant cannot be declared without
//! joining `ALL`; a mistyped example (of another variant) fails to compile.
//! `crates/autodiff/ADDING_AN_OP.md` walks through the rest of an op.

use std::ops::Range;

macro_rules! op_family {
    (
        $(#[$meta:meta])*
        pub enum $family:ident {
            $(
                $(#[$doc:meta])*
                $variant:ident $(($($tuple:ty),*))? $({ $($(#[$fdoc:meta])* $field:ident: $fty:ty),* })?
                    => kernel $kernel:literal, example $example:expr, inputs $inputs:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        pub enum $family {
            $( $(#[$doc])* $variant $(($($tuple),*))? $({ $($(#[$fdoc])* $field: $fty),* })?, )*
        }

        impl $family {
            /// One example of every variant, in declaration order: what every
            /// check of the family iterates.
            pub const ALL: &'static [$family] = &[$($example),*];

            /// The kernel's name less its dtype suffix (`<name>_f32`, `<name>_f64`).
            pub fn kernel(self) -> &'static str {
                match self {
                    $( $family::$variant { .. } => $kernel, )*
                }
            }

            /// Where the checks draw inputs: the op is defined and smooth there
            /// (kinks at 0, as relu's, are kept away from by the checks).
            pub fn check_inputs(self) -> $crate::backend::family::Inputs {
                match self {
                    $( $family::$variant { .. } => $inputs, )*
                }
            }
        }

        // Each example is a value of the variant on its line.
        const _: () = {
            let mut i = 0;
            $(
                assert!(matches!($family::ALL[i], $family::$variant { .. }), "op_family: an example of the wrong variant");
                i += 1;
            )*
            assert!(i == $family::ALL.len());
        };
    };
}
pub(crate) use op_family;

/// The input range the checks use for an op; `Range<f64>` for each operand.
pub type Inputs = Range<f64>;
