//! FHIR records on chain: import a file's resources as record versions of its patient, and
//! verify local copies against the chain.
//!
//! A resource's record is `HMAC(secret, "Type/id")`, its patient `HMAC(secret, patient
//! reference)` (or the Custodia id the patient presented, once linked), its kind
//! `HMAC(network code key, "http://hl7.org/fhir/resource-types|Type")`; its
//! commitment is `SHA-256(salt || canonical form)` ([`custodia_fhir::canonical`]); its locator
//! is `Type/id/_history/n`, except for Patient resources and resources whose id is one of the
//! patient's identifiers, which get the record's pseudonym instead of the id. No name,
//! identifier or birth date leaves the machine.
//!
//! An import is planned first (which resources are new or changed, with their salts), the plan
//! is saved, and then committed in batches of up to `MAX_BATCH` versions, each batch all or
//! nothing. If the process stops, importing the same file again resumes the saved plan: a batch
//! already on chain (its first commitment is known there) is not submitted again.

use crate::{Error, Result, Store};
use custodia_client::types::{
    records::{Link, NewVersion, Supersedence, Verification, VersionNo, VersionRef, MAX_BATCH},
    CodeId, PatientId, RecordId,
};
use custodia_client::{
    error::InclusionError,
    verify::{commitment, new_salt, opaque_locator, Pseudonyms},
    Backend, Client, Signer,
};
use custodia_fhir::{
    canonical::Scheme,
    document::{Document, Resource},
};
use redb::{TableDefinition, WriteTransaction};
use scale::{Decode, Encode};
use sha2::{Digest, Sha256};

/// References to on-chain ids for the mappings: pseudonyms from the institution's secret (codes
/// from the network's key);
/// institutions from `Organization/custodia-institution-<n>` references and a local table
/// (e.g. `Organization/f001` -> 3) that the interface team keeps.
pub struct Resolver<'a> {
    /// The deployment's pseudonyms.
    pub pseudonyms: &'a Pseudonyms,
    /// Local references of admitted institutions.
    pub institutions: std::collections::HashMap<String, u32>,
}

/// The base of an absolute `http(s)` reference or fullUrl (`https://ehr.example/fhir` of
/// `https://ehr.example/fhir/Observation/1/_history/2`): the source system whose local id it
/// carries.
pub fn source_of_reference(reference: &str) -> Option<&str> {
    if !(reference.starts_with("http://") || reference.starts_with("https://")) {
        return None;
    }
    let (base, _) = custodia_fhir::mapping::split_version(reference);
    let parts: Vec<&str> = base.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [_id, _kind, source] => Some(*source),
        _ => None,
    }
}

/// Pseudonyms within the source system of `reference` if it names one, else `pseudonyms`'.
fn within<'p>(pseudonyms: &'p Pseudonyms, reference: &str) -> std::borrow::Cow<'p, Pseudonyms> {
    match source_of_reference(reference) {
        Some(source) => std::borrow::Cow::Owned(pseudonyms.for_source(source)),
        None => std::borrow::Cow::Borrowed(pseudonyms),
    }
}

/// `Type/id` of a reference: relative, absolute (`https://…/Type/id`) or versioned.
pub fn local_reference(reference: &str) -> String {
    let (base, _) = custodia_fhir::mapping::split_version(reference);
    let parts: Vec<&str> = base.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [id, kind, ..] => format!("{kind}/{id}"),
        _ => base.to_string(),
    }
}

impl custodia_fhir::mapping::Resolve for Resolver<'_> {
    fn patient(&self, reference: &str) -> PatientId {
        within(self.pseudonyms, reference).patient(&custodia_fhir::document::local_form(reference))
    }

    fn record(&self, reference: &str) -> RecordId {
        within(self.pseudonyms, reference).record(&local_reference(reference))
    }

    fn code(&self, system_and_code: &str) -> CodeId {
        self.pseudonyms.code(system_and_code)
    }

    fn institution(&self, reference: &str) -> Option<u32> {
        reference
            .strip_prefix("Organization/custodia-institution-")
            .and_then(|n| n.parse().ok())
            .or_else(|| self.institutions.get(reference).copied())
    }
}

/// What this store committed last for each imported record.
const IMPORTED: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("imported");
/// Plans of imports not finished yet, by plan key.
const PLANS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("import_plans");

pub(crate) fn copy_tables(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
    crate::store::copy_table(from, to, IMPORTED)?;
    crate::store::copy_table(from, to, PLANS)?;
    Ok(())
}

pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(IMPORTED)?;
    tx.open_table(PLANS)?;
    Ok(())
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
    /// The canonical scheme it was committed under ([`Scheme::code`]).
    pub scheme: u8,
}

impl Imported {
    /// Size of a record written before canonical schemes had codes (scheme V1, no code byte).
    const V1_LEN: usize = 4 + 32 + 32;

    fn decode_stored(mut bytes: &[u8]) -> Result<Self> {
        if bytes.len() == Self::V1_LEN {
            let (version, salt, digest) =
                <(VersionNo, [u8; 32], [u8; 32])>::decode(&mut bytes).map_err(Error::corrupt("an imported record"))?;
            return Ok(Imported { version, salt, digest, scheme: Scheme::V1.code() });
        }
        Imported::decode(&mut bytes).map_err(Error::corrupt("an imported record"))
    }

    /// The canonical scheme it was committed under.
    pub fn scheme(&self) -> Result<Scheme> {
        Scheme::from_code(self.scheme).ok_or(Error::Corrupt {
            what: "an imported record's canonical scheme",
            source: scale::Error::from("unknown scheme code"),
        })
    }
}

/// One planned version: what to commit, with the salt and digest to keep once it is on chain.
#[derive(Clone, Debug, Encode, Decode)]
struct Planned {
    version: NewVersion,
    number: u32,
    salt: [u8; 32],
    digest: [u8; 32],
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// The file.
    pub file: String,
    /// The patient's pseudonym on chain (0x-hex; never the local id).
    pub patient: String,
    /// Resources in it.
    pub resources: usize,
    /// Versions committed (new records and changed resources).
    pub committed: usize,
    /// Of those, versions that supersede an earlier one (the resource changed).
    pub superseded: usize,
    /// Resources unchanged since their last import (nothing committed).
    pub unchanged: usize,
    /// Batches submitted.
    pub transactions: usize,
    /// True if this run finished an import an earlier run had started.
    pub resumed: bool,
    /// True if the patient had to be registered first.
    pub registered_patient: bool,
    /// Supersedence links taken from `DocumentReference.relatesTo` and Provenance.
    pub links: usize,
    /// What the file says that could not be put on chain.
    pub unmapped: Vec<custodia_fhir::mapping::Unmapped>,
}

/// Where an import is, for progress bars and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStage {
    /// The plan is saved.
    Planned {
        /// Versions to commit.
        versions: usize,
    },
    /// A batch is on chain and recorded locally.
    Committed {
        /// Versions in the batch.
        versions: usize,
    },
}

/// How a local copy compares with the chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// `Type/id`.
    pub resource: String,
    /// The version compared (the newest one this store committed), if any.
    pub version: Option<u32>,
    /// Match, Mismatch, Erased or Unknown.
    pub verification: String,
}

impl Verdict {
    /// True for a match.
    pub fn matches(&self) -> bool {
        self.verification == "Match"
    }
}

/// Imports and verifies FHIR files for one custodian.
pub struct FhirImport<'c, B> {
    client: &'c Client<B>,
    store: &'c Store,
    pseudonyms: &'c Pseudonyms,
}

impl<'c, B: Backend> FhirImport<'c, B> {
    /// Imports into `client`'s deployment, remembering in `store`, with ids derived from
    /// `pseudonyms`.
    pub fn new(client: &'c Client<B>, store: &'c Store, pseudonyms: &'c Pseudonyms) -> Self {
        Self { client, store, pseudonyms }
    }

    fn resolver(&self) -> Resolver<'c> {
        Resolver { pseudonyms: self.pseudonyms, institutions: Default::default() }
    }

    /// Pseudonyms within the source system a file comes from (its patient's absolute URL), or
    /// within this institution's own where the file names none.
    fn of_file(&self, document: &Document) -> std::borrow::Cow<'c, Pseudonyms> {
        match &document.source {
            Some(source) => std::borrow::Cow::Owned(self.pseudonyms.for_source(source)),
            None => std::borrow::Cow::Borrowed(self.pseudonyms),
        }
    }

    /// The on-chain patient of a file: its local id within its source system.
    pub fn patient(&self, document: &Document) -> PatientId {
        self.of_file(document).patient(&custodia_fhir::document::local_form(&document.patient.reference))
    }

    /// The on-chain record of one of a file's resources: its `Type/id` within the source
    /// system of its absolute fullUrl, else the file's, else this institution's own.
    pub fn record(&self, document: &Document, resource: &Resource) -> RecordId {
        self.reference_in(document, resource.full_url.as_deref().unwrap_or_default(), &resource.reference())
    }

    /// The record a reference of `document` names (`local`: its `Type/id`, Bundle-internal
    /// references resolved): within the reference's own system if absolute, else the file's.
    pub(crate) fn reference_in(&self, document: &Document, reference: &str, local: &str) -> RecordId {
        match source_of_reference(reference) {
            Some(source) => self.pseudonyms.for_source(source).record(local),
            None => self.of_file(document).record(local),
        }
    }

    /// The opaque kind code of a resource type (the one consent `class` scopes map to).
    pub fn kind(&self, resource_type: &str) -> CodeId {
        custodia_fhir::mapping::resource_type_code(&self.resolver(), resource_type)
    }

    /// Where a version lives, without saying what it is or whose: the record's pseudonym (the
    /// custodian's store maps it back to `Type/id`) and the source server's version id if the
    /// resource has one, else the chain's version number. Resource ids and types stay off
    /// chain: ids chosen by source systems can carry MRNs, and the type would undo the opaque
    /// kind code.
    fn locator(resource: &Resource, record: RecordId, number: u32) -> Vec<u8> {
        let version = resource.value.pointer("/meta/versionId").and_then(|v| v.as_str());
        opaque_locator(record, &version.map(str::to_string).unwrap_or_else(|| number.to_string()))
    }

    /// The key an import plan is saved under: the patient and the canonical digests of the
    /// file's resources, so that the same content resumes the same plan.
    fn plan_key(&self, document: &Document, canonical: &[Vec<u8>]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.patient(document).as_bytes());
        for bytes in canonical {
            hasher.update(Sha256::digest(bytes));
        }
        hasher.finalize().into()
    }

    async fn plan(
        &self,
        document: &Document,
        canonical: &[Vec<u8>],
        report: &mut ImportReport,
    ) -> Result<Vec<Planned>> {
        use custodia_fhir::mapping::{provenance, Unmapped};
        let patient = self.patient(document);
        let records = self.client.records();
        let resolver = self.resolver();
        // Bundle-internal references (urn:uuid:…) to the `Type/id` of their entry.
        let by_full_url: std::collections::HashMap<&str, String> =
            document.resources.iter().filter_map(|r| Some((r.full_url.as_deref()?, r.reference()))).collect();
        let local = |reference: &str| by_full_url.get(reference).cloned().unwrap_or_else(|| local_reference(reference));
        let mut planned: Vec<Planned> = Vec::new();
        let mut index: std::collections::HashMap<RecordId, usize> = Default::default();
        let mut targets: std::collections::HashSet<(RecordId, u32)> = Default::default();
        // The newest version of a record: planned here, or on chain (the chain numbers versions;
        // another client may have committed to the record since this store last did).
        let newest = async |record: RecordId,
                            planned: &[Planned],
                            index: &std::collections::HashMap<RecordId, usize>|
               -> Result<Option<u32>> {
            match index.get(&record) {
                Some(at) => Ok(Some(planned[*at].number)),
                None => Ok(records.record(record).query().await?.map(|r| r.head)),
            }
        };
        for (resource, bytes) in document.resources.iter().zip(canonical) {
            let record = self.record(document, resource);
            let digest: [u8; 32] = Sha256::digest(bytes).into();
            let earlier = self.imported(record)?;
            // Unchanged is judged under the scheme the version was committed under: moving to
            // a new canonical scheme commits nothing by itself.
            let unchanged = match earlier {
                Some(e) if e.scheme()? == Scheme::CURRENT => e.digest == digest,
                Some(e) => {
                    Sha256::digest(canonical_form(&document.file, resource, e.scheme()?)?).as_slice() == e.digest
                }
                None => false,
            };
            if unchanged {
                report.unchanged += 1;
                continue;
            }
            let head = newest(record, &planned, &index).await?;
            let salt = new_salt();
            let number = head.unwrap_or(0) + 1;
            let mut supersedes =
                head.map(|version| Link { target: VersionRef { record, version }, how: Supersedence::Replaces });
            report.superseded += usize::from(supersedes.is_some());
            if supersedes.is_none() && resource.kind == "DocumentReference" {
                let mapped = provenance::relates_to(&resource.value, &resolver);
                report.unmapped.extend(mapped.unmapped);
                for link in mapped.value {
                    let target_ref = local(&link.to_reference);
                    let target = self.reference_in(document, &link.to_reference, &target_ref);
                    let why_not = if target == record {
                        Some("relates to itself: its versions are linked by the chain".to_string())
                    } else if supersedes.is_some() {
                        Some(
                            "a version supersedes at most one other on chain; further relations are not linked"
                                .to_string(),
                        )
                    } else {
                        match newest(target, &planned, &index).await? {
                            None => Some(format!("{target_ref} is not on chain: no link")),
                            Some(version) if !targets.insert((target, version)) => {
                                Some(format!("{target_ref} is already superseded by another version of this file"))
                            }
                            Some(version) => {
                                supersedes =
                                    Some(Link { target: VersionRef { record: target, version }, how: link.how });
                                report.links += 1;
                                None
                            }
                        }
                    };
                    if let Some(why) = why_not {
                        report.unmapped.push(Unmapped::new(format!("{}.relatesTo", resource.reference()), why));
                    }
                }
            }
            let version = NewVersion {
                record,
                patient,
                commitment: commitment(&salt, bytes),
                locator: Self::locator(resource, record, number),
                kind: self.kind(&resource.kind),
                supersedes,
            };
            index.insert(record, planned.len());
            planned.push(Planned { version, number, salt, digest });
        }
        // Provenance with revision/derivation entities links the versions it targets.
        for resource in document.resources.iter().filter(|r| r.kind == "Provenance") {
            let mapped = provenance::provenance(&resource.value, &resolver);
            report.unmapped.extend(mapped.unmapped.into_iter().filter(|u| {
                !u.element.starts_with("Provenance.agent") && !u.element.starts_with("Provenance.signature")
            }));
            for link in mapped.value.links {
                let from = self.reference_in(document, &link.from_reference, &local(&link.from_reference));
                let Some(at) = index.get(&from).copied() else { continue };
                let target = self.reference_in(document, &link.to_reference, &local(&link.to_reference));
                if target == from || planned[at].version.supersedes.is_some() {
                    continue; // a record's own versions are linked by the chain; one link per version
                }
                if let Some(version) = newest(target, &planned, &index).await? {
                    if targets.insert((target, version)) {
                        planned[at].version.supersedes =
                            Some(Link { target: VersionRef { record: target, version }, how: link.how });
                        report.links += 1;
                    }
                }
            }
        }
        Ok(planned)
    }

    /// Forgets the saved plan of an interrupted import of `document` (for a plan the chain
    /// refuses); what it committed stays committed and recorded.
    pub fn discard_plan(&self, document: &Document) -> Result<bool> {
        let canonical = current_forms(document)?;
        let key = self.plan_key(document, &canonical);
        let had = self.saved_plan(key)?.is_some();
        self.imported_chunk(key, &[], None)?;
        Ok(had)
    }

    /// Imports a file's resources as versions of its patient's records (registering the
    /// patient first if needed), as `custodian`.
    pub async fn import(
        &self,
        document: &Document,
        custodian: &Signer,
        hook: &mut dyn FnMut(ImportStage),
    ) -> Result<ImportReport> {
        let mut report = ImportReport {
            file: document.file.clone(),
            resources: document.resources.len(),
            ..ImportReport::default()
        };
        let patient = self.patient(document);
        report.patient = format!("0x{}", hex::encode(patient.as_bytes()));
        let directory = self.client.directory();
        // The institution committing: its own commitments tell a resumed batch it landed.
        let custodian_id = directory.membership(custodian.account()).query().await?.map(|m| m.institution);
        if directory.patient(patient).query().await?.is_none() {
            directory.register_patient(patient).submit(custodian).await?;
            report.registered_patient = true;
        }
        let canonical = current_forms(document)?;
        let key = self.plan_key(document, &canonical);
        let records = self.client.records();
        let mut plan: Vec<Planned> = match self.saved_plan(key)? {
            Some(saved) => {
                report.resumed = true;
                Vec::<Planned>::decode(&mut &saved[..]).map_err(Error::corrupt("a saved import plan"))?
            }
            None => {
                let planned = self.plan(document, &canonical, &mut report).await?;
                if planned.is_empty() {
                    return Ok(report);
                }
                // Judge the first batch before saving anything: a plan the chain refuses
                // outright is reported, not saved to be resumed in vain.
                let first: Vec<NewVersion> =
                    planned.iter().take(MAX_BATCH as usize).map(|p| p.version.clone()).collect();
                records.commit_batch(first).dry_run(custodian.account()).await?;
                self.save_plan(key, &planned.encode())?;
                planned
            }
        };
        hook(ImportStage::Planned { versions: plan.len() });
        if report.resumed {
            report.superseded = plan.iter().filter(|p| p.version.supersedes.is_some()).count();
        }
        while !plan.is_empty() {
            let batch: Vec<Planned> = plan.drain(..plan.len().min(MAX_BATCH as usize)).collect();
            // A batch is all or nothing: if its first version is on chain, all of it is, and
            // the chain says which numbers it got.
            let on_chain = match custodian_id {
                Some(id) => records.find(id, batch[0].version.commitment).query().await?,
                None => None,
            };
            let numbers: Vec<u32> = match on_chain.filter(|at| at.record == batch[0].version.record) {
                Some(first) => (first.version..).take(batch.len()).collect::<Vec<_>>(),
                None => {
                    let versions = batch.iter().map(|p| p.version.clone()).collect();
                    report.transactions += 1;
                    records.commit_batch(versions).submit(custodian).await?.value
                }
            };
            let numbers = if numbers.len() == batch.len() && batch.iter().zip(&numbers).all(|(p, n)| p.number == *n) {
                numbers
            } else {
                // Resumed batches of distinct records: ask the chain for each.
                let mut exact = Vec::with_capacity(batch.len());
                for p in &batch {
                    let found = match custodian_id {
                        Some(id) => records.find(id, p.version.commitment).query().await?,
                        None => None,
                    };
                    let unexpected = || {
                        custodia_client::Error::Inclusion(InclusionError::Unexpected(
                            "a committed batch is not on chain".into(),
                        ))
                    };
                    exact.push(found.map(|v| v.version).ok_or_else(unexpected)?);
                }
                exact
            };
            let done: Vec<(RecordId, Imported)> = batch
                .iter()
                .zip(numbers)
                .map(|(p, version)| {
                    let imported = Imported { version, salt: p.salt, digest: p.digest, scheme: Scheme::CURRENT.code() };
                    (p.version.record, imported)
                })
                .collect();
            let rest = (!plan.is_empty()).then(|| plan.encode());
            self.imported_chunk(key, &done, rest.as_deref())?;
            report.committed += batch.len();
            hook(ImportStage::Committed { versions: batch.len() });
        }
        if report.resumed {
            report.unchanged = document.resources.len().saturating_sub(report.committed);
        }
        Ok(report)
    }

    /// Compares every resource of a file with the version this store committed for it.
    pub async fn verify(&self, document: &Document) -> Result<Vec<Verdict>> {
        let records = self.client.records();
        let mut verdicts = Vec::new();
        for resource in &document.resources {
            let record = self.record(document, resource);
            let verdict = match self.imported(record)? {
                None => Verdict { resource: resource.reference(), version: None, verification: "Unknown".into() },
                Some(imported) => {
                    let bytes = canonical_form(&document.file, resource, imported.scheme()?)?;
                    let verification: Verification =
                        records.verify(record, imported.version, commitment(&imported.salt, &bytes)).query().await?;
                    Verdict {
                        resource: resource.reference(),
                        version: Some(imported.version),
                        verification: format!("{verification:?}"),
                    }
                }
            };
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    /// What this store committed last for a record.
    pub fn imported(&self, record: RecordId) -> Result<Option<Imported>> {
        let tx = self.store.read()?;
        let table = tx.open_table(IMPORTED)?;
        let value = table.get(record.0)?;
        value.map(|v| Imported::decode_stored(v.value())).transpose()
    }

    /// The import plan saved under `key`, if an import of it was interrupted.
    fn saved_plan(&self, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let tx = self.store.read()?;
        let table = tx.open_table(PLANS)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Saves an import plan before anything of it is submitted.
    fn save_plan(&self, key: [u8; 32], plan: &[u8]) -> Result<()> {
        let tx = self.store.write()?;
        tx.open_table(PLANS)?.insert(key, plan)?;
        Ok(tx.commit()?)
    }

    /// Records what a committed chunk of a plan committed, and what is left of the plan
    /// (`None`: the import is complete), in one transaction.
    fn imported_chunk(&self, key: [u8; 32], done: &[(RecordId, Imported)], rest: Option<&[u8]>) -> Result<()> {
        let tx = self.store.write()?;
        {
            let mut imported = tx.open_table(IMPORTED)?;
            for (record, facts) in done {
                imported.insert(record.0, &facts.encode()[..])?;
            }
            let mut plans = tx.open_table(PLANS)?;
            match rest {
                Some(rest) => plans.insert(key, rest).map(|_| ())?,
                None => plans.remove(key).map(|_| ())?,
            }
        }
        Ok(tx.commit()?)
    }
}

/// The canonical form of a resource under `scheme`.
fn canonical_form(file: &str, resource: &Resource, scheme: Scheme) -> Result<Vec<u8>> {
    resource.canonical(scheme).map_err(|problem| {
        Error::Fhir(Box::new(custodia_fhir::FhirError {
            file: file.to_string(),
            entry: Some(resource.reference()),
            problem,
        }))
    })
}

/// The canonical forms of a file's resources under the current scheme.
fn current_forms(document: &Document) -> Result<Vec<Vec<u8>>> {
    document.resources.iter().map(|r| canonical_form(&document.file, r, Scheme::CURRENT)).collect()
}

/// Drops what this store keeps of imported versions the chain shows as erased (their salts
/// among it). Returns how many.
pub(crate) async fn drop_erased<B: Backend>(client: &Client<B>, store: &Store) -> Result<usize> {
    let imported: Vec<([u8; 32], Imported)> = {
        let tx = store.read()?;
        let table = tx.open_table(IMPORTED)?;
        let mut rows = Vec::new();
        for row in redb::ReadableTable::iter(&table)? {
            let (record, value) = row?;
            rows.push((record.value(), Imported::decode_stored(value.value())?));
        }
        rows
    };
    let mut dropped = 0;
    for (record, imported) in imported {
        let version = client.records().version(RecordId::new(record), imported.version).query().await?;
        if matches!(version.map(|v| v.content), Some(custodia_client::types::records::Content::Erased(_))) {
            let tx = store.write()?;
            tx.open_table(IMPORTED)?.remove(record)?;
            tx.commit()?;
            dropped += 1;
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_schemes_had_codes_read_as_scheme_v1() {
        let old = (7u32, [1u8; 32], [2u8; 32]).encode();
        assert_eq!(old.len(), Imported::V1_LEN);
        let read = Imported::decode_stored(&old).unwrap();
        assert_eq!((read.version, read.salt, read.digest), (7, [1; 32], [2; 32]));
        assert_eq!(read.scheme().unwrap(), Scheme::V1);
        let new = Imported { version: 7, salt: [1; 32], digest: [2; 32], scheme: Scheme::V2.code() };
        assert_eq!(Imported::decode_stored(&new.encode()).unwrap(), new);
        let unknown = Imported { scheme: 99, ..new };
        assert!(matches!(Imported::decode_stored(&unknown.encode()).unwrap().scheme(), Err(Error::Corrupt { .. })));
    }
}
