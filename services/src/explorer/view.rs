//! What the explorer's JSON API answers: one patient's history (records, consents, accesses
//! with their inclusion proofs, control of the identity) and one institution's accesses, built
//! from the index's events. Facts only, in stable names; the page turns them into sentences.

use super::index::Filed;
use crate::index::InclusionProof;
use custodia_client::{
    events::SuiteEvent,
    keys::ss58,
    types::{
        access_log::{Authorization, BreakGlassReason, Entry, LogHead},
        consents::{Decision, Purpose, Purposes, Scope, Target},
        directory::{AliasChange, Controller, RecoveryOutcome, RecoveryRoute},
        records::{ErasureReason, Supersedence, VersionRef},
    },
};
use ink::primitives::AccountId;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A patient's history: `filed` (the index's events about the patient, oldest first) and the
/// inclusion proofs of their logged entries against `head`.
pub fn patient(patient: &[u8; 32], filed: &[Filed], head: &LogHead, proofs: &[InclusionProof]) -> Value {
    let mut versions: BTreeMap<([u8; 32], u32), Map<String, Value>> = BTreeMap::new();
    let mut consents: BTreeMap<u64, Map<String, Value>> = BTreeMap::new();
    let mut control = Vec::new();
    let mut accesses = Vec::new();
    let proofs: BTreeMap<u64, &InclusionProof> = proofs.iter().map(|p| (p.index, p)).collect();
    for filed in filed {
        let Some(event) = filed.decoded() else { continue };
        let when = json!({"block": filed.block, "time": filed.time});
        match event {
            SuiteEvent::VersionCommitted(e) => {
                let mut version = Map::new();
                version.insert("record".into(), hex(e.record.as_bytes()));
                version.insert("version".into(), json!(e.version));
                version.insert("custodian".into(), json!(e.custodian));
                version.insert("kind".into(), hex(e.kind.as_bytes()));
                version.insert("committed_by".into(), account(&e.committed_by));
                version.insert("committed".into(), when);
                if let Some(link) = e.supersedes {
                    version.insert(
                        "supersedes".into(),
                        json!({"how": how(link.how), "target": version_ref(&link.target)}),
                    );
                }
                versions.insert((*e.record.as_bytes(), e.version), version);
            }
            SuiteEvent::VersionSuperseded(e) => {
                if let Some(version) = versions.get_mut(&(*e.record.as_bytes(), e.version)) {
                    version.insert(
                        "superseded_by".into(),
                        json!({"how": how(e.superseded_by.how), "target": version_ref(&e.superseded_by.target), "at": when}),
                    );
                }
            }
            SuiteEvent::VersionErased(e) => {
                if let Some(version) = versions.get_mut(&(*e.record.as_bytes(), e.version)) {
                    version.insert(
                        "erased".into(),
                        json!({
                            "by": account(&e.tombstone.erased_by),
                            "time": e.tombstone.erased_at,
                            "reason": erasure_reason(e.tombstone.reason),
                            "block": filed.block,
                        }),
                    );
                }
            }
            SuiteEvent::ConsentGranted(e) => {
                let mut consent = Map::new();
                consent.insert("receipt".into(), json!(e.receipt));
                consent.insert("grantee".into(), json!(e.grantee));
                consent
                    .insert("grantee_account".into(), e.grantee_account.as_ref().map(account).unwrap_or(Value::Null));
                consent
                    .insert("decision".into(), json!(if e.decision == Decision::Permit { "permit" } else { "deny" }));
                consent.insert("scope".into(), scope(&e.scope));
                consent.insert("purposes".into(), purposes(e.purposes));
                consent.insert("valid_from".into(), json!(e.valid_from));
                consent.insert("valid_until".into(), json!(e.valid_until));
                consent.insert("granted_by".into(), account(&e.granted_by));
                consent.insert("granted".into(), when);
                consents.insert(e.receipt, consent);
            }
            SuiteEvent::ConsentRevoked(e) => {
                if let Some(consent) = consents.get_mut(&e.receipt) {
                    consent.insert("revoked".into(), json!({"by": account(&e.revoked_by), "at": when}));
                }
            }
            SuiteEvent::AccessLogged(e) => accesses.push(access(e.index, &e.entry, &when, proofs.get(&e.index))),
            SuiteEvent::PatientRegistered(e) => control.push(json!({
                "event": "registered", "custodian": e.custodian, "by": account(&e.registered_by), "at": when,
            })),
            SuiteEvent::ControlOffered(e) => control.push(json!({
                "event": "offered", "to": account(&e.offered_to), "by": account(&e.offered_by), "at": when,
            })),
            SuiteEvent::ControlChanged(e) => control.push(json!({
                "event": "changed", "from": controller(&e.old), "to": controller(&e.new),
                "by": account(&e.changed_by), "at": when,
            })),
            SuiteEvent::InstitutionLinked(e) => control.push(json!({
                "event": "institution_linked", "institution": e.institution, "by": account(&e.by), "at": when,
            })),
            SuiteEvent::InstitutionUnlinked(e) => control.push(json!({
                "event": "institution_unlinked", "institution": e.institution, "by": account(&e.by), "at": when,
            })),
            SuiteEvent::CustodianChanged(e) => control.push(json!({
                "event": "custodian_changed", "from": e.from, "to": e.to, "by": account(&e.by), "at": when,
            })),
            SuiteEvent::RecoveryRequested(e) => control.push(json!({
                "event": "recovery_requested",
                "route": if e.route == RecoveryRoute::Custodian { "custodian" } else { "guardians" },
                "to": controller(&e.to), "by": account(&e.requested_by), "executable_at": e.executable_at, "at": when,
            })),
            SuiteEvent::RecoveryApproved(e) => control.push(json!({
                "event": "recovery_approved", "guardian": account(&e.guardian), "approvals": e.approvals,
                "threshold": e.threshold, "executable_at": e.executable_at, "at": when,
            })),
            SuiteEvent::RecoveryEnded(e) => control.push(json!({
                "event": "recovery_ended", "outcome": recovery_outcome(e.outcome), "by": account(&e.by), "at": when,
            })),
            SuiteEvent::AliasChanged(e) => control.push(json!({
                "event": "alias",
                "change": match e.change {
                    AliasChange::Offered => "offered",
                    AliasChange::Accepted => "accepted",
                    AliasChange::Removed => "removed",
                },
                "alias": hex(e.patient.as_bytes()), "of": hex(e.of.as_bytes()),
                "mine": e.of.as_bytes() == patient, "by": account(&e.by), "at": when,
            })),
            SuiteEvent::RecoveryPolicyChanged(_) => {
                control.push(json!({"event": "recovery_policy_changed", "at": when}))
            }
            // A set grant's receipts are each announced by their own `ConsentGranted`; a
            // break-glass announcement repeats an entry that is in `accesses`.
            _ => {}
        }
    }
    let newest_first = |mut items: Vec<Value>| {
        items.reverse();
        Value::Array(items)
    };
    let mut versions: Vec<Value> = versions.into_values().map(Value::Object).collect();
    versions.sort_by_key(|v| v["committed"]["block"].as_u64());
    let mut consents: Vec<Value> = consents.into_values().map(Value::Object).collect();
    consents.sort_by_key(|c| c["granted"]["block"].as_u64());
    json!({
        "patient": hex(patient),
        "log": {"size": head.size, "root": hex(&head.root)},
        "versions": newest_first(versions),
        "consents": newest_first(consents),
        "accesses": newest_first(accesses),
        "control": newest_first(control),
    })
}

/// One institution's accesses (for auditors; no patient's pseudonym: the page must not help
/// anyone find patients, and each entry is named by its leaf): how many, how many break-glass, per account
/// and purpose, the break-glass entries themselves, and the accesses whose consent has since
/// been withdrawn or expired (`consent_events`: the events of the patients concerned; `now`:
/// the chain's time).
pub fn institution(institution: u32, filed: &[Filed], consent_events: &[Filed], now: u64) -> Value {
    // Each receipt's end, if it has one by now: withdrawn (when) or expired (when).
    let mut ends: BTreeMap<u64, Value> = BTreeMap::new();
    let mut until: BTreeMap<u64, u64> = BTreeMap::new();
    for f in consent_events {
        match f.decoded() {
            Some(SuiteEvent::ConsentGranted(e)) => {
                until.insert(e.receipt, e.valid_until);
            }
            Some(SuiteEvent::ConsentRevoked(e)) => {
                ends.insert(e.receipt, json!({"withdrawn": {"time": f.time, "block": f.block}}));
            }
            _ => {}
        }
    }
    for (receipt, valid_until) in until {
        if valid_until <= now {
            ends.entry(receipt).or_insert_with(|| json!({"expired": valid_until}));
        }
    }
    let mut lapsed = Vec::new();
    let mut entries = 0u64;
    let mut by_purpose: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut by_account: BTreeMap<String, u64> = BTreeMap::new();
    let mut break_glass = Vec::new();
    for filed in filed {
        let Some(SuiteEvent::AccessLogged(e)) = filed.decoded() else { continue };
        entries += 1;
        *by_purpose.entry(purpose(e.entry.purpose)).or_default() += 1;
        *by_account.entry(ss58(&e.entry.account)).or_default() += 1;
        if let Authorization::Consent(receipt) = e.entry.authorization {
            if let Some(end) = ends.get(&receipt) {
                lapsed.push(json!({
                    "leaf": e.index, "account": account(&e.entry.account),
                    "receipt": receipt, "accessed_at": e.entry.accessed_at, "consent_ended": end,
                }));
            }
        }
        if let Authorization::BreakGlass(reason) = e.entry.authorization {
            break_glass.push(json!({
                "leaf": e.index, "account": account(&e.entry.account),
                "reason": break_glass_reason(reason), "accessed_at": e.entry.accessed_at,
                "at": {"block": filed.block, "time": filed.time},
            }));
        }
    }
    let rate = if entries == 0 { 0.0 } else { break_glass.len() as f64 / entries as f64 };
    break_glass.reverse();
    lapsed.reverse();
    json!({
        "consent_since_ended": lapsed,
        "institution": institution,
        "entries": entries,
        "break_glass": {"count": break_glass.len(), "rate": rate, "entries": break_glass},
        "by_purpose": by_purpose,
        "by_account": by_account,
    })
}

fn access(leaf: u64, entry: &Entry, when: &Value, proof: Option<&&InclusionProof>) -> Value {
    let (target, query) = match entry.target {
        Target::Version(v) => (version_ref(&v), Value::Null),
        Target::Query(code) => (Value::Null, hex(code.as_bytes())),
    };
    let authorization = match entry.authorization {
        Authorization::Consent(receipt) => json!({"consent": receipt}),
        Authorization::BreakGlass(reason) => json!({"break_glass": break_glass_reason(reason)}),
    };
    json!({
        "leaf": leaf,
        "institution": entry.institution,
        "account": account(&entry.account),
        "seq": entry.seq,
        "target": target,
        "query": query,
        "purpose": purpose(entry.purpose),
        "accessed_at": entry.accessed_at,
        "logged": when,
        "authorization": authorization,
        "proof": proof.map(|p| json!({
            "size": p.size,
            "leaf": hex(&p.leaf),
            "path": p.path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        })),
    })
}

fn hex(bytes: &[u8]) -> Value {
    Value::String(custodia_fhir::mapping::hex(bytes))
}

fn account(account: &AccountId) -> Value {
    Value::String(ss58(account))
}

fn version_ref(v: &VersionRef) -> Value {
    json!({"record": hex(v.record.as_bytes()), "version": v.version})
}

fn controller(c: &Controller) -> Value {
    match c {
        Controller::Custodial(institution) => json!({"custodian": institution}),
        Controller::PatientHeld(key) => json!({"patient_key": account(key)}),
    }
}

fn scope(scope: &Scope) -> Value {
    match scope {
        Scope::Record(record) => json!({"record": hex(record.as_bytes())}),
        Scope::Version(v) => json!({"version": version_ref(v)}),
        Scope::Categories(codes) => json!({"categories": codes.iter().map(|c| hex(c.as_bytes())).collect::<Vec<_>>()}),
        Scope::AllRecords => json!("all_records"),
    }
}

fn purposes(set: Purposes) -> Value {
    // Every purpose the chain knows, in the order of their bits (the FHIR mapping's table).
    let all = custodia_fhir::mapping::consent::PURPOSES.iter().map(|(_, p)| *p);
    json!(all.filter(|p| set.contains(*p)).map(purpose).collect::<Vec<_>>())
}

fn purpose(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Treatment => "treatment",
        Purpose::EmergencyTreatment => "emergency_treatment",
        Purpose::Payment => "payment",
        Purpose::Operations => "operations",
        Purpose::Research => "research",
        Purpose::PublicHealth => "public_health",
        Purpose::PatientRequest => "patient_request",
        Purpose::Legal => "legal",
    }
}

fn how(how: Supersedence) -> &'static str {
    match how {
        Supersedence::Replaces => "replaces",
        Supersedence::Amends => "amends",
        Supersedence::Corrects => "corrects",
        Supersedence::Transforms => "transforms",
    }
}

fn erasure_reason(reason: ErasureReason) -> &'static str {
    match reason {
        ErasureReason::PatientRequest => "patient_request",
        ErasureReason::EnteredInError => "entered_in_error",
        ErasureReason::LegalOrder => "legal_order",
        ErasureReason::RetentionExpired => "retention_expired",
        ErasureReason::Other => "other",
    }
}

fn break_glass_reason(reason: BreakGlassReason) -> &'static str {
    match reason {
        BreakGlassReason::LifeThreatening => "life_threatening",
        BreakGlassReason::PatientIncapacitated => "patient_incapacitated",
        BreakGlassReason::UrgentCare => "urgent_care",
        BreakGlassReason::LegalObligation => "legal_obligation",
    }
}

fn recovery_outcome(outcome: RecoveryOutcome) -> &'static str {
    match outcome {
        RecoveryOutcome::Completed => "completed",
        RecoveryOutcome::Vetoed => "vetoed",
        RecoveryOutcome::Cancelled => "cancelled",
        RecoveryOutcome::Replaced => "replaced",
        RecoveryOutcome::ControlChanged => "control_changed",
        RecoveryOutcome::PolicyChanged => "policy_changed",
        RecoveryOutcome::CustodianChanged => "custodian_changed",
        RecoveryOutcome::RightLapsed => "right_lapsed",
    }
}
