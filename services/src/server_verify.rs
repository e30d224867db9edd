//! What a FHIR server serves now, checked against what the sync follower committed: every
//! current version (each resource read as a client reads it), or every version its history
//! holds, optionally one patient's only. Each is `Match`, `Mismatch` (the server changed
//! behind the ledger), `Erased` (erased on chain), `Unknown` (a version the ledger never saw),
//! `Skipped` (a version the follower skips by rule, e.g. no patient) or `Refused` (one the FHIR
//! reader refused, recorded by the follower); and `Gap`: a version the chain holds that the
//! server no longer has (a purged version, a deleted history entry, a lost resource).

use crate::{
    fhir_server::{instant_nanos, HistoryEntry, Served},
    sync::Follower,
    Result,
};
use custodia_client::{types::PatientId, verify::commitment, Backend};
use custodia_fhir::canonical::Scheme;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Every version in the server's history, not only the current ones.
    pub history: bool,
    /// Only this patient's resources (`Patient/<id>` or `<id>`, the server's local id).
    pub patient: Option<String>,
}

/// One served version (or one the server lost) against the chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServedVerdict {
    /// `Type/id`.
    pub resource: String,
    /// The server's version id.
    pub version: String,
    /// Match, Mismatch, Erased, Unknown, Skipped, Refused or Gap.
    pub verification: String,
    /// The version's number on chain, where one was committed.
    pub chain_version: Option<u32>,
}

/// Every verdict, and how many of each.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// One per version checked, then the gaps.
    pub verdicts: Vec<ServedVerdict>,
    /// Verdicts by kind.
    pub counts: BTreeMap<String, usize>,
}

impl VerifyReport {
    /// True if everything served matches the chain and nothing the chain holds is missing
    /// (`Skipped` versions aside: the follower never commits them).
    pub fn clean(&self) -> bool {
        self.verdicts.iter().all(|v| v.verification == "Match" || v.verification == "Skipped")
    }
}

/// Checks what `follower`'s server serves against the chain, as `scope` says.
///
/// # Errors
/// The patient a served version is about: as the follower derives it, or for a version the
/// FHIR reader refuses (which the follower could not place), the one its JSON names (itself
/// for a Patient, else its `subject` or `patient` reference), so that one patient's report
/// shows it too (as `Refused`).
fn patient_named<B: Backend>(follower: &Follower<'_, B>, reference: &str, text: &[u8]) -> Option<PatientId> {
    if let Some(patient) = follower.patient_of(reference, text) {
        return Some(patient);
    }
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    let named = match reference.starts_with("Patient/") {
        true => reference.to_string(),
        false => ["subject", "patient"].iter().find_map(|field| {
            let named = value.get(field)?.get("reference")?.as_str()?;
            named.starts_with("Patient/").then(|| named.to_string())
        })?,
    };
    Some(follower.patient(&named))
}

/// The server unreachable or its history unreadable, the chain unreachable, the store failing.
pub async fn verify<B: Backend>(follower: &Follower<'_, B>, scope: &Scope) -> Result<VerifyReport> {
    let server = follower.server();
    let history = server.history(None, 500)?;
    let mut by_resource: HashMap<&str, Vec<&HistoryEntry>> = HashMap::new();
    for entry in &history.entries {
        by_resource.entry(entry.reference.as_str()).or_default().push(entry);
    }
    let wanted: Option<PatientId> = scope
        .patient
        .as_deref()
        .map(|p| follower.patient(&if p.starts_with("Patient/") { p.to_string() } else { format!("Patient/{p}") }));
    let followed = follower.all_followed()?;
    let patient_now: HashMap<&str, PatientId> = followed.iter().map(|f| (f.reference.as_str(), f.patient)).collect();
    let of_patient = |reference: &str, entries: &[&HistoryEntry]| -> bool {
        let Some(wanted) = wanted else { return true };
        patient_now.get(reference) == Some(&wanted)
            || entries.iter().any(|e| {
                e.resource.as_deref().and_then(|text| patient_named(follower, reference, text)) == Some(wanted)
            })
    };
    let mut references: Vec<&str> = by_resource.keys().copied().collect();
    references.sort_unstable();
    let mut report = VerifyReport::default();
    let mut served: HashSet<(&str, &str)> = HashSet::new();
    for reference in references {
        let mut entries = by_resource[reference].clone();
        if !of_patient(reference, &entries) {
            continue;
        }
        entries.sort_by_key(|e| instant_nanos(&e.last_modified));
        for entry in &entries {
            served.insert((reference, entry.version.as_str()));
        }
        if scope.history {
            for entry in entries {
                report.verdicts.push(check(follower, reference, &entry.version, entry.resource.as_deref()).await?);
            }
            continue;
        }
        let newest = entries[entries.len() - 1];
        if newest.is_deletion() {
            report.verdicts.push(check(follower, reference, &newest.version, None).await?);
            continue;
        }
        // As a client reads it now.
        let verdict = match server.read(reference)? {
            Served::Current(text) => {
                let version = served_version(&text).unwrap_or_else(|| newest.version.clone());
                check(follower, reference, &version, Some(&text)).await?
            }
            Served::Gone | Served::Missing => gap(follower, reference, &newest.version)?,
        };
        report.verdicts.push(verdict);
    }
    // What the chain holds that the server no longer has.
    for f in &followed {
        if wanted.is_some_and(|w| w != f.patient) {
            continue;
        }
        for (version, committed) in follower.committed_versions(&f.reference)? {
            let lost = match scope.history {
                true => !served.contains(&(f.reference.as_str(), version.as_str())),
                false => !by_resource.contains_key(f.reference.as_str()) && version == f.version,
            };
            if lost {
                report.verdicts.push(ServedVerdict {
                    resource: f.reference.clone(),
                    version,
                    verification: "Gap".into(),
                    chain_version: Some(committed.chain_version),
                });
            }
        }
    }
    for verdict in &report.verdicts {
        *report.counts.entry(verdict.verification.clone()).or_default() += 1;
    }
    Ok(report)
}

/// `meta.versionId` of a served resource.
fn served_version(text: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(text).ok()?;
    value.pointer("/meta/versionId").and_then(|v| v.as_str()).map(str::to_string)
}

/// A version the server should serve and does not.
fn gap<B: Backend>(follower: &Follower<'_, B>, reference: &str, version: &str) -> Result<ServedVerdict> {
    let committed = follower.committed(reference, version)?;
    let verification = if committed.is_some() { "Gap" } else { "Unknown" };
    Ok(ServedVerdict {
        resource: reference.to_string(),
        version: version.to_string(),
        verification: verification.into(),
        chain_version: committed.map(|c| c.chain_version),
    })
}

/// One served version (`served`: its text; `None` for a deletion) against the chain.
async fn check<B: Backend>(
    follower: &Follower<'_, B>,
    reference: &str,
    version: &str,
    served: Option<&[u8]>,
) -> Result<ServedVerdict> {
    let verdict = |verification: &str, chain_version| ServedVerdict {
        resource: reference.to_string(),
        version: version.to_string(),
        verification: verification.to_string(),
        chain_version,
    };
    let Some(committed) = follower.committed(reference, version)? else {
        return Ok(match follower.refusal(reference, version)? {
            Some(refused) if refused.skipped => verdict("Skipped", None),
            Some(_) => verdict("Refused", None),
            None => verdict("Unknown", None),
        });
    };
    let scheme = Scheme::from_code(committed.scheme).ok_or(crate::Error::Corrupt {
        what: "a committed version's canonical scheme",
        source: scale::Error::from("unknown scheme code"),
    })?;
    let Some(bytes) = follower.canonical(reference, version, served, scheme) else {
        // Not even JSON any more: not what was committed.
        return Ok(verdict("Mismatch", Some(committed.chain_version)));
    };
    let verification = follower
        .client()
        .records()
        .verify(committed.record, committed.chain_version, commitment(&committed.salt, &bytes))
        .query()
        .await?;
    Ok(verdict(&format!("{verification:?}"), Some(committed.chain_version)))
}
