//! What the gateway counts, in Prometheus' text format: requests by interaction and status,
//! decisions by outcome, the latency of consent decisions and of the upstream server (as
//! histograms), entries logged, content mismatches, and (read at scrape time) the outbox's
//! depth and how long ago the sync follower last caught up. Labels never hold an id.

use std::{cell::RefCell, collections::BTreeMap, fmt::Write, time::Duration};

/// Bucket bounds in seconds.
const BOUNDS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BOUNDS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter_mut().zip(BOUNDS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(BOUNDS) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {bucket}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            self.count, self.sum, self.count
        );
    }
}

#[derive(Default)]
struct Counts {
    requests: BTreeMap<(&'static str, u16), u64>,
    decisions: BTreeMap<&'static str, u64>,
    decision_latency: Histogram,
    upstream_latency: Histogram,
    logged: u64,
    mismatches: u64,
    log_refused: u64,
}

/// The gateway's counters.
#[derive(Default)]
pub struct Metrics(RefCell<Counts>);

impl Metrics {
    /// A request answered.
    pub fn request(&self, interaction: &'static str, status: u16) {
        *self.0.borrow_mut().requests.entry((interaction, status)).or_default() += 1;
    }

    /// A consent decision for one version or query (`outcome`: `permit`, `break-glass` or the
    /// denial's name).
    pub fn decision(&self, outcome: &'static str) {
        *self.0.borrow_mut().decisions.entry(outcome).or_default() += 1;
    }

    /// How long the chain took to decide.
    pub fn decision_latency(&self, took: Duration) {
        self.0.borrow_mut().decision_latency.observe(took);
    }

    /// How long the upstream server took.
    pub fn upstream_latency(&self, took: Duration) {
        self.0.borrow_mut().upstream_latency.observe(took);
    }

    /// Entries queued durably for the access log.
    pub fn logged(&self, entries: usize) {
        self.0.borrow_mut().logged += entries as u64;
    }

    /// A served version whose content does not match the chain (withheld).
    pub fn mismatch(&self) {
        self.0.borrow_mut().mismatches += 1;
    }

    /// A queued entry the chain refuses (see the health endpoint).
    pub fn log_refused(&self) {
        self.0.borrow_mut().log_refused += 1;
    }

    /// The text format, with the gauges read now.
    pub fn render(&self, outbox_depth: u64, sync_behind_seconds: f64) -> String {
        let counts = self.0.borrow();
        let mut out = String::new();
        out.push_str("# HELP custodia_gateway_requests_total Requests answered, by interaction and status.\n");
        out.push_str("# TYPE custodia_gateway_requests_total counter\n");
        for ((interaction, status), n) in &counts.requests {
            let _ = writeln!(
                out,
                "custodia_gateway_requests_total{{interaction=\"{interaction}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP custodia_gateway_decisions_total Consent decisions, by outcome.\n");
        out.push_str("# TYPE custodia_gateway_decisions_total counter\n");
        for (outcome, n) in &counts.decisions {
            let _ = writeln!(out, "custodia_gateway_decisions_total{{outcome=\"{outcome}\"}} {n}");
        }
        counts.decision_latency.render(&mut out, "custodia_gateway_decision_seconds", "Time the chain took to decide.");
        counts.upstream_latency.render(&mut out, "custodia_gateway_upstream_seconds", "Time the FHIR server took.");
        let _ = writeln!(
            out,
            "# HELP custodia_gateway_logged_total Access entries queued durably.\n# TYPE custodia_gateway_logged_total counter\ncustodia_gateway_logged_total {}",
            counts.logged
        );
        let _ = writeln!(
            out,
            "# HELP custodia_gateway_mismatches_total Served versions withheld: content not as committed.\n# TYPE custodia_gateway_mismatches_total counter\ncustodia_gateway_mismatches_total {}",
            counts.mismatches
        );
        let _ = writeln!(
            out,
            "# HELP custodia_gateway_log_refused_total Queued entries the chain refused.\n# TYPE custodia_gateway_log_refused_total counter\ncustodia_gateway_log_refused_total {}",
            counts.log_refused
        );
        let _ = writeln!(
            out,
            "# HELP custodia_gateway_outbox_depth Entries queued, not yet on chain.\n# TYPE custodia_gateway_outbox_depth gauge\ncustodia_gateway_outbox_depth {outbox_depth}"
        );
        let _ = writeln!(
            out,
            "# HELP custodia_gateway_sync_behind_seconds Seconds since the sync follower last caught up.\n# TYPE custodia_gateway_sync_behind_seconds gauge\ncustodia_gateway_sync_behind_seconds {sync_behind_seconds:.3}"
        );
        out
    }
}
