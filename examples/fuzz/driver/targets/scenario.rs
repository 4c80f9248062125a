//! Scenario files for `memhpa simulate`, run end to end through
//! [`memhpa::simulate::run`] from a file, as the command runs them. A bad
//! file is a scenario error that names the field, never a panic or an I/O
//! error; a good one gives a timeline whose JSON lines are each JSON.

use std::fs;
use std::path::PathBuf;

use memhpa::simulate::{self, SimulateError, EXAMPLE};

use super::super::rng::Rng;
use super::message_ok;
use crate::driver::engine::Target;

pub struct ScenarioFile {
    dir: PathBuf,
}

/// Pods with containers, phases and deletion; behavior with both directions.
const PODS: &str = r#"{"spec": {"minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 50, "basis": "requests", "container": "app",
  "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
  "behavior": {"scaleUp": {"selectPolicy": "Max", "stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
               "scaleDown": {"selectPolicy": "Disabled"}}},
 "replicas": 3, "requestBytes": 1000,
 "steps": [
  {"t": 0, "pods": [{"name": "a", "usageBytes": 900, "limitBytes": 1000},
                    {"name": "b", "usageBytes": null, "phase": "Pending"},
                    {"name": "c", "deleted": true, "containers": [{"name": "app", "usageBytes": 5, "requestBytes": 10}, {"name": "side", "usageBytes": 1}]}]},
  {"t": 60, "totalBytes": 5000},
  {"t": 120, "pods": []}]}"#;

impl ScenarioFile {
    pub fn new() -> ScenarioFile {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/fuzz-work")
            .join(std::process::id().to_string());
        ScenarioFile { dir }
    }
}

impl Target for ScenarioFile {
    fn name(&self) -> &'static str {
        "scenario"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        vec![
            EXAMPLE.as_bytes().to_vec(),
            PODS.as_bytes().to_vec(),
            br#"{"spec": {"maxReplicas": 1}, "replicas": 0, "steps": []}"#.to_vec(),
        ]
    }

    fn check(&mut self, input: &[u8], rng: &mut Rng) -> Result<(), String> {
        fs::create_dir_all(&self.dir).map_err(|e| format!("scratch dir: {e}"))?;
        let file = self.dir.join("scenario.json");
        fs::write(&file, input).map_err(|e| format!("scratch file: {e}"))?;
        let json = rng.one_in(2);
        let svg = rng.one_in(4).then(|| self.dir.join("chart.svg"));
        // Both table forms, with no draw of its own: the seeded stream stays as it was.
        let all = svg.is_some();
        let mut out = Vec::new();
        match simulate::run(Some(&file), json, all, svg.as_deref(), &mut out) {
            Ok(()) if json => json_lines(&out),
            Ok(()) if out.is_empty() => Err("scenario: a good scenario printed nothing".into()),
            Ok(()) => Ok(()),
            Err(err @ SimulateError::Scenario(_)) => message_ok("scenario", &err),
            Err(err) => Err(format!("scenario: not a scenario error: {err}")),
        }
    }
}

fn json_lines(out: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(out).map_err(|e| format!("scenario: output not UTF-8: {e}"))?;
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .map_err(|e| format!("scenario: output line is not JSON ({e}): {line}"))?;
    }
    Ok(())
}
