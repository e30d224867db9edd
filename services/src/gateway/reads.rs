//! Reads through the gateway: read, vread, searches within one patient's compartment, and the
//! Patient of a network pseudonym. Each served version was committed, authorised on chain,
//! checked against its commitment and logged durably before the answer leaves.

use super::{
    auth::Session,
    fhir_response,
    outcome::Refusal,
    pseudonym_text,
    request::PatientParam,
    request::{percent_decode, percent_encode},
    subset::Subset,
    Body, Gateway, PSEUDONYM_QUERY,
};
use crate::sync::{resource_key, Committed};
use custodia_client::{
    types::{
        access_log::{Authorization, BreakGlassReason, NewEntry},
        consents::Target,
        records::VersionRef,
        PatientId, Timestamp,
    },
    Backend,
};
use hyper::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, value::RawValue};
use std::time::Duration;

/// How long a read waits for the sync follower to commit a version it does not know yet.
const SYNC_WAIT: Duration = Duration::from_secs(3);

/// A search within one patient's compartment, as asked.
pub(super) struct SearchQuery<'a> {
    /// The resource types read: the one searched, or for `$everything` every served type the
    /// token's scopes allow.
    pub kinds: &'a [&'a str],
    pub patient: &'a PatientParam,
    pub count: Option<u32>,
    pub cursor: Option<&'a str>,
    /// `Patient/id/$everything` rather than a search of `kinds[0]`.
    pub everything: bool,
}

/// A version served, with what authorised it.
pub(super) struct Served {
    pub body: Vec<u8>,
    pub version: String,
    pub authorization: Authorization,
}

/// What a resource's text says about itself.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    kind: String,
    id: Option<String>,
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "versionId")]
    version: Option<String>,
}

#[derive(Deserialize)]
struct UpstreamBundle<'r> {
    #[serde(rename = "resourceType")]
    kind: String,
    #[serde(default)]
    link: Vec<Link>,
    #[serde(default, borrow)]
    entry: Vec<UpstreamEntry<'r>>,
}

#[derive(Deserialize, Serialize)]
struct Link {
    relation: String,
    url: String,
}

#[derive(Deserialize)]
struct UpstreamEntry<'r> {
    #[serde(borrow)]
    resource: Option<&'r RawValue>,
}

#[derive(Serialize)]
struct SearchSet<'r> {
    #[serde(rename = "resourceType")]
    kind: &'static str,
    #[serde(rename = "type")]
    bundle_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<usize>,
    link: Vec<Link>,
    entry: Vec<SearchEntry<'r>>,
}

#[derive(Serialize)]
struct SearchEntry<'r> {
    #[serde(rename = "fullUrl", skip_serializing_if = "Option::is_none")]
    full_url: Option<String>,
    resource: &'r RawValue,
    search: serde_json::Value,
}

/// A version found in a search, resolved to what the ledger holds.
struct Candidate<'r> {
    reference: String,
    version: String,
    committed: Committed,
    text: &'r RawValue,
}

fn head_of(text: &[u8]) -> Result<Head, Refusal> {
    serde_json::from_slice(text)
        .map_err(|_| Refusal::bad_upstream("invalid", "the FHIR server answered something that is not a FHIR resource"))
}

fn authorization_words(authorization: &Authorization) -> String {
    match authorization {
        Authorization::Consent(receipt) => format!("receipt {receipt}"),
        Authorization::BreakGlass(_) => "break-glass".into(),
    }
}

impl<B: Backend> Gateway<'_, B> {
    /// `GET Type/id` or `GET Type/id/_history/vid`.
    pub(super) async fn read(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        kind: &str,
        id: &str,
        version: Option<&str>,
        subset: &Subset,
    ) -> Result<Response<Body>, Refusal> {
        let served = self.read_resource(session, break_glass, kind, id, version).await?;
        let body = subset.apply(&served.body)?;
        let headers = [
            ("ETag", format!("W/\"{}\"", served.version)),
            ("X-Custodia-Authorization", authorization_words(&served.authorization)),
        ];
        Ok(fhir_response(200, body, &headers))
    }

    /// A read: resolve, decide, forward, verify, log.
    pub(super) async fn read_resource(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        kind: &str,
        id: &str,
        version: Option<&str>,
    ) -> Result<Served, Refusal> {
        let reference = format!("{kind}/{id}");
        let (mut known, mut committed) = self.known(&reference, version).await?;
        let mut patient = self.patient_of(&committed).await?;
        let at = self.chain_now().await?;
        let mut authorization = self.decide_one(session, break_glass, at, patient, target(&committed)).await?;
        if committed.deleted {
            return Err(Refusal::gone("this resource was deleted at the source"));
        }
        let path = match version {
            Some(v) => format!("{reference}/_history/{v}"),
            None => reference.clone(),
        };
        let answer = self.upstream.get(&path).await?;
        self.metrics.upstream_latency(answer.took);
        match answer.status {
            200 => {}
            404 => return Err(Refusal::not_found("the FHIR server does not have it")),
            410 => return Err(Refusal::gone("the FHIR server deleted it")),
            status => return Err(Refusal::bad_upstream("exception", format!("the FHIR server answered {status}"))),
        }
        let head = head_of(&answer.body)?;
        let served_version = head.meta.and_then(|m| m.version).ok_or_else(|| {
            Refusal::bad_upstream(
                "invalid",
                "the FHIR server served a resource without meta.versionId; it cannot be verified",
            )
        })?;
        if !super::request::is_fhir_id(&served_version) {
            return Err(Refusal::bad_upstream("invalid", "the FHIR server served a version id that is not a FHIR id"));
        }
        if head.kind != kind || head.id.as_deref() != Some(id) || version.is_some_and(|v| v != served_version) {
            return Err(Refusal::bad_upstream(
                "invalid",
                "the FHIR server served another resource than the one asked for",
            ));
        }
        if served_version != known {
            // The server stored a newer version since the follower's last pass: it must be
            // committed (and authorised) before it is served.
            let (now_known, now_committed) = self.known(&reference, Some(&served_version)).await?;
            if (now_committed.record, now_committed.chain_version) != (committed.record, committed.chain_version) {
                patient = self.patient_of(&now_committed).await?;
                authorization = self.decide_one(session, break_glass, at, patient, target(&now_committed)).await?;
            }
            (known, committed) = (now_known, now_committed);
        }
        self.verify(&reference, &known, &committed, &answer.body).await?;
        self.log(session.account, vec![entry(session, at, patient, target(&committed), authorization)]).await?;
        Ok(Served { body: answer.body, version: known, authorization })
    }

    /// `GET Patient?identifier=urn:custodia:patient|…`: the local Patient of a pseudonym, as
    /// a searchset of one (read and logged as a read of that Patient).
    pub(super) async fn patient_by_pseudonym(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        patient: PatientId,
        subset: &Subset,
    ) -> Result<Response<Body>, Refusal> {
        let local = self.local_patient(patient)?;
        let served = self.read_resource(session, break_glass, "Patient", &local, None).await?;
        let text = String::from_utf8(subset.apply(&served.body)?)
            .map_err(|_| Refusal::bad_upstream("invalid", "not UTF-8"))?;
        let raw = RawValue::from_string(text).map_err(|_| Refusal::bad_upstream("invalid", "not JSON"))?;
        let bundle = SearchSet {
            kind: "Bundle",
            bundle_type: "searchset",
            total: Some(1),
            link: vec![Link {
                relation: "self".into(),
                url: format!(
                    "{}/Patient?identifier={PSEUDONYM_QUERY}{}{}",
                    self.config.public_url,
                    pseudonym_text(patient),
                    subset.query()
                ),
            }],
            entry: vec![SearchEntry {
                full_url: Some(format!("{}/Patient/{local}", self.config.public_url)),
                resource: &raw,
                search: json!({"mode": "match"}),
            }],
        };
        Ok(fhir_response(200, serde_json::to_vec(&bundle).expect("serialises"), &[]))
    }

    /// `GET Type?patient=…`: the query decided and logged for the patient's records of that
    /// kind, then every version found decided, verified and logged; only those authorised are
    /// returned. `GET Patient/id/$everything` the same for every kind at once: a query decided
    /// (in one call) and logged per kind, the kinds not authorised left out (a 403 only if none
    /// is); the resources of other types that the server adds (Practitioners, Organizations)
    /// are not records of the patient on the ledger and are not served.
    pub(super) async fn search(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        query: SearchQuery<'_>,
        subset: &Subset,
    ) -> Result<Response<Body>, Refusal> {
        let SearchQuery { kinds, patient, count, cursor, everything } = query;
        let (local, pseudonym, asked) = match patient {
            PatientParam::Local(local) => {
                (local.clone(), self.follower.patient(&format!("Patient/{local}")), format!("patient={local}"))
            }
            PatientParam::Pseudonym(pseudonym) => (
                self.local_patient(*pseudonym)?,
                *pseudonym,
                format!("patient:identifier={PSEUDONYM_QUERY}{}", pseudonym_text(*pseudonym)),
            ),
        };
        let at = self.chain_now().await?;
        let queries: Vec<(PatientId, Target)> =
            kinds.iter().map(|kind| (pseudonym, Target::Query(self.follower.kind(kind)))).collect();
        let mut entries = Vec::new();
        let mut permitted = Vec::new();
        let mut denial = None;
        for ((kind, (_, query)), decision) in
            kinds.iter().zip(&queries).zip(self.decide(session, break_glass, at, &queries).await?)
        {
            match decision {
                Ok(authorization) => {
                    permitted.push(*kind);
                    entries.push(entry(session, at, pseudonym, *query, authorization));
                }
                Err(denied) => {
                    denial.get_or_insert(denied);
                }
            }
        }
        if permitted.is_empty() {
            return Err(denial.map_or_else(super::chain_down, |denied| self.denied(&denied)));
        }
        let count = count.unwrap_or(20);
        let kind = kinds[0];
        let mut path = match everything {
            true => format!("Patient/{local}/$everything?_count={count}"),
            false => {
                let selector = if kind == "Patient" { "_id" } else { "patient" };
                format!("{kind}?{selector}={local}&_count={count}")
            }
        };
        if let Some(cursor) = cursor {
            path.push_str(&format!("&_cursor={}", percent_encode(cursor)));
        }
        let answer = self.upstream.get(&path).await?;
        self.metrics.upstream_latency(answer.took);
        if answer.status != 200 {
            return Err(Refusal::bad_upstream(
                "exception",
                format!("the FHIR server answered the search with {}", answer.status),
            ));
        }
        let bundle: UpstreamBundle = serde_json::from_slice(&answer.body).map_err(|_| {
            Refusal::bad_upstream("invalid", "the FHIR server answered the search with something that is not a Bundle")
        })?;
        if bundle.kind != "Bundle" {
            return Err(Refusal::bad_upstream(
                "invalid",
                "the FHIR server answered the search with something that is not a Bundle",
            ));
        }
        let (candidates, mut withheld) = self.candidates(&bundle, &permitted, pseudonym).await?;
        let targets: Vec<(PatientId, Target)> = candidates.iter().map(|c| (pseudonym, target(&c.committed))).collect();
        let decisions = self.decide(session, break_glass, at, &targets).await?;
        let mut served = Vec::new();
        for (candidate, decision) in candidates.into_iter().zip(decisions) {
            let Ok(authorization) = decision else { continue };
            match self
                .verify(&candidate.reference, &candidate.version, &candidate.committed, candidate.text.get().as_bytes())
                .await
            {
                Ok(()) => {
                    entries.push(entry(session, at, pseudonym, target(&candidate.committed), authorization));
                    served.push(candidate);
                }
                Err(refusal) if refusal.status == 502 || refusal.status == 410 => withheld += 1,
                Err(refusal) => return Err(refusal),
            }
        }
        self.log(session.account, entries).await?;
        let base = &self.config.public_url;
        // The next page: the server's cursor, handed out in a link to the gateway (a server
        // that pages any other way is not passed on: a truncated search would look complete).
        let next = match bundle.link.iter().find(|l| l.relation == "next") {
            None => None,
            Some(link) => Some(cursor_of(&link.url).ok_or_else(|| {
                Refusal::bad_upstream(
                    "not-supported",
                    "the FHIR server pages this search in a way the gateway cannot pass on",
                )
            })?),
        };
        let own = match everything {
            true => format!("{base}/Patient/{local}/$everything?_count={count}{}", subset.query()),
            false => format!("{base}/{kind}?{asked}{}&_count={count}", subset.query()),
        };
        let mut link = vec![Link { relation: "self".into(), url: own.clone() }];
        if let Some(next) = &next {
            link.push(Link { relation: "next".into(), url: format!("{own}&_cursor={}", percent_encode(next)) });
        }
        // Subsets of the verified versions (kept raw, as served, when nothing is left out).
        let subsets: Vec<Option<Box<RawValue>>> = match subset.is_full() {
            true => Vec::new(),
            false => served
                .iter()
                .map(|c| {
                    let text = String::from_utf8(subset.apply(c.text.get().as_bytes())?).expect("JSON text is UTF-8");
                    RawValue::from_string(text).map(Some).map_err(|_| Refusal::internal("a subset is not JSON"))
                })
                .collect::<Result<_, Refusal>>()?,
        };
        let outcome_text;
        let mut entry: Vec<SearchEntry> = served
            .iter()
            .enumerate()
            .map(|(i, c)| SearchEntry {
                full_url: Some(format!("{base}/{}", c.reference)),
                resource: subsets.get(i).and_then(Option::as_deref).unwrap_or(c.text),
                search: json!({"mode": "match"}),
            })
            .collect();
        if withheld > 0 {
            let outcome = super::outcome::operation_outcome(
                "warning",
                "suppressed",
                &format!("{withheld} version(s) found are withheld: not committed on the ledger, erased, or not matching their commitment"),
            );
            outcome_text = RawValue::from_string(outcome.to_string()).expect("JSON");
            entry.push(SearchEntry { full_url: None, resource: &outcome_text, search: json!({"mode": "outcome"}) });
        }
        // A total only for a result of one page (a later page's count is not the whole).
        let total = (next.is_none() && cursor.is_none()).then_some(served.len());
        let searchset = SearchSet { kind: "Bundle", bundle_type: "searchset", total, link, entry };
        Ok(fhir_response(200, serde_json::to_vec(&searchset).expect("serialises"), &[]))
    }

    /// The versions of a search page of `kinds` that the ledger holds for `patient` (waiting
    /// once for the follower if some are not committed yet), and how many are withheld for
    /// good; resources of other types are left out.
    async fn candidates<'r>(
        &self,
        bundle: &UpstreamBundle<'r>,
        kinds: &[&str],
        patient: PatientId,
    ) -> Result<(Vec<Candidate<'r>>, usize), Refusal> {
        let mut waited = false;
        'again: loop {
            let mut candidates = Vec::new();
            let mut withheld = 0;
            for upstream_entry in &bundle.entry {
                let Some(text) = upstream_entry.resource else { continue };
                let head = head_of(text.get().as_bytes())?;
                if !kinds.contains(&head.kind.as_str()) {
                    continue; // the server's own OperationOutcome entries, other types, kinds not authorised
                }
                let (Some(id), Some(version)) = (head.id, head.meta.and_then(|m| m.version)) else {
                    withheld += 1;
                    continue;
                };
                let reference = format!("{}/{id}", head.kind);
                match self.follower.committed(&reference, &version).map_err(|e| self.store_failed(e))? {
                    Some(committed) if committed.deleted => {}
                    Some(committed) => {
                        if self.patient_of(&committed).await? == patient {
                            candidates.push(Candidate { reference, version, committed, text });
                        } else {
                            withheld += 1;
                        }
                    }
                    None if self
                        .follower
                        .refusal(&reference, &version)
                        .map_err(|e| self.store_failed(e))?
                        .is_some() =>
                    {
                        withheld += 1
                    }
                    None if !waited => {
                        waited = true;
                        if self.await_sync_pass(SYNC_WAIT).await {
                            continue 'again;
                        }
                        return Err(not_yet());
                    }
                    None => return Err(not_yet()),
                }
            }
            return Ok((candidates, withheld));
        }
    }

    /// The newest committed version of `reference` (`version`: that one), waiting for the
    /// sync follower once if it does not know it yet.
    async fn known(&self, reference: &str, version: Option<&str>) -> Result<(String, Committed), Refusal> {
        let mut waited = false;
        loop {
            let found = match version {
                Some(v) => {
                    self.follower.committed(reference, v).map_err(|e| self.store_failed(e))?.map(|c| (v.to_string(), c))
                }
                None => {
                    let key = resource_key(self.follower.server().base(), reference);
                    match self.follower.followed(key).map_err(|e| self.store_failed(e))? {
                        Some(followed) => self
                            .follower
                            .committed(reference, &followed.version)
                            .map_err(|e| self.store_failed(e))?
                            .map(|c| (followed.version, c)),
                        None => None,
                    }
                }
            };
            if let Some(found) = found {
                return Ok(found);
            }
            if let Some(v) = version {
                if self.follower.refusal(reference, v).map_err(|e| self.store_failed(e))?.is_some() {
                    return Err(Refusal::not_found(
                        "this version is not on the ledger (the follower refused or skipped it), so it is not served",
                    ));
                }
            }
            if waited || (version.is_none() && self.caught_up_just_now()) {
                return Err(Refusal::not_found("the ledger holds no such resource or version"));
            }
            waited = true;
            if !self.await_sync_pass(SYNC_WAIT).await {
                return Err(not_yet());
            }
        }
    }

    /// The patient of a committed version's record.
    async fn patient_of(&self, committed: &Committed) -> Result<PatientId, Refusal> {
        if let Some(patient) = self.follower.record_patient(committed.record).map_err(|e| self.store_failed(e))? {
            return Ok(patient);
        }
        let info = self.client.records().record(committed.record).query().await.map_err(|_| super::chain_down())?;
        info.map(|i| i.patient).ok_or_else(|| Refusal::not_found("the ledger holds no such record"))
    }

    /// The local id of the Patient whose pseudonym is `patient`.
    fn local_patient(&self, patient: PatientId) -> Result<String, Refusal> {
        let reference = self.follower.local_patient(patient).map_err(|e| self.store_failed(e))?;
        reference
            .and_then(|r| r.strip_prefix("Patient/").map(str::to_string))
            .ok_or_else(|| Refusal::not_found("no patient with this pseudonym is held by this institution"))
    }

    /// One decision; a denial is a 403.
    async fn decide_one(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        at: Timestamp,
        patient: PatientId,
        target: Target,
    ) -> Result<Authorization, Refusal> {
        let answer = self.decide(session, break_glass, at, &[(patient, target)]).await?;
        match answer.into_iter().next() {
            Some(Ok(authorization)) => Ok(authorization),
            Some(Err(denial)) => Err(self.denied(&denial)),
            None => Err(super::chain_down()),
        }
    }
}

fn not_yet() -> Refusal {
    Refusal::unavailable(
        "this version is not committed on the ledger yet, so it cannot be verified; try again shortly",
        2,
    )
}

fn target(committed: &Committed) -> Target {
    Target::Version(VersionRef { record: committed.record, version: committed.chain_version })
}

/// The entry of an access decided at `at` (the outbox numbers it).
fn entry(
    session: &Session,
    at: Timestamp,
    patient: PatientId,
    target: Target,
    authorization: Authorization,
) -> NewEntry {
    NewEntry { seq: 0, patient, target, purpose: session.purpose, accessed_at: at, authorization }
}

/// The `_cursor` of an upstream `next` link, decoded.
fn cursor_of(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    // A `+` in a URL's query is itself (the form encoding's space is not the server's).
    let cursor = query.split('&').find_map(|pair| pair.strip_prefix("_cursor="))?;
    percent_decode(&cursor.replace('+', "%2B"))
}
