//! `custodia demo`: the whole story on a fresh deployment, told as a timeline.
//!
//! Every step runs for real (on the embedded chain, or the node given with `--node`), and the
//! story checks what it claims: a step that should be refused and is not, or a verification
//! that comes out otherwise, ends the demo with an error.

use crate::backend::AnyBackend;
use crate::{
    context::Context,
    output::{describe, hex32, short, short_record, Out},
};
use custodia_client::{
    call::Submitted,
    deployment::{deploy, Bundles, Governance},
    events::SuiteEvent,
    keys::ss58,
    types::{
        access_log::{Authorization, BreakGlassReason, LogHead},
        consents::{Decision, Denial, Grantee, Purpose, Purposes, Scope, Target, Terms},
        directory::{Action, Controller, InstitutionKind, RecoveryPolicy, Role, Roles},
        records::{ErasureReason, Link, NewVersion, Supersedence, Verification, VersionRef},
        CodeId, InstitutionId, PatientId,
    },
    verify::{commitment, new_salt, opaque_locator, Pseudonyms},
    Backend, Client, Finality, NodeBackend, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::{
    explorer::{assets_dir, Explorer, Names, RootSource},
    index::Index,
    outbox::{Access, Drained, Outbox},
    Error, Result, Store,
};
use serde_json::{json, Value};
use std::{net::SocketAddr, process::ExitCode};

/// Two lab results, as an EHR would hold them off chain.
const V1: &[u8] = br#"{"resourceType":"Observation","id":"hb-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"valueQuantity":{"value":6.3,"unit":"mmol/L"}}"#;
const V2: &[u8] = br#"{"resourceType":"Observation","id":"hb-1","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"valueQuantity":{"value":6.1,"unit":"mmol/L"}}"#;

struct Story<'a, B> {
    out: Out,
    client: &'a Client<B>,
    steps: Vec<Value>,
}

/// A block time as the story prints it: the time of day, UTC.
fn clock(ms: u64) -> String {
    let secs = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A time days away from the story's: the date too, `YYYY-MM-DD hh:mm:ss` UTC.
fn date_and_clock(ms: u64) -> String {
    format!("{} {}", &custodia_fhir::mapping::time::format(ms)[..10], clock(ms))
}

impl<B: Backend> Story<'_, B> {
    async fn record(
        &mut self,
        who: &str,
        what: &str,
        block: Option<u32>,
        outcome: String,
        events: Vec<String>,
    ) -> Result<()> {
        let time = self.client.backend().now().await?;
        let n = self.steps.len() + 1;
        if !self.out.json {
            let at = block.map(|b| format!("#{b}")).unwrap_or_else(|| "-".into());
            crate::say!("{n:>2}. [{at:>5} {}] {who}: {what}", clock(time));
            crate::say!("      -> {outcome}");
            for event in &events {
                crate::say!("      event {event}");
            }
        }
        self.steps.push(json!({"step": n, "who": who, "what": what, "block": block, "time": time, "outcome": outcome, "events": events}));
        Ok(())
    }

    async fn done<T>(&mut self, who: &str, what: &str, submitted: &Submitted<T>, outcome: String) -> Result<()> {
        let events = submitted.events.iter().filter_map(SuiteEvent::decode).map(|e| describe(&e)).collect();
        self.record(who, what, Some(submitted.block), outcome, events).await
    }

    async fn refused<T>(
        &mut self,
        who: &str,
        what: &str,
        result: custodia_client::Result<Submitted<T>>,
    ) -> Result<custodia_client::Error> {
        match result {
            Ok(_) => Err(Error::Input(format!("demo: \"{what}\" should have been refused"))),
            Err(error @ custodia_client::Error::Contract(_)) => {
                self.record(who, what, None, format!("REFUSED, nothing written: {error}"), Vec::new()).await?;
                Ok(error)
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn drained(&mut self, who: &str, what: &str, drained: &Drained, outcome: String) -> Result<()> {
        let events = drained.events.iter().filter_map(SuiteEvent::decode).map(|e| describe(&e)).collect();
        self.record(who, what, drained.block, outcome, events).await
    }

    async fn note(&mut self, who: &str, what: &str, outcome: String) -> Result<()> {
        self.record(who, what, None, outcome, Vec::new()).await
    }
}

fn expect(condition: bool, what: &str) -> Result<()> {
    match condition {
        true => Ok(()),
        false => Err(Error::Input(format!("demo: expected {what}"))),
    }
}

pub async fn run(ctx: &Context, fhir_server: Option<&str>, explorer: Option<SocketAddr>) -> Result<ExitCode> {
    let backend = match &ctx.global.node {
        Some(url) => AnyBackend::Node(NodeBackend::connect(url, Finality::Finalized).await?),
        None => AnyBackend::Sandbox(Box::new(SandboxBackend::new(SandboxClock::wall()))),
    };
    let out = Out { json: ctx.global.json };
    if !out.json {
        match &ctx.global.node {
            Some(url) => crate::say!("Custodia demo on the node at {url}\n"),
            None => {
                crate::say!("Custodia demo on the embedded chain (the real pallet-contracts runtime, in process)\n")
            }
        }
    }
    let told = story(backend, out, &Bundles::from_env(), &ctx.endpoint(), fhir_server).await?;
    if let Some(listen) = explorer {
        // The story's chain lives in this process: serve its explorer from here.
        let store = Store::in_memory()?;
        store.bind(told.client.deployment())?;
        let roots = ctx.global.node.clone().map_or(RootSource::Server, RootSource::Node);
        let explorer = Explorer::new(&told.client, &store, told.names, roots).with_assets(&assets_dir());
        let links = [("the patient", told.patient), ("another patient", told.other_patient)];
        crate::commands::explorer::serve(&told.client, &explorer, listen, 2000, &links).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The cast: development keys, funded from Alice where the chain needs it.
struct Cast {
    admins: [Signer; 3],
    hospital_a: Signer,
    hospital_b: Signer,
    lab: Signer,
}

/// What the story leaves behind: its chain, its two patients, and the words for its
/// institutions and codes (for the explorer).
pub struct Told<B> {
    pub client: Client<B>,
    pub patient: PatientId,
    pub other_patient: PatientId,
    pub names: Names,
}

pub async fn story(
    backend: AnyBackend,
    out: Out,
    bundles: &Bundles,
    endpoint: &str,
    fhir_server: Option<&str>,
) -> Result<Told<AnyBackend>> {
    let cast = Cast {
        admins: [Signer::dev("alice")?, Signer::dev("bob")?, Signer::dev("charlie")?],
        hospital_a: Signer::from_uri("//Custodia//HospitalA")?,
        hospital_b: Signer::from_uri("//Custodia//HospitalB")?,
        lab: Signer::from_uri("//Custodia//Laboratory")?,
    };
    let faucet = &cast.admins[0];
    for signer in cast.admins.iter().chain([&cast.hospital_a, &cast.hospital_b, &cast.lab]) {
        backend.fund(faucet, signer.account(), 1_000_000_000_000_000).await?;
    }
    let admins = cast.admins.iter().map(Signer::account).collect();
    let deployment = deploy(
        &backend,
        faucet,
        &cast.admins[1..],
        &Governance { admins, threshold: 2 },
        bundles,
        &new_salt(),
        endpoint,
    )
    .await?;
    let client = Client::open(backend, deployment).await?;
    let store = Store::in_memory()?;
    store.bind(client.deployment())?;
    let mut s = Story { out, client: &client, steps: Vec::new() };
    let contracts = client
        .deployment()
        .contracts()
        .iter()
        .map(|(n, d)| format!("{n} {}", short(d.address.as_ref())))
        .collect::<Vec<_>>();
    s.note(
        "Alice (admin)",
        "deploys directory, records, consents and access log; admins Alice, Bob, Charlie, 2 of 3 approve",
        contracts.join(", "),
    )
    .await?;

    // Governance.
    let dir = client.directory();
    let attach =
        client.deployment().attach_proposal.ok_or_else(|| Error::Input("demo: expected an attach proposal".into()))?;
    let done = dir.approve(attach).submit(&cast.admins[1]).await?;
    s.done(
        "Bob (admin)",
        &format!("approves proposal #{attach}: attach the records registry to the directory"),
        &done,
        format!("{} approvals", done.value),
    )
    .await?;
    let done = dir.execute(attach).submit(&cast.admins[1]).await?;
    s.done(
        "Bob (admin)",
        &format!("executes proposal #{attach}"),
        &done,
        "records now caches memberships, and is told when they change".into(),
    )
    .await?;
    let both = Roles::of(&[Role::Custodian, Role::Accessor]);
    let mut admit =
        async |operator: &Signer, kind: InstitutionKind, roles: Roles, name: &str| -> Result<InstitutionId> {
            let action = Action::Admit { operator: operator.account(), kind, roles };
            let proposed = dir.propose(action).submit(&cast.admins[0]).await?;
            let id = proposed.value;
            s.done("Alice (admin)", &format!("proposes admitting {name}"), &proposed, format!("proposal #{id}"))
                .await?;
            dir.approve(id).submit(&cast.admins[2]).await?;
            let executed = dir.execute(id).submit(&cast.admins[2]).await?;
            let member = dir
                .membership(operator.account())
                .query()
                .await?
                .ok_or_else(|| Error::Input("demo: expected a membership".into()))?;
            s.done(
                "Charlie (admin)",
                &format!("approves and executes proposal #{id}"),
                &executed,
                format!("{name} is institution #{}", member.institution),
            )
            .await?;
            Ok(member.institution)
        };
    let hospital_a =
        admit(&cast.hospital_a, InstitutionKind::Hospital, both, "Hospital A (custodian, accessor)").await?;
    let hospital_b =
        admit(&cast.hospital_b, InstitutionKind::Hospital, both, "Hospital B (custodian, accessor)").await?;
    let lab = admit(&cast.lab, InstitutionKind::Laboratory, Roles::of(&[Role::Accessor]), "the laboratory (accessor)")
        .await?;

    // A patient, by pseudonym only.
    let pseudonyms = Pseudonyms::generate().for_custodian(hospital_a);
    let patient = pseudonyms.patient("MRN-0042");
    let done = dir.register_patient(patient).submit(&cast.hospital_a).await?;
    s.done(
        "Hospital A",
        "registers its patient MRN-0042 under a keyed pseudonym (no name, MRN or birth date goes on chain)",
        &done,
        format!("patient {}, controller: Hospital A (custodial)", short(patient.as_bytes())),
    )
    .await?;

    // Record versions.
    let records = client.records();
    let record = pseudonyms.record("Observation/hb-1");
    let kind = pseudonyms.code("http://loinc.org|718-7");
    let (salt1, salt2) = (new_salt(), new_salt());
    let done = records
        .commit(NewVersion {
            record,
            patient,
            commitment: commitment(&salt1, V1),
            locator: opaque_locator(record, "1"),
            kind,
            supersedes: None,
        })
        .submit(&cast.hospital_a)
        .await?;
    s.done(
        "Hospital A",
        "commits version 1 of a haemoglobin result: a salted SHA-256 commitment and an opaque locator",
        &done,
        format!("record {} v{}", short_record(&record), done.value),
    )
    .await?;
    let v1 = VersionRef { record, version: 1 };
    let done = records
        .commit(NewVersion {
            record,
            patient,
            commitment: commitment(&salt2, V2),
            locator: opaque_locator(record, "2"),
            kind,
            supersedes: Some(Link { target: v1, how: Supersedence::Amends }),
        })
        .submit(&cast.hospital_a)
        .await?;
    s.done(
        "Hospital A",
        "commits version 2, which amends version 1",
        &done,
        format!("v{} amends v1; v1 stays valid and linked", done.value),
    )
    .await?;
    let v2 = VersionRef { record, version: 2 };
    // Another patient, of another hospital: nothing about them may show on the first one's page.
    let other_patient = pseudonyms.patient("MRN-0077");
    dir.register_patient(other_patient).submit(&cast.hospital_b).await?;
    // (One secret for both hospitals keeps the story short; hospital B's ids are in its namespace.)
    let other_record = pseudonyms.clone().for_custodian(hospital_b).record("Observation/chol-7");
    let done = records
        .commit(NewVersion {
            record: other_record,
            patient: other_patient,
            commitment: commitment(&new_salt(), V1),
            locator: opaque_locator(other_record, "1"),
            kind,
            supersedes: None,
        })
        .submit(&cast.hospital_b)
        .await?;
    s.done(
        "Hospital B",
        "registers its own patient MRN-0077 and commits a result of theirs",
        &done,
        format!("patient {}, record {} v1", short(other_patient.as_bytes()), short_record(&other_record)),
    )
    .await?;
    let attempt = records
        .commit(NewVersion {
            record,
            patient,
            commitment: commitment(&new_salt(), V2),
            locator: b"x".to_vec(),
            kind,
            supersedes: None,
        })
        .submit(&cast.hospital_b)
        .await;
    s.refused("Hospital B", "tries to commit a version of Hospital A's record", attempt).await?;

    // Verification of copies.
    let original = records.verify_content(v1, &salt1, V1).await?;
    let tampered_copy = String::from_utf8_lossy(V1).replace("6.3", "9.3");
    let tampered = records.verify_content(v1, &salt1, tampered_copy.as_bytes()).await?;
    expect(
        original == Verification::Match && tampered == Verification::Mismatch,
        "Match for the original, Mismatch for the tampered copy",
    )?;
    s.note(
        "Auditor",
        "checks two copies of v1 against the chain: the original, and one where 6.3 became 9.3",
        format!("original: {original:?}; tampered copy: {tampered:?} (caught)"),
    )
    .await?;

    // Consent granted, used, refused, revoked.
    let consents = client.consents();
    let now = client.backend().now().await?;
    let terms = Terms {
        patient,
        grantee: Grantee { institution: lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now,
        valid_until: now + 30 * 86_400_000,
    };
    let done = consents.grant(terms).submit(&cast.hospital_a).await?;
    let receipt = done.value;
    s.done(
        "Hospital A (for the patient)",
        "grants the laboratory access to all the patient's records, for treatment, 30 days",
        &done,
        format!("receipt #{receipt}"),
    )
    .await?;

    let log = client.access_log();
    let outbox = Outbox::new(&client, &store);
    let index = Index::new(&client, &store);
    // Each access happens at the chain's time of the moment it is logged.
    let access = |purpose, authorization, accessed_at| Access {
        patient,
        target: Target::Version(v2),
        purpose,
        accessed_at,
        authorization,
    };
    let drained = outbox
        .record(
            &cast.lab,
            &[access(Purpose::Treatment, Authorization::Consent(receipt), client.backend().now().await?)],
        )
        .await?;
    let leaf = drained.first_index.map(|i| i.to_string()).unwrap_or_default();
    s.drained(
        "Laboratory",
        &format!("reads v2 for treatment and logs it citing receipt #{receipt} (outbox, then chain)"),
        &drained,
        format!("logged as leaf {leaf}; the consent was checked on chain"),
    )
    .await?;
    let attempt = outbox
        .record(&cast.lab, &[access(Purpose::Research, Authorization::Consent(receipt), client.backend().now().await?)])
        .await;
    let error = attempt.err().ok_or_else(|| Error::Input("demo: research access should be refused".into()))?;
    expect(outbox.pending(cast.lab.account())?.is_empty(), "nothing queued for a refused access")?;
    s.note(
        "Laboratory",
        "tries to log a research access under the treatment receipt",
        format!("REFUSED, nothing queued: {error}"),
    )
    .await?;

    let done = consents.revoke(receipt).submit(&cast.hospital_a).await?;
    s.done(
        "Hospital A (for the patient)",
        &format!("revokes receipt #{receipt}"),
        &done,
        "in force no longer, from this block on".into(),
    )
    .await?;
    let attempt = outbox
        .record(
            &cast.lab,
            &[access(Purpose::Treatment, Authorization::Consent(receipt), client.backend().now().await?)],
        )
        .await;
    let error =
        attempt.err().ok_or_else(|| Error::Input("demo: access under a revoked receipt should be refused".into()))?;
    expect(
        matches!(error.contract(), Some(custodia_client::ContractError::AccessLogBatch(b)) if b.error == access_log::Error::NotAuthorized(Denial::Revoked(receipt))),
        "a Revoked denial",
    )?;
    s.note("Laboratory", "tries to log another access under the revoked receipt", format!("REFUSED: {error}")).await?;

    // Break-glass.
    let drained = outbox
        .record(
            &cast.hospital_b,
            &[access(
                Purpose::EmergencyTreatment,
                Authorization::BreakGlass(BreakGlassReason::LifeThreatening),
                client.backend().now().await?,
            )],
        )
        .await?;
    let glass_index = drained.first_index.ok_or_else(|| Error::Input("demo: expected a leaf".into()))?;
    let count = log.break_glass_count(hospital_b).query().await?;
    s.drained(
        "Hospital B",
        "breaks the glass: the unconscious patient arrives in its emergency room, no consent on file",
        &drained,
        format!("accepted, flagged and announced as leaf {glass_index}; Hospital B's break-glass count is {count}"),
    )
    .await?;

    // Erasure.
    let done = records.erase(record, 1, ErasureReason::PatientRequest).submit(&cast.hospital_a).await?;
    let after = records.verify_content(v1, &salt1, V1).await?;
    expect(after == Verification::Erased, "v1 to verify as Erased")?;
    s.done(
        "Hospital A",
        "erases v1 at the patient's request",
        &done,
        format!("v1 now verifies as {after:?}: an evident gap with a tombstone, not a silent hole"),
    )
    .await?;
    let history = records.history(record).await?;
    let lines: Vec<String> = history.iter().map(|(n, v, l)| crate::output::version_text(*n, v, l.as_ref())).collect();
    s.note("Patient (through a viewer)", "reads the record's history", lines.join(" | ")).await?;

    // Inclusion proof.
    let proof = index.prove(glass_index).await?;
    let verified = index.verify(&proof).await?;
    let mut forged = proof.clone();
    forged.entry.purpose = Purpose::Treatment;
    let forged_ok = index.verify(&forged).await?;
    expect(verified && !forged_ok, "the proof to verify and the altered entry to fail")?;
    s.note(
        "Auditor",
        &format!("rebuilds the log from events and checks entry {glass_index}'s inclusion proof against the root on chain"),
        format!("proof of {} hash(es) over {} entries verifies: {verified}; the same entry with its purpose altered: {forged_ok}", proof.path.len(), proof.size),
    )
    .await?;

    let glucose = patient_control_chapter(&mut s, &cast, hospital_b, patient, &pseudonyms).await?;

    match fhir_server {
        Some(url) => fhir_server_chapter(&mut s, &store, url, &cast.hospital_a, &cast.lab).await?,
        None => {
            s.note(
                "(FHIR server)",
                "the chapter where a clinician's system writes to a FHIR server is skipped",
                "no --fhir-server given (scripts/demo.sh starts Helios HFS when it is installed)".into(),
            )
            .await?
        }
    }

    let LogHead { size, root } = log.head().query().await?;
    let names = Names {
        institutions: [(hospital_a, "Hospital A"), (hospital_b, "Hospital B"), (lab, "the laboratory")]
            .into_iter()
            .map(|(id, name)| (id, name.to_string()))
            .collect(),
        codes: [(kind, "a haemoglobin blood test (LOINC 718-7)"), (glucose, "a glucose test (LOINC 2345-7)")]
            .into_iter()
            .map(|(code, name)| (format!("0x{}", hex::encode(code.as_bytes())), name.to_string()))
            .collect(),
    };
    if s.out.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "deployment": client.deployment(),
                "log": {"size": size, "root": hex32(&root)},
                "patient": hex32(patient.as_bytes()),
                "timeline": s.steps,
            }))
            .expect("JSON values serialise")
        );
    } else {
        crate::say!(
            "\nDone: {} steps; the access log holds {size} entries under root {}.",
            s.steps.len(),
            short(&root)
        );
        crate::say!("Directory {}.", ss58(&client.deployment().directory.address));
    }
    Ok(Told { client, patient, other_patient, names })
}

/// The patient takes her own key, names guardians, presents her id at Hospital B (whose
/// records join her history), vetoes her custodian's attempt to take control back, and, her
/// key lost, her guardians request control for her new key: due after the network's delay.
/// On the embedded chain the story lets the seven days pass and the recovery completes; a
/// node's clock is the world's, so there the story ends with the due time. Returns the kind
/// code of Hospital B's record.
async fn patient_control_chapter(
    s: &mut Story<'_, AnyBackend>,
    cast: &Cast,
    hospital_b: InstitutionId,
    patient: PatientId,
    pseudonyms: &Pseudonyms,
) -> Result<CodeId> {
    let client = s.client;
    let dir = client.directory();
    let key = Signer::from_uri("//Custodia//Patient")?;
    let new_key = Signer::from_uri("//Custodia//Patient//NewKey")?;
    let guardians = [Signer::from_uri("//Custodia//Guardian1")?, Signer::from_uri("//Custodia//Guardian2")?];
    for signer in [&key, &guardians[0], &guardians[1]] {
        client.backend().fund(&cast.admins[0], signer.account(), 1_000_000_000_000_000).await?;
    }
    dir.offer_control(patient, key.account()).submit(&cast.hospital_a).await?;
    let done = dir.accept_control(patient).submit(&key).await?;
    s.done(
        "Patient",
        "takes her own key: Hospital A offered control, her key accepts",
        &done,
        format!("controller: her key {}; Hospital A stays her custodian (the fallback)", short(key.account().as_ref())),
    )
    .await?;
    let policy =
        RecoveryPolicy { custodial: true, guardians: guardians.iter().map(Signer::account).collect(), threshold: 2 };
    let done = dir.set_recovery_policy(patient, policy).submit(&key).await?;
    s.done(
        "Patient",
        "names two guardians (her sister, her GP), both needed to recover her identity",
        &done,
        "2 of 2".into(),
    )
    .await?;

    // Unconscious in Hospital B's emergency department, she could not give her id.
    let hospital_b_server = pseudonyms.for_source("https://hospital-b.example/fhir").for_custodian(hospital_b);
    let kind = pseudonyms.code("http://loinc.org|2345-7");
    let emergency = hospital_b_server.patient("Patient/er-unidentified-17");
    dir.register_patient(emergency).submit(&cast.hospital_b).await?;
    let er_record = hospital_b_server.record("Observation/er-glucose-1");
    let done = client
        .records()
        .commit(NewVersion {
            record: er_record,
            patient: emergency,
            commitment: commitment(&new_salt(), V1),
            locator: opaque_locator(er_record, "1"),
            kind,
            supersedes: None,
        })
        .submit(&cast.hospital_b)
        .await?;
    s.done(
        "Hospital B",
        "earlier, she was brought in unconscious and could not give her id: Hospital B registered her under an emergency id and measured her glucose",
        &done,
        format!("emergency id {}, its custodian Hospital B", short(emergency.as_bytes())),
    )
    .await?;

    // One identity across institutions.
    let done = dir.link_institution(patient, hospital_b).submit(&key).await?;
    s.done(
        "Patient",
        "presents her id at Hospital B; her key links Hospital B to it",
        &done,
        "announced; consents she gave before do not cover Hospital B's records".into(),
    )
    .await?;
    let record = hospital_b_server.record("Observation/glucose-3");
    let done = client
        .records()
        .commit(NewVersion {
            record,
            patient,
            commitment: commitment(&new_salt(), V1),
            locator: opaque_locator(record, "1"),
            kind,
            supersedes: None,
        })
        .submit(&cast.hospital_b)
        .await?;
    let keepers = dir.keepers(patient).query().await?;
    expect(keepers.contains(&hospital_b), "Hospital B among the patient's keepers")?;
    s.done(
        "Hospital B",
        "commits a result of hers under the id she presented: her history is one",
        &done,
        format!("record {} v1; her records are kept by institutions {keepers:?}", short_record(&record)),
    )
    .await?;
    dir.offer_alias(emergency, patient).submit(&cast.hospital_b).await?;
    let done = dir.accept_alias(emergency).submit(&key).await?;
    s.done(
        "Patient",
        "joins the emergency id to her own: Hospital B offered it as an alias, her key accepts",
        &done,
        "announced on both ids, undone by either side at will; her consents do not extend to it".into(),
    )
    .await?;

    // A custodian cannot take control back on its own.
    let done = dir.request_recovery(patient, None).submit(&cast.hospital_a).await?;
    s.done(
        "Hospital A",
        "requests control of her identity back (a recovery)",
        &done,
        "announced at once; due only after 7 days, and her key can stop it".into(),
    )
    .await?;
    let done = dir.veto_recovery(patient).submit(&key).await?;
    expect(dir.recovery(patient).query().await?.is_none(), "no recovery pending after the veto")?;
    s.done("Patient", "vetoes it with her key", &done, "ended; she keeps control".into()).await?;

    // Her key lost: her guardians step in, under the same delay and veto.
    dir.request_recovery(patient, Some(new_key.account())).submit(&guardians[0]).await?;
    let done = dir.approve_recovery(patient).submit(&guardians[1]).await?;
    let pending = dir.recovery(patient).query().await?;
    let due = pending.and_then(|r| r.executable_at).ok_or_else(|| Error::Input("demo: expected a due time".into()))?;
    s.done(
        "Guardians",
        "her key is lost: one guardian requests control for her new key, the other approves",
        &done,
        format!("2 of 2; due at {} UTC (7 days), unless her old key vetoes it first", date_and_clock(due)),
    )
    .await?;
    let delay = dir.recovery_params().query().await?.delay_ms;
    let Some(passed) = client.backend().let_time_pass(delay) else { return Ok(kind) };
    passed?;
    let done = dir.complete_recovery(patient).submit(&new_key).await?;
    let controller = dir.patient(patient).query().await?.map(|p| p.controller);
    expect(
        controller == Some(Controller::PatientHeld(new_key.account())),
        "her new key in control after the recovery",
    )?;
    s.done(
        "Patient",
        "seven days later (the embedded chain lets them pass), unvetoed, her new key completes the recovery",
        &done,
        format!(
            "at {} UTC; controller: her new key {}; her consents stay hers",
            date_and_clock(client.backend().now().await?),
            short(new_key.account().as_ref())
        ),
    )
    .await?;
    Ok(kind)
}

/// A clinician's system writes to the hospital's FHIR server; the hospital's sync follower
/// commits every version the server stores; an administrator rewrites the server's history
/// behind the ledger, and verification against the chain catches it.
async fn fhir_server_chapter<B: Backend>(
    s: &mut Story<'_, B>,
    store: &Store,
    url: &str,
    hospital: &Signer,
    lab: &Signer,
) -> Result<()> {
    use custodia_services::{
        fhir_server::{FhirServer, Retry},
        server_verify::{verify, Scope},
        sync::{FollowOptions, Follower},
    };
    let server = FhirServer::new(url, Retry::default());
    let custodian = s.client.directory().membership(hospital.account()).query().await?;
    let custodian = custodian.ok_or_else(|| Error::Input("demo: expected the hospital's membership".into()))?;
    let pseudonyms = Pseudonyms::generate().for_custodian(custodian.institution);
    let follower = Follower::new(s.client, store, &pseudonyms, &server, FollowOptions::default());
    let write = |resource: serde_json::Value| -> Result<()> {
        let status = server.put(&resource)?;
        expect(status == 200 || status == 201, "the FHIR server to store the write")
    };
    let patient = json!({"resourceType": "Patient", "id": "demo-ana", "name": [{"family": "Demo", "given": ["Ana"]}],
                         "birthDate": "1980-04-02", "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "DEMO-042"}]});
    let observation = |value: f64| {
        json!({"resourceType": "Observation", "id": "demo-hb", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
        "subject": {"reference": "Patient/demo-ana"},
        "valueQuantity": {"value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}})
    };
    write(patient)?;
    write(observation(13.2))?;
    let first = follower.run_once(hospital, &mut |_| {}).await?;
    expect(first.committed == 2 && first.registered == 1, "the follower to commit the two versions the server stored")?;
    s.note(
        "Hospital A's clinician system, then its sync follower",
        &format!("writes a Patient and a haemoglobin result to the FHIR server ({url}); `custodia sync` follows its history"),
        format!("{} versions committed in {} transaction(s), the patient registered under a pseudonym; no name, identifier or birth date on chain", first.committed, first.transactions),
    )
    .await?;
    write(observation(12.7))?;
    let second = follower.run_once(hospital, &mut |_| {}).await?;
    expect(second.committed == 1, "the follower to commit the corrected result")?;
    let third = follower.run_once(hospital, &mut |_| {}).await?;
    expect(third.committed == 0, "a further run to commit nothing")?;
    s.note(
        "Hospital A's clinician system, then its sync follower",
        "corrects the result (version 2 on the server); the follower runs again",
        "1 version committed, linked to the one it replaces; running again commits nothing".into(),
    )
    .await?;
    gateway_chapter(s, store, &follower, hospital, lab).await?;
    let history = Scope { history: true, patient: None };
    let clean = verify(&follower, &history).await?;
    expect(clean.clean(), "every served version to match the chain")?;
    let status = server.delete("Observation/demo-hb/_history/1")?;
    expect(status == 200 || status == 204, "the server to delete a history entry")?;
    let caught = verify(&follower, &history).await?;
    let gaps: Vec<_> = caught.verdicts.iter().filter(|v| v.verification == "Gap").collect();
    expect(gaps.len() == 1 && gaps[0].version == "1", "the removed version to be caught as a gap")?;
    s.note(
        "Auditor",
        "`custodia fhir verify --server --history` before and after an administrator deletes the first result from the server's history",
        format!(
            "before: {} versions, all Match; after: the chain holds a version the server no longer has (Gap: {} version {})",
            clean.verdicts.len(),
            gaps[0].resource,
            gaps[0].version
        ),
    )
    .await
}

/// The laboratory's system reads the result through Hospital A's gateway: served under
/// consent, refused after the revocation, served again by breaking the glass; the patient's
/// timeline (the access log's entries about them, and the revocation between) shows all three.
async fn gateway_chapter<B: Backend>(
    s: &mut Story<'_, B>,
    store: &Store,
    follower: &custodia_services::sync::Follower<'_, B>,
    hospital: &Signer,
    lab: &Signer,
) -> Result<()> {
    use custodia_services::{
        gateway::{
            caller::{Caller, ClientKey},
            config::{Config, RegisteredClient},
            Gateway,
        },
        index::Index,
    };
    let client = s.client;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Input(format!("demo: no local port for the gateway: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::Input(format!("demo: {e}")))?;
    let key = ClientKey::generate("lab-system-1");
    let registered = RegisteredClient {
        client_id: "lab-system".into(),
        jwks: key.jwks(),
        account: lab.account(),
        scopes: vec!["system/*.read".into()],
        purposes: vec![Purpose::Treatment, Purpose::EmergencyTreatment],
    };
    let config = Config {
        listen: address,
        public_url: format!("http://{address}"),
        upstream: follower.server().base().to_string(),
        state: Default::default(),
        node: None,
        custodian: hospital.clone(),
        clients: vec![(registered, lab.clone())],
        token_lifetime: 300,
        max_body: 1 << 20,
        upstream_timeout_ms: 10_000,
        flush_interval_ms: 100,
        sync_interval_ms: 200,
        tls: None,
        quiet: true,
    };
    let gateway = Gateway::new(&config, client, store, follower)?;
    let patient = follower.patient("Patient/demo-ana");
    let institution = client
        .directory()
        .membership(lab.account())
        .query()
        .await?
        .ok_or_else(|| Error::Input("demo: the laboratory is a member".into()))?
        .institution;
    let caller = Caller::new(&config.public_url, "lab-system", key);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The laboratory's system: a token for `purpose`, then the result read with `headers`
    // (off this thread, where the gateway runs); the token endpoint's refusal if it gives none.
    let read_result = |purpose: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let caller = caller.clone();
        async move {
            let read = move || match caller.token("system/*.read", purpose) {
                Ok(token) => caller.get(&token, "Observation/demo-hb", headers),
                Err(refused) => refused,
            };
            tokio::task::spawn_blocking(read).await.map_err(|e| Error::Input(format!("demo: {e}")))
        }
    };
    let chapter = async {
        let at = client.backend().now().await?;
        let terms = Terms {
            patient,
            grantee: Grantee { institution, account: None },
            scope: Scope::AllRecords,
            purposes: Purposes::of(&[Purpose::Treatment]),
            decision: Decision::Permit,
            valid_from: at,
            valid_until: at + 30 * 86_400_000,
        };
        let granted = client.consents().grant(terms).submit(hospital).await?;
        let receipt = granted.value;
        s.done(
            "Hospital A (for the patient)",
            "grants the laboratory treatment access to the patient's records",
            &granted,
            format!("receipt #{receipt}"),
        )
        .await?;

        let read = read_result("TREAT", &[]).await?;
        expect(read.status == 200, "the gateway to serve the read under consent")?;
        s.note(
            "Laboratory system, through Hospital A's gateway",
            "asks for a SMART token (ES384 assertion, purpose TREAT) and reads the patient's haemoglobin result",
            format!(
                "200: served, verified against its commitment, logged under {} before the answer left",
                read.header("x-custodia-authorization").unwrap_or_default()
            ),
        )
        .await?;

        let revoked = client.consents().revoke(receipt).submit(hospital).await?;
        s.done("Hospital A (for the patient)", &format!("revokes receipt #{receipt}"), &revoked, "revoked".into())
            .await?;
        let refused = read_result("TREAT", &[]).await?;
        expect(refused.status == 403, "the gateway to refuse the read after the revocation")?;
        s.note(
            "Laboratory system, through the gateway",
            "reads the result again",
            format!("403, nothing forwarded: {}", refused.diagnostics()),
        )
        .await?;

        let glass = read_result("ETREAT", &[("X-Break-Glass-Reason", "life-threatening")]).await?;
        expect(glass.status == 200, "the gateway to serve a break-glass read")?;
        s.note(
            "Laboratory system, through the gateway",
            "in an emergency, asks for an ETREAT token and breaks the glass (life-threatening)",
            "200: served without a receipt, logged as break-glass and announced to the patient".into(),
        )
        .await?;

        // The patient's timeline: the log's entries about them, with the revocation between.
        let outbox = Outbox::new(client, store);
        for _ in 0..100 {
            if outbox.pending(lab.account())?.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let index = Index::new(client, store);
        let size = index.sync().await?;
        let about: Vec<_> = index.entries(0, size)?.into_iter().filter(|(_, e)| e.patient == patient).collect();
        let revocation =
            client.consents().receipt(receipt).query().await?.and_then(|r| r.revoked).map(|r| r.revoked_at);
        // By time; at the same time, the revocation first (an access stated at a block's time
        // was decided on the state that block left).
        let mut lines: Vec<(u64, u8, String)> = about
            .iter()
            .map(|(_, e)| {
                let why = match e.authorization {
                    Authorization::Consent(r) => format!("read by the laboratory for treatment under receipt #{r}"),
                    Authorization::BreakGlass(_) => {
                        "BREAK-GLASS read by the laboratory: life-threatening emergency".into()
                    }
                };
                (e.accessed_at, 1, format!("{} {why}", clock(e.accessed_at)))
            })
            .collect();
        if let Some(at) = revocation {
            lines.push((at, 0, format!("{} consent #{receipt} revoked", clock(at))));
        }
        lines.sort();
        expect(lines.len() == 3, "the patient's timeline to show the read, the revocation and the break-glass read")?;
        s.note(
            "Patient (through a viewer)",
            "looks at who read their records and why",
            lines.into_iter().map(|(_, _, l)| l).collect::<Vec<_>>().join(" | "),
        )
        .await?;
        let _ = stop.send(());
        Ok::<(), Error>(())
    };
    let (served, told) = tokio::join!(gateway.serve(listener, async { stopped.await.unwrap_or(()) }), chapter);
    served?;
    told
}
