//! The seam between the client and the wire: one request out, a status, a
//! Retry-After and a body reader back. The ureq transport is the real one;
//! unit tests put a recording fake in its place.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use ureq::Agent;

use super::error::ConfigError;

/// One request as the client builds it.
#[derive(Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub method: &'static str,
    /// Base URL, path and query.
    pub url: String,
    pub bearer: Option<String>,
    /// Content type and bytes.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// `Some` for a watch: no overall timeout, this long per read instead.
    pub watch_read_timeout: Option<Duration>,
}

/// All but the token: a request must not carry it into a log through a `{:?}`.
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("bearer", &self.bearer.as_ref().map(|_| "(redacted)"))
            .field(
                "body",
                &self.body.as_ref().map(|(kind, bytes)| (kind, bytes.len())),
            )
            .field("watch_read_timeout", &self.watch_read_timeout)
            .finish()
    }
}

/// What came back before the body was read.
pub(crate) struct Incoming {
    pub status: u16,
    pub retry_after: Option<String>,
    /// Where a 3xx points, for its error.
    pub location: Option<String>,
    pub body: Box<dyn Read + Send>,
}

/// Why no response came.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TransportError {
    Timeout,
    Other(String),
}

pub(crate) trait Transport: Send + Sync {
    fn send(&self, request: &Outgoing) -> Result<Incoming, TransportError>;
    /// Interrupts every request and body read in flight; later requests fail.
    fn shutdown(&self);
}

/// ureq keeps 3 idle connections per host by default: fewer than `-workers`
/// at its default, which made every tick open new ones.
const IDLE_CONNECTIONS_PER_HOST: usize = 16;

/// The real transport: one ureq agent with the CA roots, the request timeout
/// by default, and per-request overrides for watches.
pub(crate) struct UreqTransport {
    agent: Agent,
}

impl UreqTransport {
    pub(crate) fn new(
        request_timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<UreqTransport, ConfigError> {
        let builder = crate::http::agent_builder(request_timeout)
            // Connect stays bounded for watches too, whose global timeout is off.
            .timeout_connect(Some(request_timeout))
            // A 3xx comes back as it is: ureq cannot replay a PUT's body,
            // and a redirect must not carry the bearer token elsewhere.
            .max_redirects(0)
            .user_agent(concat!("memhpa/", env!("CARGO_PKG_VERSION")))
            // More than the workers, the watch and the elector together, so
            // a tick reuses its connections instead of handshaking anew.
            .max_idle_connections(IDLE_CONNECTIONS_PER_HOST)
            .max_idle_connections_per_host(IDLE_CONNECTIONS_PER_HOST);
        let agent = crate::http::build_agent(builder, ca_file).map_err(ConfigError::new)?;
        Ok(UreqTransport { agent })
    }
}

impl UreqTransport {
    fn run<S: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<S>,
        watch_read_timeout: Option<Duration>,
    ) -> Result<Incoming, TransportError> {
        let mut configured = self.agent.configure_request(request);
        if let Some(per_read) = watch_read_timeout {
            configured = configured
                .timeout_global(None)
                .timeout_per_read(Some(per_read));
        }
        let response = self
            .agent
            .run(configured.build())
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        Ok(Incoming {
            status,
            retry_after: header("retry-after"),
            location: header("location"),
            body: Box::new(response.into_body().into_reader()),
        })
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: &Outgoing) -> Result<Incoming, TransportError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(&request.url);
        if let Some(token) = &request.bearer {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let unbuildable = |err: ureq::http::Error| {
            TransportError::Other(format!("cannot build the request: {err}"))
        };
        match &request.body {
            Some((content_type, bytes)) => {
                let http_request = builder
                    .header("Content-Type", *content_type)
                    .body(bytes.as_slice())
                    .map_err(unbuildable)?;
                self.run(http_request, request.watch_read_timeout)
            }
            None => {
                let http_request = builder.body(()).map_err(unbuildable)?;
                self.run(http_request, request.watch_read_timeout)
            }
        }
    }

    fn shutdown(&self) {
        self.agent.clone().shutdown();
    }
}

pub(crate) fn transport_error(err: ureq::Error) -> TransportError {
    match err {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            TransportError::Timeout
        }
        other => TransportError::Other(other.to_string()),
    }
}

/// An io::Error from a body read, which may wrap a ureq timeout.
pub(crate) fn read_error(err: std::io::Error) -> TransportError {
    transport_error(ureq::Error::from(err))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ca_file_without_certificates_names_the_path() {
        let dir = std::env::temp_dir().join(format!("memhpa-kube-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let text = dir.join("text.pem");
        std::fs::write(&text, "not a certificate\n").expect("write");
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        for path in [text, garbage, dir.join("absent.pem")] {
            let err = UreqTransport::new(Duration::from_secs(1), Some(&path))
                .err()
                .expect("bad CA file");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_of_a_request_hides_the_token() {
        let request = Outgoing {
            method: "GET",
            url: "https://api.test/api".into(),
            bearer: Some("sekret-token-value".into()),
            body: None,
            watch_read_timeout: None,
        };
        let text = format!("{request:?}");
        assert!(!text.contains("sekret-token-value"), "{text}");
        assert!(text.contains("(redacted)"), "{text}");
    }

    #[test]
    fn io_timeouts_are_timeouts() {
        let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert_eq!(read_error(err), TransportError::Timeout);
        let err = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut");
        assert!(matches!(read_error(err), TransportError::Other(_)));
    }
}
