//! The client's local, durable store (redb, an embedded ACID database): the access-log outbox,
//! the index of logged entries that inclusion proofs are built from, and the salts of
//! committed versions. Every write is one transaction, committed durably before the call
//! returns.

use crate::{backend::Hash, Error, Result};
use custodia_types::{access_log::{Entry, NewEntry}, records::VersionNo, RecordId};
use redb::{backends::InMemoryBackend, Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use scale::{Decode, Encode};
use std::path::Path;

const OUTBOX: TableDefinition<([u8; 32], u64), &[u8]> = TableDefinition::new("outbox");
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
const SALTS: TableDefinition<([u8; 32], u32), [u8; 32]> = TableDefinition::new("salts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const IMPORTED: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("imported");
const PLANS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("import_plans");

const CHAIN_KEY: &str = "chain";

/// The META key of the next number the chain expects from an account, as last seen.
fn next_key(account: &[u8; 32]) -> String {
    format!("next_seq:{}", hex::encode(account))
}

/// The next number the chain was last seen to expect from `account` (0 if never).
fn known_next(meta: &impl ReadableTable<&'static str, &'static [u8]>, account: &[u8; 32]) -> Result<u64> {
    let value = meta.get(next_key(account).as_str()).map_err(Error::store)?;
    Ok(value.and_then(|v| u64::decode(&mut v.value()).ok()).unwrap_or(0))
}
const INDEXED_KEY: &str = "indexed_through_block";

/// The local store of one deployment.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| Error::Store(format!("{}: {e}", path.display())))?;
        Self::init(db)
    }

    /// A store that lives in memory only (tests, examples, one-shot runs).
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new()).map_err(Error::store)?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Self> {
        let tx = db.begin_write().map_err(Error::store)?;
        tx.open_table(OUTBOX).map_err(Error::store)?;
        tx.open_table(LEAVES).map_err(Error::store)?;
        tx.open_table(SALTS).map_err(Error::store)?;
        tx.open_table(META).map_err(Error::store)?;
        tx.open_table(IMPORTED).map_err(Error::store)?;
        tx.open_table(PLANS).map_err(Error::store)?;
        tx.commit().map_err(Error::store)?;
        Ok(Self { db })
    }

    /// Binds the store to a chain's genesis hash, or checks that it is bound to it: a store
    /// never mixes two chains' entries.
    pub fn bind(&self, genesis: Hash, deployment: &[u8]) -> Result<()> {
        let identity = [&genesis[..], deployment].concat();
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut meta = tx.open_table(META).map_err(Error::store)?;
            let known = meta.get(CHAIN_KEY).map_err(Error::store)?.map(|v| v.value().to_vec());
            match known {
                Some(known) if known != identity => {
                    return Err(Error::Deployment(
                        "the local store belongs to another chain or deployment; use another state directory".into(),
                    ))
                }
                Some(_) => {}
                None => {
                    meta.insert(CHAIN_KEY, &identity[..]).map_err(Error::store)?;
                }
            }
        }
        tx.commit().map_err(Error::store)
    }

    // --- outbox -------------------------------------------------------------------------

    /// Numbers entries for `account` and adds them to its outbox, in one durable transaction:
    /// the first gets the number after the last one queued, and at least `chain_next` (the
    /// next number the chain expects). Returns them numbered. Numbering inside the
    /// transaction means two calls can never hand out the same number.
    pub fn enqueue(&self, account: [u8; 32], entries: &[NewEntry], chain_next: Option<u64>) -> Result<Vec<NewEntry>> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        let numbered = {
            let known = known_next(&tx.open_table(META).map_err(Error::store)?, &account)?;
            let mut outbox = tx.open_table(OUTBOX).map_err(Error::store)?;
            let last = outbox
                .range((account, 0)..=(account, u64::MAX))
                .map_err(Error::store)?
                .next_back()
                .transpose()
                .map_err(Error::store)?
                .map(|(key, _)| key.value().1);
            // Offline (no `chain_next`), the last number the chain confirmed to this store keeps
            // the numbering from restarting at a number the chain already holds.
            let first = last.map(|l| l + 1).unwrap_or(0).max(chain_next.unwrap_or(0)).max(known);
            let numbered: Vec<NewEntry> = entries.iter().zip(first..).map(|(e, seq)| NewEntry { seq, ..*e }).collect();
            for entry in &numbered {
                if outbox.insert((account, entry.seq), &entry.encode()[..]).map_err(Error::store)?.is_some() {
                    return Err(Error::Store(format!("entry {} was already queued", entry.seq)));
                }
            }
            numbered
        };
        tx.commit().map_err(Error::store)?;
        Ok(numbered)
    }

    /// The pending entries of `account`, in sequence order.
    pub fn pending(&self, account: [u8; 32]) -> Result<Vec<NewEntry>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let outbox = tx.open_table(OUTBOX).map_err(Error::store)?;
        let range = outbox.range((account, 0)..=(account, u64::MAX)).map_err(Error::store)?;
        range
            .map(|item| {
                let (_, value) = item.map_err(Error::store)?;
                NewEntry::decode(&mut value.value()).map_err(|e| Error::decoding("an outbox entry", e))
            })
            .collect()
    }

    /// Every account with pending entries.
    pub fn pending_accounts(&self) -> Result<Vec<[u8; 32]>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let outbox = tx.open_table(OUTBOX).map_err(Error::store)?;
        let mut accounts: Vec<[u8; 32]> = Vec::new();
        for item in outbox.iter().map_err(Error::store)? {
            let (key, _) = item.map_err(Error::store)?;
            let account = key.value().0;
            if accounts.last() != Some(&account) {
                accounts.push(account);
            }
        }
        Ok(accounts)
    }

    /// Removes the entries of `account` numbered below `below` (they are on chain), and
    /// remembers that the chain holds numbers up to there.
    pub fn remove_below(&self, account: [u8; 32], below: u64) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut outbox = tx.open_table(OUTBOX).map_err(Error::store)?;
            outbox.retain_in((account, 0)..(account, below), |_, _| false).map_err(Error::store)?;
            let mut meta = tx.open_table(META).map_err(Error::store)?;
            if below > known_next(&meta, &account)? {
                meta.insert(next_key(&account).as_str(), &below.encode()[..]).map_err(Error::store)?;
            }
        }
        tx.commit().map_err(Error::store)
    }

    /// Drops pending entry `seq` of `account` and renumbers the later pending ones down by one
    /// (for an entry the chain will never accept; none of the later ones is on chain, so
    /// their numbers are still free).
    pub fn discard(&self, account: [u8; 32], seq: u64) -> Result<NewEntry> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        let dropped = {
            let mut outbox = tx.open_table(OUTBOX).map_err(Error::store)?;
            let dropped = outbox
                .remove((account, seq))
                .map_err(Error::store)?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| Error::Input(format!("no pending entry {seq}")))?;
            let later: Vec<(u64, Vec<u8>)> = outbox
                .range((account, seq + 1)..=(account, u64::MAX))
                .map_err(Error::store)?
                .map(|item| item.map(|(k, v)| (k.value().1, v.value().to_vec())))
                .collect::<Result<_, _>>()
                .map_err(Error::store)?;
            for (number, bytes) in later {
                let mut entry = NewEntry::decode(&mut &bytes[..]).map_err(|e| Error::decoding("an outbox entry", e))?;
                outbox.remove((account, number)).map_err(Error::store)?;
                entry.seq = number - 1;
                outbox.insert((account, entry.seq), &entry.encode()[..]).map_err(Error::store)?;
            }
            NewEntry::decode(&mut &dropped[..]).map_err(|e| Error::decoding("an outbox entry", e))?
        };
        tx.commit().map_err(Error::store)?;
        Ok(dropped)
    }

    // --- index of logged entries ----------------------------------------------------------

    /// The block the index has read events through (0: none yet).
    pub fn indexed_through(&self) -> Result<u32> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let meta = tx.open_table(META).map_err(Error::store)?;
        let value = meta.get(INDEXED_KEY).map_err(Error::store)?;
        Ok(value.and_then(|v| u32::decode(&mut v.value()).ok()).unwrap_or(0))
    }

    /// Records logged entries read from events through `block`. Entries must continue the
    /// index without a gap.
    pub fn index(&self, entries: &[(u64, Entry)], block: u32) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut leaves = tx.open_table(LEAVES).map_err(Error::store)?;
            let mut next = leaves.len().map_err(Error::store)?;
            for (index, entry) in entries {
                if *index < next {
                    continue;
                }
                if *index != next {
                    return Err(Error::Store(format!("the index expected entry {next}, the chain gave {index}")));
                }
                leaves.insert(index, &entry.encode()[..]).map_err(Error::store)?;
                next += 1;
            }
            let mut meta = tx.open_table(META).map_err(Error::store)?;
            meta.insert(INDEXED_KEY, &block.encode()[..]).map_err(Error::store)?;
        }
        tx.commit().map_err(Error::store)
    }

    /// Logged entries `from..to` (as far as indexed).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Entry)>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let leaves = tx.open_table(LEAVES).map_err(Error::store)?;
        leaves
            .range(from..to)
            .map_err(Error::store)?
            .map(|item| {
                let (index, value) = item.map_err(Error::store)?;
                let entry = Entry::decode(&mut value.value()).map_err(|e| Error::decoding("an indexed entry", e))?;
                Ok((index.value(), entry))
            })
            .collect()
    }

    /// How many entries are indexed.
    pub fn indexed(&self) -> Result<u64> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        tx.open_table(LEAVES).map_err(Error::store)?.len().map_err(Error::store)
    }

    // --- salts ----------------------------------------------------------------------------

    /// Keeps the salt of a committed version.
    pub fn keep_salt(&self, record: RecordId, version: VersionNo, salt: [u8; 32]) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        tx.open_table(SALTS)
            .map_err(Error::store)?
            .insert((record.0, version), salt)
            .map_err(Error::store)?;
        tx.commit().map_err(Error::store)
    }

    /// The salt of a committed version, if this store committed it.
    pub fn salt(&self, record: RecordId, version: VersionNo) -> Result<Option<[u8; 32]>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let salts = tx.open_table(SALTS).map_err(Error::store)?;
        Ok(salts.get((record.0, version)).map_err(Error::store)?.map(|v| v.value()))
    }

    // --- imported records (FHIR) ------------------------------------------------------------

    /// What this store committed last for a record: see [`Imported`].
    pub fn imported(&self, record: RecordId) -> Result<Option<Imported>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let table = tx.open_table(IMPORTED).map_err(Error::store)?;
        let value = table.get(record.0).map_err(Error::store)?;
        value.map(|v| Imported::decode(&mut v.value()).map_err(|e| Error::decoding("an imported record", e))).transpose()
    }

    /// The import plan saved under `key`, if an import of it was interrupted.
    pub fn plan(&self, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let table = tx.open_table(PLANS).map_err(Error::store)?;
        Ok(table.get(key).map_err(Error::store)?.map(|v| v.value().to_vec()))
    }

    /// Saves an import plan before anything of it is submitted.
    pub fn save_plan(&self, key: [u8; 32], plan: &[u8]) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        tx.open_table(PLANS).map_err(Error::store)?.insert(key, plan).map_err(Error::store)?;
        tx.commit().map_err(Error::store)
    }

    /// Records what a committed chunk of a plan committed, and what is left of the plan
    /// (`None`: the import is complete), in one transaction.
    pub fn imported_chunk(&self, key: [u8; 32], done: &[(RecordId, Imported)], rest: Option<&[u8]>) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut imported = tx.open_table(IMPORTED).map_err(Error::store)?;
            for (record, facts) in done {
                imported.insert(record.0, &facts.encode()[..]).map_err(Error::store)?;
            }
            let mut plans = tx.open_table(PLANS).map_err(Error::store)?;
            match rest {
                Some(rest) => plans.insert(key, rest).map(|_| ()),
                None => plans.remove(key).map(|_| ()),
            }
            .map_err(Error::store)?;
        }
        tx.commit().map_err(Error::store)
    }
}

/// What the store keeps of the newest committed version of an imported record: enough to
/// verify a copy and to tell whether the resource changed since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Imported {
    /// The version number on chain.
    pub version: VersionNo,
    /// Its salt.
    pub salt: [u8; 32],
    /// SHA-256 of its canonical form (unsalted; never leaves this store).
    pub digest: [u8; 32],
}
