//! Linkage parameters.

use concord_core::KeyName;

/// Number of slots in per-key arrays (key codes run from 1 to the number
/// of keys).
pub(crate) const NK: usize = KeyName::ALL.len() + 1;

/// The parameters of a linkage run. [`LinkConfig::default`] holds the values
/// tuned on `concord-synth` populations (see the crate doc).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Score (bits) at or above which a scored pair is `Linked`.
    pub upper: f64,
    /// Score (bits) at or above which a pair below `upper` is `Possible`.
    pub lower: f64,
    /// m-probability per key, indexed by `KeyName::code()`: the chance that
    /// two records of the same person agree on the key. Agreement weighs
    /// `log2(m / u)`, disagreement `log2(1 - m)`.
    pub m: [f64; NK],
    /// A pseudonym carried by more records than this is placeholder-like
    /// (a default date, a shared hostel postcode with a common name, ...):
    /// it is not used for blocking, and agreement or disagreement on it
    /// counts for nothing. Such tokens are counted in the outcome.
    pub frequent_token_cap: usize,
    /// Frequencies are taken against at least this many records, so that a
    /// small index (the first night, a test) does not make every value look
    /// common. Roughly the partnership's population.
    pub min_population: f64,
    /// Worker threads for candidate scoring (0 = available parallelism).
    pub threads: usize,
}

impl LinkConfig {
    pub fn m(&self, k: KeyName) -> f64 {
        self.m[k.code() as usize]
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        let mut m = [0.9; NK];
        m[0] = 0.0;
        m[KeyName::Nhs.code() as usize] = 0.99;
        m[KeyName::Pnc.code() as usize] = 0.99;
        m[KeyName::PhSnDob.code() as usize] = 0.95;
        m[KeyName::PhFnSn.code() as usize] = 0.95;
        m[KeyName::SnDobSwap.code() as usize] = 0.9;
        LinkConfig {
            upper: 28.0,
            lower: 12.0,
            m,
            frequent_token_cap: 1000,
            min_population: 150_000.0,
            threads: 0,
        }
    }
}
