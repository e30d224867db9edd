//! Supersedence links <-> `DocumentReference.relatesTo` and Provenance.
//!
//! relatesTo codes: `replaces` -> Replaces, `appends` -> Amends, `transforms` -> Transforms;
//! `signs` has no supersedence meaning and is reported. Provenance: each `target` is a new
//! version; an `entity` with role `revision` is the version it replaces, `derivation` one it
//! transforms; `removal` means the entity was erased; `quotation` and `source` are reported.

use super::{hex, split_version, time, Mapped, Resolve, Unmapped};
use custodia_types::{
    records::{Link, Supersedence, VersionRef},
    RecordId,
};
use serde_json::{json, Value};

/// A reference to a version as FHIR gives it: the record, and the version if `_history/n` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The record.
    pub record: RecordId,
    /// The version, if the reference names one.
    pub version: Option<u32>,
}

/// A link read from FHIR: `from` (the newer version) `how` `to` (the earlier one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLink {
    /// The newer version (for relatesTo: the DocumentReference itself).
    pub from: Versioned,
    /// What it does to the earlier one.
    pub how: Supersedence,
    /// The earlier version.
    pub to: Versioned,
    /// The FHIR reference to the newer version, as written (for relatesTo: `DocumentReference/<id>`).
    pub from_reference: String,
    /// The FHIR reference to the earlier version, as written.
    pub to_reference: String,
}

/// What a Provenance says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvenanceFacts {
    /// Supersedence links.
    pub links: Vec<ReadLink>,
    /// Versions it says were removed (erased).
    pub removed: Vec<Versioned>,
    /// When it was recorded (ms).
    pub recorded: Option<u64>,
}

fn versioned(reference: &str, resolve: &dyn Resolve) -> Versioned {
    let (base, version) = split_version(reference);
    Versioned { record: resolve.record(base), version }
}

/// Reads `DocumentReference.relatesTo`.
pub fn relates_to(document: &Value, resolve: &dyn Resolve) -> Mapped<Vec<ReadLink>> {
    let mut unmapped = Vec::new();
    let id = document.get("id").and_then(Value::as_str).unwrap_or("");
    let version = document.pointer("/meta/versionId").and_then(Value::as_str).and_then(|v| v.parse().ok());
    let from = Versioned { record: resolve.record(&format!("DocumentReference/{id}")), version };
    let mut links = Vec::new();
    for (i, relation) in document.get("relatesTo").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let code = relation.get("code").and_then(Value::as_str).unwrap_or("");
        let Some(target) = relation.pointer("/target/reference").and_then(Value::as_str) else {
            unmapped.push(Unmapped::new(
                format!("DocumentReference.relatesTo[{i}].target"),
                "no reference (an identifier alone cannot be resolved to a record)",
            ));
            continue;
        };
        let how = match code {
            "replaces" => Supersedence::Replaces,
            "appends" => Supersedence::Amends,
            "transforms" => Supersedence::Transforms,
            other => {
                unmapped.push(Unmapped::new(
                    format!("DocumentReference.relatesTo[{i}].code"),
                    format!("{other:?} is not a supersedence (a signature does not change the signed version)"),
                ));
                continue;
            }
        };
        links.push(ReadLink {
            from,
            how,
            to: versioned(target, resolve),
            from_reference: format!("DocumentReference/{id}"),
            to_reference: target.to_string(),
        });
    }
    Mapped { value: links, unmapped }
}

/// Reads a Provenance.
pub fn provenance(provenance: &Value, resolve: &dyn Resolve) -> Mapped<ProvenanceFacts> {
    let mut unmapped = Vec::new();
    let mut facts = ProvenanceFacts {
        recorded: provenance.get("recorded").and_then(Value::as_str).and_then(time::parse),
        ..Default::default()
    };
    let targets: Vec<(Versioned, String)> = provenance
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("reference").and_then(Value::as_str))
        .map(|r| (versioned(r, resolve), r.to_string()))
        .collect();
    for (i, entity) in provenance.get("entity").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let role = entity.get("role").and_then(Value::as_str).unwrap_or("");
        let Some(what) = entity.pointer("/what/reference").and_then(Value::as_str) else {
            unmapped.push(Unmapped::new(format!("Provenance.entity[{i}].what"), "no reference"));
            continue;
        };
        let to = versioned(what, resolve);
        let to_reference = what.to_string();
        let how = match role {
            "revision" => Supersedence::Replaces,
            "derivation" => Supersedence::Transforms,
            "removal" => {
                facts.removed.push(to);
                unmapped.push(Unmapped::new(
                    format!("Provenance.entity[{i}]"),
                    "a removal is an erasure: erase the version on chain (a Provenance alone does not erase)",
                ));
                continue;
            }
            other => {
                unmapped.push(Unmapped::new(
                    format!("Provenance.entity[{i}].role"),
                    format!("{other:?}: a source or quotation is not a supersedence"),
                ));
                continue;
            }
        };
        facts.links.extend(targets.iter().map(|(from, from_reference)| ReadLink {
            from: *from,
            how,
            to,
            from_reference: from_reference.clone(),
            to_reference: to_reference.clone(),
        }));
    }
    for key in ["agent", "signature", "policy", "location", "reason", "activity"] {
        if provenance.get(key).is_some() {
            unmapped.push(Unmapped::new(
                format!("Provenance.{key}"),
                "kept off chain: the chain records who committed, when, and the link",
            ));
        }
    }
    Mapped { value: facts, unmapped }
}

/// A link as `DocumentReference.relatesTo` (records by their on-chain ids).
pub fn to_relates_to(link: &Link) -> Value {
    let code = match link.how {
        Supersedence::Replaces | Supersedence::Corrects => "replaces",
        Supersedence::Amends => "appends",
        Supersedence::Transforms => "transforms",
    };
    json!({"code": code, "target": {"identifier": {"system": "urn:custodia:record", "value": format!("{}#{}", hex(link.target.record.as_bytes()), link.target.version)}}})
}

/// A committed version and its link as a Provenance (target: the new version; entity: the
/// earlier one, role `revision` or `derivation`).
pub fn to_provenance(new: VersionRef, link: &Link, recorded: u64, institution_reference: &str) -> Value {
    let id = |v: &VersionRef| json!({"identifier": {"system": "urn:custodia:record", "value": format!("{}#{}", hex(v.record.as_bytes()), v.version)}});
    let role = match link.how {
        Supersedence::Transforms => "derivation",
        _ => "revision",
    };
    let mut activity = json!(null);
    if link.how == Supersedence::Corrects {
        activity = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE"}], "text": "correction"});
    }
    let mut value = json!({
        "resourceType": "Provenance",
        "target": [id(&new)],
        "recorded": time::format(recorded),
        "agent": [{"who": {"reference": institution_reference}}],
        "entity": [{"role": role, "what": id(&link.target)}],
    });
    if !activity.is_null() {
        value["activity"] = activity;
    }
    value
}
