//! The bearer token: read from its file, kept for a minute, read again at once
//! after a 401. The kubelet rotates projected service-account tokens in place,
//! so a token read once at start would expire under a long-running controller.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ConfigError;

/// How long a token read from its file is used before the file is read again.
pub const TOKEN_REREAD_INTERVAL: Duration = Duration::from_secs(60);

/// The token of one client; shared by its threads.
pub(crate) struct TokenSource {
    path: Option<PathBuf>,
    cached: Mutex<Option<(String, Instant)>>,
}

/// The path only: a token must not reach a log through a `{:?}`.
impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Reads the file once now, so a bad path fails at start-up.
    pub(crate) fn new(path: Option<PathBuf>, now: Instant) -> Result<TokenSource, ConfigError> {
        let cached = match &path {
            Some(path) => Some((read_token(path)?, now)),
            None => None,
        };
        Ok(TokenSource {
            path,
            cached: Mutex::new(cached),
        })
    }

    /// The token to send, re-read when the cached one is older than a minute.
    /// `None` when no token file is configured (e.g. `kubectl proxy`).
    pub(crate) fn current(&self, now: Instant) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let mut cached = crate::shutdown::lock(&self.cached);
        if let Some((token, read_at)) = cached.as_ref() {
            if now.saturating_duration_since(*read_at) < TOKEN_REREAD_INTERVAL {
                return Ok(Some(token.clone()));
            }
        }
        let token = read_token(path)?;
        *cached = Some((token.clone(), now));
        Ok(Some(token))
    }

    /// After a 401: reads the file again. `Some` only when the token changed, so
    /// a request is retried only when the retry can succeed.
    pub(crate) fn refresh_after_unauthorized(
        &self,
        rejected: Option<&str>,
        now: Instant,
    ) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let token = read_token(path)?;
        let mut cached = crate::shutdown::lock(&self.cached);
        *cached = Some((token.clone(), now));
        Ok((Some(token.as_str()) != rejected).then_some(token))
    }
}

/// The token in `path`, trimmed; the rules are the shared ones of
/// [`crate::http::read_token`].
pub(crate) fn read_token(path: &Path) -> Result<String, ConfigError> {
    crate::http::read_token(path).map_err(ConfigError::new)
}

/// A file `name` holding `content` in this process' scratch directory, for
/// the tests of the token and of the client (names differ between tests).
#[cfg(test)]
pub(crate) fn token_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memhpa-kube-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn cached_for_a_minute_then_reread() {
        let path = token_file("minute", "one\n");
        let start = Instant::now();
        let source = TokenSource::new(Some(path.clone()), start).expect("source");
        std::fs::write(&path, "two").expect("rotate");
        let early = source
            .current(start + Duration::from_secs(59))
            .expect("early");
        assert_eq!(early.as_deref(), Some("one"));
        let late = source
            .current(start + Duration::from_secs(60))
            .expect("late");
        assert_eq!(late.as_deref(), Some("two"));
    }

    #[test]
    fn refresh_after_401_reports_only_a_changed_token() {
        let path = token_file("refresh", "one");
        let now = Instant::now();
        let source = TokenSource::new(Some(path.clone()), now).expect("source");
        assert_eq!(
            source
                .refresh_after_unauthorized(Some("one"), now)
                .expect("same"),
            None
        );
        std::fs::write(&path, "two").expect("rotate");
        assert_eq!(
            source
                .refresh_after_unauthorized(Some("one"), now)
                .expect("new")
                .as_deref(),
            Some("two")
        );
        assert_eq!(source.current(now).expect("now").as_deref(), Some("two"));
    }

    #[test]
    fn debug_shows_the_path_not_the_token() {
        let path = token_file("debug", "sekret-token-value");
        let source = TokenSource::new(Some(path.clone()), Instant::now()).expect("source");
        let text = format!("{source:?}");
        assert!(!text.contains("sekret-token-value"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn no_file_means_no_token() {
        let source = TokenSource::new(None, Instant::now()).expect("source");
        assert_eq!(source.current(Instant::now()).expect("none"), None);
    }

    #[test]
    fn missing_empty_or_binary_file_names_the_path() {
        let empty = token_file("empty", "\n\n");
        let binary = token_file("binary", "a b");
        let missing = empty.with_file_name("absent");
        for path in [empty, binary, missing] {
            let err = read_token(&path).expect_err("bad token");
            assert!(
                matches!(&err, ConfigError { detail } if detail.contains(&path.display().to_string())),
                "{err}"
            );
        }
    }
}
