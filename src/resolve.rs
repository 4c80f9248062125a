//! Name resolution for our HTTP agents without a thread per request, and
//! whether a URL stays on this machine (where plain http exposes no token).
//!
//! ureq's default resolver enforces the request timeout on a DNS lookup by
//! running it on a fresh thread, and does so for every request, pooled
//! connection or not, even when the host is an IP address that needs no
//! lookup. In a cluster the API server is reached by IP
//! (`KUBERNETES_SERVICE_HOST`), so at a thousand MemHpas that was a thousand
//! threads spawned per tick, about 15% of the controller's CPU. An IP literal
//! is answered here at once; a name still goes through the default resolver
//! and keeps its timeout.

use std::net::{IpAddr, SocketAddr};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{config::Config, Agent};

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
}
