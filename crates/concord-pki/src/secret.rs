use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::Ed25519KeyPair;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::PkiError;

/// Which secret a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// 32-byte broker secret.
    Broker,
    /// 32-byte linkage secret.
    Linkage,
    /// Ed25519 key that signs the audit log.
    AuditSigning,
}

impl KeyKind {
    fn id_prefix(self) -> &'static str {
        match self {
            KeyKind::Broker => "bk",
            KeyKind::Linkage => "lk",
            KeyKind::AuditSigning => "ak",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyKind::Broker => "broker secret",
            KeyKind::Linkage => "linkage secret",
            KeyKind::AuditSigning => "audit signing key",
        }
    }
}

/// A secret key file, as JSON:
/// `{"kind": "broker" | "linkage", "key_id": "bk-2025a", "secret_hex": "<64 hex>"}` or
/// `{"kind": "audit_signing", "key_id": "ak-2025a", "pkcs8_hex": "<Ed25519 PKCS#8>"}`.
///
/// `Debug` shows the kind and key id only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretKeyFile {
    Broker { key_id: String, secret_hex: String },
    Linkage { key_id: String, secret_hex: String },
    AuditSigning { key_id: String, pkcs8_hex: String },
}

impl SecretKeyFile {
    /// Generates a fresh key from the system RNG, with key id
    /// `<bk|lk|ak>-<fingerprint>-<current UTC year>a`: the fingerprint is
    /// 8 hex digits derived from the key material ([`fingerprint`]), so
    /// keys of two PKIs never share an id and an id tells which key it is
    /// (`concord keys rotate` advances the last letter: `...-2026b`).
    pub fn generate(kind: KeyKind) -> Result<Self, PkiError> {
        let rng = SystemRandom::new();
        let random = PkiError::Random {
            what: kind.describe(),
        };
        let key_id = |material: &[u8]| {
            format!(
                "{}-{}-{}a",
                kind.id_prefix(),
                fingerprint(kind, material),
                OffsetDateTime::now_utc().year()
            )
        };
        Ok(match kind {
            KeyKind::Broker | KeyKind::Linkage => {
                let mut secret = [0u8; 32];
                rng.fill(&mut secret).map_err(|_| random)?;
                let key_id = key_id(&secret);
                let secret_hex = hex::encode(secret);
                if kind == KeyKind::Broker {
                    SecretKeyFile::Broker { key_id, secret_hex }
                } else {
                    SecretKeyFile::Linkage { key_id, secret_hex }
                }
            }
            KeyKind::AuditSigning => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| random)?;
                let pair =
                    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| PkiError::Random {
                        what: kind.describe(),
                    })?;
                let key_id = key_id(ring::signature::KeyPair::public_key(&pair).as_ref());
                SecretKeyFile::AuditSigning {
                    key_id,
                    pkcs8_hex: hex::encode(pkcs8.as_ref()),
                }
            }
        })
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            SecretKeyFile::Broker { .. } => KeyKind::Broker,
            SecretKeyFile::Linkage { .. } => KeyKind::Linkage,
            SecretKeyFile::AuditSigning { .. } => KeyKind::AuditSigning,
        }
    }

    pub fn key_id(&self) -> &str {
        match self {
            SecretKeyFile::Broker { key_id, .. }
            | SecretKeyFile::Linkage { key_id, .. }
            | SecretKeyFile::AuditSigning { key_id, .. } => key_id,
        }
    }

    /// The file contents: pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut json =
            serde_json::to_string_pretty(self).expect("a tagged enum of strings always serialises");
        json.push('\n');
        json
    }
}

/// 8 hex digits that name a key by its material without revealing it:
/// for a 32-byte secret, the first 4 bytes of
/// `HMAC-SHA256(secret, "concord/v1/key-id/" ‖ kind)` (a key check value:
/// one-way, and no other use of the key signs that message); for an
/// Ed25519 key, of `SHA-256(public key)`.
fn fingerprint(kind: KeyKind, material: &[u8]) -> String {
    let digest = match kind {
        KeyKind::Broker | KeyKind::Linkage => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, material);
            let label = format!("concord/v1/key-id/{}", kind.id_prefix());
            ring::hmac::sign(&key, label.as_bytes()).as_ref().to_vec()
        }
        KeyKind::AuditSigning => ring::digest::digest(&ring::digest::SHA256, material)
            .as_ref()
            .to_vec(),
    };
    hex::encode(&digest[..4])
}

impl fmt::Debug for SecretKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeyFile")
            .field("kind", &self.kind())
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::KeyPair;

    use super::*;

    fn year() -> i32 {
        OffsetDateTime::now_utc().year()
    }

    /// `concord_core::is_key_id`'s rule (this crate does not depend on it).
    fn concord_core_is_key_id(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 32
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    #[test]
    fn symmetric_secrets_are_32_random_bytes_with_key_ids_of_their_material() {
        let a = SecretKeyFile::generate(KeyKind::Broker).unwrap();
        let b = SecretKeyFile::generate(KeyKind::Broker).unwrap();
        let l = SecretKeyFile::generate(KeyKind::Linkage).unwrap();
        let id_of = |f: &SecretKeyFile, prefix: &str| {
            let id = f.key_id();
            let rest = id.strip_prefix(&format!("{prefix}-")).expect(id);
            let (fp, year_a) = rest.split_once('-').expect(id);
            assert_eq!(year_a, format!("{}a", year()), "{id}");
            assert!(concord_core_is_key_id(id), "{id}");
            fp.to_owned()
        };
        let (fa, fb, fl) = (id_of(&a, "bk"), id_of(&b, "bk"), id_of(&l, "lk"));
        assert_eq!(fa.len(), 8);
        assert_ne!(fa, fb, "two broker keys, two ids");
        assert_ne!(fa, fl);
        let (
            SecretKeyFile::Broker { secret_hex: sa, .. },
            SecretKeyFile::Broker { secret_hex: sb, .. },
        ) = (&a, &b)
        else {
            panic!("expected broker keys");
        };
        assert_eq!(hex::decode(sa).unwrap().len(), 32);
        assert_ne!(sa, sb);
        // The id is the key's: derived from its secret, not chosen at random.
        assert_eq!(fingerprint(KeyKind::Broker, &hex::decode(sa).unwrap()), fa);

        let json: serde_json::Value = serde_json::from_str(&l.to_json()).unwrap();
        assert_eq!(json["kind"], "linkage");
        assert_eq!(json["secret_hex"].as_str().unwrap().len(), 64);
        assert_eq!(
            serde_json::from_str::<SecretKeyFile>(&l.to_json()).unwrap(),
            l
        );
    }

    #[test]
    fn audit_key_is_a_loadable_ed25519_pkcs8() {
        let key = SecretKeyFile::generate(KeyKind::AuditSigning).unwrap();
        let json: serde_json::Value = serde_json::from_str(&key.to_json()).unwrap();
        assert_eq!(json["kind"], "audit_signing");
        let pkcs8 = hex::decode(json["pkcs8_hex"].as_str().unwrap()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(pair.public_key().as_ref().len(), 32);
        assert_eq!(
            key.key_id(),
            format!(
                "ak-{}-{}a",
                fingerprint(KeyKind::AuditSigning, pair.public_key().as_ref()),
                year()
            )
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = SecretKeyFile::generate(KeyKind::Broker).unwrap();
        let SecretKeyFile::Broker { secret_hex, .. } = &key else {
            unreachable!()
        };
        let debug = format!("{key:?}");
        assert!(!debug.contains(secret_hex.as_str()));
        assert!(debug.contains("bk-"));
    }
}
