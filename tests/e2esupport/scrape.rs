//! Reading memhpa's `/metrics`, `/readyz` and `/healthz`, picking samples out
//! of the exposition text, and checking it with `promtool check metrics`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `GET http://ADDR{path}`: the status and body, or `None` when nothing
/// answered (not listening yet, or gone).
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .proxy(None)
        .build()
        .new_agent();
    let mut response = agent.get(&format!("http://{addr}{path}")).call().ok()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().ok()?;
    Some((status, body))
}

/// The `/metrics` text, if it answered 200.
pub fn metrics(addr: SocketAddr) -> Option<String> {
    match get(addr, "/metrics")? {
        (200, body) => Some(body),
        _ => None,
    }
}

/// The value of the sample spelled exactly `series` (`name` or
/// `name{a="b"}` with the labels in the order memhpa writes them).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

/// The sum of every sample of the family `name` (any labels).
pub fn family_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let family = series.split('{').next()?;
            (family == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// promtool from Debian's prometheus package: on PATH, else /usr/bin.
pub fn find_promtool() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("promtool"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/promtool")])
        .find(|candidate| candidate.is_file())
}

/// `promtool check metrics` on `text`: `Ok(true)` when it passed, `Ok(false)`
/// when promtool is absent outside CI (skipped), `Err(output)` when it failed.
/// Under CI=true a missing promtool fails.
pub fn promtool_check(text: &str) -> Result<bool, String> {
    let Some(promtool) = find_promtool() else {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "promtool is not installed and CI=true: install Debian's prometheus package"
        );
        println!("promtool not installed; skipping the exposition check");
        return Ok(false);
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot feed promtool: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("promtool did not finish: {e}"))?;
    if out.status.success() {
        Ok(true)
    } else {
        Err(format!(
            "promtool check metrics failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
