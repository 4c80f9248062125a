//! core/v1 Events with de-duplication: the same reason and message on the same
//! object within ten minutes bumps `count` and `lastTimestamp` of the Event
//! already made, instead of making another one. The clock is passed in.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::client::Client;
use super::error::KubeError;
use super::typed::Typed;
use crate::api::{Event, EventSource, ObjectMeta, ObjectReference};
use crate::rfc3339::format_seconds;

/// An event repeated within this many seconds of its last occurrence bumps it.
pub const DEDUP_WINDOW_SECONDS: i64 = 600;

/// Events remembered at most; past this the least recently seen is forgotten
/// (the worst outcome is one new Event object instead of a bump).
pub const MAX_REMEMBERED_EVENTS: usize = 4096;

/// `source.component` of every Event memhpa makes.
pub const COMPONENT: &str = "memhpa";

/// Longest object name (a DNS subdomain).
const MAX_NAME: usize = 253;

/// What to send for one recorded event. Made and used one at a time, so the
/// size of the `Create` variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum EventAction {
    /// POST this new Event.
    Create(Event),
    /// Merge-patch the existing Event `name`.
    Bump {
        name: String,
        count: i64,
        last_timestamp: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EventKey {
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    warning: bool,
    reason: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Remembered {
    event_name: String,
    count: i64,
    last_seen: i64,
}

/// Remembers recent events to de-duplicate them, without I/O; the
/// [`Recorder`] holds one behind its lock.
#[derive(Debug)]
pub struct EventRecorder {
    recent: BTreeMap<EventKey, Remembered>,
    seed: u64,
    sequence: u64,
    capacity: usize,
}

impl Default for EventRecorder {
    fn default() -> Self {
        EventRecorder::new()
    }
}

impl EventRecorder {
    /// Names are made unique across restarts and replicas by a fresh seed.
    pub fn new() -> EventRecorder {
        EventRecorder::with_seed(crate::seed::fresh())
    }

    pub fn with_seed(seed: u64) -> EventRecorder {
        EventRecorder {
            recent: BTreeMap::new(),
            seed,
            sequence: 0,
            capacity: MAX_REMEMBERED_EVENTS,
        }
    }

    /// Says whether to create an Event or bump the one made for the same
    /// object, type, reason and message in the last ten minutes. A bump is
    /// only proposed: the count moves when [`EventRecorder::accepted`] says
    /// the server took it, so a failed and retried PATCH counts once.
    pub fn record(
        &mut self,
        now_unix: i64,
        involved: &ObjectReference,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> EventAction {
        self.forget_older_than(now_unix - DEDUP_WINDOW_SECONDS);
        let key = EventKey {
            namespace: involved.namespace.clone().unwrap_or_default(),
            kind: involved.kind.clone().unwrap_or_default(),
            name: involved.name.clone().unwrap_or_default(),
            uid: involved.uid.clone().unwrap_or_default(),
            warning,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        if let Some(seen) = self.recent.get(&key) {
            return EventAction::Bump {
                name: seen.event_name.clone(),
                count: seen.count + 1,
                last_timestamp: format_seconds(now_unix),
            };
        }
        let event_name = self.fresh_name(&key.name, now_unix);
        if self.recent.len() >= self.capacity {
            self.forget_least_recent();
        }
        self.recent.insert(
            key,
            Remembered {
                event_name: event_name.clone(),
                count: 1,
                last_seen: now_unix,
            },
        );
        EventAction::Create(new_event(
            event_name, now_unix, involved, warning, reason, message,
        ))
    }

    /// The server took the bump of Event `name` to `count` at `now_unix`.
    /// Never lowers the count: of two bumps in flight at once, the later
    /// answer may carry the smaller one.
    pub fn accepted(&mut self, name: &str, count: i64, now_unix: i64) {
        if let Some(seen) = self
            .recent
            .values_mut()
            .find(|seen| seen.event_name == name)
        {
            seen.count = seen.count.max(count);
            seen.last_seen = seen.last_seen.max(now_unix);
        }
    }

    /// Forgets the Event `name` (it failed to be created, or expired on the
    /// server), so the next record of it creates a new one.
    pub fn forget(&mut self, name: &str) {
        self.recent.retain(|_, seen| seen.event_name != name);
    }

    /// How many events are remembered.
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    fn forget_older_than(&mut self, cutoff: i64) {
        self.recent.retain(|_, seen| seen.last_seen >= cutoff);
    }

    fn forget_least_recent(&mut self) {
        let oldest = self
            .recent
            .iter()
            .min_by_key(|(_, seen)| seen.last_seen)
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            self.recent.remove(&key);
        }
    }

    /// `<object>.<hex>` as client-go names events: the hex looks like a Unix
    /// time in nanoseconds, its low part from the seed and a sequence so two
    /// events in one second (or two replicas) do not collide.
    fn fresh_name(&mut self, object: &str, now_unix: i64) -> String {
        self.sequence = self.sequence.wrapping_add(1);
        let low = self.seed.wrapping_add(self.sequence.wrapping_mul(7_919)) % 1_000_000_000;
        let stamp = (now_unix.max(0) as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(low);
        let suffix = format!(".{stamp:x}");
        let object = if object.is_empty() { COMPONENT } else { object };
        let keep = object
            .char_indices()
            .map(|(at, c)| at + c.len_utf8())
            .take_while(|end| *end + suffix.len() <= MAX_NAME)
            .last()
            .unwrap_or(0);
        format!("{}{suffix}", &object[..keep])
    }
}

fn new_event(
    name: String,
    now_unix: i64,
    involved: &ObjectReference,
    warning: bool,
    reason: &str,
    message: &str,
) -> Event {
    let timestamp = format_seconds(now_unix);
    let mut event = Event {
        api_version: None,
        kind: None,
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(event_namespace(involved)),
            ..ObjectMeta::default()
        },
        involved_object: involved.clone(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        source: EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        },
        first_timestamp: Some(timestamp.clone()),
        last_timestamp: Some(timestamp),
        count: Some(1),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
    };
    event.fill_type();
    event
}

/// Events live in the namespace of their object; those of cluster-scoped
/// objects in `default`, as client-go puts them.
fn event_namespace(involved: &ObjectReference) -> String {
    involved
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// The Event recorder of one controller, as client-go's and kube-rs' are:
/// it owns its client and the memory of recent events, records an event
/// (create or bump) and sends it. Shared by the workers.
#[derive(Debug)]
pub struct Recorder {
    client: Client,
    recent: Mutex<EventRecorder>,
}

impl Recorder {
    pub fn new(client: Client) -> Recorder {
        Recorder::with_memory(client, EventRecorder::new())
    }

    /// With a given memory (a fixed seed in tests).
    pub fn with_memory(client: Client, recent: EventRecorder) -> Recorder {
        Recorder {
            client,
            recent: Mutex::new(recent),
        }
    }

    /// Records an event and sends it: a new Event, or a bump of the recent
    /// one. A bump of an Event the server has already expired (404) creates
    /// a new one instead.
    pub fn emit(
        &self,
        now_unix: i64,
        involved: &ObjectReference,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Result<Event, KubeError> {
        let namespace = event_namespace(involved);
        let action = self
            .recent()
            .record(now_unix, involved, warning, reason, message);
        let (name, count, last_timestamp) = match action {
            EventAction::Create(event) => return self.create(&namespace, event),
            EventAction::Bump {
                name,
                count,
                last_timestamp,
            } => (name, count, last_timestamp),
        };
        match self
            .client
            .patch_event(&namespace, &name, count, &last_timestamp)
        {
            Ok(event) => {
                self.recent().accepted(&name, count, now_unix);
                Ok(event)
            }
            Err(expired) if expired.is_not_found() => {
                let action = {
                    let mut recent = self.recent();
                    recent.forget(&name);
                    recent.record(now_unix, involved, warning, reason, message)
                };
                match action {
                    EventAction::Create(event) => self.create(&namespace, event),
                    // Cannot happen right after a forget; answer as the 404 did.
                    EventAction::Bump { .. } => Err(expired),
                }
            }
            other => other,
        }
    }

    /// POSTs a new Event; one that failed is forgotten, so the next record
    /// of it is a create again rather than a bump of nothing.
    fn create(&self, namespace: &str, event: Event) -> Result<Event, KubeError> {
        let result = self.client.create_event(namespace, &event);
        if result.is_err() {
            if let Some(name) = &event.metadata.name {
                self.recent().forget(name);
            }
        }
        result
    }

    fn recent(&self) -> MutexGuard<'_, EventRecorder> {
        crate::shutdown::lock(&self.recent)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn web() -> ObjectReference {
        ObjectReference {
            api_version: Some("memhpa.io/v1".into()),
            kind: Some("MemHpa".into()),
            namespace: Some("demo".into()),
            name: Some("web".into()),
            uid: Some("u1".into()),
            resource_version: None,
        }
    }

    fn created(action: EventAction) -> Event {
        match action {
            EventAction::Create(event) => event,
            other => panic!("expected a create, got {other:?}"),
        }
    }

    #[test]
    fn first_event_is_a_create_with_every_field() {
        let mut recorder = EventRecorder::with_seed(1);
        let event =
            created(recorder.record(NOW, &web(), false, "SuccessfulRescale", "New size: 4"));
        let name = event.metadata.name.clone().expect("name");
        assert!(name.starts_with("web."), "{name}");
        assert!(name[4..].chars().all(|c| c.is_ascii_hexdigit()), "{name}");
        assert_eq!(event.metadata.namespace.as_deref(), Some("demo"));
        assert_eq!(event.source.component.as_deref(), Some("memhpa"));
        assert_eq!(event.count, Some(1));
        assert_eq!(event.type_.as_deref(), Some("Normal"));
        assert_eq!(event.first_timestamp, Some(format_seconds(NOW)));
        assert_eq!(event.last_timestamp, event.first_timestamp);
        assert_eq!(event.involved_object, web());
        assert_eq!(event.reason.as_deref(), Some("SuccessfulRescale"));
    }

    #[test]
    fn repeat_within_ten_minutes_bumps() {
        let mut recorder = EventRecorder::with_seed(1);
        let event = created(recorder.record(NOW, &web(), true, "FailedGetScale", "gone"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        let name = event.metadata.name.clone().expect("name");
        let bump = recorder.record(NOW + 300, &web(), true, "FailedGetScale", "gone");
        assert_eq!(
            bump,
            EventAction::Bump {
                name: name.clone(),
                count: 2,
                last_timestamp: format_seconds(NOW + 300),
            }
        );
        recorder.accepted(&name, 2, NOW + 300);
        // The window runs from the last occurrence, as the count keeps going.
        let again = recorder.record(NOW + 850, &web(), true, "FailedGetScale", "gone");
        assert!(
            matches!(again, EventAction::Bump { count: 3, .. }),
            "{again:?}"
        );
    }

    #[test]
    fn repeat_after_ten_minutes_creates_anew() {
        let mut recorder = EventRecorder::with_seed(1);
        let first = created(recorder.record(NOW, &web(), false, "R", "m"));
        let later = created(recorder.record(NOW + 601, &web(), false, "R", "m"));
        assert_ne!(first.metadata.name, later.metadata.name);
        assert_eq!(recorder.len(), 1, "the old entry is forgotten");
    }

    #[test]
    fn different_message_reason_type_or_object_creates() {
        let mut recorder = EventRecorder::with_seed(1);
        created(recorder.record(NOW, &web(), false, "R", "m"));
        created(recorder.record(NOW, &web(), false, "R", "other"));
        created(recorder.record(NOW, &web(), false, "Other", "m"));
        created(recorder.record(NOW, &web(), true, "R", "m"));
        let mut api = web();
        api.name = Some("api".into());
        created(recorder.record(NOW, &api, false, "R", "m"));
        assert_eq!(recorder.len(), 5);
    }

    #[test]
    fn names_in_one_second_differ() {
        let mut recorder = EventRecorder::with_seed(1);
        let a = created(recorder.record(NOW, &web(), false, "R", "a"));
        let b = created(recorder.record(NOW, &web(), false, "R", "b"));
        assert_ne!(a.metadata.name, b.metadata.name);
    }

    #[test]
    fn memory_is_capped() {
        let mut recorder = EventRecorder::with_seed(1);
        recorder.capacity = 3;
        for i in 0..10 {
            created(recorder.record(NOW + i, &web(), false, "R", &format!("m{i}")));
        }
        assert_eq!(recorder.len(), 3);
        // The most recent ones are kept.
        let kept = recorder.record(NOW + 10, &web(), false, "R", "m9");
        assert!(
            matches!(kept, EventAction::Bump { count: 2, .. }),
            "{kept:?}"
        );
    }

    #[test]
    fn forget_makes_the_next_one_a_create() {
        let mut recorder = EventRecorder::with_seed(1);
        let first = created(recorder.record(NOW, &web(), false, "R", "m"));
        recorder.forget(first.metadata.name.as_deref().expect("name"));
        created(recorder.record(NOW + 1, &web(), false, "R", "m"));
    }

    #[test]
    fn cluster_scoped_objects_get_events_in_default() {
        let mut recorder = EventRecorder::with_seed(1);
        let mut node = web();
        node.namespace = None;
        let event = created(recorder.record(NOW, &node, false, "R", "m"));
        assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn long_object_names_keep_the_event_name_valid() {
        let mut recorder = EventRecorder::with_seed(1);
        let mut long = web();
        long.name = Some("a".repeat(253));
        let event = created(recorder.record(NOW, &long, false, "R", "m"));
        let name = event.metadata.name.expect("name");
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.starts_with("aaaa"), "{name}");
    }

    mod emit {
        use super::*;
        use crate::kube::fake_transport::FakeTransport;

        fn not_found() -> String {
            serde_json::json!({"kind": "Status", "code": 404, "reason": "NotFound",
                "message": "events \"web.1\" not found"})
            .to_string()
        }

        #[test]
        fn create_then_bump_by_merge_patch() {
            let fake = FakeTransport::default();
            fake.answer(201, r#"{"metadata":{"name":"web.1"},"count":1}"#)
                .answer(200, r#"{"metadata":{"name":"web.1"},"count":2}"#);
            let recorder = Recorder::with_memory(fake.client(None), EventRecorder::with_seed(1));
            recorder.emit(NOW, &web(), false, "R", "m").expect("create");
            let bumped = recorder
                .emit(NOW + 60, &web(), false, "R", "m")
                .expect("bump");
            assert_eq!(bumped.count, Some(2));
            let sent = fake.sent();
            assert_eq!((sent[0].method, sent[1].method), ("POST", "PATCH"));
            let created: Event =
                serde_json::from_slice(&sent[0].body.clone().expect("body").1).expect("event");
            let name = created.metadata.name.expect("name");
            assert!(sent[1]
                .url
                .ends_with(&format!("/namespaces/demo/events/{name}")));
        }

        #[test]
        fn bump_of_an_expired_event_creates_anew() {
            let fake = FakeTransport::default();
            fake.answer(201, "{}")
                .answer(404, &not_found())
                .answer(201, r#"{"count":1}"#);
            let recorder = Recorder::with_memory(fake.client(None), EventRecorder::with_seed(1));
            recorder.emit(NOW, &web(), true, "R", "m").expect("create");
            let again = recorder
                .emit(NOW + 60, &web(), true, "R", "m")
                .expect("recreated");
            assert_eq!(again.count, Some(1));
            let methods: Vec<_> = fake.sent().iter().map(|s| s.method).collect();
            assert_eq!(methods, ["POST", "PATCH", "POST"]);
            let recreated: Event =
                serde_json::from_slice(&fake.sent()[2].body.clone().expect("body").1)
                    .expect("event");
            assert_eq!(recreated.count, Some(1));
            assert_eq!(recreated.last_timestamp, Some(format_seconds(NOW + 60)));
        }

        fn patched_counts(fake: &FakeTransport) -> Vec<i64> {
            fake.sent()
                .iter()
                .filter(|sent| sent.method == "PATCH")
                .map(|sent| {
                    let body: serde_json::Value =
                        serde_json::from_slice(&sent.body.clone().expect("body").1).expect("patch");
                    body["count"].as_i64().expect("count")
                })
                .collect()
        }

        #[test]
        fn a_retried_bump_counts_the_occurrence_once() {
            let fake = FakeTransport::default();
            fake.answer(201, "{}")
                .answer(500, "etcd timeout")
                .answer(200, r#"{"count":2}"#)
                .answer(200, r#"{"count":3}"#);
            let recorder = Recorder::with_memory(fake.client(None), EventRecorder::with_seed(1));
            recorder.emit(NOW, &web(), true, "R", "m").expect("create");
            // The controller retries a failed emit of the same occurrence.
            recorder
                .emit(NOW + 60, &web(), true, "R", "m")
                .expect_err("500");
            recorder
                .emit(NOW + 60, &web(), true, "R", "m")
                .expect("retried");
            recorder
                .emit(NOW + 120, &web(), true, "R", "m")
                .expect("next");
            assert_eq!(patched_counts(&fake), [2, 2, 3]);
        }

        #[test]
        fn failed_create_is_forgotten() {
            let fake = FakeTransport::default();
            fake.answer(500, "down").answer(201, "{}");
            let recorder = Recorder::with_memory(fake.client(None), EventRecorder::with_seed(1));
            let err = recorder
                .emit(NOW, &web(), false, "R", "m")
                .expect_err("500");
            assert_eq!(err.code(), Some(500), "{err:?}");
            recorder
                .emit(NOW + 1, &web(), false, "R", "m")
                .expect("create again");
            let methods: Vec<_> = fake.sent().iter().map(|s| s.method).collect();
            assert_eq!(methods, ["POST", "POST"], "no bump of an event never made");
        }
    }
}
