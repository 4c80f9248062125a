//! Where the API server is and how to authenticate to it: in-cluster from the
//! service-account directory, or given by flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;

/// The directory the kubelet mounts into every pod with a service account.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Timeout of every request but a watch, unless the caller chooses another.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the API server.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeConfig {
    /// `https://host:port` or, for `kubectl proxy`, `http://127.0.0.1:8001`.
    pub base_url: String,
    /// A bearer token file, re-read every minute and after a 401.
    pub token_file: Option<PathBuf>,
    /// A PEM bundle of the CAs that may sign the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Timeout of every request but a watch.
    pub request_timeout: Duration,
    /// `-allow-insecure-http`: send the token over plain http to a host that
    /// is not loopback. Off, such a configuration is refused.
    pub allow_insecure_http: bool,
}

impl KubeConfig {
    /// Out of cluster: the base URL alone, with no token and the system roots.
    pub fn new(base_url: &str) -> KubeConfig {
        KubeConfig {
            base_url: base_url.to_string(),
            token_file: None,
            ca_file: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allow_insecure_http: false,
        }
    }

    /// Whether the bearer token would cross the network in clear: a token
    /// file and a plain-http URL to a host that is not loopback.
    pub fn sends_token_in_clear(&self) -> bool {
        crate::http::sends_token_in_clear(self.token_file.is_some(), &self.base_url)
    }

    /// In-cluster: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service-account dir.
    pub fn in_cluster() -> Result<KubeConfig, ConfigError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let port = std::env::var("KUBERNETES_SERVICE_PORT").ok();
        KubeConfig::in_cluster_from(
            Path::new(SERVICE_ACCOUNT_DIR),
            host.as_deref(),
            port.as_deref(),
        )
    }

    /// Same, with the directory and env values given (testable). The token
    /// file must hold a token now; the CA file must exist.
    pub fn in_cluster_from(
        dir: &Path,
        host: Option<&str>,
        port: Option<&str>,
    ) -> Result<KubeConfig, ConfigError> {
        let host = required_env("KUBERNETES_SERVICE_HOST", host)?;
        let port = required_env("KUBERNETES_SERVICE_PORT", port)?;
        if port.parse::<u16>().map_or(true, |port| port == 0) {
            return Err(config(format!(
                "KUBERNETES_SERVICE_PORT {port:?} is not a port number"
            )));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || "/?#@[]".contains(c))
        {
            return Err(config(format!(
                "KUBERNETES_SERVICE_HOST {host:?} is not a host name or address"
            )));
        }
        // An IPv6 service address needs brackets in a URL.
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let token_file = dir.join("token");
        super::token::read_token(&token_file)?;
        let ca_file = dir.join("ca.crt");
        if !ca_file.is_file() {
            return Err(config(format!(
                "the in-cluster CA file {} does not exist",
                ca_file.display()
            )));
        }
        Ok(KubeConfig {
            base_url: format!("https://{host}:{port}"),
            token_file: Some(token_file),
            ca_file: Some(ca_file),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allow_insecure_http: false,
        })
    }
}

/// The namespace memhpa runs in, from the service-account directory, if any.
pub fn service_account_namespace(dir: &Path) -> Option<String> {
    let raw = std::fs::read_to_string(dir.join("namespace")).ok()?;
    let namespace = raw.trim();
    (!namespace.is_empty()).then(|| namespace.to_string())
}

fn required_env<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, ConfigError> {
    match value.map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(config(format!(
            "{name} is not set: not running in a cluster? Use -apiserver"
        ))),
    }
}

/// `http(s)://host[:port][/prefix]` without a trailing slash.
pub(crate) fn checked_base_url(raw: &str) -> Result<String, ConfigError> {
    crate::http::checked_base_url("API server", raw).map_err(ConfigError::new)
}

/// Refuses a configuration that would send the token in clear, unless
/// `-allow-insecure-http` accepts it.
pub(crate) fn refuse_token_in_clear(given: &KubeConfig) -> Result<(), ConfigError> {
    crate::http::refuse_token_in_clear(&crate::http::TokenUse {
        token: "the bearer token",
        server: "API server",
        url: &given.base_url,
        has_token: given.token_file.is_some(),
        allow_insecure_http: given.allow_insecure_http,
    })
    .map_err(ConfigError::new)
}

fn config(detail: String) -> ConfigError {
    ConfigError::new(detail)
}

#[cfg(test)]
mod test {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("memhpa-kube-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn service_account(name: &str, token: &str) -> PathBuf {
        let dir = scratch(name);
        std::fs::write(dir.join("token"), token).expect("token");
        std::fs::write(dir.join("ca.crt"), "pem").expect("ca");
        std::fs::write(dir.join("namespace"), "kube-system\n").expect("namespace");
        dir
    }

    #[test]
    fn in_cluster_builds_https_url_and_paths() {
        let dir = service_account("ok", "abc\n");
        let config =
            KubeConfig::in_cluster_from(&dir, Some("10.96.0.1"), Some("443")).expect("config");
        assert_eq!(config.base_url, "https://10.96.0.1:443");
        assert_eq!(config.token_file, Some(dir.join("token")));
        assert_eq!(config.ca_file, Some(dir.join("ca.crt")));
        assert_eq!(
            service_account_namespace(&dir).as_deref(),
            Some("kube-system")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn in_cluster_brackets_ipv6() {
        let dir = service_account("v6", "abc");
        let config =
            KubeConfig::in_cluster_from(&dir, Some("fd00::1"), Some("443")).expect("config");
        assert_eq!(config.base_url, "https://[fd00::1]:443");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn in_cluster_without_env_names_the_variable() {
        let dir = service_account("noenv", "abc");
        let err = KubeConfig::in_cluster_from(&dir, None, Some("443")).expect_err("no host");
        assert!(err.to_string().contains("KUBERNETES_SERVICE_HOST"), "{err}");
        let err = KubeConfig::in_cluster_from(&dir, Some("h"), Some(" ")).expect_err("no port");
        assert!(err.to_string().contains("KUBERNETES_SERVICE_PORT"), "{err}");
        let err =
            KubeConfig::in_cluster_from(&dir, Some("h"), Some("https")).expect_err("bad port");
        assert!(err.to_string().contains("\"https\""), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn in_cluster_with_empty_token_names_the_file() {
        let dir = service_account("empty", " \n");
        let err =
            KubeConfig::in_cluster_from(&dir, Some("h"), Some("443")).expect_err("empty token");
        assert!(
            err.to_string()
                .contains(&dir.join("token").display().to_string()),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn in_cluster_without_ca_names_the_file() {
        let dir = service_account("noca", "abc");
        std::fs::remove_file(dir.join("ca.crt")).expect("rm ca");
        let err = KubeConfig::in_cluster_from(&dir, Some("h"), Some("443")).expect_err("no ca");
        assert!(err.to_string().contains("ca.crt"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn base_url_checks() {
        assert_eq!(
            checked_base_url("http://127.0.0.1:8001/").expect("proxy"),
            "http://127.0.0.1:8001"
        );
        for bad in [
            "127.0.0.1:8001",
            "https://",
            "http:///x",
            "https://h/?a",
            "ftp://h",
        ] {
            let err = checked_base_url(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
