//! One reconcile of the MemHpas of one namespace: gather, decide, act.
//!
//! The phases are separate functions so each reads on its own:
//! - `prepare` validates the spec and reads the Scale and the pods;
//! - one Prometheus query covers the pods of every prepared MemHpa;
//! - `decide_and_scale` makes each decision (`algorithm::decide`), attempts the
//!   Scale write it asks for (`attempt_rescale`, only logged under
//!   `-dry-run`), settles the decision on what came of it
//!   (`Decision::settle`) and feeds that to the history;
//! - `record` emits the events and writes the status, only when it differs
//!   from what the object says.
//!
//! The clock is read once per reconcile, and each MemHpa's history is locked
//! once, from its decision to the record of that decision's outcome.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::alarm::{self, Alarm};
use super::cluster::{Cluster, UsageSource};
use super::observe::{self, UsageResult};
use super::status::{next_status, Outcome};
use crate::algorithm::{decide, Decision, History, PodObservation, Policy, Reason, WriteOutcome};
use crate::api::{self, MemHpa, ObjectReference, Scale};
use crate::kube::{ErrorKind, KubeError, ScaleTarget};
use crate::metrics::{Metrics, ReconcileResult};
use crate::prom::{PromError, Usage};

/// Status writes and Scale writes retried after a 409 before giving up until
/// the next reconcile.
const CONFLICT_RETRIES: usize = 3;

/// What a reconcile needs from outside, shared by every worker.
pub struct Context {
    pub cluster: Arc<dyn Cluster>,
    pub usage: Arc<dyn UsageSource>,
    pub metrics: Arc<Metrics>,
    pub dry_run: bool,
    /// Unix seconds; a function so tests can drive time.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// False on a follower: it decides nothing and writes nothing.
    pub may_write: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Hands the loop's store a fresher copy of a MemHpa than the one the
    /// job carried: a status write's answer, or its 409's re-read. Without
    /// it, while the watch backs off, every tick would write from the same
    /// stale version and pay a 409 and a re-read for it.
    pub refreshed: Arc<dyn Fn(MemHpa) + Send + Sync>,
}

/// What the controller remembers of one MemHpa between reconciles.
#[derive(Debug, Default)]
pub struct ObjectState {
    /// `None` until the first reconcile that reads the Scale, which starts it
    /// from the target's count (see `History::starting_at`).
    pub history: Mutex<Option<History>>,
    /// Set when the MemHpa is deleted, so a reconcile already running for it
    /// does not touch its target afterwards.
    pub retired: AtomicBool,
    /// The fault last logged, so a persisting one is logged once.
    pub alarm: Mutex<Alarm>,
}

/// One MemHpa to reconcile, as the store had it.
#[derive(Debug, Clone)]
pub struct Item {
    /// Shared with the loop's store, never copied.
    pub hpa: Arc<MemHpa>,
    pub state: Arc<ObjectState>,
}

/// How one reconcile ended, for logs, metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub key: String,
    /// The decision's reason token (AboveTarget, FailedGetScale, ...).
    pub reason: Reason,
    pub rescaled_to: Option<i64>,
    pub status_written: bool,
    /// As the reconcile metric counts it.
    pub result: ReconcileResult,
}

/// A MemHpa whose Scale and pods were read.
struct Prepared<'a> {
    item: &'a Item,
    policy: Policy,
    target: ScaleTarget,
    scale: Scale,
    /// What the calculator reads of them (`observe::shapes`).
    pods: Vec<PodObservation>,
}

/// Reconciles `items`, all of `namespace`, with at most one Prometheus query.
pub fn reconcile_namespace(ctx: &Context, namespace: &str, items: &[Item]) -> Vec<Report> {
    let started = Instant::now();
    // One reading for the whole pass, so the history, the events and the
    // status of one decision all carry the same time.
    let now = (ctx.clock)();
    let mut reports = Vec::with_capacity(items.len());
    let mut prepared = Vec::with_capacity(items.len());
    for item in items {
        if !still_ours(ctx, item) {
            reports.push(skipped(item));
            continue;
        }
        if let Err(missing) = identity(&item.hpa, namespace) {
            // The watch drops such objects; this guards the writes, which
            // would otherwise go to `namespaces//...`.
            log::warn!("not reconciling a MemHpa without identity: {missing}");
            reports.push(skipped(item));
            continue;
        }
        match prepare(ctx, namespace, item) {
            Ok(p) => prepared.push(p),
            Err(failed) => reports.push(record(ctx, item, &failed, None, None, now)),
        }
    }
    let usage = query_usage(ctx, namespace, &prepared);
    let usage_ref = usage.as_ref().map_err(|e| e.as_str());
    for p in prepared {
        reports.push(decide_and_scale(ctx, &p, usage_ref, now));
    }
    let per_item = started.elapsed().as_secs_f64() / items.len().max(1) as f64;
    for r in &reports {
        ctx.metrics.reconcile(r.result, per_item);
    }
    reports
}

/// The spec, the Scale and the pods, or the failed decision that says why not.
fn prepare<'a>(
    ctx: &Context,
    namespace: &str,
    item: &'a Item,
) -> Result<Prepared<'a>, Box<Decision>> {
    let hpa = &item.hpa;
    let known = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0);
    let policy = Policy::from_spec(&hpa.spec).map_err(|e| {
        failed(
            Reason::InvalidSpec,
            format!("invalid MemHpa spec: {e}"),
            known,
        )
    })?;
    let target = ScaleTarget::from_ref(
        &policy.target.api_version,
        &policy.target.kind,
        &policy.target.name,
    )
    .map_err(|e| {
        failed(
            Reason::InvalidSpec,
            format!("spec.scaleTargetRef: {e}"),
            known,
        )
    })?;
    let scale = ctx.cluster.get_scale(namespace, &target).map_err(|e| {
        let what = match e.code() {
            Some(404) => format!(
                "the target {} {namespace}/{} does not exist",
                policy.target.kind, policy.target.name
            ),
            _ => format!("the MemHpa controller was unable to get the target's current scale: {e}"),
        };
        failed(Reason::FailedGetScale, what, known)
    })?;
    let current = scale.spec.replicas;
    let selector = match scale.status.selector.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => {
            return Err(failed(
                Reason::InvalidSelector,
                format!(
                    "the Scale of {} {namespace}/{} has no status.selector",
                    policy.target.kind, policy.target.name
                ),
                current,
            ))
        }
    };
    let pods = ctx
        .cluster
        .list_pods(namespace, &selector)
        .map_err(|e| match e.code() {
            Some(400 | 422) => failed(
                Reason::InvalidSelector,
                format!("couldn't convert selector {selector:?} into a corresponding internal selector object: {e}"),
                current,
            ),
            _ => failed(
                Reason::FailedGetResourceMetric,
                format!("unable to get pods for selector {selector:?}: {e}"),
                current,
            ),
        })?;
    Ok(Prepared {
        item,
        policy,
        target,
        scale,
        pods: observe::shapes(&pods),
    })
}

/// A decision that ends the reconcile before the calculator, boxed because it
/// is large beside the `Ok` side.
fn failed(reason: Reason, message: String, current: i64) -> Box<Decision> {
    Box::new(Decision::failed(reason, message, current))
}

/// One query for every pod of every prepared MemHpa of the namespace; the
/// error is the message every affected MemHpa will carry.
fn query_usage(ctx: &Context, namespace: &str, prepared: &[Prepared]) -> Result<Usage, String> {
    let mut names = BTreeSet::new();
    for p in prepared {
        observe::wanted_pods(&p.pods, &mut names);
    }
    if names.is_empty() {
        // Nothing to ask about: the calculator reports "no pods" by itself.
        return Ok(Usage::default());
    }
    let names: Vec<String> = names.into_iter().collect();
    let started = Instant::now();
    let result = ctx.usage.pod_usage(namespace, &names);
    let kind = result.as_ref().err().map(prom_error_kind);
    ctx.metrics
        .prom_query(started.elapsed().as_secs_f64(), kind);
    result.map_err(|e| e.to_string())
}

fn prom_error_kind(e: &PromError) -> &'static str {
    match e {
        PromError::Config { .. } => "config",
        PromError::Transport { .. } => "transport",
        PromError::Timeout { .. } => "timeout",
        PromError::Http { .. } => "http",
        PromError::Api { .. } => "api",
        PromError::Decode { .. } => "decode",
        PromError::UnexpectedResultType { .. } => "result_type",
        PromError::Empty { .. } => "empty",
        PromError::NonFinite { .. } => "not_a_number",
    }
}

/// Decides for one prepared MemHpa and carries the decision out. The history
/// stays locked from `decide` to `History::apply`, so what it records is the
/// outcome of the very decision it fed, even should two reconciles of one
/// MemHpa ever overlap.
fn decide_and_scale(ctx: &Context, p: &Prepared, usage: UsageResult<'_>, now: i64) -> Report {
    let obs = observe::observation(&p.scale, &p.pods, usage, p.policy.container.as_deref());
    let (decision, rescaled_to) = {
        let mut history = crate::shutdown::lock(&p.item.state.history);
        let history =
            history.get_or_insert_with(|| History::starting_at(now, p.scale.spec.replicas));
        let wanted = decide(&obs, &p.policy, history, now);
        let Ok(outcome) = attempt_rescale(ctx, p, &wanted) else {
            return skipped(p.item);
        };
        let rescaled_to = match (&outcome, &wanted.rescale) {
            (Some(WriteOutcome::Written), Some(r)) => Some(r.to),
            _ => None,
        };
        let decision = match outcome {
            Some(outcome) => wanted.settle(outcome),
            None => wanted,
        };
        history.apply(&decision, &p.policy, now, rescaled_to.is_some());
        (decision, rescaled_to)
    };
    let status_replicas = Some(p.scale.status.replicas);
    record(ctx, p.item, &decision, status_replicas, rescaled_to, now)
}

/// Emits a settled decision's events, writes the status it leads to, and
/// reports. `status_replicas` is the Scale's, when it was read.
fn record(
    ctx: &Context,
    item: &Item,
    decision: &Decision,
    status_replicas: Option<i64>,
    rescaled_to: Option<i64>,
    now: i64,
) -> Report {
    let hpa = &item.hpa;
    let namespace = hpa.metadata.namespace.as_deref().unwrap_or_default();
    let mut failed = decision.events.iter().any(|e| e.warning);
    let abandoned = Report {
        rescaled_to,
        ..skipped(item)
    };
    if !emit_events(ctx, item, decision, now) {
        return abandoned;
    }
    alarm::report(&item.state.alarm, &hpa.metadata.key(), decision);
    let outcome = Outcome {
        rescaled: rescaled_to.is_some(),
        now,
        generation: hpa.metadata.generation,
    };
    let status_written = match write_status(ctx, item, decision, status_replicas, outcome) {
        Ok(Wrote::Yes) => true,
        Ok(Wrote::Nothing) => false,
        Ok(Wrote::NotOurs) => return abandoned,
        Err(e) => {
            log::warn!("{}: cannot write the status: {e}", hpa.metadata.key());
            failed = true;
            false
        }
    };
    ctx.metrics.set_memhpa_if_live(
        || !item.state.retired.load(Ordering::SeqCst),
        namespace,
        hpa.metadata.name.as_deref().unwrap_or_default(),
        status_replicas.unwrap_or(decision.current_replicas),
        decision.desired_replicas,
        decision.utilization_percentage,
    );
    // A failed decision's trace is empty: its target is 0, and unknown.
    let target = decision.trace.target_utilization;
    ctx.metrics.set_target_if_live(
        || !item.state.retired.load(Ordering::SeqCst),
        namespace,
        hpa.metadata.name.as_deref().unwrap_or_default(),
        (target > 0).then_some(target),
    );
    Report {
        key: hpa.metadata.key(),
        reason: decision.reason,
        rescaled_to,
        status_written,
        result: if failed {
            ReconcileResult::Error
        } else {
            ReconcileResult::Success
        },
    }
}

/// The MemHpa was deleted, or this replica stopped leading, before the Scale
/// write: the target is no longer ours to write.
struct Abandoned;

/// Performs the Scale write `decision` asks for, or under `-dry-run` only
/// logs it. `Ok(None)`: none was asked for.
fn attempt_rescale(
    ctx: &Context,
    p: &Prepared,
    decision: &Decision,
) -> Result<Option<WriteOutcome>, Abandoned> {
    let Some(r) = &decision.rescale else {
        return Ok(None);
    };
    let item = p.item;
    let key = item.hpa.metadata.key();
    let target = &p.policy.target;
    if ctx.dry_run {
        log::info!(
            "{key}: dry run: would scale {} {} from {} to {} ({})",
            target.kind,
            target.name,
            r.from,
            r.to,
            r.why
        );
        return Ok(Some(WriteOutcome::DryRun));
    }
    let namespace = item.hpa.metadata.namespace.as_deref().unwrap_or_default();
    match write_scale(ctx, item, namespace, p, r.to) {
        Ok(Wrote::NotOurs) => Err(Abandoned),
        Ok(_) => {
            log::info!(
                "{key}: scaled {} {} from {} to {} ({})",
                target.kind,
                target.name,
                r.from,
                r.to,
                r.why
            );
            ctx.metrics
                .scale_write(if r.to > r.from { "up" } else { "down" });
            Ok(Some(WriteOutcome::Written))
        }
        Err(e) => {
            log::warn!("{key}: cannot update the Scale: {e}");
            Ok(Some(WriteOutcome::Failed(e.to_string())))
        }
    }
}

/// How a write that may take several attempts ended, short of an error.
enum Wrote {
    Yes,
    /// Nothing needed writing.
    Nothing,
    /// This replica stopped leading, or the MemHpa was deleted, before a
    /// write: nothing more was written.
    NotOurs,
}

/// Whether this replica may still write for `item`: it leads and the MemHpa
/// was not deleted. Asked right before every write, since either can change
/// at any point of a reconcile.
fn still_ours(ctx: &Context, item: &Item) -> bool {
    (ctx.may_write)() && !item.state.retired.load(Ordering::SeqCst)
}

/// A MemHpa must name its namespace (the job's) and itself before anything is
/// written on its behalf; `Err` says what is missing.
fn identity(hpa: &MemHpa, namespace: &str) -> Result<(), String> {
    let meta = &hpa.metadata;
    match (meta.namespace.as_deref(), meta.name.as_deref()) {
        (None | Some(""), _) => Err(format!("no metadata.namespace (name {:?})", meta.name)),
        (_, None | Some("")) => Err(format!("no metadata.name (namespace {:?})", meta.namespace)),
        (Some(ns), _) if ns != namespace => Err(format!(
            "metadata.namespace {ns:?} is not the job's namespace {namespace:?}"
        )),
        _ => Ok(()),
    }
}

/// Sets the target's count to `to`. A write whose outcome is unknown (a
/// conflict, which is what the resend of a PUT whose response was lost gets,
/// or a lost response itself) is settled by reading the Scale back: showing
/// `to` means our write landed, and it is a success.
fn write_scale(
    ctx: &Context,
    item: &Item,
    namespace: &str,
    p: &Prepared,
    to: i64,
) -> Result<Wrote, KubeError> {
    let cluster = ctx.cluster.as_ref();
    let mut scale = p.scale.clone();
    for attempt in 1..=CONFLICT_RETRIES {
        if !still_ours(ctx, item) {
            return Ok(Wrote::NotOurs);
        }
        scale.spec.replicas = to;
        let err = match cluster.replace_scale(namespace, &p.target, &scale) {
            Ok(_) => return Ok(Wrote::Yes),
            Err(err) if is_ambiguous(&err) => err,
            Err(err) => return Err(err),
        };
        let fresh = match cluster.get_scale(namespace, &p.target) {
            Ok(fresh) => fresh,
            // After a conflict the server is up and the read's error is news;
            // after a lost response, the write's own error says more.
            Err(read) if err.is_conflict() => return Err(read),
            Err(_) => return Err(err),
        };
        if fresh.spec.replicas == to {
            log::debug!(
                "{}: the Scale already shows {to} after {err}: our write landed",
                item.hpa.metadata.key()
            );
            return Ok(Wrote::Yes);
        }
        if !err.is_conflict() || attempt == CONFLICT_RETRIES {
            return Err(err);
        }
        if fresh.spec.replicas != p.scale.spec.replicas {
            // Someone else resized the target meanwhile: the decision
            // was made for a count that no longer holds.
            return Err(KubeError::with_status(
                "update",
                p.target.path(namespace),
                409,
                "Conflict",
                format!(
                    "spec.replicas changed from {} to {} during the reconcile",
                    p.scale.spec.replicas, fresh.spec.replicas
                ),
            ));
        }
        scale = fresh;
    }
    Ok(Wrote::Yes)
}

/// An error after which the write may or may not have been applied.
fn is_ambiguous(err: &KubeError) -> bool {
    err.is_conflict()
        || matches!(
            err.kind,
            ErrorKind::Transport { .. } | ErrorKind::Timeout { .. }
        )
}

/// Writes the status if it changed. A 409 re-reads the object and rebuilds
/// the status on top of what it now says.
fn write_status(
    ctx: &Context,
    item: &Item,
    decision: &Decision,
    status_replicas: Option<i64>,
    outcome: Outcome,
) -> Result<Wrote, KubeError> {
    let hpa = &item.hpa;
    let namespace = hpa.metadata.namespace.as_deref().unwrap_or_default();
    let name = hpa.metadata.name.as_deref().unwrap_or_default();
    // Borrowed until a write is due: a quiet tick copies no MemHpa.
    let mut current: Cow<'_, MemHpa> = Cow::Borrowed(hpa);
    for attempt in 1..=CONFLICT_RETRIES {
        let next = next_status(current.status.as_ref(), decision, status_replicas, outcome);
        if current.status.as_ref() == Some(&next) {
            return Ok(Wrote::Nothing);
        }
        if !still_ours(ctx, item) {
            return Ok(Wrote::NotOurs);
        }
        let mut object = current.clone().into_owned();
        object.status = Some(next);
        match ctx.cluster.replace_memhpa_status(&object) {
            Ok(written) => {
                (ctx.refreshed)(written);
                return Ok(Wrote::Yes);
            }
            Err(e) if e.is_conflict() && attempt < CONFLICT_RETRIES => {
                let fresh = ctx.cluster.get_memhpa(namespace, name)?;
                (ctx.refreshed)(fresh.clone());
                current = Cow::Owned(fresh);
            }
            // Deleted while we reconciled: nothing left to report on.
            Err(e) if e.is_not_found() => return Ok(Wrote::Nothing),
            Err(e) => return Err(e),
        }
    }
    Ok(Wrote::Nothing)
}

/// Records the decision's events; false if this replica stopped leading (or
/// the MemHpa went) before one of them, which is then not sent.
fn emit_events(ctx: &Context, item: &Item, decision: &Decision, now: i64) -> bool {
    let hpa = &item.hpa;
    let involved = ObjectReference {
        api_version: Some(format!("{}/{}", api::GROUP, api::VERSION)),
        kind: Some(api::KIND.to_string()),
        namespace: hpa.metadata.namespace.clone(),
        name: hpa.metadata.name.clone(),
        uid: hpa.metadata.uid.clone(),
        resource_version: None,
    };
    for e in &decision.events {
        if !still_ours(ctx, item) {
            return false;
        }
        if let Err(err) = ctx
            .cluster
            .emit(&involved, e.warning, e.reason.as_str(), &e.message, now)
        {
            log::warn!(
                "{}: cannot record event {}: {err}",
                hpa.metadata.key(),
                e.reason
            );
        }
    }
    true
}

fn skipped(item: &Item) -> Report {
    Report {
        key: item.hpa.metadata.key(),
        reason: Reason::Skipped,
        rescaled_to: None,
        status_written: false,
        result: ReconcileResult::Skipped,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::Pod;
    use serde_json::json;
    use std::collections::VecDeque;

    /// A cluster in memory that records every call as one action line, the way
    /// sample-controller's fixtures do, and can be told to fail calls.
    #[derive(Default)]
    struct FakeCluster {
        scale: Mutex<Option<Scale>>,
        pods: Vec<Pod>,
        hpa: Mutex<Option<MemHpa>>,
        actions: Mutex<Vec<String>>,
        /// Errors handed out, in order, to calls whose action starts with the key.
        failures: Mutex<Vec<(String, VecDeque<KubeError>)>>,
        /// A failed Scale write is applied all the same, as when the server
        /// took it and only its answer was lost.
        failed_scale_writes_land: AtomicBool,
    }

    impl FakeCluster {
        fn record(&self, action: String) -> Result<(), KubeError> {
            self.actions.lock().unwrap().push(action.clone());
            let mut failures = self.failures.lock().unwrap();
            for (prefix, queue) in failures.iter_mut() {
                if action.starts_with(prefix.as_str()) {
                    if let Some(e) = queue.pop_front() {
                        return Err(e);
                    }
                }
            }
            Ok(())
        }

        fn fail(&self, prefix: &str, e: KubeError) {
            let mut failures = self.failures.lock().unwrap();
            match failures.iter_mut().find(|(p, _)| p == prefix) {
                Some((_, q)) => q.push_back(e),
                None => failures.push((prefix.to_string(), VecDeque::from([e]))),
            }
        }

        fn actions(&self) -> Vec<String> {
            self.actions.lock().unwrap().clone()
        }

        fn writes(&self) -> Vec<String> {
            self.actions()
                .into_iter()
                .filter(|a| !a.starts_with("get") && !a.starts_with("list"))
                .collect()
        }
    }

    fn not_found(path: &str) -> KubeError {
        KubeError::with_status("get", path, 404, "", "not found")
    }

    fn conflict(path: &str) -> KubeError {
        KubeError::with_status(
            "update",
            path,
            409,
            "Conflict",
            "the object has been modified",
        )
    }

    impl Cluster for FakeCluster {
        fn get_scale(&self, ns: &str, target: &ScaleTarget) -> Result<Scale, KubeError> {
            self.record(format!("get scale {}", target.path(ns)))?;
            self.scale
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| not_found(&target.path(ns)))
        }
        fn replace_scale(
            &self,
            ns: &str,
            target: &ScaleTarget,
            scale: &Scale,
        ) -> Result<Scale, KubeError> {
            let result = self.record(format!(
                "update scale {} replicas={}",
                target.path(ns),
                scale.spec.replicas
            ));
            if result.is_ok() || self.failed_scale_writes_land.load(Ordering::SeqCst) {
                *self.scale.lock().unwrap() = Some(scale.clone());
            }
            result?;
            Ok(scale.clone())
        }
        fn list_pods(&self, ns: &str, selector: &str) -> Result<Vec<Pod>, KubeError> {
            self.record(format!("list pods {ns} {selector}"))?;
            Ok(self.pods.clone())
        }
        fn get_memhpa(&self, ns: &str, name: &str) -> Result<MemHpa, KubeError> {
            self.record(format!("get memhpa {ns}/{name}"))?;
            self.hpa
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| not_found(name))
        }
        fn replace_memhpa_status(&self, hpa: &MemHpa) -> Result<MemHpa, KubeError> {
            self.record(format!("update status {}", hpa.metadata.key()))?;
            *self.hpa.lock().unwrap() = Some(hpa.clone());
            Ok(hpa.clone())
        }
        fn emit(
            &self,
            involved: &ObjectReference,
            warning: bool,
            reason: &str,
            message: &str,
            _now: i64,
        ) -> Result<(), KubeError> {
            let kind = if warning { "Warning" } else { "Normal" };
            let name = involved.name.as_deref().unwrap_or_default();
            self.record(format!("event {name} {kind} {reason}: {message}"))
        }
    }

    struct FakeUsage {
        result: Result<Usage, PromError>,
        calls: Mutex<Vec<Vec<String>>>,
    }

    impl UsageSource for FakeUsage {
        fn pod_usage(&self, _ns: &str, pods: &[String]) -> Result<Usage, PromError> {
            self.calls.lock().unwrap().push(pods.to_vec());
            self.result.clone()
        }
    }

    const MI: f64 = 1024.0 * 1024.0;

    fn pod(name: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "demo"},
            "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "100Mi"}}}]},
            "status": {"phase": "Running"}
        }))
        .unwrap()
    }

    fn memhpa(spec: serde_json::Value) -> MemHpa {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "demo", "uid": "u1", "generation": 1, "resourceVersion": "5"},
            "spec": spec
        }))
        .unwrap()
    }

    fn good_spec() -> serde_json::Value {
        json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
               "minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 50})
    }

    fn scale(replicas: i64) -> Scale {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "demo", "resourceVersion": "3"},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "selector": "app=web"}
        }))
        .unwrap()
    }

    struct Setup {
        cluster: Arc<FakeCluster>,
        usage: Arc<FakeUsage>,
        ctx: Context,
        item: Item,
        /// What the reconcile handed the store (`Context::refreshed`).
        refreshed: Arc<Mutex<Vec<MemHpa>>>,
    }

    /// Two pods at `percent` of their 100Mi limit, a Deployment at 2 replicas.
    fn setup(percent: f64, dry_run: bool) -> Setup {
        let usage = Usage::from_samples(
            "demo",
            [
                ("web-1", "app", percent * MI),
                ("web-2", "app", percent * MI),
            ],
        );
        setup_with(Ok(usage), good_spec(), dry_run)
    }

    fn setup_with(
        usage: Result<Usage, PromError>,
        spec: serde_json::Value,
        dry_run: bool,
    ) -> Setup {
        let hpa = memhpa(spec);
        let cluster = Arc::new(FakeCluster {
            scale: Mutex::new(Some(scale(2))),
            pods: vec![pod("web-1"), pod("web-2")],
            hpa: Mutex::new(Some(hpa.clone())),
            ..FakeCluster::default()
        });
        let usage = Arc::new(FakeUsage {
            result: usage,
            calls: Mutex::new(Vec::new()),
        });
        let refreshed = Arc::new(Mutex::new(Vec::new()));
        let ctx = Context {
            cluster: cluster.clone(),
            usage: usage.clone(),
            metrics: Arc::new(Metrics::new()),
            dry_run,
            clock: Arc::new(|| 1_700_000_000),
            may_write: Arc::new(|| true),
            refreshed: {
                let refreshed = Arc::clone(&refreshed);
                Arc::new(move |hpa| refreshed.lock().unwrap().push(hpa))
            },
        };
        let item = Item {
            hpa: Arc::new(hpa),
            state: Arc::new(ObjectState::default()),
        };
        Setup {
            cluster,
            usage,
            ctx,
            item,
            refreshed,
        }
    }

    fn run(s: &Setup) -> Report {
        let mut reports = reconcile_namespace(&s.ctx, "demo", std::slice::from_ref(&s.item));
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    fn written_status(s: &Setup) -> crate::api::MemHpaStatus {
        s.cluster
            .hpa
            .lock()
            .unwrap()
            .clone()
            .unwrap()
            .status
            .expect("status written")
    }

    fn condition(s: &Setup, type_: &str) -> (String, String) {
        let c = written_status(s)
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("{type_} missing"));
        (c.status, c.reason.unwrap_or_default())
    }

    #[test]
    fn above_target_scales_up_writes_status_and_an_event() {
        let s = setup(80.0, false);
        let r = run(&s);
        assert_eq!(
            r.rescaled_to,
            Some(4),
            "2 pods at 80% of limit, target 50% -> 4"
        );
        assert_eq!(
            s.cluster.writes(),
            vec![
                "update scale /apis/apps/v1/namespaces/demo/deployments/web/scale replicas=4".to_string(),
                "event web Normal SuccessfulRescale: New size: 4; reason: memory utilization (percentage of limit) above target".to_string(),
                "update status demo/web".to_string(),
            ]
        );
        let st = written_status(&s);
        assert_eq!(st.desired_replicas, Some(4));
        assert_eq!(st.current_replicas, Some(2));
        assert_eq!(st.current_utilization_percentage, Some(80));
        assert_eq!(st.observed_generation, Some(1));
        assert!(st.last_scale_time.is_some());
        assert_eq!(
            condition(&s, "AbleToScale"),
            ("True".into(), "SucceededRescale".into())
        );
        assert_eq!(
            condition(&s, "ScalingActive"),
            ("True".into(), "ValidMetricFound".into())
        );
    }

    #[test]
    fn one_query_covers_all_pods_of_the_namespace() {
        let s = setup(80.0, false);
        run(&s);
        assert_eq!(
            *s.usage.calls.lock().unwrap(),
            vec![vec!["web-1".to_string(), "web-2".to_string()]]
        );
    }

    #[test]
    fn a_second_reconcile_with_nothing_new_writes_nothing() {
        let s = setup(50.0, false);
        let first = run(&s);
        assert!(first.status_written);
        assert_eq!(s.refreshed.lock().unwrap().len(), 1, "the write's answer");
        let item = Item {
            hpa: Arc::new(s.cluster.hpa.lock().unwrap().clone().unwrap()),
            state: Arc::clone(&s.item.state),
        };
        s.cluster.actions.lock().unwrap().clear();
        let again = reconcile_namespace(&s.ctx, "demo", &[item]);
        assert!(!again[0].status_written);
        assert_eq!(
            s.refreshed.lock().unwrap().len(),
            1,
            "nothing new for the store"
        );
        assert!(
            s.cluster.writes().is_empty(),
            "writes: {:?}",
            s.cluster.writes()
        );
    }

    #[test]
    fn dry_run_never_writes_the_scale() {
        let s = setup(80.0, true);
        let r = run(&s);
        assert_eq!(r.rescaled_to, None);
        assert!(!s
            .cluster
            .actions()
            .iter()
            .any(|a| a.starts_with("update scale")));
        assert_eq!(written_status(&s).desired_replicas, Some(4));
        assert_eq!(
            condition(&s, "AbleToScale"),
            ("True".into(), "SucceededGetScale".into())
        );
        assert!(s
            .cluster
            .actions()
            .iter()
            .any(|a| a.contains("DryRunRescale")));
    }

    #[test]
    fn a_missing_target_is_failed_get_scale() {
        let s = setup(80.0, false);
        *s.cluster.scale.lock().unwrap() = None;
        let r = run(&s);
        assert_eq!(r.reason, Reason::FailedGetScale);
        assert_eq!(
            condition(&s, "AbleToScale"),
            ("False".into(), "FailedGetScale".into())
        );
        assert!(s.cluster.actions().iter().any(|a| a.starts_with(
            "event web Warning FailedGetScale: the target Deployment demo/web does not exist"
        )));
        assert!(
            s.usage.calls.lock().unwrap().is_empty(),
            "no query without pods"
        );
    }

    #[test]
    fn a_fault_is_remembered_until_it_clears_and_the_target_is_served_once_known() {
        let s = setup(80.0, false);
        *s.cluster.scale.lock().unwrap() = None;
        run(&s);
        let raised = || s.item.state.alarm.lock().unwrap().raised();
        assert_eq!(raised(), Some(Reason::FailedGetScale));
        let target = "memhpa_target_utilization_ratio{namespace=\"demo\",name=\"web\"}";
        assert!(!s.ctx.metrics.render().contains(target), "unknown yet");
        *s.cluster.scale.lock().unwrap() = Some(scale(2));
        assert_eq!(run(&s).reason, Reason::AboveTarget);
        assert_eq!(raised(), None);
        assert!(
            s.ctx.metrics.render().contains(&format!("{target} 0.5\n")),
            "{}",
            s.ctx.metrics.render()
        );
    }

    #[test]
    fn an_invalid_spec_is_invalid_spec_naming_the_field() {
        let s = setup_with(
            Ok(Usage::default()),
            json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}),
            false,
        );
        let r = run(&s);
        assert_eq!(r.reason, Reason::InvalidSpec);
        let st = written_status(&s);
        let active = st
            .conditions
            .iter()
            .find(|c| c.type_ == "ScalingActive")
            .unwrap();
        assert!(active
            .message
            .as_deref()
            .unwrap()
            .contains("spec.maxReplicas"));
        assert!(s
            .cluster
            .actions()
            .iter()
            .all(|a| !a.starts_with("get scale")));
    }

    #[test]
    fn an_unsupported_kind_is_invalid_spec() {
        let s = setup_with(
            Ok(Usage::default()),
            json!({"scaleTargetRef": {"apiVersion": "batch/v1", "kind": "CronJob", "name": "x"}, "maxReplicas": 3}),
            false,
        );
        assert_eq!(run(&s).reason, Reason::InvalidSpec);
    }

    #[test]
    fn prometheus_down_never_scales_and_says_why() {
        let err = PromError::Transport {
            url: "http://127.0.0.1:1/api/v1/query".into(),
            query: "q".into(),
            detail: "connection refused".into(),
        };
        let s = setup_with(Err(err), good_spec(), false);
        let r = run(&s);
        assert_eq!(r.rescaled_to, None);
        assert_eq!(
            condition(&s, "ScalingActive"),
            ("False".into(), "FailedGetResourceMetric".into())
        );
        let msg = written_status(&s)
            .conditions
            .into_iter()
            .find(|c| c.type_ == "ScalingActive")
            .and_then(|c| c.message)
            .unwrap();
        assert!(msg.contains("connection refused"), "{msg}");
    }

    #[test]
    fn a_stale_status_write_is_retried_on_the_fresh_object() {
        let s = setup(80.0, false);
        s.cluster.fail("update status", conflict("demo/web"));
        let r = run(&s);
        assert!(r.status_written);
        let acts = s.cluster.actions();
        let updates = acts
            .iter()
            .filter(|a| a.starts_with("update status"))
            .count();
        assert_eq!(updates, 2, "{acts:?}");
        assert!(acts.iter().any(|a| a == "get memhpa demo/web"));
        // The store gets the re-read, then what the write made of it.
        let refreshed = s.refreshed.lock().unwrap();
        assert_eq!(refreshed.len(), 2, "{refreshed:?}");
        assert!(
            refreshed[0].status.is_none(),
            "the re-read, as the server had it"
        );
        assert_eq!(refreshed[1].status.as_ref(), Some(&written_status(&s)));
    }

    #[test]
    fn a_failed_scale_write_is_failed_update_scale() {
        let s = setup(80.0, false);
        let forbidden = KubeError::with_status("update", "scale", 403, "", "forbidden");
        s.cluster.fail("update scale", forbidden);
        let r = run(&s);
        assert_eq!(r.rescaled_to, None);
        assert_eq!(r.result, ReconcileResult::Error);
        assert_eq!(
            condition(&s, "AbleToScale"),
            ("False".into(), "FailedUpdateScale".into())
        );
        assert!(s
            .cluster
            .actions()
            .iter()
            .any(|a| a.contains("Warning FailedRescale")));
    }

    #[test]
    fn a_scale_conflict_with_an_unchanged_count_is_retried() {
        let s = setup(80.0, false);
        s.cluster.fail("update scale", conflict("scale"));
        let r = run(&s);
        assert_eq!(r.rescaled_to, Some(4));
    }

    #[test]
    fn a_resent_scale_write_that_had_landed_is_a_success() {
        // The first PUT landed but its answer was lost; the resend (same
        // resourceVersion) gets 409, or the answer is lost again.
        let detail = "connection reset".into();
        let lost = KubeError::new("update", "scale", ErrorKind::Transport { detail });
        for err in [conflict("scale"), lost] {
            let s = setup(80.0, false);
            s.cluster
                .failed_scale_writes_land
                .store(true, Ordering::SeqCst);
            s.cluster.fail("update scale", err);
            let r = run(&s);
            assert_eq!(
                (r.reason, r.rescaled_to),
                (Reason::AboveTarget, Some(4)),
                "{r:?}"
            );
            assert_eq!(r.result, ReconcileResult::Success);
            assert_eq!(condition(&s, "AbleToScale").1, "SucceededRescale");
            assert!(
                !s.cluster
                    .actions()
                    .iter()
                    .any(|a| a.contains("FailedUpdateScale")),
                "{:?}",
                s.cluster.actions()
            );
            assert_eq!(
                s.item
                    .state
                    .history
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map(|h| h.added_since(1_700_000_000, 60)),
                Some(2),
                "the history records the scale"
            );
        }
    }

    #[test]
    fn a_scale_write_lost_without_landing_still_fails() {
        let s = setup(80.0, false);
        s.cluster.fail(
            "update scale",
            KubeError::new(
                "update",
                "scale",
                ErrorKind::Transport {
                    detail: "connection reset".into(),
                },
            ),
        );
        let r = run(&s);
        assert_eq!(r.reason, Reason::FailedUpdateScale, "{r:?}");
        assert_eq!(r.rescaled_to, None);
    }

    #[test]
    fn leadership_lost_mid_reconcile_writes_no_status_or_event() {
        // At target: no rescale, but a first status and no event to write.
        for percent in [50.0, 10.0] {
            let mut s = setup(percent, false);
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = Arc::clone(&calls);
            s.ctx.may_write = Arc::new(move || seen.fetch_add(1, Ordering::SeqCst) == 0);
            let r = run(&s);
            assert_eq!(r.result, ReconcileResult::Skipped, "{r:?}");
            assert!(
                s.cluster.writes().is_empty(),
                "{percent}%: writes: {:?}",
                s.cluster.writes()
            );
        }
    }

    #[test]
    fn a_memhpa_without_identity_is_never_written_for() {
        for metadata in [
            json!({"name": "web"}),
            json!({"name": "web", "namespace": ""}),
            json!({"namespace": "demo"}),
            json!({"name": "web", "namespace": "other"}),
        ] {
            let mut s = setup(80.0, false);
            Arc::make_mut(&mut s.item.hpa).metadata =
                serde_json::from_value(metadata.clone()).unwrap();
            let ns = s.item.hpa.metadata.namespace.clone().unwrap_or_default();
            let ns = if ns == "other" {
                "demo".to_string()
            } else {
                ns
            };
            let reports = reconcile_namespace(&s.ctx, &ns, std::slice::from_ref(&s.item));
            assert_eq!(reports[0].result, ReconcileResult::Skipped, "{metadata}");
            assert!(
                s.cluster.actions().is_empty(),
                "{metadata}: {:?}",
                s.cluster.actions()
            );
        }
    }

    #[test]
    fn a_retired_memhpa_is_not_touched() {
        let s = setup(80.0, false);
        s.item.state.retired.store(true, Ordering::SeqCst);
        let r = run(&s);
        assert_eq!(r.result, ReconcileResult::Skipped);
        assert!(s.cluster.actions().is_empty());
    }

    #[test]
    fn a_follower_does_nothing() {
        let mut s = setup(80.0, false);
        s.ctx.may_write = Arc::new(|| false);
        assert_eq!(run(&s).result, ReconcileResult::Skipped);
        assert!(s.cluster.actions().is_empty());
    }

    #[test]
    fn leadership_lost_mid_reconcile_writes_no_scale() {
        let mut s = setup(80.0, false);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        // Leader when the job starts, no longer when the Scale is due.
        s.ctx.may_write = Arc::new(move || seen.fetch_add(1, Ordering::SeqCst) == 0);
        let r = run(&s);
        assert_eq!(r.result, ReconcileResult::Skipped);
        assert!(
            calls.load(Ordering::SeqCst) >= 2,
            "leadership asked again before the write"
        );
        assert!(
            s.cluster.writes().is_empty(),
            "writes: {:?}",
            s.cluster.writes()
        );
    }

    #[test]
    fn a_first_look_never_scales_down_before_a_whole_window() {
        // 2 pods at 10% of their limit, target 50%: the calculator says 1. The
        // default scale-down window is 300 s.
        let mut s = setup(10.0, false);
        let now = Arc::new(std::sync::atomic::AtomicI64::new(1_700_000_000));
        let clock = Arc::clone(&now);
        s.ctx.clock = Arc::new(move || clock.load(Ordering::SeqCst));
        let first = run(&s);
        assert_eq!(
            first.rescaled_to, None,
            "a restart must not scale down at once"
        );
        assert_eq!(first.reason, Reason::ScaleDownStabilized);
        now.fetch_add(301, Ordering::SeqCst);
        assert_eq!(run(&s).rescaled_to, Some(1), "after the window it does");
    }

    #[test]
    fn the_clock_is_read_once_per_reconcile() {
        // A rescale, a failed spec beside it: every time stamp of the pass
        // (history, event, status) comes from one reading.
        let mut s = setup(80.0, false);
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&reads);
        s.ctx.clock = Arc::new(move || 1_700_000_000 + seen.fetch_add(1, Ordering::SeqCst) as i64);
        let mut broken = s.item.clone();
        Arc::make_mut(&mut broken.hpa).spec = serde_json::from_value(json!({})).unwrap();
        broken.state = Arc::new(ObjectState::default());
        let reports = reconcile_namespace(&s.ctx, "demo", &[s.item.clone(), broken]);
        // Failures found while preparing are reported first.
        assert_eq!(reports[0].reason, Reason::InvalidSpec, "{reports:?}");
        assert_eq!(reports[1].rescaled_to, Some(4), "{reports:?}");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        let history = s.item.state.history.lock().unwrap().clone().unwrap();
        assert_eq!(history.added_since(1_700_000_000, 1), 2, "{history:?}");
    }

    #[test]
    fn dry_run_says_what_it_would_have_done() {
        let s = setup(80.0, true);
        let r = run(&s);
        assert_eq!(
            (r.reason, r.result),
            (Reason::AboveTarget, ReconcileResult::Success)
        );
        let able = written_status(&s)
            .conditions
            .into_iter()
            .find(|c| c.type_ == "AbleToScale")
            .unwrap();
        assert_eq!(
            able.message.as_deref(),
            Some("dry run: the MemHpa controller would update the target scale to 4")
        );
        assert!(s.cluster.actions().iter().any(|a| a
            == "event web Normal DryRunRescale: Would set size: 4; reason: memory utilization (percentage of limit) above target"));
        let history = s.item.state.history.lock().unwrap().clone().unwrap();
        assert_eq!(
            history.added_since(1_700_000_000, 60),
            0,
            "nothing was scaled"
        );
    }

    #[test]
    fn zero_replicas_is_scaling_disabled() {
        let s = setup(80.0, false);
        *s.cluster.scale.lock().unwrap() = Some(scale(0));
        let r = run(&s);
        assert_eq!(r.reason, Reason::ScalingDisabled);
        assert_eq!(r.rescaled_to, None);
    }
}
