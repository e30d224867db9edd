//! The consent-enforcing FHIR gateway: a FHIR R4 REST endpoint in front of the institution's
//! FHIR server, where consent is checked on chain and every read is logged, exactly once.
//!
//! - Callers are registered client systems of member institutions, authenticated by SMART
//!   Backend Services ([`auth`]); each maps to the on-chain account its accesses are checked
//!   and logged under.
//! - Only read, vread, searches within one patient's compartment, the Patient of a network
//!   pseudonym, and create/update by the patient's custodian pass ([`request`]); everything
//!   else is refused with an OperationOutcome ([`outcome`]) and never forwarded.
//! - A read is resolved to the record version the sync follower committed, decided on chain
//!   (`check_batch`, or `check_break_glass` for an emergency), forwarded only if authorised,
//!   the content verified against the commitment, and the access queued durably in the outbox
//!   (one group commit for the requests waiting) before the answer leaves. A version the chain
//!   does not know yet is answered 503 with `Retry-After`, never served unverified.
//! - One process: the gateway hosts the sync follower (the one component that commits stored
//!   versions; the gateway resolves versions through it and waits for it after writes) and
//!   drains the outbox, because only one process opens the store.
//!
//! Everything runs on one thread (the chain backends are not `Send`); the upstream server is
//! called on tokio's blocking pool, so a slow upstream does not stall other requests.

pub mod auth;
pub mod caller;
pub mod config;
pub mod metrics;
pub mod outcome;
mod reads;
pub mod request;
pub mod subset;
pub mod upstream;
mod writes;

use crate::{outbox::Outbox, sync::Follower, Result, Store};
use auth::{Action, Authority, Session};
use config::Config;
use custodia_client::{
    types::{
        access_log::{Authorization, BreakGlassReason, NewEntry},
        consents::{AccessCheck, Denial, Target, MAX_CHECKS},
        records::{Verification, VersionErased},
        PatientId, RecordId, Timestamp,
    },
    verify::commitment,
    Backend, Client,
};
use custodia_fhir::canonical::Scheme;
use futures::{stream::FuturesUnordered, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Bytes, header, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use ink::primitives::AccountId;
use metrics::Metrics;
use outcome::Refusal;
use request::{Interaction, RawRequest};
use serde_json::json;
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    convert::Infallible,
    future::Future,
    time::{Duration, Instant, SystemTime},
};
use tokio::{net::TcpListener, sync::Notify};
use upstream::Upstream;

/// `urn:custodia:patient|` as written in a query string; the pseudonym follows as 0x-hex.
const PSEUDONYM_QUERY: &str = "urn:custodia:patient%7C";

/// A patient's pseudonym as written in identifiers (`0x` and 64 hex digits).
fn pseudonym_text(patient: PatientId) -> String {
    format!("0x{}", hex::encode(patient.0))
}

/// A response body.
type Body = Full<Bytes>;

/// Entries waiting for the next group commit, with who waits for it.
struct Waiting {
    account: AccountId,
    entries: Vec<NewEntry>,
    done: tokio::sync::oneshot::Sender<bool>,
}

/// What the chain answered for one check: what authorised it, or why nothing does.
type Decision = std::result::Result<Authorization, Denial>;

/// Checks waiting for the next decision call, with who waits for their answers (`None`: the
/// chain could not be asked).
struct Asked {
    checks: Vec<AccessCheck>,
    break_glass: Option<BreakGlassReason>,
    done: tokio::sync::oneshot::Sender<Option<Vec<std::result::Result<Authorization, Denial>>>>,
}

/// Sync passes: how many started, how many finished without error, and when the last one
/// that found nothing new finished.
#[derive(Clone, Copy, Default)]
struct Passes {
    started: u64,
    finished: u64,
    caught_up: Option<Instant>,
}

/// The gateway of one institution's FHIR server.
pub struct Gateway<'a, B> {
    config: &'a Config,
    client: &'a Client<B>,
    store: &'a Store,
    follower: &'a Follower<'a, B>,
    authority: Authority,
    upstream: Upstream,
    metrics: Metrics,
    loggers: HashMap<AccountId, &'a custodia_client::Signer>,
    waiting: RefCell<Vec<Waiting>>,
    queued: Notify,
    asked: RefCell<Vec<Asked>>,
    asking: Notify,
    /// Decisions made at the newest block time seen, by the check (and break-glass reason)
    /// they answer.
    decided: RefCell<(Timestamp, HashMap<Vec<u8>, Decision>)>,
    /// Commitments the chain answered `Match` for, by (record, version): they never change;
    /// a version erased since is dropped when the sync loop reads the erasure.
    matched: RefCell<HashMap<(RecordId, u32), [u8; 32]>>,
    /// The block through which erasures have been read.
    erasures_read_through: Cell<u32>,
    flush_now: Notify,
    sync_now: Notify,
    passes: Cell<Passes>,
    passed: Notify,
    stopping: Cell<bool>,
    refused_entry: Cell<bool>,
}

/// Unix time in seconds.
fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl<'a, B: Backend> Gateway<'a, B> {
    /// A gateway for `config`, on `client`'s deployment, with `follower` committing what the
    /// upstream server stores into `store`.
    pub fn new(
        config: &'a Config,
        client: &'a Client<B>,
        store: &'a Store,
        follower: &'a Follower<'a, B>,
    ) -> Result<Self> {
        let clients: Vec<_> = config.clients.iter().map(|(c, _)| c.clone()).collect();
        let authority = Authority::new(&clients, config.token_endpoint(), config.token_lifetime)?;
        let tx = store.write()?;
        auth::create_tables(&tx)?;
        tx.commit()?;
        Ok(Self {
            config,
            client,
            store,
            follower,
            authority,
            upstream: Upstream::new(&config.upstream, Duration::from_millis(config.upstream_timeout_ms)),
            metrics: Metrics::default(),
            loggers: config.clients.iter().map(|(c, signer)| (c.account, signer)).collect(),
            waiting: RefCell::default(),
            queued: Notify::new(),
            asked: RefCell::default(),
            asking: Notify::new(),
            decided: RefCell::default(),
            matched: RefCell::default(),
            erasures_read_through: Cell::new(client.deployment().block),
            flush_now: Notify::new(),
            sync_now: Notify::new(),
            passes: Cell::default(),
            passed: Notify::new(),
            stopping: Cell::new(false),
            refused_entry: Cell::new(false),
        })
    }

    /// A structured log line (JSON on stderr, unless the configuration is `quiet`). Callers
    /// pass counts and codes only: never an id.
    fn log_line(&self, event: &str, fields: serde_json::Value) {
        if self.config.quiet {
            return;
        }
        let mut line = json!({"ts": unix_now(), "event": event});
        if let (Some(line), Some(fields)) = (line.as_object_mut(), fields.as_object()) {
            line.extend(fields.clone());
        }
        eprintln!("{line}");
    }

    /// A 403 for a denial (logged with its reason).
    fn denied(&self, denial: &Denial) -> Refusal {
        self.log_line("denied", json!({"reason": denial_name(denial)}));
        Refusal::forbidden(format!("not authorised: {}", denial_words(denial)))
    }

    /// A 500 for a store that failed (logged).
    fn store_failed(&self, error: crate::Error) -> Refusal {
        self.log_line("store_failed", json!({"error": error.to_string()}));
        Refusal::internal("the gateway's store failed; nothing was served")
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, lets the
    /// requests in flight finish (up to 10 s), and drains the outbox (what the chain does not
    /// take stays queued for the next start).
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.log_line(
            "started",
            json!({"listen": self.config.listen.to_string(), "clients": self.config.clients.len()}),
        );
        tokio::join!(
            self.accept(listener, shutdown),
            self.decide_loop(),
            self.commit_loop(),
            self.flush_loop(),
            self.sync_loop()
        );
        self.flush_all().await;
        let depth = self.outbox_depth();
        self.log_line("stopped", json!({"outbox_depth": depth}));
        Ok(())
    }

    async fn accept(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        type Served<'c> = std::pin::Pin<Box<dyn Future<Output = ()> + 'c>>;
        let mut connections: FuturesUnordered<Served<'_>> = FuturesUnordered::new();
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let tls = self.config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let http = || {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
            builder
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        let service = service_fn(move |request| self.handle(request));
                        let watcher = graceful.watcher();
                        let http = http();
                        match tls.clone() {
                            None => {
                                let connection = http.serve_connection(TokioIo::new(stream), service);
                                connections.push(Box::pin(async move {
                                    let _ = watcher.watch(connection).await;
                                }));
                            }
                            Some(acceptor) => connections.push(Box::pin(async move {
                                // The handshake within the time a request's headers get.
                                let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                                let Ok(Ok(stream)) = handshake.await else { return };
                                let connection = http.serve_connection(TokioIo::new(stream), service);
                                let _ = watcher.watch(connection).await;
                            })),
                        }
                    }
                    Err(error) => self.log_line("accept_failed", json!({"error": error.to_string()})),
                },
                Some(()) = connections.next(), if !connections.is_empty() => {}
            }
        }
        // Idle keep-alive connections close at once, busy ones after their answer (10 s at
        // most), while every connection goes on being served.
        let drained = async {
            tokio::join!(graceful.shutdown(), async { while connections.next().await.is_some() {} });
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drained).await;
        self.stopping.set(true);
        self.asking.notify_one();
        self.queued.notify_one();
        self.flush_now.notify_one();
        self.sync_now.notify_one();
    }

    /// Answers one request: never a panic, never an error without an OperationOutcome.
    async fn handle(&self, request: Request<hyper::body::Incoming>) -> std::result::Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let headers: Vec<&str> = parts.headers.keys().map(|k| k.as_str()).collect();
        let raw = RawRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers,
            accept: parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
        };
        let parsed = request::parse(&raw);
        let name = parsed.as_ref().map(Interaction::name).unwrap_or("refused");
        let answer = match parsed {
            Ok(interaction) => self.route(interaction, &parts, body).await,
            Err(refusal) => Err(refusal),
        };
        let response = answer.unwrap_or_else(|refusal| refusal_response(&refusal));
        let status = response.status().as_u16();
        self.metrics.request(name, status);
        if name != "metrics" && name != "health" {
            self.log_line(
                "request",
                json!({"interaction": name, "status": status, "ms": started.elapsed().as_secs_f64() * 1e3}),
            );
        }
        Ok(response)
    }

    async fn route(
        &self,
        interaction: Interaction,
        parts: &hyper::http::request::Parts,
        body: hyper::body::Incoming,
    ) -> std::result::Result<Response<Body>, Refusal> {
        match interaction {
            Interaction::SmartConfiguration => Ok(json_response(200, &self.smart_configuration())),
            Interaction::Token => {
                let body = read_body(body, 64 << 10).await?;
                Ok(match self.authority.token(self.store, &body, unix_now()) {
                    Ok(issued) => json_response(
                        200,
                        &json!({"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in, "scope": issued.scope}),
                    ),
                    Err(error) => {
                        self.log_line("token_refused", json!({"error": error.error}));
                        json_response(error.status, &error.body())
                    }
                })
            }
            Interaction::Metadata => Ok(json_response(200, &self.capability_statement())),
            Interaction::Health => Ok(self.health().await),
            Interaction::Metrics => {
                let behind = self.passes.get().caught_up.map(|at| at.elapsed().as_secs_f64()).unwrap_or(-1.0);
                let text = self.metrics.render(self.outbox_depth(), behind);
                Ok(Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                    .body(Full::new(Bytes::from(text)))
                    .expect("a valid response"))
            }
            data => {
                let session = self
                    .authority
                    .session(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), unix_now())?;
                let break_glass = break_glass(parts, &session)?;
                let subset = subset::Subset::of_query(parts.uri.query())?;
                match data {
                    Interaction::Read { kind, id } => {
                        self.allow(&session, &kind, Action::Read)?;
                        self.read(&session, break_glass, &kind, &id, None, &subset).await
                    }
                    Interaction::VRead { kind, id, version } => {
                        self.allow(&session, &kind, Action::Read)?;
                        self.read(&session, break_glass, &kind, &id, Some(&version), &subset).await
                    }
                    Interaction::Search { kind, patient, count, cursor } => {
                        self.allow(&session, &kind, Action::Read)?;
                        let cursor = cursor.as_deref();
                        let kinds = [kind.as_str()];
                        let query =
                            reads::SearchQuery { kinds: &kinds, patient: &patient, count, cursor, everything: false };
                        self.search(&session, break_glass, query, &subset).await
                    }
                    Interaction::Everything { patient, count, cursor } => {
                        let kinds: Vec<&str> = request::SERVED_TYPES
                            .iter()
                            .copied()
                            .filter(|kind| session.allows(kind, Action::Read))
                            .collect();
                        if kinds.is_empty() {
                            return Err(Refusal::forbidden(
                                "the token's scopes allow reading none of the types served",
                            ));
                        }
                        let patient = request::PatientParam::Local(patient);
                        let cursor = cursor.as_deref();
                        let query =
                            reads::SearchQuery { kinds: &kinds, patient: &patient, count, cursor, everything: true };
                        self.search(&session, break_glass, query, &subset).await
                    }
                    Interaction::PatientByPseudonym(patient) => {
                        self.allow(&session, "Patient", Action::Read)?;
                        self.patient_by_pseudonym(&session, break_glass, patient, &subset).await
                    }
                    Interaction::Create { kind } => {
                        self.allow(&session, &kind, Action::Write)?;
                        let body = self.write_body(parts, body).await?;
                        self.write(&session, &kind, None, body).await
                    }
                    Interaction::Update { kind, id } => {
                        self.allow(&session, &kind, Action::Write)?;
                        let body = self.write_body(parts, body).await?;
                        self.write(&session, &kind, Some(&id), body).await
                    }
                    _ => Err(Refusal::not_found("no such endpoint")),
                }
            }
        }
    }

    fn allow(&self, session: &Session, kind: &str, action: Action) -> std::result::Result<(), Refusal> {
        match session.allows(kind, action) {
            true => Ok(()),
            false => Err(Refusal::forbidden(format!(
                "the token's scopes do not allow {} {kind} resources",
                if action == Action::Read { "reading" } else { "writing" }
            ))),
        }
    }

    async fn write_body(
        &self,
        parts: &hyper::http::request::Parts,
        body: hyper::body::Incoming,
    ) -> std::result::Result<Vec<u8>, Refusal> {
        let media = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let media = media.split(';').next().unwrap_or_default().trim();
        if !matches!(media, "application/fhir+json" | "application/json" | "application/json+fhir") {
            return Err(Refusal::unsupported_media("send the resource as application/fhir+json"));
        }
        read_body(body, self.config.max_body).await
    }

    /// Decides accesses of `session` on chain: with a receipt (`check_batch`), or as
    /// break-glass (`check_break_glass`). The chain unreachable: 503, nothing served.
    /// `at` is the chain's time of the request ([`Gateway::chain_now`]); the entries logged
    /// state it as the access time, so the chain judges them as the gateway did.
    async fn decide(
        &self,
        session: &Session,
        break_glass: Option<BreakGlassReason>,
        at: Timestamp,
        items: &[(PatientId, Target)],
    ) -> std::result::Result<Vec<std::result::Result<Authorization, Denial>>, Refusal> {
        let started = Instant::now();
        let checks = items
            .iter()
            .map(|(patient, target)| AccessCheck {
                accessor: session.account,
                patient: *patient,
                target: *target,
                purpose: session.purpose,
                at,
                receipt: None,
            })
            .collect();
        let (done, answered) = tokio::sync::oneshot::channel();
        self.asked.borrow_mut().push(Asked { checks, break_glass, done });
        self.asking.notify_one();
        let answers = answered.await.ok().flatten().ok_or_else(chain_down)?;
        self.metrics.decision_latency(started.elapsed());
        for answer in &answers {
            self.metrics.decision(match answer {
                Ok(Authorization::Consent(_)) => "permit",
                Ok(Authorization::BreakGlass(_)) => "break-glass",
                Err(denial) => denial_name(denial),
            });
        }
        if answers.iter().any(|a| matches!(a, Err(Denial::Unavailable | Denial::BatchTooLarge))) {
            return Err(chain_down());
        }
        Ok(answers)
    }

    /// Everything queued in `queue` since the last call, waiting on `wake` while it is empty;
    /// `None` once the gateway stops and the queue is empty (what was queued is still taken).
    async fn next_batch<T>(&self, queue: &RefCell<Vec<T>>, wake: &Notify) -> Option<Vec<T>> {
        loop {
            let batch = std::mem::take(&mut *queue.borrow_mut());
            if !batch.is_empty() {
                return Some(batch);
            }
            if self.stopping.get() {
                return None;
            }
            wake.notified().await;
        }
    }

    /// Decides what the requests of this moment asked, in as few calls as the chain takes:
    /// one `check_batch` for all their consent checks (up to `MAX_CHECKS` a call), one
    /// `check_break_glass` for the break-glass ones; an identical check within the same block
    /// is answered by the decision already made ([`Gateway::judge_within_block`]).
    async fn decide_loop(&self) {
        while let Some(batch) = self.next_batch(&self.asked, &self.asking).await {
            let (glass, consent): (Vec<Asked>, Vec<Asked>) = batch.into_iter().partition(|a| a.break_glass.is_some());
            for group in [consent, glass] {
                let checks: Vec<AccessCheck> = group.iter().flat_map(|a| a.checks.iter().copied()).collect();
                let reasons: Vec<Option<BreakGlassReason>> =
                    group.iter().flat_map(|a| std::iter::repeat_n(a.break_glass, a.checks.len())).collect();
                let answers = self.judge_within_block(&checks, &reasons).await;
                let mut answers = answers.map(Vec::into_iter);
                for asked in group {
                    let mine = answers.as_mut().map(|all| all.by_ref().take(asked.checks.len()).collect());
                    let _ = asked.done.send(mine);
                }
            }
            tokio::task::yield_now().await;
        }
    }

    /// [`Gateway::judge`], answering from the decisions made within the same block: a check
    /// states the chain's time (`at`, the newest block's), so a decision is reused only for
    /// the identical check at the identical block time, never across a block (a revocation's
    /// block has a later time: every check after it is asked of the chain again). The table is
    /// emptied when a later block time arrives.
    async fn judge_within_block(
        &self,
        checks: &[AccessCheck],
        reasons: &[Option<BreakGlassReason>],
    ) -> Option<Vec<std::result::Result<Authorization, Denial>>> {
        use scale::Encode;
        let key = |i: usize| (checks[i], reasons[i]).encode();
        let newest = checks.iter().map(|c| c.at).max().unwrap_or(0);
        let mut unknown = Vec::new();
        let mut answers: Vec<Option<std::result::Result<Authorization, Denial>>> = {
            let mut decided = self.decided.borrow_mut();
            if newest > decided.0 {
                *decided = (newest, HashMap::new());
            }
            (0..checks.len())
                .map(|i| {
                    let known = decided.1.get(&key(i)).copied();
                    if known.is_none() {
                        unknown.push(i);
                    }
                    known
                })
                .collect()
        };
        if !unknown.is_empty() {
            let asked: Vec<AccessCheck> = unknown.iter().map(|&i| checks[i]).collect();
            let why: Vec<Option<BreakGlassReason>> = unknown.iter().map(|&i| reasons[i]).collect();
            let judged = self.judge(&asked, &why).await?;
            let mut decided = self.decided.borrow_mut();
            for (&i, answer) in unknown.iter().zip(judged) {
                let lasting = !matches!(answer, Err(Denial::Unavailable | Denial::BatchTooLarge));
                if lasting && checks[i].at == decided.0 {
                    decided.1.insert(key(i), answer);
                }
                answers[i] = Some(answer);
            }
        }
        answers.into_iter().collect()
    }

    /// Asks the chain to judge `checks` (`reasons`: each one's break-glass reason, all `None`
    /// or all `Some`), `MAX_CHECKS` a call; the checks the chain could not judge in one call
    /// (`BatchTooLarge` from some check on) are asked again in the next. `None`: the chain
    /// could not be asked.
    async fn judge(
        &self,
        checks: &[AccessCheck],
        reasons: &[Option<BreakGlassReason>],
    ) -> Option<Vec<std::result::Result<Authorization, Denial>>> {
        let mut answers = Vec::with_capacity(checks.len());
        let mut at = 0;
        while at < checks.len() {
            let end = checks.len().min(at + MAX_CHECKS as usize);
            let (chunk, why) = (&checks[at..end], &reasons[at..end]);
            let consents = self.client.consents();
            let judged: Vec<std::result::Result<Authorization, Denial>> = match why[0] {
                Some(_) => {
                    let judged = consents.check_break_glass(chunk.to_vec()).query().await.ok()?;
                    let reasons = why.iter().map(|reason| reason.map(Authorization::BreakGlass));
                    judged
                        .into_iter()
                        .zip(reasons)
                        .map(|(answer, glass)| answer.and(glass.ok_or(Denial::NotAnEmergency)))
                        .collect()
                }
                None => {
                    let judged = consents.check_batch(chunk.to_vec()).query().await.ok()?;
                    judged.into_iter().map(|answer| answer.map(Authorization::Consent)).collect()
                }
            };
            // Judged up to the first check that did not fit; the rest go in the next call.
            let fits = judged.iter().position(|a| *a == Err(Denial::BatchTooLarge)).filter(|&cut| cut > 0);
            let taken = fits.unwrap_or(judged.len());
            if taken == 0 {
                return None; // no answer for a check: not a chain that can be trusted to decide
            }
            answers.extend(judged.into_iter().take(taken));
            at += taken;
        }
        Some(answers)
    }

    /// The chain's time now (the latest block's).
    async fn chain_now(&self) -> std::result::Result<Timestamp, Refusal> {
        self.client.backend().now().await.map_err(|_| chain_down())
    }

    /// Checks served content against its commitment on chain.
    async fn verify(
        &self,
        reference: &str,
        version: &str,
        committed: &crate::sync::Committed,
        served: &[u8],
    ) -> std::result::Result<(), Refusal> {
        let withheld = || {
            self.metrics.mismatch();
            self.log_line("mismatch", json!({"what": "a served version does not match its commitment"}));
            Refusal::bad_upstream(
                "conflict",
                "the FHIR server's copy does not match the version committed on the ledger; it is withheld and the mismatch recorded",
            )
        };
        let scheme = Scheme::from_code(committed.scheme).ok_or_else(withheld)?;
        let Some(bytes) = self.follower.canonical(reference, version, Some(served), scheme) else {
            return Err(withheld());
        };
        let key = (committed.record, committed.chain_version);
        let computed = commitment(&committed.salt, &bytes);
        if self.matched.borrow().get(&key) == Some(&computed.0) {
            return Ok(());
        }
        let held = self
            .client
            .records()
            .verify(committed.record, committed.chain_version, computed)
            .query()
            .await
            .map_err(|_| chain_down())?;
        match held {
            Verification::Match => {
                self.matched.borrow_mut().insert(key, computed.0);
                Ok(())
            }
            Verification::Erased => Err(Refusal::gone("this version was erased on the ledger; it is not served")),
            _ => Err(withheld()),
        }
    }

    /// Queues `entries` of `account` durably (the next group commit), and returns once they
    /// are on disk; a failure means nothing may be served.
    async fn log(&self, account: AccountId, entries: Vec<NewEntry>) -> std::result::Result<(), Refusal> {
        let count = entries.len();
        let (done, wait) = tokio::sync::oneshot::channel();
        self.waiting.borrow_mut().push(Waiting { account, entries, done });
        self.queued.notify_one();
        match wait.await {
            Ok(true) => {
                self.metrics.logged(count);
                Ok(())
            }
            _ => Err(Refusal::internal("the access could not be logged durably, so nothing is served; try again")),
        }
    }

    /// Group commit: everything waiting goes to disk in one transaction.
    async fn commit_loop(&self) {
        while let Some(batch) = self.next_batch(&self.waiting, &self.queued).await {
            let entries: Vec<(AccountId, Vec<NewEntry>)> =
                batch.iter().map(|w| (w.account, w.entries.clone())).collect();
            let ok = match Outbox::new(self.client, self.store).enqueue_many(&entries) {
                Ok(()) => true,
                Err(error) => {
                    self.log_line("log_failed", json!({"error": error.to_string()}));
                    false
                }
            };
            for waiting in batch {
                let _ = waiting.done.send(ok);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Drains the outbox every flush interval: the entries queued meanwhile go to the chain
    /// together (chunks of `outbox::CHUNK` per transaction).
    async fn flush_loop(&self) {
        let every = Duration::from_millis(self.config.flush_interval_ms);
        while !self.stopping.get() {
            let _ = tokio::time::timeout(every, self.flush_now.notified()).await;
            self.flush_all().await;
        }
    }

    async fn flush_all(&self) {
        let outbox = Outbox::new(self.client, self.store);
        let accounts = match outbox.pending_accounts() {
            Ok(accounts) => accounts,
            Err(error) => return self.log_line("flush_failed", json!({"error": error.to_string()})),
        };
        for account in accounts {
            let Some(signer) = self.loggers.get(&account) else { continue };
            match outbox.flush(signer).await {
                Ok(_) => {}
                Err(error @ crate::Error::QueuedEntryRefused { .. }) => {
                    if !self.refused_entry.replace(true) {
                        self.metrics.log_refused();
                    }
                    self.log_line("log_refused", json!({"error": error.to_string()}));
                }
                Err(error) => self.log_line("flush_failed", json!({"error": error.to_string(), "retry": true})),
            }
        }
    }

    /// Runs the sync follower pass after pass (at once when a request waits for it).
    async fn sync_loop(&self) {
        let every = Duration::from_millis(self.config.sync_interval_ms);
        while !self.stopping.get() {
            let mut passes = self.passes.get();
            passes.started += 1;
            self.passes.set(passes);
            let outcome = self.follower.run_once(&self.config.custodian, &mut |_| {}).await;
            let mut passes = self.passes.get();
            match outcome {
                Ok(report) => {
                    passes.finished = passes.started;
                    if report.committed == 0 && report.held_back == 0 {
                        passes.caught_up = Some(Instant::now());
                    } else {
                        self.log_line("sync", json!({"committed": report.committed}));
                    }
                }
                Err(error) => self.log_line("sync_failed", json!({"error": error.to_string()})),
            }
            self.passes.set(passes);
            self.forget_erased().await;
            self.passed.notify_waiters();
            if passes.finished == passes.started && passes.caught_up.is_some_and(|at| at.elapsed() < every) {
                let _ = tokio::time::timeout(every, self.sync_now.notified()).await;
            }
        }
    }

    /// Reads the erasures of the blocks since the last time, and forgets the matches of the
    /// versions erased: from then on their content is checked on chain again (and refused).
    async fn forget_erased(&self) {
        let from = self.erasures_read_through.get() + 1;
        let Ok(to) = self.client.backend().block_number().await else { return };
        if to < from {
            return;
        }
        let records = self.client.deployment().records.address;
        let Ok(events) = self.client.backend().events(records, from, to).await else { return };
        let mut matched = self.matched.borrow_mut();
        for erased in events.iter().filter_map(|e| e.event.decode::<VersionErased>()) {
            matched.remove(&(erased.record, erased.version));
        }
        self.erasures_read_through.set(to);
    }

    /// True if the follower caught up with the server a moment ago (a quarter of the sync
    /// interval): an id it does not know then does not exist, without another pass, so no
    /// caller can make the gateway read the server's history back to back by asking for ids
    /// that do not exist. (One stored in that moment is answered 404 once.)
    fn caught_up_just_now(&self) -> bool {
        let passes = self.passes.get();
        let moment = Duration::from_millis(self.config.sync_interval_ms) / 4;
        passes.finished == passes.started && passes.caught_up.is_some_and(|at| at.elapsed() < moment)
    }

    /// Waits (at most `limit`) for a sync pass that starts after now to finish; true if one
    /// did.
    async fn await_sync_pass(&self, limit: Duration) -> bool {
        let after = self.passes.get().started;
        let deadline = Instant::now() + limit;
        loop {
            if self.passes.get().finished > after {
                return true;
            }
            self.sync_now.notify_one();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, self.passed.notified()).await.is_err() {
                return self.passes.get().finished > after;
            }
        }
    }

    fn outbox_depth(&self) -> u64 {
        let outbox = Outbox::new(self.client, self.store);
        let accounts = outbox.pending_accounts().unwrap_or_default();
        accounts.iter().map(|a| outbox.pending(*a).map(|p| p.len() as u64).unwrap_or(0)).sum()
    }

    async fn health(&self) -> Response<Body> {
        let chain = self.client.backend().block_number().await.is_ok();
        let passes = self.passes.get();
        let depth = self.outbox_depth();
        let healthy = chain && !self.refused_entry.get();
        let body = json!({
            "status": if healthy { "pass" } else { "fail" },
            "chain": if chain { "reachable" } else { "unreachable: reads are refused (no consent can be checked)" },
            "outbox_depth": depth,
            "log_refused": self.refused_entry.get(),
            "sync_passes": passes.finished,
            "sync_behind_seconds": passes.caught_up.map(|at| at.elapsed().as_secs_f64()),
        });
        json_response(if healthy { 200 } else { 503 }, &body)
    }

    fn smart_configuration(&self) -> serde_json::Value {
        json!({
            "token_endpoint": self.config.token_endpoint(),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/*.read", "system/*.rs", "system/*.cu"],
            "capabilities": ["client-confidential-asymmetric"],
        })
    }

    fn capability_statement(&self) -> serde_json::Value {
        let resources: Vec<_> = request::SERVED_TYPES
            .iter()
            .map(|kind| {
                let mut resource = json!({
                    "type": kind,
                    "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}, {"code": "create"}, {"code": "update"}],
                    "searchParam": [{"name": "patient", "type": "reference"}, {"name": "_count", "type": "number"}],
                });
                if *kind == "Patient" {
                    resource["operation"] = json!([{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]);
                }
                resource
            })
            .collect();
        json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "implementation": {"description": "Custodia consent-enforcing gateway", "url": self.config.public_url},
            "rest": [{
                "mode": "server",
                "security": {
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                    "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": [{"url": "token", "valueUri": self.config.token_endpoint()}]}],
                },
                "resource": resources,
            }],
        })
    }
}

/// The break-glass reason of a request (`X-Break-Glass-Reason`), allowed only with a token
/// for emergency treatment.
fn break_glass(
    parts: &hyper::http::request::Parts,
    session: &Session,
) -> std::result::Result<Option<BreakGlassReason>, Refusal> {
    let Some(value) = parts.headers.get("x-break-glass-reason") else {
        return Ok(None);
    };
    let reason =
        match value.to_str().unwrap_or_default() {
            "life-threatening" => BreakGlassReason::LifeThreatening,
            "patient-incapacitated" => BreakGlassReason::PatientIncapacitated,
            "urgent-care" => BreakGlassReason::UrgentCare,
            "legal-obligation" => BreakGlassReason::LegalObligation,
            _ => return Err(Refusal::bad_request(
                "X-Break-Glass-Reason is one of life-threatening, patient-incapacitated, urgent-care, legal-obligation",
            )),
        };
    if session.purpose != custodia_client::types::consents::Purpose::EmergencyTreatment {
        return Err(Refusal::forbidden("break-glass needs a token asked for with purpose_of_use=ETREAT"));
    }
    Ok(Some(reason))
}

fn chain_down() -> Refusal {
    Refusal::unavailable("the chain cannot be reached, so no consent can be checked: nothing is served", 5)
}

/// A denial in words, for a 403. No receipt number: it would tie the id asked for to a
/// receipt of the patient (the reason code goes to the structured log).
fn denial_words(denial: &Denial) -> &'static str {
    match denial {
        Denial::NoConsent => "no consent on the ledger permits this access",
        Denial::Denied(_) => "the patient refused this access",
        Denial::Expired(_) => "the consent that covered this access is not in force",
        Denial::Revoked(_) => "the consent that covered this access was revoked",
        Denial::OutOfScope(_) => "the consent does not cover this record, purpose or accessor",
        Denial::NotAccessor => "the client's account does not act for an accessor institution",
        Denial::UnknownRecord => "the ledger holds no such version of this patient's records",
        Denial::Unavailable => "the chain could not decide",
        Denial::NotAnEmergency => "break-glass is only for emergency treatment",
        Denial::UnknownPatient => "the patient is not registered on the ledger",
        Denial::BatchTooLarge => "too many checks at once",
    }
}

/// A denial as a metric label and log code.
fn denial_name(denial: &Denial) -> &'static str {
    match denial {
        Denial::NoConsent => "no-consent",
        Denial::Denied(_) => "denied",
        Denial::Expired(_) => "expired",
        Denial::Revoked(_) => "revoked",
        Denial::OutOfScope(_) => "out-of-scope",
        Denial::NotAccessor => "not-accessor",
        Denial::UnknownRecord => "unknown-record",
        Denial::Unavailable => "unavailable",
        Denial::NotAnEmergency => "not-an-emergency",
        Denial::UnknownPatient => "unknown-patient",
        Denial::BatchTooLarge => "batch-too-large",
    }
}

/// A body read whole, at most `limit` bytes, within 10 s.
async fn read_body(body: hyper::body::Incoming, limit: usize) -> std::result::Result<Vec<u8>, Refusal> {
    let collected = tokio::time::timeout(Duration::from_secs(10), Limited::new(body, limit).collect()).await;
    match collected {
        Err(_) => Err(Refusal::bad_request("the body did not arrive in time")),
        Ok(Err(error)) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(Refusal::too_large(format!("the body is larger than {limit} bytes")))
        }
        Ok(Err(_)) => Err(Refusal::bad_request("the body could not be read")),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}

fn json_response(status: u16, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(serde_json::to_vec(value).expect("JSON values serialise"))))
        .expect("a valid response")
}

/// A FHIR resource answer.
fn fhir_response(status: u16, body: Vec<u8>, extra: &[(&str, String)]) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .header(header::CACHE_CONTROL, "no-store");
    for (name, value) in extra {
        // Values come from checked ids; one that is not a valid header value is left out
        // rather than failing the answer.
        if let Ok(value) = header::HeaderValue::from_str(value) {
            builder = builder.header(*name, value);
        }
    }
    builder.body(Full::new(Bytes::from(body))).expect("a valid response")
}

fn refusal_response(refusal: &Refusal) -> Response<Body> {
    let mut builder = Response::builder()
        .status(refusal.status)
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(seconds) = refusal.retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds.to_string());
    }
    if let Some(challenge) = refusal.challenge {
        builder = builder.header(header::WWW_AUTHENTICATE, challenge);
    }
    let body = serde_json::to_vec(&refusal.outcome()).expect("JSON values serialise");
    builder.body(Full::new(Bytes::from(body))).expect("a valid response")
}
