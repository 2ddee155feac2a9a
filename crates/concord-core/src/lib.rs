//! Concord's domain model: the closed vocabulary of a record (sources, record
//! kinds, categories, ...), the record and extract header as the broker
//! understands them, and the validation rules that decide whether an extract
//! may be stored.
//!
//! This crate does no I/O and knows nothing of protobuf or SQL: the server
//! converts wire types into these by hand, the store persists them.
//!
//! Every vocabulary enum carries a stable numeric `code` (equal to the
//! `concord.v1` enum number, checked by a test in `concord-server`) and a
//! stable snake_case name (what the policies and the database use).

#![forbid(unsafe_code)]

mod dataset;
mod extract;
mod receipt;
mod record;
mod validate;
mod vocab;
mod ward;

pub use dataset::DataSet;
pub use extract::{
    ExtractHeader, ExtractId, ExtractMode, Period, RawHeader, SCHEMA_VERSION, is_key_id,
};
pub use receipt::Receipt;
pub use record::{
    DASH_MAX, Flags, GssCode, GssKind, RawRecord, RawToken, Record, Risk, SiteCode, TOKEN_LEN,
    Token,
};
pub use validate::{Violation, Violations};
pub use vocab::{
    AgeBand, DatePrecision, KeyName, LocationType, PersonRole, RecordKind, RoshLevel, Sex, Source,
    UnknownName, ViolenceCategory, Weapon,
};
pub use ward::{RBKC_WARDS, ward_name};
