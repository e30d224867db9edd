//! # custodia-merkle
//!
//! The Merkle tree of Certificate Transparency (RFC 6962, as restated in RFC 9162 §2.1) over
//! the entries of Custodia's access log.
//!
//! - [`Frontier`] is all a contract keeps: the tree size and the roots of its perfect subtrees
//!   (one per set bit of the size, so at most 64 hashes). Appending is amortised one node hash;
//!   the root follows from the frontier.
//! - Anyone holding the entries (rebuilt from the log's events) puts their leaf hashes in a
//!   [`Tree`], builds an inclusion proof for any entry and a consistency proof between any two
//!   sizes, and anyone checks them against a root the chain recorded with [`verify_inclusion`]
//!   and [`verify_consistency`]. An inclusion proof in a tree of n leaves holds at most
//!   ⌈log2 n⌉ hashes ([`ceil_log2`]); a consistency proof at most ⌈log2 n⌉ + 1.
//!
//! Hashes: leaf = H(0x00 ‖ entry), node = H(0x01 ‖ left ‖ right), empty tree = H(""), with the
//! [`Hasher`] the caller picks (SHA-256 for RFC 6962 compatibility: [`Sha256`] on hosts, the
//! chain's SHA-256 host function in contracts). `no_std` with `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// A hash function with 32-byte output.
pub trait Hasher {
    /// The digest of `data`.
    fn digest(data: &[u8]) -> Hash;
}

/// SHA-256 from the `sha2` crate.
#[cfg(feature = "sha2")]
pub struct Sha256;

#[cfg(feature = "sha2")]
impl Hasher for Sha256 {
    fn digest(data: &[u8]) -> Hash {
        use sha2::Digest;
        sha2::Sha256::digest(data).into()
    }
}

/// H(0x00 ‖ entry): the hash of a leaf.
pub fn leaf_hash<H: Hasher>(entry: &[u8]) -> Hash {
    leaf_hash_into::<H>(&mut Vec::with_capacity(entry.len().saturating_add(1)), |buffer| {
        buffer.extend_from_slice(entry)
    })
}

/// H(0x00 ‖ entry), where `write_entry` writes the entry into a scratch buffer that the caller
/// reuses across leaves (a contract's allocator never frees, so a batch must not allocate per
/// leaf).
pub fn leaf_hash_into<H: Hasher>(scratch: &mut Vec<u8>, write_entry: impl FnOnce(&mut Vec<u8>)) -> Hash {
    scratch.clear();
    scratch.push(0x00);
    write_entry(scratch);
    H::digest(scratch)
}

/// H(0x01 ‖ left ‖ right): the hash of an inner node.
pub fn node_hash<H: Hasher>(left: &Hash, right: &Hash) -> Hash {
    let mut data = [0u8; 65];
    data[0] = 0x01;
    data[1..33].copy_from_slice(left);
    data[33..].copy_from_slice(right);
    H::digest(&data)
}

/// The root of the empty tree, H("").
pub fn empty_root<H: Hasher>() -> Hash {
    H::digest(&[])
}

/// What a log keeps to append and to know its root: the size and the perfect-subtree roots,
/// largest (leftmost) first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    /// Number of leaves.
    pub size: u64,
    /// Roots of the perfect subtrees, one per set bit of `size`, largest first.
    pub peaks: Vec<Hash>,
}

impl Frontier {
    /// Appends a leaf hash; returns its index.
    pub fn append<H: Hasher>(&mut self, leaf: Hash) -> u64 {
        let index = self.size;
        let mut node = leaf;
        let mut carry = self.size;
        while carry & 1 == 1 {
            match self.peaks.pop() {
                Some(left) => node = node_hash::<H>(&left, &node),
                None => break,
            }
            carry >>= 1;
        }
        self.peaks.push(node);
        self.size = self.size.saturating_add(1);
        index
    }

    /// The tree's root.
    pub fn root<H: Hasher>(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root::<H>();
        };
        peaks.fold(*last, |right, left| node_hash::<H>(left, &right))
    }
}

/// The largest power of two strictly below `n` (`n` ≥ 2).
#[cfg(feature = "tree")]
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(feature = "tree")]
pub use tree::Tree;

/// Proof building over all of a log's leaves: hosts only (contracts keep a [`Frontier`]). Sizes
/// and indices are below 2^63 and every subtraction is guarded by the range checks of the
/// public methods, so the index arithmetic cannot overflow.
#[cfg(feature = "tree")]
#[allow(clippy::arithmetic_side_effects)]
mod tree {
    use super::*;

    /// All leaf hashes of a log and its perfect subtrees, for building proofs against any earlier
    /// size: what an auditor or a client rebuilds from the log's events. Memory: 2n hashes; a root
    /// or proof costs O(log² n) hashes.
    #[derive(Clone, Debug, Default)]
    pub struct Tree {
        /// `levels[h][i]` is the root of the perfect subtree over leaves `i·2^h .. (i+1)·2^h`.
        levels: Vec<Vec<Hash>>,
    }

    impl Tree {
        /// An empty tree.
        pub fn new() -> Self {
            Self::default()
        }

        /// A tree over `leaves` (leaf hashes).
        pub fn from_leaves<H: Hasher>(leaves: impl IntoIterator<Item = Hash>) -> Self {
            let mut tree = Self::new();
            for leaf in leaves {
                tree.push::<H>(leaf);
            }
            tree
        }

        /// Number of leaves.
        pub fn len(&self) -> u64 {
            self.levels.first().map_or(0, |leaves| leaves.len() as u64)
        }

        /// True if the tree has no leaf.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The leaf hash at `index`.
        pub fn leaf(&self, index: u64) -> Option<Hash> {
            self.levels.first()?.get(usize::try_from(index).ok()?).copied()
        }

        /// Appends a leaf hash; returns its index.
        pub fn push<H: Hasher>(&mut self, leaf: Hash) -> u64 {
            let index = self.len();
            let mut node = leaf;
            let mut height = 0;
            loop {
                if self.levels.len() == height {
                    self.levels.push(Vec::new());
                }
                let level = &mut self.levels[height];
                level.push(node);
                if level.len() % 2 == 1 {
                    break;
                }
                node = node_hash::<H>(&level[level.len() - 2], &level[level.len() - 1]);
                height += 1;
            }
            index
        }

        /// MTH of the first `size` leaves.
        pub fn root<H: Hasher>(&self, size: u64) -> Option<Hash> {
            (size <= self.len()).then(|| self.range_root::<H>(0, size))
        }

        /// MTH(D[start..end]), where `start` is a multiple of the largest power of two ≤ end-start
        /// (true of every range RFC 6962's recursion visits).
        fn range_root<H: Hasher>(&self, start: u64, end: u64) -> Hash {
            let n = end - start;
            if n == 0 {
                return empty_root::<H>();
            }
            if n.is_power_of_two() {
                let height = n.trailing_zeros() as usize;
                return self.levels[height][(start >> height) as usize];
            }
            let k = split(n);
            node_hash::<H>(&self.range_root::<H>(start, start + k), &self.range_root::<H>(start + k, end))
        }

        /// `PATH(index, D[size])`: the inclusion proof of leaf `index` in the tree of the first `size`
        /// leaves, deepest sibling first. `None` unless index < size ≤ len.
        pub fn inclusion_proof<H: Hasher>(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
            if index >= size || size > self.len() {
                return None;
            }
            let mut proof = Vec::new();
            self.path::<H>(index, 0, size, &mut proof);
            Some(proof)
        }

        fn path<H: Hasher>(&self, index: u64, start: u64, end: u64, proof: &mut Vec<Hash>) {
            let n = end - start;
            if n <= 1 {
                return;
            }
            let k = split(n);
            if index < k {
                self.path::<H>(index, start, start + k, proof);
                proof.push(self.range_root::<H>(start + k, end));
            } else {
                self.path::<H>(index - k, start + k, end, proof);
                proof.push(self.range_root::<H>(start, start + k));
            }
        }

        /// `PROOF(old_size, D[new_size])`: the consistency proof between the trees of the first
        /// `old_size` and the first `new_size` leaves. `None` unless 0 < old_size ≤ new_size ≤ len.
        pub fn consistency_proof<H: Hasher>(&self, old_size: u64, new_size: u64) -> Option<Vec<Hash>> {
            if old_size == 0 || old_size > new_size || new_size > self.len() {
                return None;
            }
            let mut proof = Vec::new();
            self.subproof::<H>(old_size, 0, new_size, true, &mut proof);
            Some(proof)
        }

        fn subproof<H: Hasher>(&self, m: u64, start: u64, end: u64, whole: bool, proof: &mut Vec<Hash>) {
            let n = end - start;
            if m == n {
                if !whole {
                    proof.push(self.range_root::<H>(start, end));
                }
                return;
            }
            let k = split(n);
            if m <= k {
                self.subproof::<H>(m, start, start + k, whole, proof);
                proof.push(self.range_root::<H>(start + k, end));
            } else {
                self.subproof::<H>(m - k, start + k, end, false, proof);
                proof.push(self.range_root::<H>(start, start + k));
            }
        }
    }
}

/// Checks that `leaf` (a leaf hash) is entry `index` of the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion<H: Hasher>(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size.saturating_sub(1));
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash::<H>(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash::<H>(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Checks that the tree of `old_size` leaves with `old_root` is a prefix of the tree of
/// `new_size` leaves with `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency<H: Hasher>(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root::<H>();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len().saturating_add(1));
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old_size.saturating_sub(1), new_size.saturating_sub(1));
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash::<H>(c, &fr);
            sr = node_hash::<H>(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash::<H>(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

/// ⌈log2 n⌉ (0 for n ≤ 1): the most hashes an inclusion proof in a tree of n leaves holds.
pub fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64u32.saturating_sub(n.saturating_sub(1).leading_zeros())
    }
}
