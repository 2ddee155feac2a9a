//! The RFC 6962 Merkle hash tree (§2.1), its proofs, and [`MerkleLog`].
//!
//! * leaf hash `SHA-256(0x00 ‖ leaf)`, node hash `SHA-256(0x01 ‖ left ‖ right)`,
//!   the empty tree's hash `SHA-256("")`;
//! * a tree of `n > 1` leaves splits at `k`, the largest power of two
//!   smaller than `n`: `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`;
//! * proofs are generated as RFC 6962 §2.1.1 (`PATH`) and §2.1.2 (`PROOF`,
//!   `SUBPROOF`) define them and verified with the algorithms of RFC 9162
//!   §2.1.3.2 and §2.1.4.2 (which spell out how to check what RFC 6962
//!   describes), so any CT-style client can check our proofs.

use std::fmt;

use ring::digest::{Context, SHA256, digest};

use crate::AuditError;

/// A SHA-256 value: a leaf hash, a node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeros: the `prev` link of the first event.
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Hash(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Hash(out)
}

/// The hash of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, b"").as_ref());
    Hash(out)
}

/// `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    sha256(&[&[0x00], leaf])
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous buffer: a single digest call is faster than three updates.
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &buf).as_ref());
    Hash(out)
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[n])` over leaf hashes, by the RFC's recursive definition. This is
/// the reference; [`MerkleLog`] computes the same from cached subtrees.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// How many hashes `PATH(index, D[size])` holds.
fn inclusion_len(index: u64, size: u64) -> usize {
    if size <= 1 {
        return 0;
    }
    let k = split(size);
    1 + if index < k {
        inclusion_len(index, k)
    } else {
        inclusion_len(index - k, size - k)
    }
}

/// How many hashes `SUBPROOF(m, D[n], complete)` holds.
fn consistency_len(m: u64, n: u64, complete: bool) -> usize {
    if m == n {
        return usize::from(!complete);
    }
    let k = split(n);
    1 + if m <= k {
        consistency_len(m, k, complete)
    } else {
        consistency_len(m - k, n - k, false)
    }
}

/// Checks that `proof` shows the leaf with hash `leaf` at `index` in the
/// tree of `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    let need = inclusion_len(index, size);
    if proof.len() != need {
        return Err(AuditError::ProofLength {
            got: proof.len(),
            need,
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(AuditError::RootMismatch);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    // The length check above means the walk ends at the root (s == 0).
    if s == 0 && r == *root {
        Ok(())
    } else {
        Err(AuditError::RootMismatch)
    }
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`
/// (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. An empty old tree is a
/// prefix of every tree, but its root must then be the empty tree's hash.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), AuditError> {
    if old_size > new_size {
        return Err(AuditError::SizeOutOfRange {
            size: old_size,
            limit: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(AuditError::ProofLength {
                got: proof.len(),
                need: 0,
            });
        }
        let same = if old_size == 0 {
            *old_root == empty_root()
        } else {
            old_root == new_root
        };
        return if same {
            Ok(())
        } else {
            Err(AuditError::RootMismatch)
        };
    }
    let need = consistency_len(old_size, new_size, true);
    if proof.len() != need {
        return Err(AuditError::ProofLength {
            got: proof.len(),
            need,
        });
    }
    // A complete old tree is itself the first node of the path.
    let (start, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut fr, mut sr) = (start, start);
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    for c in rest {
        if s == 0 {
            return Err(AuditError::RootMismatch);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(AuditError::RootMismatch)
    }
}

/// The right edge of a Merkle log: the roots of its complete subtrees, one
/// per set bit of its size, largest (leftmost) first, and its last leaf.
/// Enough to compute the root after more leaves and the next event's
/// `prev` without holding the leaves before: what the writer signs each
/// batch's tree head from, and what is stored beside each head
/// ([`Frontier::to_bytes`]) so a broker can start without reading every
/// leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(height, hash)`, heights strictly decreasing.
    nodes: Vec<(u32, Hash)>,
    last_leaf: Option<Hash>,
}

impl Frontier {
    /// The frontier of the empty log.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Leaves in the log.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The last leaf hash (the next event's `prev`), if any.
    pub fn last_leaf(&self) -> Option<Hash> {
        self.last_leaf
    }

    /// Adds a leaf hash: at most `log2 n` node hashes.
    pub fn append(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.nodes.last() {
            if h != node.0 {
                break;
            }
            self.nodes.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1;
        self.last_leaf = Some(leaf);
    }

    /// `MTH` of the whole log (RFC 6962): the complete subtrees folded
    /// from the right.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(&(_, mut acc)) = nodes.next() else {
            return empty_root();
        };
        for (_, left) in nodes {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// `size` (8 bytes, big-endian), the last leaf (32 bytes, when the log
    /// is not empty), then each subtree root (32 bytes), largest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * (self.nodes.len() + 1));
        out.extend_from_slice(&self.size.to_be_bytes());
        if let Some(leaf) = self.last_leaf {
            out.extend_from_slice(&leaf.0);
        }
        for (_, h) in &self.nodes {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Parses [`Frontier::to_bytes`]; `None` unless the length fits the
    /// size exactly.
    pub fn from_bytes(bytes: &[u8]) -> Option<Frontier> {
        let (size, rest) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        let ones = size.count_ones() as usize;
        let leaf_len = if size == 0 { 0 } else { 32 };
        if rest.len() != leaf_len + 32 * ones {
            return None;
        }
        let hash = |b: &[u8]| Hash(b.try_into().expect("32 bytes"));
        let last_leaf = (size > 0).then(|| hash(&rest[..32]));
        let heights = (0..64u32).rev().filter(|h| size >> h & 1 == 1);
        let nodes = heights
            .zip(rest[leaf_len..].chunks_exact(32))
            .map(|(h, b)| (h, hash(b)))
            .collect();
        Some(Frontier {
            size,
            nodes,
            last_leaf,
        })
    }
}

/// An append-only Merkle log held in memory.
///
/// Keeps every complete, aligned subtree: `levels[h][i]` is the hash of
/// leaves `i·2^h .. (i+1)·2^h`. An append stores the leaf and hashes the
/// subtrees it completes (one node hash on average, at most `log2 n`), so
/// appends are amortised O(1). The root of any earlier size, and every
/// RFC 6962 subtree a proof needs, is then O(log n) lookups and hashes along
/// the right edge. Memory: about 64 bytes per leaf.
#[derive(Clone, Default)]
pub struct MerkleLog {
    levels: Vec<Vec<Hash>>,
}

impl fmt::Debug for MerkleLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleLog")
            .field("size", &self.size())
            .field("root", &self.root())
            .finish()
    }
}

impl MerkleLog {
    pub fn new() -> MerkleLog {
        MerkleLog::default()
    }

    /// A log holding these leaf hashes, in order.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> MerkleLog {
        let mut log = MerkleLog::new();
        for leaf in leaves {
            log.append(leaf);
        }
        log
    }

    /// How many leaves the log holds.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// The hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The last leaf hash: what the next event's `prev` must be.
    pub fn last_leaf(&self) -> Option<Hash> {
        self.levels.first()?.last().copied()
    }

    /// Appends a leaf hash; returns its index.
    pub fn append(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = self.levels[0].len() as u64 - 1;
        let mut h = 0;
        while self.levels[h].len().is_multiple_of(2) {
            let n = self.levels[h].len();
            let node = node_hash(&self.levels[h][n - 2], &self.levels[h][n - 1]);
            if self.levels.len() == h + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[h + 1].push(node);
            h += 1;
        }
        index
    }

    /// The log's right edge (see [`Frontier`]).
    pub fn frontier(&self) -> Frontier {
        let size = self.size();
        let mut nodes = Vec::new();
        let mut lo = 0u64;
        for h in (0..64u32).rev() {
            if size >> h & 1 == 1 {
                nodes.push((h, self.levels[h as usize][(lo >> h) as usize]));
                lo += 1 << h;
            }
        }
        Frontier {
            size,
            nodes,
            last_leaf: self.last_leaf(),
        }
    }

    /// The root of the whole log.
    pub fn root(&self) -> Hash {
        self.subtree(0, self.size())
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// `PATH(index, D[0:size])` (RFC 6962 §2.1.1): the inclusion proof of
    /// leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(size)?;
        if index >= size {
            return Err(AuditError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::with_capacity(inclusion_len(index, size));
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    /// `PROOF(old_size, D[0:new_size])` (RFC 6962 §2.1.2): shows that the
    /// tree of the first `old_size` leaves is a prefix of the tree of the
    /// first `new_size`. Empty when `old_size` is 0 or equals `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(AuditError::SizeOutOfRange {
                size: old_size,
                limit: new_size,
            });
        }
        if old_size == 0 || old_size == new_size {
            return Ok(Vec::new());
        }
        let mut proof = Vec::with_capacity(consistency_len(old_size, new_size, true));
        self.subproof(old_size, 0, new_size, true, &mut proof);
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), AuditError> {
        if size > self.size() {
            Err(AuditError::SizeOutOfRange {
                size,
                limit: self.size(),
            })
        } else {
            Ok(())
        }
    }

    /// `MTH(D[lo:hi])`, `hi <= size`.
    fn subtree(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let h = n.trailing_zeros() as usize;
            return self.levels[h][(lo >> h) as usize];
        }
        let k = split(n);
        node_hash(&self.subtree(lo, lo + k), &self.subtree(lo + k, hi))
    }

    /// `PATH(m, D[lo:hi])`, deepest sibling first.
    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, lo, lo + k, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.path(m - k, lo + k, hi, out);
            out.push(self.subtree(lo, lo + k));
        }
    }

    /// `SUBPROOF(m, D[lo:hi], complete)`.
    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.subtree(lo, hi));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.subtree(lo, lo + k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k, "n = {n}");
        }
        assert_eq!(split(u64::MAX), 1 << 63);
    }

    #[test]
    fn proof_lengths_match_what_is_generated() {
        let log = MerkleLog::from_leaves((0..40u8).map(|i| leaf_hash(&[i])));
        for size in 1..=40 {
            for index in 0..size {
                let p = log.inclusion_proof(index, size).unwrap();
                assert_eq!(p.len(), inclusion_len(index, size));
            }
            for old in 1..size {
                let p = log.consistency_proof(old, size).unwrap();
                assert_eq!(p.len(), consistency_len(old, size, true));
            }
        }
    }
}
