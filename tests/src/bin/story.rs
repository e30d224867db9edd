//! The foundation's main job: a short, readable story on the embedded chain (the real
//! pallet-contracts runtime in process). Governance admits two hospitals and a laboratory, a
//! patient is registered with a custodial controller and later takes their own key, a record
//! gets versions, an amendment and an erasure, and copies are verified, one of them tampered.
//!
//! Run with `scripts/story.sh` (sets up and builds what it needs first).

use custodia_tests::{
    chain::{call_builder, Chain, Emitted},
    world::Cast,
};
use custodia_types::{
    directory::{
        Action, ControlChanged, DependentAttached, InstitutionAdmitted, InstitutionKind,
        PatientRegistered, ProposalApproved, ProposalCreated, ProposalExecuted, Role, Roles,
    },
    records::{ErasureReason, Supersedence, Verification, VersionCommitted, VersionErased, VersionRef, VersionSuperseded},
    CodeId, Commitment, PatientId, RecordId,
};
use directory::{Directory, DirectoryRef};
use records::{Records, RecordsRef};

/// Salted commitment of some content: BLAKE2-256(salt || content). The real client uses
/// SHA-256 over canonical FHIR JSON; any collision-resistant digest serves the story.
fn commit_to(salt: &[u8; 16], content: &[u8]) -> Commitment {
    let mut bytes = salt.to_vec();
    bytes.extend_from_slice(content);
    let mut out = [0u8; 32];
    ink::env::hash_bytes::<ink::env::hash::Blake2x256>(&bytes, &mut out);
    Commitment::new(out)
}

fn short(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>() + "…"
}

struct Narrator {
    step: u32,
}

impl Narrator {
    fn say(&mut self, who: &str, what: &str) {
        self.step += 1;
        println!("\n{:>2}. {who}: {what}", self.step);
    }

    fn events(&self, events: &[Emitted]) {
        for event in events {
            println!("      event {}", describe(event));
        }
    }
}

fn describe(event: &Emitted) -> String {
    if let Some(e) = event.decode::<ProposalCreated>() {
        return format!("ProposalCreated #{} {:?}", e.proposal, e.action);
    }
    if let Some(e) = event.decode::<ProposalApproved>() {
        return format!("ProposalApproved #{} ({}/{})", e.proposal, e.approvals, e.threshold);
    }
    if let Some(e) = event.decode::<ProposalExecuted>() {
        return format!("ProposalExecuted #{}", e.proposal);
    }
    if let Some(e) = event.decode::<InstitutionAdmitted>() {
        return format!("InstitutionAdmitted #{} {:?} roles={:03b}", e.institution, e.kind, e.roles.0);
    }
    if let Some(e) = event.decode::<DependentAttached>() {
        return format!("DependentAttached {}", short(e.contract.as_ref()));
    }
    if let Some(e) = event.decode::<PatientRegistered>() {
        return format!("PatientRegistered {} custodian #{}", short(e.patient.as_bytes()), e.custodian);
    }
    if let Some(e) = event.decode::<ControlChanged>() {
        let who = |c: custodia_types::directory::Controller| match c {
            custodia_types::directory::Controller::Custodial(id) => format!("institution #{id}"),
            custodia_types::directory::Controller::PatientHeld(key) => format!("patient key {}", short(key.as_ref())),
        };
        return format!("ControlChanged {} -> {}", who(e.old), who(e.new));
    }
    if let Some(e) = event.decode::<VersionCommitted>() {
        return format!(
            "VersionCommitted record {} v{} commitment {} locator {:?} supersedes {:?}",
            short(e.record.as_bytes()),
            e.version,
            short(e.commitment.as_bytes()),
            String::from_utf8_lossy(&e.locator),
            e.supersedes.map(|l| (l.target.version, l.how)),
        );
    }
    if let Some(e) = event.decode::<VersionSuperseded>() {
        return format!("VersionSuperseded v{} by v{} ({:?})", e.version, e.superseded_by.target.version, e.superseded_by.how);
    }
    if let Some(e) = event.decode::<VersionErased>() {
        return format!("VersionErased v{} reason {:?} (tombstone stays)", e.version, e.tombstone.reason);
    }
    format!("(other event, {} bytes)", event.data.len())
}

/// Consents granted, used and revoked; accesses logged with and without consent; a Merkle proof.
fn consent_and_access(
    chain: &mut Chain,
    n: &mut Narrator,
    cast: &Cast,
    directory: ink::primitives::AccountId,
    records: ink::primitives::AccountId,
    patient: PatientId,
    record: RecordId,
) {
    use access_log::{AccessLog, AccessLogRef};
    use consents::{Consents, ConsentsRef};
    use custodia_merkle::{leaf_hash, verify_inclusion, Sha256, Tree};
    use directory::DirectoryQueries;
    use custodia_types::{
        access_log::{AccessLogged, Authorization, BreakGlassReason, NewEntry},
        consents::{Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
    };
    n.say("consortium", "deploys the consents registry and the access log");
    let consents = chain.deploy("consents", cast.admins[0], ConsentsRef::new(directory, records), b"consents");
    let log_address = chain.deploy("access_log", cast.admins[0], AccessLogRef::new(directory, consents), b"access_log");
    let con = || call_builder::<Consents>(consents);
    let log = || call_builder::<AccessLog>(log_address);
    let lab = chain.query(cast.lab, call_builder::<Directory>(directory).membership(cast.lab)).expect("lab admitted").institution;

    n.say("patient", "grants the laboratory access to all their records for treatment, for 30 days");
    let now = 1_700_000_000_000u64;
    let terms = Terms {
        patient,
        grantee: Grantee { institution: lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 30 * 86_400_000,
    };
    let granted = chain.call(cast.patient_key, con().grant(terms));
    let receipt = granted.value.expect("granted");
    println!("      receipt #{receipt} granted");

    let target = Target::Version(VersionRef { record, version: 2 });
    let entry = |seq, authorization| NewEntry { seq, patient, target, purpose: Purpose::Treatment, authorization };
    n.say("laboratory", "reads version 2 and logs the access, citing the receipt (checked on chain)");
    let first = chain.call(cast.lab, log().append(entry(0, Authorization::Consent(receipt))));
    let mut events: Vec<AccessLogged> = first.events_of::<AccessLogged>();
    println!("      logged at leaf {:?}", first.value.expect("logged").first_index);

    n.say("patient", &format!("revokes receipt #{receipt}"));
    assert_eq!(chain.call(cast.patient_key, con().revoke(receipt)).value, Ok(()));
    n.say("laboratory", "tries to log another access under the revoked receipt");
    let refused = chain.call(cast.lab, log().append(entry(1, Authorization::Consent(receipt))));
    println!("      refused: {:?}", refused.value.expect_err("refused"));

    n.say("laboratory", "breaks the glass in an emergency (no consent): accepted, flagged, announced");
    let glass = chain.call(cast.lab, log().append(entry(1, Authorization::BreakGlass(BreakGlassReason::LifeThreatening))));
    for alarm in glass.events_of::<custodia_types::access_log::BreakGlassAccess>() {
        println!("      event BreakGlassAccess patient {} institution #{} count {}", short(alarm.patient.as_bytes()), alarm.institution, alarm.count);
    }
    events.extend(glass.events_of::<AccessLogged>());

    n.say("auditor", "rebuilds the log from its events and checks an inclusion proof against the root on chain");
    let tree = Tree::from_leaves::<Sha256>(events.iter().map(|e| leaf_hash::<Sha256>(&scale::Encode::encode(&e.entry))));
    let (size, root) = chain.query(cast.auditor, log().head());
    let proof = tree.inclusion_proof::<Sha256>(1, size).expect("proof");
    let ok = verify_inclusion::<Sha256>(&tree.leaf(1).expect("leaf"), 1, size, &proof, &root);
    println!("      the break-glass entry is leaf 1 of {size}; proof of {} hash(es) verifies: {ok}", proof.len());
}

fn main() {
    let cast = Cast::default();
    let mut chain = Chain::new();
    for account in cast.all() {
        chain.fund(account);
    }
    let mut n = Narrator { step: 0 };
    println!("Custodia story on the embedded chain (pallet-contracts in process)");

    n.say("consortium", "deploys the directory (admins A1, A2, A3; 2 of 3 approve) and the records registry");
    let directory = chain.deploy("directory", cast.admins[0], DirectoryRef::new(cast.admins.to_vec(), 2), b"directory");
    let records = chain.deploy("records", cast.admins[0], RecordsRef::new(directory), b"records");
    let dir = || call_builder::<Directory>(directory);
    let rec = || call_builder::<Records>(records);

    let govern = |chain: &mut Chain, n: &mut Narrator, action: Action, what: &str| {
        n.say("admin A1", &format!("proposes: {what}"));
        let proposed = chain.call(cast.admins[0], dir().propose(action));
        n.events(&proposed.events);
        let id = proposed.value.expect("proposal accepted");
        n.say("admin A2", &format!("approves and executes proposal #{id}"));
        let approved = chain.call(cast.admins[1], dir().approve(id));
        n.events(&approved.events);
        let executed = chain.call(cast.admins[1], dir().execute(id));
        n.events(&executed.events);
        executed.value.expect("executed");
    };
    govern(&mut chain, &mut n, Action::Attach { contract: records }, "attach the records registry");
    let both = Roles::of(&[Role::Custodian, Role::Accessor]);
    govern(&mut chain, &mut n, Action::Admit { operator: cast.hospital_a, kind: InstitutionKind::Hospital, roles: both }, "admit hospital A");
    govern(&mut chain, &mut n, Action::Admit { operator: cast.hospital_b, kind: InstitutionKind::Hospital, roles: both }, "admit hospital B");
    let lab = Roles::of(&[Role::Accessor]);
    govern(&mut chain, &mut n, Action::Admit { operator: cast.lab, kind: InstitutionKind::Laboratory, roles: lab }, "admit the laboratory");

    let patient = PatientId::new({
        let mut pseudonym = [0u8; 32];
        ink::env::hash_bytes::<ink::env::hash::Blake2x256>(b"per-deployment secret || local patient key", &mut pseudonym);
        pseudonym
    });
    n.say("hospital A", &format!("registers a patient under the pseudonym {} (no name, MRN or birth date)", short(patient.as_bytes())));
    let registered = chain.call(cast.hospital_a, dir().register_patient(patient));
    n.events(&registered.events);

    let record = RecordId::new([0x42; 32]);
    let kind = CodeId::new([0x11; 32]);
    let v1_content = br#"{"resourceType":"Observation","status":"final","valueQuantity":{"value":6.3}}"#;
    let v2_content = br#"{"resourceType":"Observation","status":"amended","valueQuantity":{"value":6.1}}"#;
    let (salt1, salt2) = ([1u8; 16], [2u8; 16]);
    let (c1, c2) = (commit_to(&salt1, v1_content), commit_to(&salt2, v2_content));

    n.say("hospital A", "commits version 1 of a lab result (only its salted commitment and locator go on chain)");
    let v1 = chain.call(cast.hospital_a, rec().commit(record, patient, c1, b"Observation/hb-1/_history/1".to_vec(), kind));
    n.events(&v1.events);
    n.say("hospital A", "commits version 2, which amends version 1");
    let v2 = chain.call(
        cast.hospital_a,
        rec().supersede(record, patient, c2, b"Observation/hb-1/_history/2".to_vec(), kind, VersionRef { record, version: 1 }, Supersedence::Amends),
    );
    n.events(&v2.events);

    n.say("hospital B", "tries to commit to hospital A's record");
    let refused = chain.call(cast.hospital_b, rec().commit(record, patient, commit_to(&[3; 16], b"x"), b"x".to_vec(), kind));
    println!("      refused: {:?} (nothing written, no event)", refused.value.expect_err("refused"));

    n.say("auditor", "verifies copies against the chain");
    let verify = |chain: &mut Chain, version: u32, c: Commitment| chain.query(cast.auditor, rec().verify(record, version, c));
    println!("      v1, the original copy:      {:?}", verify(&mut chain, 1, c1));
    let tampered = commit_to(&salt1, br#"{"resourceType":"Observation","status":"final","valueQuantity":{"value":9.3}}"#);
    println!("      v1, a copy with 9.3 for 6.3: {:?}", verify(&mut chain, 1, tampered));
    println!("      v2, the amendment:           {:?}", verify(&mut chain, 2, c2));

    let patient_key = cast.patient_key;
    n.say("hospital A", "offers the patient control of their own key");
    let offered = chain.call(cast.hospital_a, dir().offer_control(patient, patient_key));
    assert_eq!(offered.value, Ok(()));
    n.say("patient", "accepts; hospital A stays as the fallback custodian");
    let accepted = chain.call(patient_key, dir().accept_control(patient));
    n.events(&accepted.events);

    n.say("patient", "has version 1 erased (the right to erasure)");
    let erased = chain.call(patient_key, rec().erase(record, 1, ErasureReason::PatientRequest));
    n.events(&erased.events);
    let after: Verification = verify(&mut chain, 1, c1);
    println!("      v1 now verifies as {after:?}: an evident gap, not a missing or tampered version");
    let history = chain.query(cast.auditor, rec().versions(record, 1, 32));
    for (number, version) in history {
        let state = match version.content {
            custodia_types::records::Content::Committed { commitment, .. } => format!("committed {}", short(commitment.as_bytes())),
            custodia_types::records::Content::Erased(t) => format!("erased by {} ({:?})", short(t.erased_by.as_ref()), t.reason),
        };
        println!("      history v{number}: {state}");
    }
    consent_and_access(&mut chain, &mut n, &cast, directory, records, patient, record);
    println!("\nDone: every step above ran in the real pallet-contracts runtime.");
}
