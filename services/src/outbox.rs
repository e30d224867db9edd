//! The access-log outbox: no access is lost.
//!
//! [`Outbox::record`] judges the accesses with a dry run (a refusal comes back typed, with
//! nothing queued), numbers them per account and writes them to the store in one durable
//! transaction, then drains the outbox: it submits the entries in chunks of [`CHUNK`] and
//! removes each chunk only once the chain holds it. After a crash or a lost connection,
//! [`Outbox::flush`] resubmits whatever is pending; the chain skips entries whose
//! `(account, seq)` it already logged, so a resubmitted entry is never logged twice.
//! Numbers are handed out inside the store's write transaction, so no two entries of one
//! account share one (the store's file lock keeps other processes out).

use crate::{index::Index, Error, Result, Store};
use access_log::BatchError;
use custodia_client::{
    backend::Emitted,
    types::{
        access_log::Authorization,
        access_log::{NewEntry, MAX_ENTRIES},
        consents::{Purpose, Target},
        PatientId, Timestamp,
    },
    Backend, Client, ContractError, Signer,
};
use ink::primitives::AccountId;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use scale::{Decode, Encode};

/// Pending entries by account and number.
const OUTBOX: TableDefinition<([u8; 32], u64), &[u8]> = TableDefinition::new("outbox");
/// The next number the chain was last seen to expect from an account.
const CONFIRMED: TableDefinition<[u8; 32], u64> = TableDefinition::new("outbox_confirmed");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, OUTBOX)?;
    crate::store::copy_table(from, to, CONFIRMED)?;
    Ok(())
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(OUTBOX)?;
    tx.open_table(CONFIRMED)?;
    Ok(())
}

/// Entries per `append_batch` transaction when draining the outbox.
pub const CHUNK: usize = 250;

/// One access, as an integration engine reports it (the outbox numbers it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Whose data was accessed.
    pub patient: PatientId,
    /// A version, or a query over a kind of record.
    pub target: Target,
    /// Why.
    pub purpose: Purpose,
    /// When it happened (milliseconds since the Unix epoch, the chain's clock): its consent is
    /// judged at that time.
    pub accessed_at: Timestamp,
    /// The consent receipt that allowed it, or the break-glass reason.
    pub authorization: Authorization,
}

/// Where [`Outbox::record`] and [`Outbox::flush`] are; for fault injection in tests (a hook
/// may stop the process at any of them).
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
    pub events: Vec<Emitted>,
}

/// The outbox of one store, draining into one deployment's access log.
pub struct Outbox<'a, B> {
    client: &'a Client<B>,
    store: &'a Store,
}

impl<'a, B: Backend> Outbox<'a, B> {
    /// The outbox kept in `store`, for the access log of `client`'s deployment.
    pub fn new(client: &'a Client<B>, store: &'a Store) -> Self {
        Self { client, store }
    }

    /// Logs accesses through the outbox: checks them with a dry run (a refusal comes back
    /// typed, with nothing queued), queues them durably, then drains the outbox. If the chain
    /// cannot be reached, the entries are queued anyway (numbered after the last number the
    /// chain confirmed to this store) and [`Error::QueuedOffline`] is returned.
    pub async fn record(&self, signer: &Signer, accesses: &[Access]) -> Result<Drained> {
        self.record_with(signer, accesses, &mut |_| {}).await
    }

    /// [`Outbox::record`] with a hook called at each [`Stage`].
    pub async fn record_with(
        &self,
        signer: &Signer,
        accesses: &[Access],
        hook: &mut dyn FnMut(Stage),
    ) -> Result<Drained> {
        if accesses.is_empty() {
            return Ok(Drained::default());
        }
        let account = signer.account();
        let log = self.client.access_log();
        let pending = self.pending(account)?;
        let (chain_next, offline) = match log.next_seq(account).query().await {
            Ok(next) => (Some(next), None),
            Err(e) if e.is_disconnected() => (None, Some(e)),
            Err(other) => return Err(other.into()),
        };
        let unnumbered: Vec<NewEntry> = accesses
            .iter()
            .map(|a| NewEntry {
                seq: 0,
                patient: a.patient,
                target: a.target,
                purpose: a.purpose,
                accessed_at: a.accessed_at,
                authorization: a.authorization,
            })
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
            match log.append_batch(judged).dry_run(account).await {
                // Too many receipts to judge in one call: the entries before that one were
                // judged; the rest are judged when their own chunk is submitted.
                Err(custodia_client::Error::Contract(ContractError::AccessLogBatch(BatchError {
                    item: Some(_),
                    error: access_log::Error::BatchTooLarge,
                }))) => {}
                other => {
                    other?;
                }
            }
        }
        self.enqueue(account, &unnumbered, chain_next)?;
        hook(Stage::Queued);
        if let Some(source) = offline {
            return Err(Error::QueuedOffline { queued: accesses.len(), source });
        }
        self.flush_with(signer, hook).await
    }

    /// Submits every entry of the signer's outbox, chunk by chunk, removing each chunk once
    /// the chain holds it.
    pub async fn flush(&self, signer: &Signer) -> Result<Drained> {
        self.flush_with(signer, &mut |_| {}).await
    }

    /// [`Outbox::flush`] with a hook called at each [`Stage`].
    pub async fn flush_with(&self, signer: &Signer, hook: &mut dyn FnMut(Stage)) -> Result<Drained> {
        let account = signer.account();
        let log = self.client.access_log();
        let mut drained = Drained::default();
        let pending = self.pending(account)?;
        let (mut start, mut n) = (0, 0);
        while start < pending.len() {
            let mut chunk = &pending[start..pending.len().min(start + CHUNK)];
            let submitted = loop {
                match log.append_batch(chunk.to_vec()).submit(signer).await {
                    // The chain cannot judge this many receipts in one call: the entries before
                    // the one it stopped at go as a chunk of their own, the rest after it.
                    Err(custodia_client::Error::Contract(ContractError::AccessLogBatch(BatchError {
                        item: Some(item),
                        error: access_log::Error::BatchTooLarge,
                    }))) if item > 0 => chunk = &chunk[..item as usize],
                    Err(custodia_client::Error::Contract(ContractError::AccessLogBatch(BatchError {
                        item: Some(item),
                        error,
                    }))) => {
                        let seq = chunk.get(item as usize).map(|e| e.seq).unwrap_or_default();
                        return Err(Error::QueuedEntryRefused { seq, error: ContractError::AccessLog(error) });
                    }
                    other => break other?,
                }
            };
            hook(Stage::Included(n));
            // The chain skipped the leading entries whose numbers it holds already: ours from
            // an earlier submission, or another engine's. Only ours may be cleared as logged.
            let skipped = chunk.get(..submitted.value.skipped as usize).unwrap_or(chunk);
            let conflicts = self.conflicts(account, skipped).await?;
            let last = chunk.last().map(|e| e.seq + 1).unwrap_or(0);
            let requeued = self.clear_and_requeue(account, last, &conflicts)?;
            hook(Stage::Cleared(n));
            if !conflicts.is_empty() {
                return Err(Error::SequenceConflict {
                    seqs: conflicts.iter().map(|e| e.seq).collect(),
                    requeued: requeued.iter().map(|e| e.seq).collect(),
                });
            }
            drained.block = Some(submitted.block);
            drained.events.extend(submitted.events.iter().cloned());
            let appended = submitted.value;
            drained.appended += appended.appended;
            drained.skipped += appended.skipped;
            drained.first_index = drained.first_index.or(appended.first_index);
            drained.size = appended.size;
            drained.transactions += 1;
            start += chunk.len();
            n += 1;
        }
        Ok(drained)
    }

    /// The skipped entries that the chain holds with other content under their numbers.
    async fn conflicts(&self, account: AccountId, skipped: &[NewEntry]) -> Result<Vec<NewEntry>> {
        if skipped.is_empty() {
            return Ok(Vec::new());
        }
        let index = Index::new(self.client, self.store);
        index.sync().await?;
        let mut conflicts = Vec::new();
        for entry in skipped {
            let logged = index.logged(account, entry.seq)?.ok_or_else(|| {
                Error::Index(format!("has no entry {} of this account though the chain skipped it", entry.seq))
            })?;
            let same = (logged.patient, logged.target, logged.purpose, logged.authorization)
                == (entry.patient, entry.target, entry.purpose, entry.authorization);
            if !same {
                conflicts.push(*entry);
            }
        }
        Ok(conflicts)
    }

    /// Removes the entries of `account` numbered below `below` (the chain holds those
    /// numbers) and queues `requeue` again after every number in use, in one transaction: a
    /// crash between the two could otherwise lose them.
    fn clear_and_requeue(&self, account: AccountId, below: u64, requeue: &[NewEntry]) -> Result<Vec<NewEntry>> {
        let tx = self.store.write()?;
        remove_below_in(&tx, bytes(&account), below)?;
        let requeued = enqueue_in(&tx, bytes(&account), requeue, Some(below))?;
        tx.commit()?;
        Ok(requeued)
    }

    /// Drops a queued entry the chain refuses for good (e.g. its consent was revoked before
    /// it was submitted), renumbering the later queued ones. Entries already on chain are
    /// cleared first, so no number is reused.
    pub async fn discard(&self, account: AccountId, seq: u64) -> Result<NewEntry> {
        let on_chain = self.client.access_log().next_seq(account).query().await?;
        self.remove_below(account, on_chain)?;
        if seq < on_chain {
            return Err(Error::Input(format!("entry {seq} is already on chain")));
        }
        self.discard_queued(account, seq)
    }

    /// The pending entries of `account`, in number order.
    pub fn pending(&self, account: AccountId) -> Result<Vec<NewEntry>> {
        let account = bytes(&account);
        let tx = self.store.read()?;
        let outbox = tx.open_table(OUTBOX)?;
        let range = outbox.range((account, 0)..=(account, u64::MAX))?;
        range
            .map(|item| {
                let (_, value) = item?;
                NewEntry::decode(&mut value.value()).map_err(Error::corrupt("an outbox entry"))
            })
            .collect()
    }

    /// Every account with pending entries.
    pub fn pending_accounts(&self) -> Result<Vec<AccountId>> {
        let tx = self.store.read()?;
        let outbox = tx.open_table(OUTBOX)?;
        let mut accounts: Vec<[u8; 32]> = Vec::new();
        for item in outbox.iter()? {
            let (key, _) = item?;
            let account = key.value().0;
            if accounts.last() != Some(&account) {
                accounts.push(account);
            }
        }
        Ok(accounts.into_iter().map(AccountId::from).collect())
    }

    /// Numbers entries for `account` and adds them to its outbox, in one durable transaction:
    /// the first gets the number after the last one queued, and at least `chain_next` (the
    /// next number the chain expects) and the last number the chain confirmed to this store.
    /// Numbering inside the transaction means two calls can never hand out the same number.
    pub fn enqueue(&self, account: AccountId, entries: &[NewEntry], chain_next: Option<u64>) -> Result<Vec<NewEntry>> {
        let tx = self.store.write()?;
        let numbered = enqueue_in(&tx, bytes(&account), entries, chain_next)?;
        tx.commit()?;
        Ok(numbered)
    }

    /// [`Outbox::enqueue`] for several accounts' entries in one durable transaction (a group
    /// commit: one write to disk for all of them).
    pub fn enqueue_many(&self, batches: &[(AccountId, Vec<NewEntry>)]) -> Result<()> {
        let tx = self.store.write()?;
        for (account, entries) in batches {
            enqueue_in(&tx, bytes(account), entries, None)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes the entries of `account` numbered below `below` (they are on chain), and
    /// remembers that the chain holds numbers up to there.
    fn remove_below(&self, account: AccountId, below: u64) -> Result<()> {
        let tx = self.store.write()?;
        remove_below_in(&tx, bytes(&account), below)?;
        Ok(tx.commit()?)
    }

    /// Drops pending entry `seq` of `account` and renumbers the later pending ones down by one
    /// (for an entry the chain will never accept; none of the later ones is on chain, so
    /// their numbers are still free).
    fn discard_queued(&self, account: AccountId, seq: u64) -> Result<NewEntry> {
        let account = bytes(&account);
        let tx = self.store.write()?;
        let dropped = {
            let mut outbox = tx.open_table(OUTBOX)?;
            let dropped = outbox
                .remove((account, seq))?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| Error::Input(format!("no pending entry {seq}")))?;
            let later: Vec<(u64, Vec<u8>)> = outbox
                .range((account, seq + 1)..=(account, u64::MAX))?
                .map(|item| item.map(|(k, v)| (k.value().1, v.value().to_vec())))
                .collect::<Result<_, _>>()?;
            for (number, encoded) in later {
                let mut entry = NewEntry::decode(&mut &encoded[..]).map_err(Error::corrupt("an outbox entry"))?;
                outbox.remove((account, number))?;
                entry.seq = number - 1;
                outbox.insert((account, entry.seq), &entry.encode()[..])?;
            }
            NewEntry::decode(&mut &dropped[..]).map_err(Error::corrupt("an outbox entry"))?
        };
        tx.commit()?;
        Ok(dropped)
    }
}

fn bytes(account: &AccountId) -> [u8; 32] {
    *account.as_ref()
}

/// Numbers entries for `account` and adds them to its outbox, inside `tx`: the first gets the
/// number after the last one queued, and at least `chain_next` and the last number the chain
/// confirmed to this store.
fn enqueue_in(
    tx: &WriteTransaction,
    account: [u8; 32],
    entries: &[NewEntry],
    chain_next: Option<u64>,
) -> Result<Vec<NewEntry>> {
    let confirmed = tx.open_table(CONFIRMED)?.get(account)?.map(|v| v.value()).unwrap_or(0);
    let mut outbox = tx.open_table(OUTBOX)?;
    let last = outbox.range((account, 0)..=(account, u64::MAX))?.next_back().transpose()?.map(|(key, _)| key.value().1);
    let first = last.map(|l| l + 1).unwrap_or(0).max(chain_next.unwrap_or(0)).max(confirmed);
    let numbered: Vec<NewEntry> = entries.iter().zip(first..).map(|(e, seq)| NewEntry { seq, ..*e }).collect();
    for entry in &numbered {
        if outbox.insert((account, entry.seq), &entry.encode()[..])?.is_some() {
            return Err(Error::Input(format!("entry {} was already queued", entry.seq)));
        }
    }
    Ok(numbered)
}

/// Removes the entries of `account` numbered below `below`, inside `tx`, and remembers that
/// the chain holds numbers up to there.
fn remove_below_in(tx: &WriteTransaction, account: [u8; 32], below: u64) -> Result<()> {
    tx.open_table(OUTBOX)?.retain_in((account, 0)..(account, below), |_, _| false)?;
    let mut confirmed = tx.open_table(CONFIRMED)?;
    let known = confirmed.get(account)?.map(|v| v.value()).unwrap_or(0);
    if below > known {
        confirmed.insert(account, below)?;
    }
    Ok(())
}
