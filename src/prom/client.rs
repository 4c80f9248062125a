//! The HTTP side: one agent with the timeout and TLS roots, the bearer token, and
//! one POST per planned query.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ureq::Agent;

use super::decode::{decode, Decoded};
use super::error::PromError;
use super::options::PromOptions;
use super::promql::{self, PlannedQuery, DEFAULT_QUERY_TEMPLATE, MAX_FORM_BODY};
use super::usage::{self, Usage};

/// Largest answer read. A few hundred bytes a series gives room for tens of
/// thousands of containers; beyond that the answer is not one we asked for.
const MAX_RESPONSE_BODY: u64 = 64 * 1024 * 1024;

/// A synchronous Prometheus client; cheap to share between worker threads.
pub struct Client {
    agent: Agent,
    query_url: String,
    /// `/api/v1/query_range`, for the replay's history (`range.rs`).
    pub(super) range_url: String,
    template: String,
    window: Duration,
    timeout: Duration,
    bearer_token_file: Option<PathBuf>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("query_url", &self.query_url)
            .field("template", &self.template)
            .field("timeout", &self.timeout)
            .field("bearer_token_file", &self.bearer_token_file)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the options and builds the agent. The CA file is read once here;
    /// the token file is read before every request.
    pub fn new(options: PromOptions) -> Result<Client, PromError> {
        let base =
            crate::http::checked_base_url("Prometheus", &options.base_url).map_err(config)?;
        crate::http::refuse_token_in_clear(&crate::http::TokenUse {
            token: "the bearer token of -prom-bearer-token-file",
            server: "Prometheus",
            url: &options.base_url,
            has_token: options.bearer_token_file.is_some(),
            allow_insecure_http: options.allow_insecure_http,
        })
        .map_err(config)?;
        let template = checked_template(options.query_template)?;
        if options.window.as_millis() == 0 {
            return Err(config("the query window must be at least 1ms".to_string()));
        }
        if options.timeout.is_zero() {
            return Err(config(
                "the Prometheus timeout must be above zero".to_string(),
            ));
        }
        let builder = crate::http::agent_builder(options.timeout);
        Ok(Client {
            agent: crate::http::build_agent(builder, options.ca_file.as_deref()).map_err(config)?,
            query_url: format!("{base}/api/v1/query"),
            range_url: format!("{base}/api/v1/query_range"),
            template,
            window: options.window,
            timeout: options.timeout,
            bearer_token_file: options.bearer_token_file,
        })
    }

    /// The memory of `pods` in `namespace`, by pod and container, from one query
    /// (several only past [`MAX_FORM_BODY`]). No pods: no query, empty usage.
    pub fn pod_usage(&self, namespace: &str, pods: &[String]) -> Result<Usage, PromError> {
        if namespace.is_empty() {
            return Err(config(
                "pod_usage needs a namespace; it was empty".to_string(),
            ));
        }
        let pods: Vec<String> = pods
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if pods.is_empty() {
            return Ok(Usage::empty(namespace));
        }
        let planned = self.plan(namespace, &pods);
        let mut all = Decoded::default();
        for query in &planned {
            let (status, body) = self.post(query)?;
            let decoded = decode(&query.query, status, &body)?;
            for warning in &decoded.warnings {
                log::warn!(
                    "Prometheus warns about the query for namespace {namespace:?}: {warning}"
                );
            }
            all.series.extend(decoded.series);
            all.warnings.extend(decoded.warnings);
        }
        usage::build(
            namespace,
            &pods,
            &query_label(&planned),
            all.series,
            all.warnings,
        )
    }

    /// The PromQL text(s) [`Client::pod_usage`] would send, for tests of the plan.
    #[cfg(test)]
    fn queries(&self, namespace: &str, pods: &[String]) -> Vec<String> {
        self.plan(namespace, pods)
            .into_iter()
            .map(|planned| planned.query)
            .collect()
    }

    fn plan(&self, namespace: &str, pods: &[String]) -> Vec<PlannedQuery> {
        promql::plan(&self.template, namespace, pods, self.window, MAX_FORM_BODY)
    }

    /// The controller's query for the pods of `namespace` that `pod_regex`
    /// matches (RE2, anchored; escaped for the string here): the same template
    /// and window as [`Client::pod_usage`] sends, so a replay reads the series
    /// the controller would have read, `-prom-query` included.
    pub fn usage_query(&self, namespace: &str, pod_regex: &str) -> String {
        promql::render_pattern(
            &self.template,
            namespace,
            pod_regex,
            &promql::window_text(self.window),
        )
    }

    fn post(&self, query: &PlannedQuery) -> Result<(u16, Vec<u8>), PromError> {
        self.post_form(&self.query_url, &query.query, &query.form_body)
    }

    /// One form POST to `url` with the bearer token; `query` names it in errors.
    pub(super) fn post_form(
        &self,
        url: &str,
        query: &str,
        form_body: &str,
    ) -> Result<(u16, Vec<u8>), PromError> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(path) = &self.bearer_token_file {
            let token = crate::http::read_token(path).map_err(config)?;
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request
            .send(form_body)
            .map_err(|err| self.request_error(url, query, err))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .into_with_config()
            .limit(MAX_RESPONSE_BODY)
            .read_to_vec()
            .map_err(|err| self.request_error(url, query, err))?;
        Ok((status, body))
    }

    fn request_error(&self, url: &str, query: &str, err: ureq::Error) -> PromError {
        let (url, query) = (url.to_string(), query.to_string());
        match err {
            ureq::Error::Timeout(_) => PromError::Timeout {
                url,
                query,
                timeout: self.timeout,
            },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                PromError::Timeout {
                    url,
                    query,
                    timeout: self.timeout,
                }
            }
            ureq::Error::BodyExceedsLimit(limit) => PromError::Decode {
                query,
                detail: format!("the answer is larger than {limit} bytes"),
                body: String::new(),
            },
            other => PromError::Transport {
                url,
                query,
                detail: other.to_string(),
            },
        }
    }
}

/// One query as is; several as the first and a count, for error messages.
fn query_label(planned: &[PlannedQuery]) -> String {
    match planned {
        [one] => one.query.clone(),
        [first, rest @ ..] => format!(
            "{} (and {} more queries over the rest of the pods)",
            first.query,
            rest.len()
        ),
        [] => String::new(),
    }
}

fn config(detail: String) -> PromError {
    PromError::Config { detail }
}

fn checked_template(template: Option<String>) -> Result<String, PromError> {
    let Some(template) = template else {
        return Ok(DEFAULT_QUERY_TEMPLATE.to_string());
    };
    if template.trim().is_empty() {
        return Err(config(
            "the query template (-prom-query) is empty".to_string(),
        ));
    }
    // Not fatal: results are still filtered by their namespace and pod labels,
    // but the query then reads far more series than it needs.
    for placeholder in [promql::NAMESPACE_PLACEHOLDER, promql::PODS_PLACEHOLDER] {
        if !template.contains(placeholder) {
            log::warn!("the query template (-prom-query) has no {placeholder}; it will fetch more series than needed");
        }
    }
    Ok(template)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::prom::{Counted, Missing};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    /// One request as the fake server saw it.
    #[derive(Debug)]
    struct Seen {
        request_line: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        }
    }

    /// A server on 127.0.0.1 that answers the given (status, body) pairs in order,
    /// one connection each, and reports what it received. `None` as an answer
    /// holds the connection open without answering (for timeouts).
    fn fake_server(answers: Vec<Option<(u16, String)>>) -> (String, mpsc::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for answer in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Some(seen) = read_request(&stream) else {
                    return;
                };
                let _ = sender.send(seen);
                match answer {
                    Some((status, body)) => write_answer(stream, status, &body),
                    None => thread::sleep(Duration::from_secs(3)),
                }
            }
        });
        (url, receiver)
    }

    fn read_request(stream: &TcpStream) -> Option<Seen> {
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (key, value) = line.split_once(':')?;
            headers.push((key.trim().to_string(), value.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Some(Seen {
            request_line: request_line.trim_end().to_string(),
            headers,
            body: String::from_utf8(body).ok()?,
        })
    }

    fn write_answer(mut stream: TcpStream, status: u16, body: &str) {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    }

    fn client(url: &str) -> Client {
        Client::new(PromOptions {
            base_url: url.to_string(),
            ..PromOptions::default()
        })
        .expect("client")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const TWO_PODS: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"namespace":"demo","pod":"web-1","container":"app"},"value":[1,"83886080"]},
        {"metric":{"namespace":"demo","pod":"web-1","container":"sidecar"},"value":[1,"10485760"]},
        {"metric":{"namespace":"demo","pod":"web-2","container":"app"},"value":[1,"73400320"]},
        {"metric":{"namespace":"demo","pod":"web-2","container":"sidecar"},"value":[1,"NaN"]}]}}"#;

    /// Undoes form encoding, enough to read back the query we sent.
    fn form_decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex"));
                    i += 2;
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn client_can_be_shared_between_worker_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Client>();
    }

    #[test]
    fn posts_one_form_query_and_decodes_the_answer() {
        let (url, seen) = fake_server(vec![Some((200, TWO_PODS.to_string()))]);
        let usage = client(&url)
            .pod_usage("demo", &names(&["web-2", "web-1", "web-1"]))
            .expect("usage");
        let request = seen
            .recv_timeout(Duration::from_secs(5))
            .expect("one request");
        assert_eq!(request.request_line, "POST /api/v1/query HTTP/1.1");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.header("authorization"), None);
        let query = form_decode(
            request
                .body
                .strip_prefix("query=")
                .expect("query= form field"),
        );
        assert_eq!(
            query,
            "max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes\
{namespace=\"demo\",pod=~\"web-1|web-2\",container!=\"\",container!=\"POD\"}[1m]))"
        );
        let both = names(&["app", "sidecar"]);
        assert_eq!(usage.bytes("web-1", Counted::AllOf(&both)), Ok(94371840.0));
        assert!(matches!(
            usage.bytes("web-2", Counted::AllOf(&both)),
            Err(Missing::NotANumber { .. })
        ));
    }

    #[test]
    fn bearer_token_is_trimmed_and_reread_for_each_request() {
        let dir = std::env::temp_dir().join(format!("memhpa-prom-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let token_file = dir.join("token");
        std::fs::write(&token_file, "first-token\n").expect("write token");
        let (url, seen) = fake_server(vec![
            Some((200, TWO_PODS.to_string())),
            Some((200, TWO_PODS.to_string())),
        ]);
        let options = PromOptions {
            base_url: url,
            bearer_token_file: Some(token_file.clone()),
            ..PromOptions::default()
        };
        let client = Client::new(options).expect("client");
        client.pod_usage("demo", &names(&["web-1"])).expect("first");
        std::fs::write(&token_file, "second-token\r\n").expect("rotate token");
        client
            .pod_usage("demo", &names(&["web-1"]))
            .expect("second");
        let first = seen
            .recv_timeout(Duration::from_secs(5))
            .expect("first request");
        let second = seen
            .recv_timeout(Duration::from_secs(5))
            .expect("second request");
        assert_eq!(first.header("authorization"), Some("Bearer first-token"));
        assert_eq!(second.header("authorization"), Some("Bearer second-token"));
        std::fs::write(&token_file, "\n").expect("empty token");
        let err = client
            .pod_usage("demo", &names(&["web-1"]))
            .expect_err("empty token");
        assert!(
            matches!(err, PromError::Config { ref detail } if detail.contains("is empty")),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn path_prefix_of_the_base_url_is_kept() {
        let (url, seen) = fake_server(vec![Some((200, TWO_PODS.to_string()))]);
        client(&format!("{url}/prometheus/"))
            .pod_usage("demo", &names(&["web-1"]))
            .expect("usage");
        let request = seen.recv_timeout(Duration::from_secs(5)).expect("request");
        assert_eq!(
            request.request_line,
            "POST /prometheus/api/v1/query HTTP/1.1"
        );
    }

    #[test]
    fn bad_data_400_is_api_error() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let (url, _seen) = fake_server(vec![Some((400, body.to_string()))]);
        let err = client(&url)
            .pod_usage("demo", &names(&["web-1"]))
            .expect_err("error");
        assert!(
            matches!(err, PromError::Api { status: 400, ref error_type, .. } if error_type == "bad_data"),
            "{err}"
        );
    }

    #[test]
    fn proxy_page_503_is_http_error() {
        let (url, _seen) = fake_server(vec![Some((503, "upstream down".to_string()))]);
        let err = client(&url)
            .pod_usage("demo", &names(&["web-1"]))
            .expect_err("error");
        assert!(
            matches!(err, PromError::Http { status: 503, ref body, .. } if body == "upstream down"),
            "{err}"
        );
    }

    #[test]
    fn silent_server_is_timeout() {
        let (url, _seen) = fake_server(vec![None]);
        let options = PromOptions {
            base_url: url,
            timeout: Duration::from_millis(300),
            ..PromOptions::default()
        };
        let err = Client::new(options)
            .expect("client")
            .pod_usage("demo", &names(&["web-1"]))
            .expect_err("error");
        assert!(matches!(err, PromError::Timeout { .. }), "{err:?}");
        assert!(err.to_string().contains("within 300 ms"), "{err}");
    }

    #[test]
    fn refused_connection_is_transport_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let err = client(&format!("http://127.0.0.1:{port}"))
            .pod_usage("demo", &names(&["a"]))
            .expect_err("error");
        assert!(matches!(err, PromError::Transport { .. }), "{err:?}");
    }

    #[test]
    fn empty_namespace_is_refused_before_any_request() {
        let (url, seen) = fake_server(vec![Some((200, TWO_PODS.to_string()))]);
        let err = client(&url)
            .pod_usage("", &names(&["web-1"]))
            .expect_err("no namespace");
        assert!(matches!(err, PromError::Config { .. }), "{err:?}");
        assert!(
            seen.recv_timeout(Duration::from_millis(200)).is_err(),
            "no request expected"
        );
    }

    #[test]
    fn no_pods_sends_no_query() {
        let (url, seen) = fake_server(vec![Some((500, String::new()))]);
        let usage = client(&url).pod_usage("demo", &[]).expect("empty usage");
        assert_eq!(usage.pods().count(), 0);
        assert!(
            seen.recv_timeout(Duration::from_millis(200)).is_err(),
            "no request expected"
        );
    }

    /// tests/prom_real.rs asks a real Prometheus about these texts, written
    /// out there; this keeps the two the same.
    #[test]
    fn queries_are_the_ones_prom_real_runs() {
        let client = Client::new(PromOptions::default()).expect("client");
        assert_eq!(
            client.queries("demo", &names(&["web-1", "web-2", "web-3"])),
            [
                r#"max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{namespace="demo",pod=~"web-1|web-2|web-3",container!="",container!="POD"}[1m]))"#
            ]
        );
        assert_eq!(
            client.queries("dots", &names(&["web.1"])),
            [
                r#"max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{namespace="dots",pod=~"web\\.1",container!="",container!="POD"}[1m]))"#
            ]
        );
    }

    #[test]
    fn thousands_of_pods_split_and_merge() {
        let pods: Vec<String> = (0..6000)
            .map(|i| format!("a-rather-long-deployment-name-7d9c8b6f5-{i:05}"))
            .collect();
        let answer = |pod: &str| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"pod":"{pod}","container":"app"}},"value":[1,"5"]}}]}}}}"#
            )
        };
        let (url, seen) = fake_server(vec![
            Some((200, answer(&pods[0]))),
            Some((200, answer(&pods[5999]))),
        ]);
        let client = client(&url);
        assert_eq!(client.queries("demo", &pods).len(), 2);
        let usage = client.pod_usage("demo", &pods).expect("usage");
        assert_eq!(usage.container_bytes(&pods[0], "app"), Some(5.0));
        assert_eq!(usage.container_bytes(&pods[5999], "app"), Some(5.0));
        for _ in 0..2 {
            let request = seen.recv_timeout(Duration::from_secs(5)).expect("request");
            assert!(
                request.body.len() <= MAX_FORM_BODY,
                "{}",
                request.body.len()
            );
        }
    }

    #[test]
    fn base_url_must_be_http_with_a_host() {
        for bad in [
            "prometheus:9090",
            "ftp://x",
            "http://",
            "http:///x",
            "http://x/?a=b",
            "http://a b",
        ] {
            let err = Client::new(PromOptions {
                base_url: bad.into(),
                ..PromOptions::default()
            })
            .expect_err(bad);
            assert!(
                matches!(err, PromError::Config { ref detail } if detail.contains(bad)),
                "{bad}: {err}"
            );
        }
        assert!(Client::new(PromOptions {
            base_url: "https://p.monitoring:9091/".into(),
            ..PromOptions::default()
        })
        .is_ok());
    }

    #[test]
    fn blank_template_is_rejected() {
        let options = PromOptions {
            query_template: Some("  ".into()),
            ..PromOptions::default()
        };
        assert!(matches!(
            Client::new(options),
            Err(PromError::Config { .. })
        ));
    }

    #[test]
    fn ca_file_without_certificates_is_rejected() {
        let dir = std::env::temp_dir().join(format!("memhpa-prom-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        for path in [empty, garbage, dir.join("absent.pem")] {
            let options = PromOptions {
                ca_file: Some(path.clone()),
                ..PromOptions::default()
            };
            let err = Client::new(options).expect_err("bad CA file");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
