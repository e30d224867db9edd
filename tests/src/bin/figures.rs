//! Measures the figures the README reports: Wasm size of each contract and the cost of each
//! call, in `ink_sandbox`'s in-process runtime and, with `--chain URL`, as extrinsics on a
//! node (the local chain) in the same run, next to the floor contract measured the same way.
//!
//! The same code runs the same calls through the client on both: the suite deployed by
//! [`fixture_on`], 100 patients (each with a version committed by Hospital A and a receipt for
//! the laboratory), batches spread over them. On the sandbox a call's cost is its dry run (gas
//! consumed); on the chain it is also what the block says it cost (`ExtrinsicSuccess`'s
//! weight, the fee, the deposit events), and block capacity comes from the runtime's own
//! `System::BlockWeights` and `System::BlockLength`.
//!
//! Run with `scripts/figures.sh` (sandbox) or `scripts/figures.sh --chain` (both).

use custodia_client::{
    backend::{BlockLimits, Charged, Gas, Instantiation, RuntimeCall, Value},
    call::{Estimate, Submitted},
    types::{
        access_log::{Authorization, BreakGlassReason, NewEntry},
        consents::{AccessCheck, Decision, Grantee, Purpose, Purposes, ReceiptId, Scope, Target, Terms},
        records::{ErasureReason, Link, NewVersion, Supersedence, VersionRef},
        RecordId,
    },
    verify::commitment,
    Backend, Bundles, Finality, NodeBackend, Signer,
};
use custodia_sandbox::{SandboxBackend, SandboxClock};
use custodia_services::{outbox::Access, Store};
use custodia_tests::fixture::{fixture_on, Fixture};
use ink::primitives::AccountId;

const CONTRACTS: [&str; 5] = ["directory", "records", "consents", "access_log", "floor"];
const LOCATOR: &[u8] = b"Observation/8f4c2a0e-1b7d-4c55-9a8e-2f6d5c3b1a90/_history/1";
/// Patients (and receipts) the batches are spread over.
const PATIENTS: usize = 100;
const BATCH_SIZES: [usize; 4] = [1, 8, 32, 64];
const ENTRY_BATCHES: [usize; 4] = [1, 10, 100, 1000];
const OUTBOX_ACCESSES: usize = 2000;

/// What one call cost on one runtime.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    /// The dry run's gas (the contract's execution alone).
    dry: Gas,
    /// The dry run's storage deposit.
    deposit: i128,
    /// What the block says, where the call was an extrinsic.
    charged: Option<Charged>,
}

impl Cost {
    fn of_tx<T>(estimate: &Estimate<T>, submitted: &Submitted<T>) -> Self {
        Cost { dry: estimate.gas_consumed, deposit: estimate.storage_deposit, charged: submitted.charged }
    }

    fn of_query<T>(estimate: &Estimate<T>) -> Self {
        Cost { dry: estimate.gas_consumed, deposit: 0, charged: None }
    }
}

/// One figure: a call, how many items it carried, and what it cost.
struct Row {
    table: &'static str,
    label: String,
    items: u64,
    /// `None` where the call does not fit one extrinsic (the dry run ran out of gas).
    cost: Option<Cost>,
}

/// Everything measured on one runtime.
struct Measured {
    /// End to end: accesses through the client's outbox (durable queue, chunks of
    /// `outbox::CHUNK`, each submitted and waited for) into blocks, on the wall clock.
    outbox: Throughput,
    floor: Cost,
    /// The chain's own floor for "write something and announce it": `System::remark_with_event`.
    remark: Option<Charged>,
    rows: Vec<Row>,
}

/// The sizes of a Wasm module's code and data sections and its number of function bodies,
/// from the section headers (the binary format's LEB128 lengths).
#[derive(Default)]
struct WasmSections {
    code: u64,
    data: u64,
    functions: u64,
}

impl WasmSections {
    const CODE: u8 = 10;
    const DATA: u8 = 11;

    fn of(wasm: &[u8]) -> Self {
        fn leb128(bytes: &[u8], at: &mut usize) -> u64 {
            let (mut value, mut shift) = (0u64, 0);
            while let Some(byte) = bytes.get(*at) {
                *at += 1;
                value |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            value
        }
        let mut sections = WasmSections::default();
        let mut at = 8; // magic and version
        while at < wasm.len() {
            let id = wasm[at];
            at += 1;
            let size = leb128(wasm, &mut at);
            let body = at;
            match id {
                Self::CODE => {
                    sections.code = size;
                    sections.functions = leb128(wasm, &mut at);
                }
                Self::DATA => sections.data = size,
                _ => {}
            }
            at = body + size as usize;
        }
        sections
    }
}

/// Entries recorded through the outbox, in how many transactions, in how long.
struct Throughput {
    entries: u32,
    transactions: u32,
    elapsed: std::time::Duration,
}

/// Dry-runs (the estimate), then submits; panics on any refusal (a figure of a failed call
/// would be meaningless).
macro_rules! measure_tx {
    ($tx:expr, $signer:expr) => {{
        let (tx, signer): (_, &Signer) = ($tx, $signer);
        let estimate = tx.dry_run(signer.account()).await.expect("dry run");
        let submitted = tx.submit(signer).await.expect("submitted");
        (Cost::of_tx(&estimate, &submitted), submitted.value)
    }};
}

/// The floor contract (issue 16): deployed from its bundle, one `put` of a fresh key.
struct Floor {
    address: AccountId,
}

impl Floor {
    async fn deploy<B: Backend>(backend: &B, signer: &Signer, approvers: &[Signer], salt: &[u8]) -> Floor {
        let code = Bundles::from_env().wasm("floor").expect("the floor bundle (scripts/build-contracts.sh --floor)");
        let floor = Instantiation { code, input: ink::selector_bytes!("new").to_vec(), salt: salt.to_vec() };
        let done = backend.instantiate(signer, approvers, vec![floor]).await.expect("floor instantiated");
        Floor { address: done[0].address }
    }

    async fn put<B: Backend>(&self, backend: &B, signer: &Signer, key: [u8; 32]) -> Cost {
        let mut input = ink::selector_bytes!("put").to_vec();
        input.extend_from_slice(&key);
        input.extend_from_slice(&[0x5A; 32]);
        let dry = backend.dry_run(signer.account(), self.address, &input).await.expect("floor dry run");
        assert!(!dry.reverted, "the floor contract reverted");
        let included = backend
            .submit(signer, self.address, input, dry.gas_required.with_margin(10), None)
            .await
            .expect("floor put");
        Cost { dry: dry.gas_consumed, deposit: dry.storage_deposit, charged: included.charged }
    }
}

fn key(tag: u8, n: usize) -> [u8; 32] {
    let mut key = [tag; 32];
    key[..8].copy_from_slice(&(n as u64).to_le_bytes());
    key
}

fn record_of(patient: usize, n: usize) -> RecordId {
    RecordId::new(key(0xB0 + (n as u8 % 8), patient * 1000 + n))
}

async fn measure<B: Backend>(f: &Fixture<B>, salt: &[u8]) -> Measured {
    let backend = f.client.backend();
    let (a, lab) = (&f.cast.hospital_a, &f.cast.lab);
    let (records, directory, consents, log) =
        (f.client.records(), f.client.directory(), f.client.consents(), f.client.access_log());
    let mut rows = Vec::new();
    let mut push = |table, label: &str, items: usize, cost: Option<Cost>| {
        rows.push(Row { table, label: label.to_string(), items: items as u64, cost })
    };
    let kind = f.pseudonyms.code("http://loinc.org|718-7");
    let c = |n: u32| commitment(&[n as u8; 32], &n.to_le_bytes());

    // The floor, warm (its code cached, as every suite call below is), on a fresh key.
    let floor = Floor::deploy(backend, &f.cast.admins[0], &f.cast.admins[1..], salt).await;
    floor.put(backend, a, key(0xF0, 0)).await;
    let floor_cost = floor.put(backend, a, key(0xF0, 1)).await;

    // Patients: the fixture's, then 99 more of Hospital A (register_patient measured once).
    let mut patients = vec![f.patient];
    for n in 1..PATIENTS {
        let patient = f.pseudonyms.patient(&format!("MRN-FIG-{n}"));
        let (cost, ()) = measure_tx!(directory.register_patient(patient), a);
        if n == 1 {
            push("directory", "register_patient", 1, Some(cost));
        }
        patients.push(patient);
    }
    let member = directory.membership(a.account()).estimate().await.expect("membership");
    push("directory", "membership (query)", 1, Some(Cost::of_query(&member)));

    // Records: single calls on the first patient.
    let version = |record, patient, commitment| NewVersion {
        record,
        patient,
        commitment,
        locator: LOCATOR.to_vec(),
        kind,
        supersedes: None,
    };
    let p = patients[0];
    let (cost, _) = measure_tx!(records.commit(version(record_of(0, 900), p, c(0))), a);
    push("records", "commit, first by this account (directory asked, cache filled)", 1, Some(cost));
    let record = record_of(0, 0);
    let (cost, _) = measure_tx!(records.commit(version(record, p, c(1))), a);
    push("records", "commit, version 1 of another record (cache warm)", 1, Some(cost));
    let (cost, _) = measure_tx!(records.commit(version(record, p, c(2))), a);
    push("records", "commit, later version", 1, Some(cost));
    let amended = VersionRef { record, version: 2 };
    let supersede = records.commit(NewVersion {
        supersedes: Some(Link { target: amended, how: Supersedence::Amends }),
        ..version(record, p, c(3))
    });
    let (cost, _) = measure_tx!(supersede, a);
    push("records", "supersede (amends v2)", 1, Some(cost));
    let (cost, ()) = measure_tx!(records.erase(record, 1, ErasureReason::PatientRequest), a);
    push("records", "erase (custodian)", 1, Some(cost));
    let keyed = f.pseudonyms.patient("MRN-FIG-KEYED");
    directory.register_patient(keyed).submit(a).await.expect("registered");
    directory.offer_control(keyed, f.cast.patient_key.account()).submit(a).await.expect("offered");
    directory.accept_control(keyed).submit(&f.cast.patient_key).await.expect("accepted");
    let keyed_record = record_of(PATIENTS, 0);
    records.commit(version(keyed_record, keyed, c(9))).submit(a).await.expect("committed");
    let erase = records.erase(keyed_record, 1, ErasureReason::PatientRequest);
    let (cost, ()) = measure_tx!(erase, &f.cast.patient_key);
    push("records", "erase (patient's key)", 1, Some(cost));
    let verify = records.verify(record, 2, c(2)).estimate().await.expect("verify");
    push("records", "verify (query)", 1, Some(Cost::of_query(&verify)));

    // Batch commits: version 1 of a record of each patient in turn (every patient gets one).
    // Round one: 1 + 8 + 32 + 64 versions, every one of the 100 patients gets one (all but
    // five new to the account). Round two: the same sizes again, now that the registry knows
    // the account may commit for each of them (its membership cache), a custodian's steady state.
    let new_version = |n: usize| {
        let patient = n % PATIENTS;
        let record = record_of(patient, 1 + n / PATIENTS);
        let commitment = c(10_000 + n as u32);
        (patient, version(record, patients[patient], commitment))
    };
    let mut next = 0usize;
    let mut targets = Vec::new();
    for label in ["patients new to the account", "patients it committed for before"] {
        for size in BATCH_SIZES {
            let batch: Vec<NewVersion> = (next..next + size)
                .map(|n| {
                    let (patient, version) = new_version(n);
                    targets.push((patient, VersionRef { record: version.record, version: 1 }));
                    version
                })
                .collect();
            next += size;
            let (cost, _) = measure_tx!(records.commit_batch(batch), a);
            push("commit_batch", &format!("{size}, {label}"), size, Some(cost));
        }
    }
    targets.truncate(PATIENTS);
    targets.sort_by_key(|(patient, _)| *patient);

    // Consents: one receipt per patient for the laboratory.
    let now = backend.now().await.expect("the chain's time");
    let terms = |patient| Terms {
        patient,
        grantee: Grantee { institution: f.lab, account: None },
        scope: Scope::AllRecords,
        purposes: Purposes::of(&[Purpose::Treatment]),
        decision: Decision::Permit,
        valid_from: now.saturating_sub(60_000),
        valid_until: now + 30 * 86_400_000,
    };
    let mut receipts: Vec<ReceiptId> = Vec::new();
    for (n, patient) in patients.iter().enumerate() {
        let (cost, receipt) = measure_tx!(consents.grant(terms(*patient)), a);
        if n == 0 {
            push("consents", "grant (custodial controller)", 1, Some(cost));
        }
        receipts.push(receipt);
    }
    let check = |n: usize, receipt: Option<ReceiptId>| AccessCheck {
        accessor: lab.account(),
        patient: patients[n],
        target: Target::Version(targets[n].1),
        purpose: Purpose::Treatment,
        at: now,
        receipt,
    };
    let cited = consents.is_authorized(check(5, Some(receipts[5]))).from(lab.account()).estimate().await.unwrap();
    assert_eq!(cited.value, Ok(receipts[5]));
    push("consents", "is_authorized (cited receipt; query)", 1, Some(Cost::of_query(&cited)));
    let searched = consents.is_authorized(check(5, None)).from(lab.account()).estimate().await.unwrap();
    assert_eq!(searched.value, Ok(receipts[5]));
    push("consents", "is_authorized (search; query)", 1, Some(Cost::of_query(&searched)));
    let spare = consents.grant(terms(patients[7])).submit(a).await.expect("granted").value;
    let (cost, ()) = measure_tx!(consents.revoke(spare), a);
    push("consents", "revoke (by the granter)", 1, Some(cost));

    // The access log: batches spread over the 100 patients and their 100 receipts.
    let mut seq = log.next_seq(lab.account()).query().await.expect("next seq");
    let accessed_at = backend.now().await.expect("the chain's time");
    for (table, emergency) in [("access_log receipt", false), ("access_log break-glass", true)] {
        for size in ENTRY_BATCHES {
            let entries: Vec<NewEntry> = (0..size)
                .map(|i| {
                    let n = (seq as usize + i) % PATIENTS;
                    let (purpose, authorization) = if emergency {
                        (Purpose::EmergencyTreatment, Authorization::BreakGlass(BreakGlassReason::LifeThreatening))
                    } else {
                        (Purpose::Treatment, Authorization::Consent(receipts[n]))
                    };
                    let target = Target::Version(targets[n].1);
                    NewEntry { seq: seq + i as u64, patient: patients[n], target, purpose, accessed_at, authorization }
                })
                .collect();
            let tx = log.append_batch(entries);
            // A batch may not fit one call (the dry run runs out of gas in some dimension):
            // that is a figure too.
            let estimate = match tx.dry_run(lab.account()).await {
                Ok(estimate) => estimate,
                Err(error) => {
                    eprintln!("figures: {table}, {size} entries: {error}");
                    push(table, &format!("{size}"), size, None);
                    continue;
                }
            };
            let submitted = tx.submit(lab).await.expect("submitted");
            assert_eq!(submitted.value.appended, size as u32, "a batch of {size}");
            seq += size as u64;
            push(table, &format!("{size}"), size, Some(Cost::of_tx(&estimate, &submitted)));
        }
    }
    // What an append of 1,000 asks of the consents registry: the same judgements, dry-run
    // on their own (the part of an entry's cost that is the consent check).
    let checks = |emergency: bool| -> Vec<AccessCheck> {
        (0..1000)
            .map(|i| {
                let n = i % PATIENTS;
                let (purpose, receipt) = if emergency {
                    (Purpose::EmergencyTreatment, None)
                } else {
                    (Purpose::Treatment, Some(receipts[n]))
                };
                AccessCheck { purpose, at: accessed_at, ..check(n, receipt) }
            })
            .collect()
    };
    let judged = consents.check_batch(checks(false)).from(lab.account()).estimate().await.expect("check_batch");
    assert!(judged.value.iter().all(Result::is_ok), "every check passes");
    push("judgement", "check_batch (receipts; query)", 1000, Some(Cost::of_query(&judged)));
    let same: Vec<AccessCheck> =
        (0..1000).map(|_| AccessCheck { at: accessed_at, ..check(0, Some(receipts[0])) }).collect();
    let judged = consents.check_batch(same).from(lab.account()).estimate().await.expect("check_batch");
    assert!(judged.value.iter().all(Result::is_ok), "every check passes");
    let label = "check_batch (1,000 checks of one version under one receipt; query)";
    push("judgement", label, 1000, Some(Cost::of_query(&judged)));
    let judged =
        consents.check_break_glass(checks(true)).from(lab.account()).estimate().await.expect("check_break_glass");
    assert!(judged.value.iter().all(Result::is_ok), "every check passes");
    push("judgement", "check_break_glass (query)", 1000, Some(Cost::of_query(&judged)));
    // End to end: 2,000 accesses spread like the batches above, recorded through the outbox.
    let accessed_at = backend.now().await.expect("the chain's time");
    let accesses: Vec<Access> = (0..OUTBOX_ACCESSES)
        .map(|i| {
            let n = i % PATIENTS;
            let (purpose, target) = (Purpose::Treatment, Target::Version(targets[n].1));
            Access {
                patient: patients[n],
                target,
                purpose,
                accessed_at,
                authorization: Authorization::Consent(receipts[n]),
            }
        })
        .collect();
    let started = std::time::Instant::now();
    let drained = f.outbox().record(lab, &accesses).await.expect("recorded through the outbox");
    let outbox =
        Throughput { entries: drained.appended, transactions: drained.transactions, elapsed: started.elapsed() };
    assert_eq!(outbox.entries as usize, OUTBOX_ACCESSES, "every access logged");
    Measured { outbox, floor: floor_cost, remark: None, rows }
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

fn deposit(amount: i128) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{}", group(amount.unsigned_abs() as u64))
}

/// A proof-size limit; a runtime that does not bound it says `u64::MAX`.
fn proof_limit(bytes: u64) -> String {
    if bytes >= u64::MAX / 2 {
        "no limit".to_string()
    } else {
        format!("{} bytes", group(bytes))
    }
}

fn ratio(value: u64, floor: u64) -> String {
    format!("{:.2}x", value as f64 / floor.max(1) as f64)
}

/// Whole calls of this cost one block holds, in each dimension (ref_time, proof size, length).
fn calls_per_block(limits: &BlockLimits, charged: &Charged) -> (u64, u64, u64) {
    let per = |limit: u64, used: u64| limit / used.max(1);
    (
        per(limits.normal.ref_time, charged.weight.ref_time + limits.base_extrinsic.ref_time),
        per(limits.normal.proof_size, charged.weight.proof_size + limits.base_extrinsic.proof_size),
        per(u64::from(limits.normal_length), u64::from(charged.length)),
    )
}

fn print(sandbox: &Measured, chain: Option<(&Measured, &BlockLimits)>) {
    let bundles = Bundles::from_env();
    println!("## Wasm size (release bundles in {})\n", bundles.dir().display());
    println!("What each is made of: the code section (function bodies), the data section (constants, panic");
    println!("and error texts), and the rest (types, imports, exports, the function index).\n");
    println!("| contract | bytes | code | data | other | functions |\n|---|---|---|---|---|---|");
    for name in CONTRACTS {
        match std::fs::read(bundles.dir().join(format!("{name}.wasm"))) {
            Ok(wasm) => {
                let sections = WasmSections::of(&wasm);
                println!(
                    "| {name} | {} | {} | {} | {} | {} |",
                    group(wasm.len() as u64),
                    group(sections.code),
                    group(sections.data),
                    group(wasm.len() as u64 - sections.code - sections.data),
                    sections.functions
                );
            }
            Err(e) => println!("| {name} | {e} | | | | |"),
        }
    }

    println!("\n## The floor, measured in this run\n");
    println!("The floor contract's `put` (one `Mapping` get + insert, one event with one topic), warm.\n");
    println!("| runtime | dry run ref_time | dry run proof_size | extrinsic ref_time | extrinsic proof_size | fee |");
    println!("|---|---|---|---|---|---|");
    let f = sandbox.floor;
    println!("| sandbox | {} | {} | | | |", group(f.dry.ref_time), group(f.dry.proof_size));
    // An extrinsic's cells: its weight in both dimensions and its fee.
    let extrinsic =
        |c: Charged| format!("{} | {} | {}", group(c.weight.ref_time), group(c.weight.proof_size), group(c.fee as u64));
    if let Some((chain, _)) = chain {
        let f = chain.floor;
        let charged = extrinsic(f.charged.unwrap_or_default());
        println!("| chain | {} | {} | {charged} |", group(f.dry.ref_time), group(f.dry.proof_size));
    }
    if let Some(remark) = chain.and_then(|(m, _)| m.remark) {
        println!("| chain: `System::remark_with_event` (32 bytes) | | | {} |", extrinsic(remark));
    }
    if let Some((_, limits)) = chain {
        println!(
            "\nThe chain's limits (its runtime's constants): normal-class weight {} ref_time and {} of proof per block, {} ref_time per extrinsic; base extrinsic {}; normal-class length {} bytes.",
            group(limits.normal.ref_time),
            proof_limit(limits.normal.proof_size),
            group(limits.max_extrinsic.ref_time),
            group(limits.base_extrinsic.ref_time),
            group(u64::from(limits.normal_length)),
        );
    }

    println!("\n## End to end: accesses through the client's outbox into blocks\n");
    println!("{OUTBOX_ACCESSES} accesses spread over {PATIENTS} patients, recorded with `Outbox::record` (queued durably, drained in chunks of {} entries, each submitted and waited for); wall clock on this machine.\n", custodia_services::outbox::CHUNK);
    println!("| runtime | entries | transactions | seconds | entries/s |\n|---|---|---|---|---|");
    let runs = std::iter::once(("sandbox (in process)", sandbox))
        .chain(chain.map(|(m, _)| ("chain (JSON-RPC, in a block)", m)));
    for (runtime, measured) in runs {
        let t = &measured.outbox;
        let seconds = t.elapsed.as_secs_f64();
        println!(
            "| {runtime} | {} | {} | {seconds:.1} | {:.0} |",
            group(t.entries.into()),
            t.transactions,
            f64::from(t.entries) / seconds
        );
    }

    let tables: Vec<&'static str> = {
        let mut seen = Vec::new();
        for row in &sandbox.rows {
            if !seen.contains(&row.table) {
                seen.push(row.table);
            }
        }
        seen
    };
    for table in tables {
        let per_item = table.starts_with("access_log") || table == "commit_batch";
        if table == "judgement" {
            println!("\n## The consent judgements of an append of 1,000, on their own\n");
            println!("The checks the access log sends the consents registry for the batches of 1,000 above, dry-run directly: per check.\n");
        }
        if table != "judgement" {
            println!("\n## {table}\n");
        }
        if per_item {
            println!("Per item (a version, an entry), calls spread over {PATIENTS} patients and their receipts.\n");
        }
        let first = if per_item { "items per call" } else { "call" };
        match chain {
            None => {
                println!("| {first} | sandbox ref_time | x floor | proof_size | deposit |\n|---|---|---|---|---|");
            }
            Some(_) => {
                print!("| {first} | sandbox ref_time | x floor | chain dry run | chain extrinsic ref_time | x floor | proof_size | deposit | fee |");
                if per_item {
                    print!(" items per block (ref_time / proof / length) |");
                }
                println!("\n|---|---|---|---|---|---|---|---|---|{}", if per_item { "---|" } else { "" });
            }
        }
        let chain_rows = chain.map(|(m, _)| m.rows.iter().filter(|r| r.table == table).collect::<Vec<_>>());
        const NO_FIT: &str = "does not fit one call";
        for (i, row) in sandbox.rows.iter().filter(|r| r.table == table).enumerate() {
            let n = row.items;
            match row.cost {
                Some(s) => print!(
                    "| {} | {} | {} |",
                    row.label,
                    group(s.dry.ref_time / n),
                    ratio(s.dry.ref_time / n, sandbox.floor.dry.ref_time)
                ),
                None => print!("| {} | {NO_FIT} | |", row.label),
            }
            match (&chain_rows, chain) {
                (Some(rows), Some((measured, limits))) => {
                    let Some(c) = rows[i].cost else {
                        println!(" | {NO_FIT} | | | | |{}", if per_item { " |" } else { "" });
                        continue;
                    };
                    let charged = c.charged;
                    let ext = charged.map(|ch| ch.weight).unwrap_or(c.dry);
                    // An extrinsic against the floor's extrinsic, a query against the floor's dry run.
                    let floor_ext = match charged {
                        Some(_) => measured.floor.charged.map(|ch| ch.weight).unwrap_or(measured.floor.dry),
                        None => measured.floor.dry,
                    };
                    let kind = if charged.is_some() { "" } else { " (query)" };
                    print!(
                        " {} | {}{kind} | {} | {} | {} | {} |",
                        group(c.dry.ref_time / n),
                        group(ext.ref_time / n),
                        ratio(ext.ref_time / n, floor_ext.ref_time),
                        group(ext.proof_size / n),
                        deposit(charged.map(|ch| ch.storage_deposit).unwrap_or(c.deposit)),
                        charged.map(|ch| group(ch.fee as u64 / n)).unwrap_or_default(),
                    );
                    if per_item {
                        let (time, proof, length) = charged.map(|ch| calls_per_block(limits, &ch)).unwrap_or_default();
                        let proof =
                            if limits.normal.proof_size >= u64::MAX / 2 { "-".to_string() } else { group(proof * n) };
                        print!(" {} / {proof} / {} |", group(time * n), group(length * n));
                    }
                    println!();
                }
                _ => match row.cost {
                    Some(s) => println!(" {} | {} |", group(s.dry.proof_size / n), deposit(s.deposit)),
                    None => println!(" | |"),
                },
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let node_url = match args.as_slice() {
        [] => None,
        [flag, url] if flag == "--chain" => Some(url.clone()),
        _ => {
            eprintln!("usage: figures [--chain ws://127.0.0.1:PORT]");
            std::process::exit(2);
        }
    };
    let sandbox =
        fixture_on(SandboxBackend::new(SandboxClock::deterministic()), Store::in_memory().unwrap(), b"figures").await;
    let on_sandbox = measure(&sandbox, b"floor").await;
    match node_url {
        None => print(&on_sandbox, None),
        Some(url) => {
            let node = NodeBackend::connect(&url, Finality::InBlock).await.expect("the node answers");
            let limits = node.block_limits().expect("the runtime's block limits");
            let salt = custodia_client::verify::new_salt();
            let chain = fixture_on(node, Store::in_memory().unwrap(), &salt).await;
            let mut on_chain = measure(&chain, &salt).await;
            let remark = RuntimeCall::new("System", "remark_with_event", vec![Value::from_bytes([0x5A; 32])]);
            let charged = chain.client.backend().submit_runtime_call(&chain.cast.hospital_a, &remark);
            on_chain.remark = Some(charged.await.expect("remark_with_event"));
            print(&on_sandbox, Some((&on_chain, &limits)));
        }
    }
}
