//! `kubectl apply -k manifests/` must install all of memhpa and nothing else,
//! and the overlay example must override what it says it does. Read line by
//! line (the crate has no YAML parser, and these files are plain block
//! YAML); where kubectl is installed, `kubectl kustomize` builds both for
//! real as well.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use memhpa::cli::{self, Command as Mode};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The items of the top-level block list `key:` (`  - item` lines).
fn list(text: &str, key: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line.trim_end() == format!("{key}:");
            continue;
        }
        if inside {
            if let Some(item) = line.trim_start().strip_prefix("- ") {
                if line.starts_with("  - ") {
                    items.push(item.trim().to_string());
                }
            }
        }
    }
    items
}

/// `(kind, metadata.name)` of every document of a manifest file.
fn objects(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for doc in text.split("\n---") {
        let kind = doc
            .lines()
            .find_map(|l| l.strip_prefix("kind: "))
            .map(str::trim);
        let mut in_metadata = false;
        let mut name = None;
        for line in doc.lines() {
            if !line.starts_with(' ') {
                in_metadata = line.trim_end() == "metadata:";
            } else if in_metadata {
                if let Some(n) = line.strip_prefix("  name: ") {
                    name = Some(n.trim());
                }
            }
        }
        if let (Some(kind), Some(name)) = (kind, name) {
            out.push((kind.to_string(), name.to_string()));
        }
    }
    out
}

/// The value of the first `key: value` line, at any depth.
fn value_of<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}: ");
    text.lines().find_map(|line| {
        let line = line.trim_start().trim_start_matches("- ");
        line.strip_prefix(&prefix).map(str::trim)
    })
}

/// The base Deployment's container args, in order.
fn deployment_args(deployment: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut inside = false;
    for line in deployment.lines() {
        let trimmed = line.trim();
        // kustomize sorts keys, so its args may open the container's item.
        if trimmed.trim_start_matches("- ") == "args:" {
            inside = true;
            continue;
        }
        if inside {
            match trimmed.strip_prefix("- ") {
                Some(arg) if !trimmed.contains(": ") => args.push(arg.to_string()),
                _ => break,
            }
        }
    }
    args
}

fn base() -> String {
    read(&root().join("manifests/kustomization.yaml"))
}

fn overlay_dir() -> PathBuf {
    root().join("examples/kustomize-overlay")
}

#[test]
fn the_base_lists_every_manifest_but_the_demo_and_each_exists() {
    let base = base();
    assert!(base.contains("\nkind: Kustomization\n"), "{base}");
    let listed = list(&base, "resources");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("manifests")).expect("manifests/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            on_disk.insert(name);
        }
    }
    for resource in &listed {
        assert!(
            on_disk.contains(resource),
            "{resource} is listed but missing"
        );
    }
    let left_out: Vec<&String> = on_disk
        .iter()
        .filter(|name| !listed.contains(name))
        .collect();
    assert_eq!(
        left_out,
        ["memhpa-demo.yaml"],
        "only the demo is not part of the install"
    );
}

#[test]
fn the_base_installs_the_crd_the_rbac_and_the_deployment() {
    let mut kinds = BTreeSet::new();
    for resource in list(&base(), "resources") {
        for object in objects(&read(&root().join("manifests").join(&resource))) {
            kinds.insert(object);
        }
    }
    for (kind, name) in [
        ("CustomResourceDefinition", "memhpas.memhpa.io"),
        ("ServiceAccount", "memhpa"),
        ("ClusterRole", "memhpa"),
        ("ClusterRoleBinding", "memhpa"),
        ("Role", "memhpa-leader-election"),
        ("RoleBinding", "memhpa-leader-election"),
        ("Deployment", "memhpa"),
        ("PodDisruptionBudget", "memhpa"),
    ] {
        assert!(
            kinds.contains(&(kind.to_string(), name.to_string())),
            "no {kind} {name} in {kinds:?}"
        );
    }
}

#[test]
fn the_overlay_overrides_the_base_s_image_prometheus_url_and_resources() {
    let overlay = read(&overlay_dir().join("kustomization.yaml"));
    assert_eq!(list(&overlay, "resources"), ["../../manifests"]);
    assert!(overlay_dir()
        .join("../../manifests/kustomization.yaml")
        .is_file());

    // The images entry matches the base's image by name, or it changes nothing.
    let deployment = read(&root().join("manifests/deployment-in-cluster.yaml"));
    let image = value_of(&deployment, "image").expect("the base has an image");
    let image_name = image.split(':').next().unwrap_or_default();
    let images = list(&overlay, "images");
    assert_eq!(images, [format!("name: {image_name}")], "{overlay}");
    assert!(value_of(&overlay, "newName").is_some());

    // The resources patch names the base's Deployment and container.
    let patch = read(&overlay_dir().join("resources.yaml"));
    assert_eq!(value_of(&patch, "kind"), Some("Deployment"));
    assert_eq!(value_of(&patch, "name"), value_of(&deployment, "name"));
    assert!(list(&overlay, "patches").contains(&"path: resources.yaml".to_string()));
    let container = deployment
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .expect("a container");
    assert!(
        patch.contains(&format!("- name: {container}\n")),
        "the patch's container is not the base's {container}"
    );
    assert!(value_of(&patch, "memory").is_some());

    // The appended -prom-url wins over the base's: memhpa, given the base's
    // args and then the overlay's, talks to the overlay's Prometheus.
    let appended = overlay
        .lines()
        .find_map(|l| l.trim().strip_prefix("value: -prom-url="))
        .expect("the overlay appends -prom-url");
    let base_args = deployment_args(&deployment);
    assert!(
        base_args.iter().any(|a| a.starts_with("-prom-url=")),
        "{base_args:?}"
    );
    let mut args: Vec<OsString> = base_args.iter().map(OsString::from).collect();
    args.push(format!("-prom-url={appended}").into());
    match cli::parse(args) {
        Ok(Mode::Run(config)) => assert_eq!(config.prom.base_url, appended),
        other => panic!("the overlay's args do not parse: {other:?}"),
    }
}

#[test]
fn the_base_deployment_s_args_are_memhpa_flags() {
    let deployment = read(&root().join("manifests/deployment-in-cluster.yaml"));
    let args = deployment_args(&deployment);
    assert!(args.len() >= 4, "{args:?}");
    let parsed = cli::parse(args.iter().map(OsString::from).collect());
    assert!(matches!(parsed, Ok(Mode::Run(_))), "{args:?}: {parsed:?}");
}

fn find_kubectl() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    })
}

fn kustomize(kubectl: &Path, dir: &Path) -> String {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kubectl_kustomize_builds_the_base_and_the_overlay() {
    // kubectl is not in Debian's archive at a version with kustomize v4 or
    // later, so this runs only where one is installed; the tests above need
    // none.
    let Some(kubectl) = find_kubectl() else {
        println!("kubectl not installed; the kustomizations were checked line by line only");
        return;
    };
    let base = kustomize(&kubectl, &root().join("manifests"));
    let kinds: BTreeSet<(String, String)> = objects(&base).into_iter().collect();
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(
        !base.contains("namespace: demo"),
        "the demo is not installed"
    );
    let overlay = kustomize(&kubectl, &overlay_dir());
    let overlay_file = read(&overlay_dir().join("kustomization.yaml"));
    let new_name = value_of(&overlay_file, "newName").expect("newName");
    let new_tag = value_of(&overlay_file, "newTag").expect("newTag");
    assert!(
        overlay.contains(&format!("image: {new_name}:{new_tag}\n")),
        "{overlay}"
    );
    let args = deployment_args(&overlay);
    let last_url = args
        .iter()
        .rev()
        .find(|a| a.starts_with("-prom-url="))
        .expect("a -prom-url");
    assert!(
        overlay_file.contains(&format!("value: {last_url}")),
        "{args:?}"
    );
    assert!(overlay.contains("memory: 128Mi"), "{overlay}");
}
