//! The Merkle tree against RFC 6962 test vectors (the 8-leaf tree shared by
//! the Certificate Transparency implementations and transparency-dev/merkle)
//! and against the RFC's recursive definitions, for random trees.

use concord_audit::{
    AuditError, Hash, MerkleLog, empty_root, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the first 1..=8 leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, proof).
const INCLUSION: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn h(s: &str) -> Hash {
    Hash::from_hex(s).unwrap()
}

fn hashes(v: &[&str]) -> Vec<Hash> {
    v.iter().map(|s| h(s)).collect()
}

fn vector_log() -> MerkleLog {
    MerkleLog::from_leaves(LEAVES.iter().map(|l| leaf_hash(&hex::decode(l).unwrap())))
}

fn flip(proof: &[Hash], i: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[i].0[0] ^= 0x10;
    p
}

#[test]
fn roots_match_the_rfc6962_vectors_at_every_size() {
    let log = vector_log();
    assert_eq!(
        log.root_at(0).unwrap(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(empty_root(), log.root_at(0).unwrap());
    let leaves: Vec<Hash> = (0..8).map(|i| log.leaf(i).unwrap()).collect();
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(log.root_at(size).unwrap(), h(want), "size {size}");
        assert_eq!(root(&leaves[..=i]), h(want), "reference root, size {size}");
        // The incremental log, stopped at this size, agrees too.
        let prefix = MerkleLog::from_leaves(leaves[..=i].iter().copied());
        assert_eq!(prefix.root(), h(want));
    }
    assert_eq!(
        log.root_at(9),
        Err(AuditError::SizeOutOfRange { size: 9, limit: 8 })
    );
}

#[test]
fn inclusion_proofs_match_the_vectors_and_corruptions_fail() {
    let log = vector_log();
    for (index, size, want) in INCLUSION {
        let want = hashes(want);
        let proof = log.inclusion_proof(index, size).unwrap();
        assert_eq!(proof, want, "PATH({index}, D[{size}])");
        let leaf = log.leaf(index).unwrap();
        let r = h(ROOTS[size as usize - 1]);
        verify_inclusion(&leaf, index, size, &proof, &r).unwrap();

        // What transparency-dev's verifier tests refuse, refused here too.
        let wrong_leaf = leaf_hash(b"WrongLeaf");
        assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &r).is_err());
        assert!(verify_inclusion(&leaf, index, size, &proof, &empty_root()).is_err());
        assert!(verify_inclusion(&leaf, index + 1, size, &proof, &r).is_err());
        assert!(verify_inclusion(&leaf, index ^ 2, size, &proof, &r).is_err());
        if index > 0 {
            assert!(verify_inclusion(&leaf, index - 1, size, &proof, &r).is_err());
        }
        assert!(verify_inclusion(&leaf, index, size * 2, &proof, &r).is_err());
        assert!(verify_inclusion(&leaf, index, size / 2, &proof, &r).is_err());
        let mut longer = proof.clone();
        longer.push(r);
        assert!(verify_inclusion(&leaf, index, size, &longer, &r).is_err());
        let mut preceded = vec![r];
        preceded.extend(proof.iter().copied());
        assert!(verify_inclusion(&leaf, index, size, &preceded, &r).is_err());
        assert!(verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &r).is_err());
        for i in 0..proof.len() {
            assert_eq!(
                verify_inclusion(&leaf, index, size, &flip(&proof, i), &r),
                Err(AuditError::RootMismatch)
            );
        }
    }
    // A one-leaf tree: the leaf is the root and the proof is empty.
    let one = MerkleLog::from_leaves([leaf_hash(b"data")]);
    assert!(one.inclusion_proof(0, 1).unwrap().is_empty());
    verify_inclusion(&leaf_hash(b"data"), 0, 1, &[], &leaf_hash(b"data")).unwrap();
    assert_eq!(
        verify_inclusion(&leaf_hash(b"data"), 0, 0, &[], &empty_root()),
        Err(AuditError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert!(log.inclusion_proof(8, 8).is_err());
    assert!(log.inclusion_proof(0, 9).is_err());
}

#[test]
fn consistency_proofs_match_the_vectors_and_corruptions_fail() {
    let log = vector_log();
    for (old, new, want) in CONSISTENCY {
        let want = hashes(want);
        let proof = log.consistency_proof(old, new).unwrap();
        assert_eq!(proof, want, "PROOF({old}, D[{new}])");
        let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();

        assert!(
            verify_consistency(old, new, &r2, &r1, &proof).is_err(),
            "swapped roots"
        );
        assert!(verify_consistency(old, new, &leaf_hash(b"x"), &r2, &proof).is_err());
        assert!(verify_consistency(old, new, &r1, &leaf_hash(b"x"), &proof).is_err());
        assert!(verify_consistency(old - 1, new, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(old + 1, new, &r1, &r2, &proof).is_err());
        assert!(verify_consistency(old, new * 2, &r1, &r2, &proof).is_err());
        assert!(
            verify_consistency(old, new, &r1, &r2, &[]).is_err(),
            "empty proof"
        );
        assert!(verify_consistency(old, new, &r1, &r2, &proof[..proof.len() - 1]).is_err());
        let mut longer = proof.clone();
        longer.push(r1);
        assert!(verify_consistency(old, new, &r1, &r2, &longer).is_err());
        for i in 0..proof.len() {
            assert!(verify_consistency(old, new, &r1, &r2, &flip(&proof, i)).is_err());
        }
    }
    // Equal sizes: empty proof, equal roots.
    let r = h(ROOTS[0]);
    assert!(log.consistency_proof(1, 1).unwrap().is_empty());
    verify_consistency(1, 1, &r, &r, &[]).unwrap();
    assert!(verify_consistency(1, 1, &r, &h(ROOTS[1]), &[]).is_err());
    assert!(verify_consistency(1, 1, &r, &r, &[r]).is_err());
    // The empty tree is a prefix of every tree, with the empty root only.
    verify_consistency(0, 8, &empty_root(), &h(ROOTS[7]), &[]).unwrap();
    assert!(verify_consistency(0, 8, &r, &h(ROOTS[7]), &[]).is_err());
    // Time does not run backwards.
    assert!(verify_consistency(2, 1, &h(ROOTS[1]), &r, &[]).is_err());
    assert!(log.consistency_proof(5, 4).is_err());
}

#[test]
fn node_and_leaf_hashes_are_domain_separated() {
    let a = leaf_hash(b"a");
    let b = leaf_hash(b"b");
    let mut joined = vec![0x01];
    joined.extend_from_slice(&a.0);
    joined.extend_from_slice(&b.0);
    // A leaf whose content looks like a node's input hashes differently.
    assert_ne!(leaf_hash(&joined[1..]), node_hash(&a, &b));
}

// ---- The RFC's definitions, literally, as the oracle for random trees. ----

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => node_hash(&mth(&d[..split(n)]), &mth(&d[split(n)..])),
    }
}

/// PATH(m, D[n]).
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[salt, (i >> 8) as u8, i as u8]))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_leaf_fails(
        n in 1usize..300, salt in any::<u8>(), pick in any::<prop::sample::Index>(), size_pick in any::<prop::sample::Index>(),
    ) {
        let d = leaves(n, salt);
        let log = MerkleLog::from_leaves(d.iter().copied());
        let size = size_pick.index(n) + 1;
        let index = pick.index(size);
        let r = log.root_at(size as u64).unwrap();
        prop_assert_eq!(r, mth(&d[..size]));
        let proof = log.inclusion_proof(index as u64, size as u64).unwrap();
        prop_assert_eq!(&proof, &path(index, &d[..size]));
        prop_assert!(verify_inclusion(&d[index], index as u64, size as u64, &proof, &r).is_ok());
        // A wrong leaf, a wrong index, the wrong root: refused.
        let other = leaf_hash(b"not in the log");
        prop_assert!(verify_inclusion(&other, index as u64, size as u64, &proof, &r).is_err());
        if size > 1 {
            let wrong = (index + 1) % size;
            prop_assert!(verify_inclusion(&d[wrong], index as u64, size as u64, &proof, &r).is_err());
            prop_assert!(verify_inclusion(&d[index], wrong as u64, size as u64, &proof, &r).is_err());
        }
        prop_assert!(verify_inclusion(&d[index], index as u64, size as u64, &proof, &other).is_err());
    }

    #[test]
    fn consistency_proofs_verify_for_any_pair_of_sizes(
        n in 1usize..300, salt in any::<u8>(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
    ) {
        let d = leaves(n, salt);
        let log = MerkleLog::from_leaves(d.iter().copied());
        let (x, y) = (a.index(n + 1), b.index(n + 1));
        let (old, new) = (x.min(y), x.max(y));
        let proof = log.consistency_proof(old as u64, new as u64).unwrap();
        if old > 0 && old < new {
            prop_assert_eq!(&proof, &subproof(old, &d[..new], true));
        } else {
            prop_assert!(proof.is_empty());
        }
        let (r1, r2) = (mth(&d[..old]), mth(&d[..new]));
        prop_assert!(verify_consistency(old as u64, new as u64, &r1, &r2, &proof).is_ok());
        // A different old tree of the same size is not a prefix.
        if old > 0 && old < new {
            let mut forked = d[..old].to_vec();
            forked[old - 1] = leaf_hash(b"forked");
            prop_assert!(verify_consistency(old as u64, new as u64, &mth(&forked), &r2, &proof).is_err());
            let mut longer = d[..new].to_vec();
            longer[new - 1] = leaf_hash(b"forked");
            prop_assert!(verify_consistency(old as u64, new as u64, &r1, &mth(&longer), &proof).is_err());
        }
    }
}

/// The frontier (the right edge a batch's tree head is signed from, and
/// what is stored beside it) agrees with the whole tree at every size, and
/// survives its byte form; anything else is refused.
#[test]
fn the_frontier_has_the_root_and_last_leaf_of_the_whole_tree() {
    let leaves: Vec<Hash> = (0..130u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut frontier = concord_audit::Frontier::new();
    assert_eq!(frontier.root(), empty_root());
    let mut log = MerkleLog::new();
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.append(*leaf);
        log.append(*leaf);
        let n = i + 1;
        assert_eq!(frontier.size(), n as u64);
        assert_eq!(frontier.root(), root(&leaves[..n]), "size {n}");
        assert_eq!(frontier.last_leaf(), Some(*leaf));
        assert_eq!(log.frontier(), frontier, "size {n}");
        let bytes = frontier.to_bytes();
        assert_eq!(
            concord_audit::Frontier::from_bytes(&bytes),
            Some(frontier.clone())
        );
        assert_eq!(
            concord_audit::Frontier::from_bytes(&bytes[..bytes.len() - 1]),
            None
        );
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 32]);
        assert_eq!(concord_audit::Frontier::from_bytes(&longer), None);
    }
    let empty = concord_audit::Frontier::new();
    assert_eq!(
        concord_audit::Frontier::from_bytes(&empty.to_bytes()),
        Some(empty)
    );
    assert_eq!(concord_audit::Frontier::from_bytes(&[0; 7]), None);
}
