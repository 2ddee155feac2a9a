//! Signed checkpoints: the broker's Ed25519 signature over a tree size and
//! root, in the C2SP `tlog-checkpoint` / `signed-note` form.
//!
//! The signed text (the note body) is
//!
//! ```text
//! concord-audit/ak-2026a
//! 20
//! <base64 of the 32-byte root>
//! time 2026-11-22T10:00:00Z
//! ```
//!
//! (origin line, decimal size, standard base64 root with padding, then one
//! extension line; every line ends in `\n`). As a note, a blank line and
//! `— concord-audit/ak-2026a <base64(key hash ‖ signature)>` follow, where
//! the key hash is the first four bytes of
//! `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`, so standard note verifiers
//! can check it given the key in `vkey` form ([`AuditSigner::vkey`]).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use concord_core::is_key_id;
use concord_keys::KeyFile;
use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::{AuditError, Hash, MerkleLog};

/// The origin (and signer name) prefix.
pub const ORIGIN_PREFIX: &str = "concord-audit/";

/// Signed-note signature type of Ed25519.
const ED25519_TYPE: u8 = 0x01;

/// A tree head: the log had `size` events with this `root` at `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub size: u64,
    pub root: Hash,
    pub time: DateTime<Utc>,
    /// The audit signing key's id (`ak-2026a`).
    pub key_id: String,
}

impl Checkpoint {
    /// The checkpoint of `log` as it is now.
    pub fn of(log: &MerkleLog, time: DateTime<Utc>, key_id: &str) -> Checkpoint {
        Checkpoint {
            size: log.size(),
            root: log.root(),
            time,
            key_id: key_id.to_owned(),
        }
    }

    /// `concord-audit/<key_id>`: the origin line and the signer's name.
    pub fn origin(&self) -> String {
        format!("{ORIGIN_PREFIX}{}", self.key_id)
    }

    /// The exact text that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin(),
            self.size,
            base64::encode(&self.root.0),
            self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        )
    }

    /// Parses a body, refusing anything [`Checkpoint::body`] would not
    /// have written.
    pub fn parse_body(text: &str) -> Result<Checkpoint, AuditError> {
        let bad = |r: &str| AuditError::MalformedCheckpoint(r.to_owned());
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the body must end in a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root, time] = lines[..] else {
            return Err(bad("expected four lines: origin, size, root, time"));
        };
        let key_id = origin
            .strip_prefix(ORIGIN_PREFIX)
            .filter(|id| is_key_id(id))
            .ok_or_else(|| bad("the origin must be concord-audit/<key id>"))?;
        let size: u64 = size.parse().map_err(|_| bad("the size is not a number"))?;
        let root = base64::decode(root)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Hash)
            .ok_or_else(|| bad("the root is not 32 bytes of base64"))?;
        let time = time
            .strip_prefix("time ")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| bad("the last line must be `time <RFC 3339>`"))?
            .with_timezone(&Utc);
        let checkpoint = Checkpoint {
            size,
            root,
            time,
            key_id: key_id.to_owned(),
        };
        if checkpoint.body() != text {
            return Err(bad("not in canonical form"));
        }
        Ok(checkpoint)
    }

    /// Signs this checkpoint; `signer` must hold the key it names.
    pub fn sign(&self, signer: &AuditSigner) -> Result<SignedCheckpoint, AuditError> {
        if self.key_id != signer.key_id {
            return Err(AuditError::KeyMismatch {
                checkpoint: self.key_id.clone(),
                signer: signer.key_id.clone(),
            });
        }
        let sig = signer.pair.sign(self.body().as_bytes());
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig.as_ref());
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            key_hash: key_hash(&self.origin(), signer.pair.public_key().as_ref()),
            signature,
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "size {} root {} at {} ({})",
            self.size,
            self.root,
            self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.key_id
        )
    }
}

/// The four-byte key hash of a signed-note Ed25519 key.
fn key_hash(name: &str, public_key: &[u8]) -> [u8; 4] {
    let mut input = Vec::with_capacity(name.len() + 2 + public_key.len());
    input.extend_from_slice(name.as_bytes());
    input.push(b'\n');
    input.push(ED25519_TYPE);
    input.extend_from_slice(public_key);
    let d = digest(&SHA256, &input);
    let mut out = [0u8; 4];
    out.copy_from_slice(&d.as_ref()[..4]);
    out
}

/// A checkpoint with the broker's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// Names the signing key (signed-note key hash).
    pub key_hash: [u8; 4],
    pub signature: [u8; 64],
}

impl SignedCheckpoint {
    /// Checks the signature with an Ed25519 public key (32 bytes).
    pub fn verify(&self, public_key: &[u8]) -> Result<(), AuditError> {
        let origin = self.checkpoint.origin();
        if self.key_hash != key_hash(&origin, public_key) {
            return Err(AuditError::WrongKey { signer: origin });
        }
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(self.checkpoint.body().as_bytes(), &self.signature)
            .map_err(|_| AuditError::BadSignature)
    }

    /// The signed note: body, blank line, signature line.
    pub fn to_note(&self) -> String {
        let mut sig = Vec::with_capacity(68);
        sig.extend_from_slice(&self.key_hash);
        sig.extend_from_slice(&self.signature);
        format!(
            "{}\n\u{2014} {} {}\n",
            self.checkpoint.body(),
            self.checkpoint.origin(),
            base64::encode(&sig)
        )
    }

    /// Parses a signed note. Signature lines by other names (witnesses'
    /// cosignatures) are skipped; the one by the checkpoint's origin is
    /// required.
    pub fn from_note(text: &str) -> Result<SignedCheckpoint, AuditError> {
        let bad = |r: &str| AuditError::MalformedCheckpoint(r.to_owned());
        let split = text
            .find("\n\n")
            .ok_or_else(|| bad("a signed note needs a blank line before its signatures"))?;
        let checkpoint = Checkpoint::parse_body(&text[..split + 1])?;
        let origin = checkpoint.origin();
        let sigs = text[split + 2..]
            .strip_suffix('\n')
            .ok_or_else(|| bad("the note must end in a newline"))?;
        for line in sigs.split('\n') {
            let mut parts = line.split(' ');
            let (Some("\u{2014}"), Some(name), Some(sig), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("a signature line must be `\u{2014} <name> <base64>`"));
            };
            if name != origin {
                continue;
            }
            let sig = base64::decode(sig)
                .filter(|s| s.len() == 68)
                .ok_or_else(|| bad("an Ed25519 signature is 68 bytes of base64"))?;
            let mut key_hash = [0u8; 4];
            key_hash.copy_from_slice(&sig[..4]);
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&sig[4..]);
            return Ok(SignedCheckpoint {
                checkpoint,
                key_hash,
                signature,
            });
        }
        Err(bad("no signature by the checkpoint's origin"))
    }
}

/// The broker's audit signing key (Ed25519). Debug shows the key id only.
pub struct AuditSigner {
    key_id: String,
    pair: Ed25519KeyPair,
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// The signer of a `kind: "audit_signing"` key file, whose secret is an
    /// Ed25519 PKCS#8 v2 document (as `concord pki init` writes it).
    pub fn from_key_file(file: &KeyFile) -> Result<AuditSigner, AuditError> {
        let key_error = |reason: &'static str| AuditError::Key {
            key_id: file.key_id.clone(),
            reason,
        };
        if file.kind != "audit_signing" {
            return Err(key_error("is not an audit_signing key"));
        }
        if !is_key_id(&file.key_id) {
            return Err(key_error("has a malformed key id"));
        }
        let pair = Ed25519KeyPair::from_pkcs8(file.secret.expose())
            .map_err(|_| key_error("is not an Ed25519 PKCS#8 v2 document"))?;
        Ok(AuditSigner {
            key_id: file.key_id.clone(),
            pair,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The 32-byte Ed25519 public key: what verifiers are given.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// The public key as a signed-note verifier key,
    /// `<name>+<key hash hex>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        let name = format!("{ORIGIN_PREFIX}{}", self.key_id);
        let public_key = self.public_key();
        let mut typed = vec![ED25519_TYPE];
        typed.extend_from_slice(&public_key);
        format!(
            "{name}+{}+{}",
            hex::encode(key_hash(&name, &public_key)),
            base64::encode(&typed)
        )
    }

    /// Signs the checkpoint of `log` as it is now.
    pub fn checkpoint(&self, log: &MerkleLog, time: DateTime<Utc>) -> SignedCheckpoint {
        Checkpoint::of(log, time, &self.key_id)
            .sign(self)
            .expect("the checkpoint names this signer's key")
    }
}

/// Parses a signed-note verifier key (`concord-audit/<key id>+<key hash
/// hex>+<base64(0x01 ‖ public key)>`, as [`AuditSigner::vkey`] writes it);
/// returns the key id and the 32-byte Ed25519 public key. The key hash must
/// match the name and key.
pub fn parse_vkey(vkey: &str) -> Result<(String, [u8; 32]), AuditError> {
    let bad = |reason: &'static str| AuditError::Key {
        key_id: "in the verifier key".to_owned(),
        reason,
    };
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(hash), Some(key), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("must be <name>+<key hash>+<key>"));
    };
    let key_id = name
        .strip_prefix(ORIGIN_PREFIX)
        .filter(|id| is_key_id(id))
        .ok_or_else(|| bad("must be named concord-audit/<key id>"))?;
    let typed = base64::decode(key).ok_or_else(|| bad("has a key that is not base64"))?;
    let [ED25519_TYPE, public_key @ ..] = typed.as_slice() else {
        return Err(bad("is not an Ed25519 key"));
    };
    let public_key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| bad("is not a 32-byte Ed25519 key"))?;
    if hex::encode(key_hash(name, &public_key)) != hash {
        return Err(bad("has a key hash that does not match its name and key"));
    }
    Ok((key_id.to_owned(), public_key))
}

/// Standard base64 (RFC 4648 §4) with padding.
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes canonical base64 only (padding present, unused bits zero).
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let s = s.as_bytes();
        if !s.len().is_multiple_of(4) {
            return None;
        }
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        for (i, chunk) in s.chunks(4).enumerate() {
            let last = i == s.len() / 4 - 1;
            let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 || (pad > 0 && !last) {
                return None;
            }
            let mut n = 0u32;
            for &c in &chunk[..4 - pad] {
                let v = ALPHABET.iter().position(|&a| a == c)? as u32;
                n = (n << 6) | v;
            }
            n <<= 6 * pad as u32;
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        (encode(&out).as_bytes() == s).then_some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn rfc4648_vectors_round_trip() {
            for (plain, coded) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(super::encode(plain.as_bytes()), coded);
                assert_eq!(super::decode(coded).unwrap(), plain.as_bytes());
            }
            assert_eq!(super::decode("Zh=="), None, "non-zero unused bits");
            assert_eq!(super::decode("Zg="), None);
            assert_eq!(super::decode("Z==="), None);
            assert_eq!(super::decode("Zg==Zg=="), None);
            assert_eq!(super::decode("Zm9*"), None);
        }
    }
}
