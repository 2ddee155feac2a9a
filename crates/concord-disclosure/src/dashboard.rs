//! The partnership board's dashboard (DESIGN §5): its panels, what each
//! counts, and the domain types a renderer draws (`Dashboard`, `Panel`,
//! `PanelKind`). Renderers use only these types and [`Dimension::label`]:
//! every figure in a [`Panel`] is already protected.

use chrono::{Datelike, NaiveDate};
use concord_core::{RecordKind, Source, ViolenceCategory, Weapon};

use crate::{
    Dimension, DisclosureError, FactSet, Measure, ProtectedTable, RawTable, Rule, Selection,
    count::Query, dims::month_key, protect::protect,
};

/// How a panel is best drawn (a hint: a renderer may always fall back to
/// a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PanelKind {
    /// Bars, one per row (first dimension); one series per measure.
    Bar,
    /// A line over time (the `Month` dimension); with two dimensions the
    /// first (`Indicator`) names the series.
    Line,
    /// The borough's 18 wards: a ward map or a ward table.
    WardMapTable,
    /// A plain table.
    Table,
}

impl PanelKind {
    /// `bar`, `line`, `ward_map_table`, `table`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PanelKind::Bar => "bar",
            PanelKind::Line => "line",
            PanelKind::WardMapTable => "ward_map_table",
            PanelKind::Table => "table",
        }
    }

    /// The kind named by [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<PanelKind> {
        [
            PanelKind::Bar,
            PanelKind::Line,
            PanelKind::WardMapTable,
            PanelKind::Table,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One panel of the dashboard, protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// Stable id (`ho_measures`, `sv_by_ward`, ...; see [`PANELS`]).
    pub id: String,
    pub title: String,
    /// What is counted, in a sentence or two, for the reader.
    pub description: String,
    pub kind: PanelKind,
    pub table: ProtectedTable,
}

/// The board's dashboard for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// The period as asked (`2026`, `2026-03`).
    pub period: String,
    /// The period for a reader (`Calendar year 2026`, `March 2026`).
    pub period_label: String,
    /// Every panel of [`PANELS`], in that order.
    pub panels: Vec<Panel>,
}

impl Dashboard {
    /// The panel with this id.
    pub fn panel(&self, id: &str) -> Option<&Panel> {
        self.panels.iter().find(|p| p.id == id)
    }
}

/// The kinds of period the Serious Violence Duty's reporting uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    /// A calendar month: `2026-10`.
    Month,
    /// A calendar quarter: `2026-Q1` (January to March).
    Quarter,
    /// A financial year, April to March, the Duty's reporting year:
    /// `2025-26` (2025-04-01 to 2026-03-31).
    FinancialYear,
    /// A calendar year: `2026`.
    CalendarYear,
    /// The twelve months ending with a month: `12m-2026-10` (November
    /// 2025 to October 2026).
    Rolling12,
}

impl PeriodKind {
    /// Every kind, shortest first.
    pub const ALL: [PeriodKind; 5] = [
        PeriodKind::Month,
        PeriodKind::Quarter,
        PeriodKind::Rolling12,
        PeriodKind::FinancialYear,
        PeriodKind::CalendarYear,
    ];
}

/// A dashboard period: its label as asked and parsed back (`2026-10`,
/// `2026-Q1`, `2025-26`, `2026`, `12m-2026-10`), its kind, and its first
/// and last days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardPeriod {
    pub label: String,
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DashboardPeriod {
    /// Parses `YYYY-MM` (a month), `YYYY-Qn` (a quarter), `YYYY-YY` with
    /// `YY` the next year's last two digits (a financial year: `2025-26`),
    /// `YYYY` (a calendar year) or `12m-YYYY-MM` (the twelve months ending
    /// with that month). `2011-12` is December 2011: a month wins where
    /// both readings exist (only for years up to 2011).
    pub fn parse(s: &str) -> Result<DashboardPeriod, DisclosureError> {
        let bad = || DisclosureError::BadPeriod;
        let year = |y: &str| -> Result<i32, DisclosureError> {
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) {
                y.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad);
        let (kind, start, end) = if let Some(rest) = s.strip_prefix("12m-") {
            let last = crate::dims::parse_month(rest).ok_or_else(bad)?;
            if rest.len() != 7 {
                return Err(bad());
            }
            let start = last
                .checked_sub_months(chrono::Months::new(11))
                .ok_or_else(bad)?;
            (
                PeriodKind::Rolling12,
                start,
                last_of_month(last).ok_or_else(bad)?,
            )
        } else if s.len() == 4 {
            let y = year(s)?;
            (PeriodKind::CalendarYear, ymd(y, 1, 1)?, ymd(y, 12, 31)?)
        } else if let Some((y, q)) = s.split_once("-Q") {
            let y = year(y)?;
            let q: u32 = match q {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return Err(bad()),
            };
            let start = ymd(y, 3 * q - 2, 1)?;
            let end = last_of_month(ymd(y, 3 * q, 1)?).ok_or_else(bad)?;
            (PeriodKind::Quarter, start, end)
        } else {
            let (y, tail) = s.split_once('-').ok_or_else(bad)?;
            let y = year(y)?;
            if tail.len() != 2 || !tail.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u32 = tail.parse().map_err(|_| bad())?;
            if (1..=12).contains(&n) {
                let start = ymd(y, n, 1)?;
                (
                    PeriodKind::Month,
                    start,
                    last_of_month(start).ok_or_else(bad)?,
                )
            } else if n == ((y + 1) % 100) as u32 {
                (PeriodKind::FinancialYear, ymd(y, 4, 1)?, ymd(y + 1, 3, 31)?)
            } else {
                return Err(bad());
            }
        };
        Ok(DashboardPeriod {
            label: s.to_owned(),
            kind,
            start,
            end,
        })
    }

    /// The period of `kind` that contains (or, for rolling twelve months,
    /// ends with) the month of `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> DashboardPeriod {
        let (y, m) = (day.year(), day.month());
        let label = match kind {
            PeriodKind::Month => format!("{y:04}-{m:02}"),
            PeriodKind::Quarter => format!("{y:04}-Q{}", (m - 1) / 3 + 1),
            PeriodKind::FinancialYear => {
                let first = if m >= 4 { y } else { y - 1 };
                format!("{first:04}-{:02}", (first + 1) % 100)
            }
            PeriodKind::CalendarYear => format!("{y:04}"),
            PeriodKind::Rolling12 => format!("12m-{y:04}-{m:02}"),
        };
        DashboardPeriod::parse(&label).expect("a label built from a date parses")
    }

    /// The latest period of `kind` that ends on or before `today` and whose
    /// every month `complete` says is complete (every expected source
    /// supplied it), looking back at most ten years; `None` if there is
    /// none.
    pub fn latest_complete(
        kind: PeriodKind,
        today: NaiveDate,
        complete: impl Fn(&str) -> bool,
    ) -> Option<DashboardPeriod> {
        let mut day = today;
        for _ in 0..120 {
            let p = DashboardPeriod::containing(kind, day);
            if p.end < today && p.months().iter().all(|m| complete(m)) {
                return Some(p);
            }
            // Rolling periods step back a month at a time, the others a
            // whole period.
            day = match kind {
                PeriodKind::Rolling12 => p.end.with_day(1)?.pred_opt()?,
                _ => p.start.pred_opt()?,
            };
        }
        None
    }

    /// Whether the period is a whole calendar year.
    pub fn is_year(&self) -> bool {
        self.kind == PeriodKind::CalendarYear
    }

    /// The same period a year earlier.
    pub fn previous_year(&self) -> Option<DashboardPeriod> {
        let day = self.end.checked_sub_months(chrono::Months::new(12))?;
        Some(DashboardPeriod::containing(self.kind, day))
    }

    /// `October 2026`, `January to March 2026`, `Financial year 2025-26
    /// (April 2025 to March 2026)`, `Calendar year 2026`, `12 months to
    /// October 2026`.
    pub fn reader_label(&self) -> String {
        match self.kind {
            PeriodKind::Month => self.start.format("%B %Y").to_string(),
            PeriodKind::Quarter => format!(
                "{} to {}",
                self.start.format("%B"),
                self.end.format("%B %Y")
            ),
            PeriodKind::FinancialYear => format!(
                "Financial year {} ({} to {})",
                self.label,
                self.start.format("%B %Y"),
                self.end.format("%B %Y")
            ),
            PeriodKind::CalendarYear => format!("Calendar year {}", self.label),
            PeriodKind::Rolling12 => format!("12 months to {}", self.end.format("%B %Y")),
        }
    }

    /// The `YYYY-MM` keys of the period's months.
    pub fn months(&self) -> Vec<String> {
        months_between(self.start, self.end)
    }
}

/// The `YYYY-MM` keys of the months from `start`'s to `end`'s.
pub fn months_between(start: NaiveDate, end: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = start.with_day(1).unwrap_or(start);
    while d <= end {
        out.push(month_key(d));
        match d.checked_add_months(chrono::Months::new(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

fn last_of_month(first: NaiveDate) -> Option<NaiveDate> {
    first.checked_add_months(chrono::Months::new(1))?.pred_opt()
}

/// A dashboard indicator: a named, fixed selection of records.
#[derive(Debug, Clone, Copy)]
pub struct Indicator {
    pub id: &'static str,
    pub label: &'static str,
    pub selection: Selection,
}

/// The offences of the Home Office's serious violence measures when
/// committed with a knife or sharp object.
pub const SERIOUS_CATEGORIES: &[ViolenceCategory] = &[
    ViolenceCategory::Homicide,
    ViolenceCategory::Gbh,
    ViolenceCategory::Abh,
    ViolenceCategory::Rape,
    ViolenceCategory::AssaultByPenetration,
    ViolenceCategory::SexualAssault,
    ViolenceCategory::Robbery,
    ViolenceCategory::ThreatsToKill,
];

const POLICE_CRIME: Selection = Selection {
    sources: &[Source::Police],
    kinds: &[RecordKind::Crime],
    ..Selection::ANY
};

/// Police recorded crimes with a serious-violence category.
pub const SERIOUS_VIOLENCE: Selection = Selection {
    category_recorded: true,
    ..POLICE_CRIME
};

/// Emergency department attendances for assault (the ISTV data set).
pub const ED_ASSAULTS: Selection = Selection {
    sources: &[Source::Health],
    kinds: &[RecordKind::EdAttendance],
    ..Selection::ANY
};

/// Every indicator a panel uses.
pub const INDICATORS: &[Indicator] = &[
    Indicator {
        id: "sharp_object_admissions",
        label: "Hospital attendances for assault with a sharp object",
        selection: Selection {
            weapons: &[Weapon::KnifeSharp],
            ..ED_ASSAULTS
        },
    },
    Indicator {
        id: "knife_serious_violence",
        label: "Knife or sharp object enabled serious violence",
        selection: Selection {
            categories: SERIOUS_CATEGORIES,
            weapons: &[Weapon::KnifeSharp],
            ..POLICE_CRIME
        },
    },
    Indicator {
        id: "non_domestic_homicide",
        label: "Homicides not related to domestic abuse",
        selection: Selection {
            categories: &[ViolenceCategory::Homicide],
            domestic: Some(false),
            ..POLICE_CRIME
        },
    },
    Indicator {
        id: "serious_violence",
        label: "Serious violence recorded by the police",
        selection: SERIOUS_VIOLENCE,
    },
    Indicator {
        id: "police_domestic_abuse",
        label: "Domestic abuse recorded by the police",
        selection: Selection {
            domestic: Some(true),
            ..POLICE_CRIME
        },
    },
    Indicator {
        id: "marac_cases",
        label: "Cases heard at MARAC",
        selection: Selection {
            kinds: &[RecordKind::MaracCase],
            ..Selection::ANY
        },
    },
];

/// The label of an indicator id.
pub fn indicator_label(id: &str) -> Option<&'static str> {
    indicator(id).map(|i| i.label)
}

fn indicator(id: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.id == id)
}

/// Where a panel's rows come from.
#[derive(Debug, Clone, Copy)]
pub enum PanelRows {
    /// One selection grouped by the panel's dimensions.
    Grouped(Selection),
    /// `Indicator` first, then the panel's other dimensions: each
    /// indicator's selection.
    Indicators(&'static [&'static str]),
    /// `Indicator` × `Period`: each indicator for the period a year
    /// earlier and for the period.
    YearOnYear(&'static [&'static str]),
}

/// A panel's definition.
#[derive(Debug, Clone, Copy)]
pub struct PanelDef {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub kind: PanelKind,
    pub group_by: &'static [Dimension],
    pub measures: &'static [Measure],
    pub rows: PanelRows,
}

const HO: &[&str] = &[
    "sharp_object_admissions",
    "knife_serious_violence",
    "non_domestic_homicide",
];

/// The dashboard, panel by panel, in display order.
pub const PANELS: &[PanelDef] = &[
    PanelDef {
        id: "ho_measures",
        title: "Home Office violence reduction measures",
        description: "Hospital attendances for assault with a knife or sharp object (emergency \
             department data), knife or sharp object enabled serious violence recorded by the \
             police, and homicides not related to domestic abuse: all ages and under 25.",
        kind: PanelKind::Table,
        group_by: &[Dimension::Indicator],
        measures: &[Measure::Records, Measure::RecordsUnder25],
        rows: PanelRows::Indicators(HO),
    },
    PanelDef {
        id: "sv_by_category",
        title: "Serious violence by category",
        description: "Police recorded crimes in a serious violence category.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::Category],
        measures: &[Measure::Records],
        rows: PanelRows::Grouped(SERIOUS_VIOLENCE),
    },
    PanelDef {
        id: "sv_by_month",
        title: "Serious violence by month",
        description: "Police recorded serious violence each month: all ages and under 25.",
        kind: PanelKind::Line,
        group_by: &[Dimension::Month],
        measures: &[Measure::Records, Measure::RecordsUnder25],
        rows: PanelRows::Grouped(SERIOUS_VIOLENCE),
    },
    PanelDef {
        id: "sv_by_ward",
        title: "Serious violence by ward",
        description: "Police recorded serious violence in each of the borough's 18 wards: all \
             ages and under 25.",
        kind: PanelKind::WardMapTable,
        group_by: &[Dimension::Ward],
        measures: &[Measure::Records, Measure::RecordsUnder25],
        rows: PanelRows::Grouped(SERIOUS_VIOLENCE),
    },
    PanelDef {
        id: "domestic_abuse_marac",
        title: "Domestic abuse and MARAC",
        description: "Domestic abuse recorded by the police, and cases heard at the \
             multi-agency risk assessment conference, each month.",
        kind: PanelKind::Line,
        group_by: &[Dimension::Indicator, Dimension::Month],
        measures: &[Measure::Records],
        rows: PanelRows::Indicators(&["police_domestic_abuse", "marac_cases"]),
    },
    PanelDef {
        id: "youth_violence",
        title: "Youth violence",
        description: "Records of people under 25 involved in violence, by agency: records, the \
             people they concern, and victims under 25.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::Source],
        measures: &[
            Measure::Records,
            Measure::DistinctPeople,
            Measure::VictimsUnder25,
        ],
        rows: PanelRows::Grouped(Selection {
            under_25: Some(true),
            ..Selection::ANY
        }),
    },
    PanelDef {
        id: "ed_by_hour",
        title: "Emergency department assaults by hour",
        description: "Attendances for assault by the hour of the assault.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::Hour],
        measures: &[Measure::Records],
        rows: PanelRows::Grouped(ED_ASSAULTS),
    },
    PanelDef {
        id: "ed_by_day",
        title: "Emergency department assaults by day of the week",
        description: "Attendances for assault by the day of the assault.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::DayOfWeek],
        measures: &[Measure::Records],
        rows: PanelRows::Grouped(ED_ASSAULTS),
    },
    PanelDef {
        id: "ed_by_location",
        title: "Emergency department assaults by location",
        description: "Attendances for assault by the type of place where it happened.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::LocationType],
        measures: &[Measure::Records],
        rows: PanelRows::Grouped(ED_ASSAULTS),
    },
    PanelDef {
        id: "ed_by_weapon",
        title: "Emergency department assaults by weapon",
        description: "Attendances for assault by the method of assault.",
        kind: PanelKind::Bar,
        group_by: &[Dimension::Weapon],
        measures: &[Measure::Records],
        rows: PanelRows::Grouped(ED_ASSAULTS),
    },
    PanelDef {
        id: "agency_overlap",
        title: "People known to more than one agency",
        description: "For each agency, the linked people it recorded in the period, those \
             also known to another agency in the period, and repeat victims (two victim \
             records within 12 months). A person known to several agencies appears in \
             several rows.",
        kind: PanelKind::Table,
        group_by: &[Dimension::Source],
        measures: &[
            Measure::DistinctPeople,
            Measure::MultiAgencyPeople,
            Measure::RepeatVictims,
        ],
        rows: PanelRows::Grouped(Selection::ANY),
    },
    PanelDef {
        id: "people",
        title: "People across the partnership",
        description: "Linked people recorded by any agency in the period, those known to two or \
             more agencies, repeat victims, and victims under 25.",
        kind: PanelKind::Table,
        group_by: &[],
        measures: &[
            Measure::DistinctPeople,
            Measure::MultiAgencyPeople,
            Measure::RepeatVictims,
            Measure::VictimsUnder25,
        ],
        rows: PanelRows::Grouped(Selection::ANY),
    },
    PanelDef {
        id: "year_on_year",
        title: "Change on the same period a year earlier",
        description: "Each measure for the same period a year earlier and for this period.",
        kind: PanelKind::Table,
        group_by: &[Dimension::Indicator, Dimension::Period],
        measures: &[Measure::Records],
        rows: PanelRows::YearOnYear(&[
            "serious_violence",
            "knife_serious_violence",
            "sharp_object_admissions",
            "non_domestic_homicide",
            "police_domestic_abuse",
            "marac_cases",
        ]),
    },
];

impl PanelDef {
    /// The panel's raw counts for `period`.
    pub fn count(&self, facts: &FactSet, period: &DashboardPeriod) -> RawTable {
        let months = period.months();
        let fields: Vec<Dimension> = self
            .group_by
            .iter()
            .copied()
            .filter(|d| d.is_record_field())
            .collect();
        let run = |sel: &Selection, start: NaiveDate, end: NaiveDate, months: &[String]| {
            facts.count(&Query {
                group_by: &fields,
                measures: self.measures,
                start,
                end,
                selection: sel,
                months,
                filters: &[],
            })
        };
        match self.rows {
            PanelRows::Grouped(sel) => run(&sel, period.start, period.end, &months),
            PanelRows::Indicators(ids) => {
                let parts = ids.iter().map(|id| {
                    let sel = indicator(id)
                        .expect("panel names a known indicator")
                        .selection;
                    (
                        vec![(*id).to_owned()],
                        run(&sel, period.start, period.end, &months),
                    )
                });
                stack(self.group_by, self.measures, parts)
            }
            PanelRows::YearOnYear(ids) => {
                let mut periods = Vec::new();
                if let Some(prev) = period.previous_year() {
                    periods.push(prev);
                }
                periods.push(period.clone());
                let parts = ids.iter().flat_map(|id| {
                    let sel = indicator(id)
                        .expect("panel names a known indicator")
                        .selection;
                    periods.iter().map(move |p| {
                        let m = p.months();
                        (
                            vec![(*id).to_owned(), p.label.clone()],
                            run(&sel, p.start, p.end, &m),
                        )
                    })
                });
                stack(self.group_by, self.measures, parts.collect::<Vec<_>>())
            }
        }
    }

    /// The panel, protected with `rule`.
    pub fn build(&self, facts: &FactSet, period: &DashboardPeriod, rule: Rule) -> Panel {
        Panel {
            id: self.id.to_owned(),
            title: self.title.to_owned(),
            description: self.description.to_owned(),
            kind: self.kind,
            table: protect(&self.count(facts, period), rule),
        }
    }
}

/// Joins tables counted for each key prefix (indicator, period) into one
/// table whose first dimensions are the prefix.
fn stack(
    group_by: &[Dimension],
    measures: &[Measure],
    parts: impl IntoIterator<Item = (Vec<String>, RawTable)>,
) -> RawTable {
    let mut rows = Vec::new();
    for (prefix, t) in parts {
        for (keys, counts) in t.rows {
            let mut k = prefix.clone();
            k.extend(keys);
            rows.push((k, counts));
        }
    }
    RawTable {
        group_by: group_by.to_vec(),
        measures: measures.to_vec(),
        rows,
        // Rows of different indicators (or periods) are unlike things:
        // adding them up would mean nothing.
        total: None,
    }
}

/// The whole dashboard for `period`, every panel protected with `rule`.
/// Panels are counted on up to as many threads as the machine has cores
/// (each a pass over the period's facts); the result does not depend on
/// how many.
pub fn build_dashboard(facts: &FactSet, period: &DashboardPeriod, rule: Rule) -> Dashboard {
    let threads = std::env::var("XT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2)
        .min(
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .clamp(1, PANELS.len()),
        );
    // Each thread takes the next panel not yet taken.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut panels: Vec<(usize, Panel)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(def) = PANELS.get(i) else {
                            return done;
                        };
                        done.push((i, def.build(facts, period, rule)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a panel's counting does not panic"))
            .collect()
    });
    panels.sort_by_key(|(i, _)| *i);
    Dashboard {
        period: period.label.clone(),
        period_label: period.reader_label(),
        panels: panels.into_iter().map(|(_, p)| p).collect(),
    }
}

/// The definition of the panel with this id.
pub fn panel_def(id: &str) -> Option<&'static PanelDef> {
    PANELS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn bounds(s: &str) -> (PeriodKind, NaiveDate, NaiveDate) {
        let p = DashboardPeriod::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (p.kind, p.start, p.end)
    }

    #[test]
    fn each_period_kind_parses_and_bounds() {
        assert_eq!(
            bounds("2025-26"),
            (PeriodKind::FinancialYear, d(2025, 4, 1), d(2026, 3, 31))
        );
        assert_eq!(
            bounds("1999-00"),
            (PeriodKind::FinancialYear, d(1999, 4, 1), d(2000, 3, 31))
        );
        assert_eq!(
            bounds("2026-10"),
            (PeriodKind::Month, d(2026, 10, 1), d(2026, 10, 31))
        );
        assert_eq!(
            bounds("2028-02"),
            (PeriodKind::Month, d(2028, 2, 1), d(2028, 2, 29))
        );
        assert_eq!(
            bounds("2026-Q1"),
            (PeriodKind::Quarter, d(2026, 1, 1), d(2026, 3, 31))
        );
        assert_eq!(
            bounds("2026-Q4"),
            (PeriodKind::Quarter, d(2026, 10, 1), d(2026, 12, 31))
        );
        assert_eq!(
            bounds("2026"),
            (PeriodKind::CalendarYear, d(2026, 1, 1), d(2026, 12, 31))
        );
        assert_eq!(
            bounds("12m-2026-10"),
            (PeriodKind::Rolling12, d(2025, 11, 1), d(2026, 10, 31))
        );
        assert_eq!(bounds("12m-2026-12").1, d(2026, 1, 1));
        // A month wins where both readings exist.
        assert_eq!(bounds("2011-12").0, PeriodKind::Month);
        for bad in [
            "",
            "2026-13",
            "2026-00",
            "2025-27",
            "2025-2026",
            "2026-Q0",
            "2026-Q5",
            "26-27",
            "12m-2026",
            "12m-2026-13",
            "2026-1",
            "+202-10",
            "2026-10-01",
            "FY2025",
        ] {
            assert!(DashboardPeriod::parse(bad).is_err(), "{bad:?}");
        }
        for p in ["2025-26", "2026-Q3", "12m-2026-10", "2026", "2026-10"] {
            let parsed = DashboardPeriod::parse(p).unwrap();
            assert!(parsed.months().len() <= 12, "{p}");
            assert_eq!(
                DashboardPeriod::containing(parsed.kind, parsed.end),
                parsed,
                "{p} round-trips"
            );
        }
    }

    #[test]
    fn labels_and_the_same_period_a_year_earlier() {
        let fy = DashboardPeriod::parse("2025-26").unwrap();
        assert_eq!(
            fy.reader_label(),
            "Financial year 2025-26 (April 2025 to March 2026)"
        );
        assert_eq!(fy.previous_year().unwrap().label, "2024-25");
        let q = DashboardPeriod::parse("2026-Q2").unwrap();
        assert_eq!(q.reader_label(), "April to June 2026");
        assert_eq!(q.previous_year().unwrap().label, "2025-Q2");
        let r = DashboardPeriod::parse("12m-2026-10").unwrap();
        assert_eq!(r.reader_label(), "12 months to October 2026");
        assert_eq!(r.previous_year().unwrap().label, "12m-2025-10");
        assert_eq!(
            DashboardPeriod::parse("2026-10")
                .unwrap()
                .previous_year()
                .unwrap()
                .label,
            "2025-10"
        );
        assert_eq!(
            DashboardPeriod::parse("2026")
                .unwrap()
                .previous_year()
                .unwrap()
                .label,
            "2025"
        );
        assert_eq!(
            DashboardPeriod::containing(PeriodKind::FinancialYear, d(2026, 3, 31)).label,
            "2025-26"
        );
        assert_eq!(
            DashboardPeriod::containing(PeriodKind::FinancialYear, d(2026, 4, 1)).label,
            "2026-27"
        );
    }

    #[test]
    fn the_default_is_the_latest_period_with_complete_coverage() {
        let today = d(2026, 11, 3);
        // Every month up to September 2026 is complete; October is not.
        let complete = |m: &str| m <= "2026-09";
        let latest = |k| {
            DashboardPeriod::latest_complete(k, today, complete)
                .unwrap()
                .label
        };
        assert_eq!(
            latest(PeriodKind::Month),
            "2026-09",
            "October lacks a source"
        );
        assert_eq!(latest(PeriodKind::Quarter), "2026-Q3");
        assert_eq!(latest(PeriodKind::FinancialYear), "2025-26");
        assert_eq!(latest(PeriodKind::CalendarYear), "2025");
        assert_eq!(latest(PeriodKind::Rolling12), "12m-2026-09");
        // With October complete too, the month is October (it has ended);
        // November has not.
        let all = |_: &str| true;
        assert_eq!(
            DashboardPeriod::latest_complete(PeriodKind::Month, today, all)
                .unwrap()
                .label,
            "2026-10"
        );
        // A gap in March 2026 moves the financial year back.
        let gap = |m: &str| m != "2026-03";
        assert_eq!(
            DashboardPeriod::latest_complete(PeriodKind::FinancialYear, today, gap)
                .unwrap()
                .label,
            "2024-25"
        );
        assert!(DashboardPeriod::latest_complete(PeriodKind::Month, today, |_| false).is_none());
    }
}
