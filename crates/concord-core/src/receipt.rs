//! What the broker answers for an accepted extract.

use chrono::{DateTime, Utc};

use crate::{DataSet, ExtractMode, Period, Source};

/// The receipt of an accepted extract. Pushing the same extract again
/// returns this same receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub extract_id: String,
    pub source: Source,
    /// The organisation that pushed it (from its certificate).
    pub org: String,
    pub mode: ExtractMode,
    pub period: Period,
    /// The data set it carried: a snapshot replaced that one only.
    pub data_set: DataSet,
    pub records_received: u64,
    pub records_stored: u64,
    pub records_deleted: u64,
    pub records_replaced: u64,
    /// The source's records (every data set and period) the broker held
    /// just before this extract: what `records_replaced` is a share of.
    pub records_held: u64,
    pub checksum: [u8; 32],
    /// SHA-256 over the stored (re-keyed) rows, in order.
    pub stored_digest: [u8; 32],
    pub policy_digest: String,
    pub policy_revision: String,
    pub broker_key_id: String,
    pub linkage_key_id: String,
    pub committed_at: DateTime<Utc>,
}
