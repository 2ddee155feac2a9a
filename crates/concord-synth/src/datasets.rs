//! The nine data sets of DESIGN §3, each in its agency's own vocabulary.

use chrono::{Duration, NaiveDate};
use concord_core::{PersonRole, RecordKind, Sex};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{
    SynthConfig, TruthRow,
    errors::{Holds, Observed, observe},
    geo,
    people::{Person, Profile},
};

pub use concord_core::DataSet;

/// What the synthetic population adds to [`DataSet`]: its file names, the
/// development partnership's organisation that pushes it, and its title.
pub trait DataSetSynth {
    /// File stem (the data set's stable name).
    fn name(self) -> &'static str;
    /// The partnership organisation that pushes it
    /// (`policies/data/partnership.json`).
    fn org(self) -> &'static str;
    fn title(self) -> &'static str;
}

impl DataSetSynth for DataSet {
    fn name(self) -> &'static str {
        self.as_str()
    }

    fn org(self) -> &'static str {
        match self {
            DataSet::PoliceViolentCrime => "mps-cw",
            DataSet::ChildrensDaExploitation => "rbkc-childrens",
            DataSet::YouthOffending => "rbkc-yjs",
            DataSet::AdultSafeguarding => "rbkc-adults",
            DataSet::Marac | DataSet::YouthServices => "rbkc-community-safety",
            DataSet::EdAssaults => "chelwest-nhs",
            DataSet::Housing => "rbkc-housing",
            DataSet::Probation => "hmpps-probation",
        }
    }

    fn title(self) -> &'static str {
        match self {
            DataSet::PoliceViolentCrime => "Police recorded violent crime (victims and suspects)",
            DataSet::ChildrensDaExploitation => {
                "Children's services: domestic abuse and exploitation referrals"
            }
            DataSet::YouthOffending => "Youth offending",
            DataSet::AdultSafeguarding => "Adult safeguarding concerns",
            DataSet::Marac => "MARAC cases",
            DataSet::EdAssaults => "Emergency department assaults (ISTV)",
            DataSet::YouthServices => "Community safety youth violence services",
            DataSet::Housing => "Housing management: domestic abuse, violent harm, ASB",
            DataSet::Probation => "Probation: violent offenders with OASys RoSH",
        }
    }
}

/// What a column holds, in the record's terms (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    SourceRef,
    Forename,
    Surname,
    DateOfBirth,
    Sex,
    Postcode,
    NhsNumber,
    PncId,
    EventDate,
    EventHour,
    WardCode,
    LsoaCode,
    Category,
    Weapon,
    LocationType,
    Role,
    RecordKind,
    Rosh,
    DashScore,
    Marac,
    DomesticAbuse,
    Exploitation,
    SiteCode,
    /// Kept by the agency, not sent (free text, internal codes).
    Ignore,
}

impl Meaning {
    pub const fn as_str(self) -> &'static str {
        match self {
            Meaning::SourceRef => "source_ref",
            Meaning::Forename => "forename",
            Meaning::Surname => "surname",
            Meaning::DateOfBirth => "date_of_birth",
            Meaning::Sex => "sex",
            Meaning::Postcode => "postcode",
            Meaning::NhsNumber => "nhs_number",
            Meaning::PncId => "pnc_id",
            Meaning::EventDate => "event_date",
            Meaning::EventHour => "event_hour",
            Meaning::WardCode => "ward_code",
            Meaning::LsoaCode => "lsoa_code",
            Meaning::Category => "category",
            Meaning::Weapon => "weapon",
            Meaning::LocationType => "location_type",
            Meaning::Role => "role",
            Meaning::RecordKind => "record_kind",
            Meaning::Rosh => "rosh",
            Meaning::DashScore => "dash_score",
            Meaning::Marac => "marac",
            Meaning::DomesticAbuse => "flag_domestic_abuse",
            Meaning::Exploitation => "flag_exploitation",
            Meaning::SiteCode => "site_code",
            Meaning::Ignore => "ignore",
        }
    }

    /// Whether the field is true/false (written as TOML booleans).
    pub const fn is_flag(self) -> bool {
        matches!(
            self,
            Meaning::Marac | Meaning::DomesticAbuse | Meaning::Exploitation
        )
    }

    /// Whether the column identifies a person.
    pub const fn is_identifier(self) -> bool {
        matches!(
            self,
            Meaning::Forename
                | Meaning::Surname
                | Meaning::DateOfBirth
                | Meaning::Postcode
                | Meaning::NhsNumber
                | Meaning::PncId
        )
    }
}

/// Value maps: the agency's word → the Concord vocabulary name.
pub type ValueMap = &'static [(&'static str, &'static str)];

/// One CSV column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub meaning: Meaning,
    /// chrono format of a date column.
    pub format: Option<&'static str>,
    pub values: ValueMap,
}

const fn col(name: &'static str, meaning: Meaning) -> Column {
    Column {
        name,
        meaning,
        format: None,
        values: &[],
    }
}

const fn date(name: &'static str, meaning: Meaning, format: &'static str) -> Column {
    Column {
        name,
        meaning,
        format: Some(format),
        values: &[],
    }
}

const fn map(name: &'static str, meaning: Meaning, values: ValueMap) -> Column {
    Column {
        name,
        meaning,
        format: None,
        values,
    }
}

/// One agency's extract: its columns, rows (strings as written to CSV),
/// and the record kind and role when they are the same for every row.
#[derive(Debug, Clone)]
pub struct Table {
    pub data_set: DataSet,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    pub record_kind: Option<RecordKind>,
    pub role: Option<PersonRole>,
    /// Fields with one value for the whole file: (field, TOML value).
    pub fixed: Vec<(&'static str, &'static str)>,
}

impl Table {
    /// Index of the first column with this meaning.
    pub fn column(&self, m: Meaning) -> Option<usize> {
        self.columns.iter().position(|c| c.meaning == m)
    }
}

// ---- vocabularies -------------------------------------------------------

const YES_NO: ValueMap = &[("Y", "true"), ("N", "false")];
const SEX_MF: ValueMap = &[("M", "male"), ("F", "female"), ("X", "other")];
const SEX_WORD: ValueMap = &[("Male", "male"), ("Female", "female"), ("Other", "other")];

/// (police offence type, category, weight)
const POLICE_OFFENCES: &[(&str, &str, f64)] = &[
    ("Common assault", "other_violence", 30.0),
    ("Assault occasioning ABH", "abh", 25.0),
    ("Wounding/GBH", "gbh", 8.0),
    ("GBH with intent", "gbh", 3.0),
    ("Robbery of personal property", "robbery", 12.0),
    ("Threats to kill", "threats_to_kill", 4.0),
    ("Sexual assault", "sexual_assault", 5.0),
    ("Rape", "rape", 3.0),
    ("Assault by penetration", "assault_by_penetration", 1.0),
    ("Possession of knife/blade", "weapon_possession", 6.0),
    ("Murder", "homicide", 0.2),
];
const POLICE_OFFENCE_MAP: ValueMap = &[
    ("Common assault", "other_violence"),
    ("Assault occasioning ABH", "abh"),
    ("Wounding/GBH", "gbh"),
    ("GBH with intent", "gbh"),
    ("Robbery of personal property", "robbery"),
    ("Threats to kill", "threats_to_kill"),
    ("Sexual assault", "sexual_assault"),
    ("Rape", "rape"),
    ("Assault by penetration", "assault_by_penetration"),
    ("Possession of knife/blade", "weapon_possession"),
    ("Murder", "homicide"),
];
/// (police weapon, weight)
const POLICE_WEAPONS: &[(&str, f64)] = &[
    ("Hands/feet", 50.0),
    ("Knife/sharp instrument", 15.0),
    ("None", 15.0),
    ("Blunt instrument", 8.0),
    ("Other", 8.0),
    ("Corrosive substance", 2.0),
    ("Firearm", 2.0),
];
const POLICE_WEAPON_MAP: ValueMap = &[
    ("Hands/feet", "body"),
    ("Knife/sharp instrument", "knife_sharp"),
    ("None", "none"),
    ("Blunt instrument", "blunt"),
    ("Other", "other"),
    ("Corrosive substance", "corrosive"),
    ("Firearm", "firearm"),
];
const POLICE_LOCATIONS: &[(&str, f64)] = &[
    ("Street", 35.0),
    ("Dwelling", 30.0),
    ("Licensed premises", 10.0),
    ("Public transport", 6.0),
    ("Shop", 5.0),
    ("Park/open space", 5.0),
    ("School", 3.0),
    ("Workplace", 3.0),
    ("Other", 3.0),
];
const POLICE_LOCATION_MAP: ValueMap = &[
    ("Street", "street"),
    ("Dwelling", "dwelling"),
    ("Licensed premises", "licensed_premises"),
    ("Public transport", "transport"),
    ("Shop", "shop"),
    ("Park/open space", "park"),
    ("School", "school"),
    ("Workplace", "workplace"),
    ("Other", "other"),
];
const POLICE_ROLE_MAP: ValueMap = &[("Victim", "victim"), ("Suspect", "suspect")];

const CS_CONCERNS: &[(&str, f64)] = &[
    ("Domestic abuse", 45.0),
    ("Child criminal exploitation", 25.0),
    ("Child sexual exploitation", 10.0),
    ("Serious youth violence", 20.0),
];
const CS_CONCERN_MAP: ValueMap = &[
    ("Domestic abuse", "domestic_abuse"),
    ("Child criminal exploitation", "exploitation"),
    ("Child sexual exploitation", "exploitation"),
    ("Serious youth violence", "other_violence"),
];

const YJS_OFFENCES: &[(&str, f64)] = &[
    ("Violence against the person", 50.0),
    ("Robbery", 20.0),
    ("Possession of offensive weapon", 20.0),
    ("Sexual offence", 5.0),
    ("Drugs supply (exploitation)", 5.0),
];
const YJS_OFFENCE_MAP: ValueMap = &[
    ("Violence against the person", "other_violence"),
    ("Robbery", "robbery"),
    ("Possession of offensive weapon", "weapon_possession"),
    ("Sexual offence", "sexual_assault"),
    ("Drugs supply (exploitation)", "exploitation"),
];
const YJS_DISPOSALS: &[(&str, f64)] = &[
    ("Referral Order", 40.0),
    ("Youth Rehabilitation Order", 30.0),
    ("Youth Caution", 20.0),
    ("Detention and Training Order", 10.0),
];

const ASC_TYPES: &[(&str, f64)] = &[
    ("Physical abuse", 35.0),
    ("Domestic abuse", 30.0),
    ("Sexual abuse", 8.0),
    ("Modern slavery/exploitation", 7.0),
    ("Financial abuse", 20.0),
];
const ASC_TYPE_MAP: ValueMap = &[
    ("Physical abuse", "other_violence"),
    ("Domestic abuse", "domestic_abuse"),
    ("Sexual abuse", "sexual_assault"),
    ("Modern slavery/exploitation", "exploitation"),
    ("Financial abuse", ""),
];

const MARAC_AGENCIES: &[(&str, f64)] = &[
    ("Police", 60.0),
    ("IDVA", 15.0),
    ("Children's Services", 10.0),
    ("Health", 10.0),
    ("Housing", 5.0),
];

const ED_METHODS: &[(&str, f64)] = &[
    ("Fist/kick/body", 55.0),
    ("Knife/blade", 12.0),
    ("Blunt object", 10.0),
    ("Glass/bottle", 8.0),
    ("Other", 8.0),
    ("Not known", 5.0),
    ("Acid/corrosive", 1.0),
    ("Gun", 1.0),
];
const ED_METHOD_MAP: ValueMap = &[
    ("Fist/kick/body", "body"),
    ("Knife/blade", "knife_sharp"),
    ("Blunt object", "blunt"),
    ("Glass/bottle", "other"),
    ("Other", "other"),
    ("Acid/corrosive", "corrosive"),
    ("Gun", "firearm"),
    ("Not known", ""),
];
const ED_LOCATIONS: &[(&str, f64)] = &[
    ("Street", 40.0),
    ("Home", 25.0),
    ("Pub/bar/club", 15.0),
    ("Public transport", 5.0),
    ("Park", 4.0),
    ("School", 3.0),
    ("Shop", 3.0),
    ("Work", 3.0),
    ("Other", 2.0),
];
const ED_LOCATION_MAP: ValueMap = &[
    ("Street", "street"),
    ("Home", "dwelling"),
    ("Pub/bar/club", "licensed_premises"),
    ("Public transport", "transport"),
    ("Park", "park"),
    ("School", "school"),
    ("Shop", "shop"),
    ("Work", "workplace"),
    ("Other", "other"),
];

const YS_PROGRAMMES: &[(&str, f64)] = &[
    ("Detached youth work", 30.0),
    ("Knife crime prevention", 25.0),
    ("Mentoring", 25.0),
    ("A&E youth worker", 20.0),
];
const YS_REASON_MAP: ValueMap = &[
    ("Victim of violence", "victim"),
    ("Involved in violence", "offender"),
    ("At risk of exploitation", "subject"),
];

const HOUSING_TYPE_MAP: ValueMap = &[
    ("Domestic abuse", "domestic_abuse"),
    ("Violent harm", "other_violence"),
    ("Noise nuisance", ""),
    ("Harassment", ""),
    ("Drug-related ASB", ""),
    ("Threatening behaviour", ""),
];
const HOUSING_KIND_MAP: ValueMap = &[
    ("Tenancy incident", "housing_incident"),
    ("ASB case", "asb_case"),
];
const HOUSING_ASB_TYPES: &[(&str, f64)] = &[
    ("Noise nuisance", 30.0),
    ("Harassment", 25.0),
    ("Drug-related ASB", 25.0),
    ("Threatening behaviour", 20.0),
];
const HOUSING_PARTY_MAP: ValueMap = &[("Victim", "victim"), ("Perpetrator", "suspect")];

const PROBATION_OFFENCES: &[(&str, f64)] = &[
    ("Violence against the person", 50.0),
    ("Domestic abuse related violence", 20.0),
    ("Robbery", 15.0),
    ("Possession of weapons", 10.0),
    ("Sexual offences", 5.0),
];
const PROBATION_OFFENCE_MAP: ValueMap = &[
    ("Violence against the person", "other_violence"),
    ("Domestic abuse related violence", "domestic_abuse"),
    ("Robbery", "robbery"),
    ("Possession of weapons", "weapon_possession"),
    ("Sexual offences", "sexual_assault"),
];
const ROSH_MAP: ValueMap = &[
    ("Low", "low"),
    ("Medium", "medium"),
    ("High", "high"),
    ("Very High", "very_high"),
];

// ---- generation ----------------------------------------------------------

pub(crate) struct Ctx<'a> {
    pub rng: &'a mut ChaCha8Rng,
    pub cfg: &'a SynthConfig,
    pub people: &'a [Person],
    pub truth: &'a mut Vec<TruthRow>,
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|x| x.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (t, w) in items {
        if x < *w {
            return t;
        }
        x -= w;
    }
    &items[items.len() - 1].0
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let l = (-lambda).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    loop {
        p *= rng.random::<f64>();
        if p < l {
            return k;
        }
        k += 1;
    }
}

impl Ctx<'_> {
    fn event_date(&mut self) -> NaiveDate {
        let days = (self.cfg.period_end - self.cfg.period_start).num_days();
        self.cfg.period_start + Duration::days(self.rng.random_range(0..=days))
    }

    /// Ward index and LSOA of an event: mostly near home.
    fn place(&mut self, home: usize) -> (usize, String) {
        let w = if self.rng.random_bool(0.6) {
            home
        } else {
            self.rng.random_range(0..geo::WARDS.len())
        };
        let l = geo::lsoa(w, self.rng.random_range(0..geo::LSOAS_PER_WARD));
        (w, l)
    }

    fn n(&mut self, rate: f64) -> u32 {
        poisson(self.rng, rate * self.cfg.activity)
    }

    fn observe(&mut self, p: &Person, holds: Holds) -> Observed {
        observe(self.rng, p, &self.cfg.errors, holds)
    }

    fn truth(&mut self, ds: DataSet, r: &str, p: &Person) {
        self.truth.push(TruthRow {
            data_set: ds,
            record_ref: r.to_owned(),
            person: p.id,
        });
    }
}

fn fmt(d: Option<NaiveDate>, f: &str) -> String {
    d.map(|d| d.format(f).to_string()).unwrap_or_default()
}

fn sex_mf(s: Sex) -> String {
    match s {
        Sex::Male => "M",
        Sex::Female => "F",
        Sex::Other => "X",
    }
    .to_owned()
}

fn sex_word(s: Sex) -> String {
    match s {
        Sex::Male => "Male",
        Sex::Female => "Female",
        Sex::Other => "Other",
    }
    .to_owned()
}

fn s(x: &str) -> String {
    x.to_owned()
}

/// A housing tenancy for about three in ten residents (social housing).
fn tenant(p: &Person) -> bool {
    p.id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60 < 5
}

pub(crate) fn police(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%d/%m/%Y";
    let columns = vec![
        col("crime_ref", Meaning::SourceRef),
        col("forename", Meaning::Forename),
        col("surname", Meaning::Surname),
        date("dob", Meaning::DateOfBirth, F),
        map("sex", Meaning::Sex, SEX_MF),
        col("postcode", Meaning::Postcode),
        col("pnc_id", Meaning::PncId),
        col("nhs_number", Meaning::NhsNumber),
        date("offence_date", Meaning::EventDate, F),
        col("offence_hour", Meaning::EventHour),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        map("offence_type", Meaning::Category, POLICE_OFFENCE_MAP),
        map("weapon", Meaning::Weapon, POLICE_WEAPON_MAP),
        map("location", Meaning::LocationType, POLICE_LOCATION_MAP),
        map("role", Meaning::Role, POLICE_ROLE_MAP),
        map("da_flag", Meaning::DomesticAbuse, YES_NO),
    ];
    let mut rows = Vec::new();
    let mut serial = 100_000u32;
    let offences: Vec<(&str, f64)> = POLICE_OFFENCES.iter().map(|(a, _, w)| (*a, *w)).collect();
    let hours: Vec<(u32, f64)> = (0..24u32)
        .map(|h| {
            (
                h,
                if (18..=23).contains(&h) || h <= 2 {
                    3.0
                } else {
                    1.0
                },
            )
        })
        .collect();
    for p in c.people {
        let (v, sp) = match p.profile {
            Profile::GeneralVictim => (1.0, 0.0),
            Profile::ViolentOffender => (0.4, 1.5),
            Profile::DomesticAbuseVictim => (1.4, 0.0),
            Profile::DomesticAbusePerpetrator => (0.1, 1.2),
            Profile::ExploitedChild => (0.6, 0.4),
            Profile::YoungOffender => (0.3, 1.2),
            Profile::VulnerableAdult => (0.4, 0.0),
            Profile::None => (0.004, 0.001),
        };
        let da = matches!(
            p.profile,
            Profile::DomesticAbuseVictim | Profile::DomesticAbusePerpetrator
        );
        let nv = c.n(v);
        let ns = c.n(sp);
        for (role, count) in [("Victim", nv), ("Suspect", ns)] {
            for _ in 0..count {
                let when = c.event_date();
                if p.age_on(when) < 10 && role == "Suspect" {
                    continue;
                }
                let holds = Holds {
                    nhs: 0.03,
                    pnc: if role == "Suspect" { 0.95 } else { 0.3 },
                };
                let o = c.observe(p, holds);
                let is_da = da && c.rng.random_bool(0.8);
                let offence = if is_da {
                    *weighted(
                        c.rng,
                        &[
                            ("Common assault", 50.0),
                            ("Assault occasioning ABH", 35.0),
                            ("Threats to kill", 10.0),
                            ("Rape", 5.0),
                        ],
                    )
                } else {
                    *weighted(c.rng, &offences)
                };
                // A possession offence has no victim.
                let offence = if role == "Victim" && offence == "Possession of knife/blade" {
                    "Common assault"
                } else {
                    offence
                };
                let weapon = if offence == "Possession of knife/blade" {
                    "Knife/sharp instrument"
                } else {
                    *weighted(c.rng, POLICE_WEAPONS)
                };
                let location = if is_da {
                    "Dwelling"
                } else {
                    *weighted(c.rng, POLICE_LOCATIONS)
                };
                let (w, lsoa) = if is_da {
                    (p.ward, geo::lsoa(p.ward, p.id as usize))
                } else {
                    c.place(p.ward)
                };
                serial += c.rng.random_range(1..40);
                let r = format!("{:07}/{}", serial, when.format("%y"));
                let hour = weighted(c.rng, &hours).to_string();
                c.truth(DataSet::PoliceViolentCrime, &r, p);
                rows.push(vec![
                    r,
                    o.forename,
                    o.surname,
                    fmt(o.dob, F),
                    sex_mf(p.sex),
                    o.postcode,
                    o.pnc,
                    o.nhs,
                    fmt(Some(when), F),
                    hour,
                    s(geo::WARDS[w].code),
                    lsoa,
                    s(offence),
                    s(weapon),
                    s(location),
                    s(role),
                    s(if is_da { "Y" } else { "N" }),
                ]);
            }
        }
    }
    Table {
        data_set: DataSet::PoliceViolentCrime,
        columns,
        rows,
        record_kind: Some(RecordKind::Crime),
        role: None,
        fixed: Vec::new(),
    }
}

pub(crate) fn childrens(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%Y-%m-%d";
    let columns = vec![
        col("referral_id", Meaning::SourceRef),
        col("child_forename", Meaning::Forename),
        col("child_surname", Meaning::Surname),
        date("child_dob", Meaning::DateOfBirth, F),
        map("gender", Meaning::Sex, SEX_WORD),
        col("home_postcode", Meaning::Postcode),
        col("nhs_number", Meaning::NhsNumber),
        date("referral_date", Meaning::EventDate, F),
        col("ward_code", Meaning::WardCode),
        col("lsoa_code", Meaning::LsoaCode),
        map("primary_concern", Meaning::Category, CS_CONCERN_MAP),
        map("exploitation_flag", Meaning::Exploitation, YES_NO),
        map("da_flag", Meaning::DomesticAbuse, YES_NO),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    let nhs = 0.92 * (1.0 - c.cfg.errors.missing_nhs);
    for p in c.people {
        let rate = match p.profile {
            Profile::ExploitedChild => 1.5,
            Profile::YoungOffender => 0.4,
            Profile::GeneralVictim => 0.2,
            _ => 0.02,
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            if p.age_on(when) >= 18 || p.dob > when {
                continue;
            }
            let concern = match p.profile {
                Profile::ExploitedChild => *weighted(
                    c.rng,
                    &[
                        ("Child criminal exploitation", 60.0),
                        ("Child sexual exploitation", 25.0),
                        ("Serious youth violence", 15.0),
                    ],
                ),
                Profile::YoungOffender => "Serious youth violence",
                _ => *weighted(c.rng, CS_CONCERNS),
            };
            let o = c.observe(p, Holds { nhs, pnc: 0.0 });
            n += 1;
            let r = format!("CS-{:06}", 10_000 + n * 7);
            let (w, lsoa) = (p.ward, geo::lsoa(p.ward, p.id as usize));
            c.truth(DataSet::ChildrensDaExploitation, &r, p);
            let expl = concern.contains("exploitation");
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                sex_word(p.sex),
                o.postcode,
                o.nhs,
                fmt(Some(when), F),
                s(geo::WARDS[w].code),
                lsoa,
                s(concern),
                s(if expl { "Y" } else { "N" }),
                s(if concern == "Domestic abuse" {
                    "Y"
                } else {
                    "N"
                }),
            ]);
        }
    }
    Table {
        data_set: DataSet::ChildrensDaExploitation,
        columns,
        rows,
        record_kind: Some(RecordKind::Referral),
        role: Some(PersonRole::Subject),
        fixed: Vec::new(),
    }
}

pub(crate) fn youth_offending(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%d-%m-%Y";
    let columns = vec![
        col("yjs_case_no", Meaning::SourceRef),
        col("first_name", Meaning::Forename),
        col("last_name", Meaning::Surname),
        date("date_of_birth", Meaning::DateOfBirth, F),
        map("sex", Meaning::Sex, SEX_MF),
        col("postcode", Meaning::Postcode),
        col("pnc_number", Meaning::PncId),
        col("nhs_no", Meaning::NhsNumber),
        date("offence_date", Meaning::EventDate, F),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        map("offence", Meaning::Category, YJS_OFFENCE_MAP),
        col("disposal", Meaning::Ignore),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    for p in c.people {
        let rate = match p.profile {
            Profile::YoungOffender => 1.0,
            Profile::ExploitedChild => 0.4,
            _ => 0.0,
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            let age = p.age_on(when);
            if !(10..=17).contains(&age) {
                continue;
            }
            let o = c.observe(p, Holds { nhs: 0.5, pnc: 0.8 });
            n += 1;
            let r = format!("YJ{:05}", 2_000 + n * 3);
            let (w, lsoa) = c.place(p.ward);
            let offence = *weighted(c.rng, YJS_OFFENCES);
            let disposal = *weighted(c.rng, YJS_DISPOSALS);
            c.truth(DataSet::YouthOffending, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                sex_mf(p.sex),
                o.postcode,
                o.pnc,
                o.nhs,
                fmt(Some(when), F),
                s(geo::WARDS[w].code),
                lsoa,
                s(offence),
                s(disposal),
            ]);
        }
    }
    Table {
        data_set: DataSet::YouthOffending,
        columns,
        rows,
        record_kind: Some(RecordKind::YouthOffence),
        role: Some(PersonRole::Offender),
        fixed: Vec::new(),
    }
}

pub(crate) fn adult_safeguarding(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%Y-%m-%d";
    let columns = vec![
        col("concern_id", Meaning::SourceRef),
        col("forename", Meaning::Forename),
        col("surname", Meaning::Surname),
        date("dob", Meaning::DateOfBirth, F),
        map("gender", Meaning::Sex, SEX_WORD),
        col("postcode", Meaning::Postcode),
        col("nhs_number", Meaning::NhsNumber),
        date("concern_date", Meaning::EventDate, F),
        col("ward_code", Meaning::WardCode),
        col("lsoa_code", Meaning::LsoaCode),
        map("abuse_type", Meaning::Category, ASC_TYPE_MAP),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    let nhs = 0.9 * (1.0 - c.cfg.errors.missing_nhs);
    for p in c.people {
        let rate = match p.profile {
            Profile::VulnerableAdult => 1.2,
            Profile::DomesticAbuseVictim => 0.3,
            _ => 0.0,
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            if p.age_on(when) < 18 {
                continue;
            }
            let kind = if p.profile == Profile::DomesticAbuseVictim {
                "Domestic abuse"
            } else {
                *weighted(c.rng, ASC_TYPES)
            };
            let o = c.observe(p, Holds { nhs, pnc: 0.0 });
            n += 1;
            let r = format!("ASC{:07}", 500_000 + n * 11);
            c.truth(DataSet::AdultSafeguarding, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                sex_word(p.sex),
                o.postcode,
                o.nhs,
                fmt(Some(when), F),
                s(geo::WARDS[p.ward].code),
                geo::lsoa(p.ward, p.id as usize),
                s(kind),
            ]);
        }
    }
    Table {
        data_set: DataSet::AdultSafeguarding,
        columns,
        rows,
        record_kind: Some(RecordKind::SafeguardingConcern),
        role: Some(PersonRole::Subject),
        fixed: Vec::new(),
    }
}

pub(crate) fn marac(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%d/%m/%Y";
    let columns = vec![
        col("marac_ref", Meaning::SourceRef),
        col("victim_forename", Meaning::Forename),
        col("victim_surname", Meaning::Surname),
        date("victim_dob", Meaning::DateOfBirth, F),
        col("victim_postcode", Meaning::Postcode),
        col("nhs_number", Meaning::NhsNumber),
        date("meeting_date", Meaning::EventDate, F),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        col("dash_score", Meaning::DashScore),
        col("referring_agency", Meaning::Ignore),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    for p in c.people {
        if p.profile != Profile::DomesticAbuseVictim {
            continue;
        }
        for _ in 0..c.n(0.5) {
            let when = c.event_date();
            let o = c.observe(p, Holds { nhs: 0.3, pnc: 0.0 });
            n += 1;
            let r = format!("MARAC/{}/{:04}", when.format("%Y"), n);
            let dash = c.rng.random_range(14..=27u8).to_string();
            let agency = *weighted(c.rng, MARAC_AGENCIES);
            c.truth(DataSet::Marac, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                o.postcode,
                o.nhs,
                fmt(Some(when), F),
                s(geo::WARDS[p.ward].code),
                geo::lsoa(p.ward, p.id as usize),
                dash,
                s(agency),
            ]);
        }
    }
    Table {
        data_set: DataSet::Marac,
        columns,
        rows,
        record_kind: Some(RecordKind::MaracCase),
        role: Some(PersonRole::Victim),
        fixed: vec![
            ("category", "\"domestic_abuse\""),
            ("marac", "true"),
            ("flag_domestic_abuse", "true"),
        ],
    }
}

/// ISTV: no identifiers at all; `victims` police victim rows set the scale
/// (about six in ten assaults reach an ED; many are never reported).
pub(crate) fn ed(c: &mut Ctx<'_>, victims: usize) -> Table {
    const F: &str = "%Y-%m-%d";
    let columns = vec![
        col("attendance_id", Meaning::SourceRef),
        date("assault_date", Meaning::EventDate, F),
        col("assault_hour", Meaning::EventHour),
        map("assault_method", Meaning::Weapon, ED_METHOD_MAP),
        map("location_type", Meaning::LocationType, ED_LOCATION_MAP),
        col("site", Meaning::SiteCode),
        col("lsoa", Meaning::LsoaCode),
        col("ward", Meaning::WardCode),
    ];
    let mut rows = Vec::new();
    let count = (victims as f64 * 0.6).round() as usize;
    for i in 0..count {
        let when = c.event_date();
        let home = c.rng.random_range(0..geo::WARDS.len());
        let (w, lsoa) = c.place(home);
        let hour = c.rng.random_range(0..24u32);
        let method = *weighted(c.rng, ED_METHODS);
        let loc = *weighted(c.rng, ED_LOCATIONS);
        rows.push(vec![
            format!("ED{:08}", 7_000_000 + i * 13),
            fmt(Some(when), F),
            hour.to_string(),
            s(method),
            s(loc),
            s(geo::ED_SITES[0]),
            lsoa,
            s(geo::WARDS[w].code),
        ]);
    }
    Table {
        data_set: DataSet::EdAssaults,
        columns,
        rows,
        record_kind: Some(RecordKind::EdAttendance),
        role: Some(PersonRole::Patient),
        fixed: Vec::new(),
    }
}

pub(crate) fn youth_services(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%d/%m/%Y";
    let columns = vec![
        col("contact_id", Meaning::SourceRef),
        col("forename", Meaning::Forename),
        col("surname", Meaning::Surname),
        date("dob", Meaning::DateOfBirth, F),
        map("gender", Meaning::Sex, SEX_WORD),
        col("postcode", Meaning::Postcode),
        date("contact_date", Meaning::EventDate, F),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        col("programme", Meaning::Ignore),
        map("reason", Meaning::Role, YS_REASON_MAP),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    for p in c.people {
        let (rate, reason) = match p.profile {
            Profile::ExploitedChild => (1.0, "At risk of exploitation"),
            Profile::YoungOffender | Profile::ViolentOffender => (0.8, "Involved in violence"),
            Profile::GeneralVictim => (0.3, "Victim of violence"),
            _ => (0.01, "Victim of violence"),
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            if !(10..=24).contains(&p.age_on(when)) {
                continue;
            }
            let o = c.observe(
                p,
                Holds {
                    nhs: 0.05,
                    pnc: 0.0,
                },
            );
            n += 1;
            let r = format!("YS-{:05}", n);
            let (w, lsoa) = c.place(p.ward);
            let prog = *weighted(c.rng, YS_PROGRAMMES);
            c.truth(DataSet::YouthServices, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                sex_word(p.sex),
                o.postcode,
                fmt(Some(when), F),
                s(geo::WARDS[w].code),
                lsoa,
                s(prog),
                s(reason),
            ]);
        }
    }
    Table {
        data_set: DataSet::YouthServices,
        columns,
        rows,
        record_kind: Some(RecordKind::ServiceContact),
        role: None,
        fixed: Vec::new(),
    }
}

pub(crate) fn housing(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%d-%b-%Y";
    let columns = vec![
        col("case_ref", Meaning::SourceRef),
        col("tenant_first_name", Meaning::Forename),
        col("tenant_surname", Meaning::Surname),
        date("tenant_dob", Meaning::DateOfBirth, F),
        col("property_postcode", Meaning::Postcode),
        date("incident_date", Meaning::EventDate, F),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        map("case_category", Meaning::RecordKind, HOUSING_KIND_MAP),
        map("case_type", Meaning::Category, HOUSING_TYPE_MAP),
        map("party", Meaning::Role, HOUSING_PARTY_MAP),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    for p in c.people {
        if !tenant(p) {
            continue;
        }
        let (rate, kind, party) = match p.profile {
            Profile::DomesticAbuseVictim => (0.5, "Domestic abuse", "Victim"),
            Profile::DomesticAbusePerpetrator => (0.4, "Domestic abuse", "Perpetrator"),
            Profile::ViolentOffender => (0.3, "Violent harm", "Perpetrator"),
            Profile::YoungOffender => (0.3, "ASB", "Perpetrator"),
            Profile::GeneralVictim => (0.1, "Violent harm", "Victim"),
            _ => (0.005, "ASB", "Perpetrator"),
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            if p.age_on(when) < 16 {
                continue;
            }
            let o = c.observe(p, Holds { nhs: 0.0, pnc: 0.0 });
            n += 1;
            let r = format!("HM/{:06}", 30_000 + n * 5);
            let (category, case_type) = if kind == "ASB" {
                ("ASB case", *weighted(c.rng, HOUSING_ASB_TYPES))
            } else {
                ("Tenancy incident", kind)
            };
            c.truth(DataSet::Housing, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                o.postcode,
                fmt(Some(when), F),
                s(geo::WARDS[p.ward].code),
                geo::lsoa(p.ward, p.id as usize),
                s(category),
                s(case_type),
                s(party),
            ]);
        }
    }
    Table {
        data_set: DataSet::Housing,
        columns,
        rows,
        record_kind: None,
        role: None,
        fixed: Vec::new(),
    }
}

pub(crate) fn probation(c: &mut Ctx<'_>) -> Table {
    const F: &str = "%Y-%m-%d";
    let columns = vec![
        col("crn", Meaning::SourceRef),
        col("forename", Meaning::Forename),
        col("surname", Meaning::Surname),
        date("dob", Meaning::DateOfBirth, F),
        map("gender", Meaning::Sex, SEX_WORD),
        col("pnc", Meaning::PncId),
        col("nhs_number", Meaning::NhsNumber),
        col("postcode", Meaning::Postcode),
        date("supervision_start", Meaning::EventDate, F),
        col("ward", Meaning::WardCode),
        col("lsoa", Meaning::LsoaCode),
        map("index_offence", Meaning::Category, PROBATION_OFFENCE_MAP),
        map("rosh", Meaning::Rosh, ROSH_MAP),
    ];
    let mut rows = Vec::new();
    let mut n = 0u32;
    for p in c.people {
        let rate = match p.profile {
            Profile::ViolentOffender => 0.9,
            Profile::DomesticAbusePerpetrator => 0.7,
            _ => 0.0,
        };
        for _ in 0..c.n(rate) {
            let when = c.event_date();
            if p.age_on(when) < 18 {
                continue;
            }
            let o = c.observe(
                p,
                Holds {
                    nhs: 0.05,
                    pnc: 0.97,
                },
            );
            n += 1;
            let letter = (b'A' + (n % 26) as u8) as char;
            let r = format!("{letter}{:06}", 100_000 + n * 17);
            let offence = if p.profile == Profile::DomesticAbusePerpetrator {
                "Domestic abuse related violence"
            } else {
                *weighted(c.rng, PROBATION_OFFENCES)
            };
            let rosh = *weighted(
                c.rng,
                &[
                    ("Low", 15.0),
                    ("Medium", 50.0),
                    ("High", 30.0),
                    ("Very High", 5.0),
                ],
            );
            c.truth(DataSet::Probation, &r, p);
            rows.push(vec![
                r,
                o.forename,
                o.surname,
                fmt(o.dob, F),
                sex_word(p.sex),
                o.pnc,
                o.nhs,
                o.postcode,
                fmt(Some(when), F),
                s(geo::WARDS[p.ward].code),
                geo::lsoa(p.ward, p.id as usize),
                s(offence),
                s(rosh),
            ]);
        }
    }
    Table {
        data_set: DataSet::Probation,
        columns,
        rows,
        record_kind: Some(RecordKind::Supervision),
        role: Some(PersonRole::Offender),
        fixed: Vec::new(),
    }
}
