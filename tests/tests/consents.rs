//! The consents registry in the real pallet-contracts runtime: grant and revoke × every role,
//! the consent lifecycle, deny over permit, category scope, bad input, and a property test
//! against a reference model.

use consents::Error;
use custodia_tests::world::{commitment, id32, kind, record_id, World};
use custodia_types::records::NewVersion;
use custodia_types::{
    consents::{
        AccessCheck, ConsentGranted, ConsentQueries, ConsentRevoked, Decision, Denial, Grantee, Purpose, Purposes,
        ReceiptId, ReceiptQuery, Scope, Target, Terms, MAX_CATEGORIES, MAX_CHECKS, MAX_DENIES_PER_PATIENT,
    },
    directory::{Action, Role, Roles},
    errors::IdField,
    records::VersionRef,
    CodeId, PatientId, RecordId,
};
use ink::primitives::AccountId;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

/// The consent steps the tests take, as methods so that arguments may read the world.
trait Consenting {
    fn terms(&self, patient: PatientId, scope: Scope) -> Terms;
    fn record_of(&mut self, patient: PatientId, tag: u8, code: CodeId) -> VersionRef;
    fn authorized(&mut self, check: AccessCheck) -> Result<ReceiptId, Denial>;
    fn grant(&mut self, who: AccountId, terms: Terms) -> ReceiptId;
}

impl Consenting for World {
    /// Permits the laboratory to read for treatment, from a day ago for 30 days.
    fn terms(&self, patient: PatientId, scope: Scope) -> Terms {
        Terms {
            patient,
            grantee: Grantee { institution: self.institutions.lab, account: None },
            scope,
            purposes: Purposes::of(&[Purpose::Treatment]),
            decision: Decision::Permit,
            valid_from: NOW - DAY,
            valid_until: NOW + 30 * DAY,
        }
    }

    /// Hospital A commits version 1 of a record of `patient` under `code`.
    fn record_of(&mut self, patient: PatientId, tag: u8, code: CodeId) -> VersionRef {
        let record = record_id(tag);
        let commit = self.rec().commit(NewVersion {
            record,
            patient,
            commitment: commitment(u32::from(tag) + 9000),
            locator: b"Observation/x/_history/1".to_vec(),
            kind: code,
            supersedes: None,
        });
        assert_eq!(self.chain.call(self.cast.hospital_a, commit).value, Ok(1));
        VersionRef { record, version: 1 }
    }

    fn authorized(&mut self, check: AccessCheck) -> Result<ReceiptId, Denial> {
        let query = self.con().is_authorized(check);
        self.chain.query(self.cast.stranger, query)
    }

    fn grant(&mut self, who: AccountId, terms: Terms) -> ReceiptId {
        let grant = self.con().grant(terms);
        self.chain.call(who, grant).value.expect("grant")
    }
}

fn check(accessor: AccountId, patient: PatientId, at: VersionRef, receipt: Option<ReceiptId>) -> AccessCheck {
    AccessCheck { accessor, patient, target: Target::Version(at), purpose: Purpose::Treatment, at: NOW, receipt }
}

#[test]
fn only_the_patients_controller_grants() {
    let mut w = World::new();
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        for patient in [w.custodial_patient, w.keyed_patient] {
            w.chain.restore(&start);
            let controllers = if patient == w.custodial_patient {
                vec![w.cast.hospital_a, w.cast.hospital_a_clerk]
            } else {
                vec![w.cast.patient_key]
            };
            let grant = w.con().grant(w.terms(patient, Scope::AllRecords));
            if controllers.contains(&who) {
                let outcome = w.chain.call(who, grant);
                let id = outcome.value.expect("controller grants");
                let granted = outcome.events_of::<ConsentGranted>();
                assert_eq!((granted[0].receipt, granted[0].patient, granted[0].granted_by), (id, patient, who));
                assert_eq!(granted[0].grantee, w.institutions.lab);
                let receipt = w.chain.query(who, w.con().receipt(id)).expect("stored");
                assert_eq!((receipt.granted_by, receipt.revoked), (who, None));
            } else {
                assert_eq!(w.chain.call_refused(who, grant), Err(Error::NotController), "{who:?}");
            }
        }
    }
}

#[test]
fn the_granter_the_controller_and_the_custodian_revoke() {
    let mut w = World::new();
    let by_hospital = w.grant(w.cast.hospital_a, w.terms(w.custodial_patient, Scope::AllRecords));
    let by_patient = w.grant(w.cast.patient_key, w.terms(w.keyed_patient, Scope::AllRecords));
    let start = w.chain.snapshot();
    for who in w.cast.all() {
        for (receipt, allowed) in [
            (by_hospital, vec![w.cast.hospital_a, w.cast.hospital_a_clerk]),
            (by_patient, vec![w.cast.patient_key, w.cast.hospital_a, w.cast.hospital_a_clerk]),
        ] {
            w.chain.restore(&start);
            let revoke = w.con().revoke(receipt);
            if allowed.contains(&who) {
                let outcome = w.chain.call(who, revoke);
                assert_eq!(outcome.value, Ok(()), "{who:?} revokes {receipt}");
                let revoked = outcome.events_of::<ConsentRevoked>();
                assert_eq!((revoked[0].receipt, revoked[0].revoked_by), (receipt, who));
                let stored = w.chain.query(who, w.con().receipt(receipt)).unwrap();
                assert_eq!(stored.revoked.map(|r| r.revoked_by), Some(who));
            } else {
                assert_eq!(w.chain.call_refused(who, revoke), Err(Error::NotAuthorizedToRevoke), "{who:?}");
            }
        }
    }
}

#[test]
fn grant_use_revoke_use_again_fails() {
    let mut w = World::new();
    let at = w.record_of(w.custodial_patient, 0x30, kind());
    let id = w.grant(w.cast.hospital_a, w.terms(w.custodial_patient, Scope::Record(at.record)));
    let lab = w.cast.lab;
    assert_eq!(w.authorized(check(lab, w.custodial_patient, at, Some(id))), Ok(id));
    assert_eq!(w.authorized(check(lab, w.custodial_patient, at, None)), Ok(id), "found by search");
    assert_eq!(w.chain.call(w.cast.hospital_a, w.con().revoke(id)).value, Ok(()));
    assert_eq!(w.authorized(check(lab, w.custodial_patient, at, Some(id))), Err(Denial::Revoked(id)));
    assert_eq!(w.authorized(check(lab, w.custodial_patient, at, None)), Err(Denial::Revoked(id)));
    // History stays: granted when and by whom, revoked when and by whom.
    let receipt = w.chain.query(lab, w.con().receipt(id)).unwrap();
    assert_eq!(receipt.granted_by, w.cast.hospital_a);
    assert_eq!(receipt.revoked.map(|r| r.revoked_at), Some(NOW));
    let active = w.chain.query(
        lab,
        w.con().receipts(ReceiptQuery { patient: w.custodial_patient, from: 0, limit: 32, active_only: true }),
    );
    assert!(active.items.is_empty());
    let all = w.chain.query(
        lab,
        w.con().receipts(ReceiptQuery { patient: w.custodial_patient, from: 0, limit: 32, active_only: false }),
    );
    assert_eq!((all.items.len(), all.next), (1, 1));
}

#[test]
fn expiry_deny_grantee_and_purpose_are_judged() {
    let mut w = World::new();
    let (p, lab, a) = (w.custodial_patient, w.cast.lab, w.cast.hospital_a);
    let at = w.record_of(p, 0x31, kind());
    let permit = w.grant(a, w.terms(p, Scope::AllRecords));

    let mut late = check(lab, p, at, Some(permit));
    late.at = NOW + 31 * DAY;
    assert_eq!(w.authorized(late), Err(Denial::Expired(permit)));
    let mut early = check(lab, p, at, Some(permit));
    early.at = NOW - 2 * DAY;
    assert_eq!(w.authorized(early), Err(Denial::Expired(permit)));

    let mut research = check(lab, p, at, Some(permit));
    research.purpose = Purpose::Research;
    assert_eq!(w.authorized(research), Err(Denial::OutOfScope(permit)));
    // Hospital A's own accounts are accessors but not the grantee.
    assert_eq!(w.authorized(check(a, p, at, Some(permit))), Err(Denial::OutOfScope(permit)));
    assert_eq!(w.authorized(check(w.cast.auditor, p, at, Some(permit))), Err(Denial::NotAccessor));

    let mut deny_terms = w.terms(p, Scope::Record(at.record));
    deny_terms.decision = Decision::Deny;
    let deny = w.grant(a, deny_terms);
    assert_eq!(w.authorized(check(lab, p, at, Some(permit))), Err(Denial::Denied(deny)), "deny overrides permit");
    let other = w.record_of(p, 0x32, kind());
    assert_eq!(w.authorized(check(lab, p, other, Some(permit))), Ok(permit), "the deny names one record only");
    assert_eq!(w.chain.call(a, w.con().revoke(deny)).value, Ok(()));
    assert_eq!(w.authorized(check(lab, p, at, Some(permit))), Ok(permit));
}

#[test]
fn a_grantee_account_narrows_the_receipt() {
    let mut w = World::new();
    let (p, a) = (w.custodial_patient, w.cast.hospital_a);
    let at = w.record_of(p, 0x33, kind());
    let mut narrow = w.terms(p, Scope::AllRecords);
    narrow.grantee = Grantee { institution: w.institutions.hospital_a, account: Some(w.cast.hospital_a_clerk) };
    let id = w.grant(a, narrow);
    assert_eq!(w.authorized(check(w.cast.hospital_a_clerk, p, at, Some(id))), Ok(id));
    assert_eq!(w.authorized(check(a, p, at, Some(id))), Err(Denial::OutOfScope(id)));
}

#[test]
fn category_scope_covers_versions_and_queries_of_its_codes() {
    let mut w = World::new();
    let (p, lab) = (w.custodial_patient, w.cast.lab);
    let hemoglobin = CodeId::new(id32(0xC1));
    let imaging = CodeId::new(id32(0xC2));
    let blood = w.record_of(p, 0x34, hemoglobin);
    let scan = w.record_of(p, 0x35, imaging);
    let id = w.grant(w.cast.hospital_a, w.terms(p, Scope::Categories(vec![hemoglobin])));
    assert_eq!(w.authorized(check(lab, p, blood, Some(id))), Ok(id));
    assert_eq!(w.authorized(check(lab, p, scan, Some(id))), Err(Denial::OutOfScope(id)));
    let mut query = check(lab, p, blood, Some(id));
    query.target = Target::Query(hemoglobin);
    assert_eq!(w.authorized(query), Ok(id));
    query.target = Target::Query(imaging);
    assert_eq!(w.authorized(query), Err(Denial::OutOfScope(id)));
}

#[test]
fn a_receipt_never_covers_another_patients_record() {
    let mut w = World::new();
    let lab = w.cast.lab;
    let theirs = w.record_of(w.keyed_patient, 0x36, kind());
    let id = w.grant(w.cast.hospital_a, w.terms(w.custodial_patient, Scope::AllRecords));
    // Claiming the record is the custodial patient's does not work: the registry knows better.
    assert_eq!(w.authorized(check(lab, w.custodial_patient, theirs, Some(id))), Err(Denial::UnknownRecord));
    assert_eq!(w.authorized(check(lab, w.keyed_patient, theirs, Some(id))), Err(Denial::OutOfScope(id)));
    let missing = VersionRef { record: record_id(0x37), version: 1 };
    assert_eq!(w.authorized(check(lab, w.custodial_patient, missing, Some(id))), Err(Denial::UnknownRecord));
    assert_eq!(w.authorized(check(lab, w.custodial_patient, theirs, None)), Err(Denial::UnknownRecord));
}

#[test]
fn bad_grants_and_revocations_get_typed_errors() {
    let mut w = World::new();
    let (a, p) = (w.cast.hospital_a, w.custodial_patient);
    let base = w.terms(p, Scope::AllRecords);
    let mut cases: Vec<(Terms, Error)> = Vec::new();
    let mut t = base.clone();
    t.patient = PatientId::new(id32(0x0E));
    cases.push((t, Error::UnknownPatient));
    let mut t = base.clone();
    t.patient = PatientId::default();
    cases.push((t, Error::ZeroId(IdField::Patient)));
    let mut t = base.clone();
    t.valid_until = NOW - 1;
    t.valid_from = NOW - DAY;
    cases.push((t, Error::AlreadyExpired));
    let mut t = base.clone();
    t.valid_until = t.valid_from;
    cases.push((t, Error::InvalidPeriod));
    let mut t = base.clone();
    t.purposes = Purposes::from_bits(0);
    cases.push((t, Error::InvalidPurposes));
    cases.push((w.terms(p, Scope::Categories(Vec::new())), Error::EmptyScope));
    let many = (0..=MAX_CATEGORIES as u8).map(|b| CodeId::new(id32(b + 1))).collect();
    cases.push((w.terms(p, Scope::Categories(many)), Error::ScopeTooLarge));
    cases.push((w.terms(p, Scope::Record(RecordId::default())), Error::ZeroId(IdField::Record)));
    let mut t = base.clone();
    t.grantee.institution = 99;
    cases.push((t, Error::UnknownGrantee));
    for (terms, expected) in cases {
        assert_eq!(w.chain.call_refused(a, w.con().grant(terms)), Err(expected));
    }

    let mut deny = base.clone();
    deny.decision = Decision::Deny;
    for _ in 0..MAX_DENIES_PER_PATIENT {
        w.grant(a, deny.clone());
    }
    assert_eq!(w.chain.call_refused(a, w.con().grant(deny)), Err(Error::TooManyDenies));

    assert_eq!(w.chain.call_refused(a, w.con().revoke(999)), Err(Error::UnknownReceipt));
    let id = w.grant(a, base);
    assert_eq!(w.chain.call(a, w.con().revoke(id)).value, Ok(()));
    assert_eq!(w.chain.call_refused(a, w.con().revoke(id)), Err(Error::AlreadyRevoked));
}

/// A tiny deterministic generator (xorshift64*), so the property test needs no crate and
/// replays the same sequences everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the reference model remembers of a receipt.
struct Modelled {
    id: ReceiptId,
    deny: bool,
    until: u64,
    revoked_at: Option<u64>,
    purpose: Purpose,
}

#[test]
fn random_grant_revoke_access_sequences_match_a_reference_model() {
    let mut w = World::new();
    let (p, a, lab) = (w.custodial_patient, w.cast.hospital_a, w.cast.lab);
    let at = w.record_of(p, 0x38, kind());
    let start = w.chain.snapshot();
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let purposes = [Purpose::Treatment, Purpose::Research];
    let (mut sequences, mut accesses, mut permitted) = (0, 0, 0);
    for _ in 0..1000 {
        w.chain.restore(&start);
        let mut time = NOW;
        w.chain.set_time(time);
        let mut model: Vec<Modelled> = Vec::new();
        for _ in 0..rng.below(8) + 2 {
            match rng.below(4) {
                0 | 1 => {
                    let deny = rng.below(5) == 0;
                    let until = time + (rng.below(4) + 1) * DAY;
                    let purpose = purposes[rng.below(2) as usize];
                    let mut t = w.terms(p, Scope::AllRecords);
                    t.decision = if deny { Decision::Deny } else { Decision::Permit };
                    t.valid_from = time;
                    t.valid_until = until;
                    t.purposes = Purposes::of(&[purpose]);
                    let outcome = w.chain.call(a, w.con().grant(t));
                    let Ok(id) = outcome.value else { continue };
                    model.push(Modelled { id, deny, until, revoked_at: None, purpose });
                }
                2 if !model.is_empty() => {
                    let pick = rng.below(model.len() as u64) as usize;
                    let expected = if model[pick].revoked_at.is_some() { Err(Error::AlreadyRevoked) } else { Ok(()) };
                    assert_eq!(w.chain.call(a, w.con().revoke(model[pick].id)).value, expected);
                    model[pick].revoked_at.get_or_insert(time);
                }
                _ => {
                    time += rng.below(3) * DAY;
                    w.chain.set_time(time);
                }
            }
            // After every step, every cited receipt and the search agree with the model (all
            // checked in one `check_batch` dry run).
            let purpose = purposes[rng.below(2) as usize];
            let live = |m: &Modelled| m.revoked_at.is_none() && time < m.until && m.purpose == purpose;
            let denied = model.iter().find(|m| m.deny && live(m)).map(|m| m.id);
            let mut checks: Vec<AccessCheck> =
                model.iter().map(|m| AccessCheck { at: time, purpose, ..check(lab, p, at, Some(m.id)) }).collect();
            checks.push(AccessCheck { at: time, purpose, ..check(lab, p, at, None) });
            let query = w.con().check_batch(checks);
            let mut answers = w.chain.query(lab, query);
            let searched = answers.pop().expect("one answer per check");
            for (m, got) in model.iter().zip(answers) {
                accesses += 1;
                if let Some(deny) = denied {
                    assert_eq!(got, Err(Denial::Denied(deny)));
                } else if m.deny {
                    assert!(got.is_err(), "a cited deny never authorises");
                } else if live(m) {
                    assert_eq!(got, Ok(m.id));
                    permitted += 1;
                } else {
                    assert!(got.is_err(), "a revoked or expired consent never authorises: {got:?}");
                }
            }
            let any_permit = model.iter().any(|m| !m.deny && live(m));
            assert_eq!(searched.is_ok(), denied.is_none() && any_permit, "search: {searched:?}");
        }
        sequences += 1;
    }
    assert_eq!(sequences, 1000);
    assert!(accesses > 5000 && permitted > 500, "the sequences exercise both outcomes ({accesses}, {permitted})");
}

#[test]
fn a_batch_answers_every_check_as_if_it_were_asked_alone_in_any_order() {
    let mut w = World::new();
    let (a, lab, key) = (w.cast.hospital_a, w.cast.lab, w.cast.patient_key);
    let (p, q) = (w.custodial_patient, w.keyed_patient);
    let (p1, p2, q1) = (w.record_of(p, 0x61, kind()), w.record_of(p, 0x62, kind()), w.record_of(q, 0x63, kind()));
    let permit_p = w.grant(a, w.terms(p, Scope::Record(p1.record)));
    let permit_q = w.grant(key, w.terms(q, Scope::AllRecords));
    // Versions interleaved and repeated far apart, a receipt cited for the other patient's
    // version and for a version outside its scope, and searches.
    let checks: Vec<AccessCheck> = vec![
        check(lab, p, p1, Some(permit_p)),
        check(lab, q, q1, Some(permit_q)),
        check(lab, p, p2, Some(permit_p)),
        check(lab, q, p1, Some(permit_q)),
        check(lab, p, p1, None),
        check(lab, q, q1, None),
        check(lab, p, p2, None),
        check(lab, q, q1, Some(permit_q)),
        check(lab, p, p1, Some(permit_p)),
    ];
    let alone: Vec<_> = checks.iter().map(|c| w.authorized(*c)).collect();
    assert_eq!(alone[0], Ok(permit_p));
    assert_eq!(alone[1], Ok(permit_q));
    assert!(alone[2].is_err() && alone[3].is_err(), "out of scope, another patient's version: {alone:?}");
    for order in [checks.clone(), checks.iter().rev().copied().collect()] {
        let query = w.con().check_batch(order.clone());
        let answers = w.chain.query(lab, query);
        let expected: Vec<_> = order.iter().map(|c| alone[checks.iter().position(|x| x == c).unwrap()]).collect();
        assert_eq!(answers, expected);
    }
}

// ---- security review, finding 1: lifting a deny acts as a grant ----

/// Registers a third patient with hospital A, lets its clerk grant a deny while the patient is
/// custodial, then hands control to `key`. Returns the patient and the deny.
fn deny_granted_before_the_patient_took_control(w: &mut World, key: AccountId) -> (PatientId, ReceiptId) {
    let patient = PatientId::new(id32(0xE3));
    w.chain.call(w.cast.hospital_a, w.dir().register_patient(patient)).value.expect("register");
    let mut terms = w.terms(patient, Scope::AllRecords);
    terms.decision = Decision::Deny;
    let deny = w.grant(w.cast.hospital_a_clerk, terms);
    w.chain.call(w.cast.hospital_a, w.dir().offer_control(patient, key)).value.expect("offer");
    w.chain.call(key, w.dir().accept_control(patient)).value.expect("accept");
    (patient, deny)
}

#[test]
fn a_deny_is_lifted_only_by_the_current_controller() {
    let mut w = World::new();
    let key = AccountId::from([0x52; 32]);
    w.chain.fund(key);
    let (_, deny) = deny_granted_before_the_patient_took_control(&mut w, key);
    let start = w.chain.snapshot();
    // The custodian's operator, its clerk (who granted the deny) and everyone else but the
    // patient's own key: lifting the deny would widen access against the patient's will.
    for who in w.cast.all() {
        w.chain.restore(&start);
        assert_eq!(w.chain.call_refused(who, w.con().revoke(deny)), Err(Error::NotAuthorizedToRevoke), "{who:?}");
    }
    w.chain.restore(&start);
    let outcome = w.chain.call(key, w.con().revoke(deny));
    assert_eq!(outcome.value, Ok(()));
    assert_eq!(outcome.events_of::<ConsentRevoked>()[0].revoked_by, key);
}

#[test]
fn a_granter_that_left_its_institution_cannot_revoke() {
    let mut w = World::new();
    let (clerk, operator) = (w.cast.hospital_a_clerk, w.cast.hospital_a);
    let permit = w.grant(clerk, w.terms(w.custodial_patient, Scope::AllRecords));
    w.chain.call(operator, w.dir().remove_account(clerk)).value.expect("remove the clerk");
    assert_eq!(w.chain.call_refused(clerk, w.con().revoke(permit)), Err(Error::NotAuthorizedToRevoke));
    assert_eq!(w.chain.call(operator, w.con().revoke(permit)).value, Ok(()), "the institution still may");
}

#[test]
fn revoking_a_permit_needs_the_custodian_role_now() {
    let mut w = World::new();
    let permit = w.grant(w.cast.hospital_a, w.terms(w.custodial_patient, Scope::AllRecords));
    let held = w.grant(w.cast.patient_key, w.terms(w.keyed_patient, Scope::AllRecords));
    let accessor_only = Roles::of(&[Role::Accessor]);
    w.govern(Action::SetRoles { institution: w.institutions.hospital_a, roles: accessor_only }).expect("set roles");
    for who in [w.cast.hospital_a, w.cast.hospital_a_clerk] {
        for receipt in [permit, held] {
            assert_eq!(
                w.chain.call_refused(who, w.con().revoke(receipt)),
                Err(Error::NotAuthorizedToRevoke),
                "{who:?}"
            );
        }
    }
    assert_eq!(w.chain.call(w.cast.patient_key, w.con().revoke(held)).value, Ok(()), "the patient's key still may");
}

// ---- security review, low findings ----

#[test]
fn expired_denies_do_not_count_toward_the_cap() {
    let mut w = World::new();
    let (a, p) = (w.cast.hospital_a, w.custodial_patient);
    let mut short = w.terms(p, Scope::AllRecords);
    short.decision = Decision::Deny;
    short.valid_until = NOW + DAY;
    for _ in 0..MAX_DENIES_PER_PATIENT {
        w.grant(a, short.clone());
    }
    w.chain.set_time(NOW + 2 * DAY);
    let mut later = short.clone();
    later.valid_until = NOW + 30 * DAY;
    let outcome = w.chain.call(a, w.con().grant(later));
    assert!(outcome.value.is_ok(), "the expired denies no longer hold a place: {:?}", outcome.value);
}

#[test]
fn a_receipt_page_scans_a_bounded_number_of_positions() {
    let mut w = World::new();
    let (a, p) = (w.cast.hospital_a, w.custodial_patient);
    for _ in 0..300 {
        let id = w.grant(a, w.terms(p, Scope::AllRecords));
        assert_eq!(w.chain.call(a, w.con().revoke(id)).value, Ok(()));
    }
    let active = w.grant(a, w.terms(p, Scope::AllRecords));
    let first = w.chain.query(a, w.con().receipts(ReceiptQuery { patient: p, from: 0, limit: 32, active_only: true }));
    assert!(first.items.is_empty() && first.next <= 128, "one page scanned {} positions", first.next);
    let mut from = first.next;
    let mut found = Vec::new();
    while from < 301 {
        let page = w.chain.query(a, w.con().receipts(ReceiptQuery { patient: p, from, limit: 32, active_only: true }));
        let next = page.next;
        assert!(next > from && next - from <= 128, "progress within the bound: {from} -> {next}");
        found.extend(page.items.into_iter().map(|r| r.id));
        from = next;
    }
    assert_eq!(found, vec![active]);
}

// ---- security review, finding 5: check_batch memory ----

/// A batch at the caps: the patient holds the most denies, each over the most categories
/// (none matching, so every check weighs every deny), and the batch is the largest.
#[test]
fn check_batch_at_the_caps_does_not_trap() {
    let mut w = World::new();
    let (a, p, lab) = (w.cast.hospital_a, w.custodial_patient, w.cast.lab);
    let at = w.record_of(p, 0x3C, kind());
    let permit = w.grant(a, w.terms(p, Scope::AllRecords));
    for d in 0..MAX_DENIES_PER_PATIENT {
        let codes = (0..MAX_CATEGORIES).map(|c| CodeId::new(id32(0x10 + (d * MAX_CATEGORIES + c) as u8))).collect();
        let mut deny = w.terms(p, Scope::Categories(codes));
        deny.decision = Decision::Deny;
        w.grant(a, deny);
    }
    let checks = vec![check(lab, p, at, Some(permit)); MAX_CHECKS as usize];
    // The worst case weighs every deny's every category for every check: a block's worth.
    w.chain.set_gas_limit(custodia_client::backend::Gas { ref_time: BLOCK_REF_TIME, proof_size: 16 * 1024 * 1024 });
    let outcome = w.chain.call(lab, w.con().check_batch(checks));
    assert!(!outcome.reverted);
    let answers = outcome.value;
    assert_eq!(answers.len(), MAX_CHECKS as usize);
    assert!(answers.iter().all(|answer| *answer == Ok(permit)), "{:?}", answers.iter().find(|a| **a != Ok(permit)));
    println!("check_batch at the caps: {} ref_time", outcome.gas_consumed.ref_time);
    assert!(outcome.gas_consumed.ref_time < BLOCK_REF_TIME / 2, "{:?}", outcome.gas_consumed);
}

/// A normal-class block's ref_time on a 6 s, 2 s-of-compute chain (75 % of 2e12).
const BLOCK_REF_TIME: u64 = 1_500_000_000_000;

/// Many patients, each with the most denies over the most categories: the batch is cut with a
/// typed answer where its receipts would outgrow one call's memory, never a trap; the access
/// log refuses at that entry's position and takes the entries before it.
#[test]
fn a_batch_over_many_heavily_denied_patients_is_cut_with_a_typed_answer() {
    use custodia_types::access_log::{Authorization, NewEntry};
    let mut w = World::new();
    let (a, lab) = (w.cast.hospital_a, w.cast.lab);
    let mut checks = Vec::new();
    let mut entries = Vec::new();
    for n in 0..24u8 {
        let p = PatientId::new(id32(0xA0 + n));
        w.chain.call(a, w.dir().register_patient(p)).value.expect("register");
        let at = w.record_of(p, 0x40 + n, kind());
        let permit = w.grant(a, w.terms(p, Scope::AllRecords));
        for d in 0..MAX_DENIES_PER_PATIENT {
            let codes = (0..MAX_CATEGORIES).map(|c| CodeId::new(id32(0x10 + (d * MAX_CATEGORIES + c) as u8))).collect();
            let mut deny = w.terms(p, Scope::Categories(codes));
            deny.decision = Decision::Deny;
            w.grant(a, deny);
        }
        checks.push(check(lab, p, at, Some(permit)));
        entries.push(NewEntry {
            seq: u64::from(n),
            patient: p,
            target: Target::Version(at),
            purpose: Purpose::Treatment,
            accessed_at: NOW,
            authorization: Authorization::Consent(permit),
        });
    }
    let answers = w.chain.query(lab, w.con().check_batch(checks));
    let cut = answers.iter().position(|answer| *answer == Err(Denial::BatchTooLarge)).expect("cut somewhere");
    assert!(cut > 0, "at least one patient's denies fit");
    assert!(answers[..cut].iter().all(Result::is_ok), "{answers:?}");
    println!("one call judges {cut} patients holding 16 denies of 8 categories each");

    let refused = w.chain.call_refused(lab, w.log().append_batch(entries.clone()));
    let expected = access_log::BatchError { item: Some(cut as u32), error: access_log::Error::BatchTooLarge };
    assert_eq!(refused, Err(expected));
    let first = w.chain.call(lab, w.log().append_batch(entries[..cut].to_vec())).value.expect("the entries before");
    assert_eq!(first.appended as usize, cut);
    let rest = w.chain.call(lab, w.log().append_batch(entries[cut..].to_vec())).value.expect("the rest");
    assert_eq!(first.appended + rest.appended, 24);
}

// ---- security review, finding 3 (contract part): one decision, one call ----

#[test]
fn a_grant_set_is_all_or_nothing_and_granted_once() {
    use custodia_types::consents::{ConsentSet, ConsentSetGranted, MAX_SET};
    let mut w = World::new();
    let (a, p) = (w.cast.hospital_a, w.custodial_patient);
    let permit = w.terms(p, Scope::AllRecords);
    let mut deny = w.terms(p, Scope::Categories(vec![CodeId::new(id32(0x21))]));
    deny.decision = Decision::Deny;
    let mut unknown = deny.clone();
    unknown.grantee.institution = 99;
    let key = id32(0x5E);
    let bad = ConsentSet { key, terms: vec![permit.clone(), deny.clone(), unknown] };
    assert_eq!(w.chain.call_refused(a, w.con().grant_set(bad)), Err(Error::UnknownGrantee));
    assert_eq!(
        w.chain
            .query(a, w.con().receipts(ReceiptQuery { patient: p, from: 0, limit: 32, active_only: false }))
            .items
            .len(),
        0,
        "nothing granted"
    );

    let good = ConsentSet { key, terms: vec![permit.clone(), deny.clone()] };
    let outcome = w.chain.call(a, w.con().grant_set(good.clone()));
    let ids = outcome.value.clone().expect("granted");
    assert_eq!(ids.len(), 2);
    let granted = outcome.events_of::<ConsentGranted>();
    assert_eq!(granted[0].decision, Decision::Deny, "denies first");
    assert_eq!(
        outcome.events_of::<ConsentSetGranted>()[0],
        ConsentSetGranted { patient: p, key, receipts: ids.clone(), new: true }
    );

    let again = w.chain.call(a, w.con().grant_set(good.clone()));
    assert_eq!(again.value, Ok(ids.clone()), "the same key grants nothing new");
    assert!(again.events_of::<ConsentGranted>().is_empty());
    assert!(!again.events_of::<ConsentSetGranted>()[0].new);
    assert_eq!(
        w.chain
            .query(a, w.con().receipts(ReceiptQuery { patient: p, from: 0, limit: 32, active_only: false }))
            .items
            .len(),
        2
    );

    let fresh = |terms: Vec<Terms>| ConsentSet { key: id32(0x5F), terms };
    assert_eq!(
        w.chain.call_refused(w.cast.lab, w.con().grant_set(fresh(vec![permit.clone()]))),
        Err(Error::NotController)
    );
    assert_eq!(w.chain.call_refused(a, w.con().grant_set(fresh(Vec::new()))), Err(Error::EmptySet));
    let other = w.terms(w.keyed_patient, Scope::AllRecords);
    assert_eq!(
        w.chain.call_refused(a, w.con().grant_set(fresh(vec![permit.clone(), other]))),
        Err(Error::MixedPatients)
    );
    let many = vec![permit; MAX_SET as usize + 1];
    assert_eq!(w.chain.call_refused(a, w.con().grant_set(fresh(many))), Err(Error::SetTooLarge));
}
