//! The Kubernetes REST client: one call per API operation memhpa uses, each
//! built the same way: send (re-reading the token after a 401), check the
//! status, decode the body or the Status of the error.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::{DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::config::{checked_base_url, refuse_token_in_clear, KubeConfig};
use super::error::{excerpt, ConfigError, ErrorKind, KubeError};
use super::paths::{self, ScaleTarget};
use super::reflector::{raw_key, Watched};
use super::token::TokenSource;
use super::transport::{read_error, Incoming, Outgoing, Transport, TransportError, UreqTransport};
use super::typed::Typed;
use super::watch::Watch;
use crate::api::{Event, Lease, ListMeta, MemHpa, ObjectList, Pod, Scale};

/// Largest body read for one answer. A list page of 500 objects of a few KiB
/// each fits many times over; ureq's own default of 10 MiB would not always.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Error bodies are Status objects of a few hundred bytes; read no more.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Objects per list page (`limit`); the server may send fewer.
const PAGE_SIZE: &str = "500";

/// Bytes of one whole list, over all its pages. Each page is bounded by
/// [`MAX_BODY`], but a server whose continue tokens never end (or a page
/// after page of huge objects) would otherwise grow the kept items without
/// end. It is sized to the manifest's 64 MiB memory limit rather than to what
/// a server might send: a list past it would get the pod OOM-killed in a
/// loop, where an error keeps it alive, backing off and saying why. 20,000
/// MemHpas or pods of 1.5 KiB fit, far past the few thousand MemHpas the
/// manifest's limit is sized for.
const MAX_LIST_BYTES: u64 = 32 * 1024 * 1024;

/// Items of one whole list. Bytes alone do not bound memory: 32 MiB of `{},`
/// are 11 million items, and each decoded one is far larger than 3 bytes.
/// Kubernetes' own scalability limit is 150,000 pods per cluster; the pod
/// cache's list of every pod is streamed (no byte bound, none is kept) and
/// stops here, as the cache itself does (`controller::watch::MAX_CACHED_PODS`).
const MAX_LIST_ITEMS: usize = 100_000;

/// Pages of one list at most: a server whose continue tokens never end with
/// empty pages grows no bytes nor items, only time.
const MAX_PAGES: usize = 10_000;

/// How often a paged list starts over when its continue token expires (410).
const LIST_RESTARTS: usize = 3;

/// A watch read may wait this much longer than `timeoutSeconds`, since the
/// server only closes the stream after that.
const WATCH_READ_GRACE: Duration = Duration::from_secs(30);

/// Called after every API response with the verb and the HTTP status (0 when
/// no response came), e.g. for a request counter.
pub type Observer = Arc<dyn Fn(&str, u16) + Send + Sync>;

/// A synchronous Kubernetes client. Clones share one connection pool and token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    observer: Option<Observer>,
}

struct Inner {
    base_url: String,
    transport: Box<dyn Transport>,
    token: TokenSource,
    request_timeout: Duration,
    max_body: u64,
    list_limits: ListLimits,
}

/// Bounds on one whole list, summed over its pages.
#[derive(Debug, Clone, Copy)]
struct ListLimits {
    bytes: u64,
    items: usize,
    pages: usize,
}

const LIST_LIMITS: ListLimits = ListLimits {
    bytes: MAX_LIST_BYTES,
    items: MAX_LIST_ITEMS,
    pages: MAX_PAGES,
};

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("request_timeout", &self.inner.request_timeout)
            .finish_non_exhaustive()
    }
}

/// One request before it is sent.
struct Call {
    verb: &'static str,
    method: &'static str,
    /// Path and query, after the base URL.
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
    watch_read_timeout: Option<Duration>,
}

impl Call {
    fn new(verb: &'static str, method: &'static str, path: String) -> Call {
        Call {
            verb,
            method,
            path,
            body: None,
            watch_read_timeout: None,
        }
    }

    fn with_json<T: Serialize>(mut self, value: &T) -> Result<Call, KubeError> {
        self.body = Some(("application/json", encode(self.verb, &self.path, value)?));
        Ok(self)
    }

    fn with_merge_patch(mut self, patch: &serde_json::Value) -> Result<Call, KubeError> {
        self.body = Some((
            "application/merge-patch+json",
            encode(self.verb, &self.path, patch)?,
        ));
        Ok(self)
    }
}

impl Client {
    /// Checks the configuration, reads the token once and the CA file.
    pub fn new(config: KubeConfig) -> Result<Client, ConfigError> {
        let transport = UreqTransport::new(config.request_timeout, config.ca_file.as_deref())?;
        Client::with_transport(config, Box::new(transport))
    }

    pub(crate) fn with_transport(
        config: KubeConfig,
        transport: Box<dyn Transport>,
    ) -> Result<Client, ConfigError> {
        let base_url = checked_base_url(&config.base_url)?;
        refuse_token_in_clear(&config)?;
        if config.request_timeout.is_zero() {
            return Err(ConfigError::new("the request timeout must be above zero"));
        }
        let token = TokenSource::new(config.token_file, Instant::now())?;
        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                transport,
                token,
                request_timeout: config.request_timeout,
                max_body: MAX_BODY,
                list_limits: LIST_LIMITS,
            }),
            observer: None,
        })
    }

    /// Calls `observer` after every API response (verb, HTTP status or 0).
    pub fn with_observer(mut self, observer: Observer) -> Client {
        self.observer = Some(observer);
        self
    }

    /// All MemHpas (of one namespace, or all), page by page. An item that does
    /// not decode as a MemHpa is logged and left out, so one bad object cannot
    /// hide the others.
    pub fn list_memhpas(&self, namespace: Option<&str>) -> Result<ObjectList<MemHpa>, KubeError> {
        let raw: ObjectList<Lenient<MemHpa>> = self.list_all(&paths::memhpas(namespace), &[])?;
        Ok(ObjectList {
            api_version: raw.api_version,
            kind: raw.kind,
            metadata: raw.metadata,
            items: raw.items.into_iter().filter_map(|item| item.0).collect(),
        })
    }

    /// A watch from `resource_version`, with bookmarks, that the server ends
    /// after `timeout_seconds`. An HTTP 410 is a [`KubeError::is_gone`]: relist.
    pub fn watch_memhpas(
        &self,
        namespace: Option<&str>,
        resource_version: &str,
        timeout_seconds: u64,
    ) -> Result<Watch, KubeError> {
        self.watch(paths::memhpas(namespace), resource_version, timeout_seconds)
    }

    /// Every pod (of one namespace, or all), page by page: each page goes to
    /// `visit` as it is read and none is kept here, so that the initial list
    /// of a large cluster is never held whole. A pod that does not decode is
    /// logged and left out. `PodPage::Restart` says the list started over
    /// (its continue token expired). Returns the list's resourceVersion.
    pub fn list_pods_paged(
        &self,
        namespace: Option<&str>,
        visit: &mut dyn FnMut(PodPage),
    ) -> Result<Option<String>, KubeError> {
        let mut decode_page = |page: PageEvent<Lenient<Pod>>| match page {
            PageEvent::Restart => visit(PodPage::Restart),
            PageEvent::Items { items, .. } => visit(PodPage::Pods(
                items.into_iter().filter_map(|p| p.0).collect(),
            )),
        };
        let meta = self.list_streamed(&paths::all_pods(namespace), &[], &mut decode_page)?;
        Ok(meta.resource_version)
    }

    /// A pod watch, as [`Client::watch_memhpas`].
    pub fn watch_pods(
        &self,
        namespace: Option<&str>,
        resource_version: &str,
        timeout_seconds: u64,
    ) -> Result<Watch, KubeError> {
        self.watch(
            paths::all_pods(namespace),
            resource_version,
            timeout_seconds,
        )
    }

    fn watch(
        &self,
        collection: String,
        resource_version: &str,
        timeout_seconds: u64,
    ) -> Result<Watch, KubeError> {
        let timeout = timeout_seconds.to_string();
        let path = format!(
            "{collection}{}",
            paths::query(&[
                ("watch", "true"),
                ("allowWatchBookmarks", "true"),
                ("resourceVersion", resource_version),
                ("timeoutSeconds", &timeout),
            ])
        );
        let read_timeout = Duration::from_secs(timeout_seconds) + WATCH_READ_GRACE;
        let mut call = Call::new("watch", "GET", path);
        call.watch_read_timeout = Some(read_timeout);
        let response = self.send(&call)?;
        if !is_success(response.status) {
            return Err(self.error_from(&call, response));
        }
        Ok(Watch::new(call.path, response.body, read_timeout))
    }

    pub fn get_memhpa(&self, namespace: &str, name: &str) -> Result<MemHpa, KubeError> {
        self.call_json(&Call::new("get", "GET", paths::memhpa(namespace, name)))
    }

    /// PUT to `/status` with the object's resourceVersion: a stale one is
    /// `KubeError::Conflict`. The server ignores the spec in this write.
    pub fn replace_memhpa_status(&self, hpa: &MemHpa) -> Result<MemHpa, KubeError> {
        let (namespace, name) = namespaced_name("update", "MemHpa", &hpa.metadata)?;
        if hpa
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            return Err(KubeError::missing_field(
                "update",
                format!("the status of MemHpa {namespace}/{name}"),
                "metadata.resourceVersion",
            ));
        }
        let body = hpa.typed();
        let path = format!("{}/status", paths::memhpa(namespace, name));
        self.call_json(&Call::new("update", "PUT", path).with_json(&body)?)
    }

    pub fn get_scale(&self, namespace: &str, target: &ScaleTarget) -> Result<Scale, KubeError> {
        self.call_json(&Call::new("get", "GET", target.path(namespace)))
    }

    /// PUT of the Scale; with `metadata.resourceVersion` set, a stale one is
    /// `KubeError::Conflict`, without it the write is unconditional.
    pub fn replace_scale(
        &self,
        namespace: &str,
        target: &ScaleTarget,
        scale: &Scale,
    ) -> Result<Scale, KubeError> {
        let mut body = scale.typed();
        body.metadata
            .name
            .get_or_insert_with(|| target.name().to_string());
        body.metadata
            .namespace
            .get_or_insert_with(|| namespace.to_string());
        self.call_json(&Call::new("update", "PUT", target.path(namespace)).with_json(&body)?)
    }

    /// The pods matching `label_selector` (server-side), page by page. An empty
    /// selector would match every pod of the namespace, so it is refused.
    pub fn list_pods(&self, namespace: &str, label_selector: &str) -> Result<Vec<Pod>, KubeError> {
        if label_selector.trim().is_empty() {
            return Err(KubeError::missing_field(
                "list",
                format!("pods in namespace {namespace:?}"),
                "label selector (an empty one matches every pod)",
            ));
        }
        let list: ObjectList<Pod> = self.list_all(
            &paths::pods(namespace),
            &[("labelSelector", label_selector)],
        )?;
        Ok(list.items)
    }

    pub fn create_event(&self, namespace: &str, event: &Event) -> Result<Event, KubeError> {
        let mut body = event.typed();
        body.metadata
            .namespace
            .get_or_insert_with(|| namespace.to_string());
        self.call_json(&Call::new("create", "POST", paths::events(namespace)).with_json(&body)?)
    }

    /// Merge patch of `count` and `lastTimestamp`: how a repeated event is told.
    pub fn patch_event(
        &self,
        namespace: &str,
        name: &str,
        count: i64,
        last_timestamp: &str,
    ) -> Result<Event, KubeError> {
        let patch = serde_json::json!({ "count": count, "lastTimestamp": last_timestamp });
        self.call_json(
            &Call::new("patch", "PATCH", paths::event(namespace, name)).with_merge_patch(&patch)?,
        )
    }

    /// `KubeError::NotFound` before the Lease exists.
    pub fn get_lease(&self, namespace: &str, name: &str) -> Result<Lease, KubeError> {
        self.call_json(&Call::new("get", "GET", paths::lease(namespace, name)))
    }

    /// `KubeError::Conflict` (reason AlreadyExists) when another replica won.
    pub fn create_lease(&self, namespace: &str, lease: &Lease) -> Result<Lease, KubeError> {
        self.call_json(
            &Call::new("create", "POST", paths::leases(namespace)).with_json(&lease.typed())?,
        )
    }

    /// PUT with the Lease's resourceVersion: a stale one is `KubeError::Conflict`.
    pub fn replace_lease(&self, namespace: &str, lease: &Lease) -> Result<Lease, KubeError> {
        let name = lease
            .metadata
            .name
            .as_deref()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                KubeError::missing_field(
                    "update",
                    format!("a Lease in namespace {namespace:?}"),
                    "metadata.name",
                )
            })?;
        self.call_json(
            &Call::new("update", "PUT", paths::lease(namespace, name)).with_json(&lease.typed())?,
        )
    }

    /// Interrupts blocked requests and watch reads (for SIGTERM); every later
    /// request of this client and its clones fails.
    pub fn shutdown(&self) {
        self.inner.transport.shutdown();
    }

    /// Every page of a list, joined, within [`ListLimits`]. A continue token
    /// that expires midway (410) starts the list over, a few times at most.
    fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
    ) -> Result<ObjectList<T>, KubeError> {
        let named = format!("{path}{}", paths::query(filters));
        let mut gathered = Gathered::new(&named, self.inner.list_limits);
        let mut head = (None, None);
        let metadata = self.each_page(path, filters, &mut gathered, &mut |page| match page {
            PageEvent::Restart => {}
            PageEvent::Items {
                api_version,
                kind,
                items,
            } => {
                head = (api_version, kind);
                drop(items);
            }
        })?;
        Ok(ObjectList {
            api_version: head.0,
            kind: head.1,
            metadata,
            items: std::mem::take(&mut gathered.items),
        })
    }

    /// The pages of a list, each handed to `visit` as it is read and kept by
    /// nobody here: a list of 100,000 pods is never held whole. The bounds
    /// are the list's pages and items; the bytes are bounded per page only,
    /// since none are kept. Returns the list's metadata (its
    /// resourceVersion).
    fn list_streamed<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
        visit: &mut dyn FnMut(PageEvent<T>),
    ) -> Result<ListMeta, KubeError> {
        let named = format!("{path}{}", paths::query(filters));
        let limits = ListLimits {
            bytes: u64::MAX,
            ..self.inner.list_limits
        };
        let mut counted = Gathered::counting(&named, limits);
        self.each_page(path, filters, &mut counted, visit)
    }

    /// The paging loop both list shapes share: `limit` and `continue`, a
    /// restart when the token expires, a repeated token refused.
    fn each_page<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
        gathered: &mut Gathered<'_, T>,
        visit: &mut dyn FnMut(PageEvent<T>),
    ) -> Result<ListMeta, KubeError> {
        let limits = gathered.limits;
        let mut restarts = 0;
        'list: loop {
            gathered.clear();
            let mut continue_token: Option<String> = None;
            for _ in 0..limits.pages {
                let mut pairs = filters.to_vec();
                pairs.push(("limit", PAGE_SIZE));
                if let Some(token) = &continue_token {
                    pairs.push(("continue", token));
                }
                let call = Call::new("list", "GET", format!("{path}{}", paths::query(&pairs)));
                let (page, bytes) = match self.list_page(&call, gathered) {
                    Err(err)
                        if err.is_gone()
                            && continue_token.is_some()
                            && restarts < LIST_RESTARTS =>
                    {
                        restarts += 1;
                        visit(PageEvent::Restart);
                        continue 'list;
                    }
                    other => other?,
                };
                let Page {
                    api_version,
                    kind,
                    metadata,
                    items,
                } = page;
                let items = gathered.add(items, bytes)?;
                visit(PageEvent::Items {
                    api_version,
                    kind,
                    items,
                });
                match metadata.continue_.filter(|next| !next.is_empty()) {
                    Some(next) if Some(&next) == continue_token.as_ref() => {
                        return Err(list_error(path, "the server repeated a continue token"));
                    }
                    Some(next) => continue_token = Some(next),
                    None => {
                        return Ok(ListMeta {
                            resource_version: metadata.resource_version,
                            continue_: None,
                        })
                    }
                }
            }
            return Err(gathered.too_large(limits.pages as u64, "pages"));
        }
    }

    /// One page and its size on the wire, read within what is left of the
    /// list's byte budget.
    fn list_page<T: DeserializeOwned>(
        &self,
        call: &Call,
        gathered: &Gathered<'_, T>,
    ) -> Result<(Page<T>, u64), KubeError> {
        let response = self.send(call)?;
        if !is_success(response.status) {
            return Err(self.error_from(call, response));
        }
        let left = gathered.bytes_left();
        let limit = self.inner.max_body.min(left);
        let body = self.read_up_to(call, response.body, limit)?;
        if body.len() as u64 > limit {
            return Err(if left <= self.inner.max_body {
                gathered.too_large(gathered.limits.bytes, "bytes")
            } else {
                oversized(call, limit, &body)
            });
        }
        Ok((decode(call, &body)?, body.len() as u64))
    }

    /// Sends, checks the status, decodes a 2xx body as `T`.
    fn call_json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, KubeError> {
        let response = self.send(call)?;
        if !is_success(response.status) {
            return Err(self.error_from(call, response));
        }
        let body = self.read_body(call, response.body, self.inner.max_body)?;
        decode(call, &body)
    }

    /// Sends with the current token; after a 401, once more if the token file
    /// now holds another token.
    fn send(&self, call: &Call) -> Result<Incoming, KubeError> {
        let unreadable = |err| KubeError::new(call.verb, call.path.clone(), ErrorKind::Config(err));
        let token = self
            .inner
            .token
            .current(Instant::now())
            .map_err(unreadable)?;
        let response = self.send_once(call, token.clone())?;
        if response.status != 401 {
            return Ok(response);
        }
        match self
            .inner
            .token
            .refresh_after_unauthorized(token.as_deref(), Instant::now())
            .map_err(unreadable)?
        {
            Some(rotated) => {
                log::info!(
                    "{} {}: HTTP 401, retrying with the re-read token",
                    call.verb,
                    call.path
                );
                self.send_once(call, Some(rotated))
            }
            None => Ok(response),
        }
    }

    fn send_once(&self, call: &Call, bearer: Option<String>) -> Result<Incoming, KubeError> {
        let outgoing = Outgoing {
            method: call.method,
            url: format!("{}{}", self.inner.base_url, call.path),
            bearer,
            body: call.body.clone(),
            watch_read_timeout: call.watch_read_timeout,
        };
        match self.inner.transport.send(&outgoing) {
            Ok(response) => {
                self.observe(call.verb, response.status);
                Ok(response)
            }
            Err(err) => {
                self.observe(call.verb, 0);
                Err(self.transport_failed(call, err))
            }
        }
    }

    fn observe(&self, verb: &str, status: u16) {
        if let Some(observer) = &self.observer {
            observer(verb, status);
        }
    }

    /// Reads at most `limit` bytes; a longer body is a Decode error.
    fn read_body(
        &self,
        call: &Call,
        body: Box<dyn Read + Send>,
        limit: u64,
    ) -> Result<Vec<u8>, KubeError> {
        let bytes = self.read_up_to(call, body, limit)?;
        if bytes.len() as u64 > limit {
            return Err(oversized(call, limit, &bytes));
        }
        Ok(bytes)
    }

    /// Reads at most `limit + 1` bytes: more than `limit` tells the body is
    /// over it, and no more than one byte past it is ever held.
    fn read_up_to(
        &self,
        call: &Call,
        body: Box<dyn Read + Send>,
        limit: u64,
    ) -> Result<Vec<u8>, KubeError> {
        let mut bytes = Vec::new();
        body.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|err| self.transport_failed(call, read_error(err)))?;
        Ok(bytes)
    }

    /// The error of a non-2xx response, from its Status body. A body that
    /// cannot be read still gives the status code.
    fn error_from(&self, call: &Call, response: Incoming) -> KubeError {
        if (300..400).contains(&response.status) {
            return KubeError::new(
                call.verb,
                call.path.clone(),
                ErrorKind::Redirect {
                    method: call.method,
                    status: response.status,
                    location: response.location.unwrap_or_default(),
                },
            );
        }
        let body = self
            .read_body(call, response.body, MAX_ERROR_BODY)
            .unwrap_or_default();
        KubeError::from_response(
            call.verb,
            &call.path,
            response.status,
            response.retry_after.as_deref(),
            &body,
        )
    }

    fn transport_failed(&self, call: &Call, err: TransportError) -> KubeError {
        let kind = match err {
            TransportError::Timeout => ErrorKind::Timeout {
                timeout: call
                    .watch_read_timeout
                    .unwrap_or(self.inner.request_timeout),
            },
            TransportError::Other(detail) => ErrorKind::Transport { detail },
        };
        KubeError::new(call.verb, call.path.clone(), kind)
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn encode<T: Serialize>(verb: &'static str, path: &str, value: &T) -> Result<Vec<u8>, KubeError> {
    serde_json::to_vec(value).map_err(|err| {
        let detail = format!("cannot encode the request body: {err}");
        KubeError::new(
            verb,
            path,
            ErrorKind::Decode {
                detail,
                body: String::new(),
            },
        )
    })
}

fn decode<T: DeserializeOwned>(call: &Call, body: &[u8]) -> Result<T, KubeError> {
    serde_json::from_slice(body).map_err(|err| {
        let (detail, body) = (err.to_string(), excerpt(body));
        KubeError::new(
            call.verb,
            call.path.clone(),
            ErrorKind::Decode { detail, body },
        )
    })
}

fn oversized(call: &Call, limit: u64, body: &[u8]) -> KubeError {
    let kind = ErrorKind::Decode {
        detail: format!("the answer is larger than {limit} bytes"),
        body: excerpt(&body[..body.len().min(200)]),
    };
    KubeError::new(call.verb, call.path.clone(), kind)
}

/// One list page as read: `ObjectList` with its items counted as they are
/// decoded, so a hostile page of millions of tiny items is refused without
/// decoding them all.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
struct Page<T> {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Counted<T>,
}

/// The items of one page: the first [`MAX_LIST_ITEMS`] kept, all counted.
/// A page holding more already breaks the list's bound, so keeping more
/// would only spend memory on a list that is refused.
struct Counted<T> {
    kept: Vec<T>,
    count: usize,
}

impl<T> Default for Counted<T> {
    fn default() -> Self {
        Counted {
            kept: Vec::new(),
            count: 0,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Counted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(CountedVisitor(std::marker::PhantomData))
    }
}

struct CountedVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for CountedVisitor<T> {
    type Value = Counted<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of items")
    }

    // The loop ends with the body, which is bounded by the byte budget.
    // No `size_hint` capacity: the count is the server's to lie about.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counted<T>, A::Error> {
        let mut counted = Counted::default();
        loop {
            let more = if counted.kept.len() < MAX_LIST_ITEMS {
                seq.next_element::<T>()?.map(|item| counted.kept.push(item))
            } else {
                seq.next_element::<IgnoredAny>()?.map(drop)
            };
            if more.is_none() {
                return Ok(counted);
            }
            counted.count += 1;
        }
    }
}

/// What a paged list hands its visitor.
enum PageEvent<T> {
    /// The list started over (its continue token expired): forget what the
    /// earlier pages said, they come again.
    Restart,
    /// One page's items, those [`Gathered`] did not keep.
    Items {
        api_version: Option<String>,
        kind: Option<String>,
        items: Vec<T>,
    },
}

/// The pages of one list so far, against its [`ListLimits`]; it keeps the
/// items, or (`counting`) only counts them and hands each page on.
struct Gathered<'a, T> {
    /// The list's path and filters, for errors.
    path: &'a str,
    limits: ListLimits,
    pages: usize,
    bytes: u64,
    count: usize,
    keep: bool,
    items: Vec<T>,
}

impl<'a, T> Gathered<'a, T> {
    fn new(path: &'a str, limits: ListLimits) -> Gathered<'a, T> {
        Gathered {
            path,
            limits,
            pages: 0,
            bytes: 0,
            count: 0,
            keep: true,
            items: Vec::new(),
        }
    }

    fn counting(path: &'a str, limits: ListLimits) -> Gathered<'a, T> {
        Gathered {
            keep: false,
            ..Gathered::new(path, limits)
        }
    }

    /// The list starts (over).
    fn clear(&mut self) {
        self.pages = 0;
        self.bytes = 0;
        self.count = 0;
        self.items.clear();
    }

    fn bytes_left(&self) -> u64 {
        self.limits.bytes.saturating_sub(self.bytes)
    }

    /// Counts a page in; the items not kept come back.
    fn add(&mut self, items: Counted<T>, bytes: u64) -> Result<Vec<T>, KubeError> {
        self.pages += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.count.saturating_add(items.count) > self.limits.items {
            return Err(self.too_large(self.limits.items as u64, "items"));
        }
        self.count += items.count;
        if self.keep {
            self.items.extend(items.kept);
            Ok(Vec::new())
        } else {
            Ok(items.kept)
        }
    }

    fn too_large(&self, limit: u64, unit: &'static str) -> KubeError {
        let pages = self.pages;
        KubeError::new(
            "list",
            self.path,
            ErrorKind::ListTooLarge { limit, unit, pages },
        )
    }
}

/// A page of the pod list, for [`Client::list_pods_paged`]'s visitor.
#[derive(Debug)]
pub enum PodPage {
    /// The list started over: the pages before this come again.
    Restart,
    Pods(Vec<Pod>),
}

/// One list item that decodes as `T`, or `None` (logged) for one that does
/// not, so one bad object cannot hide the others. Each item passes through
/// a JSON value on its own, as it is read: a page of 500 pods is never held
/// as 500 values (they are several times the size of the pods decoded).
struct Lenient<T>(Option<T>);

impl<'de, T: Watched> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Lenient(decode_items::<T>(vec![value]).pop()))
    }
}

/// The items that decode as `T`; each one that does not is logged and left
/// out, so one bad object cannot hide the others.
fn decode_items<T: Watched>(items: Vec<serde_json::Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            let key = raw_key(&item).unwrap_or_else(|| "(no name)".into());
            serde_json::from_value::<T>(item)
                .map_err(|err| {
                    log::warn!(
                        "skipping {} {key} from the list: it does not decode: {err}",
                        T::KIND
                    )
                })
                .ok()
        })
        .collect()
}

fn list_error(path: &str, detail: &str) -> KubeError {
    let kind = ErrorKind::Decode {
        detail: detail.to_string(),
        body: String::new(),
    };
    KubeError::new("list", path, kind)
}

fn namespaced_name<'a>(
    verb: &'static str,
    kind: &str,
    meta: &'a crate::api::ObjectMeta,
) -> Result<(&'a str, &'a str), KubeError> {
    let present = |value: &'a Option<String>| value.as_deref().filter(|text| !text.is_empty());
    let missing = |field| KubeError::missing_field(verb, format!("{kind} {}", meta.key()), field);
    let namespace = present(&meta.namespace).ok_or_else(|| missing("metadata.namespace"))?;
    let name = present(&meta.name).ok_or_else(|| missing("metadata.name"))?;
    Ok((namespace, name))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::ObjectMeta;
    use crate::kube::fake_transport::{FakeTransport as Fake, FAKE_BASE};
    use crate::kube::test_server::{serve, serve_tls, Answer};
    use crate::kube::token::token_file;
    use std::sync::Mutex;

    const BASE: &str = FAKE_BASE;

    fn client_with(fake: &Fake, token_file: Option<PathBuf>) -> Client {
        fake.client(token_file)
    }

    fn client(fake: &Fake) -> Client {
        fake.client(None)
    }

    use std::path::PathBuf;

    fn hpa_json(name: &str, version: &str) -> String {
        format!(
            r#"{{"apiVersion":"memhpa.io/v1","kind":"MemHpa","metadata":{{"name":"{name}","namespace":"demo","resourceVersion":"{version}"}},"spec":{{"maxReplicas":5}}}}"#
        )
    }

    fn hpa(name: &str, version: &str) -> MemHpa {
        serde_json::from_str(&hpa_json(name, version)).expect("hpa")
    }

    fn status(code: u16, reason: &str, message: &str) -> String {
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "code": code, "reason": reason, "message": message})
        .to_string()
    }

    #[test]
    fn client_and_watch_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send::<Watch>();
    }

    #[test]
    fn list_follows_continue_tokens_and_keeps_the_last_version() {
        let fake = Fake::default();
        fake.answer(
            200,
            &format!(
                r#"{{"kind":"MemHpaList","metadata":{{"resourceVersion":"7","continue":"tok/1="}},"items":[{}]}}"#,
                hpa_json("a", "5")
            ),
        )
        .answer(
            200,
            &format!(
                r#"{{"kind":"MemHpaList","metadata":{{"resourceVersion":"7","continue":""}},"items":[{}]}}"#,
                hpa_json("b", "6")
            ),
        );
        let list = client(&fake).list_memhpas(None).expect("list");
        assert_eq!(list.items.len(), 2);
        assert_eq!(list.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(
            fake.paths(),
            [
                "/apis/memhpa.io/v1/memhpas?limit=500",
                "/apis/memhpa.io/v1/memhpas?limit=500&continue=tok%2F1%3D",
            ]
        );
    }

    #[test]
    fn list_starts_over_when_the_continue_token_expires() {
        let fake = Fake::default();
        let page = |cont: &str, name: &str| {
            format!(
                r#"{{"metadata":{{"resourceVersion":"9","continue":"{cont}"}},"items":[{}]}}"#,
                hpa_json(name, "1")
            )
        };
        fake.answer(200, &page("t1", "a"))
            .answer(410, &status(410, "Expired", "continue token expired"))
            .answer(200, &page("t2", "a"))
            .answer(200, &page("", "b"));
        let list = client(&fake)
            .list_memhpas(Some("demo"))
            .expect("list after restart");
        let names: Vec<_> = list.items.iter().map(|item| item.metadata.key()).collect();
        assert_eq!(
            names,
            ["demo/a", "demo/b"],
            "no duplicate from the first try"
        );
        assert_eq!(fake.sent().len(), 4);
        assert!(
            fake.paths()[2].ends_with("?limit=500"),
            "{:?}",
            fake.paths()
        );
    }

    #[test]
    fn list_stops_on_a_repeated_continue_token() {
        let fake = Fake::default();
        let page = r#"{"metadata":{"continue":"same"},"items":[]}"#;
        fake.answer(200, page).answer(200, page);
        let err = client(&fake).list_memhpas(None).expect_err("loop");
        assert!(
            err.to_string().contains("repeated a continue token"),
            "{err}"
        );
    }

    fn with_list_limits(mut client: Client, limits: ListLimits) -> Client {
        Arc::get_mut(&mut client.inner)
            .expect("sole owner")
            .list_limits = limits;
        client
    }

    /// A page of `items` empty objects with continue token `next`.
    fn page_of(items: usize, next: &str) -> String {
        let items = vec!["{}"; items].join(",");
        format!(r#"{{"metadata":{{"continue":"{next}"}},"items":[{items}]}}"#)
    }

    #[test]
    fn list_stops_at_the_item_bound_over_pages() {
        let fake = Fake::default();
        fake.answer(200, &page_of(2, "a"))
            .answer(200, &page_of(2, "b"))
            .answer(200, &page_of(2, "c"));
        let limits = ListLimits {
            items: 3,
            ..LIST_LIMITS
        };
        let err = with_list_limits(client(&fake), limits)
            .list_pods("demo", "app=web")
            .expect_err("too many items");
        assert!(
            matches!(
                &err,
                KubeError { path, kind: ErrorKind::ListTooLarge { limit: 3, unit: "items", pages: 2, .. }, .. }
                    if &**path == "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb"
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("limit of 3 items"), "{err}");
        assert_eq!(fake.sent().len(), 2, "no page read past the bound");
    }

    #[test]
    fn list_stops_at_the_byte_bound_without_reading_past_it() {
        let fake = Fake::default();
        for token in ["1", "2", "3", "4"] {
            fake.answer(200, &page_of(1, token));
        }
        let limits = ListLimits {
            bytes: page_of(1, "1").len() as u64 * 2 + 10,
            ..LIST_LIMITS
        };
        let err = with_list_limits(client(&fake), limits)
            .list_memhpas(None)
            .expect_err("too many bytes");
        assert!(
            matches!(
                &err.kind,
                ErrorKind::ListTooLarge {
                    unit: "bytes",
                    pages: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(fake.sent().len(), 3);
    }

    #[test]
    fn list_of_endless_empty_pages_stops_at_the_page_bound() {
        let fake = Fake::default();
        for token in ["1", "2", "3", "4"] {
            fake.answer(200, &page_of(0, token));
        }
        let limits = ListLimits {
            pages: 3,
            ..LIST_LIMITS
        };
        let err = with_list_limits(client(&fake), limits)
            .list_memhpas(None)
            .expect_err("endless");
        assert!(
            matches!(
                &err.kind,
                ErrorKind::ListTooLarge {
                    limit: 3,
                    unit: "pages",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_page_of_too_many_items_keeps_no_more_than_the_bound() {
        let page: Page<serde_json::Value> =
            serde_json::from_str(&page_of(MAX_LIST_ITEMS + 5, "")).expect("page");
        assert_eq!(page.items.count, MAX_LIST_ITEMS + 5);
        assert_eq!(page.items.kept.len(), MAX_LIST_ITEMS);
        let fake = Fake::default();
        fake.answer(200, &page_of(MAX_LIST_ITEMS + 1, ""));
        let err = client(&fake)
            .list_memhpas(None)
            .expect_err("one page too many");
        assert!(
            matches!(
                &err.kind,
                ErrorKind::ListTooLarge {
                    unit: "items",
                    pages: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn list_skips_an_item_that_does_not_decode() {
        let fake = Fake::default();
        let bad = r#"{"metadata":{"name":"bad","namespace":"demo"},"spec":{"maxReplicas":"ten"}}"#;
        fake.answer(
            200,
            &format!(
                r#"{{"metadata":{{"resourceVersion":"3"}},"items":[{bad},{}]}}"#,
                hpa_json("good", "2")
            ),
        );
        let list = client(&fake).list_memhpas(None).expect("list");
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0].metadata.key(), "demo/good");
    }

    #[test]
    fn watch_asks_for_bookmarks_and_reads_longer_than_the_timeout() {
        let fake = Fake::default();
        fake.answer(
            200,
            "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\n",
        );
        let events: Vec<_> = client(&fake)
            .watch_memhpas(Some("demo"), "10", 300)
            .expect("watch")
            .collect();
        assert_eq!(events.len(), 1);
        let sent = &fake.sent()[0];
        assert_eq!(
            sent.url,
            format!("{BASE}/apis/memhpa.io/v1/namespaces/demo/memhpas?watch=true&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds=300")
        );
        assert_eq!(sent.watch_read_timeout, Some(Duration::from_secs(330)));
    }

    #[test]
    fn watch_http_410_is_gone() {
        let fake = Fake::default();
        fake.answer(410, &status(410, "Gone", "too old resource version"));
        let err = client(&fake)
            .watch_memhpas(None, "1", 60)
            .err()
            .expect("gone");
        assert!(
            matches!(&err, KubeError { kind: ErrorKind::Status { code: 410, message, .. }, .. } if message == "too old resource version"),
            "{err:?}"
        );
    }

    #[test]
    fn status_put_goes_to_the_subresource_with_the_version() {
        let fake = Fake::default();
        fake.answer(200, &hpa_json("web", "8"));
        let updated = client(&fake)
            .replace_memhpa_status(&hpa("web", "7"))
            .expect("put");
        assert_eq!(updated.metadata.resource_version.as_deref(), Some("8"));
        let sent = &fake.sent()[0];
        assert_eq!(sent.method, "PUT");
        assert_eq!(
            sent.url,
            format!("{BASE}/apis/memhpa.io/v1/namespaces/demo/memhpas/web/status")
        );
        let (content_type, body) = sent.body.clone().expect("body");
        assert_eq!(content_type, "application/json");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json body");
        assert_eq!(body["metadata"]["resourceVersion"], "7");
        assert_eq!(body["kind"], "MemHpa");
    }

    #[test]
    fn stale_status_put_is_conflict() {
        let fake = Fake::default();
        fake.answer(
            409,
            &status(409, "Conflict", "the object has been modified"),
        );
        let err = client(&fake)
            .replace_memhpa_status(&hpa("web", "7"))
            .expect_err("stale");
        assert!(
            matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, .. }, .. } if reason == "Conflict"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("update /apis/memhpa.io/v1/namespaces/demo/memhpas/web/status"),
            "{err}"
        );
    }

    #[test]
    fn status_put_without_version_or_name_is_refused_before_sending() {
        let fake = Fake::default();
        let mut no_version = hpa("web", "7");
        no_version.metadata.resource_version = None;
        let err = client(&fake)
            .replace_memhpa_status(&no_version)
            .expect_err("no version");
        assert!(
            err.to_string().contains("metadata.resourceVersion"),
            "{err}"
        );
        let nameless = MemHpa {
            metadata: ObjectMeta {
                namespace: Some("demo".into()),
                ..ObjectMeta::default()
            },
            ..MemHpa::default()
        };
        let err = client(&fake)
            .replace_memhpa_status(&nameless)
            .expect_err("no name");
        assert!(err.to_string().contains("metadata.name"), "{err}");
        assert!(fake.sent().is_empty());
    }

    #[test]
    fn scale_put_fills_in_the_identity() {
        let fake = Fake::default();
        fake.answer(
            200,
            r#"{"spec":{"replicas":4},"status":{"replicas":2,"selector":"app=web"}}"#,
        );
        let target = ScaleTarget::from_ref("apps/v1", "StatefulSet", "db").expect("target");
        let mut scale = Scale::default();
        scale.spec.replicas = 4;
        scale.metadata.resource_version = Some("31".into());
        let answer = client(&fake)
            .replace_scale("demo", &target, &scale)
            .expect("scale");
        assert_eq!(answer.spec.replicas, 4);
        let sent = &fake.sent()[0];
        assert_eq!(
            sent.url,
            format!("{BASE}/apis/apps/v1/namespaces/demo/statefulsets/db/scale")
        );
        let body: serde_json::Value =
            serde_json::from_slice(&sent.body.clone().expect("body").1).expect("json");
        assert_eq!(body["apiVersion"], "autoscaling/v1");
        assert_eq!(body["metadata"]["name"], "db");
        assert_eq!(body["metadata"]["namespace"], "demo");
        assert_eq!(body["metadata"]["resourceVersion"], "31");
        assert_eq!(body["spec"]["replicas"], 4);
    }

    #[test]
    fn pods_are_listed_by_an_encoded_selector() {
        let fake = Fake::default();
        fake.answer(
            200,
            r#"{"metadata":{},"items":[{"metadata":{"name":"p1"}}]}"#,
        );
        let pods = client(&fake)
            .list_pods("demo", "app=web,tier notin (db)")
            .expect("pods");
        assert_eq!(pods.len(), 1);
        assert_eq!(
            fake.paths(),
            ["/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb%2Ctier%20notin%20%28db%29&limit=500"]
        );
    }

    #[test]
    fn empty_selector_is_refused() {
        let fake = Fake::default();
        let err = client(&fake).list_pods("demo", " ").expect_err("empty");
        assert!(
            matches!(err.kind, ErrorKind::MissingField { .. }),
            "{err:?}"
        );
        assert!(fake.sent().is_empty());
    }

    #[test]
    fn event_patch_is_a_merge_patch_of_count_and_time() {
        let fake = Fake::default();
        fake.answer(200, r#"{"metadata":{"name":"web.1"},"count":3}"#);
        client(&fake)
            .patch_event("demo", "web.1", 3, "2026-11-22T12:05:00Z")
            .expect("patch");
        let sent = &fake.sent()[0];
        assert_eq!(sent.method, "PATCH");
        assert_eq!(
            sent.url,
            format!("{BASE}/api/v1/namespaces/demo/events/web.1")
        );
        let (content_type, body) = sent.body.clone().expect("body");
        assert_eq!(content_type, "application/merge-patch+json");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"count": 3, "lastTimestamp": "2026-11-22T12:05:00Z"})
        );
    }

    #[test]
    fn lease_calls_map_404_and_409() {
        let fake = Fake::default();
        fake.answer(404, &status(404, "NotFound", "leases \"memhpa\" not found"))
            .answer(
                409,
                &status(409, "AlreadyExists", "leases \"memhpa\" already exists"),
            );
        let client = client(&fake);
        let err = client.get_lease("kube-system", "memhpa").expect_err("404");
        assert_eq!(err.code(), Some(404), "{err:?}");
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some("memhpa".into()),
                ..ObjectMeta::default()
            },
            ..Lease::default()
        };
        let err = client.create_lease("kube-system", &lease).expect_err("409");
        assert!(
            matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, .. }, .. } if reason == "AlreadyExists"),
            "{err:?}"
        );
        let sent = fake.sent();
        assert_eq!(sent[1].method, "POST");
        assert!(sent[1]
            .url
            .ends_with("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"));
    }

    #[test]
    fn replace_lease_puts_by_name() {
        let fake = Fake::default();
        fake.answer(
            200,
            r#"{"metadata":{"name":"memhpa","resourceVersion":"2"}}"#,
        );
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some("memhpa".into()),
                resource_version: Some("1".into()),
                ..ObjectMeta::default()
            },
            ..Lease::default()
        };
        client(&fake)
            .replace_lease("kube-system", &lease)
            .expect("renew");
        let sent = &fake.sent()[0];
        assert_eq!(sent.method, "PUT");
        assert!(sent.url.ends_with("/leases/memhpa"), "{}", sent.url);
        let err = client(&fake)
            .replace_lease("kube-system", &Lease::default())
            .expect_err("nameless");
        assert!(err.to_string().contains("metadata.name"), "{err}");
    }

    #[test]
    fn unauthorized_rereads_the_token_and_retries_once() {
        let path = token_file("rotate", "old-token\n");
        let fake = Fake::default();
        fake.answer(401, &status(401, "Unauthorized", "Unauthorized"))
            .answer(200, &hpa_json("web", "1"));
        let client = client_with(&fake, Some(path.clone()));
        std::fs::write(&path, "new-token").expect("rotate");
        client.get_memhpa("demo", "web").expect("retried");
        let bearers: Vec<_> = fake.sent().into_iter().map(|s| s.bearer).collect();
        assert_eq!(
            bearers,
            [Some("old-token".to_string()), Some("new-token".to_string())]
        );
    }

    #[test]
    fn a_token_file_gone_at_a_401_is_a_config_error_of_the_call() {
        let path = token_file("vanished", "old-token\n");
        let fake = Fake::default();
        fake.answer(401, &status(401, "Unauthorized", "Unauthorized"));
        let client = client_with(&fake, Some(path.clone()));
        std::fs::remove_file(&path).expect("remove the token file");
        let err = client.get_memhpa("demo", "web").expect_err("no token");
        assert!(matches!(err.kind, ErrorKind::Config(_)), "{err:?}");
        assert_eq!(
            (err.verb, &*err.path),
            ("get", "/apis/memhpa.io/v1/namespaces/demo/memhpas/web")
        );
        assert!(!err.is_retryable(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(!text.contains("old-token"), "{text}");
    }

    #[test]
    fn unauthorized_with_an_unchanged_token_is_not_retried() {
        let path = token_file("same", "only-token");
        let fake = Fake::default();
        fake.answer(401, &status(401, "Unauthorized", "Unauthorized"));
        let err = client_with(&fake, Some(path))
            .get_memhpa("demo", "web")
            .expect_err("401");
        assert_eq!(err.code(), Some(401), "{err:?}");
        assert!(err.is_retryable());
        assert_eq!(fake.sent().len(), 1);
    }

    #[test]
    fn second_unauthorized_is_returned() {
        let path = token_file("twice", "a");
        let fake = Fake::default();
        fake.answer(401, &status(401, "Unauthorized", "Unauthorized"))
            .answer(401, &status(401, "Unauthorized", "still no"));
        let client = client_with(&fake, Some(path.clone()));
        std::fs::write(&path, "b").expect("rotate");
        let err = client.get_memhpa("demo", "web").expect_err("401 twice");
        assert_eq!(err.message(), Some("still no"));
        assert_eq!(fake.sent().len(), 2);
    }

    #[test]
    fn too_many_requests_reads_retry_after() {
        let fake = Fake::default();
        fake.push(Ok((
            429,
            Some("7".into()),
            status(429, "TooManyRequests", "slow down").into_bytes(),
        )));
        let err = client(&fake).get_memhpa("demo", "web").expect_err("429");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn observer_sees_verbs_and_codes() {
        let fake = Fake::default();
        fake.answer(200, &hpa_json("web", "1"))
            .answer(500, "oops")
            .push(Err(TransportError::Other("refused".into())));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let client = client(&fake).with_observer(Arc::new(move |verb: &str, code: u16| {
            log.lock().expect("log").push(format!("{verb} {code}"));
        }));
        client.get_memhpa("demo", "web").expect("get");
        let err = client
            .replace_memhpa_status(&hpa("web", "1"))
            .expect_err("500");
        assert_eq!(err.code(), Some(500), "{err:?}");
        let err = client.list_pods("demo", "app=web").expect_err("refused");
        assert!(matches!(err.kind, ErrorKind::Transport { .. }), "{err:?}");
        assert_eq!(
            *seen.lock().expect("log"),
            ["get 200", "update 500", "list 0"]
        );
    }

    #[test]
    fn garbage_body_is_a_decode_error_naming_the_path() {
        let fake = Fake::default();
        fake.answer(200, "{\"metadata\": [");
        let err = client(&fake)
            .get_memhpa("demo", "web")
            .expect_err("garbage");
        assert!(matches!(err.kind, ErrorKind::Decode { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("get /apis/memhpa.io/v1/namespaces/demo/memhpas/web"),
            "{err}"
        );
    }

    #[test]
    fn oversized_body_is_refused() {
        let fake = Fake::default();
        fake.answer(200, &format!("\"{}\"", "x".repeat(300)));
        let mut client = client(&fake);
        Arc::get_mut(&mut client.inner)
            .expect("sole owner")
            .max_body = 100;
        let err = client.get_memhpa("demo", "web").expect_err("too big");
        assert!(err.to_string().contains("larger than 100 bytes"), "{err}");
    }

    #[test]
    fn transport_timeout_names_the_request_timeout() {
        let fake = Fake::default();
        fake.push(Err(TransportError::Timeout));
        let err = client(&fake)
            .get_memhpa("demo", "web")
            .expect_err("timeout");
        assert!(
            matches!(err, KubeError { kind: ErrorKind::Timeout { timeout, .. }, .. } if timeout == crate::kube::DEFAULT_REQUEST_TIMEOUT),
            "{err:?}"
        );
    }

    #[test]
    fn missing_token_file_fails_at_construction() {
        let path = token_file("gone", "x");
        std::fs::remove_file(&path).expect("rm");
        let config = KubeConfig {
            token_file: Some(path.clone()),
            ..KubeConfig::new(BASE)
        };
        let err = Client::new(config).expect_err("no token");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    // Over real sockets: what the fake transport cannot show.

    fn real_client(url: &str, timeout: Duration, token_file: Option<PathBuf>) -> Client {
        Client::new(KubeConfig {
            token_file,
            request_timeout: timeout,
            ..KubeConfig::new(url)
        })
        .expect("client")
    }

    #[test]
    fn real_get_sends_the_token_and_decodes() {
        let (url, seen) = serve(vec![Answer::json(200, &hpa_json("web", "4"))]);
        let path = token_file("real", "sekret\n");
        let hpa = real_client(&url, Duration::from_secs(10), Some(path))
            .get_memhpa("demo", "web")
            .expect("get");
        assert_eq!(hpa.metadata.resource_version.as_deref(), Some("4"));
        let request = seen.recv_timeout(Duration::from_secs(10)).expect("request");
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.target,
            "/apis/memhpa.io/v1/namespaces/demo/memhpas/web"
        );
        assert_eq!(request.header("authorization"), Some("Bearer sekret"));
    }

    #[test]
    fn real_error_status_keeps_its_body() {
        let body = status(409, "Conflict", "the object has been modified");
        let (url, seen) = serve(vec![Answer::Full {
            status: 409,
            headers: Vec::new(),
            body: body.into_bytes(),
        }]);
        let target = ScaleTarget::from_ref("apps/v1", "Deployment", "web").expect("target");
        let err = real_client(&url, Duration::from_secs(10), None)
            .replace_scale("demo", &target, &Scale::default())
            .expect_err("409");
        assert_eq!(err.message(), Some("the object has been modified"));
        let request = seen.recv_timeout(Duration::from_secs(10)).expect("request");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(sent["kind"], "Scale");
    }

    #[test]
    fn real_retry_after_header_is_read() {
        let (url, _seen) = serve(vec![Answer::Full {
            status: 429,
            headers: vec![("Retry-After", "5".into())],
            body: status(429, "TooManyRequests", "later").into_bytes(),
        }]);
        let err = real_client(&url, Duration::from_secs(10), None)
            .get_memhpa("demo", "web")
            .expect_err("429");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    }

    fn redirect_to(url: &str) -> Answer {
        Answer::Full {
            status: 307,
            headers: vec![("Location", format!("{url}/elsewhere"))],
            body: Vec::new(),
        }
    }

    #[test]
    fn real_put_answered_307_is_a_redirect_error() {
        let (url, seen) = serve(vec![redirect_to("http://127.0.0.1:9")]);
        let target = ScaleTarget::from_ref("apps/v1", "Deployment", "web").expect("target");
        let err = real_client(&url, Duration::from_secs(10), None)
            .replace_scale("demo", &target, &Scale::default())
            .expect_err("307");
        let text = err.to_string();
        assert!(
            text.contains("307 Temporary Redirect to PUT; memhpa does not follow redirects"),
            "{text}"
        );
        assert!(text.contains("/deployments/web/scale"), "{text}");
        assert!(text.contains("http://127.0.0.1:9/elsewhere"), "{text}");
        assert!(
            matches!(
                &err.kind,
                ErrorKind::Redirect {
                    status: 307,
                    method: "PUT",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        assert_eq!(seen.try_iter().count(), 1);
    }

    #[test]
    fn real_get_answered_307_is_not_followed() {
        let (second, followed) = serve(vec![Answer::json(200, &hpa_json("web", "1"))]);
        let (url, _seen) = serve(vec![redirect_to(&second)]);
        let err = real_client(&url, Duration::from_secs(10), None)
            .get_memhpa("demo", "web")
            .expect_err("307");
        assert!(
            matches!(
                &err.kind,
                ErrorKind::Redirect {
                    status: 307,
                    method: "GET",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("does not follow redirects"),
            "{err}"
        );
        assert!(
            followed.try_recv().is_err(),
            "the redirect target got no request"
        );
    }

    #[test]
    fn real_silent_server_times_out() {
        let (url, _seen) = serve(vec![Answer::Silent]);
        let err = real_client(&url, Duration::from_millis(300), None)
            .get_memhpa("demo", "web")
            .expect_err("timeout");
        assert!(matches!(err.kind, ErrorKind::Timeout { .. }), "{err:?}");
    }

    #[test]
    fn real_chunked_watch_is_read_line_by_line() {
        let first = format!(
            "{{\"type\":\"ADDED\",\"object\":{}}}\n",
            hpa_json("web", "5")
        );
        let (head, tail) = first.split_at(40);
        let chunks = vec![
            head.as_bytes().to_vec(),
            tail.as_bytes().to_vec(),
            b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}\n"
                .to_vec(),
        ];
        let (url, seen) = serve(vec![Answer::Chunked {
            chunks,
            hold: false,
        }]);
        let events: Vec<_> = real_client(&url, Duration::from_secs(10), None)
            .watch_memhpas(None, "4", 5)
            .expect("watch")
            .collect();
        let types: Vec<_> = events
            .iter()
            .map(|event| event.as_ref().expect("event").type_.clone())
            .collect();
        assert_eq!(types, ["ADDED", "BOOKMARK"]);
        let request = seen.recv_timeout(Duration::from_secs(10)).expect("request");
        assert!(
            request.target.contains("allowWatchBookmarks=true"),
            "{}",
            request.target
        );
    }

    #[test]
    fn watch_outlives_the_request_timeout() {
        // The request timeout is short; the watch must not be cut by it.
        let line = format!(
            "{{\"type\":\"ADDED\",\"object\":{}}}\n",
            hpa_json("web", "5")
        );
        let (url, _seen) = serve(vec![Answer::Chunked {
            chunks: vec![line.into_bytes()],
            hold: true,
        }]);
        let client = real_client(&url, Duration::from_millis(200), None);
        let mut watch = client.watch_memhpas(None, "4", 1).expect("watch");
        assert!(watch.next().expect("first").is_ok());
        std::thread::sleep(Duration::from_millis(600));
        let (done, result) = std::sync::mpsc::channel();
        let stopper = client.clone();
        std::thread::spawn(move || {
            let _ = done.send(watch.next());
        });
        // Nothing more comes; only the shutdown ends the blocked read.
        assert!(result.recv_timeout(Duration::from_millis(300)).is_err());
        stopper.shutdown();
        let last = result
            .recv_timeout(Duration::from_secs(10))
            .expect("shutdown interrupts the read");
        assert!(
            matches!(
                last,
                Some(Err(KubeError {
                    kind: ErrorKind::Transport { .. },
                    ..
                }))
            ),
            "{last:?}"
        );
    }

    #[test]
    fn shutdown_refuses_later_requests() {
        let (url, _seen) = serve(vec![Answer::json(200, "{}")]);
        let client = real_client(&url, Duration::from_secs(10), None);
        client.clone().shutdown();
        let err = client.get_memhpa("demo", "web").expect_err("shut down");
        assert!(matches!(err.kind, ErrorKind::Transport { .. }), "{err:?}");
    }

    /// The checked-in test PKI of the Prometheus tests: a CA, a server
    /// certificate for 127.0.0.1 signed by it, and an unrelated CA.
    fn test_pki() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promsupport/tls")
    }

    fn tls_client(url: &str, ca_file: PathBuf) -> Client {
        Client::new(KubeConfig {
            ca_file: Some(ca_file),
            request_timeout: Duration::from_secs(10),
            ..KubeConfig::new(url)
        })
        .expect("client")
    }

    #[test]
    fn real_tls_verifies_against_any_ca_of_the_bundle() {
        let pki = test_pki();
        let mut bundle = std::fs::read(pki.join("other-ca.pem")).expect("other CA");
        bundle.extend(std::fs::read(pki.join("ca.pem")).expect("CA"));
        let bundle_file = token_file("bundle.pem", "");
        std::fs::write(&bundle_file, bundle).expect("bundle");
        let (url, seen) = serve_tls(&pki, &hpa_json("web", "3"));
        let hpa = tls_client(&url, bundle_file)
            .get_memhpa("demo", "web")
            .expect("https get");
        assert_eq!(hpa.metadata.resource_version.as_deref(), Some("3"));
        let request = seen.recv_timeout(Duration::from_secs(10)).expect("served");
        assert!(request.is_some(), "the handshake completed");
    }

    #[test]
    fn real_tls_refuses_a_server_of_another_ca() {
        let pki = test_pki();
        let (url, seen) = serve_tls(&pki, &hpa_json("web", "3"));
        let err = tls_client(&url, pki.join("other-ca.pem"))
            .get_memhpa("demo", "web")
            .expect_err("unknown issuer");
        assert!(matches!(err.kind, ErrorKind::Transport { .. }), "{err:?}");
        let request = seen.recv_timeout(Duration::from_secs(10)).expect("served");
        assert!(request.is_none(), "no request got through");
    }
}
