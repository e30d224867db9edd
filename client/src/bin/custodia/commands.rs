//! The commands other than `demo`.

use crate::{
    context::Context,
    output::{self, hex32, Out},
};
use custodia_client::{
    deployment::{deploy as deploy_suite, Bundles, Governance},
    keys::ss58,
    registry::{Access, InclusionProof, Stage, CHUNK},
    types::{
        access_log::{Authorization, BreakGlassReason},
        consents::{AccessCheck, Decision, Grantee, Purpose, Purposes, Scope, Target, Terms},
        directory::{Action, InstitutionKind, Role, Roles},
        records::{ErasureReason, Supersedence, Verification, VersionRef},
    },
    verify::{commitment, new_salt, parse_hash},
    Backend, Error, Result,
};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

// --- value parsers ---------------------------------------------------------------------------

fn choice<T: Copy>(text: &str, options: &[(&str, T)]) -> std::result::Result<T, String> {
    options.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)).map(|(_, v)| *v).ok_or_else(|| {
        format!("expected one of: {}", options.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))
    })
}

fn kind(text: &str) -> std::result::Result<InstitutionKind, String> {
    use InstitutionKind::*;
    choice(text, &[("hospital", Hospital), ("laboratory", Laboratory), ("clinic", Clinic), ("payer", Payer), ("audit-body", AuditBody), ("other", Other)])
}

fn roles(text: &str) -> std::result::Result<Roles, String> {
    let roles = text
        .split(',')
        .map(|r| choice(r.trim(), &[("custodian", Role::Custodian), ("accessor", Role::Accessor), ("auditor", Role::Auditor)]))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Roles::of(&roles))
}

fn how(text: &str) -> std::result::Result<Supersedence, String> {
    use Supersedence::*;
    choice(text, &[("replaces", Replaces), ("amends", Amends), ("corrects", Corrects), ("transforms", Transforms)])
}

fn reason(text: &str) -> std::result::Result<ErasureReason, String> {
    use ErasureReason::*;
    choice(
        text,
        &[("patient-request", PatientRequest), ("entered-in-error", EnteredInError), ("legal-order", LegalOrder), ("retention-expired", RetentionExpired), ("other", Other)],
    )
}

pub fn purpose(text: &str) -> std::result::Result<Purpose, String> {
    use Purpose::*;
    // HL7 v3 PurposeOfUse codes and our names.
    choice(
        text,
        &[
            ("treatment", Treatment), ("TREAT", Treatment), ("emergency", EmergencyTreatment), ("ETREAT", EmergencyTreatment),
            ("payment", Payment), ("HPAYMT", Payment), ("operations", Operations), ("HOPERAT", Operations),
            ("research", Research), ("HRESCH", Research), ("public-health", PublicHealth), ("PUBHLTH", PublicHealth),
            ("patient-request", PatientRequest), ("PATRQT", PatientRequest), ("legal", Legal), ("HLEGAL", Legal),
        ],
    )
}

fn break_glass(text: &str) -> std::result::Result<BreakGlassReason, String> {
    use BreakGlassReason::*;
    choice(text, &[("life-threatening", LifeThreatening), ("incapacitated", PatientIncapacitated), ("urgent-care", UrgentCare), ("legal-obligation", LegalObligation)])
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })
}

// --- deploy ----------------------------------------------------------------------------------

#[derive(Args)]
pub struct DeployArgs {
    /// The directory's admins (accounts or keys), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "alice,bob,charlie")]
    admins: Vec<String>,
    /// Approvals a governance proposal needs.
    #[arg(long, default_value_t = 2)]
    threshold: u32,
    /// Directory holding the contract bundles (<name>.wasm).
    #[arg(long, env = "CUSTODIA_BUNDLES")]
    bundles: Option<PathBuf>,
}

pub async fn deploy(ctx: &Context, args: DeployArgs) -> Result<()> {
    let out = Out { json: ctx.global.json };
    let signer = ctx.signer()?;
    let admins = args.admins.iter().map(|a| ctx.account(a)).collect::<Result<Vec<_>>>()?;
    let bundles = args.bundles.map(Bundles::at).unwrap_or_else(Bundles::from_env);
    let backend = ctx.backend().await?;
    backend.fund(&signer, signer.account(), 1_000_000_000_000_000).await?;
    let deployment = deploy_suite(
        &backend,
        &signer,
        &Governance { admins, threshold: args.threshold },
        &bundles,
        &custodia_client::verify::new_salt(),
        &ctx.endpoint(),
    )
    .await?;
    deployment.save(&ctx.deployment_path())?;
    let mut text = format!("deployed on chain {} at block #{}:", hex32(&deployment.chain), deployment.block);
    for (name, d) in deployment.contracts() {
        text.push_str(&format!("\n  {name:<10} {} (code {})", ss58(&d.address), output::short(&d.code_hash)));
    }
    if let Some(p) = deployment.attach_proposal {
        text.push_str(&format!("\nproposal #{p} attaches the records registry; it needs the other admins' approvals: `custodia directory approve {p}` then `execute {p}`"));
    }
    out.show(text, serde_json::to_value(&deployment).expect("a deployment serialises"));
    Ok(())
}

// --- directory -------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Propose admitting an institution (admins).
    ProposeAdmit {
        /// The account that will operate it.
        #[arg(long)]
        operator: String,
        #[arg(long, value_parser = kind)]
        kind: InstitutionKind,
        /// custodian, accessor, auditor (comma-separated).
        #[arg(long, value_parser = roles)]
        roles: Roles,
    },
    /// Propose removing an institution (admins).
    ProposeRemove { institution: u32 },
    /// Approve a proposal (admins).
    Approve { proposal: u32 },
    /// Execute an approved proposal (admins).
    Execute { proposal: u32 },
    /// Show a proposal.
    Proposal { proposal: u32 },
    /// Add an account to your institution (its operator).
    AddAccount { account: String },
    /// Register a patient (custodians); a local id becomes a keyed pseudonym.
    RegisterPatient { patient: String },
    /// Show a patient's controller and custodian.
    Patient { patient: String },
    /// Show the institution an account acts for.
    Membership { account: String },
}

pub async fn directory(ctx: &Context, command: DirectoryCommand) -> Result<()> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let dir = client.directory();
    use DirectoryCommand::*;
    match command {
        ProposeAdmit { operator, kind, roles } => {
            let action = Action::Admit { operator: ctx.account(&operator)?, kind, roles };
            let done = dir.propose(action).submit(&ctx.signer()?).await?;
            out.submitted(&format!("proposal #{}", done.value), &done, json!({"proposal": done.value}));
        }
        ProposeRemove { institution } => {
            let done = dir.propose(Action::Remove { institution }).submit(&ctx.signer()?).await?;
            out.submitted(&format!("proposal #{}", done.value), &done, json!({"proposal": done.value}));
        }
        Approve { proposal } => {
            let done = dir.approve(proposal).submit(&ctx.signer()?).await?;
            out.submitted(&format!("approved #{proposal}: {} approvals", done.value), &done, json!({"approvals": done.value}));
        }
        Execute { proposal } => {
            let done = dir.execute(proposal).submit(&ctx.signer()?).await?;
            out.submitted(&format!("executed #{proposal}"), &done, json!(null));
        }
        Proposal { proposal } => {
            let p = dir.proposal(proposal).query().await?;
            let value = p.as_ref().map(|p| json!({"action": format!("{:?}", p.action), "proposer": ss58(&p.proposer), "approvals": p.approvals, "status": format!("{:?}", p.status)}));
            out.show(format!("{p:?}"), json!(value));
        }
        AddAccount { account } => {
            let done = dir.add_account(ctx.account(&account)?).submit(&ctx.signer()?).await?;
            out.submitted("account added", &done, json!(null));
        }
        RegisterPatient { patient } => {
            let id = ctx.patient(&patient)?;
            let done = dir.register_patient(id).submit(&ctx.signer()?).await?;
            out.submitted(&format!("patient registered as {}", hex32(id.as_bytes())), &done, json!({"patient": hex32(id.as_bytes())}));
        }
        Patient { patient } => {
            let info = dir.patient(ctx.patient(&patient)?).query().await?;
            match info {
                Some(p) => out.show(
                    format!("controller: {}; custodian: institution #{}", output::controller(&p.controller), p.custodian),
                    json!({"controller": output::controller(&p.controller), "custodian": p.custodian, "registered_at": p.registered_at}),
                ),
                None => out.show("not registered", json!(null)),
            }
        }
        Membership { account } => {
            let m = dir.membership(ctx.account(&account)?).query().await?;
            out.show(
                m.map(|m| format!("institution #{} roles {:03b}", m.institution, m.roles.0)).unwrap_or_else(|| "no membership".into()),
                json!(m.map(|m| json!({"institution": m.institution, "roles": m.roles.0}))),
            );
        }
    }
    Ok(())
}

// --- records ---------------------------------------------------------------------------------

#[derive(Args)]
pub struct VersionContent {
    /// The record (a local id such as `Observation/hb-1`, or 0x-hex).
    #[arg(long)]
    record: String,
    /// The patient (local id or 0x-hex).
    #[arg(long)]
    patient: String,
    /// The file holding the version's content (only its salted digest goes on chain).
    #[arg(long)]
    file: PathBuf,
    /// Where the version lives (defaults to `<record>/_history/<n>`).
    #[arg(long)]
    locator: Option<String>,
    /// The kind of record, as `system|code` (kept opaque on chain).
    #[arg(long, default_value = "http://hl7.org/fhir/resource-types|DocumentReference")]
    kind: String,
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Commit a new version (custodians). The salt is kept in the local store.
    Commit(VersionContent),
    /// Commit a version that supersedes an earlier one.
    Supersede {
        #[command(flatten)]
        content: VersionContent,
        /// The version it supersedes (of the same record unless --target-record).
        #[arg(long)]
        target_version: u32,
        #[arg(long)]
        target_record: Option<String>,
        #[arg(long, value_parser = how, default_value = "replaces")]
        how: Supersedence,
    },
    /// Erase a version: commitment and locator go, a tombstone stays.
    Erase {
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long, value_parser = reason)]
        reason: ErasureReason,
    },
    /// Show a record.
    Show { record: String },
    /// Every version of a record, with supersedence links and tombstones.
    History { record: String },
    /// Check a copy of a version against the chain.
    Verify {
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long)]
        file: PathBuf,
        /// The version's salt (0x-hex); by default the one in the local store.
        #[arg(long)]
        salt: Option<String>,
    },
}

pub async fn record(ctx: &Context, command: RecordCommand) -> Result<()> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let records = client.records();
    use RecordCommand::*;
    match command {
        Commit(c) => {
            let (record, patient, kind) = (ctx.record(&c.record)?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator = c.locator.unwrap_or_else(|| format!("{}/_history/{next}", c.record));
            let salt = new_salt();
            let done = records
                .commit(record, patient, commitment(&salt, &read(&c.file)?), locator.into_bytes(), kind)
                .submit(&ctx.signer()?)
                .await?;
            client.store().keep_salt(record, done.value, salt)?;
            out.submitted(&format!("committed v{} of record {}", done.value, hex32(record.as_bytes())), &done, json!({"record": hex32(record.as_bytes()), "version": done.value}));
        }
        Supersede { content: c, target_version, target_record, how } => {
            let (record, patient, kind) = (ctx.record(&c.record)?, ctx.patient(&c.patient)?, ctx.code(&c.kind)?);
            let target_record = match target_record {
                Some(t) => ctx.record(&t)?,
                None => record,
            };
            let next = records.record(record).query().await?.map(|r| r.head + 1).unwrap_or(1);
            let locator = c.locator.unwrap_or_else(|| format!("{}/_history/{next}", c.record));
            let salt = new_salt();
            let target = VersionRef { record: target_record, version: target_version };
            let done = records
                .supersede(record, patient, commitment(&salt, &read(&c.file)?), locator.into_bytes(), kind, target, how)
                .submit(&ctx.signer()?)
                .await?;
            client.store().keep_salt(record, done.value, salt)?;
            out.submitted(&format!("committed v{} ({how:?} v{target_version})", done.value), &done, json!({"version": done.value}));
        }
        Erase { record, version, reason } => {
            let done = records.erase(ctx.record(&record)?, version, reason).submit(&ctx.signer()?).await?;
            out.submitted(&format!("erased v{version}; the tombstone stays"), &done, json!(null));
        }
        Show { record } => {
            let id = ctx.record(&record)?;
            match records.record(id).query().await? {
                Some(info) => out.show(
                    format!("record {}: patient {}, custodian #{}, {} version(s)", hex32(id.as_bytes()), hex32(info.patient.as_bytes()), info.custodian, info.head),
                    json!({"record": hex32(id.as_bytes()), "patient": hex32(info.patient.as_bytes()), "custodian": info.custodian, "head": info.head, "created_at": info.created_at}),
                ),
                None => out.show("no such record", json!(null)),
            }
        }
        History { record } => {
            let history = records.history(ctx.record(&record)?).await?;
            let text = history.iter().map(|(n, v, l)| output::version_text(*n, v, l.as_ref())).collect::<Vec<_>>().join("\n");
            out.show(text, json!(history.iter().map(|(n, v, l)| output::version(*n, v, l.as_ref())).collect::<Vec<_>>()));
        }
        Verify { record, version, file, salt } => {
            let id = ctx.record(&record)?;
            let salt = match salt {
                Some(s) => parse_hash(&s)?,
                None => client.store().salt(id, version)?.ok_or_else(|| {
                    Error::Input(format!("no salt for v{version} in the local store; pass --salt"))
                })?,
            };
            let verdict = records.verify_content(VersionRef { record: id, version }, &salt, &read(&file)?).await?;
            out.show(format!("{verdict:?}"), json!({"verification": format!("{verdict:?}")}));
            if verdict != Verification::Match {
                std::process::exit(2);
            }
        }
    }
    Ok(())
}

// --- consents --------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Grant (or, with --deny, refuse) access on a patient's behalf (the patient's controller).
    Grant {
        #[arg(long)]
        patient: String,
        /// The grantee institution's id.
        #[arg(long)]
        institution: u32,
        /// Only this account of the institution.
        #[arg(long)]
        account: Option<String>,
        /// Only this record (default: all the patient's records).
        #[arg(long)]
        record: Option<String>,
        /// Only this version of --record.
        #[arg(long, requires = "record")]
        version: Option<u32>,
        /// Only records of these kinds (`system|code`, comma-separated).
        #[arg(long, value_delimiter = ',', conflicts_with = "record")]
        categories: Vec<String>,
        /// Purposes (treatment, emergency, research, … or HL7 codes TREAT, ETREAT, HRESCH, …).
        #[arg(long, value_delimiter = ',', value_parser = purpose, default_value = "treatment")]
        purpose: Vec<Purpose>,
        /// Record a denial (overrides permits) instead of a permit.
        #[arg(long)]
        deny: bool,
        /// Days the receipt stays valid from now.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Revoke a receipt at once.
    Revoke { receipt: u64 },
    /// Would an access be authorised now?
    Check {
        #[arg(long)]
        accessor: String,
        #[arg(long)]
        patient: String,
        #[arg(long)]
        record: String,
        #[arg(long)]
        version: u32,
        #[arg(long, value_parser = purpose, default_value = "treatment")]
        purpose: Purpose,
        #[arg(long)]
        receipt: Option<u64>,
    },
    /// A patient's receipts.
    List {
        patient: String,
        /// Only receipts in force now.
        #[arg(long)]
        active: bool,
    },
}

pub async fn consent(ctx: &Context, command: ConsentCommand) -> Result<()> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let consents = client.consents();
    use ConsentCommand::*;
    match command {
        Grant { patient, institution, account, record, version, categories, purpose, deny, days } => {
            let scope = match (record, version) {
                (Some(r), Some(v)) => Scope::Version(VersionRef { record: ctx.record(&r)?, version: v }),
                (Some(r), None) => Scope::Record(ctx.record(&r)?),
                (None, _) if !categories.is_empty() => Scope::Categories(categories.iter().map(|c| ctx.code(c)).collect::<Result<_>>()?),
                (None, _) => Scope::AllRecords,
            };
            let now = client.backend().now().await?;
            let terms = Terms {
                patient: ctx.patient(&patient)?,
                grantee: Grantee { institution, account: account.map(|a| ctx.account(&a)).transpose()? },
                scope,
                purposes: Purposes::of(&purpose),
                decision: if deny { Decision::Deny } else { Decision::Permit },
                valid_from: now,
                valid_until: now + days * 86_400_000,
            };
            let done = consents.grant(terms).submit(&ctx.signer()?).await?;
            out.submitted(&format!("receipt #{}", done.value), &done, json!({"receipt": done.value}));
        }
        Revoke { receipt } => {
            let done = consents.revoke(receipt).submit(&ctx.signer()?).await?;
            out.submitted(&format!("receipt #{receipt} revoked"), &done, json!(null));
        }
        Check { accessor, patient, record, version, purpose, receipt } => {
            let check = AccessCheck {
                accessor: ctx.account(&accessor)?,
                patient: ctx.patient(&patient)?,
                target: Target::Version(VersionRef { record: ctx.record(&record)?, version }),
                purpose,
                at: client.backend().now().await?,
                receipt,
            };
            let answer = consents.is_authorized(check).query().await?;
            out.show(
                match answer {
                    Ok(r) => format!("authorised by receipt #{r}"),
                    Err(denial) => format!("not authorised: {denial:?}"),
                },
                match answer {
                    Ok(r) => json!({"authorized": true, "receipt": r}),
                    Err(d) => json!({"authorized": false, "denial": format!("{d:?}")}),
                },
            );
        }
        List { patient, active } => {
            let patient = ctx.patient(&patient)?;
            let mut all = Vec::new();
            let mut from = 0;
            loop {
                let (page, count) = consents.receipts(patient, from, 32, active).query().await?;
                from += 32;
                all.extend(page);
                if from >= count {
                    break;
                }
            }
            let text = all
                .iter()
                .map(|(id, r)| format!("#{id} {:?} institution #{} {:?} until {}{}", r.decision, r.grantee.institution, r.scope, r.valid_until, if r.revoked.is_some() { " REVOKED" } else { "" }))
                .collect::<Vec<_>>()
                .join("\n");
            out.show(text, json!(all.iter().map(|(id, r)| output::receipt(*id, r)).collect::<Vec<_>>()));
        }
    }
    Ok(())
}

// --- access log ------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum AccessCommand {
    /// Log accesses through the durable outbox (accessors).
    Record {
        #[arg(long)]
        patient: String,
        /// The record accessed (with --version), or use --query.
        #[arg(long, requires = "version")]
        record: Option<String>,
        #[arg(long)]
        version: Option<u32>,
        /// A query over a kind of record (`system|code`).
        #[arg(long, conflicts_with = "record")]
        query: Option<String>,
        #[arg(long, value_parser = purpose, default_value = "treatment")]
        purpose: Purpose,
        /// The consent receipt that allows it.
        #[arg(long, conflicts_with = "break_glass")]
        receipt: Option<u64>,
        /// Break the glass: life-threatening, incapacitated, urgent-care, legal-obligation.
        #[arg(long, value_parser = break_glass)]
        break_glass: Option<BreakGlassReason>,
        /// Log the same access this many times (bulk loads).
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
    /// Resubmit whatever the outbox still holds for the signer.
    Flush,
    /// Entries queued in the outbox for the signer.
    Pending,
    /// Drop a queued entry the chain refuses for good (the later ones are renumbered).
    Discard { seq: u64 },
    /// Logged entries, from the local index (synced from chain events first).
    List {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// An inclusion proof of entry INDEX against the current root (JSON).
    Prove { index: u64 },
    /// Check an inclusion proof (a file written by `prove --json`) against the chain's root.
    Verify { proof: PathBuf },
}

/// Test hook: aborts the process, as a power cut would, when `CUSTODIA_TEST_CRASH_AT` names
/// the point it has reached (`queued`, `included:N`, `cleared:N` of an outbox drain,
/// `import-batch` after a FHIR import batch).
fn crash_if_at(here: &str) {
    if std::env::var("CUSTODIA_TEST_CRASH_AT").is_ok_and(|at| at == here) {
        eprintln!("crashing at {here} (CUSTODIA_TEST_CRASH_AT)");
        std::process::abort();
    }
}

/// [`crash_if_at`] for the stages of an outbox drain.
fn crash_hook() -> impl FnMut(Stage) {
    |stage| {
        crash_if_at(&match stage {
            Stage::Queued => "queued".to_string(),
            Stage::Included(n) => format!("included:{n}"),
            Stage::Cleared(n) => format!("cleared:{n}"),
        })
    }
}

pub async fn access(ctx: &Context, command: AccessCommand) -> Result<()> {
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let log = client.access_log();
    use AccessCommand::*;
    match command {
        Record { patient, record, version, query, purpose, receipt, break_glass, count } => {
            let target = match (record, version, query) {
                (Some(r), Some(v), _) => Target::Version(VersionRef { record: ctx.record(&r)?, version: v }),
                (_, _, Some(q)) => Target::Query(ctx.code(&q)?),
                _ => return Err(Error::Input("name what was accessed: --record R --version N, or --query KIND".into())),
            };
            let authorization = match (receipt, break_glass) {
                (Some(r), _) => Authorization::Consent(r),
                (None, Some(reason)) => Authorization::BreakGlass(reason),
                (None, None) => return Err(Error::Input("name the authorisation: --receipt ID or --break-glass REASON".into())),
            };
            let access = Access { patient: ctx.patient(&patient)?, target, purpose, authorization };
            let bar = progress(&out, count as u64);
            let mut crash = crash_hook();
            let mut hook = |stage: Stage| {
                if stage == Stage::Queued {
                    eprintln!("queued {count} entr{} in the outbox", if count == 1 { "y" } else { "ies" });
                }
                crash(stage);
                if let Stage::Cleared(n) = stage {
                    bar.set_position(((n + 1) * CHUNK).min(count) as u64);
                }
            };
            let drained = log.record_with(&ctx.signer()?, &vec![access; count], &mut hook).await?;
            bar.finish_and_clear();
            out.show(
                format!("logged {} entr{} from leaf {:?} in {} transaction(s); the log holds {}", drained.appended, if drained.appended == 1 { "y" } else { "ies" }, drained.first_index, drained.transactions, drained.size),
                json!({"appended": drained.appended, "skipped": drained.skipped, "first_index": drained.first_index, "size": drained.size, "transactions": drained.transactions}),
            );
        }
        Flush => {
            let signer = ctx.signer()?;
            let pending = log.pending(signer.account())?.len();
            let drained = log.flush_with(&signer, &mut crash_hook()).await?;
            out.show(
                format!("{pending} pending: {} logged, {} already on chain", drained.appended, drained.skipped),
                json!({"pending": pending, "appended": drained.appended, "skipped": drained.skipped, "size": drained.size}),
            );
        }
        Discard { seq } => {
            let dropped = log.discard(ctx.signer()?.account(), seq).await?;
            out.show(format!("dropped queued entry {seq}: {dropped:?}"), json!({"dropped": seq}));
        }
        Pending => {
            let pending = log.pending(ctx.signer()?.account())?;
            out.show(format!("{} pending", pending.len()), json!(pending.iter().map(|e| e.seq).collect::<Vec<_>>()));
        }
        List { from, limit } => {
            log.sync().await?;
            let entries = log.entries(from, from.saturating_add(limit))?;
            let text = entries.iter().map(|(i, e)| output::entry_text(*i, e)).collect::<Vec<_>>().join("\n");
            out.show(text, json!(entries.iter().map(|(i, e)| output::entry(*i, e)).collect::<Vec<_>>()));
        }
        Prove { index } => {
            let proof = log.prove(index).await?;
            out.show(
                format!("entry {index} of {}: {} sibling hash(es)\n{}", proof.size, proof.path.len(), output::entry_text(index, &proof.entry)),
                output::proof(&proof),
            );
        }
        Verify { proof } => {
            let text = String::from_utf8(read(&proof)?).map_err(|e| Error::Input(e.to_string()))?;
            let proof = parse_proof(&text)?;
            let ok = log.verify(&proof).await?;
            out.show(
                if ok { format!("entry {} is in the log of {} (root checked on chain)", proof.index, proof.size) } else { "the proof does NOT match the chain's root".into() },
                json!({"verified": ok}),
            );
            if !ok {
                std::process::exit(2);
            }
        }
    }
    Ok(())
}

pub fn parse_proof(text: &str) -> Result<InclusionProof> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Input(format!("not a proof: {e}")))?;
    let field = |name: &str| value.get(name).ok_or_else(|| Error::Input(format!("the proof has no {name}")));
    let number = |name: &str| field(name).and_then(|v| v.as_u64().ok_or_else(|| Error::Input(format!("{name} is not a number"))));
    let entry_hex = field("entry")?.as_str().unwrap_or_default().trim_start_matches("0x").to_string();
    let entry_bytes = hex::decode(entry_hex).map_err(|e| Error::Input(format!("entry: {e}")))?;
    let entry = scale::Decode::decode(&mut &entry_bytes[..]).map_err(|e| Error::Input(format!("entry: {e}")))?;
    let path = field("path")?
        .as_array()
        .ok_or_else(|| Error::Input("path is not a list".into()))?
        .iter()
        .map(|h| parse_hash(h.as_str().unwrap_or_default()))
        .collect::<Result<_>>()?;
    Ok(InclusionProof { index: number("index")?, size: number("size")?, entry, path })
}

pub fn progress(out: &Out, total: u64) -> indicatif::ProgressBar {
    if out.json || total < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("a valid template"));
    bar
}

// --- FHIR ------------------------------------------------------------------------------------

#[derive(Subcommand)]
pub enum FhirCommand {
    /// Commit every resource of FHIR R4 files (Bundles or single resources) as record versions
    /// of their patient (custodians). Re-importing commits only what changed.
    Import {
        /// Files or directories (every *.json below them).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Re-hash local copies and compare them with the chain: Match, Mismatch, Erased, Unknown.
    Verify {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Grant the receipts a FHIR R4 Consent describes (the patient's controller); reports
    /// what the chain cannot hold.
    ConsentImport {
        file: PathBuf,
        /// JSON map of local actor references to institution ids ({"Organization/f001": 3});
        /// default: institutions.json in the state directory.
        #[arg(long)]
        institutions: Option<PathBuf>,
    },
    /// A patient's receipts as FHIR R4 Consent resources (a collection Bundle).
    ConsentExport { patient: String },
    /// Log the accesses FHIR AuditEvents describe (one file or a Bundle), through the outbox.
    AuditImport {
        file: PathBuf,
        #[arg(long)]
        institutions: Option<PathBuf>,
    },
    /// Access-log entries as IHE BALP AuditEvents (a searchset Bundle).
    AuditExport {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// A record's supersedence links as FHIR Provenance resources.
    ProvenanceExport { record: String },
}

fn institutions(ctx: &Context, path: Option<PathBuf>) -> Result<std::collections::HashMap<String, u32>> {
    let path = path.unwrap_or_else(|| ctx.path("institutions.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Input(format!("{}: {e}", path.display()))),
        Err(_) => Ok(Default::default()),
    }
}

fn read_json(path: &PathBuf) -> Result<serde_json::Value> {
    custodia_fhir::json::parse(&read(path)?).map_err(|p| Error::Input(format!("{}: {p}", path.display())))
}

fn json_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
            let mut inner: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            inner.sort();
            let nested: Vec<PathBuf> = inner.into_iter().filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "json")).collect();
            files.extend(json_files(&nested)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads and checks every file first: one bad file stops the import before anything is
/// committed, with every problem listed.
fn documents(paths: &[PathBuf]) -> Result<Vec<custodia_fhir::document::Document>> {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for file in json_files(paths)? {
        match custodia_fhir::document::read(&file) {
            Ok(document) => documents.push(document),
            Err(problem) => problems.push(problem.to_string()),
        }
    }
    match problems.is_empty() {
        true => Ok(documents),
        false => Err(Error::Input(format!("nothing was committed; {} file(s) refused:\n  {}", problems.len(), problems.join("\n  ")))),
    }
}

pub async fn fhir(ctx: &Context, command: FhirCommand) -> Result<()> {
    use custodia_client::fhir::{Fhir, ImportStage};
    let out = Out { json: ctx.global.json };
    let client = ctx.client().await?;
    let pseudonyms = ctx.pseudonyms()?;
    let fhir = Fhir::new(&client, &pseudonyms);
    match command {
        FhirCommand::Import { paths } => {
            let documents = documents(&paths)?;
            let signer = ctx.signer()?;
            let total: usize = documents.iter().map(|d| d.resources.len()).sum();
            let bar = progress(&out, total as u64);
            let mut reports = Vec::new();
            for document in &documents {
                bar.set_message(document.file.clone());
                let mut hook = |stage: ImportStage| {
                    if let ImportStage::Committed { versions } = stage {
                        bar.inc(versions as u64);
                        crash_if_at("import-batch");
                    }
                };
                let report = fhir.import(document, &signer, &mut hook).await?;
                bar.inc((report.resources - report.committed) as u64);
                reports.push(report);
            }
            bar.finish_and_clear();
            let text = reports
                .iter()
                .map(|r| format!("{}: {} resources, {} committed ({} superseding), {} unchanged{}", r.file, r.resources, r.committed, r.superseded, r.unchanged, if r.resumed { ", resumed" } else { "" }))
                .collect::<Vec<_>>()
                .join("\n");
            out.show(text, json!(reports));
        }
        FhirCommand::Verify { paths } => {
            let documents = documents(&paths)?;
            let mut all = Vec::new();
            let mut lines = Vec::new();
            for document in &documents {
                let verdicts = fhir.verify(document).await?;
                let bad = verdicts.iter().filter(|v| !v.matches()).count();
                lines.push(format!("{}: {} resources, {} not matching", document.file, verdicts.len(), bad));
                for v in verdicts.iter().filter(|v| !v.matches()) {
                    lines.push(format!("  {} v{}: {}", v.resource, v.version.map(|n| n.to_string()).unwrap_or_else(|| "-".into()), v.verification));
                }
                all.push(json!({"file": document.file, "resources": verdicts}));
            }
            let failed = all.iter().flat_map(|f| f["resources"].as_array().cloned().unwrap_or_default()).any(|v| v["verification"] != "Match");
            out.show(lines.join("\n"), json!(all));
            if failed {
                std::process::exit(2);
            }
        }
        FhirCommand::ConsentImport { file, institutions: map } => {
            use custodia_fhir::mapping::consent;
            let resolver = custodia_client::fhir::Resolver { pseudonyms: &pseudonyms, institutions: institutions(ctx, map)? };
            let value = read_json(&file)?;
            let mapped = consent::to_terms(&value, &resolver, client.backend().now().await?);
            let signer = ctx.signer()?;
            let mut receipts = Vec::new();
            for terms in mapped.value {
                receipts.push(client.consents().grant(terms).submit(&signer).await?.value);
            }
            let mut text = format!("{}: receipts {receipts:?}", file.display());
            for u in &mapped.unmapped {
                text.push_str(&format!("\n  not on chain: {}: {}", u.element, u.reason));
            }
            out.show(text, json!({"receipts": receipts, "unmapped": mapped.unmapped}));
        }
        FhirCommand::ConsentExport { patient } => {
            use custodia_fhir::mapping::consent;
            let resolver = custodia_client::fhir::Resolver { pseudonyms: &pseudonyms, institutions: Default::default() };
            let (receipts, _) = client.consents().receipts(ctx.patient(&patient)?, 0, 32, false).query().await?;
            let entries: Vec<serde_json::Value> = receipts.iter().map(|(id, r)| json!({"resource": consent::from_receipt(*id, r, &resolver)})).collect();
            let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
            println!("{}", serde_json::to_string_pretty(&bundle).expect("JSON serialises"));
        }
        FhirCommand::AuditImport { file, institutions: map } => {
            use custodia_fhir::mapping::audit;
            let resolver = custodia_client::fhir::Resolver { pseudonyms: &pseudonyms, institutions: institutions(ctx, map)? };
            let value = read_json(&file)?;
            let events: Vec<serde_json::Value> = match value.get("resourceType").and_then(|t| t.as_str()) {
                Some("Bundle") => value["entry"].as_array().into_iter().flatten().filter_map(|e| e.get("resource").cloned()).collect(),
                _ => vec![value],
            };
            let mut accesses = Vec::new();
            let mut report = Vec::new();
            for (i, event) in events.iter().enumerate() {
                if event.get("id").and_then(|id| id.as_str()).is_some_and(|id| id.starts_with("custodia-access-")) {
                    report.push(json!({"event": i, "mapped": false, "why": "exported from this access log: already logged"}));
                    continue;
                }
                match audit::to_access(event, &resolver) {
                    Ok(mut mapped) => match mapped.value.authorization {
                        Some(authorization) => {
                            accesses.push(Access { patient: mapped.value.patient, target: mapped.value.target, purpose: mapped.value.purpose, authorization });
                            mapped.unmapped.push(custodia_fhir::mapping::Unmapped::new("AuditEvent.recorded/agent", "the log records its own time and the submitting account and institution"));
                            report.push(json!({"event": i, "mapped": true, "unmapped": mapped.unmapped}));
                        }
                        None => report.push(json!({"event": i, "mapped": false, "why": "no consent or break-glass to log it under", "unmapped": mapped.unmapped})),
                    },
                    Err(why) => report.push(json!({"event": i, "mapped": false, "why": why})),
                }
            }
            let drained = client.access_log().record(&ctx.signer()?, &accesses).await?;
            out.show(
                format!("{} of {} event(s) logged from leaf {:?}\n{}", drained.appended, events.len(), drained.first_index, serde_json::to_string_pretty(&report).expect("JSON serialises")),
                json!({"appended": drained.appended, "first_index": drained.first_index, "events": report}),
            );
        }
        FhirCommand::AuditExport { from, limit } => {
            use custodia_fhir::mapping::audit;
            let resolver = custodia_client::fhir::Resolver { pseudonyms: &pseudonyms, institutions: Default::default() };
            let log = client.access_log();
            log.sync().await?;
            let entries: Vec<serde_json::Value> = log.entries(from, from.saturating_add(limit))?.iter().map(|(i, e)| json!({"resource": audit::from_entry(*i, e, &resolver)})).collect();
            let bundle = json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries});
            println!("{}", serde_json::to_string_pretty(&bundle).expect("JSON serialises"));
        }
        FhirCommand::ProvenanceExport { record } => {
            use custodia_fhir::mapping::provenance;
            let id = ctx.record(&record)?;
            let custodian = client.records().record(id).query().await?.map(|r| r.custodian).unwrap_or_default();
            let resources: Vec<serde_json::Value> = client
                .records()
                .history(id)
                .await?
                .iter()
                .filter_map(|(n, v, _)| {
                    let link = v.supersedes.as_ref()?;
                    Some(json!({"resource": provenance::to_provenance(VersionRef { record: id, version: *n }, link, v.committed_at, &format!("Organization/custodia-institution-{custodian}"))}))
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"resourceType": "Bundle", "type": "collection", "entry": resources})).expect("JSON serialises"));
        }
    }
    Ok(())
}
