//! The institution's local, durable store: one embedded ACID database file (redb) per state
//! directory, shared by the services, each of which owns its own tables in it. Every write is
//! one transaction, committed durably before the call returns. Only one process opens a store
//! at a time (redb's file lock): a long-running service that needs the outbox hosts it.

use crate::{Error, Result};
use custodia_client::Deployment;
use redb::{
    backends::InMemoryBackend, Database, Key, ReadTransaction, ReadableTable, TableDefinition, Value, WriteTransaction,
};
use std::path::Path;

/// Which chain and deployment the store belongs to: the genesis hash, then the directory's
/// address.
const BOUND_TO: TableDefinition<(), &[u8]> = TableDefinition::new("bound_to");

/// The local store of one deployment.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Database::create(path)?)
    }

    /// A store that lives in memory only (tests, examples, one-shot runs).
    pub fn in_memory() -> Result<Self> {
        Self::init(Database::builder().create_with_backend(InMemoryBackend::new())?)
    }

    /// Opens the store in `path` and binds it to `deployment` (see [`Store::bind`]).
    pub fn open_for(path: &Path, deployment: &Deployment) -> Result<Self> {
        let store = Self::open(path)?;
        store.bind(deployment)?;
        Ok(store)
    }

    fn init(db: Database) -> Result<Self> {
        let tx = db.begin_write()?;
        tx.open_table(BOUND_TO)?;
        crate::salts::create_tables(&tx)?;
        crate::outbox::create_tables(&tx)?;
        crate::index::create_tables(&tx)?;
        crate::fhir_import::create_tables(&tx)?;
        crate::sync::create_tables(&tx)?;
        crate::patient_links::create_tables(&tx)?;
        crate::explorer::index::create_tables(&tx)?;
        tx.commit()?;
        Ok(Self { db })
    }

    /// Binds the store to a deployment (its chain and directory), or checks that it is bound
    /// to it: a store never mixes two chains' or deployments' entries.
    pub fn bind(&self, deployment: &Deployment) -> Result<()> {
        let identity = [&deployment.chain[..], deployment.directory.address.as_ref()].concat();
        let tx = self.write()?;
        {
            let mut bound = tx.open_table(BOUND_TO)?;
            let known = bound.get(())?.map(|v| v.value().to_vec());
            match known {
                Some(known) if known != identity => return Err(Error::WrongStore),
                Some(_) => {}
                None => {
                    bound.insert((), &identity[..])?;
                }
            }
        }
        Ok(tx.commit()?)
    }

    /// Writes a consistent copy of the whole store to `to` (a new file, mode 600), from one
    /// read transaction: the process that has the store open (the running engine) takes it
    /// while it goes on working. Salts in a backup outlive erasures made after it: restore only
    /// with [`Store::restore`], which drops them.
    pub fn backup(&self, to: &Path) -> Result<()> {
        if to.exists() {
            return Err(Error::Input(format!("{} exists: a backup is written to a new file", to.display())));
        }
        let from = self.read()?;
        let copy = Database::create(to)?;
        let into = copy.begin_write()?;
        copy_table(&from, &into, BOUND_TO)?;
        copy_tables(&from, &into)?;
        into.commit()?;
        private(to)
    }

    /// Restores the backup `from` into `to` (replacing what is there, atomically), and opens
    /// it. Run [`crate::restore::reconcile`] next: it drops what the chain has moved past since
    /// the backup (salts of erased versions) and rebuilds the index from the chain.
    pub fn restore(from: &Path, to: &Path) -> Result<Self> {
        let backup = Database::open(from)?;
        let staged = to.with_extension("restoring");
        let _ = std::fs::remove_file(&staged);
        {
            let copy = Database::create(&staged)?;
            let read = backup.begin_read()?;
            let into = copy.begin_write()?;
            copy_table(&read, &into, BOUND_TO)?;
            copy_tables(&read, &into)?;
            into.commit()?;
        }
        private(&staged)?;
        std::fs::rename(&staged, to).map_err(|e| custodia_client::Error::io(to, e))?;
        Self::open(to)
    }

    /// A read transaction (a consistent view of every table).
    pub(crate) fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// A write transaction; nothing of it is kept until it commits.
    pub(crate) fn write(&self) -> Result<WriteTransaction> {
        Ok(self.db.begin_write()?)
    }
}

/// Copies every service's tables.
fn copy_tables(from: &ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::salts::copy_tables(from, to)?;
    crate::outbox::copy_tables(from, to)?;
    crate::index::copy_tables(from, to)?;
    crate::fhir_import::copy_tables(from, to)?;
    crate::patient_links::copy_tables(from, to)?;
    crate::sync::copy_tables(from, to)
}

/// Copies one table, row by row.
pub(crate) fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<()> {
    let source = match from.open_table(table) {
        Ok(source) => source,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    let mut target = to.open_table(table)?;
    for row in source.iter()? {
        let (key, value) = row?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}

/// Owner-only permissions for a store file (it holds salts).
fn private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| custodia_client::Error::io(path, e))?;
    }
    Ok(())
}
