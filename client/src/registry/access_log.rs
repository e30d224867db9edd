//! The access log: appends through a durable outbox, the local index of logged entries, and
//! inclusion proofs checked against the on-chain root.
//!
//! [`AccessLog::record`] never loses an access: the entries are written to the outbox (the
//! client's embedded database) before submission and removed only once the chain holds them.
//! After a crash, [`AccessLog::flush`] resubmits whatever is pending; the chain skips entries
//! whose `(account, seq)` it already logged, so resubmitting an entry never logs it twice.
//! Numbers are handed out inside the store's write transaction, so no two entries of one
//! account share one (the store's file lock keeps other processes out).

use crate::{
    call::{builder, Query, Tx},
    Backend, Client, ContractError, Error, Result, Signer,
};
use access_log::{AccessLog as Contract, BatchError, Error as LogError};
use custodia_merkle::{leaf_hash, verify_inclusion, Sha256, Tree};
use custodia_types::{
    access_log::{AccessLogged, Appended, Authorization, Entry, NewEntry, MAX_ENTRIES},
    consents::{Purpose, Target},
    InstitutionId, PatientId,
};
use ink::{codegen::ContractCallBuilder, primitives::AccountId};
use scale::Encode;

type Builder = <Contract as ContractCallBuilder>::Type;

/// Entries per `append_batch` transaction when draining the outbox.
pub const CHUNK: usize = 250;

/// One access, as an integration engine reports it (the client numbers it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Whose data was accessed.
    pub patient: PatientId,
    /// A version, or a query over a kind of record.
    pub target: Target,
    /// Why.
    pub purpose: Purpose,
    /// The consent receipt that allowed it, or the break-glass reason.
    pub authorization: Authorization,
}

/// Where [`AccessLog::record`] and [`AccessLog::flush`] are; for fault injection in tests
/// (a hook may stop the process at any of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The entries are in the outbox; nothing is submitted yet.
    Queued,
    /// Chunk `n` (from 0) is on chain; the outbox still holds it.
    Included(usize),
    /// Chunk `n` is on chain and gone from the outbox.
    Cleared(usize),
}

/// What an outbox drain did.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// Entries the chain logged.
    pub appended: u32,
    /// Entries the chain already had (resubmissions).
    pub skipped: u32,
    /// Leaf index of the first entry logged, if any.
    pub first_index: Option<u64>,
    /// Tree size after the last chunk.
    pub size: u64,
    /// Transactions submitted.
    pub transactions: u32,
    /// The block of the last transaction.
    pub block: Option<u32>,
    /// The events of all its transactions (`AccessLogged`, `BreakGlassAccess`, `LogExtended`).
    pub events: Vec<crate::backend::Emitted>,
}

/// An inclusion proof of one logged entry, checkable by anyone against the root the chain
/// recorded for tree size `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's leaf index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The entry (its SCALE encoding is the leaf).
    pub entry: Entry,
    /// Sibling hashes from the leaf up (RFC 9162).
    pub path: Vec<[u8; 32]>,
}

impl InclusionProof {
    /// Checks the proof against `root` (the chain's root for `size`).
    pub fn verify(&self, root: &[u8; 32]) -> bool {
        let leaf = leaf_hash::<Sha256>(&self.entry.encode());
        verify_inclusion::<Sha256>(&leaf, self.index, self.size, &self.path, root)
    }
}

/// Calls to the access log.
pub struct AccessLog<'c, B> {
    client: &'c Client<B>,
    address: AccountId,
}

impl<'c, B: Backend> AccessLog<'c, B> {
    pub(crate) fn new(client: &'c Client<B>) -> Self {
        Self { client, address: client.deployment().access_log.address }
    }

    fn contract(&self) -> Builder {
        builder::<Contract>(self.address)
    }

    /// Appends one numbered entry directly (no outbox).
    pub fn append(&self, entry: NewEntry) -> Tx<'c, B, Appended, LogError> {
        Tx::new(self.client, self.contract().append(entry))
    }

    /// Appends numbered entries directly (no outbox), all or none.
    pub fn append_batch(&self, entries: Vec<NewEntry>) -> Tx<'c, B, Appended, BatchError> {
        Tx::new(self.client, self.contract().append_batch(entries))
    }

    /// Tree size and root now.
    pub fn head(&self) -> Query<'c, B, (u64, [u8; 32])> {
        Query::new(self.client, self.contract().head())
    }

    /// The root the chain recorded when the tree had `size` entries.
    pub fn root_at(&self, size: u64) -> Query<'c, B, Option<[u8; 32]>> {
        Query::new(self.client, self.contract().root_at(size))
    }

    /// The next entry number the chain expects from `account`.
    pub fn next_seq(&self, account: AccountId) -> Query<'c, B, u64> {
        Query::new(self.client, self.contract().next_seq(account))
    }

    /// Break-glass accesses an institution has logged.
    pub fn break_glass_count(&self, institution: InstitutionId) -> Query<'c, B, u32> {
        Query::new(self.client, self.contract().break_glass_count(institution))
    }

    /// Logs accesses through the outbox: numbers them, checks them with a dry run (a refusal
    /// comes back typed, with nothing queued), queues them durably, then drains the outbox.
    /// If the chain cannot be reached after queueing, the entries stay queued for
    /// [`AccessLog::flush`] and the error is returned.
    pub async fn record(&self, signer: &Signer, accesses: &[Access]) -> Result<Drained> {
        self.record_with(signer, accesses, &mut |_| {}).await
    }

    /// [`AccessLog::record`] with a hook called at each [`Stage`].
    pub async fn record_with(&self, signer: &Signer, accesses: &[Access], hook: &mut dyn FnMut(Stage)) -> Result<Drained> {
        if accesses.is_empty() {
            return Ok(Drained::default());
        }
        let account = signer.account();
        let store = self.client.store();
        let pending = store.pending(account_bytes(&account))?;
        // Offline, the entries are still queued (numbered after the last number the chain
        // confirmed to this store) and the connection error is returned after queueing.
        let (chain_next, offline) = match self.next_seq(account).query().await {
            Ok(next) => (Some(next), None),
            Err(Error::Connection(why)) => (None, Some(why)),
            Err(other) => return Err(other),
        };
        let unnumbered: Vec<NewEntry> = accesses
            .iter()
            .map(|a| NewEntry { seq: 0, patient: a.patient, target: a.target, purpose: a.purpose, authorization: a.authorization })
            .collect();
        if let (true, Some(next)) = (pending.is_empty(), chain_next) {
            // Nothing ahead of them: the chain can judge them now (as one batch, numbered as
            // they will be, since each entry's number depends on the ones before it; beyond
            // `MAX_ENTRIES`, the rest are judged when submitted).
            let judged: Vec<NewEntry> = unnumbered
                .iter()
                .take(MAX_ENTRIES as usize)
                .zip(next..)
                .map(|(e, seq)| NewEntry { seq, ..*e })
                .collect();
            self.append_batch(judged).dry_run(account).await?;
        }
        store.enqueue(account_bytes(&account), &unnumbered, chain_next)?;
        if let Some(why) = offline {
            hook(Stage::Queued);
            return Err(Error::Connection(format!("{why}; {} entries are queued for `flush`", accesses.len())));
        }
        hook(Stage::Queued);
        self.flush_with(signer, hook).await
    }

    /// Submits every entry of the signer's outbox, chunk by chunk, removing each chunk once the
    /// chain holds it.
    pub async fn flush(&self, signer: &Signer) -> Result<Drained> {
        self.flush_with(signer, &mut |_| {}).await
    }

    /// [`AccessLog::flush`] with a hook called at each [`Stage`].
    pub async fn flush_with(&self, signer: &Signer, hook: &mut dyn FnMut(Stage)) -> Result<Drained> {
        let account = account_bytes(&signer.account());
        let store = self.client.store();
        let mut drained = Drained::default();
        let pending = store.pending(account)?;
        for (n, chunk) in pending.chunks(CHUNK).enumerate() {
            let submitted = match self.append_batch(chunk.to_vec()).submit(signer).await {
                Err(Error::Contract(ContractError::AccessLogBatch(BatchError { item: Some(item), error }))) => {
                    let seq = chunk.get(item as usize).map(|e| e.seq).unwrap_or_default();
                    return Err(Error::QueuedEntryRefused { seq, error: ContractError::AccessLog(error) });
                }
                other => other?,
            };
            hook(Stage::Included(n));
            let last = chunk.last().map(|e| e.seq + 1).unwrap_or(0);
            store.remove_below(account, last)?;
            hook(Stage::Cleared(n));
            drained.block = Some(submitted.block);
            drained.events.extend(submitted.events.iter().cloned());
            let appended = submitted.value;
            drained.appended += appended.appended;
            drained.skipped += appended.skipped;
            drained.first_index = drained.first_index.or(appended.first_index);
            drained.size = appended.size;
            drained.transactions += 1;
        }
        Ok(drained)
    }

    /// Entries queued for `account` and not yet known to be on chain.
    pub fn pending(&self, account: AccountId) -> Result<Vec<NewEntry>> {
        self.client.store().pending(account_bytes(&account))
    }

    /// Drops a queued entry the chain refuses for good (e.g. its consent was revoked before it
    /// was submitted), renumbering the later queued ones. Entries already on chain are
    /// cleared first, so no number is reused.
    pub async fn discard(&self, account: AccountId, seq: u64) -> Result<NewEntry> {
        let on_chain = self.next_seq(account).query().await?;
        let store = self.client.store();
        store.remove_below(account_bytes(&account), on_chain)?;
        if seq < on_chain {
            return Err(Error::Input(format!("entry {seq} is already on chain")));
        }
        store.discard(account_bytes(&account), seq)
    }

    /// Reads `AccessLogged` events up to the newest block into the local index. Returns how
    /// many entries the index holds.
    pub async fn sync(&self) -> Result<u64> {
        let store = self.client.store();
        let from = store.indexed_through()?.max(self.client.deployment().block.saturating_sub(1)) + 1;
        let to = self.client.backend().block_number().await?;
        if from <= to {
            let events = self.client.backend().events(self.address, from, to).await?;
            let logged: Vec<(u64, Entry)> = events
                .iter()
                .filter_map(|e| e.event.decode::<AccessLogged>())
                .map(|logged| (logged.index, logged.entry))
                .collect();
            store.index(&logged, to)?;
        }
        store.indexed()
    }

    /// Logged entries `from..to` from the local index (after [`AccessLog::sync`]).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Entry)>> {
        self.client.store().entries(from, to)
    }

    /// An inclusion proof of entry `index` in the tree as it is now on chain.
    pub async fn prove(&self, index: u64) -> Result<InclusionProof> {
        let (size, _root) = self.head().query().await?;
        let indexed = self.sync().await?;
        if index >= size {
            return Err(Error::Input(format!("the log holds {size} entries; there is no entry {index}")));
        }
        if indexed < size {
            return Err(Error::Store(format!("the index holds {indexed} of {size} entries; events are missing")));
        }
        let entries = self.entries(0, size)?;
        let tree = Tree::from_leaves::<Sha256>(entries.iter().map(|(_, e)| leaf_hash::<Sha256>(&e.encode())));
        let path = tree
            .inclusion_proof::<Sha256>(index, size)
            .ok_or_else(|| Error::Input(format!("no proof of entry {index} in a tree of {size}")))?;
        let entry = entries[index as usize].1;
        Ok(InclusionProof { index, size, entry, path })
    }

    /// Checks a proof against the root the chain recorded for the proof's tree size.
    pub async fn verify(&self, proof: &InclusionProof) -> Result<bool> {
        let root = self.root_at(proof.size).query().await?.ok_or_else(|| {
            Error::Input(format!("the chain recorded no root for a tree of {} entries", proof.size))
        })?;
        Ok(proof.verify(&root))
    }
}

fn account_bytes(account: &AccountId) -> [u8; 32] {
    *account.as_ref()
}
