//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's
//! semantics and defaults, so memhpa and client-go controllers read each
//! other's leases the same way.
//!
//! Two parts, so that the rules are tested without a server or a clock:
//! - [`Elector`], a pure state machine. It is told what the server answered and
//!   what time it is, and says what to write. No clock, no I/O. It alone
//!   decides whether we lead.
//! - [`spawn`], a thread that runs it against a [`LeaseApi`] every retry period
//!   and tells its `on_change` callback (and the log) once per change. It keeps
//!   no flag others can read: whoever needs to know is told, and keeps the
//!   one answer (the controller's `Leadership`).
//!
//! The rules, after client-go's `tryAcquireOrRenew`:
//! - A lease is live while `(local time we saw its record last change) +
//!   leaseDurationSeconds` is in the future. The holder's `renewTime` is never
//!   compared with our clock: the two clocks need not agree, and a follower that
//!   starts late simply waits one full lease duration.
//! - An empty holder (a released lease) or an expired one may be taken over;
//!   a takeover bumps `leaseTransitions`, a renewal keeps it and `acquireTime`.
//! - Every update carries the `resourceVersion` last read, so of two candidates
//!   racing for one expired lease the server accepts exactly one.
//! - A leader that has not renewed within the renew deadline steps down. The
//!   renew deadline is shorter than the lease, so it stops writing before any
//!   follower can believe the lease expired.
//! - On shutdown the leader releases the lease as client-go's `ReleaseOnCancel`
//!   does: holder empty, `leaseDurationSeconds: 1`, so a follower takes over on
//!   its next retry instead of waiting out the lease.

use crate::kube::Typed;
use std::fmt;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::api::{Lease, LeaseSpec, ObjectMeta};
use crate::rfc3339;
use crate::shutdown::StopSignal;

/// client-go's `JitterFactor`: a candidate waits between 1 and 2.2 retry
/// periods, so candidates that start together do not stay in lock step.
const JITTER_FACTOR: f64 = 1.2;

/// The shortest wait between two rounds of the elector, whatever the retry
/// period: `Timing` refuses zero but not a nanosecond, and a round is a Lease
/// read, so a tiny period would be a hot loop against the API server.
const MIN_ROUND_WAIT: Duration = Duration::from_millis(10);

/// How long [`ElectorHandle::release_and_join`] waits for the elector thread to
/// finish its last request and the release. Shutdown has about 2 s in all.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// What the elector needs from the API server: the one Lease, by the name and
/// namespace the implementation was built for.
pub trait LeaseApi: Send + Sync {
    /// `Ok(None)` when the Lease does not exist (HTTP 404).
    fn get(&self) -> Result<Option<Lease>, LeaseError>;
    fn create(&self, lease: &Lease) -> Result<Lease, LeaseError>;
    /// A PUT carrying `lease.metadata.resourceVersion`.
    fn update(&self, lease: &Lease) -> Result<Lease, LeaseError>;
}

/// Why a Lease request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseError {
    /// HTTP 409, AlreadyExists on create included: another candidate wrote first.
    Conflict(String),
    /// Anything else: transport, timeout, other statuses, undecodable bodies.
    Other(String),
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseError::Conflict(detail) => write!(f, "lease write conflict: {detail}"),
            LeaseError::Other(detail) => write!(f, "lease request failed: {detail}"),
        }
    }
}

impl std::error::Error for LeaseError {}

/// Lease duration, renew deadline and retry period, checked against each other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl Timing {
    /// client-go's defaults: 15 s, 10 s, 2 s.
    pub const CLIENT_GO: Timing = Timing {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };

    /// The checks of client-go's `NewLeaderElector`, plus whole seconds for the
    /// lease: other candidates judge it by `leaseDurationSeconds`, an integer.
    /// Only tests choose their timing; the daemon runs client-go's.
    #[cfg(test)]
    fn new(
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Timing, TimingError> {
        let fail = |detail: String| Err(TimingError { detail });
        if lease_duration.is_zero() || lease_duration.subsec_nanos() != 0 {
            return fail(format!(
                "lease duration {lease_duration:?} must be a whole number of seconds, at least 1"
            ));
        }
        if renew_deadline >= lease_duration {
            return fail(format!(
                "renew deadline {renew_deadline:?} must be shorter than the lease duration {lease_duration:?}"
            ));
        }
        if retry_period.is_zero() || renew_deadline <= retry_period.mul_f64(JITTER_FACTOR) {
            return fail(format!(
                "renew deadline {renew_deadline:?} must be longer than {JITTER_FACTOR} x the retry period {retry_period:?}"
            ));
        }
        Ok(Timing {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    #[cfg(test)]
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing::CLIENT_GO
    }
}

/// Timing values that cannot work together.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
struct TimingError {
    detail: String,
}

#[cfg(test)]
impl fmt::Display for TimingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leader election timing: {}", self.detail)
    }
}

#[cfg(test)]
impl std::error::Error for TimingError {}

/// Which Lease to contend for, as whom, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct ElectionConfig {
    pub namespace: String,
    /// The Lease's name (`-leader-elect-id`, default `memhpa`).
    pub name: String,
    /// This replica's `holderIdentity`; see [`default_identity`].
    pub identity: String,
    pub timing: Timing,
}

impl ElectionConfig {
    /// With client-go's default timing.
    pub fn new(namespace: &str, name: &str, identity: &str) -> ElectionConfig {
        ElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            timing: Timing::CLIENT_GO,
        }
    }
}

/// `POD_NAME` (from the downward API), else `HOSTNAME`, else "memhpa", then `_`
/// and a random suffix. The suffix keeps a restarted pod with the same name from
/// mistaking its predecessor's unexpired lease for its own.
pub fn default_identity() -> String {
    let base = ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    identity_from(base.as_deref(), crate::seed::fresh())
}

fn identity_from(base: Option<&str>, random: u64) -> String {
    format!("{}_{:08x}", base.unwrap_or("memhpa").trim(), random as u32)
}

/// What the elector wants done after a read of the Lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The Lease does not exist: create it, held by us.
    Create(Lease),
    /// Acquire (takeover) or renew: PUT this, which carries the resourceVersion read.
    Update(Lease),
    /// Another holder's lease is live; try again after the retry period.
    Wait {
        holder: String,
        /// Time left on its lease as we see it.
        expires_in: Duration,
    },
}

/// The Lease as last read or written, and when (locally) its record last changed.
#[derive(Debug, Clone)]
struct Observed {
    lease: Lease,
    changed_at: Instant,
}

/// The election state machine of one candidate. Times come in as arguments:
/// `now` (monotonic) judges validity and deadlines, `wall` only fills in the
/// `acquireTime`/`renewTime` that humans read.
#[derive(Debug, Clone)]
pub struct Elector {
    config: ElectionConfig,
    observed: Option<Observed>,
    /// When the attempt behind our last successful acquire or renew began; `Some`
    /// exactly while we lead. The start, not the end, of the request: followers
    /// time the lease from when they see our write, which is later still.
    renewed_at: Option<Instant>,
}

impl Elector {
    pub fn new(config: ElectionConfig) -> Elector {
        Elector {
            config,
            observed: None,
            renewed_at: None,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.renewed_at.is_some()
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Decides what to write, given the Lease the server holds (`None` on 404).
    pub fn plan(&mut self, current: Option<&Lease>, now: Instant, wall: SystemTime) -> Step {
        let Some(current) = current else {
            return Step::Create(self.lease_to_create(wall));
        };
        let changed_at = self.observe(current, now);
        let record = &current.spec;
        let holder = holder_of(record);
        if let Some(other) = holder.filter(|h| *h != self.config.identity) {
            let duration =
                Duration::from_secs(record.lease_duration_seconds.unwrap_or(0).max(0) as u64);
            // A duration too large for an Instant never runs out.
            let expires_in = match changed_at.checked_add(duration) {
                Some(expiry) => expiry.saturating_duration_since(now),
                None => Duration::MAX,
            };
            if !expires_in.is_zero() {
                // Someone else holds a live lease: whatever we believed, we do not lead.
                self.renewed_at = None;
                return Step::Wait {
                    holder: other.to_string(),
                    expires_in,
                };
            }
        }
        let renewing = holder == Some(self.config.identity.as_str());
        let stamp = rfc3339::format_micros(wall);
        let transitions = record.lease_transitions.unwrap_or(0).max(0);
        let spec = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.lease_seconds()),
            acquire_time: match (&record.acquire_time, renewing) {
                (Some(acquired), true) => Some(acquired.clone()),
                _ => Some(stamp.clone()),
            },
            renew_time: Some(stamp),
            lease_transitions: Some(if renewing {
                transitions
            } else {
                transitions.saturating_add(1)
            }),
        };
        Step::Update(with_type(Lease {
            metadata: current.metadata.clone(),
            spec,
            ..Lease::default()
        }))
    }

    /// The server accepted our create or update (`written` is its answer),
    /// for the attempt that began at `now`.
    pub fn written(&mut self, written: &Lease, now: Instant) {
        self.observe(written, now);
        let ours = holder_of(&written.spec) == Some(self.config.identity.as_str());
        self.renewed_at = ours.then_some(now);
    }

    /// A request of the attempt failed. A conflict means another candidate wrote
    /// the Lease, which it does only when taking over: stop leading at once.
    /// Other failures are retried until the renew deadline.
    pub fn failed(&mut self, error: &LeaseError) {
        if matches!(error, LeaseError::Conflict(_)) {
            self.renewed_at = None;
        }
    }

    /// Steps down when the last renewal is a renew deadline old. Returns whether
    /// it stepped down just now.
    pub fn step_down_if_late(&mut self, now: Instant) -> bool {
        match self.renewed_at {
            Some(renewed)
                if now.saturating_duration_since(renewed) >= self.config.timing.renew_deadline =>
            {
                self.renewed_at = None;
                true
            }
            _ => false,
        }
    }

    /// The update that gives the Lease up, if the last record we saw names us;
    /// we stop leading either way. Also after a late step-down: while the server
    /// still names us, releasing spares the followers the wait.
    pub fn release(&mut self, wall: SystemTime) -> Option<Lease> {
        self.renewed_at = None;
        let observed = self.observed.as_ref()?;
        if holder_of(&observed.lease.spec) != Some(self.config.identity.as_str()) {
            return None;
        }
        let stamp = rfc3339::format_micros(wall);
        let spec = LeaseSpec {
            holder_identity: Some(String::new()),
            lease_duration_seconds: Some(1),
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: observed.lease.spec.lease_transitions,
        };
        Some(with_type(Lease {
            metadata: observed.lease.metadata.clone(),
            spec,
            ..Lease::default()
        }))
    }

    /// Records `lease` as the latest read and returns when its record last
    /// changed: now if it differs from the one seen before. Only the spec counts,
    /// as in client-go; a label change does not refresh a dead holder's lease.
    fn observe(&mut self, lease: &Lease, now: Instant) -> Instant {
        let changed_at = match &self.observed {
            Some(seen) if seen.lease.spec == lease.spec => seen.changed_at,
            _ => now,
        };
        self.observed = Some(Observed {
            lease: lease.clone(),
            changed_at,
        });
        changed_at
    }

    fn lease_to_create(&self, wall: SystemTime) -> Lease {
        let stamp = rfc3339::format_micros(wall);
        with_type(Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.lease_seconds()),
                acquire_time: Some(stamp.clone()),
                renew_time: Some(stamp),
                lease_transitions: Some(0),
            },
            ..Lease::default()
        })
    }

    fn lease_seconds(&self) -> i64 {
        self.config.timing.lease_duration.as_secs() as i64
    }
}

/// The holder, with an empty string (a released lease) read as none.
fn holder_of(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

fn with_type(mut lease: Lease) -> Lease {
    lease.fill_type();
    lease
}

/// How the elector thread ended, as [`ElectorHandle::release_and_join`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseOutcome {
    /// We held the Lease and gave it up.
    Released,
    /// The last Lease we saw named someone else (or none): nothing to give up.
    NotHeld,
    /// The release request failed; followers wait out the lease instead.
    Failed(LeaseError),
    /// The thread did not finish within the wait (a request hung); it is left
    /// to end on its own.
    TimedOut,
}

/// The running elector thread. Send + Sync, so it can be shared as an `Arc`.
/// Dropping it stops the elector, which then releases the Lease on its own
/// without anyone waiting for it. Whether we lead is not asked here: the
/// `on_change` given to [`spawn`] is told.
pub struct ElectorHandle {
    stop: StopSignal,
    /// In a mutex only to make the handle Sync; it is read once.
    done: Mutex<mpsc::Receiver<ReleaseOutcome>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ElectorHandle {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

impl ElectorHandle {
    /// Stops the elector and waits (at most 2 s) for it to finish: `on_change(false)`
    /// if it led, then the release of the Lease if the server still names us.
    pub fn release_and_join(mut self) -> ReleaseOutcome {
        self.stop.stop();
        let received = crate::shutdown::lock(&self.done).recv_timeout(RELEASE_WAIT);
        match received {
            Ok(outcome) => {
                // The thread has sent its last message; it is about to return.
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
                outcome
            }
            Err(mpsc::RecvTimeoutError::Timeout) => ReleaseOutcome::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                ReleaseOutcome::Failed(LeaseError::Other("the elector thread panicked".into()))
            }
        }
    }
}

/// Starts the elector thread. It tries to acquire the Lease every retry period
/// (with jitter), renews it every retry period once it leads, calls
/// `on_change(true)` on becoming leader and `on_change(false)` on losing it, and
/// on `stop` releases the Lease. `on_change(false)` comes before the release, so
/// the caller can stop writing before a follower can start.
///
/// Pass a `stop` of its own (not the process-wide one) to choose when the
/// release happens: [`ElectorHandle::release_and_join`] sets it.
pub fn spawn(
    api: Arc<dyn LeaseApi>,
    config: ElectionConfig,
    on_change: Arc<dyn Fn(bool) + Send + Sync>,
    stop: StopSignal,
) -> ElectorHandle {
    let (done_tx, done) = mpsc::channel();
    let driver = Driver {
        api,
        elector: Elector::new(config),
        on_change,
        announced: false,
        stop: stop.clone(),
        jitter: crate::seed::fresh() | 1,
    };
    let thread = std::thread::Builder::new()
        .name("leader-elect".into())
        .spawn(move || {
            let outcome = driver.run();
            let _ = done_tx.send(outcome);
        });
    let thread = match thread {
        Ok(thread) => thread,
        Err(err) => {
            // No thread, no election: report it the way a dead elector would be
            // seen, and never lead.
            log::error!("leader election: cannot start its thread: {err}");
            let (done_tx, done_rx) = mpsc::channel();
            let _ = done_tx.send(ReleaseOutcome::Failed(LeaseError::Other(format!(
                "cannot start the elector thread: {err}"
            ))));
            return ElectorHandle {
                stop,
                done: Mutex::new(done_rx),
                thread: None,
            };
        }
    };
    ElectorHandle {
        stop,
        done: Mutex::new(done),
        thread: Some(thread),
    }
}

fn round_wait(wait: Duration) -> Duration {
    wait.max(MIN_ROUND_WAIT)
}

/// The thread's side: the state machine, the API and the announcements.
struct Driver {
    api: Arc<dyn LeaseApi>,
    elector: Elector,
    on_change: Arc<dyn Fn(bool) + Send + Sync>,
    /// What `on_change` was last told, so that it hears each change once.
    /// Not an answer to "do we lead" for anyone else: that is the elector's.
    announced: bool,
    stop: StopSignal,
    /// xorshift state for the retry jitter.
    jitter: u64,
}

impl Driver {
    fn run(mut self) -> ReleaseOutcome {
        let timing = self.elector.config.timing;
        while !self.stop.is_stopped() {
            let now = Instant::now();
            if self.elector.step_down_if_late(now) {
                log::warn!(
                    "leader election: could not renew lease {} within {:?}; stepping down",
                    self.lease_key(),
                    timing.renew_deadline
                );
            }
            self.announce();
            self.attempt(now);
            self.announce();
            let wait = if self.elector.is_leader() {
                timing.retry_period
            } else {
                timing.retry_period
                    + timing
                        .retry_period
                        .mul_f64(JITTER_FACTOR * self.next_unit())
            };
            if self.stop.wait_timeout(round_wait(wait)) {
                break;
            }
        }
        self.finish()
    }

    /// One read and, if the state machine says so, one write.
    fn attempt(&mut self, now: Instant) {
        let current = match self.api.get() {
            Ok(current) => current,
            Err(err) => return self.failed("read", &err),
        };
        let result = match self.elector.plan(current.as_ref(), now, SystemTime::now()) {
            Step::Create(lease) => self.api.create(&lease),
            Step::Update(lease) => self.api.update(&lease),
            Step::Wait { holder, expires_in } => {
                log::debug!(
                    "leader election: lease {} held by {holder:?} for {expires_in:?} more",
                    self.lease_key()
                );
                return;
            }
        };
        match result {
            Ok(written) => self.elector.written(&written, now),
            Err(err) => self.failed("write", &err),
        }
    }

    fn failed(&mut self, what: &str, err: &LeaseError) {
        // A conflict is the normal outcome of a lost race; anything else is worth
        // a warning, since too many in a row cost the leadership.
        match err {
            LeaseError::Conflict(_) => {
                log::debug!("leader election: {what} lease {}: {err}", self.lease_key())
            }
            LeaseError::Other(_) => {
                log::warn!("leader election: {what} lease {}: {err}", self.lease_key())
            }
        }
        self.elector.failed(err);
    }

    /// Tells `on_change`, and the log, when the state machine's view changed:
    /// one line per change, here and nowhere else.
    fn announce(&mut self) {
        let leader = self.elector.is_leader();
        if std::mem::replace(&mut self.announced, leader) != leader {
            if leader {
                log::info!(
                    "leader election: {} now leads (lease {})",
                    self.elector.identity(),
                    self.lease_key()
                );
            } else {
                log::info!(
                    "leader election: {} no longer leads",
                    self.elector.identity()
                );
            }
            (self.on_change)(leader);
        }
    }

    /// Stop leading (and say so) first, then give the Lease up.
    fn finish(mut self) -> ReleaseOutcome {
        let release = self.elector.release(SystemTime::now());
        self.announce();
        let Some(lease) = release else {
            return ReleaseOutcome::NotHeld;
        };
        match self.api.update(&lease) {
            Ok(_) => {
                log::info!("leader election: released lease {}", self.lease_key());
                ReleaseOutcome::Released
            }
            Err(err) => {
                log::warn!(
                    "leader election: releasing lease {}: {err}",
                    self.lease_key()
                );
                ReleaseOutcome::Failed(err)
            }
        }
    }

    /// A uniform number in [0, 1) from xorshift64*.
    fn next_unit(&mut self) -> f64 {
        let mut x = self.jitter;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.jitter = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn lease_key(&self) -> String {
        format!(
            "{}/{}",
            self.elector.config.namespace, self.elector.config.name
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    const ME: &str = "memhpa-a_0000000a";
    const OTHER: &str = "memhpa-b_0000000b";

    fn config() -> ElectionConfig {
        ElectionConfig::new("kube-system", "memhpa", ME)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A fixed wall clock far from "now", so nothing can pass by using it.
    fn wall(at: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000) + secs(at)
    }

    fn lease(holder: Option<&str>, duration: i64, transitions: Option<i64>, rv: &str) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("memhpa".into()),
                namespace: Some("kube-system".into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            spec: LeaseSpec {
                holder_identity: holder.map(str::to_string),
                lease_duration_seconds: Some(duration),
                acquire_time: Some("2020-01-01T00:00:00.000000Z".into()),
                renew_time: Some("2020-01-01T00:00:00.000000Z".into()),
                lease_transitions: transitions,
            },
            ..Lease::default()
        }
    }

    fn renewed(mut lease: Lease, renew_time: &str, rv: &str) -> Lease {
        lease.spec.renew_time = Some(renew_time.into());
        lease.metadata.resource_version = Some(rv.into());
        lease
    }

    #[derive(Debug)]
    enum Want {
        Wait,
        /// Update to our name with this many transitions and acquireTime = now.
        Takeover(i64),
        /// Update to our name keeping transitions and acquireTime.
        Renew(i64),
    }

    struct Case {
        name: &'static str,
        /// Reads of the Lease before the decisive one, at seconds after t0.
        earlier: Vec<(f64, Lease)>,
        at: f64,
        current: Lease,
        want: Want,
    }

    fn plan_cases() -> Vec<Case> {
        let foreign = lease(Some(OTHER), 15, Some(2), "10");
        let foreign_renewed = renewed(foreign.clone(), "2020-01-01T00:00:10.000000Z", "11");
        vec![
            Case {
                name: "released lease (empty holder) is taken over at once",
                earlier: vec![],
                at: 0.0,
                current: lease(Some(""), 1, Some(3), "10"),
                want: Want::Takeover(4),
            },
            Case {
                name: "lease without holder or transitions is taken over",
                earlier: vec![],
                at: 0.0,
                current: lease(None, 15, None, "10"),
                want: Want::Takeover(1),
            },
            Case {
                name: "foreign lease first seen now is live whatever its renewTime says",
                earlier: vec![],
                at: 0.0,
                current: foreign.clone(),
                want: Want::Wait,
            },
            Case {
                name: "foreign lease unchanged just short of its duration is live",
                earlier: vec![(0.0, foreign.clone())],
                at: 14.9,
                current: foreign.clone(),
                want: Want::Wait,
            },
            Case {
                name: "foreign lease unchanged for its whole duration has expired",
                earlier: vec![(0.0, foreign.clone())],
                at: 15.0,
                current: foreign.clone(),
                want: Want::Takeover(3),
            },
            Case {
                name: "a renewal seen later restarts the clock",
                earlier: vec![(0.0, foreign.clone()), (10.0, foreign_renewed.clone())],
                at: 20.0,
                current: foreign_renewed.clone(),
                want: Want::Wait,
            },
            Case {
                name: "a renewed lease expires a duration after the renewal was seen",
                earlier: vec![(0.0, foreign.clone()), (10.0, foreign_renewed.clone())],
                at: 25.0,
                current: foreign_renewed,
                want: Want::Takeover(3),
            },
            Case {
                name: "the holder's leaseDurationSeconds counts, not ours",
                earlier: vec![(0.0, lease(Some(OTHER), 1, Some(0), "10"))],
                at: 1.0,
                current: lease(Some(OTHER), 1, Some(0), "10"),
                want: Want::Takeover(1),
            },
            Case {
                name: "a non-positive duration is expired",
                earlier: vec![],
                at: 0.0,
                current: lease(Some(OTHER), -5, Some(0), "10"),
                want: Want::Takeover(1),
            },
            Case {
                name: "a lease naming us is renewed, not taken over",
                earlier: vec![],
                at: 3.0,
                current: lease(Some(ME), 15, Some(2), "10"),
                want: Want::Renew(2),
            },
        ]
    }

    #[test]
    fn plan_table() {
        for case in plan_cases() {
            let t0 = Instant::now();
            let mut elector = Elector::new(config());
            for (at, seen) in &case.earlier {
                let step = elector.plan(Some(seen), t0 + secs(*at), wall(*at));
                assert!(
                    matches!(step, Step::Wait { .. }),
                    "{}: setup read {at} gave {step:?}",
                    case.name
                );
            }
            let step = elector.plan(Some(&case.current), t0 + secs(case.at), wall(case.at));
            let stamp = rfc3339::format_micros(wall(case.at));
            match (&case.want, step) {
                (Want::Wait, Step::Wait { holder, .. }) => {
                    assert_eq!(holder, OTHER, "{}", case.name)
                }
                (Want::Takeover(transitions), Step::Update(lease)) => {
                    check_ours(case.name, &lease, &case.current, *transitions, &stamp);
                    assert_eq!(
                        lease.spec.acquire_time.as_deref(),
                        Some(stamp.as_str()),
                        "{}",
                        case.name
                    );
                }
                (Want::Renew(transitions), Step::Update(lease)) => {
                    check_ours(case.name, &lease, &case.current, *transitions, &stamp);
                    assert_eq!(
                        lease.spec.acquire_time, case.current.spec.acquire_time,
                        "{}",
                        case.name
                    );
                }
                (want, step) => panic!("{}: wanted {want:?}, got {step:?}", case.name),
            }
            assert!(
                !elector.is_leader(),
                "{}: planning alone never makes a leader",
                case.name
            );
        }
    }

    fn check_ours(name: &str, lease: &Lease, read: &Lease, transitions: i64, stamp: &str) {
        assert_eq!(lease.spec.holder_identity.as_deref(), Some(ME), "{name}");
        assert_eq!(lease.spec.lease_duration_seconds, Some(15), "{name}");
        assert_eq!(lease.spec.lease_transitions, Some(transitions), "{name}");
        assert_eq!(lease.spec.renew_time.as_deref(), Some(stamp), "{name}");
        assert_eq!(
            lease.metadata.resource_version, read.metadata.resource_version,
            "{name}: optimistic concurrency"
        );
        assert_eq!(
            lease.api_version.as_deref(),
            Some("coordination.k8s.io/v1"),
            "{name}"
        );
        assert_eq!(lease.kind.as_deref(), Some("Lease"), "{name}");
    }

    #[test]
    fn missing_lease_is_created_held_by_us() {
        let mut elector = Elector::new(config());
        let Step::Create(lease) = elector.plan(None, Instant::now(), wall(0.0)) else {
            panic!("a 404 must lead to a create");
        };
        let stamp = rfc3339::format_micros(wall(0.0));
        assert_eq!(lease.metadata.name.as_deref(), Some("memhpa"));
        assert_eq!(lease.metadata.namespace.as_deref(), Some("kube-system"));
        assert_eq!(lease.metadata.resource_version, None);
        assert_eq!(lease.spec.holder_identity.as_deref(), Some(ME));
        assert_eq!(lease.spec.lease_duration_seconds, Some(15));
        assert_eq!(lease.spec.lease_transitions, Some(0));
        assert_eq!(lease.spec.acquire_time.as_deref(), Some(stamp.as_str()));
        assert_eq!(lease.spec.renew_time.as_deref(), Some(stamp.as_str()));
    }

    /// An elector that created the lease at t0 and got it back with rv "1".
    fn leader_at(t0: Instant) -> (Elector, Lease) {
        let mut elector = Elector::new(config());
        let Step::Create(mut created) = elector.plan(None, t0, wall(0.0)) else {
            panic!("create expected");
        };
        created.metadata.resource_version = Some("1".into());
        elector.written(&created, t0);
        assert!(elector.is_leader());
        (elector, created)
    }

    #[test]
    fn renewal_uses_the_latest_resource_version_and_keeps_acquire_time() {
        let t0 = Instant::now();
        let (mut elector, created) = leader_at(t0);
        let on_server = renewed(created.clone(), "2026-01-01T00:00:00.000000Z", "7");
        let Step::Update(renewal) = elector.plan(Some(&on_server), t0 + secs(2.0), wall(2.0))
        else {
            panic!("renewal expected");
        };
        assert_eq!(renewal.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(renewal.spec.acquire_time, created.spec.acquire_time);
        assert_eq!(renewal.spec.lease_transitions, Some(0));
        assert_eq!(
            renewal.spec.renew_time,
            Some(rfc3339::format_micros(wall(2.0)))
        );
    }

    #[test]
    fn leader_steps_down_at_the_renew_deadline() {
        let t0 = Instant::now();
        let (mut elector, _) = leader_at(t0);
        assert!(!elector.step_down_if_late(t0 + secs(9.9)));
        assert!(elector.is_leader());
        assert!(elector.step_down_if_late(t0 + secs(10.0)));
        assert!(!elector.is_leader());
        assert!(
            !elector.step_down_if_late(t0 + secs(11.0)),
            "steps down once"
        );
    }

    #[test]
    fn a_renewal_moves_the_deadline() {
        let t0 = Instant::now();
        let (mut elector, created) = leader_at(t0);
        let Step::Update(mut renewal) = elector.plan(Some(&created), t0 + secs(8.0), wall(8.0))
        else {
            panic!("renewal expected");
        };
        renewal.metadata.resource_version = Some("2".into());
        elector.written(&renewal, t0 + secs(8.0));
        assert!(!elector.step_down_if_late(t0 + secs(17.9)));
        assert!(elector.step_down_if_late(t0 + secs(18.0)));
    }

    #[test]
    fn conflict_loses_leadership_at_once() {
        let (mut elector, _) = leader_at(Instant::now());
        elector.failed(&LeaseError::Conflict("the object has been modified".into()));
        assert!(!elector.is_leader());
    }

    #[test]
    fn other_errors_keep_leadership_until_the_deadline() {
        let t0 = Instant::now();
        let (mut elector, _) = leader_at(t0);
        elector.failed(&LeaseError::Other("connection refused".into()));
        assert!(elector.is_leader());
        assert!(elector.step_down_if_late(t0 + secs(10.0)));
    }

    #[test]
    fn leader_seeing_a_live_foreign_holder_stops_leading() {
        let t0 = Instant::now();
        let (mut elector, _) = leader_at(t0);
        let taken = lease(Some(OTHER), 15, Some(1), "9");
        let step = elector.plan(Some(&taken), t0 + secs(2.0), wall(2.0));
        assert!(matches!(step, Step::Wait { .. }), "{step:?}");
        assert!(!elector.is_leader());
    }

    #[test]
    fn written_lease_naming_someone_else_does_not_make_a_leader() {
        let mut elector = Elector::new(config());
        elector.written(&lease(Some(OTHER), 15, Some(0), "3"), Instant::now());
        assert!(!elector.is_leader());
    }

    #[test]
    fn release_empties_the_holder_and_shortens_the_lease() {
        let t0 = Instant::now();
        let (mut elector, _) = leader_at(t0);
        let on_server = lease(Some(ME), 15, Some(4), "12");
        let Step::Update(mut renewal) = elector.plan(Some(&on_server), t0 + secs(2.0), wall(2.0))
        else {
            panic!("renewal expected");
        };
        renewal.metadata.resource_version = Some("13".into());
        elector.written(&renewal, t0 + secs(2.0));
        let released = elector
            .release(wall(3.0))
            .expect("a held lease is released");
        let stamp = rfc3339::format_micros(wall(3.0));
        assert!(!elector.is_leader());
        assert_eq!(released.spec.holder_identity.as_deref(), Some(""));
        assert_eq!(released.spec.lease_duration_seconds, Some(1));
        assert_eq!(released.spec.lease_transitions, Some(4));
        assert_eq!(released.spec.renew_time.as_deref(), Some(stamp.as_str()));
        assert_eq!(released.spec.acquire_time.as_deref(), Some(stamp.as_str()));
        assert_eq!(released.metadata.resource_version.as_deref(), Some("13"));
        assert_eq!(released.metadata.name.as_deref(), Some("memhpa"));
    }

    #[test]
    fn nothing_to_release_unless_the_last_record_names_us() {
        assert_eq!(
            Elector::new(config()).release(wall(0.0)),
            None,
            "never read"
        );
        let mut follower = Elector::new(config());
        follower.plan(
            Some(&lease(Some(OTHER), 15, Some(0), "1")),
            Instant::now(),
            wall(0.0),
        );
        assert_eq!(follower.release(wall(1.0)), None);
    }

    #[test]
    fn release_after_a_late_step_down_still_gives_the_lease_up() {
        let t0 = Instant::now();
        let (mut elector, _) = leader_at(t0);
        assert!(elector.step_down_if_late(t0 + secs(10.0)));
        assert!(elector.release(wall(10.0)).is_some());
    }

    #[test]
    fn client_go_timing_is_valid_and_the_default() {
        let t = Timing::default();
        assert_eq!(t, Timing::CLIENT_GO);
        assert_eq!(
            Timing::new(t.lease_duration(), t.renew_deadline(), t.retry_period()),
            Ok(t)
        );
        assert_eq!(config().timing, t);
    }

    #[test]
    fn timing_rejects_a_renew_deadline_not_shorter_than_the_lease() {
        let err = Timing::new(secs(10.0), secs(10.0), secs(2.0)).expect_err("10 s / 10 s");
        assert!(err.to_string().contains("renew deadline"), "{err}");
    }

    #[test]
    fn a_tiny_retry_period_still_waits_between_rounds() {
        assert_eq!(round_wait(Duration::from_nanos(1)), MIN_ROUND_WAIT);
        assert_eq!(round_wait(secs(2.0)), secs(2.0));
    }

    #[test]
    fn timing_rejects_a_retry_period_too_close_to_the_renew_deadline() {
        assert!(Timing::new(secs(15.0), secs(2.4), secs(2.0)).is_err());
        assert!(Timing::new(secs(15.0), secs(10.0), Duration::ZERO).is_err());
        assert!(Timing::new(secs(15.0), secs(2.5), secs(2.0)).is_ok());
    }

    #[test]
    fn timing_rejects_a_fractional_or_zero_lease() {
        assert!(Timing::new(secs(1.5), secs(1.0), secs(0.1)).is_err());
        assert!(Timing::new(Duration::ZERO, Duration::ZERO, Duration::ZERO).is_err());
    }

    #[test]
    fn identity_is_the_base_name_and_a_hex_suffix() {
        assert_eq!(
            identity_from(Some("memhpa-7d9f-abc"), 0xabc),
            "memhpa-7d9f-abc_00000abc"
        );
        assert_eq!(identity_from(None, 0x1_0000_0001), "memhpa_00000001");
        let id = default_identity();
        let (_, suffix) = id.rsplit_once('_').expect("a suffix");
        assert_eq!(suffix.len(), 8);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn handle_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ElectorHandle>();
    }

    #[test]
    fn dropping_the_handle_stops_the_elector_and_releases() {
        let store = Arc::new(Store::default());
        let leaders = Arc::new(Leaders::default());
        let a = start(&store, "a", fast(), &leaders);
        wait_until(secs(5.0), "a to lead", || a.leads());
        drop(a.handle);
        wait_until(secs(5.0), "the release", || {
            store.holder().as_deref() == Some("")
        });
        assert_eq!(leaders.now.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn lease_error_display_names_the_kind() {
        assert_eq!(
            LeaseError::Conflict("x".into()).to_string(),
            "lease write conflict: x"
        );
        assert_eq!(
            LeaseError::Other("y".into()).to_string(),
            "lease request failed: y"
        );
    }

    // ---- the driver, against an in-memory API server ----

    /// One Lease with the server's optimistic concurrency, and every accepted write.
    #[derive(Default)]
    struct Store {
        lease: Mutex<Option<Lease>>,
        writes: Mutex<Vec<(String, Lease)>>,
        next_rv: Mutex<u64>,
    }

    impl Store {
        fn current(&self) -> Option<Lease> {
            self.lease.lock().unwrap().clone()
        }

        fn holder(&self) -> Option<String> {
            self.current().and_then(|l| l.spec.holder_identity)
        }

        fn writes_by(&self, who: &str) -> Vec<Lease> {
            let writes = self.writes.lock().unwrap();
            writes
                .iter()
                .filter(|(w, _)| w == who)
                .map(|(_, l)| l.clone())
                .collect()
        }

        fn accept(&self, who: &str, lease: &Lease, slot: &mut Option<Lease>) -> Lease {
            let mut rv = self.next_rv.lock().unwrap();
            *rv += 1;
            let mut stored = lease.clone();
            stored.metadata.resource_version = Some(rv.to_string());
            *slot = Some(stored.clone());
            self.writes
                .lock()
                .unwrap()
                .push((who.to_string(), stored.clone()));
            stored
        }
    }

    /// One replica's connection to the store; `dead` makes every call fail, as
    /// for a process that was SIGKILLed.
    struct View {
        store: Arc<Store>,
        who: String,
        dead: AtomicBool,
    }

    impl View {
        fn check_alive(&self) -> Result<(), LeaseError> {
            if self.dead.load(Ordering::SeqCst) {
                Err(LeaseError::Other("connection refused".into()))
            } else {
                Ok(())
            }
        }
    }

    impl LeaseApi for View {
        fn get(&self) -> Result<Option<Lease>, LeaseError> {
            self.check_alive()?;
            Ok(self.store.current())
        }

        fn create(&self, lease: &Lease) -> Result<Lease, LeaseError> {
            self.check_alive()?;
            let mut slot = self.store.lease.lock().unwrap();
            if slot.is_some() {
                return Err(LeaseError::Conflict(
                    "leases \"memhpa\" already exists".into(),
                ));
            }
            Ok(self.store.accept(&self.who, lease, &mut slot))
        }

        fn update(&self, lease: &Lease) -> Result<Lease, LeaseError> {
            self.check_alive()?;
            let mut slot = self.store.lease.lock().unwrap();
            let Some(stored) = slot.as_ref() else {
                return Err(LeaseError::Other("404 not found".into()));
            };
            if stored.metadata.resource_version != lease.metadata.resource_version {
                return Err(LeaseError::Conflict("the object has been modified".into()));
            }
            Ok(self.store.accept(&self.who, lease, &mut slot))
        }
    }

    /// How many electors say they lead, and the most that ever did at once.
    #[derive(Default)]
    struct Leaders {
        now: AtomicI32,
        most: AtomicI32,
    }

    struct Replica {
        view: Arc<View>,
        handle: ElectorHandle,
        /// What its `on_change` was told last.
        leading: Arc<AtomicBool>,
    }

    impl Replica {
        fn leads(&self) -> bool {
            self.leading.load(Ordering::SeqCst)
        }
    }

    fn start(store: &Arc<Store>, who: &str, timing: Timing, leaders: &Arc<Leaders>) -> Replica {
        let view = Arc::new(View {
            store: Arc::clone(store),
            who: who.to_string(),
            dead: AtomicBool::new(false),
        });
        let leaders = Arc::clone(leaders);
        let leading = Arc::new(AtomicBool::new(false));
        let told = Arc::clone(&leading);
        let on_change = Arc::new(move |leader: bool| {
            assert_ne!(told.swap(leader, Ordering::SeqCst), leader, "told twice");
            let now = leaders
                .now
                .fetch_add(if leader { 1 } else { -1 }, Ordering::SeqCst)
                + if leader { 1 } else { -1 };
            leaders.most.fetch_max(now, Ordering::SeqCst);
        });
        let mut config = ElectionConfig::new("kube-system", "memhpa", who);
        config.timing = timing;
        let handle = spawn(view.clone(), config, on_change, StopSignal::new());
        Replica {
            view,
            handle,
            leading,
        }
    }

    fn wait_until(limit: Duration, what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        while !condition() {
            assert!(
                Instant::now() < deadline,
                "gave up after {limit:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn fast() -> Timing {
        Timing::new(secs(1.0), secs(0.7), secs(0.1)).expect("valid test timing")
    }

    #[test]
    fn two_electors_exactly_one_leads() {
        let store = Arc::new(Store::default());
        let leaders = Arc::new(Leaders::default());
        let a = start(&store, "a", fast(), &leaders);
        let b = start(&store, "b", fast(), &leaders);
        wait_until(secs(5.0), "a leader", || a.leads() || b.leads());
        // Several renewals and lease durations later there is still one leader,
        // and it is the one the Lease names.
        std::thread::sleep(secs(1.5));
        let (leader, follower) = if a.leads() { (a, b) } else { (b, a) };
        assert!(leader.leads() && !follower.leads());
        assert_eq!(store.holder().as_deref(), Some(leader.view.who.as_str()));
        assert_eq!(
            store.current().and_then(|l| l.spec.lease_transitions),
            Some(0)
        );
        assert!(
            store.writes_by(&follower.view.who).is_empty(),
            "the follower never wrote"
        );
        assert_eq!(leaders.most.load(Ordering::SeqCst), 1);
        assert_eq!(follower.handle.release_and_join(), ReleaseOutcome::NotHeld);
        assert_eq!(leader.handle.release_and_join(), ReleaseOutcome::Released);
        assert_eq!(
            leaders.now.load(Ordering::SeqCst),
            0,
            "both said they stopped"
        );
    }

    #[test]
    fn released_lease_is_taken_over_long_before_it_would_expire() {
        // A 30 s lease: the follower can only lead within the wait below if the
        // release worked.
        let timing = Timing::new(secs(30.0), secs(20.0), secs(0.1)).expect("valid");
        let store = Arc::new(Store::default());
        let leaders = Arc::new(Leaders::default());
        let a = start(&store, "a", timing, &leaders);
        wait_until(secs(5.0), "a to lead", || a.leads());
        let b = start(&store, "b", timing, &leaders);
        wait_until(secs(5.0), "a to renew while b watches", || {
            b.view.store.writes_by("a").len() >= 3
        });
        assert!(!b.leads());

        assert_eq!(a.handle.release_and_join(), ReleaseOutcome::Released);
        let last_of_a = store.writes_by("a").pop().expect("a wrote");
        assert_eq!(last_of_a.spec.holder_identity.as_deref(), Some(""));
        assert_eq!(last_of_a.spec.lease_duration_seconds, Some(1));

        wait_until(secs(10.0), "b to take over", || b.leads());
        let lease = store.current().expect("lease");
        assert_eq!(lease.spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(lease.spec.lease_transitions, Some(1));
        assert_eq!(leaders.most.load(Ordering::SeqCst), 1);
        assert_eq!(b.handle.release_and_join(), ReleaseOutcome::Released);
    }

    #[test]
    fn crashed_leader_is_taken_over_after_the_lease_runs_out() {
        let timing = Timing::new(secs(2.0), secs(1.0), secs(0.1)).expect("valid");
        let store = Arc::new(Store::default());
        let leaders = Arc::new(Leaders::default());
        let a = start(&store, "a", timing, &leaders);
        wait_until(secs(5.0), "a to lead", || a.leads());
        let b = start(&store, "b", timing, &leaders);
        std::thread::sleep(secs(0.3));
        assert!(a.leads() && !b.leads());

        // SIGKILL: from here on a reaches nothing, release included.
        a.view.dead.store(true, Ordering::SeqCst);
        let crashed_at = Instant::now();
        let writes_before = store.writes_by("a").len();
        assert!(matches!(
            a.handle.release_and_join(),
            ReleaseOutcome::Failed(_)
        ));

        wait_until(secs(10.0), "b to take over", || b.leads());
        // a's last renewal began less than a renew deadline before the crash and
        // b times the lease from when it saw that renewal: no takeover sooner.
        assert!(
            crashed_at.elapsed() >= timing.lease_duration() - timing.renew_deadline(),
            "took over after {:?}, before the lease could have run out",
            crashed_at.elapsed()
        );
        assert_eq!(store.writes_by("a").len(), writes_before);
        let lease = store.current().expect("lease");
        assert_eq!(lease.spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(lease.spec.lease_transitions, Some(1));
        assert_eq!(b.handle.release_and_join(), ReleaseOutcome::Released);
    }

    #[test]
    fn leader_that_cannot_renew_steps_down_and_says_so() {
        let store = Arc::new(Store::default());
        let leaders = Arc::new(Leaders::default());
        let a = start(&store, "a", fast(), &leaders);
        wait_until(secs(5.0), "a to lead", || a.leads());
        assert_eq!(leaders.now.load(Ordering::SeqCst), 1);
        a.view.dead.store(true, Ordering::SeqCst);
        wait_until(secs(5.0), "a to step down", || !a.leads());
        assert_eq!(
            leaders.now.load(Ordering::SeqCst),
            0,
            "on_change(false) was called"
        );
        // Back in touch, it finds its own lease and leads again.
        a.view.dead.store(false, Ordering::SeqCst);
        wait_until(secs(5.0), "a to lead again", || a.leads());
        assert_eq!(
            store.current().and_then(|l| l.spec.lease_transitions),
            Some(0)
        );
        assert_eq!(a.handle.release_and_join(), ReleaseOutcome::Released);
    }
}
