//! Linkage parameters.

use concord_core::KeyName;

/// Number of slots in per-key arrays (key codes run from 1 to the number
/// of keys).
pub(crate) const NK: usize = KeyName::ALL.len() + 1;

/// The parameters of a linkage run. The model's `m`, `u` and prior are not
/// parameters: they are estimated from the records ([`crate::Model`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Match weight (bits: log2 of the odds of a match, the prior
    /// included) at or above which a scored pair is `Linked`. 4 bits is a
    /// match probability of 0.94 (BENCHMARKS.md, "Linkage on data it was
    /// not tuned on", gives the precision it buys).
    pub upper: f64,
    /// Match weight at or above which a pair below `upper` is `Possible`
    /// (held for review). 3 bits is a match probability of 0.89.
    pub lower: f64,
    /// A pseudonym carried by more records than this is placeholder-like
    /// (a default date, a shared hostel postcode with a common name, ...):
    /// it is not used for blocking, and agreement on it counts for nothing.
    /// Such tokens are counted in the outcome.
    pub frequent_token_cap: usize,
    /// The model's prior before it is estimated is one match in this many
    /// pairs: roughly the partnership's population.
    pub min_population: f64,
    /// The model is estimated (EM) once the linker holds this many
    /// records, and again each time the records have doubled since.
    pub min_train_records: usize,
    /// At most this many records' candidate pairs feed an estimate (a
    /// deterministic sample of the records held).
    pub train_sample: usize,
    /// EM iterations at most.
    pub em_iterations: u32,
    /// Worker threads for candidate scoring (0 = available parallelism).
    pub threads: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            upper: 4.0,
            lower: 3.0,
            frequent_token_cap: 1000,
            min_population: 150_000.0,
            min_train_records: 500,
            train_sample: 200_000,
            em_iterations: 200,
            threads: 0,
        }
    }
}
