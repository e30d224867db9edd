//! # Records
//!
//! The registry of record versions: what was committed, by whom, when, what superseded what,
//! and what was erased.
//!
//! ## Overview
//! - A **record** belongs to one patient (a pseudonym) and one custodian institution, and has a
//!   32-byte id the custodian chooses. Its first commit opens it.
//! - Each **version** carries a salted commitment of the off-chain content, a bounded locator
//!   (where the content lives), an opaque kind code, the committing account and the block time.
//!   Versions are numbered from 1 and never overwritten; a commitment is accepted once per
//!   custodian, ever (another custodian's use of the same value never blocks it).
//! - **Supersedence**: a version can state that it replaces, amends, corrects or transforms an
//!   earlier version of any record of the same patient and custodian. The link is readable from
//!   both ends (`version(..).supersedes`, `superseded_by`). A version is superseded at most
//!   once; later changes supersede the newer version, so the history stays a chain.
//! - **Hand-over**: an institution that took over a leaving custodian's patients (the
//!   directory's `succeeds`) keeps that custodian's records as if it had opened them: it
//!   commits their next versions (it took over the systems they come from), links versions of
//!   its own records to them (it migrated the data: `Transforms`), and erases them on request,
//!   so a patient's history runs on across the move. A record keeps the custodian that opened
//!   it; each version names the account that committed it.
//! - **Erasure** removes a version's commitment and locator and leaves a tombstone (who, when,
//!   why). `verify` then reports `Erased`, never `Unknown` or `Mismatch`, and the erased
//!   commitment can never be committed again.
//!
//! ## Roles
//! | caller | may |
//! |---|---|
//! | account of a custodian institution | open records, commit and supersede versions of the records its institution keeps, erase them (also those of an institution it took over) |
//! | the patient's own key (a patient-held controller) | erase versions of the patient's records, whoever keeps them |
//! | anyone | query and verify |
//!
//! - **Batches**: `commit_batch` commits up to `MAX_BATCH` versions all or nothing.
//!
//! Memberships come from the directory contract and are cached once the directory confirms
//! this registry is attached; the directory makes it forget (`MembershipCache`) whenever an
//! account leaves or an institution's roles change, in the same transaction, so a removed
//! account or institution loses its rights in the block the removal lands in. Control of a
//! patient (for erasure) is always asked of the directory. An institution acting for a
//! custodial patient erases only its own versions; another custodian's version can be erased
//! on the patient's behalf only with the patient's own key, and its `VersionErased` event
//! carries that custodian as a topic.
//!
//! ## Error handling
//! Messages check everything before they write and return a typed [`Error`]; ink! reverts a
//! call that returns `Err`. A directory that cannot be called yields
//! `RegistryUnavailable(Directory)`.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

pub use self::records::{BatchError, Error, Records, RecordsRef};

#[ink::contract]
mod records {
    use custodia_types::{
        directory::{
            Controller, DirectoryQueries, ForgetError, Governed, GovernedError, Membership, MembershipCache, Role,
            Roles,
        },
        errors::{answered, IdField, Registry},
        records::{
            Content, ErasureReason, Link, NewVersion, NumberedVersion, RecordInfo, RecordQueries, Tombstone,
            Verification, Version, VersionCommitted, VersionErased, VersionFacts, VersionNo, VersionRef,
            VersionSuperseded, MAX_BATCH, MAX_DESCRIBE, MAX_LOCATOR_LEN, MAX_PAGE,
        },
        CodeId, Commitment, InstitutionId, PatientId, RecordId,
    };
    use ink::{codegen::TraitCallBuilder, prelude::vec::Vec, storage::Mapping};

    #[ink(storage)]
    pub struct Records {
        /// The directory contract that says who is a custodian and who controls a patient.
        directory: AccountId,
        /// Records by id.
        records: Mapping<RecordId, RecordInfo>,
        /// Versions by record and number.
        versions: Mapping<(RecordId, VersionNo), Version>,
        /// The later version that superseded a version, and how.
        superseded_by: Mapping<(RecordId, VersionNo), Link>,
        /// Every commitment ever accepted, pointing at its version, keyed by the BLAKE2-256
        /// digest of the custodian's id and the commitment (so the key survives erasure without
        /// keeping the commitment, and one custodian's commitment never blocks another's).
        /// Revision 1 keyed by the commitment alone; those keys are still read, for their own
        /// custodian only.
        commitments: Mapping<[u8; 32], VersionRef>,
        /// Cache of the institution an account acts for, filled from the directory and dropped
        /// when the directory says so (`MembershipCache`).
        cached_members: Mapping<AccountId, InstitutionId>,
        /// Cache of an institution's roles, under the same rule.
        cached_roles: Mapping<InstitutionId, Roles>,
        /// Institutions the directory confirmed as keeping a patient's records, by (patient,
        /// institution); the directory makes it forget one that stops (`forget_keeper`).
        cached_keepers: Mapping<(PatientId, InstitutionId), ()>,
    }

    /// Why a records call was refused.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    // scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
    // than 256 variants, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    pub enum Error {
        /// Returned if the caller does not act for a custodian institution.
        NotCustodian,
        /// Returned if the caller's institution is not the record's custodian (nor its
        /// successor), or opens a record whose id is in the namespace
        /// ([`RecordId::namespaced`]) of another custodian than its own or its predecessor's.
        NotRecordCustodian,
        /// Returned if the caller is neither the record's custodian nor the patient's controller.
        NotAuthorizedToErase,
        /// Returned if the patient is not registered in the directory.
        UnknownPatient,
        /// Returned if a commit names another patient than the record's.
        PatientMismatch,
        /// Returned if an id is all zeros: the record's, the commitment or the kind code.
        ZeroId(IdField),
        /// Returned if a locator is empty.
        EmptyLocator,
        /// Returned if a locator is longer than `MAX_LOCATOR_LEN` bytes.
        LocatorTooLong,
        /// Returned if the commitment was already committed (in any record, or earlier in the
        /// same batch).
        CommitmentAlreadyUsed,
        /// Returned if the commitment belonged to a version that was erased.
        CommitmentErased,
        /// Returned if no record has that id.
        UnknownRecord,
        /// Returned if the record has no such version.
        UnknownVersion,
        /// Returned if the target version was already superseded.
        AlreadySuperseded,
        /// Returned if the target version belongs to another patient or custodian.
        ForeignTarget,
        /// Returned if the version is already erased.
        AlreadyErased,
        /// Returned if a record already has `u32::MAX` versions.
        IdsExhausted,
        /// Returned if a batch is empty.
        EmptyBatch,
        /// Returned if a batch holds more than `MAX_BATCH` versions.
        BatchTooLarge,
        /// Returned if the directory contract could not be called.
        RegistryUnavailable(Registry),
        /// Returned if the caller's institution does not keep the patient's records (it is not
        /// their custodian, and their controller did not link it to their id).
        NotPatientKeeper,
    }

    /// Why a batch was refused: the error, and the position of the version that caused it.
    pub type BatchError = custodia_types::errors::BatchError<Error>;

    /// The registry's result type.
    pub type Result<T> = core::result::Result<T, Error>;

    impl Records {
        /// Creates the registry, reading memberships and controllers from `directory`. Attach
        /// it to the directory (governance action `Attach`) so that it may cache memberships.
        #[ink(constructor)]
        pub fn new(directory: AccountId) -> Self {
            Self {
                directory,
                records: Mapping::new(),
                versions: Mapping::new(),
                superseded_by: Mapping::new(),
                commitments: Mapping::new(),
                cached_members: Mapping::new(),
                cached_roles: Mapping::new(),
                cached_keepers: Mapping::new(),
            }
        }

        /// Commits a new version of `version.record` (version 1 opens the record for
        /// `version.patient`), superseding `version.supersedes` if it names a version.
        /// Returns the version number.
        ///
        /// # Errors
        /// `ZeroId` (of the record, the commitment or the kind), `EmptyLocator`,
        /// `LocatorTooLong`, `CommitmentAlreadyUsed`, `CommitmentErased`, `NotCustodian`,
        /// `NotRecordCustodian`, `PatientMismatch`, `UnknownPatient`, `NotPatientKeeper`,
        /// `IdsExhausted`, `RegistryUnavailable`; for a superseded target,
        /// `UnknownRecord`/`UnknownVersion` if it is missing, `ForeignTarget` if it belongs to
        /// another patient or custodian, `AlreadySuperseded`.
        #[ink(message)]
        pub fn commit(&mut self, version: NewVersion) -> Result<VersionNo> {
            let caller = self.env().caller();
            let custodian = self.custodian_institution(caller)?;
            self.commit_version(caller, custodian, version, &mut Vec::new())
        }

        /// Commits up to `MAX_BATCH` versions, all or nothing, in order (a later version may
        /// supersede an earlier one of the same batch). Returns their version numbers.
        ///
        /// # Errors
        /// `EmptyBatch`, `BatchTooLarge`, `NotCustodian`, `RegistryUnavailable` for the whole
        /// batch; any error of `commit` with the index of the version it concerns.
        #[ink(message)]
        pub fn commit_batch(&mut self, batch: Vec<NewVersion>) -> core::result::Result<Vec<VersionNo>, BatchError> {
            let whole = BatchError::whole;
            if batch.is_empty() {
                return Err(whole(Error::EmptyBatch));
            }
            if batch.len() > MAX_BATCH as usize {
                return Err(whole(Error::BatchTooLarge));
            }
            let caller = self.env().caller();
            let custodian = self.custodian_institution(caller).map_err(whole)?;
            let mut numbers = Vec::with_capacity(batch.len());
            let mut opening = Vec::new();
            for (index, version) in (0u32..).zip(batch) {
                let number = self
                    .commit_version(caller, custodian, version, &mut opening)
                    .map_err(|error| BatchError::at(index, error))?;
                numbers.push(number);
            }
            Ok(numbers)
        }

        /// Erases a version: its commitment and locator go, a tombstone stays.
        ///
        /// # Errors
        /// `UnknownRecord`, `UnknownVersion`, `AlreadyErased`, `NotAuthorizedToErase`,
        /// `RegistryUnavailable`.
        #[ink(message)]
        pub fn erase(&mut self, record: RecordId, version: VersionNo, reason: ErasureReason) -> Result<()> {
            let caller = self.env().caller();
            let info = self.records.get(record).ok_or(Error::UnknownRecord)?;
            let mut erased = self.versions.get((record, version)).ok_or(Error::UnknownVersion)?;
            if matches!(erased.content, Content::Erased(_)) {
                return Err(Error::AlreadyErased);
            }
            if !self.may_erase(caller, &info)? {
                return Err(Error::NotAuthorizedToErase);
            }
            let tombstone = Tombstone { erased_by: caller, erased_at: self.env().block_timestamp(), reason };
            erased.content = Content::Erased(tombstone);
            self.versions.insert((record, version), &erased);
            self.env().emit_event(VersionErased {
                record,
                patient: info.patient,
                custodian: info.custodian,
                version,
                tombstone,
            });
            Ok(())
        }

        // ---- queries ----

        /// Compares `commitment` with what the chain holds for `record` version `version`.
        #[ink(message)]
        pub fn verify(&self, record: RecordId, version: VersionNo, commitment: Commitment) -> Verification {
            match self.versions.get((record, version)).map(|found| found.content) {
                None => Verification::Unknown,
                Some(Content::Erased(_)) => Verification::Erased,
                Some(Content::Committed { commitment: held, .. }) if held == commitment => Verification::Match,
                Some(Content::Committed { .. }) => Verification::Mismatch,
            }
        }

        /// The record: patient, custodian, newest version number.
        #[ink(message)]
        pub fn record(&self, record: RecordId) -> Option<RecordInfo> {
            self.records.get(record)
        }

        /// What `record` answers for each of `records`, in order, for up to `MAX_BATCH` ids
        /// (any beyond are not answered): a follower planning a batch learns every record's
        /// patient and newest version in one query instead of one per record.
        #[ink(message)]
        pub fn record_batch(&self, records: Vec<RecordId>) -> Vec<Option<RecordInfo>> {
            records.into_iter().take(MAX_BATCH as usize).map(|record| self.records.get(record)).collect()
        }

        /// The newest version of `record` and its number.
        #[ink(message)]
        pub fn head(&self, record: RecordId) -> Option<NumberedVersion> {
            let number = self.records.get(record)?.head;
            self.versions.get((record, number)).map(|version| NumberedVersion { number, version })
        }

        /// One version.
        #[ink(message)]
        pub fn version(&self, record: RecordId, version: VersionNo) -> Option<Version> {
            self.versions.get((record, version))
        }

        /// Up to `limit` (at most `MAX_PAGE`) versions of `record` from number `from` on,
        /// erased ones included as tombstones.
        #[ink(message)]
        pub fn versions(&self, record: RecordId, from: VersionNo, limit: u32) -> Vec<NumberedVersion> {
            let Some(info) = self.records.get(record) else {
                return Vec::new();
            };
            let first = from.max(1);
            let last = first.saturating_add(limit.min(MAX_PAGE)).saturating_sub(1).min(info.head);
            (first..=last)
                .filter_map(|number| {
                    self.versions.get((record, number)).map(|version| NumberedVersion { number, version })
                })
                .collect()
        }

        /// The later version that superseded `record` version `version`, and how.
        #[ink(message)]
        pub fn superseded_by(&self, record: RecordId, version: VersionNo) -> Option<Link> {
            self.superseded_by.get((record, version))
        }

        /// The version `custodian` committed a commitment as (also after its erasure). Each
        /// custodian has its own: another's commitment of the same value never hides or blocks
        /// one's own.
        #[ink(message)]
        pub fn find(&self, custodian: InstitutionId, commitment: Commitment) -> Option<VersionRef> {
            self.committed(custodian, &commitment)
        }

        /// The directory contract this registry reads.
        #[ink(message)]
        pub fn directory(&self) -> AccountId {
            self.directory
        }

        // ---- helpers ----

        /// Checks and commits one version for an account of `custodian` (`opening`: see
        /// [`Self::ensure_keeper`]).
        fn commit_version(
            &mut self,
            caller: AccountId,
            custodian: InstitutionId,
            new: NewVersion,
            opening: &mut Vec<PatientId>,
        ) -> Result<VersionNo> {
            let NewVersion { record, patient, commitment, locator, kind, supersedes } = new;
            Self::check_version_input(record, &commitment, &locator, &kind)?;
            let key = Self::commitment_key(custodian, &commitment);
            if let Some(earlier) = self.committed(custodian, &commitment) {
                return Err(self.reuse_error(earlier));
            }
            let mut info = match self.records.get(record) {
                Some(info) if !self.keeps_records_of(custodian, info.custodian)? => {
                    return Err(Error::NotRecordCustodian)
                }
                Some(info) if info.patient != patient => return Err(Error::PatientMismatch),
                Some(info) => info,
                None => {
                    // An id in an institution's namespace opens only for it or its successor.
                    if let Some(owner) = record.namespace() {
                        if !self.keeps_records_of(custodian, owner)? {
                            return Err(Error::NotRecordCustodian);
                        }
                    }
                    self.ensure_keeper(custodian, patient, opening)?;
                    RecordInfo { patient, custodian, head: 0, created_at: self.env().block_timestamp() }
                }
            };
            if let Some(link) = supersedes {
                self.check_target(&info, custodian, link.target)?;
            }
            let number = info.head.checked_add(1).ok_or(Error::IdsExhausted)?;
            info.head = number;
            let version = Version {
                content: Content::Committed { commitment, locator: locator.clone() },
                kind,
                committed_by: caller,
                committed_at: self.env().block_timestamp(),
                supersedes,
            };
            self.records.insert(record, &info);
            self.versions.insert((record, number), &version);
            self.commitments.insert(key, &VersionRef { record, version: number });
            self.env().emit_event(VersionCommitted {
                record,
                patient,
                custodian,
                version: number,
                commitment,
                locator,
                kind,
                committed_by: caller,
                supersedes,
            });
            if let Some(link) = supersedes {
                let back = Link { target: VersionRef { record, version: number }, how: link.how };
                self.superseded_by.insert((link.target.record, link.target.version), &back);
                self.env().emit_event(VersionSuperseded {
                    record: link.target.record,
                    patient,
                    custodian,
                    version: link.target.version,
                    superseded_by: back,
                });
            }
            Ok(number)
        }

        fn check_version_input(record: RecordId, commitment: &Commitment, locator: &[u8], kind: &CodeId) -> Result<()> {
            if record.is_zero() {
                return Err(Error::ZeroId(IdField::Record));
            }
            if commitment.is_zero() {
                return Err(Error::ZeroId(IdField::Commitment));
            }
            if kind.is_zero() {
                return Err(Error::ZeroId(IdField::Code));
            }
            if locator.is_empty() {
                return Err(Error::EmptyLocator);
            }
            if locator.len() > MAX_LOCATOR_LEN as usize {
                return Err(Error::LocatorTooLong);
            }
            Ok(())
        }

        /// A target must exist, be of the same patient and of a record `custodian` (the
        /// committing institution) keeps, and not be superseded yet.
        fn check_target(&self, new_record: &RecordInfo, custodian: InstitutionId, target: VersionRef) -> Result<()> {
            let target_record = self.records.get(target.record).ok_or(Error::UnknownRecord)?;
            if target.version == 0 || target.version > target_record.head {
                return Err(Error::UnknownVersion);
            }
            if target_record.patient != new_record.patient
                || !self.keeps_records_of(custodian, target_record.custodian)?
            {
                return Err(Error::ForeignTarget);
            }
            if self.superseded_by.contains((target.record, target.version)) {
                return Err(Error::AlreadySuperseded);
            }
            Ok(())
        }

        fn reuse_error(&self, earlier: VersionRef) -> Error {
            match self.versions.get((earlier.record, earlier.version)).map(|v| v.content) {
                Some(Content::Erased(_)) => Error::CommitmentErased,
                _ => Error::CommitmentAlreadyUsed,
            }
        }

        fn custodian_institution(&mut self, account: AccountId) -> Result<InstitutionId> {
            match self.membership(account)? {
                Some(membership) if membership.roles.contains(Role::Custodian) => Ok(membership.institution),
                _ => Err(Error::NotCustodian),
            }
        }

        /// True if `institution` keeps the records `custodian` opened: it is that custodian, or
        /// took over its patients and records (the directory's `succeeds`; asked only then).
        fn keeps_records_of(&self, institution: InstitutionId, custodian: InstitutionId) -> Result<bool> {
            if institution == custodian {
                return Ok(true);
            }
            Self::answer(self.directory_ref().call().succeeds(institution, custodian).try_invoke())
        }

        fn may_erase(&mut self, caller: AccountId, info: &RecordInfo) -> Result<bool> {
            if let Some(member) = self.membership(caller)? {
                if member.roles.contains(Role::Custodian)
                    && self.keeps_records_of(member.institution, info.custodian)?
                {
                    return Ok(true);
                }
            }
            // Only the patient's own key erases another custodian's version: an institution
            // acting for a custodial patient must not destroy another institution's evidence.
            // The `VersionErased` event names the record's custodian as a topic, so it learns.
            let controller = Self::answer(self.directory_ref().call().controller_of(info.patient).try_invoke())?;
            Ok(controller == Some(Controller::PatientHeld(caller)))
        }

        /// The membership of `account`: from the cache, or from the directory (and then cached,
        /// if the directory says this registry is attached and will be told to forget it).
        fn membership(&mut self, account: AccountId) -> Result<Option<Membership>> {
            if let Some(institution) = self.cached_members.get(account) {
                if let Some(roles) = self.cached_roles.get(institution) {
                    return Ok(Some(Membership { institution, roles }));
                }
            }
            let lookup = Self::answer(self.directory_ref().call().lookup(account).try_invoke())?;
            if let (Some(found), true) = (lookup.membership, lookup.cacheable) {
                self.cached_members.insert(account, &found.institution);
                self.cached_roles.insert(found.institution, &found.roles);
            }
            Ok(lookup.membership)
        }

        /// A record of a patient is opened only by an institution that keeps the patient's
        /// records: their custodian, or one the patient's controller linked (the directory's
        /// `lookup_keeper`; cached, like memberships, if this registry is attached and so told
        /// to forget when the institution stops keeping them; asked at most once per patient
        /// and call otherwise: `opening` holds the patients allowed in this call).
        fn ensure_keeper(
            &mut self,
            custodian: InstitutionId,
            patient: PatientId,
            opening: &mut Vec<PatientId>,
        ) -> Result<()> {
            if opening.contains(&patient) || self.cached_keepers.contains((patient, custodian)) {
                return Ok(());
            }
            let lookup = Self::answer(self.directory_ref().call().lookup_keeper(custodian, patient).try_invoke())?;
            if !lookup.keeps {
                let registered = Self::answer(self.directory_ref().call().patient(patient).try_invoke())?;
                return Err(if registered.is_none() { Error::UnknownPatient } else { Error::NotPatientKeeper });
            }
            if lookup.cacheable {
                self.cached_keepers.insert((patient, custodian), &());
            }
            opening.push(patient);
            Ok(())
        }

        fn directory_ref(&self) -> ink::contract_ref!(DirectoryQueries) {
            self.directory.into()
        }

        /// The directory's answer, or `RegistryUnavailable` if the call or its decoding failed.
        fn answer<T>(called: ink::env::Result<ink::MessageResult<T>>) -> Result<T> {
            answered(called).ok_or(Error::RegistryUnavailable(Registry::Directory))
        }

        fn commitment_key(custodian: InstitutionId, commitment: &Commitment) -> [u8; 32] {
            let mut input = [0u8; 36];
            input[..4].copy_from_slice(&custodian.to_le_bytes());
            input[4..].copy_from_slice(commitment.as_bytes());
            let mut key = [0u8; 32];
            ink::env::hash_bytes::<ink::env::hash::Blake2x256>(&input, &mut key);
            key
        }

        /// Revision 1's key: the commitment alone.
        fn legacy_commitment_key(commitment: &Commitment) -> [u8; 32] {
            let mut key = [0u8; 32];
            ink::env::hash_bytes::<ink::env::hash::Blake2x256>(commitment.as_bytes(), &mut key);
            key
        }

        /// The version `custodian` committed `commitment` as: under this revision's key, or under
        /// revision 1's if that version is of one of `custodian`'s records.
        fn committed(&self, custodian: InstitutionId, commitment: &Commitment) -> Option<VersionRef> {
            if let Some(found) = self.commitments.get(Self::commitment_key(custodian, commitment)) {
                return Some(found);
            }
            let legacy = self.commitments.get(Self::legacy_commitment_key(commitment))?;
            let owner = self.records.get(legacy.record)?.custodian;
            (owner == custodian).then_some(legacy)
        }

        fn ensure_directory(&self) -> core::result::Result<(), ForgetError> {
            if self.env().caller() == self.directory {
                Ok(())
            } else {
                Err(ForgetError::NotDirectory)
            }
        }
    }

    impl RecordQueries for Records {
        #[ink(message)]
        fn describe(&self, versions: Vec<VersionRef>) -> Vec<Option<VersionFacts>> {
            versions
                .into_iter()
                .enumerate()
                .map(|(i, at)| {
                    if i >= MAX_DESCRIBE as usize {
                        return None;
                    }
                    let info = self.records.get(at.record)?;
                    let version = self.versions.get((at.record, at.version))?;
                    let erased = matches!(version.content, Content::Erased(_));
                    Some(VersionFacts { patient: info.patient, custodian: info.custodian, kind: version.kind, erased })
                })
                .collect()
        }
    }

    impl MembershipCache for Records {
        #[ink(message)]
        fn forget_account(&mut self, account: AccountId) -> core::result::Result<(), ForgetError> {
            self.ensure_directory()?;
            self.cached_members.remove(account);
            Ok(())
        }

        #[ink(message)]
        fn forget_institution(&mut self, institution: InstitutionId) -> core::result::Result<(), ForgetError> {
            self.ensure_directory()?;
            self.cached_roles.remove(institution);
            Ok(())
        }

        #[ink(message)]
        fn forget_keeper(
            &mut self,
            patient: PatientId,
            institution: InstitutionId,
        ) -> core::result::Result<(), ForgetError> {
            self.ensure_directory()?;
            self.cached_keepers.remove((patient, institution));
            Ok(())
        }
    }

    impl Governed for Records {
        #[ink(message)]
        fn set_code(&mut self, code_hash: Hash) -> core::result::Result<(), GovernedError> {
            if self.env().caller() != self.directory {
                return Err(GovernedError::NotDirectory);
            }
            self.env().set_code_hash(&code_hash).map_err(|_| GovernedError::CodeNotFound)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn id(byte: u8) -> [u8; 32] {
            [byte; 32]
        }

        #[test]
        fn version_input_is_checked_field_by_field() {
            let ok = |r, c, l: &[u8], k| {
                Records::check_version_input(RecordId::new(r), &Commitment::new(c), l, &CodeId::new(k))
            };
            assert_eq!(ok(id(1), id(2), b"Observation/1/_history/1", id(3)), Ok(()));
            assert_eq!(ok(id(0), id(2), b"x", id(3)), Err(Error::ZeroId(IdField::Record)));
            assert_eq!(ok(id(1), id(0), b"x", id(3)), Err(Error::ZeroId(IdField::Commitment)));
            assert_eq!(ok(id(1), id(2), b"x", id(0)), Err(Error::ZeroId(IdField::Code)));
            assert_eq!(ok(id(1), id(2), b"", id(3)), Err(Error::EmptyLocator));
            let longest = vec![b'a'; MAX_LOCATOR_LEN as usize];
            assert_eq!(ok(id(1), id(2), &longest, id(3)), Ok(()));
            let too_long = vec![b'a'; MAX_LOCATOR_LEN as usize + 1];
            assert_eq!(ok(id(1), id(2), &too_long, id(3)), Err(Error::LocatorTooLong));
        }

        #[ink::test]
        fn verify_reports_unknown_for_a_fresh_registry() {
            let records = Records::new(AccountId::from([7; 32]));
            let outcome = records.verify(RecordId::new(id(1)), 1, Commitment::new(id(2)));
            assert_eq!(outcome, Verification::Unknown);
            assert!(records.versions(RecordId::new(id(1)), 1, 10).is_empty());
            assert_eq!(records.directory(), AccountId::from([7; 32]));
        }

        #[ink::test]
        fn commitment_keys_are_digests_not_the_commitment() {
            let commitment = Commitment::new(id(5));
            let key = Records::commitment_key(1, &commitment);
            assert_ne!(&key, commitment.as_bytes());
            assert_eq!(key, Records::commitment_key(1, &commitment));
            assert_ne!(key, Records::commitment_key(2, &commitment), "each custodian its own");
        }
    }
}
