//! The closed vocabulary of a record (DESIGN §3).

use std::{fmt, str::FromStr};

/// A name that is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {name:?}")]
pub struct UnknownName {
    pub vocabulary: &'static str,
    pub name: String,
}

/// Declares a vocabulary enum with stable codes (the wire enum numbers) and
/// stable snake_case names (what policies and the database use).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $label:literal { $($variant:ident = $code:literal, $text:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// What the vocabulary is called in messages.
            pub const LABEL: &'static str = $label;

            /// The stable name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The stable code, equal to the `concord.v1` enum number.
            pub const fn code(self) -> i32 {
                match self { $($name::$variant => $code,)+ }
            }

            /// The value with this code; `None` for 0 (unspecified) or an
            /// unknown code.
            pub const fn from_code(code: i32) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { vocabulary: $label, name: s.to_owned() }),
                }
            }
        }
    };
}

vocabulary!(
    /// A duty holder's kind of data.
    Source, "source" {
        Police = 1, "police";
        Health = 2, "health";
        Probation = 3, "probation";
        YouthJustice = 4, "youth_justice";
        ChildrensServices = 5, "childrens_services";
        AdultSocialCare = 6, "adult_social_care";
        Housing = 7, "housing";
        CommunitySafety = 8, "community_safety";
    }
);

impl Source {
    /// Health and social-care data: person-level disclosure only under a
    /// safeguarding purpose (DESIGN §4).
    pub const fn is_health_or_social_care(self) -> bool {
        matches!(
            self,
            Source::Health | Source::ChildrensServices | Source::AdultSocialCare
        )
    }
}

vocabulary!(
    /// What a record is.
    RecordKind, "record kind" {
        Crime = 1, "crime";
        EdAttendance = 2, "ed_attendance";
        Supervision = 3, "supervision";
        Referral = 4, "referral";
        Case = 5, "case";
        AsbCase = 6, "asb_case";
        MaracCase = 7, "marac_case";
        SafeguardingConcern = 8, "safeguarding_concern";
        YouthOffence = 9, "youth_offence";
        ServiceContact = 10, "service_contact";
        HousingIncident = 11, "housing_incident";
    }
);

vocabulary!(
    /// The person's part in the record.
    PersonRole, "person role" {
        Victim = 1, "victim";
        Suspect = 2, "suspect";
        Offender = 3, "offender";
        Subject = 4, "subject";
        Patient = 5, "patient";
    }
);

vocabulary!(
    /// How precisely the event date is known.
    DatePrecision, "date precision" {
        Day = 1, "day";
        Month = 2, "month";
        Year = 3, "year";
    }
);

vocabulary!(
    /// Serious-violence category.
    ViolenceCategory, "violence category" {
        Homicide = 1, "homicide";
        Gbh = 2, "gbh";
        Abh = 3, "abh";
        Rape = 4, "rape";
        AssaultByPenetration = 5, "assault_by_penetration";
        SexualAssault = 6, "sexual_assault";
        Robbery = 7, "robbery";
        ThreatsToKill = 8, "threats_to_kill";
        DomesticAbuse = 9, "domestic_abuse";
        Exploitation = 10, "exploitation";
        WeaponPossession = 11, "weapon_possession";
        OtherViolence = 12, "other_violence";
    }
);

vocabulary!(
    /// Weapon involved.
    Weapon, "weapon" {
        KnifeSharp = 1, "knife_sharp";
        Firearm = 2, "firearm";
        Corrosive = 3, "corrosive";
        Blunt = 4, "blunt";
        Body = 5, "body";
        Other = 6, "other";
        None = 7, "none";
    }
);

vocabulary!(
    /// Where the event happened (no free text is accepted).
    LocationType, "location type" {
        Dwelling = 1, "dwelling";
        Street = 2, "street";
        LicensedPremises = 3, "licensed_premises";
        Transport = 4, "transport";
        School = 5, "school";
        Park = 6, "park";
        Shop = 7, "shop";
        Workplace = 8, "workplace";
        Other = 9, "other";
    }
);

vocabulary!(
    /// Age band at the event.
    AgeBand, "age band" {
        A0To9 = 1, "0-9";
        A10To17 = 2, "10-17";
        A18To24 = 3, "18-24";
        A25To34 = 4, "25-34";
        A35To49 = 5, "35-49";
        A50Plus = 6, "50+";
    }
);

vocabulary!(
    /// Recorded sex.
    Sex, "sex" {
        Female = 1, "female";
        Male = 2, "male";
        Other = 3, "other";
    }
);

vocabulary!(
    /// OASys risk of serious harm.
    RoshLevel, "RoSH level" {
        Low = 1, "low";
        Medium = 2, "medium";
        High = 3, "high";
        VeryHigh = 4, "very_high";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), *s);
            assert_eq!(Source::from_code(s.code()), Some(*s));
        }
        for c in ViolenceCategory::ALL {
            assert_eq!(c.as_str().parse::<ViolenceCategory>().unwrap(), *c);
        }
        assert_eq!(Source::from_code(0), None);
        assert_eq!(Source::from_code(99), None);
        let err = "navy".parse::<Source>().unwrap_err();
        assert_eq!(err.to_string(), "unknown source \"navy\"");
    }
}

vocabulary!(
    /// A match key of the `mk1` and `mk2` key sets (DESIGN §2). Strong keys are unique
    /// identifiers; every other key is a composite of two fields, so that no
    /// token ever covers a single weak field.
    KeyName, "match key" {
        Nhs = 1, "nhs";
        Pnc = 2, "pnc";
        SnDob = 3, "sn_dob";
        FnDob = 4, "fn_dob";
        FnSn = 5, "fn_sn";
        SnPc = 6, "sn_pc";
        FnPc = 7, "fn_pc";
        DobPc = 8, "dob_pc";
        PhSnDob = 9, "phsn_dob";
        PhFnSn = 10, "phfn_sn";
        SnDobSwap = 11, "sn_dobswap";
        NamesDob = 12, "names_dob";
        FiDob = 13, "fi_dob";
        SnDelDob = 14, "snd_dob";
        FnDelSn = 15, "fnd_sn";
        FnDelDob = 16, "fnd_dob";
        DobDelSn = 17, "dobd_sn";
        SnPartFnDob = 18, "snp_fn_dob";
        CfnSnDob = 19, "cfn_sn_dob";
        FiSnDob = 20, "fi_sn_dob";
        FnSnYm = 21, "fn_sn_ym";
        FnDobSwap = 22, "fn_dobswap";
        PhFnDob = 23, "phfn_dob";
        PhSnFn = 24, "phsn_fn";
        NamesPc = 25, "names_pc";
    }
);

impl KeyName {
    /// NHS number and PNC id: agreement alone means the same person.
    pub const fn is_strong(self) -> bool {
        matches!(self, KeyName::Nhs | KeyName::Pnc)
    }

    /// Keys a record may carry several tokens of (a field's one-deletion
    /// neighbourhood, the parts of a double surname); every other key has
    /// at most one token per record.
    pub const fn is_multi(self) -> bool {
        matches!(
            self,
            KeyName::SnDelDob
                | KeyName::FnDelSn
                | KeyName::FnDelDob
                | KeyName::DobDelSn
                | KeyName::SnPartFnDob
        )
    }

    /// The key set a key first appeared in: `mk1` for the first thirteen,
    /// `mk2` for the rest. A key keeps its spec's message prefix in later
    /// specs, so an `mk1` token and an `mk2` token of the same key and
    /// fields are the same bytes.
    pub const fn spec(self) -> &'static str {
        if self.code() <= 13 { "mk1" } else { "mk2" }
    }
}
