//! The reconcile loop's state: the store of MemHpas, and which namespaces are
//! being reconciled or wait to be.
//!
//! Everything arrives as a [`Message`] on one channel (from the watch thread,
//! the tick thread, the workers, the leader elector and the stop signal) and
//! is handled here on one thread, so the store needs no lock. This store is
//! the only one: the watch's `Reflector` keeps resourceVersions, and jobs
//! share the stored objects (`Arc`) instead of copying them. Work leaves as
//! [`Job`]s, one namespace at a time:
//! - a namespace never has two jobs in flight, so one MemHpa is never
//!   reconciled twice at once and Prometheus sees at most one query per
//!   namespace at a time;
//! - keys that become due while their namespace is busy wait in `pending`
//!   and go out together when the job reports back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use super::reconcile::{Item, ObjectState};
use super::Leadership;
use crate::api::MemHpa;
use crate::kube::Change;
use crate::metrics::Metrics;

#[derive(Debug)]
pub enum Message {
    /// From the watch thread: the store's changes, in order.
    Changes(Vec<Change>),
    /// From a reconcile: a fresher copy of a stored MemHpa (a status write's
    /// answer or a 409's re-read). It only replaces the stored one with the
    /// same uid and generation, and (when both read as numbers) an older
    /// resourceVersion: a MemHpa deleted meanwhile is not brought back, and
    /// a spec change the watch delivered meanwhile is not undone.
    Refreshed(Arc<MemHpa>),
    /// The resync period passed: reconcile everything. Ticks coalesce: the
    /// ticker sends none while one is still queued (`TickGate`).
    Tick,
    /// A worker finished the job of this namespace.
    Done(String),
    /// This replica just became (true) or stopped being (false) the leader:
    /// sent once per change, by `Leadership::set`. An event, not the state:
    /// a gain makes the loop reconcile everything, once; whether jobs may go
    /// out it asks [`Leadership`], which may have moved on since.
    Leader(bool),
    /// Shut down: sent once, when the `StopSignal` is set.
    Stop,
}

/// The MemHpas of one namespace to reconcile together.
#[derive(Debug)]
pub struct Job {
    pub namespace: String,
    pub items: Vec<Item>,
}

struct Entry {
    hpa: Arc<MemHpa>,
    state: Arc<ObjectState>,
}

pub struct Dispatcher {
    store: BTreeMap<String, Entry>,
    pending: BTreeMap<String, BTreeSet<String>>,
    in_flight: BTreeSet<String>,
    /// Asked, never copied: whether jobs may go out.
    leadership: Leadership,
    jobs: Sender<Job>,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    pub fn new(jobs: Sender<Job>, leadership: Leadership, metrics: Arc<Metrics>) -> Dispatcher {
        Dispatcher {
            store: BTreeMap::new(),
            pending: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            leadership,
            jobs,
            metrics,
        }
    }

    /// Handles one message; false once the loop should end.
    pub fn handle(&mut self, message: Message) -> bool {
        match message {
            Message::Changes(changes) => {
                for change in changes {
                    self.apply(change);
                }
            }
            Message::Refreshed(hpa) => {
                let key = hpa.metadata.key();
                let fresher = self.store.get(&key).is_some_and(|e| {
                    let (stored, given) = (&e.hpa.metadata, &hpa.metadata);
                    stored.uid == given.uid
                        && stored.generation == given.generation
                        && newer(&given.resource_version, &stored.resource_version)
                });
                if fresher {
                    self.apply(Change::Applied(hpa));
                }
            }
            Message::Tick => self.enqueue_all(),
            Message::Done(namespace) => {
                self.in_flight.remove(&namespace);
            }
            Message::Leader(gained) => {
                if gained {
                    self.enqueue_all();
                }
            }
            Message::Stop => return false,
        }
        self.pump();
        true
    }

    /// The keys of the stored MemHpas.
    #[cfg(test)]
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.store.keys().map(String::as_str)
    }

    /// A MemHpa is reconciled at once when it is new, re-created, or its spec
    /// changed (generation). A status-only change, our own write among them,
    /// only refreshes the stored copy: reconciling on it would be a hot loop.
    fn apply(&mut self, change: Change) {
        match change {
            Change::Applied(hpa) => {
                let key = hpa.metadata.key();
                let due = match self.store.get_mut(&key) {
                    Some(entry) if entry.hpa.metadata.uid == hpa.metadata.uid => {
                        let due = entry.hpa.metadata.generation != hpa.metadata.generation;
                        entry.hpa = hpa;
                        due
                    }
                    _ => {
                        if let Some(old) = self.store.remove(&key) {
                            old.state.retired.store(true, Ordering::SeqCst);
                        }
                        let state = Arc::new(ObjectState::default());
                        self.store.insert(key.clone(), Entry { hpa, state });
                        true
                    }
                };
                if due {
                    self.enqueue(&key);
                }
            }
            Change::Deleted(key) => {
                if let Some(old) = self.store.remove(&key) {
                    old.state.retired.store(true, Ordering::SeqCst);
                    let namespace = old.hpa.metadata.namespace.as_deref().unwrap_or_default();
                    let name = old.hpa.metadata.name.as_deref().unwrap_or_default();
                    self.metrics.forget_memhpa(namespace, name);
                }
            }
        }
    }

    fn enqueue_all(&mut self) {
        let keys: Vec<String> = self.store.keys().cloned().collect();
        for key in keys {
            self.enqueue(&key);
        }
    }

    fn enqueue(&mut self, key: &str) {
        if let Some(entry) = self.store.get(key) {
            let namespace = entry.hpa.metadata.namespace.clone().unwrap_or_default();
            self.pending
                .entry(namespace)
                .or_default()
                .insert(key.to_string());
        }
    }

    /// Sends a job for every namespace with pending keys and none in flight.
    /// A follower sends nothing and forgets what was pending: becoming leader
    /// enqueues everything anyway.
    fn pump(&mut self) {
        if !self.leadership.is_leader() {
            self.pending.clear();
            return;
        }
        let ready: Vec<String> = self
            .pending
            .keys()
            .filter(|ns| !self.in_flight.contains(*ns))
            .cloned()
            .collect();
        for namespace in ready {
            let keys = self.pending.remove(&namespace).unwrap_or_default();
            let items: Vec<Item> = keys
                .iter()
                .filter_map(|k| self.store.get(k))
                .map(|e| Item {
                    hpa: Arc::clone(&e.hpa),
                    state: Arc::clone(&e.state),
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            if self
                .jobs
                .send(Job {
                    namespace: namespace.clone(),
                    items,
                })
                .is_ok()
            {
                self.in_flight.insert(namespace);
            }
        }
    }
}

/// Whether resourceVersion `given` is newer than `stored`. They are opaque,
/// but every server hands out numbers that grow; when either is not one,
/// the given one is taken (it was read from the server just now).
fn newer(given: &Option<String>, stored: &Option<String>) -> bool {
    let number = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<u64>().ok());
    match (number(given), number(stored)) {
        (Some(given), Some(stored)) => given > stored,
        _ => true,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::mpsc::{channel, Receiver};

    fn hpa(ns: &str, name: &str, uid: &str, generation: i64, rv: &str) -> Arc<MemHpa> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": ns, "name": name, "uid": uid,
                             "generation": generation, "resourceVersion": rv},
                "spec": {}
            }))
            .expect("test MemHpa decodes"),
        )
    }

    fn setup(leader: bool) -> (Dispatcher, Receiver<Job>) {
        let (d, rx, _, _) = setup_with_leadership(leader);
        (d, rx)
    }

    /// Also the leadership switch and the loop's channel it tells.
    fn setup_with_leadership(
        leader: bool,
    ) -> (Dispatcher, Receiver<Job>, Leadership, Receiver<Message>) {
        let (tx, rx) = channel();
        let (loop_tx, loop_rx) = channel();
        let leadership = Leadership::new(leader, loop_tx);
        let d = Dispatcher::new(tx, leadership.clone(), Arc::new(Metrics::new()));
        (d, rx, leadership, loop_rx)
    }

    fn jobs(rx: &Receiver<Job>) -> Vec<(String, Vec<String>)> {
        rx.try_iter()
            .map(|j| {
                let keys = j.items.iter().map(|i| i.hpa.metadata.key()).collect();
                (j.namespace, keys)
            })
            .collect()
    }

    fn applied(h: Arc<MemHpa>) -> Message {
        Message::Changes(vec![Change::Applied(h)])
    }

    #[test]
    fn a_new_memhpa_is_reconciled_at_once() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        assert_eq!(jobs(&rx), vec![("a".into(), vec!["a/web".into()])]);
    }

    #[test]
    fn a_status_only_change_is_not_reconciled() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        d.handle(applied(hpa("a", "web", "u1", 1, "11")));
        assert!(jobs(&rx).is_empty(), "our own status write must not loop");
    }

    #[test]
    fn a_spec_change_is_reconciled_with_the_new_object() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        d.handle(applied(hpa("a", "web", "u1", 2, "12")));
        let sent: Vec<Job> = rx.try_iter().collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].items[0].hpa.metadata.generation, Some(2));
    }

    #[test]
    fn a_busy_namespace_gets_one_job_at_a_time() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(applied(hpa("a", "api", "u2", 1, "11")));
        d.handle(Message::Tick);
        assert_eq!(jobs(&rx), vec![("a".into(), vec!["a/web".into()])]);
        d.handle(Message::Done("a".into()));
        assert_eq!(
            jobs(&rx),
            vec![("a".into(), vec!["a/api".into(), "a/web".into()])]
        );
    }

    #[test]
    fn a_tick_sends_one_job_per_namespace() {
        let (mut d, rx) = setup(true);
        d.handle(Message::Changes(vec![
            Change::Applied(hpa("a", "x", "u1", 1, "1")),
            Change::Applied(hpa("a", "y", "u2", 1, "2")),
            Change::Applied(hpa("b", "z", "u3", 1, "3")),
        ]));
        for ns in ["a", "b"] {
            d.handle(Message::Done(ns.into()));
        }
        jobs(&rx);
        d.handle(Message::Tick);
        assert_eq!(
            jobs(&rx),
            vec![
                ("a".into(), vec!["a/x".into(), "a/y".into()]),
                ("b".into(), vec!["b/z".into()])
            ]
        );
    }

    #[test]
    fn a_deleted_memhpa_is_retired_and_never_sent_again() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        let sent: Vec<Job> = rx.try_iter().collect();
        let state = Arc::clone(&sent[0].items[0].state);
        d.handle(Message::Done("a".into()));
        d.handle(Message::Changes(vec![Change::Deleted("a/web".into())]));
        assert!(state.retired.load(Ordering::SeqCst));
        d.handle(Message::Tick);
        assert!(jobs(&rx).is_empty());
        assert_eq!(d.keys().count(), 0);
    }

    #[test]
    fn a_recreated_memhpa_starts_with_a_fresh_state() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        let first: Vec<Job> = rx.try_iter().collect();
        d.handle(Message::Done("a".into()));
        d.handle(applied(hpa("a", "web", "u2", 1, "20")));
        let second: Vec<Job> = rx.try_iter().collect();
        assert!(first[0].items[0].state.retired.load(Ordering::SeqCst));
        assert!(!Arc::ptr_eq(
            &first[0].items[0].state,
            &second[0].items[0].state
        ));
    }

    #[test]
    fn a_follower_sends_nothing_until_it_leads() {
        let (mut d, rx, leadership, loop_rx) = setup_with_leadership(false);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Tick);
        assert!(jobs(&rx).is_empty());
        assert_eq!(d.keys().count(), 1, "the follower's store stays warm");
        leadership.set(true);
        let told = loop_rx.try_recv().expect("the loop is told of the change");
        assert!(matches!(told, Message::Leader(true)), "{told:?}");
        d.handle(told);
        assert_eq!(jobs(&rx), vec![("a".into(), vec!["a/web".into()])]);
    }

    #[test]
    fn a_lost_leadership_stops_jobs_before_the_loop_hears_of_it() {
        let (mut d, rx, leadership, _loop_rx) = setup_with_leadership(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        // The flag is the one answer: a tick handled before Leader(false)
        // already sees the loss.
        leadership.set(false);
        d.handle(Message::Tick);
        assert!(jobs(&rx).is_empty());
    }

    #[test]
    fn a_quick_loss_and_gain_reconciles_everything_once() {
        let (mut d, rx, leadership, loop_rx) = setup_with_leadership(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        // Both changes happen before the loop hears of either.
        leadership.set(false);
        leadership.set(true);
        for told in loop_rx.try_iter() {
            d.handle(told);
        }
        assert_eq!(jobs(&rx), vec![("a".into(), vec!["a/web".into()])]);
        d.handle(Message::Done("a".into()));
        assert!(jobs(&rx).is_empty(), "a second round for the same gain");
    }

    #[test]
    fn leadership_tells_the_loop_once_per_change() {
        let (_d, _rx, leadership, loop_rx) = setup_with_leadership(false);
        leadership.set(false);
        leadership.set(true);
        leadership.set(true);
        leadership.set(false);
        let told: Vec<Message> = loop_rx.try_iter().collect();
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(!leadership.is_leader());
    }

    #[test]
    fn jobs_share_the_stored_object_instead_of_copying_it() {
        let (mut d, rx) = setup(true);
        let object = hpa("a", "web", "u1", 1, "10");
        d.handle(applied(Arc::clone(&object)));
        let sent: Vec<Job> = rx.try_iter().collect();
        assert!(Arc::ptr_eq(&sent[0].items[0].hpa, &object));
    }

    #[test]
    fn a_refresh_updates_a_stored_memhpa_and_never_brings_one_back() {
        let (mut d, rx) = setup(true);
        d.handle(applied(hpa("a", "web", "u1", 1, "10")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        d.handle(Message::Refreshed(hpa("a", "web", "u1", 1, "11")));
        assert!(jobs(&rx).is_empty(), "a status refresh is no reconcile");
        d.handle(Message::Tick);
        let sent: Vec<Job> = rx.try_iter().collect();
        assert_eq!(
            sent[0].items[0].hpa.metadata.resource_version.as_deref(),
            Some("11")
        );
        d.handle(Message::Done("a".into()));
        // Older than the stored version, or of an older spec: not taken.
        d.handle(Message::Refreshed(hpa("a", "web", "u1", 1, "9")));
        d.handle(applied(hpa("a", "web", "u1", 2, "14")));
        d.handle(Message::Done("a".into()));
        jobs(&rx);
        d.handle(Message::Refreshed(hpa("a", "web", "u1", 1, "15")));
        d.handle(Message::Tick);
        let sent: Vec<Job> = rx.try_iter().collect();
        assert_eq!(
            sent[0].items[0].hpa.metadata.generation,
            Some(2),
            "the spec change stays"
        );
        d.handle(Message::Done("a".into()));
        d.handle(Message::Changes(vec![Change::Deleted("a/web".into())]));
        d.handle(Message::Refreshed(hpa("a", "web", "u1", 2, "16")));
        d.handle(Message::Refreshed(hpa("a", "api", "u2", 1, "13")));
        assert_eq!(d.keys().count(), 0, "deleted, and never known: not stored");
        d.handle(Message::Tick);
        assert!(jobs(&rx).is_empty());
    }

    #[test]
    fn stop_ends_the_loop() {
        let (mut d, _rx) = setup(true);
        assert!(d.handle(Message::Tick));
        assert!(!d.handle(Message::Stop));
    }
}
