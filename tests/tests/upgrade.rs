//! Governed upgrades (issue 11): a suite deployed from the previous release's bundles
//! (`tests/fixtures/revision-1`, built before the coordinated contract revision), filled in every
//! registry, upgraded in place to the code built from this tree, keeps every record, receipt,
//! entry and root readable and verifiable; from then on only the directory's M-of-N governance
//! changes a registry's code (`Action::SetCode`), and nobody else can.

use custodia_sandbox::harness::{call_builder, Chain};
use custodia_types::{
    access_log::{AccessLogged, Authorization, BreakGlassReason, Entry, NewEntry},
    consents::{
        AccessCheck, ConsentQueries, Decision, Grantee, Purpose, Purposes, ReceiptId, ReceiptQuery, Scope, Target,
        Terms,
    },
    directory::{
        Action, CodeChanged, Controller, Governed, GovernedError, InstitutionKind, RecoveryRequested, Role, Roles,
    },
    records::{ErasureReason, Link, NewVersion, Supersedence, Verification, VersionNo, VersionRef},
    CodeId, Commitment, PatientId, RecordId,
};
use directory::DirectoryQueries;
use ink::primitives::{AccountId, Hash};
use serde_json::Value;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

fn account(tag: u8) -> AccountId {
    AccountId::from([tag; 32])
}

/// The Wasm of a revision-1 bundle, from its `.contract` file.
fn revision_1(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/revision-1/{name}.contract", env!("CARGO_MANIFEST_DIR"));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&path).expect("the fixture")).expect("JSON");
    let wasm = bundle["source"]["wasm"].as_str().expect("the code");
    hex::decode(wasm.trim_start_matches("0x")).expect("hex")
}

/// The Wasm built from this tree.
fn current(name: &str) -> Vec<u8> {
    custodia_client::Bundles::from_env().wasm(name).expect("the bundle")
}

struct Suite {
    chain: Chain,
    admins: [AccountId; 3],
    hospital: AccountId,
    lab: AccountId,
    key: AccountId,
    directory: AccountId,
    records: AccountId,
    consents: AccountId,
    access_log: AccountId,
}

impl Suite {
    fn dir(&self) -> <directory::Directory as ink::codegen::ContractCallBuilder>::Type {
        call_builder::<directory::Directory>(self.directory)
    }
    fn rec(&self) -> <records::Records as ink::codegen::ContractCallBuilder>::Type {
        call_builder::<records::Records>(self.records)
    }
    fn con(&self) -> <consents::Consents as ink::codegen::ContractCallBuilder>::Type {
        call_builder::<consents::Consents>(self.consents)
    }
    fn log(&self) -> <access_log::AccessLog as ink::codegen::ContractCallBuilder>::Type {
        call_builder::<access_log::AccessLog>(self.access_log)
    }

    fn govern(&mut self, action: Action) -> Result<(), directory::Error> {
        let [first, second, _] = self.admins;
        let id = self.chain.call(first, self.dir().propose(action)).value?;
        self.chain.call(second, self.dir().approve(id)).value?;
        self.chain.call(second, self.dir().execute(id)).value
    }

    fn code_hash(&mut self, contract: AccountId) -> Hash {
        Hash::from(self.chain.sandbox().code_hash(contract).expect("a contract"))
    }
}

/// The suite deployed from `code` (a bundle name → Wasm), attached, with a hospital and a
/// laboratory admitted.
fn deployed(code: fn(&str) -> Vec<u8>) -> Suite {
    let admins = [account(0xA1), account(0xA2), account(0xA3)];
    let (hospital, lab, key) = (account(0x11), account(0x31), account(0x51));
    let mut chain = Chain::new();
    chain.set_time(NOW);
    for who in admins.iter().chain(&[hospital, lab, key, account(0x52), account(0x99)]) {
        chain.fund(*who);
    }
    let directory = chain.deploy_code(
        "directory",
        code("directory"),
        admins[0],
        directory::DirectoryRef::new(admins.to_vec(), 2),
        b"",
    );
    let records = chain.deploy_code("records", code("records"), admins[0], records::RecordsRef::new(directory), b"");
    let consents =
        chain.deploy_code("consents", code("consents"), admins[0], consents::ConsentsRef::new(directory, records), b"");
    let access_log = chain.deploy_code(
        "access_log",
        code("access_log"),
        admins[0],
        access_log::AccessLogRef::new(directory, consents),
        b"",
    );
    let mut suite = Suite { chain, admins, hospital, lab, key, directory, records, consents, access_log };
    suite.govern(Action::Attach { contract: records }).expect("attach");
    let both = Roles::of(&[Role::Custodian, Role::Accessor]);
    suite.govern(Action::Admit { operator: hospital, kind: InstitutionKind::Hospital, roles: both }).expect("admit");
    let accessor = Roles::of(&[Role::Accessor]);
    suite.govern(Action::Admit { operator: lab, kind: InstitutionKind::Laboratory, roles: accessor }).expect("admit");
    suite
}

fn commitment(n: u8) -> Commitment {
    Commitment::new([n; 32])
}

/// What the filled registries answer, to compare before and after the upgrade.
#[derive(Debug, PartialEq)]
struct Answers {
    patients: Vec<Option<custodia_types::directory::PatientInfo>>,
    institution: Option<custodia_types::directory::Institution>,
    record: Option<custodia_types::records::RecordInfo>,
    versions: Vec<custodia_types::records::NumberedVersion>,
    verified: Vec<Verification>,
    receipts: Vec<custodia_types::consents::NumberedReceipt>,
    authorized: Result<ReceiptId, custodia_types::consents::Denial>,
    head: custodia_types::access_log::LogHead,
    roots: Vec<Option<[u8; 32]>>,
    break_glass: u32,
}

struct Filled {
    patients: [PatientId; 2],
    record: RecordId,
    permit: ReceiptId,
    /// The entries logged, as revision 1 logged them (their leaves' bytes).
    leaves: Vec<Vec<u8>>,
}

/// Fills every registry through messages both releases share: patients (custodial, and one
/// held by a key with a pending offer of the other), a record with a superseding version and an
/// erased one, a permit, a deny and a revoked receipt, consented and break-glass entries over
/// several calls.
fn fill(s: &mut Suite) -> Filled {
    let (h, lab) = (s.hospital, s.lab);
    let patients = [PatientId::new([0xE1; 32]), PatientId::new([0xE2; 32])];
    for p in patients {
        assert_eq!(s.chain.call(h, s.dir().register_patient(p)).value, Ok(()));
    }
    assert_eq!(s.chain.call(h, s.dir().offer_control(patients[1], s.key)).value, Ok(()));
    assert_eq!(s.chain.call(s.key, s.dir().accept_control(patients[1])).value, Ok(()));
    assert_eq!(s.chain.call(h, s.dir().offer_control(patients[0], account(0x52))).value, Ok(()), "left pending");
    let record = RecordId::new([0x70; 32]);
    let kind = CodeId::new([0xC0; 32]);
    let p = patients[0];
    let version = |n: u8, supersedes| NewVersion {
        record,
        patient: p,
        commitment: commitment(n),
        locator: format!("L{n}").into_bytes(),
        kind,
        supersedes,
    };
    assert_eq!(commit_revision_1(s, version(1, None)), 1);
    let amends = Link { target: VersionRef { record, version: 1 }, how: Supersedence::Amends };
    assert_eq!(commit_revision_1(s, version(2, Some(amends))), 2);
    assert_eq!(commit_revision_1(s, version(3, None)), 3);
    assert_eq!(s.chain.call(h, s.rec().erase(record, 3, ErasureReason::EnteredInError)).value, Ok(()));
    let terms = |decision, scope| Terms {
        patient: p,
        grantee: Grantee { institution: 2, account: None },
        scope,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision,
        valid_from: NOW - DAY,
        valid_until: NOW + 30 * DAY,
    };
    let permit = s.chain.call(h, s.con().grant(terms(Decision::Permit, Scope::AllRecords))).value.expect("permit");
    let other = CodeId::new([0x21; 32]);
    s.chain.call(h, s.con().grant(terms(Decision::Deny, Scope::Categories(vec![other])))).value.expect("deny");
    let revoked = s.chain.call(h, s.con().grant(terms(Decision::Permit, Scope::Record(record)))).value.expect("permit");
    assert_eq!(s.chain.call(h, s.con().revoke(revoked)).value, Ok(()));
    // Revision 1's entries state no access time: its `append_batch` takes these.
    #[derive(scale::Encode)]
    struct NewEntryRevision1 {
        seq: u64,
        patient: PatientId,
        target: Target,
        purpose: Purpose,
        authorization: Authorization,
    }
    let target = Target::Version(VersionRef { record, version: 2 });
    let entry = |seq, authorization, purpose| NewEntryRevision1 { seq, patient: p, target, purpose, authorization };
    let mut leaves = Vec::new();
    for call in 0..3u64 {
        let batch = vec![
            entry(call * 2, Authorization::Consent(permit), Purpose::Treatment),
            entry(call * 2 + 1, Authorization::BreakGlass(BreakGlassReason::UrgentCare), Purpose::EmergencyTreatment),
        ];
        let input = [ink::selector_bytes!("append_batch").to_vec(), scale::Encode::encode(&batch)].concat();
        let (output, outcome) = s.chain.call_raw(lab, s.access_log, input).expect("dispatched");
        assert!(!outcome.reverted, "revision 1 appends: {output:?}");
        let signature = custodia_client::events::SIGNED_ACCESS_LOGGED;
        leaves.extend(
            outcome.events.iter().filter(|e| e.topics.first() == Some(&signature)).map(|e| e.data[8..].to_vec()),
        );
    }
    Filled { patients, record, permit, leaves }
}

/// Revision 1's `commit` and `supersede` took their fields as positional arguments (revision
/// 2's `commit` takes the `NewVersion`): called by selector with revision 1's encoding.
fn commit_revision_1(s: &mut Suite, version: NewVersion) -> VersionNo {
    let NewVersion { record, patient, commitment, locator, kind, supersedes } = version;
    let fields = scale::Encode::encode(&(record, patient, commitment, locator, kind));
    let input = match supersedes {
        None => [ink::selector_bytes!("commit").to_vec(), fields].concat(),
        Some(Link { target, how }) => {
            [ink::selector_bytes!("supersede").to_vec(), fields, scale::Encode::encode(&(target, how))].concat()
        }
    };
    let (output, outcome) = s.chain.call_raw(s.hospital, s.records, input).expect("dispatched");
    assert!(!outcome.reverted, "revision 1 commits: {output:?}");
    // `MessageResult<Result<VersionNo, Error>>`: two `Ok` bytes, then the number.
    let (dispatched, committed, number): (u8, u8, VersionNo) =
        scale::Decode::decode(&mut output.as_slice()).expect("a version number");
    assert_eq!((dispatched, committed), (0, 0));
    number
}

fn answers(s: &mut Suite, f: &Filled) -> Answers {
    let who = account(0x99);
    let check = AccessCheck {
        accessor: s.lab,
        patient: f.patients[0],
        target: Target::Version(VersionRef { record: f.record, version: 2 }),
        purpose: Purpose::Treatment,
        at: NOW,
        receipt: None,
    };
    let head = s.chain.query(who, s.log().head());
    Answers {
        patients: f.patients.iter().map(|p| s.chain.query(who, s.dir().patient(*p))).collect(),
        institution: s.chain.query(who, s.dir().institution(1)),
        record: s.chain.query(who, s.rec().record(f.record)),
        versions: s.chain.query(who, s.rec().versions(f.record, 1, 32)),
        verified: (1..=3u8)
            .map(|n| s.chain.query(who, s.rec().verify(f.record, u32::from(n), commitment(n))))
            .collect(),
        receipts: s
            .chain
            .query(
                who,
                s.con().receipts(ReceiptQuery { patient: f.patients[0], from: 0, limit: 32, active_only: false }),
            )
            .items,
        authorized: s.chain.query(who, s.con().is_authorized(check)),
        roots: (1..=head.size).map(|size| s.chain.query(who, s.log().root_at(size))).collect(),
        head,
        break_glass: s.chain.query(who, s.log().break_glass_count(2)),
    }
}

#[test]
fn a_revision_1_suite_upgrades_in_place_and_keeps_everything() {
    let mut s = deployed(revision_1);
    let filled = fill(&mut s);
    let before = answers(&mut s, &filled);
    assert_eq!(before.verified, vec![Verification::Match, Verification::Match, Verification::Erased]);
    assert_eq!(before.authorized, Ok(filled.permit));
    assert_eq!((before.head.size, before.break_glass), (6, 3));

    // Revision 1 has no upgrade entry point: the chain's governance (root) switches the code
    // once. The new code is uploaded by instantiating a copy of each beside the suite.
    let mut new_codes = Vec::new();
    for name in ["directory", "records", "consents", "access_log"] {
        let (admin, salt) = (s.admins[0], [b"upload-".as_slice(), name.as_bytes()].concat());
        let code = current(name);
        let (old, copy) = match name {
            "directory" => (
                s.directory,
                s.chain.deploy_code(name, code, admin, directory::DirectoryRef::new(vec![admin], 1), &salt),
            ),
            "records" => {
                (s.records, s.chain.deploy_code(name, code, admin, records::RecordsRef::new(s.directory), &salt))
            }
            "consents" => {
                let new = consents::ConsentsRef::new(s.directory, s.records);
                (s.consents, s.chain.deploy_code(name, code, admin, new, &salt))
            }
            _ => {
                let new = access_log::AccessLogRef::new(s.directory, s.consents);
                (s.access_log, s.chain.deploy_code(name, code, admin, new, &salt))
            }
        };
        let hash = s.code_hash(copy);
        assert_ne!(s.code_hash(old), hash, "{name}: the revision changed its code");
        s.chain.sandbox().set_code_as_root(old, hash.into()).expect("root switches the code");
        new_codes.push(hash);
    }

    let after = answers(&mut s, &filled);
    assert_eq!(after, before, "every record, receipt, entry and root reads the same");

    // The offer made under revision 1 recorded no maker: it has lapsed.
    let lapsed = s.dir().accept_control(filled.patients[0]);
    assert_eq!(s.chain.call_refused(account(0x52), lapsed), Err(directory::Error::NotOffered));
    // Revision 2's messages work on revision 1's state.
    let requested = s.chain.call(s.hospital, s.dir().request_recovery(filled.patients[1], None));
    assert_eq!(requested.value, Ok(()));
    assert_eq!(requested.events_of::<RecoveryRequested>()[0].patient, filled.patients[1]);
    assert_eq!(s.chain.call(s.key, s.dir().veto_recovery(filled.patients[1])).value, Ok(()));
    assert_eq!(s.chain.query(s.key, s.dir().controller_of(filled.patients[1])), Some(Controller::PatientHeld(s.key)));
    let next = NewEntry {
        seq: 6,
        patient: filled.patients[0],
        target: Target::Version(VersionRef { record: filled.record, version: 2 }),
        purpose: Purpose::Treatment,
        accessed_at: NOW,
        authorization: Authorization::Consent(filled.permit),
    };
    let outcome = s.chain.call(s.lab, s.log().append(next));
    let appended = outcome.value.expect("the log goes on");
    assert_eq!(appended.size, 7);
    assert_eq!(s.chain.query(s.lab, s.log().root_at(6)), Some(before.head.root), "the old root stays recorded");
    // Entries of both revisions are read from their leaves (revision 1's access time is its
    // block time), and the tree over both is the chain's.
    let logged = outcome.events_of::<AccessLogged>()[0].entry;
    assert_eq!((logged.accessed_at, logged.seq), (NOW, 6));
    let mut leaves = filled.leaves.clone();
    leaves.push(scale::Encode::encode(&logged));
    for leaf in &filled.leaves {
        let old = Entry::from_leaf(leaf).expect("a revision-1 entry reads");
        assert_eq!((old.patient, old.accessed_at), (filled.patients[0], old.at));
    }
    let tree = custodia_merkle::Tree::from_leaves::<custodia_merkle::Sha256>(
        leaves.iter().map(|leaf| custodia_merkle::leaf_hash::<custodia_merkle::Sha256>(leaf)),
    );
    assert_eq!(tree.root::<custodia_merkle::Sha256>(7), s.chain.query(s.lab, s.log().root_at(7)));
    let revision_1_records = {
        let copy = s.chain.deploy_code(
            "records",
            revision_1("records"),
            s.admins[0],
            records::RecordsRef::new(s.directory),
            b"r1",
        );
        s.code_hash(copy)
    };

    // From now on only the directory's M-of-N governance changes a registry's code.
    for who in [s.admins[0], s.hospital, account(0x99)] {
        let direct = call_builder::<records::Records>(s.records).set_code(revision_1_records);
        assert_eq!(s.chain.call_refused(who, direct), Err(GovernedError::NotDirectory), "{who:?}");
    }
    let propose = s.dir().propose(Action::SetCode { contract: s.records, code_hash: revision_1_records });
    assert_eq!(s.chain.call_refused(s.hospital, propose), Err(directory::Error::NotAdmin));
    assert_eq!(
        s.govern(Action::SetCode { contract: s.records, code_hash: Hash::from([0x0F; 32]) }),
        Err(directory::Error::CodeNotFound)
    );
    let [first, second, _] = s.admins;
    let id =
        s.chain.call(first, s.dir().propose(Action::SetCode { contract: s.records, code_hash: revision_1_records }));
    let id = id.value.expect("proposed");
    s.chain.call(second, s.dir().approve(id)).value.expect("approved");
    let executed = s.chain.call(second, s.dir().execute(id));
    assert_eq!(executed.value, Ok(()));
    assert_eq!(
        executed.events_of::<CodeChanged>()[0],
        CodeChanged { contract: s.records, code_hash: revision_1_records }
    );
    assert_eq!(s.code_hash(s.records), revision_1_records);
    assert_eq!(answers(&mut s, &filled).versions, before.versions, "the state outlives the code");
    // That code has no upgrade entry point: the directory says so, typed; the chain's root
    // brings it back.
    let back = new_codes[1];
    assert_eq!(s.govern(Action::SetCode { contract: s.records, code_hash: back }), Err(directory::Error::NotGoverned));
    s.chain.sandbox().set_code_as_root(s.records, back.into()).expect("root");
    // The directory changes its own code the same way.
    let own = s.code_hash(s.directory);
    assert_eq!(s.govern(Action::SetCode { contract: s.directory, code_hash: own }), Ok(()));
    assert!(s.chain.query(s.hospital, s.dir().is_member(s.hospital, Role::Custodian)));
}
