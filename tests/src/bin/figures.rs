//! Measures the figures the README reports: Wasm size of each contract, and gas (ref_time,
//! proof_size) and storage deposit of the registry's messages, in the in-process
//! pallet-contracts runtime. Deterministic: the same bundles give the same numbers.
//!
//! Run with `scripts/figures.sh` (builds the bundles first).

use custodia_sandbox::harness::Outcome;
use custodia_tests::world::{commitment, kind, record_id, World};
use custodia_types::{
    records::{ErasureReason, NewVersion, Supersedence, VersionRef, MAX_BATCH},
    RecordId,
};

const CONTRACTS: [&str; 4] = ["directory", "records", "consents", "access_log"];
/// Maximum normal-dispatch ref_time of a block on substrate-contracts-node: 2 s of weight, 75%.
const NORMAL_BLOCK_REF_TIME: u64 = 1_500_000_000_000;
const LOCATOR: &[u8] = b"Observation/8f4c2a0e-1b7d-4c55-9a8e-2f6d5c3b1a90/_history/1";
const BASELINE_REF_TIME: f64 = 7.6e8;

fn row<R>(name: &str, outcome: &Outcome<R>) {
    let ref_time = outcome.gas_consumed.ref_time;
    println!(
        "| {name} | {} | {} | {} | {:.2}x |",
        group(ref_time),
        group(outcome.gas_consumed.proof_size),
        outcome.storage_deposit,
        ref_time as f64 / BASELINE_REF_TIME,
    );
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    println!("## Wasm size (release bundles in {})\n", custodia_client::Bundles::from_env().dir().display());
    println!("| contract | bytes |\n|---|---|");
    for name in CONTRACTS {
        let size =
            std::fs::metadata(custodia_client::Bundles::from_env().dir().join(format!("{name}.wasm"))).map(|m| m.len());
        println!("| {name} | {} |", size.map(group).unwrap_or_else(|e| e.to_string()));
    }

    let mut w = World::new();
    let a = w.cast.hospital_a;
    let p = w.custodial_patient;
    let record = record_id(0x80);

    println!("\n## Records registry: gas and storage deposit per call\n");
    println!("Baseline for scale: one `Mapping` get + insert + one event = {BASELINE_REF_TIME:.1e} ref_time.\n");
    println!("| call | ref_time | proof_size | storage deposit | vs baseline |\n|---|---|---|---|---|");

    let open = w.chain.call(a, w.rec().commit(record, p, commitment(1), LOCATOR.to_vec(), kind()));
    assert_eq!(open.value, Ok(1));
    row("commit, first ever by this account and patient (directory asked, cache filled)", &open);

    let warm_open = w.chain.call(a, w.rec().commit(record_id(0x82), p, commitment(7), LOCATOR.to_vec(), kind()));
    assert_eq!(warm_open.value, Ok(1));
    row("commit, version 1 of another record (cache warm)", &warm_open);

    let next = w.chain.call(a, w.rec().commit(record, p, commitment(2), LOCATOR.to_vec(), kind()));
    assert_eq!(next.value, Ok(2));
    row("commit, later version", &next);

    let target = VersionRef { record, version: 2 };
    let supersede = w.rec().supersede(record, p, commitment(3), LOCATOR.to_vec(), kind(), target, Supersedence::Amends);
    let superseded = w.chain.call(a, supersede);
    assert_eq!(superseded.value, Ok(3));
    row("supersede (amends v2)", &superseded);

    let erase = w.chain.call(a, w.rec().erase(record, 1, ErasureReason::PatientRequest));
    assert_eq!(erase.value, Ok(()));
    row("erase (custodian)", &erase);

    let erase_by_key = {
        let keyed = record_id(0x81);
        let commit = w.rec().commit(keyed, w.keyed_patient, commitment(9), LOCATOR.to_vec(), kind());
        assert_eq!(w.chain.call(a, commit).value, Ok(1));
        w.chain.call(w.cast.patient_key, w.rec().erase(keyed, 1, ErasureReason::PatientRequest))
    };
    assert_eq!(erase_by_key.value, Ok(()));
    row("erase (patient's key)", &erase_by_key);

    let verify = w.chain.call(a, w.rec().verify(record, 2, commitment(2)));
    row("verify (query)", &verify);
    let per_byte = 33_471u64
        * std::fs::metadata(custodia_client::Bundles::from_env().dir().join("records.wasm"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("\nOf every records call, loading its Wasm costs about {} ref_time (33,471 per byte in this runtime's weights).", group(per_byte));

    println!("\n## Batch commit: cost per version\n");
    println!("Versions of distinct new records of one known patient, committed in one `commit_batch` call.\n");
    println!("| batch size | ref_time per call | ref_time per version | proof_size per version | deposit per version |\n|---|---|---|---|---|");
    let mut next_commitment = 10_000u32;
    let mut next_record = 0u32;
    for size in [1u32, 8, 32, MAX_BATCH] {
        let batch: Vec<NewVersion> = (0..size)
            .map(|_| {
                next_commitment += 1;
                next_record += 1;
                let mut record = [0xB0; 32];
                record[..4].copy_from_slice(&next_record.to_le_bytes());
                NewVersion {
                    record: RecordId::new(record),
                    patient: p,
                    commitment: commitment(next_commitment),
                    locator: LOCATOR.to_vec(),
                    kind: kind(),
                    supersedes: None,
                }
            })
            .collect();
        let outcome = w.chain.call(a, w.rec().commit_batch(batch));
        assert_eq!(outcome.value.as_ref().map(Vec::len), Ok(size as usize));
        let per = |total: u64| group(total / u64::from(size));
        println!(
            "| {size} | {} | {} | {} | {} |",
            group(outcome.gas_consumed.ref_time),
            per(outcome.gas_consumed.ref_time),
            per(outcome.gas_consumed.proof_size),
            outcome.storage_deposit / i128::from(size),
        );
    }

    println!("\n## Directory: gas and storage deposit per call\n");
    println!("| call | ref_time | proof_size | storage deposit | vs baseline |\n|---|---|---|---|---|");
    let patient = custodia_types::PatientId::new([0xEA; 32]);
    let register = w.chain.call(a, w.dir().register_patient(patient));
    assert_eq!(register.value, Ok(()));
    row("register_patient", &register);
    use directory::DirectoryQueries;
    let member = w.chain.call(a, w.dir().membership(a));
    row("membership (query)", &member);

    consents_and_log(&mut w, record);
}

fn consents_and_log(w: &mut World, record: RecordId) {
    use custodia_types::{
        access_log::{Authorization, BreakGlassReason, NewEntry},
        consents::{AccessCheck, ConsentQueries, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
    };
    let (a, lab, p) = (w.cast.hospital_a, w.cast.lab, w.custodial_patient);
    let now = 1_700_000_000_000u64;
    println!("\n## Consents: gas and storage deposit per call\n");
    println!("| call | ref_time | proof_size | storage deposit | vs baseline |\n|---|---|---|---|---|");
    let terms = Terms {
        patient: p,
        grantee: Grantee { institution: w.institutions.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now - 1,
        valid_until: now + 86_400_000,
    };
    let granted = w.chain.call(a, w.con().grant(terms.clone()));
    let receipt = granted.value.expect("grant");
    row("grant (custodial controller)", &granted);
    let target = Target::Version(VersionRef { record, version: 2 });
    let check =
        AccessCheck { accessor: lab, patient: p, target, purpose: Purpose::Treatment, at: now, receipt: Some(receipt) };
    let authorized = w.chain.call(lab, w.con().is_authorized(check));
    assert_eq!(authorized.value, Ok(receipt));
    row("is_authorized (cited receipt; query)", &authorized);
    let searched = w.chain.call(lab, w.con().is_authorized(AccessCheck { receipt: None, ..check }));
    assert_eq!(searched.value, Ok(receipt));
    row("is_authorized (search; query)", &searched);
    let spare = w.chain.call(a, w.con().grant(terms)).value.expect("grant");
    let revoked = w.chain.call(a, w.con().revoke(spare));
    assert_eq!(revoked.value, Ok(()));
    row("revoke (by the granter)", &revoked);

    println!("\n## Access log: cost per entry\n");
    println!("Entries by the laboratory about one patient's version: cited receipt (checked on chain through the consents registry) or break-glass.\n");
    println!("| entries | authorisation | ref_time per call | ref_time per entry | proof_size per entry | deposit per call | entries per block |\n|---|---|---|---|---|---|---|");
    // A batch of 1,000 needs more than the sandbox's default limit: allow a whole block.
    w.chain
        .set_gas_limit(custodia_client::backend::Gas { ref_time: NORMAL_BLOCK_REF_TIME, proof_size: 64 * 1024 * 1024 });
    let mut seq = 0u64;
    for (label, authorization, purpose) in [
        ("receipt", Authorization::Consent(receipt), Purpose::Treatment),
        ("break-glass", Authorization::BreakGlass(BreakGlassReason::LifeThreatening), Purpose::EmergencyTreatment),
    ] {
        for size in [1u64, 10, 100, 1000] {
            let batch: Vec<NewEntry> = (0..size)
                .map(|i| NewEntry { seq: seq + i, patient: p, target, purpose, accessed_at: now, authorization })
                .collect();
            seq += size;
            let outcome = w.chain.call(lab, w.log().append_batch(batch));
            assert_eq!(outcome.value.map(|a| a.appended), Ok(size as u32), "batch of {size}");
            let ref_time = outcome.gas_consumed.ref_time;
            let calls = NORMAL_BLOCK_REF_TIME / ref_time;
            println!(
                "| {size} | {label} | {} | {} | {} | {} | {} |",
                group(ref_time),
                group(ref_time / size),
                group(outcome.gas_consumed.proof_size / size),
                outcome.storage_deposit,
                group(calls * size),
            );
        }
    }
    println!("\nEntries per block: whole calls of that size within {} ref_time (substrate-contracts-node's normal dispatch share of a 2 s block).", group(NORMAL_BLOCK_REF_TIME));
}
