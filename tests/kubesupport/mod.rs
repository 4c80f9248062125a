//! An in-process fake kube-apiserver 1.24 on 127.0.0.1, for integration
//! tests (`mod kubesupport;` from a file in tests/, with `mod httpsupport;`
//! beside it). It serves what memhpa
//! uses, in the shapes of ../shared/fixtures/kube-apiserver-1.24:
//!
//! | resource | verbs |
//! |---|---|
//! | memhpa.io/v1 memhpas (+ `/status`) | list (all namespaces or one), watch, get, create, PUT, merge PATCH, DELETE |
//! | apps/v1 deployments, statefulsets, replicasets; v1 replicationcontrollers | the same, and `/scale` GET, PUT, merge PATCH |
//! | v1 pods | list with `labelSelector`, get (test-supplied with [`FakeApiServer::put_pod`]) |
//! | v1 events | create (`generateName` honoured), get, merge PATCH, list |
//! | coordination.k8s.io/v1 leases | get, create, PUT |
//!
//! Semantics, with the API-conventions sections they follow in the modules:
//! - one global resourceVersion, bumped on every real write; a write that
//!   changes nothing keeps it and emits no event (`store`);
//! - 409 Conflict on a stale `metadata.resourceVersion`; a PUT without one
//!   overwrites events, workloads and pods, but memhpas and leases answer
//!   422 "must be specified for an update", as the real server (`handlers`);
//! - the main resource ignores `status`, `/status` ignores everything else,
//!   `metadata.generation` moves on spec changes only;
//! - watches: absent or `"0"` resourceVersion starts with synthetic ADDED
//!   events of the current objects (the real server's semantics, not "from
//!   now"); `resourceVersion=R` replays the log after R, then streams live;
//!   BOOKMARKs with `allowWatchBookmarks`; 410 Expired after
//!   [`FakeApiServer::compact`] (`watch`);
//! - `/scale` sets the workload's spec.replicas *and* status.replicas at once
//!   (no workload controller; the real status lags, fixture scale-put).
//!
//! Every request needs `Authorization: Bearer <token>` (initially [`TOKEN`]).
//!
//! Test-facing API, all on `&FakeApiServer` (it is `Sync`; share it with `&`
//! or an `Arc`). Dropping it stops the server; connection threads end within
//! a fraction of a second.
//! - Lifecycle: [`FakeApiServer::start`], [`FakeApiServer::url`],
//!   [`FakeApiServer::shutdown`] (also on drop), `connections_accepted`.
//! - Auth: [`FakeApiServer::set_tokens`]; [`FakeApiServer::forbid`] for 403.
//! - Objects, bypassing HTTP (writes bump the version and reach watches):
//!   `put_workload`/`put_deployment`, `workload`, `scale_replicas`,
//!   `delete_workload`, `put_pod`, `delete_pod`, `create_memhpa`,
//!   `update_memhpa_spec`, `delete_memhpa`, `memhpa`, `memhpas`, `events`,
//!   `put_lease`, `lease`, `resource_version`, `compact`, and the
//!   `objects::pod(..)` builder (see [`objects`]).
//! - Watch settings: `set_bookmark_interval` (default 1 s),
//!   `set_expired_as_http_410`.
//! - Faults (bounded; see [`faults`]): `fail_next`, `throttle_next`,
//!   `delay`, `forbid`, `cut_watches_after_events`, `cut_watches_after`,
//!   `cut_next_watches`, `cut_open_watches`, `expire_next_watches`,
//!   `clear_faults`.
//! - Lost responses and a log of `/scale` and `/status` requests, for the
//!   soak: `chaos_lose_next_responses`, `chaos_seen`, `chaos_lost`,
//!   `chaos_clear` ([`chaos`]).
//! - Waiting: [`eventually`] polls a condition up to a deadline.
//! - Recording: `requests`, `count`, `clear_requests` ([`Recorded`]: each
//!   request with its answer's status, bearer token and User-Agent).
//! - Fixtures: [`fixtures::load`] and [`shape::same_shape`] compare the
//!   fake's answers with the captured ones.
//!
//! Lists and watches take `labelSelector` ([`selector`]) and `fieldSelector`
//! (any dotted path with `=`, `==`, `!=`).
//!
//! Lists page with `limit` and `continue` (see `paging`). Not implemented: strategic-merge
//! and JSON patches (415), schema defaulting, `managedFields`, finalizers
//! and graceful deletion, and watch filtering by selector *transitions* (an
//! event is sent when its object matches).
//!
//! Each test file uses a different part of this module.
//!
//! The unit tests of these modules are in `selftest/`, compiled by
//! tests/fake_apiserver.rs alone so that they run once; that is why the
//! modules they test are `pub(crate)`.
#![allow(dead_code, unused_imports)]

pub mod chaos;
pub(crate) mod controls;
pub mod faults;
pub(crate) mod fields;
mod filter;
pub mod fixtures;
mod handlers;
mod http;
pub(crate) mod ids;
pub(crate) mod merge;
pub mod objects;
pub(crate) mod paging;
pub(crate) mod rbac;
mod record;
pub(crate) mod routes;
mod scale;
pub(crate) mod schema;
pub mod selector;
mod server;
pub mod shape;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod wait;
mod watch;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use controls::TOKEN;
pub use objects::Workload;
pub use record::Recorded;
pub use wait::eventually;

use server::Shared;

/// A running fake API server. See the module docs for the whole API.
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl FakeApiServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start() -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address of the fake");
        let shared = Arc::new(Shared::new());
        let accept = server::spawn(listener, Arc::clone(&shared));
        FakeApiServer {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        }
    }

    /// `http://127.0.0.1:PORT`, what `-apiserver` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the accepted bearer tokens (simulates rotation). With none,
    /// every request gets 401.
    pub fn set_tokens(&self, tokens: &[&str]) {
        self.shared.controls().set_tokens(tokens);
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded().clone()
    }

    /// Requests whose method is `method` (`"*"` for any) and whose
    /// `path?query` contains `contains`.
    pub fn count(&self, method: &str, contains: &str) -> usize {
        self.shared
            .recorded()
            .iter()
            .filter(|r| r.matches(method, contains))
            .count()
    }

    pub fn clear_requests(&self) {
        self.shared.recorded().clear();
    }

    /// TCP connections accepted so far: with keep-alive, a client's
    /// sequential requests share one.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl FakeApiServer {
    /// Stops serving, as dropping does: no new connections, open watches
    /// dropped, idle connections closed within a fraction of a second.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        let accept = self
            .accept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(accept) = accept {
            let _ = accept.join();
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
