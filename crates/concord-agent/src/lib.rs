//! The duty holder's side of Concord: an agency's CSV export plus a
//! mapping file, normalised and tokenised locally into `concord.v1`
//! records. No network: `concord push` sends what this produces, and
//! `concord tokenise` writes it as a token CSV.
//!
//! **Raw identifiers never leave this crate.** Names, dates of birth, NHS
//! numbers, PNC ids and postcodes are read from their columns, normalised
//! with the `mk1` normalisation spec, composed into the keys of the `mk2`
//! key set ([`concord_matchkey`]) and hashed with the linkage key inside
//! [`read_extract`]; only match-key tokens come out (a multi-token key
//! carries one per form of its field). The agency's own record id comes
//! out only as a keyed hash,
//! `source_ref = HMAC-SHA256(K_link, "ref:" ‖ source ‖ ":" ‖ id)`
//! ([`source_ref`]), so the broker can upsert and delete by it without
//! seeing it. Errors name a line and a column, never a cell's value.
//!
//! # The mapping file
//!
//! TOML, read by [`Mapping::from_toml`]; unknown keys are refused by name.
//! Top level: `source` (a Concord source name), `record_id` (the column of
//! the agency's own record id), `record_kind` (fixed or from a column),
//! optional `delimiter`; `[identifiers]`: the columns of `forename`,
//! `surname`, `date_of_birth`, `nhs_number`, `pnc_id`, `postcode` (any
//! subset); `[fields]`: the event fields `event_date` (required),
//! `date_precision`, `event_hour`, `ward_code`, `lsoa_code`, `category`,
//! `weapon`, `location_type`, `age_band` or `age` or
//! `age_band_from_date_of_birth = true`, `sex`, `role`, `rosh`,
//! `dash_score`, `marac`, `flag_domestic_abuse`, `flag_under_25`,
//! `flag_exploitation`, `site_code`. `identifiers.date_of_birth_format`
//! (a chrono format such as `"%m/%d/%Y"`) reads dates of birth in that
//! layout instead of the UK layouts the normalisation spec accepts.
//!
//! A field is a column name, or a table: `{ column = "…", map = { "agency
//! value" = "concord_name", … }, otherwise = "concord_name" }` or
//! `{ value = "concord_name" }` for a value fixed for the whole file. Map
//! keys are compared trimmed and ignoring case; an empty cell is "not held"
//! unless the map lists `""`. A map value or `otherwise` may be `""`: "not
//! held", for agency values with no Concord counterpart (`{ "Financial
//! abuse" = "" }` leaves the category empty; not for `record_kind`, which
//! every row needs). `format` (a chrono format) is accepted by
//! `event_date` and `event_hour` (the hour of a date-time or time column).
//! Map values, fixed values and `otherwise` are checked against Concord's
//! vocabulary when the mapping is loaded.
//!
//! The mapping is refused when an identifier column is also mapped to an
//! event field or as the record id (that would send it to the broker),
//! when more than one age source is given, or when a file of emergency
//! department attendances maps identifiers (ISTV: no person tokens; a date
//! of birth may still be mapped for `age_band_from_date_of_birth`).
//!
//! This is `examples/police.mapping.toml`:
//!
#![doc = "```toml"]
#![doc = include_str!("../examples/police.mapping.toml")]
#![doc = "```"]
//!
//! # Reading an export
//!
//! [`read_extract`] reads a CSV export (UTF-8, a header row naming the
//! columns; a leading byte-order mark is ignored; columns the mapping does
//! not name are ignored, whatever they hold). Every column the mapping
//! names must be in the header, once, else [`AgentError::MissingColumn`]
//! or [`AgentError::Header`] for the whole file. Then, per row:
//!
//! * Each mapped cell is trimmed and turned into its field; a bad value is a
//!   [`RowError`] naming the line (1-based, the header is line 1; a quoted
//!   cell spanning lines counts from the row's first line), the column and
//!   the reason. The record id and the event date are required; a record
//!   id repeated in the file is an error (`source_ref` is unique per
//!   extract); with [`ReadOptions::period`], event dates must lie in it.
//! * **Identifiers** that are placeholders or invalid (UNKNOWN, 1900-01-01,
//!   ZZ99 3VZ, an NHS number failing its check digit, …) are *not* row
//!   errors: the identifier is dropped, counted in
//!   [`AgentOutput::rejection_counts`] by reason, and the row keeps its
//!   other tokens. Identifier data quality is the agency's to improve over
//!   time; it must not block a night's extract.
//! * **A person-level row that yields no token at all is a row error**
//!   (every record kind except `ed_attendance` is person-level, when the
//!   mapping maps any identifier): such a record could never be linked,
//!   so it would silently deflate the partnership's counts of people and
//!   of people known to several agencies. Where a file legitimately holds
//!   rows about unidentified people (a crime whose suspect is unknown),
//!   [`ReadOptions::keep_untokenised_rows`] keeps them as records without
//!   tokens, counted in [`AgentOutput::untokenised`].
//! * `ed_attendance` rows never carry tokens (ISTV): their identifiers are
//!   not read, except a date of birth for the age band.
//!
//! * **A column that fails as a whole stops the export.** The reader tallies
//!   per identifier column how many values failed validation (placeholders
//!   are not failures) and, for the date of birth, which common layout its
//!   values read in ([`ColumnQuality`]); [`ColumnQuality::problems`] names
//!   every column failing on more than a share of rows (5% by default),
//!   with the layout it looks like and the mapping line that reads it
//!   (`date_of_birth_format = "%m/%d/%Y"`). `concord push` and `concord
//!   tokenise` send and write nothing then.
//!
//! A row with any error produces no record. [`read_extract`] reads the
//! whole file and reports every error (the first
//! [`ReadOptions::max_row_errors`], all counted); an extract is accepted
//! whole or not at all, so the caller sends nothing unless
//! [`AgentOutput::is_clean`].
//!
//! [`write_token_csv`] does the same reading, streaming, and writes the
//! token CSV that `concord push --tokens` reads: the columns
//! [`token_csv_header`] lists (`source_ref`, `kind`, …, `site_code`, then
//! `tok_<key>` for every key of `mk2`, `mk1`'s thirteen first; a
//! multi-token key's tokens share its cell, joined by `;`).

#![forbid(unsafe_code)]

mod mapping;
mod quality;
mod read;
mod token_csv;

pub use mapping::{IdentifierColumns, Mapping};
pub use quality::{ColumnProblem, ColumnQuality, DEFAULT_MAX_INVALID_SHARE, DateLayouts};
pub use read::{AgentOutput, ReadOptions, RowError, read_extract, source_ref};
pub use token_csv::{
    TOKEN_CSV_FIXED_COLUMNS, TokenCsvSummary, token_csv_header, token_csv_row, write_token_csv,
};

/// Why an export or a mapping cannot be used at all (problems with single
/// rows are [`RowError`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The mapping file is not valid; `what` names it (a path).
    #[error("mapping {what}: {reason}")]
    Mapping { what: String, reason: String },
    /// A column the mapping names is not in the export's header.
    #[error(
        "the export has no column {column:?} (named by the mapping's {field}); check the header row or the mapping"
    )]
    MissingColumn { column: String, field: String },
    /// The header row is missing or unusable.
    #[error("the export's header row: {0}")]
    Header(String),
    /// Reading the export failed.
    #[error("reading the export failed")]
    Io(#[source] std::io::Error),
    /// Writing the token CSV failed.
    #[error("writing the token CSV failed")]
    Write(#[source] std::io::Error),
}
