//! The Kubernetes side: a synchronous REST client over ureq and rustls, and
//! the pure pieces the controller drives it with.
//!
//! - [`Client`]: one method per API call memhpa makes (MemHpa list, watch, get
//!   and status update; Scale get and update; pods by selector; Events; Leases).
//!   Every failed call is a [`KubeError`]: its verb, its path and an
//!   [`ErrorKind`] (an error response's metav1.Status is `ErrorKind::Status`);
//!   a client that cannot be built is a [`ConfigError`].
//! - [`KubeConfig`]: in-cluster (service-account directory and
//!   `KUBERNETES_SERVICE_HOST`/`_PORT`) or given by flags.
//! - [`Watch`]: the lines of one watch response as events.
//! - [`Reflector`]: the list/watch state machine, without I/O.
//! - [`Backoff`]: exponential backoff with jitter, capped at 30 s.
//! - [`Recorder`]: records Events and sends them, owning its client and its
//!   [`EventRecorder`] (the de-duplication, with the clock passed in).

mod backoff;
mod client;
mod config;
mod error;
mod events;
mod paths;
mod pod_cache;
mod reflector;
mod selector;
mod token;
mod transport;
mod typed;
pub(crate) use typed::Typed;
mod watch;

#[cfg(test)]
mod fake_transport;
#[cfg(test)]
mod test_server;

pub use backoff::{Backoff, Jitter, MAX_BACKOFF};
pub use client::{Client, Observer, PodPage};
pub use config::{
    service_account_namespace, KubeConfig, DEFAULT_REQUEST_TIMEOUT, SERVICE_ACCOUNT_DIR,
};
pub use error::{ConfigError, ErrorKind, KubeError, UnsupportedTarget};
pub use events::{
    EventAction, EventRecorder, Recorder, COMPONENT, DEDUP_WINDOW_SECONDS, MAX_REMEMBERED_EVENTS,
};
pub use paths::ScaleTarget;
pub use pod_cache::{PodCache, Scope};
pub use reflector::{Change, Reflector, Step, Watched};
pub use selector::{LabelSelector, SelectorError};
pub use token::TOKEN_REREAD_INTERVAL;
pub use watch::{Watch, MAX_WATCH_LINE};
