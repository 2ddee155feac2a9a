//! Hashing for the token maps.
//!
//! Match-key pseudonyms are HMAC-SHA256 outputs: their bytes are already
//! uniformly distributed, so running them through SipHash again (the std
//! default) buys nothing but time. [`TokenHasher`] folds the token's four
//! 8-byte words with xor and a rotation and finishes with one multiplication
//! by an odd constant (FxHash's). On real pseudonyms the first word alone
//! would do; folding all four costs three more instructions and keeps
//! hand-made test tokens that differ only in their last bytes from
//! colliding. The hasher is not meant to resist chosen inputs: tokens reach
//! the linker only after the broker's own keyed re-hash, which no sender
//! controls.

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// See the module doc.
#[derive(Default, Clone, Copy)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = h.rotate_left(23) ^ w;
        }
        for &b in chunks.remainder() {
            h = h.rotate_left(8) ^ u64::from(b);
        }
        self.0 = h;
    }

    #[inline]
    fn write_usize(&mut self, _len: usize) {
        // The slice length prefix: every token is 32 bytes, nothing to mix.
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(K)
    }
}

/// The linker's identity of a pseudonym: its first 16 bytes. Two different
/// pseudonyms (HMAC-SHA256 outputs) agree on 128 bits with probability
/// 2^-128 per pair, about 10^-23 over the 60 million tokens of a million
/// mk2 records: far below any other error, and the index is half the size.
pub(crate) type TokenKey = u128;

pub(crate) fn token_key(t: &concord_core::Token) -> TokenKey {
    let mut b = [0u8; 16];
    b.copy_from_slice(&t.0[..16]);
    u128::from_le_bytes(b)
}

pub(crate) type TokenMap<V> =
    std::collections::HashMap<TokenKey, V, BuildHasherDefault<TokenHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::Token;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn tokens_differing_late_hash_apart() {
        let b = BuildHasherDefault::<TokenHasher>::default();
        let mut a = [0u8; 32];
        let mut c = [0u8; 32];
        a[31] = 1;
        c[31] = 2;
        assert_ne!(b.hash_one(Token(a)), b.hash_one(Token(c)));
    }
}
