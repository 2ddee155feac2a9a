//! The Royal Borough of Kensington and Chelsea: its 18 wards, their
//! postcode sectors and LSOAs.
//!
//! Ward names and ONS GSS codes are those of the 2014 boundaries
//! (E05009388–E05009405), which are still the wards in force: the 2022
//! borough elections were fought on them. The postcode sectors per ward are
//! approximate (a ward's main sectors; real sectors straddle wards). The
//! LSOA codes are plausible codes in RBKC's `E01002xxx` range, six per
//! ward and consecutive: the real LSOA-to-ward best-fit lookup differs.

/// A ward: GSS code, name, postcode sectors (district and sector digit).
pub struct Ward {
    pub code: &'static str,
    pub name: &'static str,
    pub sectors: &'static [(&'static str, u8)],
}

pub const WARDS: &[Ward] = &[
    Ward {
        code: "E05009388",
        name: "Abingdon",
        sectors: &[("W8", 5), ("W8", 6)],
    },
    Ward {
        code: "E05009389",
        name: "Brompton & Hans Town",
        sectors: &[("SW3", 1), ("SW3", 2)],
    },
    Ward {
        code: "E05009390",
        name: "Campden",
        sectors: &[("W8", 4), ("W8", 7)],
    },
    Ward {
        code: "E05009391",
        name: "Chelsea Riverside",
        sectors: &[("SW10", 0), ("SW3", 5)],
    },
    Ward {
        code: "E05009392",
        name: "Colville",
        sectors: &[("W11", 1), ("W11", 2)],
    },
    Ward {
        code: "E05009393",
        name: "Courtfield",
        sectors: &[("SW5", 0), ("SW7", 4)],
    },
    Ward {
        code: "E05009394",
        name: "Dalgarno",
        sectors: &[("W10", 6)],
    },
    Ward {
        code: "E05009395",
        name: "Earl's Court",
        sectors: &[("SW5", 9)],
    },
    Ward {
        code: "E05009396",
        name: "Golborne",
        sectors: &[("W10", 5)],
    },
    Ward {
        code: "E05009397",
        name: "Holland",
        sectors: &[("W14", 8), ("W8", 6)],
    },
    Ward {
        code: "E05009398",
        name: "Norland",
        sectors: &[("W11", 4)],
    },
    Ward {
        code: "E05009399",
        name: "Notting Dale",
        sectors: &[("W11", 4), ("W10", 6)],
    },
    Ward {
        code: "E05009400",
        name: "Pembridge",
        sectors: &[("W11", 3)],
    },
    Ward {
        code: "E05009401",
        name: "Queen's Gate",
        sectors: &[("SW7", 5), ("SW7", 2)],
    },
    Ward {
        code: "E05009402",
        name: "Redcliffe",
        sectors: &[("SW10", 9)],
    },
    Ward {
        code: "E05009403",
        name: "Royal Hospital",
        sectors: &[("SW3", 4)],
    },
    Ward {
        code: "E05009404",
        name: "St Helen's",
        sectors: &[("W10", 6)],
    },
    Ward {
        code: "E05009405",
        name: "Stanley",
        sectors: &[("SW3", 6), ("SW10", 0)],
    },
];

/// LSOAs per ward.
pub const LSOAS_PER_WARD: usize = 6;

/// The `i`-th LSOA code of ward `w` (see the module doc).
pub fn lsoa(w: usize, i: usize) -> String {
    format!("E0100{}", 2813 + w * LSOAS_PER_WARD + i % LSOAS_PER_WARD)
}

/// Letters allowed in the inward code's last two places.
pub(crate) const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// The emergency departments serving the borough (ODS site codes of the
/// Chelsea and Westminster and St Mary's sites).
pub const ED_SITES: &[&str] = &["RQM01", "RYJ02"];
