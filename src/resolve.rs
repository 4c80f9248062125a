//! Name resolution for our HTTP agents without a thread per request.
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
