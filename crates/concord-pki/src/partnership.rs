use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Identity, PkiError, is_valid_identifier};

/// The partnership: its organisations and the users who get client
/// certificates. Parsed from `policies/data/partnership.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partnership {
    pub name: String,
    /// Keyed by organisation id.
    pub organisations: BTreeMap<String, Organisation>,
    /// One client certificate per entry.
    pub certificates: Vec<Identity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    /// The record sources this organisation pushes.
    #[serde(default)]
    pub pushes: Vec<String>,
}

/// The file wraps the partnership in a `partnership` key; other top-level
/// keys are policy data and are ignored here.
#[derive(Deserialize)]
struct PartnershipFile {
    partnership: Partnership,
}

impl Partnership {
    /// Parses and validates the partnership file's contents.
    pub fn from_json_str(json: &str) -> Result<Self, PkiError> {
        let file: PartnershipFile =
            serde_json::from_str(json).map_err(|source| PkiError::PartnershipSyntax {
                line: source.line(),
                column: source.column(),
                source,
            })?;
        file.partnership.validate()?;
        Ok(file.partnership)
    }

    /// Reads, parses and validates the partnership file at `path`.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        let json = std::fs::read_to_string(path).map_err(|source| PkiError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&json).map_err(|source| PkiError::PartnershipFile {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Checks that organisation ids, roles and users are identifiers, that
    /// every certificate's organisation exists and that users are unique.
    pub fn validate(&self) -> Result<(), PkiError> {
        for org in self.organisations.keys() {
            check("organisations", "organisation id", org)?;
        }
        let mut users = HashSet::new();
        for (i, cert) in self.certificates.iter().enumerate() {
            let entry = format!("certificates[{i}]");
            check(&entry, "user", &cert.user)?;
            check(&entry, "org", &cert.org)?;
            check(&entry, "role", &cert.role)?;
            if !self.organisations.contains_key(&cert.org) {
                return Err(PkiError::UnknownOrganisation {
                    user: cert.user.clone(),
                    org: cert.org.clone(),
                });
            }
            if !users.insert(cert.user.as_str()) {
                return Err(PkiError::DuplicateUser {
                    user: cert.user.clone(),
                });
            }
        }
        Ok(())
    }
}

fn check(entry: &str, field: &'static str, value: &str) -> Result<(), PkiError> {
    if is_valid_identifier(value) {
        Ok(())
    } else {
        Err(PkiError::InvalidIdentifier {
            entry: entry.to_owned(),
            field,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO_FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/data/partnership.json"
    );

    fn with_certificates(certificates: &str) -> String {
        format!(
            r#"{{"partnership": {{"name": "Test", "organisations": {{
                "mps-cw": {{"name": "Police", "pushes": ["police"]}},
                "skc-board": {{"name": "Board", "pushes": []}}
            }}, "certificates": {certificates}}}, "future_policy_data": 1}}"#
        )
    }

    #[test]
    fn repository_partnership_file_parses_and_validates() {
        let p = Partnership::load(Path::new(REPO_FILE)).unwrap();
        assert_eq!(p.name, "Safer Kensington and Chelsea Partnership");
        assert_eq!(p.organisations["mps-cw"].pushes, ["police"]);
        assert!(p.certificates.contains(&Identity {
            org: "rbkc-information-governance".into(),
            role: "dpo".into(),
            user: "dpo-1".into(),
        }));
    }

    #[test]
    fn unknown_top_level_keys_are_tolerated() {
        let p = Partnership::from_json_str(&with_certificates(
            r#"[{"org": "mps-cw", "role": "push_agent", "user": "mps-cw-push"}]"#,
        ))
        .unwrap();
        assert_eq!(p.certificates.len(), 1);
    }

    #[test]
    fn certificate_for_unknown_org_is_rejected_naming_the_org() {
        let err = Partnership::from_json_str(&with_certificates(
            r#"[{"org": "nowhere-council", "role": "analyst", "user": "analyst-9"}]"#,
        ))
        .unwrap_err();
        assert!(
            matches!(err, PkiError::UnknownOrganisation { ref org, .. } if org == "nowhere-council")
        );
        let message = err.to_string();
        assert!(
            message.contains("`nowhere-council`") && message.contains("`analyst-9`"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_users_and_bad_identifiers_are_rejected_naming_the_entry() {
        let err = Partnership::from_json_str(&with_certificates(
            r#"[{"org": "mps-cw", "role": "push_agent", "user": "u1"},
                {"org": "skc-board", "role": "board_member", "user": "u1"}]"#,
        ))
        .unwrap_err();
        assert!(matches!(err, PkiError::DuplicateUser { ref user } if user == "u1"));

        let err = Partnership::from_json_str(&with_certificates(
            r#"[{"org": "mps-cw", "role": "push_agent", "user": "u1"},
                {"org": "mps-cw", "role": "Push Agent", "user": "u2"}]"#,
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("certificates[1]: role `Push Agent`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_in_certificate_entries_are_rejected() {
        let err = Partnership::from_json_str(&with_certificates(
            r#"[{"org": "mps-cw", "role": "push_agent", "user": "u1", "admin": true}]"#,
        ))
        .unwrap_err();
        assert!(matches!(err, PkiError::PartnershipSyntax { .. }), "{err}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partnership.json");
        std::fs::write(&path, "{}").unwrap();
        let err = Partnership::load(&path).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        // The detail is in the source, not in the top-level message.
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("line 1, column 2"), "{source}");
        assert!(!err.to_string().contains("line 1"), "{err}");
    }
}
