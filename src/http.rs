//! The HTTP plumbing both clients (`kube`, `prom`) stand on: the ureq agent
//! with its TLS roots and resolver, the bearer-token file, and the rules a
//! base URL must keep (its shape, and no token in clear off this machine).
//!
//! It knows nothing of either API: errors come back as the reason alone
//! (naming the file or quoting the URL), and each client wraps them into its
//! own configuration error. It never logs, so a token cannot leak from here.
//!
//! # Name resolution
//! ureq's default resolver enforces the request timeout on a DNS lookup by
//! running it on a fresh thread, and does so for every request, pooled
//! connection or not, even when the host is an IP address that needs no
//! lookup. In a cluster the API server is reached by IP
//! (`KUBERNETES_SERVICE_HOST`), so at a thousand MemHpas that was a thousand
//! threads spawned per tick, about 15% of the controller's CPU. An IP literal
//! is answered here at once; a name still goes through the default resolver
//! and keeps its timeout.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ureq::config::{Config, ConfigBuilder};
use ureq::http::Uri;
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::typestate::AgentScope;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Agent;

/// Longest piece of a URL or a file's start quoted in a message.
const QUOTE_LIMIT: usize = 240;

/// The transport's buffers per connection. ureq's default is 128 KiB each
/// way, allocated whole and kept while the connection is pooled: with a
/// connection per worker to the API server and to Prometheus, plus the
/// watches, that was 2 to 3 MiB of a 15 MiB budget. A response head must fit
/// in the input buffer (the body is read through it in pieces): 32 KiB, where
/// kube-apiserver and Prometheus send under 1 KiB, leaves room for what a
/// proxy adds. A request head (a service-account token is 1 to 2 KiB) fits in
/// the output buffer, and a longer body is written through it in pieces.
pub(crate) const INPUT_BUFFER_BYTES: usize = 32 * 1024;
pub(crate) const OUTPUT_BUFFER_BYTES: usize = 16 * 1024;

/// What every agent of memhpa starts from: a non-2xx status is an answer to
/// decode (not an error), the whole request is bounded by `timeout`, the
/// answer asked for is JSON, and each connection's buffers are small. The
/// caller adds what is its own.
pub(crate) fn agent_builder(timeout: Duration) -> ConfigBuilder<AgentScope> {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .accept("application/json")
        .input_buffer_size(INPUT_BUFFER_BYTES)
        .output_buffer_size(OUTPUT_BUFFER_BYTES)
}

/// The agent of `builder`, trusting the CAs of `ca_file` (else the bundled
/// roots), whose resolver answers IP literals directly.
pub(crate) fn build_agent(
    mut builder: ConfigBuilder<AgentScope>,
    ca_file: Option<&Path>,
) -> Result<Agent, String> {
    if let Some(ca_file) = ca_file {
        builder = builder.tls_config(
            TlsConfig::builder()
                .root_certs(read_ca_file(ca_file)?)
                .build(),
        );
    }
    Ok(agent(builder.build()))
}

/// Every certificate of a PEM bundle (a bundle holds an old and a new CA
/// during rotation); at least one must parse. The error names the path.
pub(crate) fn read_ca_file(path: &Path) -> Result<RootCerts, String> {
    let bad = |why: String| format!("CA file {}: {why}", path.display());
    let pem = std::fs::read(path).map_err(|err| bad(format!("cannot read it: {err}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(err) => return Err(bad(format!("not valid PEM: {err}"))),
        }
    }
    if certs.is_empty() {
        return Err(bad(format!(
            "no PEM certificate in it (it starts with {:?})",
            crate::quote::excerpt(&pem[..pem.len().min(40)], QUOTE_LIMIT)
        )));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// The token in `path`, trimmed. Missing, empty, or not fit for a header: an
/// error that names the path (never the content).
pub(crate) fn read_token(path: &Path) -> Result<String, String> {
    let bad = |why: &str| format!("bearer token file {}: {why}", path.display());
    let raw =
        std::fs::read_to_string(path).map_err(|err| bad(&format!("cannot read it: {err}")))?;
    let token = raw.trim();
    if token.is_empty() {
        return Err(bad("it is empty"));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad("it holds characters not allowed in an HTTP header"));
    }
    Ok(token.to_string())
}

/// What is wrong with the shape of a base URL; each caller words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlProblem {
    /// Not `http://` nor `https://`.
    Scheme,
    /// Nothing between the scheme and the path.
    NoHost,
    /// A query, a fragment, a space or a control character.
    QueryOrSpace,
}

/// What follows the scheme of `url`, once its shape is one every base URL
/// keeps: `http(s)://host[:port][/prefix]`, nothing after the path. The
/// command line checks the host and port further; the clients need no more.
pub(crate) fn base_url_rest(url: &str) -> Result<&str, UrlProblem> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(UrlProblem::Scheme)?;
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(UrlProblem::QueryOrSpace);
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(UrlProblem::NoHost);
    }
    Ok(rest)
}

/// `raw`, trimmed and without a trailing slash, if its shape is right. `what`
/// names the server in the error ("API server", "Prometheus").
pub(crate) fn checked_base_url(what: &str, raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    base_url_rest(trimmed).map_err(|problem| {
        let why = match problem {
            UrlProblem::Scheme => "must start with https:// or http://",
            UrlProblem::NoHost => "has no host",
            UrlProblem::QueryOrSpace => "must not hold a query, a fragment or spaces",
        };
        format!("{what} URL {} {why}", crate::quote::quote(raw, QUOTE_LIMIT))
    })?;
    Ok(trimmed.to_string())
}

/// Who is about to send a bearer token where: the words of the refusal.
pub(crate) struct TokenUse<'a> {
    /// "the bearer token", "the bearer token of -prom-bearer-token-file".
    pub token: &'a str,
    /// "API server", "Prometheus".
    pub server: &'a str,
    pub url: &'a str,
    pub has_token: bool,
    /// `-allow-insecure-http`.
    pub allow_insecure_http: bool,
}

/// Whether `given` would send its token across the network in clear.
pub(crate) fn sends_token_in_clear(has_token: bool, url: &str) -> bool {
    has_token && is_plain_http_off_host(url)
}

/// Refuses a token sent in clear unless `-allow-insecure-http` accepts it.
pub(crate) fn refuse_token_in_clear(given: &TokenUse<'_>) -> Result<(), String> {
    if sends_token_in_clear(given.has_token, given.url) && !given.allow_insecure_http {
        return Err(format!(
            "refusing to send {} in clear: {} URL {} is plain http to a host that is not \
             loopback; use https, or give -allow-insecure-http to accept it",
            given.token,
            given.server,
            crate::quote::quote(given.url, QUOTE_LIMIT)
        ));
    }
    Ok(())
}

/// An agent with `config` whose resolver answers IP literals directly.
pub(crate) fn agent(config: Config) -> Agent {
    Agent::with_parts(config, DefaultConnector::default(), LiteralFirst::default())
}

#[derive(Debug, Default)]
struct LiteralFirst {
    names: DefaultResolver,
}

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal(uri) {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.names.resolve(uri, config, timeout),
        }
    }
}

/// Whether a request to `url` would cross the network in clear: plain http to
/// a host that is not loopback (127.0.0.0/8, ::1, `localhost`). A URL that
/// does not parse counts as crossing it, so a doubt never exposes a token.
pub(crate) fn is_plain_http_off_host(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return true;
    };
    let plain = uri
        .scheme_str()
        .map_or(true, |scheme| !scheme.eq_ignore_ascii_case("https"));
    plain && !uri.host().is_some_and(is_loopback_host)
}

/// 127.0.0.0/8, ::1 (bracketed or not), or `localhost` (RFC 6761). Not a
/// name that merely resolves there: the resolver is not the URL's to trust.
fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = bare.strip_suffix('.').unwrap_or(bare);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

/// The socket address of a URI whose host is an IP address, with the port or
/// the scheme's default.
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let host = uri.host()?;
    let ip: IpAddr = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()?;
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod test {
    use super::*;

    fn lit(uri: &str) -> Option<SocketAddr> {
        literal(&uri.parse().expect("test URI parses"))
    }

    #[test]
    fn ipv4_with_port() {
        assert_eq!(
            lit("http://127.0.0.1:8080/x"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_in_brackets_with_default_port() {
        assert_eq!(
            lit("https://[fd00::1]/"),
            Some("[fd00::1]:443".parse().unwrap())
        );
    }

    #[test]
    fn names_are_left_to_the_default_resolver() {
        assert_eq!(lit("http://prometheus.kube-system:9090/"), None);
    }

    #[test]
    fn base_url_shapes() {
        for (url, want) in [
            ("https://h", Ok("h")),
            ("http://h:1/prefix", Ok("h:1/prefix")),
            ("ftp://h", Err(UrlProblem::Scheme)),
            ("h:8001", Err(UrlProblem::Scheme)),
            ("http://", Err(UrlProblem::NoHost)),
            ("https:///x", Err(UrlProblem::NoHost)),
            ("http://h/?a", Err(UrlProblem::QueryOrSpace)),
            ("http://h#f", Err(UrlProblem::QueryOrSpace)),
            ("http://h x", Err(UrlProblem::QueryOrSpace)),
            ("http://h\u{7}", Err(UrlProblem::QueryOrSpace)),
        ] {
            assert_eq!(base_url_rest(url), want, "{url:?}");
        }
        assert_eq!(
            checked_base_url("Prometheus", " http://p:9090/ ").as_deref(),
            Ok("http://p:9090")
        );
    }

    #[test]
    fn a_hostile_url_is_quoted_bounded() {
        let huge = format!("ftp://{}", "x".repeat(100_000));
        let err = checked_base_url("API server", &huge).expect_err("bad scheme");
        assert!(err.len() < 2 * QUOTE_LIMIT, "{} bytes", err.len());
        assert!(err.starts_with("API server URL \"ftp://x"), "{err}");
        assert!(err.contains("more characters"), "{err}");
    }

    #[test]
    fn a_token_in_clear_is_refused_in_the_clients_words() {
        let mut given = TokenUse {
            token: "the bearer token of -prom-bearer-token-file",
            server: "Prometheus",
            url: "http://10.0.0.5:9090",
            has_token: true,
            allow_insecure_http: false,
        };
        let err = refuse_token_in_clear(&given).expect_err("in clear");
        assert!(
            err.starts_with(
                "refusing to send the bearer token of -prom-bearer-token-file in clear: \
                 Prometheus URL \"http://10.0.0.5:9090\" is plain http"
            ),
            "{err}"
        );
        assert!(err.contains("-allow-insecure-http"), "{err}");
        given.allow_insecure_http = true;
        assert_eq!(refuse_token_in_clear(&given), Ok(()));
        given.allow_insecure_http = false;
        given.has_token = false;
        assert_eq!(refuse_token_in_clear(&given), Ok(()));
        given.has_token = true;
        given.url = "http://127.0.0.1:9090";
        assert_eq!(refuse_token_in_clear(&given), Ok(()));
    }

    #[test]
    fn token_and_ca_errors_name_the_file_not_the_content() {
        // A file of its own in the temp dir, which always exists.
        let token = std::env::temp_dir().join(format!("memhpa-http-{}", std::process::id()));
        std::fs::write(&token, "sekret value\n").expect("write");
        let err = read_token(&token).expect_err("space in token");
        assert!(err.contains(&token.display().to_string()), "{err}");
        assert!(!err.contains("sekret"), "{err}");
        std::fs::write(&token, " sekret\n").expect("write");
        assert_eq!(read_token(&token).as_deref(), Ok("sekret"));
        let err = read_ca_file(&token).expect_err("no certificate");
        assert!(
            err.starts_with(&format!("CA file {}: ", token.display())),
            "{err}"
        );
        let _ = std::fs::remove_file(&token);
    }

    #[test]
    fn loopback_and_https_stay_off_the_wire() {
        for url in [
            "http://127.0.0.1:8001",
            "http://127.9.8.7/prefix",
            "http://[::1]:8001",
            "http://localhost:8001",
            "http://LocalHost.",
            "https://10.0.0.5:6443",
            "HTTPS://api.example.com",
        ] {
            assert!(!is_plain_http_off_host(url), "{url}");
        }
    }

    #[test]
    fn plain_http_elsewhere_crosses_the_wire() {
        for url in [
            "http://10.0.0.5:8080",
            "http://prometheus.kube-system:9090",
            "http://0.0.0.0:8001",
            "http://[::ffff:127.0.0.1]:8001",
            "http://localhost.example.com",
            "http://127.0.0.1@evil.example:80",
            "http://127.0.0.1.nip.io",
            "not a url",
        ] {
            assert!(is_plain_http_off_host(url), "{url}");
        }
    }

    #[test]
    fn an_agent_reaches_a_literal_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            conn.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .expect("answer");
        });
        let config = Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .build();
        let status = agent(config)
            .get(&format!("http://{addr}/"))
            .call()
            .expect("request through the literal resolver")
            .status();
        assert_eq!(status.as_u16(), 204);
        server.join().expect("server thread");
    }

    /// The small buffers still carry a response head of 24 KiB and a request
    /// body of 256 KiB (a Prometheus query for thousands of pods), each in
    /// one request.
    #[test]
    fn the_small_buffers_carry_a_large_head_and_a_large_body() {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().expect("accept");
            conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .expect("timeout");
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("head");
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("length");
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("body");
            let padding = "p".repeat(24 * 1024);
            let answer = format!(
                "HTTP/1.1 200 OK\r\nX-Padding: {padding}\r\nContent-Length: {}\r\n\r\n{}",
                length.to_string().len(),
                length
            );
            (&conn).write_all(answer.as_bytes()).expect("answer");
            body.iter().all(|&b| b == b'q')
        });
        let body = "q".repeat(256 * 1024);
        let mut answer = agent(agent_builder(std::time::Duration::from_secs(10)).build())
            .post(&format!("http://{addr}/"))
            .send(body.as_bytes())
            .expect("a 24 KiB head through a 32 KiB buffer");
        let text = answer.body_mut().read_to_string().expect("body");
        assert_eq!(text, (256 * 1024).to_string(), "the server read it all");
        assert!(
            server.join().expect("server thread"),
            "the body arrived intact"
        );
    }
}
