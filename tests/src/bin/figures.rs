//! Measures the figures the README reports: Wasm size of each contract, and gas (ref_time,
//! proof_size) and storage deposit of the registry's messages, in the in-process
//! pallet-contracts runtime. Deterministic: the same bundles give the same numbers.
//!
//! Run with `scripts/figures.sh` (builds the bundles first).

use custodia_tests::{
    chain::{bundles_dir, Outcome},
    world::{commitment, kind, record_id, World},
};
use custodia_types::records::{ErasureReason, Supersedence, VersionRef};

const CONTRACTS: [&str; 2] = ["directory", "records"];
const LOCATOR: &[u8] = b"Observation/8f4c2a0e-1b7d-4c55-9a8e-2f6d5c3b1a90/_history/1";
const BASELINE_REF_TIME: f64 = 7.6e8;

fn row<R>(name: &str, outcome: &Outcome<R>) {
    let ref_time = outcome.gas_consumed.ref_time();
    println!(
        "| {name} | {} | {} | {} | {:.2}x |",
        group(ref_time),
        group(outcome.gas_consumed.proof_size()),
        outcome.storage_deposit,
        ref_time as f64 / BASELINE_REF_TIME,
    );
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    println!("## Wasm size (release bundles in {})\n", bundles_dir().display());
    println!("| contract | bytes |\n|---|---|");
    for name in CONTRACTS {
        let size = std::fs::metadata(bundles_dir().join(format!("{name}.wasm"))).map(|m| m.len());
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
    row("commit, version 1 (opens the record)", &open);

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

    println!("\n## Directory: gas and storage deposit per call\n");
    println!("| call | ref_time | proof_size | storage deposit | vs baseline |\n|---|---|---|---|---|");
    let patient = custodia_types::PatientId::new([0xEA; 32]);
    let register = w.chain.call(a, w.dir().register_patient(patient));
    assert_eq!(register.value, Ok(()));
    row("register_patient", &register);
    use directory::DirectoryQueries;
    let member = w.chain.call(a, w.dir().membership(a));
    row("membership (query)", &member);
}
