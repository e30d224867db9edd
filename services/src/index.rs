//! The index of logged access entries, read from the access log's events, and the inclusion
//! proofs built from it.
//!
//! The chain keeps only the Merkle frontier and a root per tree size; the leaves are in the
//! `AccessLogged` events. [`Index::sync`] reads them into the store (continuing without a gap,
//! or refusing), and [`Index::prove`] builds an RFC 9162 inclusion proof of one entry that
//! anyone can check against the root the chain recorded ([`InclusionProof::verify`]).

use crate::{Error, Result, Store};
use custodia_client::{
    events::logged_entry,
    types::access_log::{Entry, LogHead},
    Backend, Client,
};
use custodia_merkle::{leaf_hash, verify_inclusion, Sha256, Tree};
use redb::{ReadableTableMetadata, TableDefinition, WriteTransaction};

/// Logged entries by leaf index.
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
/// The block the index has read events through.
const INDEXED_THROUGH: TableDefinition<(), u32> = TableDefinition::new("indexed_through");
/// Leaf index by the account and number an entry was logged under.
const BY_NUMBER: TableDefinition<([u8; 32], u64), u64> = TableDefinition::new("leaves_by_number");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, LEAVES)?;
    crate::store::copy_table(from, to, INDEXED_THROUGH)?;
    crate::store::copy_table(from, to, BY_NUMBER)?;
    Ok(())
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(LEAVES)?;
    tx.open_table(INDEXED_THROUGH)?;
    tx.open_table(BY_NUMBER)?;
    Ok(())
}

/// An inclusion proof of one logged entry, checkable by anyone against the root the chain
/// recorded for tree size `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's leaf index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The entry, as read from `leaf`.
    pub entry: Entry,
    /// The leaf's bytes as logged (the entry's SCALE encoding in the layout of the revision
    /// that logged it: [`Entry::from_leaf`]).
    pub leaf: Vec<u8>,
    /// Sibling hashes from the leaf up (RFC 9162).
    pub path: Vec<[u8; 32]>,
}

impl InclusionProof {
    /// Checks the proof against `root` (the chain's root for `size`): the leaf is in the tree,
    /// and `entry` is what the leaf says.
    pub fn verify(&self, root: &[u8; 32]) -> bool {
        let leaf = leaf_hash::<Sha256>(&self.leaf);
        Entry::from_leaf(&self.leaf) == Some(self.entry)
            && verify_inclusion::<Sha256>(&leaf, self.index, self.size, &self.path, root)
    }
}

/// The index of one store, over one deployment's access log.
pub struct Index<'a, B> {
    client: &'a Client<B>,
    store: &'a Store,
}

impl<'a, B: Backend> Index<'a, B> {
    /// The index kept in `store`, of the access log of `client`'s deployment.
    pub fn new(client: &'a Client<B>, store: &'a Store) -> Self {
        Self { client, store }
    }

    /// Reads `AccessLogged` events up to the newest block (a node: the newest finalized one)
    /// into the index. Returns how many entries the index holds.
    pub async fn sync(&self) -> Result<u64> {
        let log = self.client.deployment().access_log.address;
        let from = self.indexed_through()?.max(self.client.deployment().block.saturating_sub(1)) + 1;
        let to = self.client.backend().block_number().await?;
        if from <= to {
            let events = self.client.backend().events(log, from, to).await?;
            let logged: Vec<(u64, Vec<u8>)> = events
                .iter()
                .filter_map(|e| logged_entry(&e.event).map(|(index, _, leaf)| (index, leaf.to_vec())))
                .collect();
            self.add(&logged, to)?;
        }
        self.len()
    }

    /// Forgets everything indexed and reads the access log's events again from the
    /// deployment's first block (after a restore: the index then equals the chain's log).
    pub async fn rebuild(&self) -> Result<u64> {
        let tx = self.store.write()?;
        tx.open_table(LEAVES)?.retain(|_, _| false)?;
        tx.open_table(BY_NUMBER)?.retain(|_, _| false)?;
        tx.open_table(INDEXED_THROUGH)?.remove(())?;
        tx.commit()?;
        self.sync().await
    }

    /// Logged entries `from..to` (as far as indexed).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Entry)>> {
        let tx = self.store.read()?;
        let leaves = tx.open_table(LEAVES)?;
        leaves
            .range(from..to)?
            .map(|item| {
                let (index, value) = item?;
                Ok((index.value(), read_leaf(value.value())?))
            })
            .collect()
    }

    /// The leaves `from..to` as logged (as far as indexed).
    fn leaves(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        let tx = self.store.read()?;
        let leaves = tx.open_table(LEAVES)?;
        leaves.range(from..to)?.map(|item| Ok(item?.1.value().to_vec())).collect()
    }

    /// The first `size` leaves as logged, and the Merkle tree over them.
    fn tree(&self, size: u64) -> Result<(Vec<Vec<u8>>, Tree)> {
        let leaves = self.leaves(0, size)?;
        let tree = Tree::from_leaves::<Sha256>(leaves.iter().map(|leaf| leaf_hash::<Sha256>(leaf)));
        Ok((leaves, tree))
    }

    /// The entry `account` logged under number `seq`, if indexed.
    pub fn logged(&self, account: ink::primitives::AccountId, seq: u64) -> Result<Option<Entry>> {
        let tx = self.store.read()?;
        let Some(leaf) = tx.open_table(BY_NUMBER)?.get((*account.as_ref(), seq))?.map(|v| v.value()) else {
            return Ok(None);
        };
        let leaves = tx.open_table(LEAVES)?;
        let value = leaves.get(leaf)?;
        value.map(|v| read_leaf(v.value())).transpose()
    }

    /// How many entries are indexed.
    pub fn len(&self) -> Result<u64> {
        let tx = self.store.read()?;
        Ok(tx.open_table(LEAVES)?.len()?)
    }

    /// True if no entry is indexed.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// An inclusion proof of entry `index` in the tree as it is now on chain.
    pub async fn prove(&self, index: u64) -> Result<InclusionProof> {
        let (_, mut proofs) = self.prove_each(&[index]).await?;
        Ok(proofs.remove(0))
    }

    /// Inclusion proofs of entries `indices` in the tree as it is now on chain (the tree built
    /// once for all of them), with that tree's head as the chain reported it.
    ///
    /// On a node, queries see the best block while the index reads finalized blocks only: when
    /// the newest entries are not final yet, the proofs are for the log as far as it is final
    /// (a size the chain recorded a root for, since the index reads whole blocks).
    pub async fn prove_each(&self, indices: &[u64]) -> Result<(LogHead, Vec<InclusionProof>)> {
        let newest = self.client.access_log().head().query().await?;
        let indexed = self.sync().await?;
        let head = if indexed >= newest.size {
            newest
        } else {
            let root = self.client.access_log().root_at(indexed).query().await?.ok_or_else(|| {
                Error::Index(format!("holds {indexed} entries, a size the chain recorded no root for"))
            })?;
            LogHead { size: indexed, root }
        };
        let size = head.size;
        if let Some(index) = indices.iter().find(|index| **index >= size) {
            return Err(Error::Input(format!("the log holds {size} entries; there is no entry {index}")));
        }
        let (leaves, tree) = self.tree(size)?;
        let proofs = indices
            .iter()
            .map(|&index| {
                let path = tree
                    .inclusion_proof::<Sha256>(index, size)
                    .ok_or_else(|| Error::Input(format!("no proof of entry {index} in a tree of {size}")))?;
                let leaf = leaves[index as usize].clone();
                let entry = read_leaf(&leaf)?;
                Ok(InclusionProof { index, size, entry, leaf, path })
            })
            .collect::<Result<_>>()?;
        Ok((head, proofs))
    }

    /// A consistency proof (RFC 9162) that the log of `old` entries is a prefix of the log of
    /// `new` entries, built from the index (which must hold `new` entries).
    pub async fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<[u8; 32]>> {
        let indexed = self.sync().await?;
        if indexed < new {
            return Err(Error::Index(format!("holds {indexed} entries; a proof up to {new} needs them all")));
        }
        let (_, tree) = self.tree(new)?;
        tree.consistency_proof::<Sha256>(old, new)
            .ok_or_else(|| Error::Input(format!("no consistency proof from {old} to {new} entries (0 < old ≤ new)")))
    }

    /// Checks a proof against the root the chain recorded for the proof's tree size.
    pub async fn verify(&self, proof: &InclusionProof) -> Result<bool> {
        let root =
            self.client.access_log().root_at(proof.size).query().await?.ok_or_else(|| {
                Error::Input(format!("the chain recorded no root for a tree of {} entries", proof.size))
            })?;
        Ok(proof.verify(&root))
    }

    /// The block the index has read events through (0: none yet).
    fn indexed_through(&self) -> Result<u32> {
        let tx = self.store.read()?;
        let table = tx.open_table(INDEXED_THROUGH)?;
        Ok(table.get(())?.map(|v| v.value()).unwrap_or(0))
    }

    /// Adds logged entries read from events through `block`; they must continue the index
    /// without a gap.
    fn add(&self, entries: &[(u64, Vec<u8>)], block: u32) -> Result<()> {
        let tx = self.store.write()?;
        {
            let mut leaves = tx.open_table(LEAVES)?;
            let mut by_number = tx.open_table(BY_NUMBER)?;
            let mut next = leaves.len()?;
            for (index, leaf) in entries {
                if *index < next {
                    continue;
                }
                if *index != next {
                    return Err(Error::Index(format!("expected entry {next}, the chain gave {index}")));
                }
                let entry = read_leaf(leaf)?;
                leaves.insert(index, &leaf[..])?;
                by_number.insert((*entry.account.as_ref(), entry.seq), index)?;
                next += 1;
            }
            tx.open_table(INDEXED_THROUGH)?.insert((), block)?;
        }
        Ok(tx.commit()?)
    }
}

/// An indexed leaf as an entry (either revision's layout).
fn read_leaf(leaf: &[u8]) -> Result<Entry> {
    Entry::from_leaf(leaf).ok_or(Error::Corrupt {
        what: "an indexed entry",
        source: scale::Error::from("neither revision's entry layout"),
    })
}
