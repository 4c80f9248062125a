//! The controller in-process against the fake kube-apiserver (issue 3, "Must
//! show"): every test runs `Controller::run` with a real `kube::Client` on its
//! own fake, Prometheus being a stub, and judges the controller by what the
//! fake saw: its objects, its Events and its request log.
//!
//! Every app pod has one container with a 100Mi limit; "2 pods at 80%, target
//! 50%" means utilization 80, ratio 1.6, so 2 replicas become ceil(1.6 * 2) = 4.

mod controllersupport;
mod httpsupport;
mod kubesupport;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use controllersupport::{condition, memhpa, pod, Harness, Options, WAIT};
use serde_json::json;

/// How long "at once" may take: one reconcile, far below any tick here.
const PROMPT: Duration = Duration::from_secs(5);

/// A resync short enough that a test can watch several ticks go by.
const SHORT_TICK: Duration = Duration::from_millis(200);

/// Create -> Scale written by the first reconcile (the tick is an hour away),
/// status complete, a SuccessfulRescale Event from memhpa.
#[test]
fn a_new_memhpa_is_scaled_by_its_first_reconcile() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));

    h.wait_until("Deployment shop/web scaled to 4", PROMPT, || {
        h.replicas("shop", "web") == Some(4)
    });
    h.wait_until("the status of shop/web written", WAIT, || {
        h.observed_current("shop", "web")
    });
    let m = h.memhpa("shop", "web");
    let status = &m["status"];
    assert_eq!(status["currentReplicas"], 2, "{status}");
    assert_eq!(status["desiredReplicas"], 4, "{status}");
    assert_eq!(status["currentUtilizationPercentage"], 80, "{status}");
    assert_eq!(status["observedGeneration"], m["metadata"]["generation"]);
    assert!(status["lastScaleTime"].is_string(), "{status}");
    assert_eq!(
        condition(&m, "AbleToScale").map(|c| (c.0, c.1)),
        Some(("True".into(), "SucceededRescale".into())),
        "{status}"
    );
    assert_eq!(
        condition(&m, "ScalingActive").map(|c| (c.0, c.1)),
        Some(("True".into(), "ValidMetricFound".into())),
        "{status}"
    );
    assert_eq!(h.scale_writes("shop", "web"), 1, "{}", h.log_tail(30));

    h.wait_until("a SuccessfulRescale Event", WAIT, || {
        !h.events("shop", "SuccessfulRescale").is_empty()
    });
    let events = h.events("shop", "SuccessfulRescale");
    let e = &events[0];
    assert_eq!(e["source"]["component"], "memhpa", "{e}");
    assert_eq!(e["type"], "Normal", "{e}");
    assert_eq!(e["involvedObject"]["kind"], "MemHpa", "{e}");
    assert_eq!(e["involvedObject"]["name"], "web", "{e}");
    assert_eq!(
        e["message"],
        "New size: 4; reason: memory utilization (percentage of limit) above target"
    );
}

/// A new target percentage is acted on by the reconcile its watch event
/// starts; the tick is an hour away.
#[test]
fn a_modified_memhpa_is_reconciled_at_once() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("Deployment shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4) && h.observed_current("shop", "web")
    });

    h.server.update_memhpa_spec("shop", "web", |spec| {
        spec["targetUtilizationPercentage"] = json!(25);
    });
    h.wait_until("generation 2 of shop/web observed", PROMPT, || {
        h.observed_current("shop", "web")
    });
    let m = h.memhpa("shop", "web");
    assert_eq!(m["metadata"]["generation"], 2);
    let desired = m["status"]["desiredReplicas"].as_i64();
    assert!(
        desired.is_some_and(|d| d > 4),
        "80% against a 25% target must want more than 4 replicas: {}",
        m["status"]
    );
    h.wait_until("the Scale follows the new decision", WAIT, || {
        h.replicas("shop", "web") == desired
    });
    assert_eq!(h.scale_writes("shop", "web"), 2, "{}", h.log_tail(30));
}

/// After a delete, ticks go on (the other MemHpa's Scale keeps being read)
/// but the deleted one's target is never touched again, not even when it is
/// put back to a size the MemHpa would have changed.
#[test]
fn a_deleted_memhpa_leaves_its_target_alone() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.app("shop", "api", 2, 2, 80.0);
    h.start(Options::resync(SHORT_TICK));
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.server
        .create_memhpa(memhpa("shop", "api", "api", 1, 10, 50));
    h.wait_until("both Deployments scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4) && h.replicas("shop", "api") == Some(4)
    });

    assert!(h.server.delete_memhpa("shop", "web"));
    // Two ticks for the DELETED event to be in; a reconcile that started
    // before it may still finish.
    let reads = h.scale_reads("shop", "api");
    h.wait_until("two ticks after the delete", WAIT, || {
        h.scale_reads("shop", "api") >= reads + 2
    });
    h.server.put_deployment("shop", "web", 2, &[("app", "web")]);
    let touched = h.scale_requests("shop", "web", &["GET", "PUT", "PATCH"]);
    let reads = h.scale_reads("shop", "api");
    h.wait_until("five more ticks", WAIT, || {
        h.scale_reads("shop", "api") >= reads + 5
    });
    assert_eq!(
        h.scale_requests("shop", "web", &["GET", "PUT", "PATCH"]),
        touched,
        "the Scale of a deleted MemHpa's target was used\n{}",
        h.log_tail(40)
    );
    assert_eq!(h.replicas("shop", "web"), Some(2));
}

/// No hot loop, proven without ticks: our status write on A comes back as a
/// MODIFIED event. A spec change of B, in the same namespace, comes after it
/// on the watch; namespace jobs run one at a time, so once B's new
/// generation is observed any reconcile that event caused for A has ended.
#[test]
fn our_own_status_write_starts_no_reconcile() {
    let mut h = Harness::new();
    h.app("loop", "a", 2, 2, 80.0);
    h.app("loop", "b", 2, 2, 50.0);
    h.start(Options::default());
    h.server.create_memhpa(memhpa("loop", "a", "a", 1, 10, 50));
    h.server.create_memhpa(memhpa("loop", "b", "b", 1, 10, 50));
    h.wait_until("both statuses written", WAIT, || {
        h.observed_current("loop", "a") && h.observed_current("loop", "b")
    });
    assert_eq!(h.replicas("loop", "a"), Some(4));

    h.server.update_memhpa_spec("loop", "b", |spec| {
        spec["targetUtilizationPercentage"] = json!(52);
    });
    h.wait_until("generation 2 of loop/b observed", WAIT, || {
        h.observed_current("loop", "b")
    });
    assert_eq!(h.memhpa("loop", "b")["metadata"]["generation"], 2);
    let tail = h.log_tail(40);
    assert_eq!(h.scale_reads("loop", "a"), 1, "A reconciled again\n{tail}");
    assert_eq!(h.scale_writes("loop", "a"), 1, "{tail}");
    assert_eq!(h.status_writes("loop", "a"), 1, "{tail}");
    assert_eq!(h.scale_writes("loop", "b"), 0, "{tail}");
}

/// Many ticks with steady usage: one Scale write in all, and the status is
/// written again only while it changes, then never.
#[test]
fn steady_usage_over_many_ticks_writes_the_scale_once() {
    let mut h = Harness::new();
    h.app("steady", "web", 2, 2, 80.0);
    h.start(Options::resync(SHORT_TICK));
    h.server
        .create_memhpa(memhpa("steady", "web", "web", 1, 10, 50));
    h.wait_until("five reconciles", WAIT, || {
        h.scale_reads("steady", "web") >= 5
    });
    let settled = h.status_writes("steady", "web");
    h.wait_until("ten more reconciles", WAIT, || {
        h.scale_reads("steady", "web") >= 15
    });
    let tail = h.log_tail(40);
    assert_eq!(h.replicas("steady", "web"), Some(4), "{tail}");
    assert_eq!(h.scale_writes("steady", "web"), 1, "{tail}");
    assert!(
        (1..=2).contains(&settled),
        "status writes in the first five reconciles: {settled}\n{tail}"
    );
    assert_eq!(
        h.status_writes("steady", "web"),
        settled,
        "the status was written although nothing changed\n{tail}"
    );
}

/// The MemHpas of the churn test: `m{i}` scales Deployment `d{i}`.
struct Churn {
    live: BTreeSet<usize>,
    deleted: BTreeSet<usize>,
    next: usize,
    edits: i64,
}

const CHURN_NS: &str = "churn";
const CHURN_APPS: usize = 16;

impl Churn {
    fn create(&mut self, h: &Harness) -> bool {
        if self.next >= CHURN_APPS {
            return false;
        }
        let i = self.next;
        self.next += 1;
        let (name, target) = (format!("m{i}"), format!("d{i}"));
        h.server
            .create_memhpa(memhpa(CHURN_NS, &name, &target, 1, 10, 50));
        self.live.insert(i);
        true
    }

    /// A spec edit (target 50 <-> 60): a new generation to observe.
    fn modify(&mut self, h: &Harness, pick: usize) {
        let i = *self
            .live
            .iter()
            .nth(pick % self.live.len())
            .expect("a live MemHpa");
        self.edits += 1;
        let percent = if self.edits % 2 == 0 { 50 } else { 60 };
        h.server
            .update_memhpa_spec(CHURN_NS, &format!("m{i}"), |spec| {
                spec["targetUtilizationPercentage"] = json!(percent);
            });
    }

    fn delete(&mut self, h: &Harness, pick: usize) -> bool {
        if self.live.len() <= 3 {
            return false;
        }
        let i = *self
            .live
            .iter()
            .nth(pick % self.live.len())
            .expect("a live MemHpa");
        assert!(h.server.delete_memhpa(CHURN_NS, &format!("m{i}")));
        self.live.remove(&i);
        self.deleted.insert(i);
        true
    }

    /// One change of the script: an edit, a create or a delete.
    fn step(&mut self, h: &Harness, n: usize) {
        let done = match n % 3 {
            1 => self.create(h),
            2 => self.delete(h, n),
            _ => false,
        };
        if !done {
            self.modify(h, n);
        }
    }

    fn all_observed(&self, h: &Harness) -> bool {
        self.live
            .iter()
            .all(|i| h.observed_current(CHURN_NS, &format!("m{i}")))
    }

    /// Requests of any kind for the Scales of deleted MemHpas' targets.
    fn deleted_touched(&self, h: &Harness) -> usize {
        self.deleted
            .iter()
            .map(|i| h.scale_requests(CHURN_NS, &format!("d{i}"), &["GET", "PUT", "PATCH"]))
            .sum()
    }
}

/// Watch statuses recorded from index `from` of the MemHpa watches on.
fn watches_since(h: &Harness, from: usize) -> Vec<u16> {
    h.watches().into_iter().skip(from).collect()
}

/// The watch is cut 20 times (half of them with a change made while no
/// stream is open, which the resumed watch must replay) and expires twice,
/// once as an in-stream ERROR and once as HTTP 410, each time with a create,
/// an edit and a delete the watcher never sees as events, so only the relist
/// can bring them. No tick runs: each change reaches the controller through
/// the watch or not at all. At the end every surviving MemHpa's last
/// generation is observed, and a reconcile of everything the controller
/// stores touches no deleted MemHpa's target.
#[test]
fn watch_cuts_and_expiries_lose_no_change() {
    let mut h = Harness::new();
    for i in 0..CHURN_APPS {
        h.app(CHURN_NS, &format!("d{i}"), 2, 2, 80.0);
    }
    let mut churn = Churn {
        live: BTreeSet::new(),
        deleted: BTreeSet::new(),
        next: 0,
        edits: 0,
    };
    for _ in 0..3 {
        churn.create(&h);
    }
    h.start(Options::default());
    h.wait_until("the first three MemHpas reconciled", WAIT, || {
        churn.all_observed(&h)
    });

    for round in 0..20 {
        let before = h.watches().len();
        churn.step(&h, round);
        let in_gap = round % 2 == 1;
        if in_gap {
            h.server.fail_next("GET", "watch=true", 1, 503);
        }
        h.server.cut_open_watches();
        if in_gap {
            h.wait_until(&format!("round {round}: the re-watch failed"), WAIT, || {
                watches_since(&h, before).contains(&503)
            });
            churn.step(&h, round + 1);
        }
        h.wait_until(&format!("round {round}: the watch re-opened"), WAIT, || {
            watches_since(&h, before).contains(&200)
        });
    }

    for as_http in [false, true] {
        h.wait_until("every change so far observed", WAIT, || {
            churn.all_observed(&h)
        });
        h.server.set_expired_as_http_410(as_http);
        let lists = h.relists();
        let before = h.watches().len();
        h.server.fail_next("GET", "watch=true", 1000, 503);
        h.server.cut_open_watches();
        h.wait_until("the watch down", WAIT, || {
            watches_since(&h, before).contains(&503)
        });
        assert!(churn.delete(&h, 0), "the script keeps MemHpas to delete");
        assert!(churn.create(&h), "the script keeps Deployments to target");
        churn.modify(&h, 1);
        h.server.compact();
        h.server.clear_faults();
        h.wait_until("a relist after the expired watch", WAIT, || {
            h.relists() > lists
        });
        if as_http {
            assert!(
                watches_since(&h, before).contains(&410),
                "no watch got HTTP 410\n{}",
                h.log_tail(30)
            );
        }
        h.server.set_expired_as_http_410(false);
    }

    h.wait_until("every surviving MemHpa's generation observed", WAIT, || {
        churn.all_observed(&h)
    });
    let touched = churn.deleted_touched(&h);
    let reads: Vec<(usize, usize)> = churn
        .live
        .iter()
        .map(|i| (*i, h.scale_reads(CHURN_NS, &format!("d{i}"))))
        .collect();
    h.reconcile_everything();
    h.wait_until("every live MemHpa reconciled once more", WAIT, || {
        reads
            .iter()
            .all(|(i, n)| h.scale_reads(CHURN_NS, &format!("d{i}")) > *n)
    });
    assert_eq!(
        churn.deleted_touched(&h),
        touched,
        "a deleted MemHpa is still in the controller's store (deleted: {:?})\n{}",
        churn.deleted,
        h.log_tail(60)
    );
    let on_server: BTreeSet<String> = h
        .server
        .memhpas()
        .iter()
        .filter_map(|m| m["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = churn.live.iter().map(|i| format!("m{i}")).collect();
    assert_eq!(on_server, expected, "the script's bookkeeping");
    assert!(churn.deleted.len() >= 4, "deleted: {:?}", churn.deleted);
    // The first list and one per expiry: a cut resumes, it never relists.
    assert_eq!(h.relists(), 3, "{}", h.log_tail(60));
    let opened = h.watches().iter().filter(|s| **s == 200).count();
    assert!(opened >= 23, "watches opened: {opened}");
    let from_scratch = h.count(|r| {
        r.is_watch()
            && r.param("resourceVersion")
                .is_none_or(|v| v.is_empty() || v == "0")
    });
    assert_eq!(from_scratch, 0, "a watch did not resume from a version");
    h.wait_until("the watch reported in sync", WAIT, || h.synced());
}

/// `(method, path after the MemHpa collection, status)` of the requests for
/// MemHpa `ns/name` and its subresources.
fn memhpa_requests(h: &Harness, ns: &str, name: &str) -> Vec<(String, String, u16)> {
    let prefix = format!("/apis/memhpa.io/v1/namespaces/{ns}/memhpas/{name}");
    h.server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(&prefix))
        .map(|r| {
            (
                r.method.clone(),
                r.path[prefix.len()..].to_string(),
                r.status,
            )
        })
        .collect()
}

/// A 409 on the status write: the controller reads the MemHpa again and
/// writes on top of the fresh copy, in the same reconcile (no tick runs).
#[test]
fn a_status_conflict_is_retried_on_a_fresh_read() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.server.fail_next("PUT", "/memhpas/web/status", 1, 409);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("the status written despite the conflict", WAIT, || {
        h.observed_current("shop", "web")
    });
    assert_eq!(h.replicas("shop", "web"), Some(4));
    let m = h.memhpa("shop", "web");
    assert_eq!(m["status"]["desiredReplicas"], 4, "{}", m["status"]);
    let calls: Vec<(String, String, u16)> = memhpa_requests(&h, "shop", "web");
    let expected = vec![
        ("PUT".to_string(), "/status".to_string(), 409),
        ("GET".to_string(), String::new(), 200),
        ("PUT".to_string(), "/status".to_string(), 200),
    ];
    assert_eq!(calls, expected, "{}", h.log_tail(30));
}

/// The token is rotated (file first, then the server): the next request
/// with the old one gets 401, the client reads the file again and goes on;
/// the watch reconnects and a spec change is carried out.
#[test]
fn a_rotated_token_is_read_again_after_a_401() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("Deployment shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4) && h.observed_current("shop", "web")
    });

    let rotated_at = h.server.requests().len();
    h.rotate_token("rotated-token");
    h.server.cut_open_watches();
    h.wait_until("a request refused with the old token", WAIT, || {
        h.server.requests()[rotated_at..]
            .iter()
            .any(|r| r.status == 401)
    });
    h.server.update_memhpa_spec("shop", "web", |spec| {
        spec["targetUtilizationPercentage"] = json!(25);
    });
    h.wait_until("generation 2 observed with the new token", WAIT, || {
        h.observed_current("shop", "web")
    });
    let desired = h.memhpa("shop", "web")["status"]["desiredReplicas"].as_i64();
    assert!(desired.is_some_and(|d| d > 4), "desired {desired:?}");
    assert_eq!(h.replicas("shop", "web"), desired);
    let after: Vec<_> = h.server.requests()[rotated_at..].to_vec();
    let last_401 = after
        .iter()
        .rposition(|r| r.status == 401)
        .expect("a 401 was seen");
    assert!(
        after[last_401 + 1..]
            .iter()
            .any(|r| r.is_watch() && r.status == 200),
        "the watch never came back\n{}",
        h.log_tail(30)
    );
    let refused = after.iter().filter(|r| r.status == 401).count();
    assert!(
        refused <= 2,
        "the client keeps sending the old token: {refused} refusals\n{}",
        h.log_tail(30)
    );
}

/// 429 on the first list and twice on the Scale read: each retry waits at
/// least Retry-After (1 s), then everything goes through.
#[test]
fn throttled_requests_wait_for_retry_after() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.server.throttle_next("GET", "/memhpas?limit", 1, 1);
    h.server
        .throttle_next("GET", "/deployments/web/scale", 2, 1);
    let started = Instant::now();
    h.start(Options::default());
    h.wait_until("Deployment shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4)
    });
    let waited = started.elapsed();
    h.wait_until("the status written", WAIT, || {
        h.observed_current("shop", "web")
    });
    assert_eq!(h.count(|r| r.status == 429), 3, "{}", h.log_tail(30));
    // One Retry-After before the relist and two before Scale reads, in a row.
    assert!(
        waited >= Duration::from_millis(2950),
        "scaled {waited:?} after start: Retry-After not honoured\n{}",
        h.log_tail(30)
    );
}

/// 5xx bursts on the list, the watch, Scale reads and writes, status writes
/// and Events. Short bursts are ridden out inside one reconcile; the Scale
/// write burst outlasts one reconcile's retries, so the first reconcile
/// reports FailedUpdateScale and a later tick scales.
#[test]
fn bursts_of_server_errors_are_ridden_out() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    let bursts = [
        ("GET", "/memhpas?limit", 2, 503),
        ("GET", "watch=true", 3, 500),
        ("GET", "/deployments/web/scale", 2, 503),
        ("PUT", "/deployments/web/scale", 4, 503),
        ("PUT", "/memhpas/web/status", 2, 500),
        ("POST", "/events", 2, 503),
    ];
    for (method, path, times, code) in bursts {
        h.server.fail_next(method, path, times, code);
    }
    h.start(Options::resync(Duration::from_millis(500)));
    h.wait_until("Deployment shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4)
    });
    h.wait_until("AbleToScale back to True", WAIT, || {
        condition(&h.memhpa("shop", "web"), "AbleToScale").is_some_and(|c| c.0 == "True")
    });
    assert!(
        !h.events("shop", "FailedRescale").is_empty(),
        "the failed first write left no Warning Event\n{}",
        h.log_tail(40)
    );
    h.wait_until("the watch open again", WAIT, || h.watches().contains(&200));
    h.server.update_memhpa_spec("shop", "web", |spec| {
        spec["targetUtilizationPercentage"] = json!(60);
    });
    h.wait_until("generation 2 observed through the watch", WAIT, || {
        h.observed_current("shop", "web")
    });
    let injected: usize = bursts.iter().map(|b| b.2).sum();
    assert_eq!(
        h.count(|r| r.status >= 500),
        injected,
        "every injected failure was met"
    );
    assert_eq!(h.replicas("shop", "web"), Some(4));
}

/// Broken MemHpas in namespace `bad` each get their condition and Warning
/// Event, while a healthy one beside them and one in namespace `good` are
/// still reconciled and scaled tick after tick:
/// - `nolimits`: a pod whose container has no memory limit;
/// - `gone`: its target is deleted after a first rescale;
/// - `oldref`: a scaleTargetRef the schema lets through (extensions/v1beta1);
/// - `inv`: maxReplicas below minReplicas, stored past the schema. The
///   server validates the whole object on a `/status` write too (as 1.24
///   does for custom resources), so its InvalidSpec can only be told by the
///   Event; the write is refused with 422, and the Scale is never touched.
#[test]
fn broken_memhpas_get_conditions_while_others_keep_scaling() {
    let mut h = Harness::new();
    h.server
        .put_deployment("bad", "nolimits", 2, &[("app", "nolimits")]);
    h.server
        .put_pod("bad", pod("nolimits-0", "nolimits", Some("100Mi")));
    h.server.put_pod("bad", pod("nolimits-1", "nolimits", None));
    for p in ["nolimits-0", "nolimits-1"] {
        h.usage.set("bad", p, 0.8 * controllersupport::LIMIT_BYTES);
    }
    h.app("bad", "gone", 2, 2, 80.0);
    h.app("bad", "inv", 2, 2, 80.0);
    h.app("bad", "ok", 2, 2, 80.0);
    h.app("good", "ok", 2, 2, 80.0);
    h.start(Options::resync(SHORT_TICK));
    h.server
        .create_memhpa(memhpa("bad", "nolimits", "nolimits", 1, 10, 50));
    h.server
        .create_memhpa(memhpa("bad", "gone", "gone", 1, 10, 50));
    h.server
        .create_memhpa(memhpa("bad", "inv", "inv", 3, 1, 50));
    let mut oldref = memhpa("bad", "oldref", "inv", 1, 10, 50);
    oldref["spec"]["scaleTargetRef"]["apiVersion"] = json!("extensions/v1beta1");
    h.server.create_memhpa(oldref);
    h.server.create_memhpa(memhpa("bad", "ok", "ok", 1, 10, 50));
    h.server
        .create_memhpa(memhpa("good", "ok", "ok", 1, 10, 50));
    h.wait_until("bad/gone scaled before its target goes", WAIT, || {
        h.replicas("bad", "gone") == Some(4)
    });
    assert!(h
        .server
        .delete_workload(kubesupport::Workload::Deployment, "bad", "gone"));

    let has = |name: &str, type_: &str, reason: &str| {
        condition(&h.memhpa("bad", name), type_).is_some_and(|c| c.0 == "False" && c.1 == reason)
    };
    h.wait_until("ScalingActive False FailedGetResourceMetric", WAIT, || {
        has("nolimits", "ScalingActive", "FailedGetResourceMetric")
    });
    h.wait_until("AbleToScale False FailedGetScale", WAIT, || {
        has("gone", "AbleToScale", "FailedGetScale")
    });
    h.wait_until("ScalingActive False InvalidSpec", WAIT, || {
        has("oldref", "ScalingActive", "InvalidSpec")
    });

    let message = |name: &str, type_: &str| {
        condition(&h.memhpa("bad", name), type_)
            .map(|c| c.2)
            .unwrap_or_default()
    };
    let nolimits = message("nolimits", "ScalingActive");
    assert!(
        nolimits.contains("nolimits-1") && nolimits.contains("app"),
        "the message must name the pod and the container: {nolimits}"
    );
    let gone = message("gone", "AbleToScale");
    assert!(gone.contains("bad/gone"), "{gone}");
    let oldref = message("oldref", "ScalingActive");
    assert!(oldref.contains("extensions/v1beta1"), "{oldref}");
    let warned = |name: &str, reason: &str| {
        h.events("bad", reason).iter().any(|e| {
            e["type"] == "Warning"
                && e["source"]["component"] == "memhpa"
                && e["involvedObject"]["name"] == name
        })
    };
    for (name, reason) in [
        ("nolimits", "FailedGetResourceMetric"),
        ("gone", "FailedGetScale"),
        ("oldref", "InvalidSpec"),
        ("inv", "InvalidSpec"),
    ] {
        h.wait_until(
            &format!("a Warning {reason} Event for {name}"),
            WAIT,
            || warned(name, reason),
        );
    }
    let inv_event = h
        .events("bad", "InvalidSpec")
        .into_iter()
        .find(|e| e["involvedObject"]["name"] == "inv")
        .expect("the InvalidSpec Event of inv");
    assert!(
        inv_event["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.maxReplicas")),
        "{inv_event}"
    );
    assert!(
        memhpa_requests(&h, "bad", "inv")
            .iter()
            .all(|(method, sub, status)| method != "PUT" || sub != "/status" || *status == 422),
        "{}",
        h.log_tail(30)
    );
    assert_eq!(h.replicas("bad", "nolimits"), Some(2), "never scaled");
    assert_eq!(h.scale_requests("bad", "inv", &["GET", "PUT", "PATCH"]), 0);

    // Someone shrinks both healthy targets: the ticks put them back, with
    // the broken MemHpas in the same namespace job.
    for ns in ["bad", "good"] {
        h.wait_until(&format!("{ns}/ok scaled to 4"), WAIT, || {
            h.replicas(ns, "ok") == Some(4)
        });
        h.server.put_deployment(ns, "ok", 2, &[("app", "ok")]);
    }
    for ns in ["bad", "good"] {
        h.wait_until(&format!("{ns}/ok scaled to 4 again"), WAIT, || {
            h.replicas(ns, "ok") == Some(4) && h.scale_writes(ns, "ok") >= 2
        });
    }
}

/// Under dry-run the decision shows in the status and a DryRunRescale Event,
/// over many ticks, and the Scale is never written.
#[test]
fn dry_run_decides_but_never_writes_the_scale() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    h.start(Options {
        dry_run: true,
        ..Options::resync(SHORT_TICK)
    });
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("the dry-run decision in the status", WAIT, || {
        h.observed_current("shop", "web")
            && h.memhpa("shop", "web")["status"]["desiredReplicas"] == 4
    });
    h.wait_until("ten reconciles", WAIT, || {
        h.scale_reads("shop", "web") >= 10
    });
    let tail = h.log_tail(30);
    assert_eq!(h.scale_writes("shop", "web"), 0, "{tail}");
    assert_eq!(h.replicas("shop", "web"), Some(2));
    let m = h.memhpa("shop", "web");
    assert_eq!(
        condition(&m, "AbleToScale").map(|c| c.1),
        Some("SucceededGetScale".to_string()),
        "{}",
        m["status"]
    );
    assert!(m["status"]["lastScaleTime"].is_null(), "{}", m["status"]);
    assert!(!h.events("shop", "DryRunRescale").is_empty(), "{tail}");
    assert!(h.events("shop", "SuccessfulRescale").is_empty(), "{tail}");
}

/// The worker pool: while the Scale reads of namespace `slow` hang for 3 s,
/// a MemHpa created later in namespace `fast` is scaled first.
#[test]
fn a_slow_namespace_does_not_hold_up_the_others() {
    let mut h = Harness::new();
    h.app("slow", "web", 2, 2, 80.0);
    h.app("fast", "web", 2, 2, 80.0);
    h.server.delay(
        "GET",
        "/namespaces/slow/deployments/web/scale",
        Duration::from_secs(3),
    );
    h.start(Options::default());
    h.server
        .create_memhpa(memhpa("slow", "web", "web", 1, 10, 50));
    h.wait_until("the controller synced", WAIT, || h.synced());
    h.server
        .create_memhpa(memhpa("fast", "web", "web", 1, 10, 50));
    h.wait_until("fast/web scaled to 4", WAIT, || {
        h.replicas("fast", "web") == Some(4)
    });
    assert_eq!(
        h.replicas("slow", "web"),
        Some(2),
        "fast/web waited for the slow namespace\n{}",
        h.log_tail(30)
    );
    h.wait_until("slow/web scaled to 4 in the end", WAIT, || {
        h.replicas("slow", "web") == Some(4)
    });
}
