//! Reaction time: from a MemHpa's create or spec change at the fake to the
//! Scale write that answers it, as the fake sees that write arrive.
//!
//! The child runs over a base layout with an hour-long resync, so no tick
//! helps. The targets exist before it starts (their pods are in its pod
//! cache); then, one at a time:
//! - a create: a MemHpa at 40% for a Deployment of 2 pods at 78% of their
//!   limits: ratio 1.95, so the first reconcile scales 2 -> 4;
//! - a modify of the same MemHpa: `maxReplicas` 10 -> 3, which the clamp
//!   applies at once (no stabilization window holds a max): 4 -> 3.
//!
//! Each event's figure is the write's arrival (`Recorded::at`) minus the
//! moment just before the change was stored.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::child::Child;
use crate::cluster::{self, Layout};
use crate::kubesupport::FakeApiServer;
use crate::measure::Endpoints;

/// Targets; each gives two events (a create and a modify).
const TARGETS: usize = 150;
const NAMESPACE: &str = "react";
/// The longest one event may take before the run fails.
const EVENT_LIMIT: Duration = Duration::from_secs(10);
const RESYNC: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Default)]
pub struct Reaction {
    /// Every event's reaction time, shortest first.
    pub times: Vec<Duration>,
}

impl Reaction {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.times.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.times.len() as f64).ceil() as usize;
        Some(self.times[rank.clamp(1, self.times.len()) - 1])
    }
}

pub fn run(binary: &Path, base: Layout) -> Result<Reaction, String> {
    let endpoints = Endpoints::start(base)?;
    let fake = &endpoints.fake;
    for i in 0..TARGETS {
        cluster::put_app(fake, NAMESPACE, &format!("react-{i}"), 2);
    }
    let mut child = Child::spawn(binary, &endpoints.args(RESYNC)?, "info")?;
    crate::measure::wait_for(&mut child, Duration::from_secs(120), || {
        cluster::with_status(fake) >= base.memhpas
    })
    .map_err(|e| format!("first pass: {e}"))?;
    // The base pass's writes are done; the pod cache holds every target.
    crate::measure::sleep_watching(&mut child, Duration::from_secs(1))?;
    let mut times = Vec::with_capacity(TARGETS * 2);
    for i in 0..TARGETS {
        let name = format!("react-{i}");
        fake.clear_requests();
        let created = Instant::now();
        fake.create_memhpa(cluster::memhpa(NAMESPACE, &name, 40));
        times.push(await_scale_write(&mut child, fake, &name, 4, created)?);
        // Let the reconcile's status write land: it must not count for the
        // next event.
        crate::measure::wait_for(&mut child, EVENT_LIMIT, || {
            fake.memhpa(NAMESPACE, &name)
                .is_some_and(|m| m.pointer("/status/observedGeneration").is_some())
        })?;
        fake.clear_requests();
        let modified = Instant::now();
        fake.update_memhpa_spec(NAMESPACE, &name, |spec| {
            spec["maxReplicas"] = serde_json::json!(3);
        });
        times.push(await_scale_write(&mut child, fake, &name, 3, modified)?);
    }
    times.sort();
    Ok(Reaction { times })
}

/// The time from `since` to the Scale write of Deployment `name` to
/// `replicas`.
fn await_scale_write(
    child: &mut Child,
    fake: &FakeApiServer,
    name: &str,
    replicas: i64,
    since: Instant,
) -> Result<Duration, String> {
    let path = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}/scale");
    let deadline = since + EVENT_LIMIT;
    while Instant::now() < deadline {
        let write = fake.requests().into_iter().find(|r| {
            r.path == path
                && (r.method == "PUT" || r.method == "PATCH")
                && r.json()
                    .and_then(|b| b.pointer("/spec/replicas").and_then(|v| v.as_i64()))
                    == Some(replicas)
        });
        if let Some(write) = write {
            return Ok(write.at.saturating_duration_since(since));
        }
        child.check_alive()?;
        std::thread::sleep(Duration::from_micros(500));
    }
    Err(format!(
        "no Scale write of {NAMESPACE}/{name} to {replicas} within {EVENT_LIMIT:?}; memhpa's log:\n{}",
        child.tail()
    ))
}
