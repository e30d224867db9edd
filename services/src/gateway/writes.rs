//! Writes through the gateway: create and update by a client of the patient's custodian,
//! forwarded to the FHIR server; the hosted sync follower commits the stored version (it is
//! the one component that commits), and the answer says whether the commitment is in
//! (`X-Custodia-Commitment: committed`, else `pending`: the follower commits it on its next
//! pass, so a stored version is never left without its commitment).

use super::{auth::Session, fhir_response, outcome::Refusal, Body, Gateway};
use custodia_client::{
    types::{directory::Role, PatientId},
    Backend,
};
use hyper::Response;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long a write waits for its version to be committed before answering `pending`.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

impl<B: Backend> Gateway<'_, B> {
    /// `POST Type` (`id`: `None`) or `PUT Type/id`.
    pub(super) async fn write(
        &self,
        session: &Session,
        kind: &str,
        id: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, Refusal> {
        let value: Value = serde_json::from_slice(&body).map_err(|_| Refusal::bad_request("the body is not JSON"))?;
        if value["resourceType"].as_str() != Some(kind) {
            return Err(Refusal::bad_request(format!("the body is not a {kind} resource")));
        }
        match (id, value["id"].as_str()) {
            (Some(path_id), Some(body_id)) if path_id == body_id => {}
            (Some(_), _) => return Err(Refusal::bad_request("the resource's id must be the id in the URL")),
            (None, Some(_)) => {
                return Err(Refusal::bad_request("a created resource has no id yet: the server assigns it"))
            }
            (None, None) => {}
        }
        // Whose record it is: a Patient created now is a new patient of this institution.
        let patient = match (kind, id) {
            ("Patient", None) => None,
            (_, id) => {
                // A created resource has no id yet: read its patient as if it had one.
                let text = match id {
                    Some(_) => body.clone(),
                    None => {
                        let mut named = value.clone();
                        named["id"] = json!("new");
                        serde_json::to_vec(&named).expect("JSON values serialise")
                    }
                };
                let reference = format!("{kind}/{}", id.unwrap_or("new"));
                let patient = self.follower.patient_of(&reference, &text).ok_or_else(|| {
                    Refusal::unprocessable(
                        "the resource names no patient (subject or patient), so the ledger cannot hold it",
                    )
                })?;
                Some(patient)
            }
        };
        // An update may move a resource to another patient: the patient it belongs to now must
        // be one this institution keeps too.
        let current = match id {
            Some(id) => {
                let key = crate::sync::resource_key(self.follower.server().base(), &format!("{kind}/{id}"));
                self.follower.followed(key).map_err(|e| self.store_failed(e))?.map(|f| f.patient)
            }
            None => None,
        };
        self.check_custodian(session, patient.into_iter().chain(current)).await?;
        let answer = match id {
            Some(id) => self.upstream.send("PUT", &format!("{kind}/{id}"), body).await?,
            None => self.upstream.send("POST", kind, body).await?,
        };
        self.metrics.upstream_latency(answer.took);
        if answer.status >= 500 {
            return Err(Refusal::bad_upstream("exception", format!("the FHIR server answered {}", answer.status)));
        }
        if !(200..300).contains(&answer.status) {
            // The server's own refusal (validation, conflict): its OperationOutcome as it is.
            return Ok(fhir_response(answer.status, answer.body, &[]));
        }
        let stored: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let (Some(stored_id), Some(version)) =
            (stored["id"].as_str(), stored.pointer("/meta/versionId").and_then(Value::as_str))
        else {
            return Err(Refusal::bad_upstream(
                "invalid",
                "the FHIR server stored the resource but did not say which version",
            ));
        };
        if !super::request::is_fhir_id(stored_id) || !super::request::is_fhir_id(version) {
            return Err(Refusal::bad_upstream(
                "invalid",
                "the FHIR server stored the resource under an id that is not a FHIR id",
            ));
        }
        let reference = format!("{kind}/{stored_id}");
        let committed = self.await_commit(&reference, version).await;
        self.log_line("write", json!({"status": answer.status, "committed": committed}));
        let location = format!("{}/{reference}/_history/{version}", self.config.public_url);
        let headers = [
            ("Location", location),
            ("ETag", format!("W/\"{version}\"")),
            ("X-Custodia-Commitment", if committed { "committed".into() } else { "pending".into() }),
        ];
        Ok(fhir_response(answer.status, answer.body, &headers))
    }

    /// Only a custodian-role account of the institution this gateway commits for may write,
    /// and only records of patients that institution is the custodian of (or new ones): the
    /// patient the resource names and, for an update, the one it belongs to now.
    async fn check_custodian(
        &self,
        session: &Session,
        patients: impl Iterator<Item = PatientId>,
    ) -> Result<(), Refusal> {
        let directory = self.client.directory();
        let unreachable = |_| super::chain_down();
        let caller = directory.membership(session.account).query().await.map_err(unreachable)?;
        let Some(caller) = caller.filter(|m| m.roles.contains(Role::Custodian)) else {
            return Err(Refusal::forbidden("only a custodian institution's client may write records"));
        };
        let ours = directory.membership(self.config.custodian.account()).query().await.map_err(unreachable)?;
        if ours.map(|m| m.institution) != Some(caller.institution) {
            return Err(Refusal::forbidden("only the institution that keeps these records may write them here"));
        }
        for patient in patients {
            if let Some(info) = directory.patient(patient).query().await.map_err(unreachable)? {
                if info.custodian != caller.institution {
                    return Err(Refusal::forbidden("only the patient's custodian may write their records"));
                }
            }
        }
        Ok(())
    }

    /// Waits (at most `COMMIT_WAIT`) for the follower to commit `version` of `reference`.
    async fn await_commit(&self, reference: &str, version: &str) -> bool {
        let deadline = Instant::now() + COMMIT_WAIT;
        loop {
            if matches!(self.follower.committed(reference, version), Ok(Some(_))) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.await_sync_pass(left).await {
                return matches!(self.follower.committed(reference, version), Ok(Some(_)));
            }
        }
    }
}
