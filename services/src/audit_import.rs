//! Accesses recorded elsewhere as FHIR AuditEvents (IHE BALP), mapped to access-log entries
//! for the outbox; what cannot be logged is reported event by event.

use crate::{fhir_import::Resolver, outbox::Access};
use custodia_fhir::mapping::{audit, Unmapped};
use serde_json::Value;

/// What became of one AuditEvent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MappedEvent {
    /// Its position in the file (a Bundle's entries, or 0 for a single event).
    pub event: usize,
    /// True if it became an access-log entry.
    pub mapped: bool,
    /// Why not, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What the event says that the log does not keep.
    pub unmapped: Vec<Unmapped>,
}

/// The accesses a file of AuditEvents describes, and what became of each event.
#[derive(Clone, Debug, Default)]
pub struct AuditImport {
    /// The accesses to log, in the file's order.
    pub accesses: Vec<Access>,
    /// One per event.
    pub events: Vec<MappedEvent>,
}

/// Maps an AuditEvent, or a Bundle of them, to accesses. Events this log exported itself
/// (`custodia-access-*` ids) are skipped: they are logged already.
pub fn accesses_from(value: &Value, resolver: &Resolver<'_>) -> AuditImport {
    let events: Vec<&Value> = match value.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => value["entry"].as_array().into_iter().flatten().filter_map(|e| e.get("resource")).collect(),
        _ => vec![value],
    };
    let mut import = AuditImport::default();
    for (i, event) in events.into_iter().enumerate() {
        let outcome = |mapped: bool, why: Option<String>, unmapped: Vec<Unmapped>| MappedEvent {
            event: i,
            mapped,
            why,
            unmapped,
        };
        if event.get("id").and_then(Value::as_str).is_some_and(|id| id.starts_with("custodia-access-")) {
            import.events.push(outcome(
                false,
                Some("exported from this access log: already logged".into()),
                Vec::new(),
            ));
            continue;
        }
        match audit::to_access(event, resolver) {
            Ok(mut mapped) => match mapped.value.authorization {
                Some(authorization) => {
                    let access = mapped.value;
                    import.accesses.push(Access {
                        patient: access.patient,
                        target: access.target,
                        purpose: access.purpose,
                        accessed_at: access.at,
                        authorization,
                    });
                    mapped.unmapped.push(Unmapped::new(
                        "AuditEvent.agent",
                        "the log records the submitting account and institution",
                    ));
                    import.events.push(outcome(true, None, mapped.unmapped));
                }
                None => import.events.push(outcome(
                    false,
                    Some("no consent or break-glass to log it under".into()),
                    mapped.unmapped,
                )),
            },
            Err(why) => import.events.push(outcome(false, Some(why.to_string()), Vec::new())),
        }
    }
    import
}
