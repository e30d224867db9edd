//! The sync follower: every version a FHIR R4 server stores, committed on chain once.
//!
//! It reads the server's system-level `_history` ([`crate::fhir_server`]) from where it last
//! was and, for every version it has not committed yet, in the order the server stored them:
//!
//! - derives the record and patient pseudonyms as [`crate::fhir_import`] does for a Bundle
//!   from that server (the server's base URL is the source system; the same functions);
//! - commits the version (locator: the record's opaque locator with the server's
//!   `meta.versionId`), superseding the record's previous version (Replaces), or for the first
//!   version of a `DocumentReference` whose `relatesTo` names a version on chain, that one as
//!   the import links it (Replaces, Amends, Transforms); or for the first version of any
//!   resource that a Provenance read in the same pass names as its `target`, the version its
//!   `entity` (role `revision` or `derivation`) names, as the import links it (Replaces,
//!   Transforms). A Provenance read in a later pass than the version it names comes too late:
//!   that version is committed already, and a committed link never changes;
//! - registers a patient met for the first time (the follower's account is the custodial
//!   controller);
//! - commits a deletion as a new version superseding the last one: the [`deletion_marker`]
//!   (`{"resourceType", "id", "versionId", "deleted": true}` in canonical form) under the
//!   resource's kind. Not an erasure: erasure is the patient's right (`erase`).
//! - A resource whose patient changes between versions (a misfiled record corrected): the
//!   former patient's record gets a deletion marker for that server version (the resource
//!   left that file), and the version is committed to the resource's record under its new
//!   patient (the `Type/id` record if it is that patient's or new, else one keyed by `Type/id`
//!   and the patient): the chain links versions only within one patient.
//! - A Patient merged into another (`Patient.link` `replaced-by`) is a new version of the
//!   old Patient's record like any update; both pseudonyms stay (the directory has no merge),
//!   and resources moved to the surviving patient follow the rule above.
//! - A resource without a patient (Organization, Practitioner, …) is skipped, a resource the
//!   FHIR reader refuses is not committed; both are recorded with the reason
//!   ([`Follower::refused`]) and the rest goes on.
//!
//! Exactly once: the versions of a batch (at most `MAX_BATCH`, a supersedence never before
//! its target) are saved with their salts before anything is submitted; once the chain has
//! included the batch, what it committed, the refusals and the cursor are recorded in one
//! store transaction, and the saved batch is dropped. A run that finds a saved batch finishes
//! it first: if the chain holds its first commitment (batches are all or nothing) it is only
//! recorded, else it is submitted (the same salts, so the same commitments). Which versions
//! are committed is read from the store, never inferred from the cursor: the cursor only says
//! from where to read (`_since` the newest instant processed, less an overlap for writes that
//! became visible late), and entries read again are recognised and skipped.

use crate::{
    fhir_import::FhirImport,
    fhir_server::{format_instant, instant_nanos, FhirServer, HistoryEntry},
    Error, Result, Store,
};
use custodia_client::{
    error::InclusionError,
    types::{
        records::{Link, NewVersion, Supersedence, VersionRef, MAX_BATCH, MAX_LOCATOR_LEN},
        PatientId, RecordId,
    },
    verify::{commitment, new_salt, opaque_locator, Pseudonyms},
    Backend, Client, ContractError, Signer,
};
use custodia_fhir::{canonical::Scheme, document::Document, Problem};
use records::BatchError;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use scale::{Decode, Encode};
use sha2::{Digest, Sha256};
use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

/// Per server (base URL): the newest instant processed.
const CURSORS: TableDefinition<&str, &str> = TableDefinition::new("sync_cursors");
/// Per resource key: what the follower committed last for it ([`Followed`]).
const RESOURCES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("sync_resources");
/// Per (resource key, server version id): the version committed ([`Committed`]).
const VERSIONS: TableDefinition<([u8; 32], &str), &[u8]> = TableDefinition::new("sync_versions");
/// Per (resource key, server version id): a version not committed, and why ([`Refused`]).
const REFUSED: TableDefinition<([u8; 32], &str), &[u8]> = TableDefinition::new("sync_refused");
/// Per server: the batch saved before it was submitted, until it is recorded.
const PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("sync_pending");
/// Per record the follower committed to: its patient and the newest version it committed.
const RECORDS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("sync_records");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, CURSORS)?;
    crate::store::copy_table(from, to, RESOURCES)?;
    crate::store::copy_table(from, to, VERSIONS)?;
    crate::store::copy_table(from, to, REFUSED)?;
    crate::store::copy_table(from, to, PENDING)?;
    crate::store::copy_table(from, to, RECORDS)?;
    Ok(())
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(CURSORS)?;
    tx.open_table(RESOURCES)?;
    tx.open_table(VERSIONS)?;
    tx.open_table(REFUSED)?;
    tx.open_table(PENDING)?;
    tx.open_table(RECORDS)?;
    Ok(())
}

/// The store's key of a resource of a server: SHA-256 of the base URL and `Type/id`.
pub fn resource_key(server: &str, reference: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(server.as_bytes());
    hasher.update([0]);
    hasher.update(reference.as_bytes());
    hasher.finalize().into()
}

/// What the follower committed last for a resource of the server.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Followed {
    /// `Type/id` (kept in this store only).
    pub reference: String,
    /// The record its versions go to now.
    pub record: RecordId,
    /// Its patient now.
    pub patient: PatientId,
    /// The server's version id of the newest version committed.
    pub version: String,
    /// That version's number on chain.
    pub chain_version: u32,
    /// True if that version is a deletion marker.
    pub deleted: bool,
}

/// A marker left in a former patient's record: the record, its version number, the salt.
pub type LeftMarker = (RecordId, u32, [u8; 32]);

/// One server version as committed: where on chain, and the salt to check a copy with.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Committed {
    /// The record.
    pub record: RecordId,
    /// The version number on chain.
    pub chain_version: u32,
    /// The salt of its commitment.
    pub salt: [u8; 32],
    /// The canonical scheme ([`Scheme::code`]).
    pub scheme: u8,
    /// True if it is a deletion marker.
    pub deleted: bool,
    /// If the patient changed with this version: the marker left in the former patient's
    /// record (record, version, salt).
    pub left: Option<LeftMarker>,
}

/// A server version the follower did not commit, and why.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
pub struct Refused {
    /// `Type/id`.
    pub resource: String,
    /// The server's version id.
    pub version: String,
    /// Why, in words.
    pub reason: String,
    /// True if skipped by rule (no patient, a deletion of nothing committed); false if the
    /// FHIR reader refused it.
    pub skipped: bool,
}

/// What the follower is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct FollowOptions {
    /// Entries per history page (`_count`).
    pub page_size: u32,
    /// How far before the cursor to read again, for writes that became visible after later
    /// ones (a long transaction on the server).
    pub overlap: Duration,
    /// Most versions a pass holds (their resources' text in memory): the oldest not committed
    /// yet; a pass leaves the newer ones to the next ([`SyncReport::held_back`]).
    pub window: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self { page_size: 500, overlap: Duration::from_secs(5), window: 10_000 }
    }
}

/// Where a run is, for status lines and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncStage {
    /// The history since the cursor is read: `queue` versions are not committed yet.
    Read {
        /// Versions waiting.
        queue: usize,
    },
    /// A batch is saved, about to be submitted.
    Saved {
        /// Versions in it.
        versions: usize,
    },
    /// The chain included the batch; the store has not recorded it yet.
    Included {
        /// Versions in it.
        versions: usize,
    },
    /// The batch is recorded (and the cursor advanced).
    Recorded {
        /// Versions in it.
        versions: usize,
        /// Versions still waiting in this run.
        queue: usize,
    },
}

/// What one run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SyncReport {
    /// The server's base URL.
    pub server: String,
    /// History pages read.
    pub pages: usize,
    /// History entries read (each version once).
    pub read: usize,
    /// Entries served twice and dropped.
    pub repeats: usize,
    /// Versions not committed before this run that it took on (at most the window).
    pub queued: usize,
    /// Versions not committed yet that were newer than the window: the next pass takes them
    /// (a follower passes again at once while any are held back).
    pub held_back: usize,
    /// Versions recorded as committed by this run (deletion markers included, and the markers
    /// a patient change leaves; a resumed batch found on chain counts, without a transaction).
    pub committed: usize,
    /// Of those, deletion markers of deletions on the server.
    pub deletions: usize,
    /// Versions whose patient changed.
    pub moved: usize,
    /// Links taken from `DocumentReference.relatesTo` or a Provenance.
    pub links: usize,
    /// Versions skipped by rule (recorded with the reason).
    pub skipped: usize,
    /// Versions the FHIR reader refused (recorded with the error).
    pub refused: usize,
    /// Patients registered.
    pub registered: usize,
    /// Batches submitted.
    pub transactions: usize,
    /// True if the run first finished a batch an earlier run had saved.
    pub resumed: bool,
    /// The cursor after the run: the newest instant processed.
    pub cursor: Option<String>,
    /// Seconds from the server's write of the newest version committed to the moment its batch
    /// was recorded (0 if nothing was committed).
    pub lag_seconds: f64,
    /// Seconds the run took.
    pub seconds: f64,
    /// Of those, seconds spent waiting for the chain (queries, dry runs, transactions).
    pub chain_seconds: f64,
}

impl SyncReport {
    /// This run followed by `next` (the next pass), as one: counts and times added, the cursor,
    /// lag and what is held back as `next` left them.
    pub fn then(&mut self, next: SyncReport) {
        let counts = [
            (&mut self.pages, next.pages),
            (&mut self.read, next.read),
            (&mut self.repeats, next.repeats),
            (&mut self.queued, next.queued),
            (&mut self.committed, next.committed),
            (&mut self.deletions, next.deletions),
            (&mut self.moved, next.moved),
            (&mut self.links, next.links),
            (&mut self.skipped, next.skipped),
            (&mut self.refused, next.refused),
            (&mut self.registered, next.registered),
            (&mut self.transactions, next.transactions),
        ];
        for (total, more) in counts {
            *total += more;
        }
        self.resumed |= next.resumed;
        (self.cursor, self.held_back) = (next.cursor, next.held_back);
        if next.committed > 0 {
            self.lag_seconds = next.lag_seconds;
        }
        self.seconds += next.seconds;
        self.chain_seconds += next.chain_seconds;
    }

    /// Versions committed per second (the whole run).
    pub fn rate(&self) -> f64 {
        self.committed as f64 / self.seconds.max(1e-9)
    }

    /// Versions committed per second of the follower's own work (the run less the chain).
    pub fn follower_rate(&self) -> f64 {
        self.committed as f64 / (self.seconds - self.chain_seconds).max(1e-9)
    }
}

/// One version planned for a batch.
#[derive(Clone, Debug, Encode, Decode)]
struct Planned {
    key: [u8; 32],
    reference: String,
    server_version: String,
    version: NewVersion,
    number: u32,
    salt: [u8; 32],
    deleted: bool,
    /// A marker left in the former patient's record (precedes the version it belongs to).
    left: bool,
}

/// A batch as saved before submission: its versions, the refusals and the cursor recorded
/// with it, and the patients it needs registered.
#[derive(Clone, Debug, Default, Encode, Decode)]
struct Batch {
    versions: Vec<Planned>,
    refused: Vec<([u8; 32], Refused)>,
    cursor: Option<String>,
    patients: Vec<PatientId>,
}

/// The follower of one FHIR server, committing as one custodian.
pub struct Follower<'c, B> {
    client: &'c Client<B>,
    store: &'c Store,
    pseudonyms: &'c Pseudonyms,
    server: &'c FhirServer,
    options: FollowOptions,
    /// Patients known to be registered (registration is never undone).
    registered: std::sync::Mutex<HashSet<PatientId>>,
}

/// How long chain calls took, summed.
#[derive(Default)]
struct ChainClock(Duration);

impl ChainClock {
    async fn time<T>(&mut self, call: impl std::future::Future<Output = T>) -> T {
        let start = Instant::now();
        let out = call.await;
        self.0 += start.elapsed();
        out
    }
}

impl<'c, B: Backend> Follower<'c, B> {
    /// Follows `server` into `client`'s deployment, remembering in `store`, with pseudonyms
    /// derived from `pseudonyms` within the server (its base URL names the source system).
    pub fn new(
        client: &'c Client<B>,
        store: &'c Store,
        pseudonyms: &'c Pseudonyms,
        server: &'c FhirServer,
        options: FollowOptions,
    ) -> Self {
        Self { client, store, pseudonyms, server, options, registered: Default::default() }
    }

    fn import(&self) -> FhirImport<'c, B> {
        FhirImport::new(self.client, self.store, self.pseudonyms)
    }

    /// Reads the server's history since the cursor and commits every version not committed
    /// yet, batch by batch; finishes an interrupted batch first.
    ///
    /// # Errors
    /// The server unreachable or answering errors after the retries ([`Error::Server`]), a
    /// history that loops, the chain unreachable or refusing a batch, the store failing: the
    /// cursor then stays where the last recorded batch left it and nothing is skipped.
    pub async fn run_once(&self, custodian: &Signer, hook: &mut dyn FnMut(SyncStage)) -> Result<SyncReport> {
        let started = Instant::now();
        let mut chain = ChainClock::default();
        let mut report = SyncReport { server: self.server.base().to_string(), ..SyncReport::default() };
        if let Some(batch) = self.saved_batch()? {
            report.resumed = true;
            // Refused: the refusal is recorded, the rest is read and planned again below.
            self.finish(batch, true, custodian, &mut report, &mut chain, hook, 0).await?;
        }
        let cursor = self.cursor()?;
        let overlap = i128::try_from(self.options.overlap.as_nanos()).unwrap_or(i128::MAX);
        let since = cursor.as_deref().and_then(instant_nanos).map(|at| format_instant(at.saturating_sub(overlap)));
        let mut fresh = self.read_window(since.as_deref(), &mut report).await?;
        fresh.reverse(); // oldest first, then stably by instant and version number
        fresh.sort_by_key(|e| (instant_nanos(&e.last_modified).unwrap_or_default(), version_order(&e.version)));
        report.queued = fresh.len();
        hook(SyncStage::Read { queue: fresh.len() + report.held_back });
        let mut plan = Plan::default();
        let mut set_aside: HashMap<([u8; 32], String), String> = HashMap::new();
        let provenance = provenance_links(self.pseudonyms, self.server.base(), &fresh);
        let mut first = 0; // the batch's first entry
        for (at, entry) in fresh.iter().enumerate() {
            if plan.batch.versions.len() + 2 > MAX_BATCH as usize {
                let (entries, queue) = (&fresh[first..at], fresh.len() - at);
                self.put_on_chain(
                    plan,
                    entries,
                    &provenance,
                    &mut set_aside,
                    custodian,
                    &mut report,
                    &mut chain,
                    hook,
                    queue,
                )
                .await?;
                (plan, first) = (Plan::default(), at);
            }
            if at == first {
                let ahead = &fresh[at..fresh.len().min(at + MAX_BATCH as usize)];
                self.prefetch_heads(&mut plan, ahead, &mut chain).await?;
            }
            self.plan(&mut plan, entry, &provenance, &set_aside, &mut chain).await?;
        }
        if first < fresh.len() {
            let entries = &fresh[first..];
            self.put_on_chain(plan, entries, &provenance, &mut set_aside, custodian, &mut report, &mut chain, hook, 0)
                .await?;
        }
        report.cursor = self.cursor()?;
        report.seconds = started.elapsed().as_secs_f64();
        report.chain_seconds = chain.0.as_secs_f64();
        Ok(report)
    }

    /// Reads the history since `since` page by page and keeps the versions not committed or
    /// refused yet, at most `window` of them: the oldest (HFS serves newest first, so once
    /// `window` are held, each older one read drops the newest held). The versions dropped are
    /// counted in `held_back` and read again by the next pass, after the cursor has moved past
    /// those committed: a backlog larger than the window is committed window by window, never
    /// held in memory whole. (What every version read costs beyond the window is its key, to
    /// recognise a page served twice.)
    async fn read_window(&self, since: Option<&str>, report: &mut SyncReport) -> Result<Vec<HistoryEntry>> {
        let mut pages = self.server.history_pages(since, self.options.page_size);
        let mut held: std::collections::VecDeque<HistoryEntry> = Default::default(); // newest first
        while let Some(url) = pages.next_page()? {
            // Blocking HTTP with back-off: on tokio's blocking pool, so that a slow or
            // unreachable server does not stall other work on this thread (a gateway's requests).
            let server = self.server.clone();
            let body = tokio::task::spawn_blocking(move || server.history_page(&url))
                .await
                .map_err(|e| Error::Input(format!("the history reader stopped: {e}")))??;
            let entries = pages.read(&body)?;
            report.read += entries.len();
            let tx = self.store.read()?;
            let (versions, refused) = (tx.open_table(VERSIONS)?, tx.open_table(REFUSED)?);
            for entry in entries {
                let key = (resource_key(self.server.base(), &entry.reference), entry.version.as_str());
                if versions.get(key)?.is_none() && refused.get(key)?.is_none() {
                    held.push_back(entry);
                }
            }
            while held.len() > self.options.window.max(1) {
                held.pop_front();
                report.held_back += 1;
            }
        }
        report.pages = pages.pages;
        report.repeats = pages.repeats;
        Ok(held.into())
    }

    /// Puts a planned batch on chain; if the chain's dry run refuses one of its versions, sets
    /// that history entry aside (recorded as refused, with the contract's reason), plans the
    /// batch's entries again without it and tries again: one bad version never holds up the
    /// rest.
    #[allow(clippy::too_many_arguments)]
    async fn put_on_chain(
        &self,
        mut plan: Plan,
        entries: &[HistoryEntry],
        provenance: &ProvenanceLinks,
        set_aside: &mut HashMap<([u8; 32], String), String>,
        custodian: &Signer,
        report: &mut SyncReport,
        chain: &mut ChainClock,
        hook: &mut dyn FnMut(SyncStage),
        queue: usize,
    ) -> Result<()> {
        loop {
            let counts = plan.counts;
            match self.submit(plan.batch, custodian, report, chain, hook, queue).await? {
                Judged::Committed => {
                    report.deletions += counts.deletions;
                    report.moved += counts.moved;
                    report.links += counts.links;
                    report.skipped += counts.skipped;
                    report.refused += counts.refused;
                    return Ok(());
                }
                Judged::Refused { key, version, reason } => {
                    set_aside.insert((key, version), reason);
                    plan = Plan::default();
                    self.prefetch_heads(&mut plan, entries, chain).await?;
                    for entry in entries {
                        self.plan(&mut plan, entry, provenance, set_aside, chain).await?;
                    }
                }
            }
        }
    }

    /// Plans one history entry into `plan`: one version (two if the patient changed), or a
    /// refusal.
    async fn plan(
        &self,
        plan: &mut Plan,
        entry: &HistoryEntry,
        provenance: &ProvenanceLinks,
        set_aside: &HashMap<([u8; 32], String), String>,
        chain: &mut ChainClock,
    ) -> Result<()> {
        let later = |a: &str, b: &str| instant_nanos(a) > instant_nanos(b);
        if plan.batch.cursor.as_deref().is_none_or(|c| later(&entry.last_modified, c)) {
            plan.batch.cursor = Some(entry.last_modified.clone());
        }
        let base = self.server.base();
        let key = resource_key(base, &entry.reference);
        let head = match plan.followed.get(&key) {
            Some(head) => Some(head.clone()),
            None => self.followed(key)?,
        };
        let (kind, id) = entry.reference.split_once('/').unwrap_or((&entry.reference, ""));
        let import = self.import();
        let refuse = |plan: &mut Plan, reason: String, skipped: bool| {
            let refused =
                Refused { resource: entry.reference.clone(), version: entry.version.clone(), reason, skipped };
            plan.batch.refused.push((key, refused));
        };
        if let Some(reason) = set_aside.get(&(key, entry.version.clone())) {
            plan.counts.refused += 1;
            refuse(plan, reason.clone(), false);
            return Ok(());
        }
        // A refused version retried after a later version of its resource was committed: the
        // chain's versions follow the server's, so it has no place any more.
        // (Only where both version ids are numbers, as HFS's are: other servers' ids say
        // nothing of their order.) Skipped: a retry can never place it.
        let number = |version: &str| version.parse::<u64>().ok();
        let older = |h: &&Followed| number(&entry.version).zip(number(&h.version)).is_some_and(|(v, h)| v < h);
        if let Some(later) = head.as_ref().filter(older) {
            plan.counts.skipped += 1;
            let reason = format!(
                "version {} was committed already: an earlier version cannot follow it on chain",
                later.version
            );
            refuse(plan, reason, true);
            return Ok(());
        }
        if opaque_locator(RecordId::new([0; 32]), &entry.version).len() > MAX_LOCATOR_LEN as usize {
            plan.counts.refused += 1;
            refuse(plan, format!("a version id of {} bytes does not fit in a locator", entry.version.len()), false);
            return Ok(());
        }
        let Some(text) = &entry.resource else {
            // A deletion: a marker superseding the last version committed.
            match head {
                Some(head) if !head.deleted => {
                    let marker = deletion_marker(kind, id, &entry.version);
                    let target = self.head_of(plan, head.record, chain).await?.map(|(_, v)| v);
                    let number = target.unwrap_or(0) + 1;
                    self.push(plan, entry, key, head.record, head.patient, &marker, kind, number, target, true, false)?;
                    plan.followed.insert(key, Followed { deleted: true, chain_version: number, ..head });
                    plan.counts.deletions += 1;
                }
                Some(_) => {
                    refuse(plan, "deleted again: its last version committed is a deletion".into(), true);
                    plan.counts.skipped += 1;
                }
                None => {
                    refuse(plan, "deleted before any version of it was committed".into(), true);
                    plan.counts.skipped += 1;
                }
            }
            return Ok(());
        };
        let document = match self.document(&entry.reference, text) {
            Ok(document) => document,
            Err(problem) => {
                let skipped = matches!(problem, Problem::NoPatient | Problem::NotAPatientsRecord(..));
                match skipped {
                    true => plan.counts.skipped += 1,
                    false => plan.counts.refused += 1,
                }
                let mut reason = problem.to_string();
                if kind == "Provenance" && skipped {
                    reason.push_str(" (a Provenance: the versions it names that this pass commits take its links)");
                }
                refuse(plan, reason, skipped);
                return Ok(());
            }
        };
        let resource = &document.resources[0];
        if resource.reference() != entry.reference {
            plan.counts.refused += 1;
            refuse(plan, format!("the entry names another resource than it holds ({})", resource.kind), false);
            return Ok(());
        }
        let bytes = match resource.canonical(Scheme::CURRENT) {
            Ok(bytes) => bytes,
            Err(problem) => {
                plan.counts.refused += 1;
                refuse(plan, problem.to_string(), false);
                return Ok(());
            }
        };
        let patient = import.patient(&document);
        if !plan.patients.contains(&patient) {
            plan.patients.insert(patient);
            plan.batch.patients.push(patient);
        }
        // The patient changed: the former patient's file loses the resource.
        if let Some(head) = head.as_ref().filter(|h| h.patient != patient) {
            plan.counts.moved += 1;
            if !head.deleted {
                let marker = deletion_marker(kind, id, &entry.version);
                let target = self.head_of(plan, head.record, chain).await?.map(|(_, v)| v);
                let number = target.unwrap_or(0) + 1;
                self.push(plan, entry, key, head.record, head.patient, &marker, kind, number, target, true, true)?;
            }
        }
        // The record under this patient: the resource's own, unless another patient's.
        let home = import.record(&document, resource);
        let record = match self.head_of(plan, home, chain).await? {
            Some((owner, _)) if owner != patient => {
                let local = custodia_fhir::document::local_form(&document.patient.reference);
                self.pseudonyms.for_source(base).record(&format!("{}|{local}", entry.reference))
            }
            _ => home,
        };
        let previous = self.head_of(plan, record, chain).await?.map(|(_, v)| v);
        let number = previous.unwrap_or(0) + 1;
        let mut link =
            previous.map(|version| Link { target: VersionRef { record, version }, how: Supersedence::Replaces });
        if link.is_none() {
            link = self.first_open_link(plan, &document, record, patient, entry, provenance, chain).await?;
        }
        let at = self.push(plan, entry, key, record, patient, &bytes, kind, number, None, false, false)?;
        plan.batch.versions[at].version.supersedes = link;
        if let Some(link) = link {
            plan.targets.insert((link.target.record, link.target.version));
        }
        let followed = Followed {
            reference: entry.reference.clone(),
            record,
            patient,
            version: entry.version.clone(),
            chain_version: number,
            deleted: false,
        };
        plan.followed.insert(key, followed);
        Ok(())
    }

    /// The link of a resource's first version, as the import makes it: from a
    /// DocumentReference's `relatesTo`, then from the Provenance of this pass that names the
    /// version (`provenance`); the first candidate whose target is on chain (or planned), of
    /// the same patient, another record, and not superseded yet.
    #[allow(clippy::too_many_arguments)]
    async fn first_open_link(
        &self,
        plan: &mut Plan,
        document: &Document,
        record: RecordId,
        patient: PatientId,
        entry: &HistoryEntry,
        provenance: &ProvenanceLinks,
        chain: &mut ChainClock,
    ) -> Result<Option<Link>> {
        let mut candidates: Vec<(String, Supersedence)> = Vec::new();
        if document.resources[0].kind == "DocumentReference" {
            let resolver =
                crate::fhir_import::Resolver { pseudonyms: self.pseudonyms, institutions: Default::default() };
            let related = custodia_fhir::mapping::provenance::relates_to(&document.resources[0].value, &resolver);
            candidates.extend(related.value.into_iter().map(|link| (link.to_reference, link.how)));
        }
        let named = provenance.get(&entry.reference).into_iter().flatten();
        candidates.extend(
            named
                .filter(|link| link.version.is_none_or(|v| v.to_string() == entry.version))
                .map(|link| (link.earlier.clone(), link.how)),
        );
        for (reference, how) in candidates {
            let local = crate::fhir_import::local_reference(&reference);
            let target = self.import().reference_in(document, &reference, &local);
            if target == record {
                continue; // a record's own versions are linked by the chain
            }
            let Some((owner, version)) = self.head_of(plan, target, chain).await? else { continue };
            if owner != patient || plan.targets.contains(&(target, version)) {
                continue;
            }
            let superseded = chain.time(self.client.records().superseded_by(target, version).query()).await?;
            if superseded.is_none() {
                plan.counts.links += 1;
                return Ok(Some(Link { target: VersionRef { record: target, version }, how }));
            }
        }
        Ok(None)
    }

    /// Adds one version to the plan; returns its index. `target`: the version it replaces.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        plan: &mut Plan,
        entry: &HistoryEntry,
        key: [u8; 32],
        record: RecordId,
        patient: PatientId,
        canonical: &[u8],
        kind: &str,
        number: u32,
        target: Option<u32>,
        deleted: bool,
        left: bool,
    ) -> Result<usize> {
        let salt = new_salt();
        let version = NewVersion {
            record,
            patient,
            commitment: commitment(&salt, canonical),
            locator: opaque_locator(record, &entry.version),
            kind: self.import().kind(kind),
            supersedes: target
                .map(|version| Link { target: VersionRef { record, version }, how: Supersedence::Replaces }),
        };
        plan.heads.insert(record, (patient, number));
        plan.absent.remove(&record);
        plan.batch.versions.push(Planned {
            key,
            reference: entry.reference.clone(),
            server_version: entry.version.clone(),
            version,
            number,
            salt,
            deleted,
            left,
        });
        Ok(plan.batch.versions.len() - 1)
    }

    /// A resource as the import reads it, placed in the server (its source system).
    fn document(&self, reference: &str, text: &[u8]) -> Result<Document, Problem> {
        let mut document = custodia_fhir::document::parse("history entry", text).map_err(|e| e.problem)?;
        let base = self.server.base();
        document.source = Some(base.to_string());
        if let Some(resource) = document.resources.first_mut() {
            resource.full_url = Some(format!("{base}/{reference}"));
        }
        Ok(document)
    }

    /// Learns from the chain, in one query per `MAX_BATCH` records, the patient and newest
    /// version of every record `entries` name (each resource's own record, and the one its
    /// last version was committed to), so that planning them asks the chain nothing more in
    /// the common case: one query per batch instead of one per new record, which on a chain
    /// whose queries cost 100 ms or more is what lets the follower keep up. The chain, not
    /// the store, is asked: it is right whoever else committed to the record.
    async fn prefetch_heads(&self, plan: &mut Plan, entries: &[HistoryEntry], chain: &mut ChainClock) -> Result<()> {
        let base = self.server.base();
        let within = self.pseudonyms.for_source(base);
        let mut wanted = Vec::new();
        for entry in entries {
            let key = resource_key(base, &entry.reference);
            let last = match plan.followed.get(&key) {
                Some(followed) => Some(followed.record),
                None => self.followed(key)?.map(|followed| followed.record),
            };
            for record in [Some(within.record(&entry.reference)), last].into_iter().flatten() {
                if !plan.heads.contains_key(&record) && !plan.absent.contains(&record) && !wanted.contains(&record) {
                    wanted.push(record);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let answers = match chain.time(self.client.records().records_info(&wanted)).await {
            Ok(answers) => answers,
            // A records registry from before `record_batch`: each head is asked on its own.
            Err(custodia_client::Error::NotUnderstood(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        for (record, info) in wanted.into_iter().zip(answers) {
            match info {
                Some(info) => {
                    plan.heads.insert(record, (info.patient, info.head));
                }
                None => {
                    plan.absent.insert(record);
                }
            }
        }
        Ok(())
    }

    /// The patient and newest version of a record: planned in this batch, or on chain (asked
    /// once per batch, most of them by `prefetch_heads`).
    async fn head_of(
        &self,
        plan: &mut Plan,
        record: RecordId,
        chain: &mut ChainClock,
    ) -> Result<Option<(PatientId, u32)>> {
        if let Some(head) = plan.heads.get(&record) {
            return Ok(Some(*head));
        }
        if plan.absent.contains(&record) {
            return Ok(None);
        }
        let info = chain.time(self.client.records().record(record).query()).await?;
        match info {
            Some(info) => {
                plan.heads.insert(record, (info.patient, info.head));
            }
            None => {
                plan.absent.insert(record);
            }
        }
        Ok(info.map(|info| (info.patient, info.head)))
    }

    /// Registers the batch's new patients, saves the batch, submits it and records it; or says
    /// which of its versions the chain refuses (recorded as refused; nothing on chain).
    async fn submit(
        &self,
        batch: Batch,
        custodian: &Signer,
        report: &mut SyncReport,
        chain: &mut ChainClock,
        hook: &mut dyn FnMut(SyncStage),
        queue: usize,
    ) -> Result<Judged> {
        if batch.versions.is_empty() {
            self.record(&batch, &[])?;
            return Ok(Judged::Committed);
        }
        report.registered += self.register(&batch.patients, custodian, chain).await?;
        self.save_batch(&batch)?;
        hook(SyncStage::Saved { versions: batch.versions.len() });
        self.finish(batch, false, custodian, report, chain, hook, queue).await
    }

    /// Puts a saved batch on chain unless it is there already (`resumed`: saved by an earlier
    /// run, whose fate is unknown), and records it. A batch the contract refuses (its dry run,
    /// or its execution reverted) left nothing on chain: the saved batch is dropped, and the
    /// version the refusal names is recorded as refused.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        batch: Batch,
        resumed: bool,
        custodian: &Signer,
        report: &mut SyncReport,
        chain: &mut ChainClock,
        hook: &mut dyn FnMut(SyncStage),
        queue: usize,
    ) -> Result<Judged> {
        if batch.versions.is_empty() {
            self.record(&batch, &[])?;
            return Ok(Judged::Committed);
        }
        let records = self.client.records();
        let first = batch.versions[0].version.commitment;
        // The institution committing: only its own commitments tell a resumed batch it landed.
        let custodian_id = match resumed {
            true => chain
                .time(self.client.directory().membership(custodian.account()).query())
                .await?
                .map(|m| m.institution),
            false => None,
        };
        let first_record = batch.versions[0].version.record;
        let on_chain = match custodian_id {
            Some(id) => chain.time(records.find(id, first).query()).await?.is_some_and(|at| at.record == first_record),
            None => false,
        };
        let numbers = if on_chain {
            // All or nothing: the chain holds the whole batch; ask it for each number.
            let mut numbers = Vec::with_capacity(batch.versions.len());
            for planned in &batch.versions {
                let found = match custodian_id {
                    Some(id) => chain.time(records.find(id, planned.version.commitment).query()).await?,
                    None => None,
                };
                let missing = || {
                    custodia_client::Error::Inclusion(InclusionError::Unexpected(
                        "a committed batch is not wholly on chain".into(),
                    ))
                };
                numbers.push(found.ok_or_else(missing)?.version);
            }
            numbers
        } else {
            if resumed {
                self.register(&batch.patients, custodian, chain).await?;
            }
            let versions = batch.versions.iter().map(|p| p.version.clone()).collect();
            match chain.time(records.commit_batch(versions).submit(custodian)).await {
                Ok(done) => {
                    report.transactions += 1;
                    done.value
                }
                Err(error) => {
                    let named = match error.contract() {
                        Some(ContractError::RecordsBatch(BatchError { item: Some(item), .. })) => {
                            batch.versions.get(*item as usize)
                        }
                        _ => None,
                    };
                    if let Some(planned) = named {
                        let refused = Refused {
                            resource: planned.reference.clone(),
                            version: planned.server_version.clone(),
                            reason: format!("the chain refuses it: {error}"),
                            skipped: false,
                        };
                        self.drop_batch(Some((planned.key, &refused)))?;
                        let (key, version, reason) = (planned.key, refused.version, refused.reason);
                        return Ok(Judged::Refused { key, version, reason });
                    }
                    if error.contract().is_some() {
                        self.drop_batch(None)?;
                    }
                    return Err(error.into());
                }
            }
        };
        hook(SyncStage::Included { versions: batch.versions.len() });
        self.record(&batch, &numbers)?;
        report.committed += batch.versions.len();
        if let Some(written) = batch.cursor.as_deref().and_then(instant_nanos) {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let now = i128::try_from(now.as_nanos()).unwrap_or(i128::MAX);
            report.lag_seconds = now.saturating_sub(written).max(0) as f64 / 1e9;
        }
        hook(SyncStage::Recorded { versions: batch.versions.len(), queue });
        Ok(Judged::Committed)
    }

    /// Drops the saved batch (the chain refused it: nothing of it is on chain), recording the
    /// refused version if the refusal named one: one store transaction.
    fn drop_batch(&self, refused: Option<([u8; 32], &Refused)>) -> Result<()> {
        let tx = self.store.write()?;
        if let Some((key, why)) = refused {
            tx.open_table(REFUSED)?.insert((key, why.version.as_str()), &why.encode()[..])?;
        }
        tx.open_table(PENDING)?.remove(self.server.base())?;
        Ok(tx.commit()?)
    }

    /// Registers the patients the directory does not know yet; returns how many.
    /// Registration is never undone: a patient found registered is not asked about again.
    async fn register(&self, patients: &[PatientId], custodian: &Signer, chain: &mut ChainClock) -> Result<usize> {
        let directory = self.client.directory();
        let mut registered = 0;
        for patient in patients {
            if self.registered.lock().unwrap_or_else(|p| p.into_inner()).contains(patient) {
                continue;
            }
            if chain.time(directory.patient(*patient).query()).await?.is_none() {
                chain.time(directory.register_patient(*patient).submit(custodian)).await?;
                registered += 1;
            }
            self.registered.lock().unwrap_or_else(|p| p.into_inner()).insert(*patient);
        }
        Ok(registered)
    }

    /// Records a batch the chain holds (`numbers`: its version numbers), its refusals and its
    /// cursor, and drops the saved batch: one store transaction.
    fn record(&self, batch: &Batch, numbers: &[u32]) -> Result<()> {
        if numbers.len() != batch.versions.len() {
            return Err(Error::Input(format!(
                "the chain returned {} version numbers for a batch of {}",
                numbers.len(),
                batch.versions.len()
            )));
        }
        let base = self.server.base();
        let tx = self.store.write()?;
        {
            let mut versions = tx.open_table(VERSIONS)?;
            let mut resources = tx.open_table(RESOURCES)?;
            let mut records = tx.open_table(RECORDS)?;
            for (planned, &number) in batch.versions.iter().zip(numbers) {
                let head = (planned.version.patient, number);
                records.insert(planned.version.record.0, &head.encode()[..])?;
            }
            let mut left: HashMap<([u8; 32], &str), LeftMarker> = HashMap::new();
            for (planned, &number) in batch.versions.iter().zip(numbers) {
                let at = (planned.key, planned.server_version.as_str());
                if planned.left {
                    left.insert(at, (planned.version.record, number, planned.salt));
                    continue;
                }
                let committed = Committed {
                    record: planned.version.record,
                    chain_version: number,
                    salt: planned.salt,
                    scheme: Scheme::CURRENT.code(),
                    deleted: planned.deleted,
                    left: left.remove(&at),
                };
                versions.insert(at, &committed.encode()[..])?;
                let followed = Followed {
                    reference: planned.reference.clone(),
                    record: planned.version.record,
                    patient: planned.version.patient,
                    version: planned.server_version.clone(),
                    chain_version: number,
                    deleted: planned.deleted,
                };
                resources.insert(planned.key, &followed.encode()[..])?;
            }
            let mut refused = tx.open_table(REFUSED)?;
            for (key, why) in &batch.refused {
                refused.insert((*key, why.version.as_str()), &why.encode()[..])?;
            }
            let mut cursors = tx.open_table(CURSORS)?;
            if let Some(cursor) = &batch.cursor {
                let known = cursors.get(base)?.map(|c| c.value().to_string());
                if known.as_deref().is_none_or(|k| instant_nanos(cursor) > instant_nanos(k)) {
                    cursors.insert(base, cursor.as_str())?;
                }
            }
            tx.open_table(PENDING)?.remove(base)?;
        }
        Ok(tx.commit()?)
    }

    fn save_batch(&self, batch: &Batch) -> Result<()> {
        let tx = self.store.write()?;
        tx.open_table(PENDING)?.insert(self.server.base(), &batch.encode()[..])?;
        Ok(tx.commit()?)
    }

    fn saved_batch(&self) -> Result<Option<Batch>> {
        let tx = self.store.read()?;
        let table = tx.open_table(PENDING)?;
        let saved = table.get(self.server.base())?;
        saved.map(|v| Batch::decode(&mut v.value()).map_err(Error::corrupt("a saved sync batch"))).transpose()
    }

    /// The cursor: the newest instant processed on this server.
    pub fn cursor(&self) -> Result<Option<String>> {
        let tx = self.store.read()?;
        let table = tx.open_table(CURSORS)?;
        Ok(table.get(self.server.base())?.map(|v| v.value().to_string()))
    }

    /// What the follower committed last for a resource.
    pub fn followed(&self, key: [u8; 32]) -> Result<Option<Followed>> {
        let tx = self.store.read()?;
        let table = tx.open_table(RESOURCES)?;
        let value = table.get(key)?;
        value.map(|v| Followed::decode(&mut v.value()).map_err(Error::corrupt("a followed resource"))).transpose()
    }

    /// Every resource of this server the follower has committed versions of.
    pub fn all_followed(&self) -> Result<Vec<Followed>> {
        let tx = self.store.read()?;
        let table = tx.open_table(RESOURCES)?;
        let mut all = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            let followed = Followed::decode(&mut value.value()).map_err(Error::corrupt("a followed resource"))?;
            if key.value() == resource_key(self.server.base(), &followed.reference) {
                all.push(followed);
            }
        }
        Ok(all)
    }

    /// How version `version` (the server's id) of `reference` was committed, if it was.
    pub fn committed(&self, reference: &str, version: &str) -> Result<Option<Committed>> {
        let tx = self.store.read()?;
        let table = tx.open_table(VERSIONS)?;
        let value = table.get((resource_key(self.server.base(), reference), version))?;
        value.map(|v| Committed::decode(&mut v.value()).map_err(Error::corrupt("a committed version"))).transpose()
    }

    /// Every committed version of `reference`, by the server's version id.
    pub fn committed_versions(&self, reference: &str) -> Result<Vec<(String, Committed)>> {
        let key = resource_key(self.server.base(), reference);
        let tx = self.store.read()?;
        let table = tx.open_table(VERSIONS)?;
        let mut all = Vec::new();
        for row in table.range((key, "")..)? {
            let (at, value) = row?;
            let (row_key, version) = at.value();
            if row_key != key {
                break;
            }
            let committed = Committed::decode(&mut value.value()).map_err(Error::corrupt("a committed version"))?;
            all.push((version.to_string(), committed));
        }
        Ok(all)
    }

    /// Why a version was not committed, if it was refused or skipped.
    pub fn refusal(&self, reference: &str, version: &str) -> Result<Option<Refused>> {
        let tx = self.store.read()?;
        let table = tx.open_table(REFUSED)?;
        let value = table.get((resource_key(self.server.base(), reference), version))?;
        value.map(|v| Refused::decode(&mut v.value()).map_err(Error::corrupt("a refused version"))).transpose()
    }

    /// The versions not committed, with why (`skipped`: those skipped by rule too).
    pub fn refused(&self, skipped: bool) -> Result<Vec<Refused>> {
        let tx = self.store.read()?;
        let table = tx.open_table(REFUSED)?;
        let mut all = Vec::new();
        for row in table.iter()? {
            let (at, value) = row?;
            let refused = Refused::decode(&mut value.value()).map_err(Error::corrupt("a refused version"))?;
            let ours = at.value().0 == resource_key(self.server.base(), &refused.resource);
            if ours && (skipped || !refused.skipped) {
                all.push(refused);
            }
        }
        Ok(all)
    }

    /// Forgets the refusals of this server's versions that the FHIR reader or the chain refused
    /// (not those skipped by rule: they would be skipped again) and takes the cursor back to the
    /// start of the history, so that the next pass reads it again (window by window) and plans
    /// those versions anew, once the cause is gone (the patient's controller linked this
    /// institution, a newer reader accepts the element), with the versions of their resources
    /// that were skipped (a deletion of what was not committed yet). Each is still planned in
    /// order: one older than a version of its resource committed since is skipped, saying so.
    /// A Provenance skipped earlier is not read again: a retried version takes no link from it.
    /// Returns how many refused versions it forgot.
    pub fn retry_refused(&self) -> Result<usize> {
        let base = self.server.base();
        let tx = self.store.write()?;
        let forgotten = {
            let mut table = tx.open_table(REFUSED)?;
            // Every refusal of a resource with a refused version goes (a later deletion skipped
            // because nothing was committed yet must be planned again after it).
            let mut ours = Vec::new();
            for row in table.iter()? {
                let (at, value) = row?;
                let refused = Refused::decode(&mut value.value()).map_err(Error::corrupt("a refused version"))?;
                let key = at.value().0;
                if key == resource_key(base, &refused.resource) {
                    ours.push((key, refused.version, refused.skipped));
                }
            }
            let retried: HashSet<[u8; 32]> = ours.iter().filter(|r| !r.2).map(|r| r.0).collect();
            let forgotten: Vec<&([u8; 32], String, bool)> = ours.iter().filter(|r| retried.contains(&r.0)).collect();
            for (key, version, _) in &forgotten {
                table.remove((*key, version.as_str()))?;
            }
            if !retried.is_empty() {
                tx.open_table(CURSORS)?.remove(base)?;
            }
            forgotten.iter().filter(|r| !r.2).count()
        };
        tx.commit()?;
        Ok(forgotten)
    }

    /// The patient of a record the follower committed to.
    pub fn record_patient(&self, record: RecordId) -> Result<Option<PatientId>> {
        let tx = self.store.read()?;
        let table = tx.open_table(RECORDS)?;
        let value = table.get(record.0)?;
        value
            .map(|v| <(PatientId, u32)>::decode(&mut v.value()).map(|(patient, _)| patient))
            .transpose()
            .map_err(Error::corrupt("a followed record"))
    }

    /// The local `Patient/<id>` of this server whose pseudonym is `patient`, if the follower
    /// committed it (a scan of the resources followed: pseudonyms cannot be inverted).
    pub fn local_patient(&self, patient: PatientId) -> Result<Option<String>> {
        Ok(self
            .all_followed()?
            .into_iter()
            .find(|f| f.patient == patient && f.reference.starts_with("Patient/"))
            .map(|f| f.reference))
    }

    /// The opaque kind code of a resource type (the one consent category scopes name and
    /// queries are logged under).
    pub fn kind(&self, resource_type: &str) -> custodia_client::types::CodeId {
        self.import().kind(resource_type)
    }

    /// The patient pseudonym of a local patient id (`Patient/<id>`) of this server.
    pub fn patient(&self, local: &str) -> PatientId {
        self.pseudonyms.for_source(self.server.base()).patient(&custodia_fhir::document::local_form(local))
    }

    /// The patient a served resource is about, as the follower derives it (`None` if it has
    /// none or the reader refuses it).
    pub fn patient_of(&self, reference: &str, text: &[u8]) -> Option<PatientId> {
        self.document(reference, text).ok().map(|document| self.import().patient(&document))
    }

    /// The canonical bytes a served version was committed as: the resource's canonical form
    /// under `scheme`, or the deletion marker.
    pub fn canonical(&self, reference: &str, version: &str, served: Option<&[u8]>, scheme: Scheme) -> Option<Vec<u8>> {
        let (kind, id) = reference.split_once('/')?;
        match served {
            None => Some(deletion_marker(kind, id, version)),
            Some(text) => match scheme {
                Scheme::V1 => custodia_fhir::json::parse(text).ok().map(|v| custodia_fhir::canonical::bytes(&v)),
                other => custodia_fhir::canonical::bytes_with(other, text).ok(),
            },
        }
    }

    /// The server followed.
    pub fn server(&self) -> &FhirServer {
        self.server
    }

    /// The client.
    pub fn client(&self) -> &Client<B> {
        self.client
    }
}

/// Destroys the salts the follower kept for version `version` of `record` (it was erased; a
/// marker it left there counts too): the row stays, so the follower never commits that server
/// version again, and its salt becomes zeros, so nothing links the commitment the chain's
/// history keeps to the content. Returns whether a salt was destroyed.
pub fn forget_salt(store: &Store, record: RecordId, version: u32) -> Result<bool> {
    forget_salts_where(store, |r, v| r == record && v == version)
}

/// Zeroes every kept salt (of a version, or of a marker it left) for which `erased` holds, in
/// one transaction; returns whether any was.
fn forget_salts_where(store: &Store, mut erased: impl FnMut(RecordId, u32) -> bool) -> Result<bool> {
    let tx = store.write()?;
    let forgot = {
        let mut table = tx.open_table(VERSIONS)?;
        let mut changed = Vec::new();
        for row in table.iter()? {
            let (at, value) = row?;
            let mut committed = Committed::decode(&mut value.value()).map_err(Error::corrupt("a committed version"))?;
            let mut touched = false;
            if committed.salt != [0; 32] && erased(committed.record, committed.chain_version) {
                committed.salt = [0; 32];
                touched = true;
            }
            if let Some((record, version, salt)) = committed.left.as_mut() {
                if *salt != [0; 32] && erased(*record, *version) {
                    *salt = [0; 32];
                    touched = true;
                }
            }
            if touched {
                let (key, server_version) = at.value();
                changed.push((key, server_version.to_string(), committed));
            }
        }
        for (key, server_version, committed) in &changed {
            table.insert((*key, server_version.as_str()), &committed.encode()[..])?;
        }
        !changed.is_empty()
    };
    tx.commit()?;
    Ok(forgot)
}

/// Destroys the kept salts of every version the chain shows as erased (a store restored from a
/// backup taken before the erasure). Returns how many versions that was.
pub(crate) async fn drop_erased<B: Backend>(client: &Client<B>, store: &Store) -> Result<usize> {
    use custodia_client::types::records::Content;
    let kept: Vec<(RecordId, u32)> = {
        let tx = store.read()?;
        let table = tx.open_table(VERSIONS)?;
        let mut kept = Vec::new();
        for row in table.iter()? {
            let (_, value) = row?;
            let committed = Committed::decode(&mut value.value()).map_err(Error::corrupt("a committed version"))?;
            if committed.salt != [0; 32] {
                kept.push((committed.record, committed.chain_version));
            }
            kept.extend(committed.left.filter(|(_, _, salt)| *salt != [0; 32]).map(|(r, v, _)| (r, v)));
        }
        kept
    };
    let mut erased = HashSet::new();
    for (record, version) in kept {
        let found = client.records().version(record, version).query().await?;
        if matches!(found.map(|v| v.content), Some(Content::Erased(_))) {
            erased.insert((record, version));
        }
    }
    if !erased.is_empty() {
        forget_salts_where(store, |r, v| erased.contains(&(r, v)))?;
    }
    Ok(erased.len())
}

/// What the chain's dry run made of a batch.
enum Judged {
    /// It was fine, and is now committed and recorded.
    Committed,
    /// The chain refuses this version of it (the resource key and the server's version id).
    Refused {
        /// The resource's key.
        key: [u8; 32],
        /// The server's version id.
        version: String,
        /// The contract's reason, in words.
        reason: String,
    },
}

/// What a batch's plan did, added to the report once the batch is on chain.
#[derive(Clone, Copy, Default)]
struct Counts {
    deletions: usize,
    moved: usize,
    links: usize,
    skipped: usize,
    refused: usize,
}

/// What a batch being planned knows beyond the store.
#[derive(Default)]
struct Plan {
    batch: Batch,
    /// Patient and newest version number per record (planned, or as the chain said).
    heads: HashMap<RecordId, (PatientId, u32)>,
    /// Records the chain said it does not hold (and none planned yet).
    absent: HashSet<RecordId>,
    /// The resources' state after the planned versions.
    followed: HashMap<[u8; 32], Followed>,
    /// Versions already targeted by a link of this batch.
    targets: HashSet<(RecordId, u32)>,
    patients: HashSet<PatientId>,
    counts: Counts,
}

/// A supersedence a Provenance states: the version it names as its `target` (the resource's
/// server version, if the reference names one) `how` the `earlier` resource.
struct ProvenanceLink {
    version: Option<u32>,
    earlier: String,
    how: Supersedence,
}

/// The links the Provenance resources of a pass state, by the resource (`Type/id`) they name
/// as the newer version.
type ProvenanceLinks = HashMap<String, Vec<ProvenanceLink>>;

/// Reads the Provenance resources among `entries` (a pass's window) for their links. One the
/// FHIR reader would refuse still states its links; it is recorded as skipped like any.
fn provenance_links(pseudonyms: &Pseudonyms, base: &str, entries: &[HistoryEntry]) -> ProvenanceLinks {
    let resolver = crate::fhir_import::Resolver { pseudonyms, institutions: Default::default() };
    let mut links = ProvenanceLinks::new();
    for entry in entries.iter().filter(|entry| entry.reference.starts_with("Provenance/")) {
        let Some(value) = entry.resource.as_deref().and_then(|text| serde_json::from_slice(text).ok()) else {
            continue;
        };
        for link in custodia_fhir::mapping::provenance::provenance(&value, &resolver).value.links {
            if crate::fhir_import::source_of_reference(&link.from_reference).is_some_and(|source| source != base) {
                continue; // a version on another server: not one this follower commits
            }
            let newer = crate::fhir_import::local_reference(&link.from_reference);
            let stated = ProvenanceLink { version: link.from.version, earlier: link.to_reference, how: link.how };
            links.entry(newer).or_default().push(stated);
        }
    }
    links
}

/// The content committed for a deletion on the server (or for a resource leaving a patient's
/// file): the canonical form of `{"resourceType", "id", "versionId", "deleted": true}`, the
/// server's version id at the top level (the canonical form drops `meta.versionId`, and the
/// marker must name the version it stands for). The chain cannot tell it from a resource
/// version: its kind is the resource's, and only the store (and anyone the content is
/// disclosed to) knows it is a marker.
pub fn deletion_marker(kind: &str, id: &str, version: &str) -> Vec<u8> {
    let marker = serde_json::json!({"resourceType": kind, "id": id, "versionId": version, "deleted": true});
    let text = serde_json::to_vec(&marker).expect("a JSON value serialises");
    custodia_fhir::canonical::bytes_with(Scheme::CURRENT, &text).expect("the marker is canonical JSON")
}

/// Sorting key of a version id: numeric ids by number, then any others by text.
fn version_order(version: &str) -> (u64, String) {
    match version.parse::<u64>() {
        Ok(n) => (n, String::new()),
        Err(_) => (u64::MAX, version.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_marker_names_the_resource_and_its_version() {
        let marker = deletion_marker("Observation", "o1", "3");
        assert_eq!(marker, br#"{"deleted":true,"id":"o1","resourceType":"Observation","versionId":"3"}"#);
        assert_ne!(marker, deletion_marker("Observation", "o1", "4"));
    }

    #[test]
    fn versions_sort_by_number() {
        let mut versions = vec!["10", "2", "1", "x"];
        versions.sort_by_key(|v| version_order(v));
        assert_eq!(versions, ["1", "2", "10", "x"]);
    }
}
