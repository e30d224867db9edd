//! The published vectors, exhaustive inclusion and consistency checks, and single-bit tampering.

use custodia_merkle::{ceil_log2, leaf_hash, verify_consistency, verify_inclusion, Frontier, Hash, Sha256, Tree};
use serde_json::Value;

fn hash(hex_str: &str) -> Hash {
    hex::decode(hex_str).expect("hex").try_into().expect("32 bytes")
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array().expect("array").iter().map(|h| hash(h.as_str().expect("hex"))).collect()
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("../vectors.json")).expect("vectors.json parses")
}

fn vector_tree() -> Tree {
    let leaves = vectors()["leaves"].as_array().expect("leaves").clone();
    Tree::from_leaves::<Sha256>(
        leaves.iter().map(|l| leaf_hash::<Sha256>(&hex::decode(l.as_str().expect("hex")).expect("hex"))),
    )
}

#[test]
fn roots_match_the_published_vectors() {
    let v = vectors();
    let tree = vector_tree();
    let mut frontier = Frontier::default();
    assert_eq!(frontier.root::<Sha256>(), hash(v["roots"]["0"].as_str().unwrap()));
    for size in 1..=8u64 {
        frontier.append::<Sha256>(tree.leaf(size - 1).unwrap());
        let expected = hash(v["roots"][size.to_string()].as_str().unwrap());
        assert_eq!(tree.root::<Sha256>(size), Some(expected), "tree root of size {size}");
        assert_eq!(frontier.root::<Sha256>(), expected, "frontier root of size {size}");
    }
}

#[test]
fn proofs_match_the_published_vectors() {
    let v = vectors();
    let tree = vector_tree();
    for case in v["inclusion"].as_array().unwrap() {
        let (index, size) = (case["index"].as_u64().unwrap(), case["size"].as_u64().unwrap());
        let expected = hashes(&case["path"]);
        assert_eq!(tree.inclusion_proof::<Sha256>(index, size), Some(expected.clone()), "inclusion {index} in {size}");
        let root = tree.root::<Sha256>(size).unwrap();
        assert!(verify_inclusion::<Sha256>(&tree.leaf(index).unwrap(), index, size, &expected, &root));
    }
    for case in v["consistency"].as_array().unwrap() {
        let (old, new) = (case["old"].as_u64().unwrap(), case["new"].as_u64().unwrap());
        let expected = hashes(&case["proof"]);
        assert_eq!(tree.consistency_proof::<Sha256>(old, new), Some(expected.clone()), "consistency {old}->{new}");
        let (old_root, new_root) = (tree.root::<Sha256>(old).unwrap(), tree.root::<Sha256>(new).unwrap());
        assert!(verify_consistency::<Sha256>(old, new, &old_root, &new_root, &expected));
    }
}

fn entry(i: u64) -> Vec<u8> {
    format!("access entry {i}").into_bytes()
}

#[test]
fn every_entry_is_provably_included_for_every_size_up_to_1000() {
    let mut tree = Tree::new();
    let mut frontier = Frontier::default();
    for size in 1..=1000u64 {
        let leaf = leaf_hash::<Sha256>(&entry(size - 1));
        assert_eq!(tree.push::<Sha256>(leaf), size - 1);
        assert_eq!(frontier.append::<Sha256>(leaf), size - 1);
        assert!(frontier.peaks.len() as u32 == size.count_ones(), "one peak per set bit");
        let root = frontier.root::<Sha256>();
        assert_eq!(tree.root::<Sha256>(size), Some(root));
        for index in 0..size {
            let proof = tree.inclusion_proof::<Sha256>(index, size).unwrap();
            assert!(proof.len() as u32 <= ceil_log2(size), "proof of {index} in {size} too long");
            let leaf = tree.leaf(index).unwrap();
            assert!(verify_inclusion::<Sha256>(&leaf, index, size, &proof, &root), "{index} in {size}");
        }
    }
}

#[test]
fn every_pair_of_sizes_up_to_128_is_provably_consistent() {
    let tree = Tree::from_leaves::<Sha256>((0..128).map(|i| leaf_hash::<Sha256>(&entry(i))));
    for new in 1..=128u64 {
        let new_root = tree.root::<Sha256>(new).unwrap();
        for old in 1..=new {
            let old_root = tree.root::<Sha256>(old).unwrap();
            let proof = tree.consistency_proof::<Sha256>(old, new).unwrap();
            assert!(proof.len() as u32 <= ceil_log2(new) + 1, "{old}->{new} too long");
            assert!(verify_consistency::<Sha256>(old, new, &old_root, &new_root, &proof), "{old}->{new}");
            if old < new {
                // Swapping the roots, or claiming the wrong sizes, fails.
                assert!(!verify_consistency::<Sha256>(old, new, &new_root, &old_root, &proof));
                assert!(!verify_consistency::<Sha256>(new, old, &new_root, &old_root, &proof));
            }
        }
    }
}

fn flipped(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

fn flipped_hash(hash: &Hash, bit: usize) -> Hash {
    flipped(hash, bit).try_into().unwrap()
}

#[test]
fn every_single_bit_change_to_an_entry_a_proof_or_a_root_is_detected() {
    for size in [1u64, 2, 3, 5, 7, 8, 13, 33] {
        let tree = Tree::from_leaves::<Sha256>((0..size).map(|i| leaf_hash::<Sha256>(&entry(i))));
        let root = tree.root::<Sha256>(size).unwrap();
        for index in 0..size {
            let data = entry(index);
            let proof = tree.inclusion_proof::<Sha256>(index, size).unwrap();
            let leaf = leaf_hash::<Sha256>(&data);
            assert!(verify_inclusion::<Sha256>(&leaf, index, size, &proof, &root));
            for bit in 0..data.len() * 8 {
                let tampered = leaf_hash::<Sha256>(&flipped(&data, bit));
                assert!(!verify_inclusion::<Sha256>(&tampered, index, size, &proof, &root));
            }
            for (position, sibling) in proof.iter().enumerate() {
                for bit in 0..256 {
                    let mut bad = proof.clone();
                    bad[position] = flipped_hash(sibling, bit);
                    assert!(!verify_inclusion::<Sha256>(&leaf, index, size, &bad, &root));
                }
            }
            for bit in 0..256 {
                assert!(!verify_inclusion::<Sha256>(&leaf, index, size, &proof, &flipped_hash(&root, bit)));
            }
        }
        for old in 1..size {
            let old_root = tree.root::<Sha256>(old).unwrap();
            let proof = tree.consistency_proof::<Sha256>(old, size).unwrap();
            for (position, node) in proof.iter().enumerate() {
                for bit in 0..256 {
                    let mut bad = proof.clone();
                    bad[position] = flipped_hash(node, bit);
                    assert!(!verify_consistency::<Sha256>(old, size, &old_root, &root, &bad));
                }
            }
            for bit in 0..256 {
                assert!(!verify_consistency::<Sha256>(old, size, &flipped_hash(&old_root, bit), &root, &proof));
                assert!(!verify_consistency::<Sha256>(old, size, &old_root, &flipped_hash(&root, bit), &proof));
            }
        }
    }
}

#[test]
fn out_of_range_requests_get_no_proof_and_verify_false() {
    let tree = Tree::from_leaves::<Sha256>((0..4).map(|i| leaf_hash::<Sha256>(&entry(i))));
    assert_eq!(tree.inclusion_proof::<Sha256>(4, 4), None);
    assert_eq!(tree.inclusion_proof::<Sha256>(0, 5), None);
    assert_eq!(tree.consistency_proof::<Sha256>(0, 4), None);
    assert_eq!(tree.consistency_proof::<Sha256>(3, 2), None);
    let root = tree.root::<Sha256>(4).unwrap();
    let leaf = tree.leaf(0).unwrap();
    let proof = tree.inclusion_proof::<Sha256>(0, 4).unwrap();
    assert!(!verify_inclusion::<Sha256>(&leaf, 4, 4, &proof, &root));
    assert!(!verify_inclusion::<Sha256>(&leaf, 0, 4, &proof[..1], &root), "a short proof fails");
    let mut long = proof.clone();
    long.push(root);
    assert!(!verify_inclusion::<Sha256>(&leaf, 0, 4, &long, &root), "a padded proof fails");
}
