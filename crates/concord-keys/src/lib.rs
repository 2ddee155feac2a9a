//! Concord's secrets and what the broker does with them.
//!
//! * [`KeyFile`]: the JSON form of a secret key as `concord pki init` writes
//!   it (`{"kind", "key_id", "secret_hex" | "pkcs8_hex"}`), parsed here and
//!   never printed: [`Secret`] redacts itself in `Debug`.
//! * [`BrokerKey`]: re-keys every incoming token,
//!   `pseudonym = HMAC-SHA256(K_broker, key_id ‖ token)` (DESIGN §1), where
//!   `key_id` is the linkage key id the token was made with. What is stored
//!   therefore matches nothing seen in transit, and a database dump plus
//!   `K_link` cannot be dictionary-attacked without `K_broker`.
//!
//! No I/O: callers read the files and hand the text in.

#![forbid(unsafe_code)]

use std::fmt;

use concord_core::{Token, is_key_id};
use ring::hmac;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{what} is not a key file: {reason}")]
    Malformed { what: String, reason: String },
    #[error("{what} holds a {found} key, expected a {expected} key")]
    WrongKind {
        what: String,
        found: String,
        expected: &'static str,
    },
}

/// Secret bytes that never print.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    kind: String,
    key_id: String,
    #[serde(default)]
    secret_hex: Option<String>,
    #[serde(default)]
    pkcs8_hex: Option<String>,
    /// Earlier broker keys, oldest first (see [`BrokerKey`]).
    #[serde(default)]
    previous: Vec<PreviousKeyJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviousKeyJson {
    key_id: String,
    secret_hex: String,
}

/// A parsed key file.
#[derive(Debug, Clone)]
pub struct KeyFile {
    pub kind: String,
    pub key_id: String,
    pub secret: Secret,
    /// Earlier keys of a rotated broker key, oldest first.
    pub previous: Vec<(String, Secret)>,
}

impl KeyFile {
    /// Parses a key file; `what` names it in errors (a path, never content).
    pub fn parse(text: &str, what: &str) -> Result<KeyFile, KeyError> {
        let malformed = |reason: &str| KeyError::Malformed {
            what: what.to_owned(),
            reason: reason.to_owned(),
        };
        // serde_json's message can quote input; keep only its position.
        let json: KeyFileJson = serde_json::from_str(text).map_err(|e| {
            malformed(&format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        if !is_key_id(&json.key_id) {
            return Err(malformed("key_id must look like bk-2026a"));
        }
        let hex_secret = match (json.secret_hex, json.pkcs8_hex) {
            (Some(s), None) | (None, Some(s)) => s,
            _ => {
                return Err(malformed(
                    "exactly one of secret_hex or pkcs8_hex is needed",
                ));
            }
        };
        let secret =
            hex::decode(hex_secret.trim()).map_err(|_| malformed("the secret is not hex"))?;
        let previous = json
            .previous
            .into_iter()
            .map(|p| {
                let secret = hex::decode(p.secret_hex.trim())
                    .map_err(|_| malformed("a previous secret is not hex"))?;
                Ok((p.key_id, Secret(secret)))
            })
            .collect::<Result<_, KeyError>>()?;
        Ok(KeyFile {
            kind: json.kind,
            key_id: json.key_id,
            secret: Secret(secret),
            previous,
        })
    }

    fn expect_kind(&self, expected: &'static str, what: &str) -> Result<(), KeyError> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(KeyError::WrongKind {
                what: what.to_owned(),
                found: self.kind.clone(),
                expected,
            })
        }
    }
}

/// An identified HMAC-SHA256 key; the two kinds below wrap it.
#[derive(Clone)]
struct HmacKey {
    id: String,
    key: hmac::Key,
    /// Kept only to write a rotated key file; never printed.
    secret: Secret,
}

impl HmacKey {
    fn new(kind: &str, id: &str, secret: &[u8]) -> Result<HmacKey, KeyError> {
        if secret.len() != 32 {
            return Err(KeyError::Malformed {
                what: format!("{kind} key {id}"),
                reason: "the secret must be 32 bytes".into(),
            });
        }
        Ok(HmacKey {
            id: id.to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            secret: Secret(secret.to_vec()),
        })
    }

    fn from_file(kind: &'static str, file: &KeyFile, what: &str) -> Result<HmacKey, KeyError> {
        file.expect_kind(kind, what)?;
        HmacKey::new(kind, &file.key_id, file.secret.expose())
    }

    fn sign(&self, parts: &[&[u8]]) -> Token {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Token(out)
    }
}

/// Debug shows the key id only.
macro_rules! debug_id_only {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("id", &self.0.id)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// The broker key: re-keys tokens into stored pseudonyms.
///
/// It also derives the per-recipient person pseudonyms a lookup hands out
/// ([`BrokerKey::person_pseudonym`]).
///
/// A rotated broker key is a chain of layers, oldest first:
/// `p = HMAC(K_0, linkage_key_id ‖ token)`, then `p = HMAC(K_i, p)` for each
/// later layer. Rotation re-keys every stored pseudonym with the new layer
/// alone (`HMAC(K_new, p)`), which gives exactly what the chain computes for
/// a token arriving later, so linkage and lookups keep working without
/// re-ingesting. A leaked earlier key alone no longer opens the store.
#[derive(Clone)]
pub struct BrokerKey {
    layers: Vec<HmacKey>,
    /// `HMAC(K_newest, RECIPIENT_LABEL)`: the key of person pseudonyms.
    recipient: hmac::Key,
}

/// The label the recipient-pseudonym key is derived under: no other use of
/// the broker key signs this message (re-keying signs a linkage key id and
/// a token, or a 32-byte pseudonym), so the derived key is independent.
const RECIPIENT_LABEL: &[u8] = b"concord/v1/recipient-pseudonym-key";

impl fmt::Debug for BrokerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.layers.iter().map(|l| l.id.as_str()).collect();
        f.debug_struct("BrokerKey")
            .field("layers", &ids)
            .finish_non_exhaustive()
    }
}

impl BrokerKey {
    /// A broker key from its id and 32 secret bytes.
    pub fn new(id: &str, secret: &[u8]) -> Result<BrokerKey, KeyError> {
        Ok(BrokerKey::of_layers(vec![HmacKey::new(
            "broker", id, secret,
        )?]))
    }

    fn of_layers(layers: Vec<HmacKey>) -> BrokerKey {
        let newest = &layers[layers.len() - 1];
        let derived = newest.sign(&[RECIPIENT_LABEL]);
        BrokerKey {
            recipient: hmac::Key::new(hmac::HMAC_SHA256, derived.as_bytes()),
            layers,
        }
    }

    /// The broker key of a `kind: "broker"` key file, with its earlier layers.
    pub fn from_file(file: &KeyFile, what: &str) -> Result<BrokerKey, KeyError> {
        file.expect_kind("broker", what)?;
        let mut layers = Vec::with_capacity(file.previous.len() + 1);
        for (id, secret) in &file.previous {
            layers.push(HmacKey::new("broker", id, secret.expose())?);
        }
        layers.push(HmacKey::new("broker", &file.key_id, file.secret.expose())?);
        Ok(BrokerKey::of_layers(layers))
    }

    /// The newest layer's id: what stored rows record.
    pub fn id(&self) -> &str {
        &self.layers[self.layers.len() - 1].id
    }

    /// The pseudonym of an incoming token, through every layer.
    pub fn pseudonymise(&self, linkage_key_id: &str, token: &Token) -> Token {
        let mut p = self.layers[0].sign(&[linkage_key_id.as_bytes(), token.as_bytes()]);
        for layer in &self.layers[1..] {
            p = layer.sign(&[p.as_bytes()]);
        }
        p
    }

    /// This key with a new layer on top (a rotation).
    pub fn rotated(&self, new_id: &str, secret: &[u8]) -> Result<BrokerKey, KeyError> {
        if self.layers.iter().any(|l| l.id == new_id) {
            return Err(KeyError::Malformed {
                what: format!("broker key {new_id}"),
                reason: "the new key id is already in the chain".into(),
            });
        }
        let mut layers = self.layers.clone();
        layers.push(HmacKey::new("broker", new_id, secret)?);
        Ok(BrokerKey::of_layers(layers))
    }

    /// The key file of this key and its earlier layers (secrets included:
    /// write it with mode 0600 and never print it).
    pub fn to_key_file_json(&self) -> String {
        let (newest, previous) = self.layers.split_last().expect("at least one layer");
        let previous: Vec<serde_json::Value> = previous
            .iter()
            .map(|l| serde_json::json!({"key_id": l.id, "secret_hex": hex::encode(l.secret.expose())}))
            .collect();
        let mut file = serde_json::json!({
            "kind": "broker",
            "key_id": newest.id,
            "secret_hex": hex::encode(newest.secret.expose()),
        });
        if !previous.is_empty() {
            file["previous"] = serde_json::Value::Array(previous);
        }
        serde_json::to_string_pretty(&file).expect("JSON values serialise")
    }

    /// The pseudonym of the broker's person `person` for recipient
    /// organisation `org`, as 64 lowercase hex characters:
    /// `HMAC-SHA256(K_r, "recipient" ‖ len(org) ‖ org ‖ person)`, with
    /// `K_r = HMAC-SHA256(K_broker, "concord/v1/recipient-pseudonym-key")`
    /// under the newest layer, `len(org)` a big-endian u32 and `person` a
    /// big-endian u64 (so no two (org, person) pairs share a message).
    ///
    /// The same organisation always gets the same value for a person, so it
    /// can recognise them across its own lookups; two organisations get
    /// values that cannot be joined without `K_broker`. Internal person ids
    /// never leave the broker.
    ///
    /// **Rotation**: `K_r` comes from the newest layer, so rotating the
    /// broker key changes every person pseudonym handed out from then on. A
    /// caller holding a pseudonym from before the rotation no longer sees it
    /// again; that is what rotation is for (a leaked key must stop linking
    /// new answers to old ones). The audit log names people by internal id
    /// (`person:N`), which rotation does not change, so who-looked-at-whom
    /// stays answerable across rotations.
    pub fn person_pseudonym(&self, org: &str, person: u64) -> String {
        let mut ctx = hmac::Context::with_key(&self.recipient);
        ctx.update(b"recipient");
        ctx.update(&(org.len() as u32).to_be_bytes());
        ctx.update(org.as_bytes());
        ctx.update(&person.to_be_bytes());
        hex::encode(ctx.sign().as_ref())
    }

    /// Moves a pseudonym stored under the previous layer to this key: the
    /// newest layer applied once.
    pub fn rekey_stored(&self, pseudonym: &Token) -> Token {
        self.layers[self.layers.len() - 1].sign(&[pseudonym.as_bytes()])
    }
}

/// The linkage key, held by duty holders' agents (and by tests); never by
/// the broker in production.
#[derive(Clone)]
pub struct LinkageKey(HmacKey);

debug_id_only!(LinkageKey);

impl LinkageKey {
    pub fn new(id: &str, secret: &[u8]) -> Result<LinkageKey, KeyError> {
        HmacKey::new("linkage", id, secret).map(LinkageKey)
    }

    pub fn from_file(file: &KeyFile, what: &str) -> Result<LinkageKey, KeyError> {
        HmacKey::from_file("linkage", file, what).map(LinkageKey)
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// HMAC-SHA256 of `message` under the linkage key.
    pub fn mac(&self, message: &[u8]) -> Token {
        self.0.sign(&[message])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"kind":"broker","key_id":"bk-2026a","secret_hex":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}"#;

    #[test]
    fn key_files_parse_and_never_print_their_secret() {
        let f = KeyFile::parse(FILE, "keys/broker.json").unwrap();
        assert_eq!(f.key_id, "bk-2026a");
        let shown = format!("{f:?}");
        assert!(!shown.contains("0102"), "{shown}");
        let k = BrokerKey::from_file(&f, "keys/broker.json").unwrap();
        assert!(!format!("{k:?}").contains("0102"));
        assert!(LinkageKey::from_file(&f, "keys/broker.json").is_err());
    }

    #[test]
    fn malformed_files_say_what_is_wrong_without_quoting_them() {
        let err = KeyFile::parse(
            r#"{"kind":"broker","key_id":"bk","secret_hex":"zz"}"#,
            "k.json",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.json is not a key file: the secret is not hex"
        );
        let err = KeyFile::parse("{\"secret_hex\": \"deadbeef\" oops", "k.json").unwrap_err();
        assert!(!err.to_string().contains("deadbeef"), "{err}");
    }

    #[test]
    fn a_rotated_key_gives_what_rekeying_the_stored_pseudonym_gives() {
        let old = BrokerKey::new("bk-2026a", &[7; 32]).unwrap();
        let t = Token([3; 32]);
        let stored = old.pseudonymise("lk-2026a", &t);
        let new = old.rotated("bk-2026b", &[9; 32]).unwrap();
        assert_eq!(new.id(), "bk-2026b");
        assert_eq!(new.rekey_stored(&stored), new.pseudonymise("lk-2026a", &t));
        assert_ne!(
            new.pseudonymise("lk-2026a", &t),
            stored,
            "rotation changes every pseudonym"
        );
        assert!(
            old.rotated("bk-2026a", &[1; 32]).is_err(),
            "ids in a chain are distinct"
        );
        // The chain survives a key file round trip.
        let json = format!(
            r#"{{"kind":"broker","key_id":"bk-2026b","secret_hex":"{}","previous":[{{"key_id":"bk-2026a","secret_hex":"{}"}}]}}"#,
            hex::encode([9u8; 32]),
            hex::encode([7u8; 32])
        );
        let file = KeyFile::parse(&json, "broker.json").unwrap();
        let loaded = BrokerKey::from_file(&file, "broker.json").unwrap();
        let rewritten = KeyFile::parse(&new.to_key_file_json(), "rewritten").unwrap();
        let reloaded = BrokerKey::from_file(&rewritten, "rewritten").unwrap();
        assert_eq!(
            reloaded.pseudonymise("lk-2026a", &t),
            new.pseudonymise("lk-2026a", &t)
        );
        assert_eq!(
            loaded.pseudonymise("lk-2026a", &t),
            new.pseudonymise("lk-2026a", &t)
        );
        assert!(!format!("{loaded:?}").contains("0909"));
    }

    #[test]
    fn person_pseudonyms_are_per_recipient_stable_and_unjoinable() {
        let k = BrokerKey::new("bk-2026a", &[7; 32]).unwrap();
        let a = k.person_pseudonym("rbkc-childrens", 42);
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(a, k.person_pseudonym("rbkc-childrens", 42), "stable");
        assert_ne!(a, k.person_pseudonym("rbkc-adults", 42), "per recipient");
        assert_ne!(a, k.person_pseudonym("rbkc-childrens", 43), "per person");
        // The same key loaded again gives the same values.
        let again = BrokerKey::new("bk-2026a", &[7; 32]).unwrap();
        assert_eq!(a, again.person_pseudonym("rbkc-childrens", 42));
        // Another broker key gives other values.
        let other = BrokerKey::new("bk-2026a", &[8; 32]).unwrap();
        assert_ne!(a, other.person_pseudonym("rbkc-childrens", 42));
        // The value is the documented HMAC, under the derived key.
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]),
            b"concord/v1/recipient-pseudonym-key",
        );
        let mut msg = b"recipient".to_vec();
        msg.extend_from_slice(&14u32.to_be_bytes());
        msg.extend_from_slice(b"rbkc-childrens");
        msg.extend_from_slice(&42u64.to_be_bytes());
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()), &msg);
        assert_eq!(a, hex::encode(expected.as_ref()));
        // It is not the re-keying of anything: the derived key differs.
        assert_ne!(derived.as_ref(), &[7u8; 32][..]);
    }

    #[test]
    fn rotation_changes_person_pseudonyms_and_a_reloaded_chain_agrees() {
        let old = BrokerKey::new("bk-2026a", &[7; 32]).unwrap();
        let new = old.rotated("bk-2026b", &[9; 32]).unwrap();
        assert_ne!(
            old.person_pseudonym("rbkc-childrens", 42),
            new.person_pseudonym("rbkc-childrens", 42)
        );
        let reloaded = BrokerKey::from_file(
            &KeyFile::parse(&new.to_key_file_json(), "rotated").unwrap(),
            "rotated",
        )
        .unwrap();
        assert_eq!(
            reloaded.person_pseudonym("rbkc-childrens", 42),
            new.person_pseudonym("rbkc-childrens", 42)
        );
    }

    #[test]
    fn pseudonyms_are_hmac_of_key_id_and_token() {
        let secret = [7u8; 32];
        let k = BrokerKey::new("bk-2026a", &secret).unwrap();
        let t = Token([3; 32]);
        let p = k.pseudonymise("lk-2026a", &t);
        let mut msg = b"lk-2026a".to_vec();
        msg.extend_from_slice(&[3; 32]);
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &secret), &msg);
        assert_eq!(p.as_bytes().as_slice(), expected.as_ref());
        assert_ne!(p, t);
        assert_ne!(p, k.pseudonymise("lk-2027a", &t), "the key id is bound in");
        let other = BrokerKey::new("bk-2026b", &[8; 32]).unwrap();
        assert_ne!(p, other.pseudonymise("lk-2026a", &t));
    }
}
