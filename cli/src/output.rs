//! Text for people, JSON for machines.

use custodia_client::{
    call::Submitted,
    events::SuiteEvent,
    keys::ss58,
    types::{
        access_log::{Authorization, Entry},
        consents::{Receipt, Scope, Target},
        directory::Controller,
        records::{Content, Link, Version},
    },
};
use custodia_services::index::InclusionProof;
use serde_json::{json, Value};

pub fn hex32(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The first bytes of an id, enough for a person to tell ids apart.
pub fn short(bytes: &[u8]) -> String {
    format!("{}…", hex::encode(&bytes[..4.min(bytes.len())]))
}

/// A record id for people: `#<institution>:<first 4 bytes of its digest>…` for an id in an
/// institution's namespace (every such id starts with the same mark), else [`short`].
pub fn short_record(record: &custodia_client::types::RecordId) -> String {
    match record.namespace() {
        Some(institution) => format!("#{institution}:{}", short(&record.as_bytes()[8..])),
        None => short(record.as_bytes()),
    }
}

/// Prints a line on standard output; a reader that went away (a closed pipe, `| head`) ends
/// the output quietly instead of with a panic.
pub fn print(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("cannot write the output: {e}");
        }
    }
}

/// `println!` that survives a closed pipe (see [`print()`]).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print(format_args!($($arg)*))
    };
}

pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `text` for people or `value` for machines.
    pub fn show(&self, text: impl std::fmt::Display, value: Value) {
        if self.json {
            crate::say!("{}", serde_json::to_string_pretty(&value).expect("JSON values serialise"));
        } else {
            crate::say!("{text}");
        }
    }

    /// Prints what a transaction did.
    pub fn submitted<T>(&self, what: &str, submitted: &Submitted<T>, value: Value) {
        let events: Vec<SuiteEvent> = submitted.events.iter().filter_map(SuiteEvent::decode).collect();
        let text = format!("{what} (block #{}){}", submitted.block, events_text(&events));
        self.show(
            text,
            json!({
                "result": value,
                "block": submitted.block,
                "block_hash": hex32(&submitted.block_hash),
                "gas_required": submitted.gas_required,
                "storage_deposit": submitted.storage_deposit.to_string(),
                "events": events_json(&events),
            }),
        );
    }
}

/// Events as the lines of a text report, one per event.
pub fn events_text(events: &[SuiteEvent]) -> String {
    events.iter().map(|event| format!("\n  event {}", describe(event))).collect()
}

/// Events as JSON: each one's name and description.
pub fn events_json(events: &[SuiteEvent]) -> Vec<Value> {
    events.iter().map(|e| json!({"name": e.name(), "text": describe(e)})).collect()
}

pub fn controller(c: &Controller) -> String {
    match c {
        Controller::Custodial(id) => format!("institution #{id} (custodial)"),
        Controller::PatientHeld(key) => format!("patient key {}", ss58(key)),
    }
}

pub fn link(link: &Link) -> Value {
    json!({"record": hex32(link.target.record.as_bytes()), "version": link.target.version, "how": format!("{:?}", link.how)})
}

pub fn version(number: u32, v: &Version, superseded_by: Option<&Link>) -> Value {
    let content = match &v.content {
        Content::Committed { commitment, locator } => json!({
            "state": "committed",
            "commitment": hex32(commitment.as_bytes()),
            "locator": String::from_utf8_lossy(locator),
        }),
        Content::Erased(t) => json!({
            "state": "erased",
            "erased_by": ss58(&t.erased_by),
            "erased_at": t.erased_at,
            "reason": format!("{:?}", t.reason),
        }),
    };
    json!({
        "version": number,
        "content": content,
        "kind": hex32(v.kind.as_bytes()),
        "committed_by": ss58(&v.committed_by),
        "committed_at": v.committed_at,
        "supersedes": v.supersedes.as_ref().map(link),
        "superseded_by": superseded_by.map(link),
    })
}

pub fn version_text(number: u32, v: &Version, superseded_by: Option<&Link>) -> String {
    let state = match &v.content {
        Content::Committed { commitment, locator } => {
            format!("committed {} at {}", short(commitment.as_bytes()), String::from_utf8_lossy(locator))
        }
        Content::Erased(t) => format!("ERASED by {} ({:?}); the tombstone stays", ss58(&t.erased_by), t.reason),
    };
    let mut text = format!("v{number}: {state}");
    if let Some(l) = &v.supersedes {
        text.push_str(&format!("; {:?} v{}", l.how, l.target.version));
    }
    if let Some(l) = superseded_by {
        text.push_str(&format!("; superseded by v{} ({:?})", l.target.version, l.how));
    }
    text
}

pub fn scope(s: &Scope) -> Value {
    match s {
        Scope::Record(r) => json!({"record": hex32(r.as_bytes())}),
        Scope::Version(v) => json!({"record": hex32(v.record.as_bytes()), "version": v.version}),
        Scope::Categories(codes) => {
            json!({"categories": codes.iter().map(|c| hex32(c.as_bytes())).collect::<Vec<_>>()})
        }
        Scope::AllRecords => json!("all records"),
    }
}

pub fn receipt(id: u64, r: &Receipt) -> Value {
    json!({
        "receipt": id,
        "patient": hex32(r.patient.as_bytes()),
        "grantee": {"institution": r.grantee.institution, "account": r.grantee.account.as_ref().map(ss58)},
        "scope": scope(&r.scope),
        "purposes": r.purposes.bits,
        "decision": format!("{:?}", r.decision),
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "granted_by": ss58(&r.granted_by),
        "granted_at": r.granted_at,
        "revoked": r.revoked.map(|v| json!({"by": ss58(&v.revoked_by), "at": v.revoked_at})),
    })
}

pub fn target(t: &Target) -> Value {
    match t {
        Target::Version(v) => json!({"record": hex32(v.record.as_bytes()), "version": v.version}),
        Target::Query(code) => json!({"query": hex32(code.as_bytes())}),
    }
}

pub fn authorization(a: &Authorization) -> Value {
    match a {
        Authorization::Consent(receipt) => json!({"consent": receipt}),
        Authorization::BreakGlass(reason) => json!({"break_glass": format!("{reason:?}")}),
    }
}

pub fn entry(index: u64, e: &Entry) -> Value {
    json!({
        "index": index,
        "institution": e.institution,
        "account": ss58(&e.account),
        "seq": e.seq,
        "patient": hex32(e.patient.as_bytes()),
        "target": target(&e.target),
        "purpose": format!("{:?}", e.purpose),
        "at": e.at,
        "authorization": authorization(&e.authorization),
    })
}

pub fn entry_text(index: u64, e: &Entry) -> String {
    let what = match e.target {
        Target::Version(v) => format!("record {} v{}", short_record(&v.record), v.version),
        Target::Query(code) => format!("query {}", short(code.as_bytes())),
    };
    let why = match e.authorization {
        Authorization::Consent(r) => format!("consent #{r}"),
        Authorization::BreakGlass(reason) => format!("BREAK-GLASS ({reason:?})"),
    };
    format!(
        "#{index} institution #{} ({}) seq {} patient {} {what} for {:?} under {why}",
        e.institution,
        ss58(&e.account),
        e.seq,
        short(e.patient.as_bytes()),
        e.purpose
    )
}

pub fn proof(p: &InclusionProof) -> Value {
    json!({
        "index": p.index,
        "size": p.size,
        "entry": hex32(&p.leaf),
        "path": p.path.iter().map(|h| hex32(h)).collect::<Vec<_>>(),
    })
}

/// One line per event, for people.
pub fn describe(event: &SuiteEvent) -> String {
    use SuiteEvent::*;
    match event {
        ProposalCreated(e) => format!("ProposalCreated #{} by {}", e.proposal, ss58(&e.proposer)),
        ProposalApproved(e) => format!("ProposalApproved #{} ({}/{})", e.proposal, e.approvals, e.threshold),
        ProposalExecuted(e) => format!("ProposalExecuted #{}", e.proposal),
        ProposalCancelled(e) => format!("ProposalCancelled #{}", e.proposal),
        InstitutionAdmitted(e) => {
            format!("InstitutionAdmitted #{} {:?} roles {:03b}", e.institution, e.kind, e.roles.bits)
        }
        RolesChanged(e) => format!("RolesChanged #{} {:03b} -> {:03b}", e.institution, e.old.bits, e.new.bits),
        InstitutionRemoved(e) => format!("InstitutionRemoved #{}", e.institution),
        AdminsChanged(e) => format!("AdminsChanged threshold {} -> {}", e.old_threshold, e.new_threshold),
        DependentAttached(e) => format!("DependentAttached {}", ss58(&e.contract)),
        DependentDetached(e) => format!("DependentDetached {}", ss58(&e.contract)),
        CodeChanged(e) => format!("CodeChanged {} to code 0x{}", ss58(&e.contract), hex::encode(e.code_hash)),
        AccountInvited(e) => {
            format!("AccountInvited {} to #{} (it joins with its own key)", ss58(&e.account), e.institution)
        }
        AccountAdded(e) => format!("AccountAdded {} to #{}", ss58(&e.account), e.institution),
        AccountRemoved(e) => format!("AccountRemoved {} from #{}", ss58(&e.account), e.institution),
        OperatorChanged(e) => format!("OperatorChanged #{}: {} -> {}", e.institution, ss58(&e.old), ss58(&e.new)),
        HandOverApproved(e) => format!("HandOverApproved #{} -> #{}", e.from, e.to),
        InstitutionLinked(e) => format!("InstitutionLinked #{} to {}", e.institution, short(e.patient.as_bytes())),
        InstitutionUnlinked(e) => {
            format!("InstitutionUnlinked #{} from {}", e.institution, short(e.patient.as_bytes()))
        }
        CustodianChanged(e) => {
            format!("CustodianChanged {}: #{} -> #{}", short(e.patient.as_bytes()), e.from, e.to)
        }
        AliasChanged(e) => format!(
            "AliasChanged {} as an alias of {}: {:?} by {}",
            short(e.patient.as_bytes()),
            short(e.of.as_bytes()),
            e.change,
            ss58(&e.by)
        ),
        PatientRegistered(e) => format!("PatientRegistered {} custodian #{}", short(e.patient.as_bytes()), e.custodian),
        ControlOffered(e) => format!("ControlOffered {} to {}", short(e.patient.as_bytes()), ss58(&e.offered_to)),
        ControlChanged(e) => {
            format!("ControlChanged {}: {} -> {}", short(e.patient.as_bytes()), controller(&e.old), controller(&e.new))
        }
        RecoveryRequested(e) => format!(
            "RecoveryRequested {} by {} ({:?}) to {}, {}",
            short(e.patient.as_bytes()),
            ss58(&e.requested_by),
            e.route,
            controller(&e.to),
            e.executable_at.map_or("waiting for the guardians' threshold".into(), |at| format!("due at {at} ms"))
        ),
        RecoveryApproved(e) => format!(
            "RecoveryApproved {} by guardian {} ({}/{})",
            short(e.patient.as_bytes()),
            ss58(&e.guardian),
            e.approvals,
            e.threshold
        ),
        RecoveryEnded(e) => format!("RecoveryEnded {} {:?} by {}", short(e.patient.as_bytes()), e.outcome, ss58(&e.by)),
        RecoveryPolicyChanged(e) => format!(
            "RecoveryPolicyChanged {}: custodian {}, {} guardian(s), threshold {}",
            short(e.patient.as_bytes()),
            if e.policy.custodial { "may recover" } else { "may not recover" },
            e.policy.guardians.len(),
            e.policy.threshold
        ),
        RecoveryParamsChanged(e) => format!(
            "RecoveryParamsChanged delay {} ms, custodial fallback {}",
            e.params.delay_ms,
            if e.params.custodial_fallback_required { "required" } else { "optional" }
        ),
        VersionCommitted(e) => format!(
            "VersionCommitted record {} v{} commitment {}{}",
            short_record(&e.record),
            e.version,
            short(e.commitment.as_bytes()),
            e.supersedes.map(|l| format!(" ({:?} v{})", l.how, l.target.version)).unwrap_or_default()
        ),
        VersionSuperseded(e) => format!(
            "VersionSuperseded record {} v{} by v{} ({:?})",
            short_record(&e.record),
            e.version,
            e.superseded_by.target.version,
            e.superseded_by.how
        ),
        VersionErased(e) => {
            format!("VersionErased record {} v{} ({:?})", short_record(&e.record), e.version, e.tombstone.reason)
        }
        ConsentGranted(e) => format!(
            "ConsentGranted #{} patient {} to institution #{} ({:?})",
            e.receipt,
            short(e.patient.as_bytes()),
            e.grantee,
            e.decision
        ),
        ConsentRevoked(e) => format!("ConsentRevoked #{} by {}", e.receipt, ss58(&e.revoked_by)),
        ConsentSetGranted(e) => format!(
            "ConsentSetGranted {} receipts {:?}{}",
            short(e.patient.as_bytes()),
            e.receipts,
            if e.new { "" } else { " (granted before: nothing new)" }
        ),
        AccessLogged(e) => format!("AccessLogged {}", entry_text(e.index, &e.entry)),
        BreakGlassAccess(e) => format!(
            "BreakGlassAccess patient {}: {} entr{} from #{} by institution #{} ({:?}; its break-glass count is now {})",
            short(e.patient.as_bytes()),
            e.entries,
            if e.entries == 1 { "y" } else { "ies" },
            e.first_index,
            e.institution,
            e.reason,
            e.count
        ),
        LogExtended(e) => format!("LogExtended size {} root {}", e.size, short(&e.root)),
    }
}

/// A progress bar on standard error, hidden for JSON output.
pub fn progress(out: &Out, total: u64) -> indicatif::ProgressBar {
    if out.json || total < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("a valid template"));
    bar
}
