//! The board's dashboard as HTML (DESIGN §5): the same panels for the web
//! page the broker serves ([`dashboard_page`]) and for the self-contained
//! report `concord report` writes ([`report`]).
//!
//! Pure rendering, no I/O: a [`concord_disclosure::Dashboard`] (figures
//! already disclosure-controlled by the broker) in, one HTML string out.
//! Every panel is a `<section>` with a chart, an inline SVG inside a
//! `<figure>` with a `<figcaption>`, followed by a `<table>` of the same
//! figures (`<caption>`, `<th scope>`), which is also what screen readers
//! and printouts rely on. A month dimension becomes a line chart, any
//! other a bar chart; the ward breakdown lists all 18 wards.
//!
//! A suppressed cell is shown as [`SUPPRESSED`] everywhere (table, chart,
//! totals), explained by a legend at the top of the page; it is never
//! drawn as a bar or a number. The legend says in one sentence
//! ([`ADD_UP`]) what a reader may and may not add up. The page needs no script, no font and no
//! network: one inline stylesheet ([`STYLESHEET`], also for print) and
//! inline SVG.

#![forbid(unsafe_code)]

mod html;
mod page;
mod svg;

pub use page::{ADD_UP, PageContext, Viewer, dashboard_page, notice_page, report, sign_in_page};
pub use svg::PALETTE;

/// The marker a suppressed value is shown as.
pub const SUPPRESSED: &str = "[c]";

/// The one stylesheet, inline in every page (the web server allows it by
/// its hash in the Content Security Policy).
pub const STYLESHEET: &str = include_str!("style.css");

/// A released figure as the renderer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    Suppressed,
    Released(u64),
    /// No row for this combination of keys: shown as a dash, never as 0.
    Missing,
}

impl From<concord_disclosure::ProtectedValue> for Cell {
    fn from(v: concord_disclosure::ProtectedValue) -> Cell {
        match v {
            concord_disclosure::ProtectedValue::Suppressed => Cell::Suppressed,
            concord_disclosure::ProtectedValue::Released(n) => Cell::Released(n),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Suppressed => f.write_str(SUPPRESSED),
            Cell::Released(n) => write!(f, "{n}"),
            Cell::Missing => f.write_str("–"),
        }
    }
}
