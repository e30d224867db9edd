//! # Access log
//!
//! The tamper-evident log of who accessed what, when, why, and under which consent receipt or
//! break-glass reason.
//!
//! ## Overview
//! - **Write rights differ from the data's**: only accounts of institutions with the accessor
//!   role append, and only their own entries.
//! - An entry citing a **receipt** is checked on chain against the consents registry (one
//!   cross-contract call per batch) and refused if the receipt does not authorise it. A
//!   **break-glass** entry needs no receipt, but the consents registry binds it (an
//!   `EmergencyTreatment` purpose, a registered patient, and a version of that patient's own
//!   record, so the patient it names is the one who sees it); it is flagged, announced to the
//!   patient by a `BreakGlassAccess` event (one per patient per call, the patient its topic)
//!   that patients and auditors watch, and counted per institution, in all and per day
//!   (`break_glass_on`).
//! - **Append-only and idempotent**: each account numbers its entries 0, 1, 2, …; an entry whose
//!   number was already logged is skipped (a resubmission is a no-op), a gap is refused.
//! - **Tamper evidence**: entries are leaves of an RFC 6962 Merkle tree (SHA-256 of the SCALE
//!   encoding of [`Entry`](custodia_types::access_log::Entry)). The contract keeps only the size, the O(log n) frontier, and the
//!   root at the end of each call; the entries live in `AccessLogged` events. Anyone rebuilds
//!   the tree from the events (crate `custodia-merkle`), proves an entry's inclusion or two
//!   sizes' consistency, and checks the proof against a root the chain recorded (`root_at`).
//!
//! ## Roles
//! | caller | may |
//! |---|---|
//! | account of an accessor institution | append its own entries |
//! | anyone | read sizes, roots, sequence numbers and break-glass counts |
//!
//! ## Error handling
//! A batch is all or nothing: a refused entry refuses the batch with its position and a typed
//! [`Error`]; ink! reverts the call.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

pub use self::access_log::{AccessLog, AccessLogRef, BatchError, Error};

#[ink::contract]
mod access_log {
    use custodia_merkle::{leaf_hash_into, Frontier, Hash as Digest, Hasher};
    use custodia_types::{
        access_log::{
            AccessLogged, Appended, Authorization, BreakGlassAccess, Entry, LogExtended, LogHead, NewEntry,
            PatientAccesses, MAX_ACCESS_AGE_MS, MAX_CLOCK_SKEW_MS, MAX_ENTRIES,
        },
        consents::{AccessCheck, ConsentQueries, Denial, Target},
        directory::{DirectoryQueries, Governed, GovernedError, Role},
        errors::{answered, IdField, Registry},
        InstitutionId, PatientId,
    };
    use ink::{codegen::TraitCallBuilder, prelude::vec::Vec, scale::Encode, storage::Lazy, storage::Mapping};

    /// Milliseconds in a day, for the per-day break-glass counts.
    const DAY_MS: u64 = 86_400_000;

    /// SHA-256 through the chain's host function.
    struct ChainSha256;

    impl Hasher for ChainSha256 {
        fn digest(data: &[u8]) -> Digest {
            let mut out = [0u8; 32];
            ink::env::hash_bytes::<ink::env::hash::Sha2x256>(data, &mut out);
            out
        }
    }

    #[ink(storage)]
    pub struct AccessLog {
        /// The directory: who is an accessor.
        directory: AccountId,
        /// The consents registry that judges cited receipts.
        consents: AccountId,
        /// Number of entries logged.
        size: u64,
        /// Roots of the perfect subtrees of the Merkle tree, largest first (one per set bit of
        /// `size`).
        peaks: Lazy<Vec<Digest>>,
        /// The root at the end of every append call, by tree size.
        roots: Mapping<u64, Digest>,
        /// The number each account's next entry must carry.
        next_seq: Mapping<AccountId, u64>,
        /// Break-glass entries per institution.
        break_glass: Mapping<InstitutionId, u32>,
        /// Break-glass entries per institution and day (days since the Unix epoch, UTC, of the
        /// block time), so that a watcher reads an institution's rate, not only its total.
        break_glass_by_day: Mapping<(InstitutionId, u32), u32>,
        /// Entries about each patient, and the newest one's index: written once per patient per
        /// append call, so that a patient's page can tell that it shows every entry of theirs.
        patient_accesses: Mapping<PatientId, PatientAccesses>,
    }

    /// Why an append was refused.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    // scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
    // than 256 variants, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    pub enum Error {
        /// Returned if a batch is empty.
        EmptyBatch,
        /// Returned if a batch holds more than `MAX_ENTRIES` entries (no position), or, at an
        /// entry's position, if judging the batch up to that entry would read more receipts
        /// than one call holds: submit the entries before it, then the rest.
        BatchTooLarge,
        /// Returned if the caller does not act for an accessor institution.
        NotAccessor,
        /// Returned if a patient, record or code id is all zeros, or a version number is 0.
        ZeroId(IdField),
        /// Returned if the patient is not registered (break-glass entries).
        UnknownPatient,
        /// Returned if an entry's number skips one (the account's next is `expected`).
        SequenceGap { expected: u64 },
        /// Returned if the entries of a batch are not numbered in increasing order.
        SequenceNotIncreasing,
        /// Returned if the cited receipt does not authorise the access, and why.
        NotAuthorized(Denial),
        /// Returned if the directory or the consents registry could not be called.
        RegistryUnavailable(Registry),
        /// Returned if a counter would overflow.
        IdsExhausted,
        /// Returned if an entry's access time is more than `MAX_CLOCK_SKEW_MS` after the
        /// block's time.
        AccessedInFuture,
        /// Returned if an entry's access time is more than `MAX_ACCESS_AGE_MS` before the
        /// block's time.
        AccessedTooLongAgo,
    }

    /// Why a batch was refused: the error, and the position of the entry that caused it.
    pub type BatchError = custodia_types::errors::BatchError<Error>;

    /// The log's result type.
    pub type Result<T> = core::result::Result<T, Error>;

    impl AccessLog {
        /// Creates an empty log over a directory and a consents registry.
        #[ink(constructor)]
        pub fn new(directory: AccountId, consents: AccountId) -> Self {
            let mut log = Self {
                directory,
                consents,
                size: 0,
                peaks: Lazy::new(),
                roots: Mapping::new(),
                next_seq: Mapping::new(),
                break_glass: Mapping::new(),
                break_glass_by_day: Mapping::new(),
                patient_accesses: Mapping::new(),
            };
            log.peaks.set(&Vec::new());
            log
        }

        /// Appends one entry (or skips it if its number was already logged).
        ///
        /// # Errors
        /// Those of `append_batch`, without the position.
        #[ink(message)]
        pub fn append(&mut self, entry: NewEntry) -> Result<Appended> {
            self.append_batch(ink::prelude::vec![entry]).map_err(|refused| refused.error)
        }

        /// Appends up to `MAX_ENTRIES` entries of the caller, all or nothing, skipping those
        /// already logged. Returns the first leaf index, the counts, and the new size and root.
        ///
        /// # Errors
        /// `EmptyBatch`, `BatchTooLarge`, `NotAccessor`, `RegistryUnavailable` for the batch;
        /// `ZeroId`, `SequenceGap`, `SequenceNotIncreasing`, `UnknownPatient`, `NotAuthorized`,
        /// `BatchTooLarge` with the entry's position.
        #[ink(message)]
        pub fn append_batch(&mut self, entries: Vec<NewEntry>) -> core::result::Result<Appended, BatchError> {
            let whole = BatchError::whole;
            if entries.is_empty() {
                return Err(whole(Error::EmptyBatch));
            }
            if entries.len() > MAX_ENTRIES as usize {
                return Err(whole(Error::BatchTooLarge));
            }
            let caller = self.env().caller();
            let institution = self.accessor_institution(caller).map_err(whole)?;
            let fresh = self.fresh_entries(caller, &entries)?;
            self.check_authorizations(caller, &entries, fresh)?;

            let now = self.env().block_timestamp();
            let mut frontier = Frontier { size: self.size, peaks: self.peaks.get().unwrap_or_default() };
            let first_index = (fresh < entries.len()).then_some(frontier.size);
            let mut break_glass = self.break_glass.get(institution).unwrap_or(0);
            let day = u32::try_from(now / DAY_MS).unwrap_or(u32::MAX);
            let mut today = self.break_glass_by_day.get((institution, day)).unwrap_or(0);
            let mut scratch = Vec::with_capacity(256);
            // One announcement per patient with break-glass entries in this call.
            let mut alarms: Vec<BreakGlassAccess> = Vec::new();
            // Each entry's patient and index, counted per patient after the loop.
            let mut touched: Vec<(PatientId, u64)> = Vec::with_capacity(entries.len().saturating_sub(fresh));
            for new in &entries[fresh..] {
                let entry = Entry {
                    institution,
                    account: caller,
                    seq: new.seq,
                    patient: new.patient,
                    target: new.target,
                    purpose: new.purpose,
                    accessed_at: new.accessed_at,
                    at: now,
                    authorization: new.authorization,
                };
                let leaf = leaf_hash_into::<ChainSha256>(&mut scratch, |buffer| entry.encode_to(buffer));
                let index = frontier.append::<ChainSha256>(leaf);
                touched.push((new.patient, index));
                if let Authorization::BreakGlass(reason) = new.authorization {
                    break_glass = break_glass.checked_add(1).ok_or(whole(Error::IdsExhausted))?;
                    today = today.checked_add(1).ok_or(whole(Error::IdsExhausted))?;
                    match alarms.iter_mut().find(|alarm| alarm.patient == new.patient) {
                        Some(alarm) => alarm.entries = alarm.entries.saturating_add(1),
                        None => alarms.push(BreakGlassAccess {
                            patient: new.patient,
                            institution,
                            account: caller,
                            first_index: index,
                            entries: 1,
                            reason,
                            count: 0,
                        }),
                    }
                }
                self.env().emit_event(AccessLogged { index, entry });
            }
            for mut alarm in alarms {
                alarm.count = break_glass;
                self.env().emit_event(alarm);
            }
            let appended =
                u32::try_from(entries.len().saturating_sub(fresh)).map_err(|_| whole(Error::BatchTooLarge))?;
            let skipped = u32::try_from(fresh).map_err(|_| whole(Error::BatchTooLarge))?;
            let root = frontier.root::<ChainSha256>();
            if appended > 0 {
                let last_seq = entries.last().map_or(0, |entry| entry.seq);
                self.next_seq.insert(caller, &last_seq.saturating_add(1));
                self.size = frontier.size;
                self.peaks.set(&frontier.peaks);
                self.roots.insert(frontier.size, &root);
                if today > 0 {
                    self.break_glass.insert(institution, &break_glass);
                    self.break_glass_by_day.insert((institution, day), &today);
                }
                // Sorted, each patient's entries are one run whose last is the newest.
                touched.sort_unstable();
                for run in touched.chunk_by(|a, b| a.0 == b.0) {
                    let (patient, newest) = run[run.len().saturating_sub(1)];
                    let mut seen = self.patient_accesses.get(patient).unwrap_or_default();
                    let added = u64::try_from(run.len()).map_err(|_| whole(Error::BatchTooLarge))?;
                    seen.count = seen.count.checked_add(added).ok_or(whole(Error::IdsExhausted))?;
                    seen.newest = newest;
                    self.patient_accesses.insert(patient, &seen);
                }
                self.env().emit_event(LogExtended { institution, size: frontier.size, root });
            }
            Ok(Appended { first_index, appended, skipped, size: frontier.size, root })
        }

        // ---- queries ----

        /// The number of entries logged and the current root.
        #[ink(message)]
        pub fn head(&self) -> LogHead {
            let frontier = Frontier { size: self.size, peaks: self.peaks.get().unwrap_or_default() };
            LogHead { size: self.size, root: frontier.root::<ChainSha256>() }
        }

        /// The root the chain recorded when the log reached `size` entries (at the end of an
        /// append call), if it stopped at that size.
        #[ink(message)]
        pub fn root_at(&self, size: u64) -> Option<Digest> {
            self.roots.get(size)
        }

        /// The number `account`'s next entry must carry.
        #[ink(message)]
        pub fn next_seq(&self, account: AccountId) -> u64 {
            self.next_seq.get(account).unwrap_or(0)
        }

        /// Break-glass entries an institution has logged.
        #[ink(message)]
        pub fn break_glass_count(&self, institution: InstitutionId) -> u32 {
            self.break_glass.get(institution).unwrap_or(0)
        }

        /// Break-glass entries an institution logged on `day` (days since the Unix epoch, UTC,
        /// of the block time: `timestamp_ms / 86_400_000`).
        #[ink(message)]
        pub fn break_glass_on(&self, institution: InstitutionId, day: u32) -> u32 {
            self.break_glass_by_day.get((institution, day)).unwrap_or(0)
        }

        /// How many entries are about `patient`, and the newest one's index (`None`: none).
        #[ink(message)]
        pub fn patient_accesses(&self, patient: PatientId) -> Option<PatientAccesses> {
            self.patient_accesses.get(patient)
        }

        /// The directory this log asks who is an accessor.
        #[ink(message)]
        pub fn directory(&self) -> AccountId {
            self.directory
        }

        /// The consents registry this log asks to judge entries.
        #[ink(message)]
        pub fn consents(&self) -> AccountId {
            self.consents
        }

        // ---- helpers ----

        /// Checks numbering and ids; returns how many leading entries were logged already.
        fn fresh_entries(&self, caller: AccountId, entries: &[NewEntry]) -> core::result::Result<usize, BatchError> {
            let at = |i: usize, error| BatchError { item: u32::try_from(i).ok(), error };
            let next = self.next_seq.get(caller).unwrap_or(0);
            let mut skipped = 0usize;
            let mut expected = next;
            let mut previous: Option<u64> = None;
            for (i, entry) in entries.iter().enumerate() {
                if previous.is_some_and(|seq| entry.seq <= seq) {
                    return Err(at(i, Error::SequenceNotIncreasing));
                }
                previous = Some(entry.seq);
                if entry.seq < next {
                    skipped = i.saturating_add(1);
                    continue;
                }
                if entry.seq != expected {
                    return Err(at(i, Error::SequenceGap { expected }));
                }
                expected = expected.saturating_add(1);
                if let Some(field) = Self::zero_id(entry) {
                    return Err(at(i, Error::ZeroId(field)));
                }
            }
            Ok(skipped)
        }

        /// The first id of `entry` that is all zeros, if any.
        fn zero_id(entry: &NewEntry) -> Option<IdField> {
            match entry.target {
                _ if entry.patient.is_zero() => Some(IdField::Patient),
                Target::Version(at) if at.record.is_zero() => Some(IdField::Record),
                Target::Version(at) if at.version == 0 => Some(IdField::Version),
                Target::Query(code) if code.is_zero() => Some(IdField::Code),
                _ => None,
            }
        }

        /// Every fresh entry is judged by the consents registry, in at most two calls for the
        /// batch: consent entries by the receipt they cite, break-glass entries by the
        /// break-glass rules (an emergency purpose, a registered patient, a version of that
        /// patient's own record).
        fn check_authorizations(
            &self,
            caller: AccountId,
            entries: &[NewEntry],
            fresh: usize,
        ) -> core::result::Result<(), BatchError> {
            let now = self.env().block_timestamp();
            let (mut consented, mut break_glass) = (Judged::default(), Judged::default());
            for (i, entry) in entries.iter().enumerate().skip(fresh) {
                let at = |error| BatchError { item: u32::try_from(i).ok(), error };
                if entry.accessed_at > now.saturating_add(MAX_CLOCK_SKEW_MS) {
                    return Err(at(Error::AccessedInFuture));
                }
                if now.saturating_sub(entry.accessed_at) > MAX_ACCESS_AGE_MS {
                    return Err(at(Error::AccessedTooLongAgo));
                }
                // Judged when the access happened: a receipt revoked since still covers it.
                let check = AccessCheck {
                    accessor: caller,
                    patient: entry.patient,
                    target: entry.target,
                    purpose: entry.purpose,
                    at: entry.accessed_at,
                    receipt: None,
                };
                match entry.authorization {
                    Authorization::Consent(receipt) => {
                        consented.push(i, AccessCheck { receipt: Some(receipt), ..check })
                    }
                    Authorization::BreakGlass(_) => break_glass.push(i, check),
                }
            }
            let consents: ink::contract_ref!(ConsentQueries) = self.consents.into();
            if !consented.checks.is_empty() {
                let answers = consents.call().check_batch(consented.checks).try_invoke();
                Self::refuse_denied(answers, &consented.positions)?;
            }
            if !break_glass.checks.is_empty() {
                let answers = consents.call().check_break_glass(break_glass.checks).try_invoke();
                Self::refuse_denied(answers, &break_glass.positions)?;
            }
            Ok(())
        }

        /// Turns the consents registry's answers into the first refusal, at its entry's position.
        fn refuse_denied<T>(
            answers: core::result::Result<ink::MessageResult<Vec<core::result::Result<T, Denial>>>, ink::env::Error>,
            positions: &[usize],
        ) -> core::result::Result<(), BatchError> {
            let unavailable = Error::RegistryUnavailable(Registry::Consents);
            let answers = match answered(answers) {
                Some(answers) if answers.len() == positions.len() => answers,
                _ => return Err(BatchError::whole(unavailable)),
            };
            for (answer, i) in answers.into_iter().zip(positions) {
                let item = u32::try_from(*i).ok();
                match answer {
                    Ok(_) => {}
                    Err(Denial::Unavailable) => return Err(BatchError { item, error: unavailable }),
                    Err(Denial::UnknownPatient) => return Err(BatchError { item, error: Error::UnknownPatient }),
                    Err(Denial::BatchTooLarge) => return Err(BatchError { item, error: Error::BatchTooLarge }),
                    Err(denial) => return Err(BatchError { item, error: Error::NotAuthorized(denial) }),
                }
            }
            Ok(())
        }

        fn accessor_institution(&self, account: AccountId) -> Result<InstitutionId> {
            match answered(self.directory_ref().call().membership(account).try_invoke()) {
                Some(Some(member)) if member.roles.contains(Role::Accessor) => Ok(member.institution),
                Some(_) => Err(Error::NotAccessor),
                None => Err(Error::RegistryUnavailable(Registry::Directory)),
            }
        }

        fn directory_ref(&self) -> ink::contract_ref!(DirectoryQueries) {
            self.directory.into()
        }
    }

    /// The checks of one kind in a batch, with the positions of their entries.
    #[derive(Default)]
    struct Judged {
        checks: Vec<AccessCheck>,
        positions: Vec<usize>,
    }

    impl Judged {
        fn push(&mut self, position: usize, check: AccessCheck) {
            self.checks.push(check);
            self.positions.push(position);
        }
    }

    impl Governed for AccessLog {
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
        use custodia_types::{
            access_log::BreakGlassReason, consents::Purpose, records::VersionRef, PatientId, RecordId,
        };

        fn entry(seq: u64) -> NewEntry {
            NewEntry {
                seq,
                patient: PatientId::new([1; 32]),
                target: Target::Version(VersionRef { record: RecordId::new([2; 32]), version: 1 }),
                purpose: Purpose::Treatment,
                accessed_at: 0,
                authorization: Authorization::BreakGlass(BreakGlassReason::LifeThreatening),
            }
        }

        fn log() -> AccessLog {
            AccessLog::new(AccountId::from([7; 32]), AccountId::from([8; 32]))
        }

        #[ink::test]
        fn numbering_skips_what_was_logged_and_refuses_gaps() {
            let log = log();
            let caller = AccountId::from([9; 32]);
            assert_eq!(log.fresh_entries(caller, &[entry(0), entry(1)]), Ok(0));
            let gap = log.fresh_entries(caller, &[entry(0), entry(2)]);
            assert_eq!(gap, Err(BatchError { item: Some(1), error: Error::SequenceGap { expected: 1 } }));
            let backwards = log.fresh_entries(caller, &[entry(0), entry(0)]);
            assert_eq!(backwards.map_err(|e| e.error), Err(Error::SequenceNotIncreasing));
            let mut zero = entry(0);
            zero.patient = PatientId::default();
            assert_eq!(log.fresh_entries(caller, &[zero]).map_err(|e| e.error), Err(Error::ZeroId(IdField::Patient)));
        }

        #[ink::test]
        fn an_empty_log_has_the_empty_root() {
            let log = log();
            let LogHead { size, root } = log.head();
            assert_eq!(size, 0);
            assert_eq!(root, ChainSha256::digest(&[]));
        }
    }
}
