//! # Consents
//!
//! Consent receipts: who may see which of a patient's records, for what purpose, until when.
//!
//! ## Overview
//! - A **receipt** is granted by the patient's controller (the patient's own key, or an account
//!   of the custodial institution acting for the patient) to an institution, optionally to one
//!   of its accounts. Its scope is one record, one version, the records of some categories
//!   (opaque codes of LOINC, SNOMED CT or ICD codes), or all of the patient's records; it names
//!   purposes of use (HL7 PurposeOfUse) and a validity period; it permits or denies. A matching
//!   deny overrides any permit, as in FHIR Consent provisions.
//! - **Revocation** is a state change, effective from the block it lands in. A deny is lifted
//!   only by the patient's controller at that moment (lifting it widens access); a permit may
//!   also be revoked by the accounts of the patient's custodian while it holds the custodian
//!   role. Having granted a receipt gives no right of its own. Revoked and expired receipts
//!   never authorise again and stay readable with their history.
//! - **Break-glass** accesses need no receipt, but `check_break_glass` binds them: an
//!   emergency purpose, a registered patient, and a version of that patient's own record.
//! - **Checks**: `is_authorized` returns the receipt that authorises an access, or why none
//!   does. `check_batch` answers many at once (the access log's one call per batch).
//!
//! ## Roles
//! | caller | may |
//! |---|---|
//! | the patient's controller | grant |
//! | the patient's controller | revoke a deny |
//! | controller, custodian-role accounts of the patient's custodian | revoke a permit |
//! | anyone | query and check |
//!
//! The registry reads the directory (controllers, memberships, institutions) and the records
//! registry (which patient and kind a version has).
//!
//! ## Error handling
//! Every message checks first and writes last, returning a typed [`Error`]; ink! reverts a call
//! that returns `Err`.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

pub use self::consents::{Consents, ConsentsRef, Error};

#[ink::contract]
mod consents {
    use custodia_types::{
        consents::{
            AccessCheck, ConsentGranted, ConsentQueries, ConsentRevoked, ConsentSet, ConsentSetGranted, Decision,
            Denial, NumberedReceipt, Purpose, Receipt, ReceiptId, ReceiptPage, ReceiptQuery, Revocation, Scope, Target,
            Terms, VersionFacts, MAX_CATEGORIES, MAX_CHECKS, MAX_DENIES_PER_PATIENT, MAX_RECEIPT_PAGE,
            MAX_RECEIPT_SCAN, MAX_SET,
        },
        directory::{DirectoryQueries, Governed, GovernedError, Membership, Role},
        errors::{answered, IdField, Registry},
        records::{RecordQueries, VersionRef},
        CodeId, InstitutionId, PatientId,
    };
    use ink::{codegen::TraitCallBuilder, prelude::vec::Vec, storage::Mapping};

    /// How many of a patient's newest receipts a check without a cited receipt searches.
    const SEARCH_DEPTH: u32 = 64;

    /// What identifies one granted set: its patient and its key.
    type SetId = (PatientId, [u8; 32]);

    #[ink(storage)]
    pub struct Consents {
        /// The directory: controllers, memberships, institutions.
        directory: AccountId,
        /// The records registry: which patient and kind a version has.
        records: AccountId,
        /// Id the next receipt gets.
        next_receipt: ReceiptId,
        /// Receipts by id (revoked ones included).
        receipts: Mapping<ReceiptId, Receipt>,
        /// Each patient's receipts in grant order: (patient, n) -> receipt.
        by_patient: Mapping<(PatientId, u32), ReceiptId>,
        /// How many receipts each patient has.
        patient_count: Mapping<PatientId, u32>,
        /// Each patient's unrevoked deny receipts (read by every check of that patient).
        denies: Mapping<PatientId, Vec<ReceiptId>>,
        /// The receipts each granted set made, by patient and the set's key.
        sets: Mapping<SetId, Vec<ReceiptId>>,
        /// The institutions that kept each permit's patient's records when it was granted
        /// (the directory's `keepers`): the permit covers their records only, so linking a
        /// patient's id to another institution later widens no consent. Permits granted before
        /// this was recorded have none and cover every custodian's records, as they did.
        receipt_keepers: Mapping<ReceiptId, Vec<InstitutionId>>,
    }

    /// Why a consents call was refused.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    // scale-info's TypeInfo derive casts each variant's position to u8; this enum has far fewer
    // than 256 variants, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    pub enum Error {
        /// Returned if the patient is not registered.
        UnknownPatient,
        /// Returned if the caller may not act for the patient.
        NotController,
        /// Returned if the grantee institution is not admitted.
        UnknownGrantee,
        /// Returned if a patient, record or code id (or a version number) is all zeros.
        ZeroId(IdField),
        /// Returned if no purpose (or an unknown one) is named.
        InvalidPurposes,
        /// Returned if the period ends before it starts.
        InvalidPeriod,
        /// Returned if the period has already ended.
        AlreadyExpired,
        /// Returned if a category scope names no code.
        EmptyScope,
        /// Returned if a category scope names more than `MAX_CATEGORIES` codes.
        ScopeTooLarge,
        /// Returned if the patient already has `MAX_DENIES_PER_PATIENT` deny receipts in force.
        TooManyDenies,
        /// Returned if no receipt has that id.
        UnknownReceipt,
        /// Returned if the receipt was already revoked.
        AlreadyRevoked,
        /// Returned if the caller may not revoke the receipt: a deny only the patient's
        /// controller lifts; a permit also the custodian-role accounts of the patient's custodian.
        NotAuthorizedToRevoke,
        /// Returned if the directory could not be called.
        RegistryUnavailable(Registry),
        /// Returned if a counter would overflow.
        IdsExhausted,
        /// Returned if a set holds no terms.
        EmptySet,
        /// Returned if a set holds more than `MAX_SET` terms.
        SetTooLarge,
        /// Returned if a set's terms are for more than one patient.
        MixedPatients,
    }

    /// The registry's result type.
    pub type Result<T> = core::result::Result<T, Error>;

    impl Consents {
        /// Creates the registry over a directory and a records registry.
        #[ink(constructor)]
        pub fn new(directory: AccountId, records: AccountId) -> Self {
            Self {
                directory,
                records,
                next_receipt: 1,
                receipts: Mapping::new(),
                by_patient: Mapping::new(),
                patient_count: Mapping::new(),
                denies: Mapping::new(),
                sets: Mapping::new(),
                receipt_keepers: Mapping::new(),
            }
        }

        /// Grants a receipt on the patient's behalf. Returns its id.
        ///
        /// # Errors
        /// `ZeroId`, `InvalidPurposes`, `InvalidPeriod`, `AlreadyExpired`, `EmptyScope`,
        /// `ScopeTooLarge`, `UnknownPatient`, `NotController`, `UnknownGrantee`,
        /// `TooManyDenies`, `RegistryUnavailable`.
        #[ink(message)]
        pub fn grant(&mut self, terms: Terms) -> Result<ReceiptId> {
            let caller = self.env().caller();
            Self::check_terms(&terms, self.env().block_timestamp())?;
            self.ensure_controller(caller, terms.patient)?;
            self.grant_checked(caller, terms)
        }

        /// Grants the receipts of one decision (e.g. the provisions of one FHIR Consent) all
        /// or nothing, in one call, under a key the caller derives from the decision (e.g. the
        /// digest of the Consent's canonical form). A set whose key was granted for the patient
        /// before grants nothing new: it returns the receipts granted then. Every receipt is for
        /// the same patient; denies are granted first. Emits `ConsentGranted` for each new
        /// receipt and `ConsentSetGranted` in both cases.
        ///
        /// # Errors
        /// `EmptySet`, `SetTooLarge`, `MixedPatients`, and those of `grant` for any receipt
        /// (then nothing is granted).
        #[ink(message)]
        pub fn grant_set(&mut self, set: ConsentSet) -> Result<Vec<ReceiptId>> {
            let caller = self.env().caller();
            let Some(patient) = set.terms.first().map(|terms| terms.patient) else {
                return Err(Error::EmptySet);
            };
            if set.terms.len() > MAX_SET as usize {
                return Err(Error::SetTooLarge);
            }
            if set.terms.iter().any(|terms| terms.patient != patient) {
                return Err(Error::MixedPatients);
            }
            if let Some(granted) = self.sets.get((patient, set.key)) {
                self.env().emit_event(ConsentSetGranted {
                    patient,
                    key: set.key,
                    receipts: granted.clone(),
                    new: false,
                });
                return Ok(granted);
            }
            let now = self.env().block_timestamp();
            for terms in &set.terms {
                Self::check_terms(terms, now)?;
            }
            self.ensure_controller(caller, patient)?;
            let mut terms = set.terms;
            terms.sort_by_key(|terms| terms.decision != Decision::Deny);
            let mut granted = Vec::with_capacity(terms.len());
            for terms in terms {
                granted.push(self.grant_checked(caller, terms)?);
            }
            self.sets.insert((patient, set.key), &granted);
            self.env().emit_event(ConsentSetGranted { patient, key: set.key, receipts: granted.clone(), new: true });
            Ok(granted)
        }

        /// Grants terms already checked, by a caller that may act for the patient.
        fn grant_checked(&mut self, caller: AccountId, terms: Terms) -> Result<ReceiptId> {
            let now = self.env().block_timestamp();
            if self.institution_roles(terms.grantee.institution)?.is_none() {
                return Err(Error::UnknownGrantee);
            }
            let mut denies = self.denies.get(terms.patient).unwrap_or_default();
            if terms.decision == Decision::Deny {
                // The cap counts denies in force: expired ones leave the list here (revoked
                // ones left it when revoked).
                denies.retain(|id| self.receipts.get(id).is_some_and(|deny| deny.valid_until > now));
                if denies.len() >= MAX_DENIES_PER_PATIENT as usize {
                    return Err(Error::TooManyDenies);
                }
            }
            let id = self.next_receipt;
            self.next_receipt = id.checked_add(1).ok_or(Error::IdsExhausted)?;
            let position = self.patient_count.get(terms.patient).unwrap_or(0);
            let next_position = position.checked_add(1).ok_or(Error::IdsExhausted)?;
            let receipt = Receipt {
                patient: terms.patient,
                grantee: terms.grantee,
                scope: terms.scope,
                purposes: terms.purposes,
                decision: terms.decision,
                valid_from: terms.valid_from,
                valid_until: terms.valid_until,
                granted_by: caller,
                granted_at: now,
                revoked: None,
            };
            if receipt.decision == Decision::Permit {
                let keepers = returned(self.directory_ref().call().keepers(terms.patient).try_invoke())?;
                self.receipt_keepers.insert(id, &keepers);
            }
            self.receipts.insert(id, &receipt);
            self.by_patient.insert((terms.patient, position), &id);
            self.patient_count.insert(terms.patient, &next_position);
            if receipt.decision == Decision::Deny {
                denies.push(id);
                self.denies.insert(terms.patient, &denies);
            }
            self.env().emit_event(ConsentGranted {
                patient: receipt.patient,
                grantee: receipt.grantee.institution,
                receipt: id,
                grantee_account: receipt.grantee.account,
                scope: receipt.scope,
                purposes: receipt.purposes,
                decision: receipt.decision,
                valid_from: receipt.valid_from,
                valid_until: receipt.valid_until,
                granted_by: caller,
            });
            Ok(id)
        }

        /// Revokes a receipt; it stops authorising in this block.
        ///
        /// # Errors
        /// `UnknownReceipt`, `AlreadyRevoked`, `NotAuthorizedToRevoke`, `RegistryUnavailable`.
        #[ink(message)]
        pub fn revoke(&mut self, receipt: ReceiptId) -> Result<()> {
            let caller = self.env().caller();
            let mut found = self.receipts.get(receipt).ok_or(Error::UnknownReceipt)?;
            if found.revoked.is_some() {
                return Err(Error::AlreadyRevoked);
            }
            if !self.may_revoke(caller, &found)? {
                return Err(Error::NotAuthorizedToRevoke);
            }
            found.revoked = Some(Revocation { revoked_by: caller, revoked_at: self.env().block_timestamp() });
            self.receipts.insert(receipt, &found);
            if found.decision == Decision::Deny {
                let mut denies = self.denies.get(found.patient).unwrap_or_default();
                denies.retain(|id| *id != receipt);
                self.denies.insert(found.patient, &denies);
            }
            self.env().emit_event(ConsentRevoked {
                patient: found.patient,
                grantee: found.grantee.institution,
                receipt,
                revoked_by: caller,
                was_valid_until: found.valid_until,
            });
            Ok(())
        }

        // ---- queries ----

        /// The directory this registry asks about controllers and memberships.
        #[ink(message)]
        pub fn directory(&self) -> AccountId {
            self.directory
        }

        /// The records registry this registry asks about versions.
        #[ink(message)]
        pub fn records(&self) -> AccountId {
            self.records
        }

        /// A receipt by id, with its history.
        #[ink(message)]
        pub fn receipt(&self, receipt: ReceiptId) -> Option<Receipt> {
            self.receipts.get(receipt)
        }

        /// The receipts `query` asks for (see [`ReceiptQuery`]), reading at most
        /// `MAX_RECEIPT_SCAN` positions, with the next position to read (the patient's receipt
        /// count when there are no more).
        #[ink(message)]
        pub fn receipts(&self, query: ReceiptQuery) -> ReceiptPage {
            let ReceiptQuery { patient, from, limit, active_only } = query;
            let count = self.patient_count.get(patient).unwrap_or(0);
            let now = self.env().block_timestamp();
            let mut page = Vec::new();
            let mut position = from;
            let end = count.min(from.saturating_add(MAX_RECEIPT_SCAN));
            while position < end && page.len() < limit.min(MAX_RECEIPT_PAGE) as usize {
                if let Some((id, receipt)) = self.receipt_at(patient, position) {
                    if !active_only || Self::in_force(&receipt, now) {
                        page.push(NumberedReceipt { id, receipt });
                    }
                }
                position = position.saturating_add(1);
            }
            ReceiptPage { items: page, next: position }
        }

        // ---- helpers ----

        fn check_terms(terms: &Terms, now: Timestamp) -> Result<()> {
            if terms.patient.is_zero() {
                return Err(Error::ZeroId(IdField::Patient));
            }
            if !terms.purposes.is_valid() {
                return Err(Error::InvalidPurposes);
            }
            if terms.valid_until <= terms.valid_from {
                return Err(Error::InvalidPeriod);
            }
            if terms.valid_until <= now {
                return Err(Error::AlreadyExpired);
            }
            match &terms.scope {
                Scope::Record(record) if record.is_zero() => Err(Error::ZeroId(IdField::Record)),
                Scope::Version(at) if at.record.is_zero() => Err(Error::ZeroId(IdField::Record)),
                Scope::Version(at) if at.version == 0 => Err(Error::ZeroId(IdField::Version)),
                Scope::Categories(codes) if codes.is_empty() => Err(Error::EmptyScope),
                Scope::Categories(codes) if codes.len() > MAX_CATEGORIES as usize => Err(Error::ScopeTooLarge),
                Scope::Categories(codes) if codes.iter().any(|code| code.is_zero()) => {
                    Err(Error::ZeroId(IdField::Code))
                }
                _ => Ok(()),
            }
        }

        fn ensure_controller(&self, caller: AccountId, patient: PatientId) -> Result<()> {
            if self.may_act_for(caller, patient)? {
                return Ok(());
            }
            match self.patient_custodian(patient)? {
                None => Err(Error::UnknownPatient),
                Some(_) => Err(Error::NotController),
            }
        }

        /// Who may revoke, asked of the directory at the call: the patient's controller now
        /// (its key, or an account of the controlling institution while it holds the custodian
        /// role) may revoke anything. A deny is lifted by nobody else: lifting it widens
        /// access, so it is the patient's decision. A permit (revoking it only narrows access)
        /// may also be revoked by the accounts of the patient's custodian while it holds the
        /// custodian role. Having granted a receipt gives no right of its own.
        fn may_revoke(&self, caller: AccountId, receipt: &Receipt) -> Result<bool> {
            if self.may_act_for(caller, receipt.patient)? {
                return Ok(true);
            }
            if receipt.decision == Decision::Deny {
                return Ok(false);
            }
            let custodian = self.patient_custodian(receipt.patient)?;
            let member = self.membership(caller)?;
            Ok(matches!((custodian, member),
                (Some(c), Some(m)) if m.institution == c && m.roles.contains(Role::Custodian)))
        }

        fn receipt_at(&self, patient: PatientId, position: u32) -> Option<(ReceiptId, Receipt)> {
            let id = self.by_patient.get((patient, position))?;
            self.receipts.get(id).map(|receipt| (id, receipt))
        }

        fn in_force(receipt: &Receipt, at: Timestamp) -> bool {
            receipt.revoked.is_none_or(|r| r.revoked_at > at) && receipt.valid_from <= at && at < receipt.valid_until
        }

        /// Why `receipt` does not authorise `check` (given the accessor's membership and the
        /// facts of the version), or `None` if it does.
        fn judge(
            id: ReceiptId,
            receipt: &Receipt,
            check: &AccessCheck,
            member: &Membership,
            facts: Option<&VersionFacts>,
        ) -> Option<Denial> {
            if receipt.patient != check.patient {
                return Some(Denial::OutOfScope(id));
            }
            if receipt.revoked.is_some_and(|r| r.revoked_at <= check.at) {
                return Some(Denial::Revoked(id));
            }
            if check.at < receipt.valid_from || check.at >= receipt.valid_until {
                return Some(Denial::Expired(id));
            }
            let grantee_matches = receipt.grantee.institution == member.institution
                && receipt.grantee.account.is_none_or(|account| account == check.accessor);
            if !grantee_matches
                || !receipt.purposes.contains(check.purpose)
                || !Self::covers(&receipt.scope, check.target, facts)
            {
                return Some(Denial::OutOfScope(id));
            }
            None
        }

        fn covers(scope: &Scope, target: Target, facts: Option<&VersionFacts>) -> bool {
            match (scope, target) {
                (Scope::AllRecords, _) => true,
                (Scope::Record(record), Target::Version(at)) => *record == at.record,
                (Scope::Version(version), Target::Version(at)) => *version == at,
                (Scope::Categories(codes), Target::Version(_)) => facts.is_some_and(|f| codes.contains(&f.kind)),
                (Scope::Categories(codes), Target::Query(code)) => codes.contains(&code),
                (Scope::Record(_) | Scope::Version(_), Target::Query(_)) => false,
            }
        }

        /// Answers one check given what the batch already looked up.
        fn answer(
            &self,
            check: &AccessCheck,
            member: Result<Option<Membership>>,
            facts: Option<&VersionFacts>,
            cache: &mut BatchCache,
        ) -> core::result::Result<ReceiptId, Denial> {
            let member = member.map_err(|_| Denial::Unavailable)?;
            let Some(member) = member.filter(|m| m.roles.contains(Role::Accessor)) else {
                return Err(Denial::NotAccessor);
            };
            if let Target::Version(_) = check.target {
                if facts.is_none_or(|facts| facts.patient != check.patient) {
                    return Err(Denial::UnknownRecord);
                }
            }
            let patient = self.patient_denies(check.patient, cache)?;
            for (id, deny) in &cache.denies[patient].1 {
                if Self::judge(*id, deny, check, &member, facts).is_none() {
                    return Err(Denial::Denied(*id));
                }
            }
            if let Some(id) = check.receipt {
                let Some(cited) = self.cited(id, cache)? else {
                    return Err(Denial::NoConsent);
                };
                let receipt = &cache.receipts[cited].1;
                if receipt.decision == Decision::Deny {
                    return Err(Denial::OutOfScope(id));
                }
                let verdict = Self::judge(id, receipt, check, &member, facts);
                return match verdict.or_else(|| self.uncovered_keeper(id, facts, cache)) {
                    None => Ok(id),
                    Some(denial) => Err(denial),
                };
            }
            self.search(check, &member, facts, cache)
        }

        /// Searches the patient's newest receipts for a permit; else the most telling denial.
        fn search(
            &self,
            check: &AccessCheck,
            member: &Membership,
            facts: Option<&VersionFacts>,
            cache: &mut BatchCache,
        ) -> core::result::Result<ReceiptId, Denial> {
            let count = self.patient_count.get(check.patient).unwrap_or(0);
            let mut best = Denial::NoConsent;
            for position in (count.saturating_sub(SEARCH_DEPTH)..count).rev() {
                let Some((id, receipt)) = self.receipt_at(check.patient, position) else {
                    continue;
                };
                cache.spend(&receipt)?;
                if receipt.decision == Decision::Deny {
                    continue;
                }
                let verdict = Self::judge(id, &receipt, check, member, facts);
                match verdict.or_else(|| self.uncovered_keeper(id, facts, cache)) {
                    None => return Ok(id),
                    Some(denial) if rank(&denial) > rank(&best) => best = denial,
                    Some(_) => {}
                }
            }
            Err(best)
        }

        /// `OutOfScope` if permit `id`, which [`Self::judge`] let through, does not cover the
        /// institution that opened the version read: it did not keep the patient's records
        /// when the permit was granted (a query names no version; a permit granted before
        /// keepers were recorded covers every custodian's records). A deny is judged without
        /// this: linking an institution never narrows a deny. A permit's keepers are read once
        /// per batch.
        fn uncovered_keeper(
            &self,
            id: ReceiptId,
            facts: Option<&VersionFacts>,
            cache: &mut BatchCache,
        ) -> Option<Denial> {
            let keeper = facts?.custodian;
            let at = match cache.keepers.iter().position(|(cached, _)| *cached == id) {
                Some(at) => at,
                None => {
                    cache.keepers.push((id, self.receipt_keepers.get(id)));
                    cache.keepers.len().saturating_sub(1)
                }
            };
            let covered = cache
                .keepers
                .get(at)
                .is_none_or(|(_, keepers)| keepers.as_ref().is_none_or(|keepers| keepers.contains(&keeper)));
            (!covered).then_some(Denial::OutOfScope(id))
        }

        /// Where a cited receipt is in the batch's cache (read once per batch), or `None` if
        /// it does not exist.
        fn cited(&self, id: ReceiptId, cache: &mut BatchCache) -> core::result::Result<Option<usize>, Denial> {
            if let Some(at) = cache.receipts.iter().position(|(cached, _)| *cached == id) {
                return Ok(Some(at));
            }
            let Some(receipt) = self.receipts.get(id) else {
                return Ok(None);
            };
            cache.spend(&receipt)?;
            cache.receipts.push((id, receipt));
            Ok(Some(cache.receipts.len().saturating_sub(1)))
        }

        /// Where a patient's deny receipts are in the batch's cache (read once per batch; the
        /// last patient asked first, as a batch usually holds runs of one patient).
        fn patient_denies(&self, patient: PatientId, cache: &mut BatchCache) -> core::result::Result<usize, Denial> {
            if let Some(at) = cache.denies.iter().rposition(|(cached, _)| *cached == patient) {
                return Ok(at);
            }
            let mut denies = Vec::new();
            for id in self.denies.get(patient).unwrap_or_default() {
                if let Some(deny) = self.receipts.get(id) {
                    cache.spend(&deny)?;
                    denies.push((id, deny));
                }
            }
            cache.denies.push((patient, denies));
            Ok(cache.denies.len().saturating_sub(1))
        }

        fn may_act_for(&self, account: AccountId, patient: PatientId) -> Result<bool> {
            returned(self.directory_ref().call().may_act_for(account, patient).try_invoke())
        }

        fn patient_custodian(&self, patient: PatientId) -> Result<Option<u32>> {
            let info = returned(self.directory_ref().call().patient(patient).try_invoke())?;
            Ok(info.map(|info| info.custodian))
        }

        fn membership(&self, account: AccountId) -> Result<Option<Membership>> {
            returned(self.directory_ref().call().membership(account).try_invoke())
        }

        fn institution_roles(&self, institution: u32) -> Result<Option<custodia_types::directory::Roles>> {
            returned(self.directory_ref().call().institution_roles(institution).try_invoke())
        }

        fn directory_ref(&self) -> ink::contract_ref!(DirectoryQueries) {
            self.directory.into()
        }

        fn records_ref(&self) -> ink::contract_ref!(RecordQueries) {
            self.records.into()
        }
    }

    /// What one `check_batch` call has read already: each cited receipt and each patient's
    /// denies once, judged in place (never copied per check). The contract's allocator never
    /// frees, so what the batch decodes is counted against [`HEAP_BUDGET`]; a batch that would
    /// exceed it is answered `BatchTooLarge` from the check that would, and the caller submits
    /// the checks before it (the access log refuses at that entry's position, and the outbox
    /// splits there).
    #[derive(Default)]
    struct BatchCache {
        receipts: Vec<(ReceiptId, Receipt)>,
        /// Permits' keepers (`None`: granted before keepers were recorded).
        keepers: Vec<(ReceiptId, Option<Vec<InstitutionId>>)>,
        denies: Vec<(PatientId, Vec<(ReceiptId, Receipt)>)>,
        heap: usize,
    }

    /// Bytes of decoded receipts one batch may hold: a quarter of the contract's 1 MiB of
    /// memory, beside the 160 KiB static buffer, the batch's own input and its answers.
    const HEAP_BUDGET: usize = 256 * 1024;

    impl BatchCache {
        /// Counts a decoded receipt against the budget (its place in a vector and its
        /// categories on the heap, doubled for the vectors' growth).
        fn spend(&mut self, receipt: &Receipt) -> core::result::Result<(), Denial> {
            let categories = match &receipt.scope {
                Scope::Categories(codes) => codes.len().saturating_mul(core::mem::size_of::<CodeId>()),
                _ => 0,
            };
            let cost = core::mem::size_of::<(ReceiptId, Receipt)>().saturating_add(categories).saturating_mul(2);
            self.heap = self.heap.saturating_add(cost);
            if self.heap > HEAP_BUDGET {
                return Err(Denial::BatchTooLarge);
            }
            Ok(())
        }
    }

    /// How telling a denial is when searching: the closest miss wins.
    fn rank(denial: &Denial) -> u8 {
        match denial {
            Denial::Revoked(_) => 3,
            Denial::Expired(_) => 2,
            Denial::OutOfScope(_) => 1,
            _ => 0,
        }
    }

    /// The value a call to the directory returned, or `RegistryUnavailable(Directory)`.
    fn returned<T>(called: ink::env::Result<ink::MessageResult<T>>) -> Result<T> {
        answered(called).ok_or(Error::RegistryUnavailable(Registry::Directory))
    }

    impl ConsentQueries for Consents {
        #[ink(message)]
        fn is_authorized(&self, check: AccessCheck) -> core::result::Result<ReceiptId, Denial> {
            self.check_batch(ink::prelude::vec![check]).pop().unwrap_or(Err(Denial::NoConsent))
        }

        #[ink(message)]
        fn check_batch(&self, checks: Vec<AccessCheck>) -> Vec<core::result::Result<ReceiptId, Denial>> {
            let checks = &checks[..checks.len().min(MAX_CHECKS as usize)];
            let gathered = self.gather(checks);
            let mut cache = BatchCache::default();
            checks
                .iter()
                .enumerate()
                .map(|(i, check)| {
                    let fact = gathered.fact(i)?;
                    self.answer(check, gathered.member(check.accessor), fact, &mut cache)
                })
                .collect()
        }

        #[ink(message)]
        fn check_break_glass(&self, checks: Vec<AccessCheck>) -> Vec<core::result::Result<(), Denial>> {
            let checks = &checks[..checks.len().min(MAX_CHECKS as usize)];
            let gathered = self.gather(checks);
            let mut registered: Vec<(PatientId, Result<bool>)> = Vec::new();
            checks
                .iter()
                .enumerate()
                .map(|(i, check)| {
                    let member = gathered.member(check.accessor).map_err(|_| Denial::Unavailable)?;
                    if !member.is_some_and(|m| m.roles.contains(Role::Accessor)) {
                        return Err(Denial::NotAccessor);
                    }
                    if check.purpose != Purpose::EmergencyTreatment {
                        return Err(Denial::NotAnEmergency);
                    }
                    if let (Target::Version(_), Some(facts)) = (check.target, gathered.fact(i)?) {
                        if facts.patient == check.patient {
                            return Ok(());
                        }
                    }
                    // A query, or a version that is not this patient's: is the patient known?
                    let known = match registered.iter().find(|(patient, _)| *patient == check.patient) {
                        Some((_, known)) => *known,
                        None => {
                            let known = self.patient_custodian(check.patient).map(|found| found.is_some());
                            registered.push((check.patient, known));
                            known
                        }
                    };
                    match (known, check.target) {
                        (Err(_), _) => Err(Denial::Unavailable),
                        (Ok(false), _) => Err(Denial::UnknownPatient),
                        (Ok(true), Target::Query(_)) => Ok(()),
                        (Ok(true), Target::Version(_)) => Err(Denial::UnknownRecord),
                    }
                })
                .collect()
        }
    }

    /// What a batch of checks needs from the other registries, asked once: each distinct
    /// accessor's membership (one directory call each) and the facts of every distinct
    /// version read (one records call for all of them, each version described once however
    /// often and wherever in the batch it is read).
    struct Gathered {
        members: Vec<(AccountId, Result<Option<Membership>>)>,
        /// The facts of the versions, or `None` if the records registry could not be asked.
        facts: Option<Vec<Option<VersionFacts>>>,
        /// For each check, the index of its version's facts (`None` for a query).
        fact_of: Vec<Option<usize>>,
    }

    impl Gathered {
        fn member(&self, account: AccountId) -> Result<Option<Membership>> {
            self.members
                .iter()
                .find(|(member, _)| *member == account)
                .map_or(Err(Error::RegistryUnavailable(Registry::Directory)), |(_, found)| *found)
        }

        /// The facts of check `i`'s version (`None` for a query or an unknown version).
        fn fact(&self, i: usize) -> core::result::Result<Option<&VersionFacts>, Denial> {
            match (self.fact_of.get(i).copied().flatten(), &self.facts) {
                (None, _) => Ok(None),
                (Some(_), None) => Err(Denial::Unavailable),
                (Some(index), Some(facts)) => Ok(facts.get(index).and_then(Option::as_ref)),
            }
        }
    }

    impl Consents {
        fn gather(&self, checks: &[AccessCheck]) -> Gathered {
            let mut members: Vec<(AccountId, Result<Option<Membership>>)> = Vec::new();
            for check in checks {
                if !members.iter().any(|(account, _)| *account == check.accessor) {
                    members.push((check.accessor, self.membership(check.accessor)));
                }
            }
            // Each distinct version gets one place in `versions`, found again through `known`
            // (the versions seen so far, sorted, with their places): O(n log d) comparisons
            // whatever the order of the batch.
            let mut versions: Vec<VersionRef> = Vec::new();
            let mut known: Vec<(VersionRef, usize)> = Vec::new();
            let mut fact_of: Vec<Option<usize>> = Vec::with_capacity(checks.len());
            let order = |a: &VersionRef, b: &VersionRef| {
                (a.record.as_bytes(), a.version).cmp(&(b.record.as_bytes(), b.version))
            };
            for check in checks {
                fact_of.push(match check.target {
                    Target::Query(_) => None,
                    Target::Version(at) => match known.binary_search_by(|(seen, _)| order(seen, &at)) {
                        Ok(found) => known.get(found).map(|(_, place)| *place),
                        Err(slot) => {
                            known.insert(slot, (at, versions.len()));
                            versions.push(at);
                            Some(versions.len().saturating_sub(1))
                        }
                    },
                });
            }
            let facts = if versions.is_empty() {
                Some(Vec::new())
            } else {
                answered(self.records_ref().call().describe(versions).try_invoke())
            };
            Gathered { members, facts, fact_of }
        }
    }

    impl Governed for Consents {
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
            consents::{Grantee, Purpose, Purposes},
            CodeId, RecordId,
        };

        fn terms(scope: Scope) -> Terms {
            Terms {
                patient: PatientId::new([1; 32]),
                grantee: Grantee { institution: 1, account: None },
                scope,
                purposes: Purposes::of(&[Purpose::Treatment]),
                decision: Decision::Permit,
                valid_from: 100,
                valid_until: 200,
            }
        }

        #[test]
        fn terms_are_checked_before_anything_is_asked() {
            let ok = terms(Scope::AllRecords);
            assert_eq!(Consents::check_terms(&ok, 150), Ok(()));
            assert_eq!(Consents::check_terms(&ok, 200), Err(Error::AlreadyExpired));
            let mut bad = ok.clone();
            bad.valid_until = 100;
            assert_eq!(Consents::check_terms(&bad, 0), Err(Error::InvalidPeriod));
            let mut bad = ok.clone();
            bad.purposes = Purposes::from_bits(0);
            assert_eq!(Consents::check_terms(&bad, 0), Err(Error::InvalidPurposes));
            let mut bad = ok.clone();
            bad.patient = PatientId::default();
            assert_eq!(Consents::check_terms(&bad, 0), Err(Error::ZeroId(IdField::Patient)));
            assert_eq!(Consents::check_terms(&terms(Scope::Categories(Vec::new())), 0), Err(Error::EmptyScope));
            let many = (1..=MAX_CATEGORIES as u8 + 1).map(|b| CodeId::new([b; 32])).collect();
            assert_eq!(Consents::check_terms(&terms(Scope::Categories(many)), 0), Err(Error::ScopeTooLarge));
            assert_eq!(
                Consents::check_terms(&terms(Scope::Record(RecordId::default())), 0),
                Err(Error::ZeroId(IdField::Record))
            );
        }

        #[test]
        fn scopes_cover_what_they_name() {
            let record = RecordId::new([9; 32]);
            let at = VersionRef { record, version: 2 };
            let lab = CodeId::new([7; 32]);
            let facts = VersionFacts { patient: PatientId::new([1; 32]), custodian: 1, kind: lab, erased: false };
            assert!(Consents::covers(&Scope::Record(record), Target::Version(at), Some(&facts)));
            assert!(!Consents::covers(
                &Scope::Version(VersionRef { record, version: 1 }),
                Target::Version(at),
                Some(&facts)
            ));
            assert!(Consents::covers(&Scope::Categories(vec![lab]), Target::Version(at), Some(&facts)));
            assert!(Consents::covers(&Scope::Categories(vec![lab]), Target::Query(lab), None));
            assert!(!Consents::covers(&Scope::Record(record), Target::Query(lab), None));
            assert!(Consents::covers(&Scope::AllRecords, Target::Query(lab), None));
        }
    }
}
