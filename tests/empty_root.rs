//! scripts/empty-root-test.sh must fail loudly on a binary that could not run
//! from the scratch image. (CI runs the script on the real static binary; this
//! keeps its refusals from rotting.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn run_script(binary: &str) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/empty-root-test.sh");
    Command::new("bash")
        .arg(script)
        .arg(binary)
        .output()
        .expect("bash runs the script")
}

fn refuses(out: &Output, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the script passed:\n{stderr}");
    assert!(
        stderr.contains("empty-root-test: FAIL") && stderr.contains(reason),
        "wanted a FAIL naming {reason:?}, got:\n{stderr}"
    );
}

#[test]
fn refuses_a_dynamically_linked_binary() {
    // This test binary is an ordinary, dynamically linked build.
    let me = std::env::current_exe().expect("own path");
    let out = run_script(&me.to_string_lossy());
    if String::from_utf8_lossy(&out.stderr).contains("file(1) is needed") {
        panic!("file(1) is not installed; the script cannot check linkage (apt-get install file)");
    }
    refuses(&out, "dynamically linked");
}

#[test]
fn refuses_a_missing_binary() {
    refuses(&run_script("/nonexistent/memhpa"), "no such file");
}
