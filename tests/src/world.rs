//! The cast and the deployed suite that the integration tests and the figures share.

use access_log::AccessLog;
use consents::Consents;
use custodia_client::{deploy, Backend, Bundles, Governance, Signer};
use custodia_sandbox::{
    harness::{call_builder, Chain, Outcome},
    SandboxBackend, SandboxClock,
};
use custodia_types::{
    consents::{Decision, Grantee, Purpose, Purposes, Scope, Terms},
    directory::{Action, InstitutionKind, Role, Roles},
    records::NewVersion,
    CodeId, Commitment, InstitutionId, PatientId, RecordId,
};
use directory::Directory;
use ink::{codegen::ContractCallBuilder, primitives::AccountId};
use records::Records;

fn account(tag: u8) -> AccountId {
    AccountId::from([tag; 32])
}

/// Everyone who appears in the tests, by what they are.
#[derive(Clone, Copy, Debug)]
pub struct Cast {
    /// Directory admins; governance needs two of the three.
    pub admins: [AccountId; 3],
    /// Operator of hospital A (custodian and accessor).
    pub hospital_a: AccountId,
    /// A second account of hospital A, added by its operator.
    pub hospital_a_clerk: AccountId,
    /// Operator of hospital B (custodian).
    pub hospital_b: AccountId,
    /// Operator of the laboratory (accessor only).
    pub lab: AccountId,
    /// Operator of the audit body (auditor only).
    pub auditor: AccountId,
    /// The key patient B holds.
    pub patient_key: AccountId,
    /// An account nobody admitted.
    pub stranger: AccountId,
}

/// The key of the first admin, who deploys the suite (the other accounts only need to be
/// distinct: the in-process chain takes any origin).
fn deployer() -> Signer {
    Signer::from_uri("//Custodia//Tests//Admin").expect("a valid dev URI")
}

impl Default for Cast {
    fn default() -> Self {
        Self {
            admins: [deployer().account(), account(0xA2), account(0xA3)],
            hospital_a: account(0x11),
            hospital_a_clerk: account(0x12),
            hospital_b: account(0x21),
            lab: account(0x31),
            auditor: account(0x41),
            patient_key: account(0x51),
            stranger: account(0x99),
        }
    }
}

impl Cast {
    /// Every account, for funding.
    pub fn all(&self) -> Vec<AccountId> {
        let mut all = self.admins.to_vec();
        all.extend([
            self.hospital_a,
            self.hospital_a_clerk,
            self.hospital_b,
            self.lab,
            self.auditor,
            self.patient_key,
            self.stranger,
        ]);
        all
    }
}

/// Institution ids the directory gave the cast.
#[derive(Clone, Copy, Debug)]
pub struct Institutions {
    pub hospital_a: InstitutionId,
    pub hospital_b: InstitutionId,
    pub lab: InstitutionId,
    pub audit_body: InstitutionId,
}

/// The deployed suite (directory, records attached to it, consents, access log) with the cast
/// admitted and two patients registered by hospital A:
/// `custodial_patient` (hospital A controls) and `keyed_patient` (holds `patient_key`).
pub struct World {
    pub chain: Chain,
    pub cast: Cast,
    pub directory: AccountId,
    pub records: AccountId,
    pub consents: AccountId,
    pub access_log: AccountId,
    pub institutions: Institutions,
    pub custodial_patient: PatientId,
    pub keyed_patient: PatientId,
}

/// A 32-byte id whose bytes are all `tag` (tests only: real ids are digests).
pub fn id32(tag: u8) -> [u8; 32] {
    [tag; 32]
}

/// A record id for tests.
pub fn record_id(tag: u8) -> RecordId {
    RecordId::new(id32(tag))
}

/// A distinct commitment for tests: `n` spread over the bytes, never zero.
pub fn commitment(n: u32) -> Commitment {
    let mut bytes = [0x5a; 32];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    Commitment::new(bytes)
}

/// The kind code tests commit under.
pub fn kind() -> CodeId {
    CodeId::new(id32(0xC0))
}

/// A first version of record `record_id(tag)` of `patient`, committed as `commitment(tag)`
/// under [`kind`], superseding nothing.
pub fn opening(patient: PatientId, tag: u8) -> NewVersion {
    NewVersion {
        record: record_id(tag),
        patient,
        commitment: commitment(u32::from(tag)),
        locator: b"L".to_vec(),
        kind: kind(),
        supersedes: None,
    }
}

impl World {
    /// Deploys the suite as an institution would (the client's `deploy`, on the in-process
    /// chain), attaches records to the directory, admits the institutions through two-of-three
    /// governance, adds hospital A's clerk, and registers the two patients. The clock is then
    /// set to [`SandboxClock::deterministic`]'s genesis.
    pub fn new() -> Self {
        let cast = Cast::default();
        let backend = SandboxBackend::new(SandboxClock::deterministic());
        let governance = Governance { admins: cast.admins.to_vec(), threshold: 2 };
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        runtime
            .block_on(backend.fund(&deployer(), deployer().account(), custodia_sandbox::harness::FUNDS))
            .expect("fund the deployer");
        let deployment = runtime
            .block_on(deploy(&backend, &deployer(), &[], &governance, &Bundles::from_env(), b"tests", "embedded"))
            .unwrap_or_else(|e| panic!("deploy the suite: {e}"));
        let mut chain = Chain::from(backend.into_sandbox());
        chain.set_time(SandboxClock::deterministic().genesis_ms);
        for account in cast.all() {
            chain.fund(account);
        }
        let (directory, records, consents, access_log) = (
            deployment.directory.address,
            deployment.records.address,
            deployment.consents.address,
            deployment.access_log.address,
        );
        let mut world = Self {
            chain,
            cast,
            directory,
            records,
            consents,
            access_log,
            institutions: Institutions { hospital_a: 0, hospital_b: 0, lab: 0, audit_body: 0 },
            custodial_patient: PatientId::new(id32(0xE1)),
            keyed_patient: PatientId::new(id32(0xE2)),
        };
        let attach = deployment.attach_proposal.expect("attaching records needs a second approval");
        let second = world.cast.admins[1];
        world.chain.call(second, world.dir().approve(attach)).value.expect("approve attach");
        world.chain.call(second, world.dir().execute(attach)).value.expect("attach records");
        let custodian_accessor = Roles::of(&[Role::Custodian, Role::Accessor]);
        world.institutions = Institutions {
            hospital_a: world.admit(cast.hospital_a, InstitutionKind::Hospital, custodian_accessor),
            hospital_b: world.admit(cast.hospital_b, InstitutionKind::Hospital, Roles::of(&[Role::Custodian])),
            lab: world.admit(cast.lab, InstitutionKind::Laboratory, Roles::of(&[Role::Accessor])),
            audit_body: world.admit(cast.auditor, InstitutionKind::AuditBody, Roles::of(&[Role::Auditor])),
        };
        let invite = world.dir().invite_account(cast.hospital_a_clerk);
        world.chain.call(cast.hospital_a, invite).value.expect("invite the clerk");
        let join = world.dir().join_institution(world.institutions.hospital_a);
        world.chain.call(cast.hospital_a_clerk, join).value.expect("the clerk joins");
        for patient in [world.custodial_patient, world.keyed_patient] {
            let register = world.dir().register_patient(patient);
            world.chain.call(cast.hospital_a, register).value.expect("register patient");
        }
        let offer = world.dir().offer_control(world.keyed_patient, cast.patient_key);
        world.chain.call(cast.hospital_a, offer).value.expect("offer control");
        let accept = world.dir().accept_control(world.keyed_patient);
        world.chain.call(cast.patient_key, accept).value.expect("accept control");
        world
    }

    /// The directory's call builder.
    pub fn dir(&self) -> <Directory as ContractCallBuilder>::Type {
        call_builder::<Directory>(self.directory)
    }

    /// The records registry's call builder.
    pub fn rec(&self) -> <Records as ContractCallBuilder>::Type {
        call_builder::<Records>(self.records)
    }

    /// The consents registry's call builder.
    pub fn con(&self) -> <Consents as ContractCallBuilder>::Type {
        call_builder::<Consents>(self.consents)
    }

    /// The access log's call builder.
    pub fn log(&self) -> <AccessLog as ContractCallBuilder>::Type {
        call_builder::<AccessLog>(self.access_log)
    }

    /// Runs `action` through governance (admin 0 proposes, admin 1 approves and executes).
    pub fn govern(&mut self, action: Action) -> Result<(), directory::Error> {
        let [first, second, _] = self.cast.admins;
        let id = self.chain.call(first, self.dir().propose(action)).value?;
        self.chain.call(second, self.dir().approve(id)).value?;
        self.chain.call(second, self.dir().execute(id)).value
    }

    /// Runs an action governance accepts (admin 0 proposes, admin 1 approves) and returns
    /// the outcome of its execution, events included.
    pub fn governed(&mut self, action: Action) -> Outcome<Result<(), directory::Error>> {
        let [first, second, _] = self.cast.admins;
        let id = self.chain.call(first, self.dir().propose(action)).value.expect("the proposal is accepted");
        self.chain.call(second, self.dir().approve(id)).value.expect("the approval is accepted");
        self.chain.call(second, self.dir().execute(id))
    }

    /// Admits an institution through governance and returns its id.
    pub fn admit(&mut self, operator: AccountId, kind: InstitutionKind, roles: Roles) -> InstitutionId {
        self.govern(Action::Admit { operator, kind, roles }).expect("admission");
        use directory::DirectoryQueries;
        let query = self.dir().membership(operator);
        self.chain.query(operator, query).expect("admitted").institution
    }

    /// Terms letting the laboratory read all of `patient`'s records for treatment, for ever
    /// (`decision`: a permit or a deny).
    pub fn lab_terms(&self, patient: PatientId, decision: Decision) -> Terms {
        Terms {
            patient,
            grantee: Grantee { institution: self.institutions.lab, account: None },
            scope: Scope::AllRecords,
            purposes: Purposes::of(&[Purpose::Treatment]),
            decision,
            valid_from: 0,
            valid_until: u64::MAX,
        }
    }

    /// The patient's controller links hospital B to the patient's id (the patient presented it
    /// there), so that B keeps records under it too.
    pub fn link_hospital_b(&mut self, patient: PatientId) {
        let controller = if patient == self.keyed_patient { self.cast.patient_key } else { self.cast.hospital_a };
        let link = self.dir().link_institution(patient, self.institutions.hospital_b);
        self.chain.call(controller, link).value.expect("the controller links hospital B");
    }

    /// Hospital A commits version 1 of a record of the custodial patient and returns its id.
    pub fn committed_record(&mut self, tag: u8) -> RecordId {
        let record = record_id(tag);
        let commit = self.rec().commit(NewVersion {
            record,
            patient: self.custodial_patient,
            commitment: commitment(u32::from(tag)),
            locator: b"DocumentReference/example/_history/1".to_vec(),
            kind: kind(),
            supersedes: None,
        });
        assert_eq!(self.chain.call(self.cast.hospital_a, commit).value, Ok(1));
        record
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}
