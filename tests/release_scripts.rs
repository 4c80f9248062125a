//! scripts/arm64-test.sh and scripts/image-test.sh must fail loudly on what
//! they exist to catch. (CI runs them on the real binaries and image; this
//! keeps their refusals from rotting.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_script(script: &str, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts").join(script))
        .args(args)
        .output()
        .expect("bash runs the script")
}

fn refuses(out: &Output, prefix: &str, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the script passed:\n{stderr}");
    assert!(
        stderr.contains(&format!("{prefix}: FAIL")) && stderr.contains(reason),
        "wanted a FAIL naming {reason:?}, got:\n{stderr}"
    );
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

#[test]
fn arm64_test_refuses_an_x86_64_binary_as_the_arm64_one() {
    let me = std::env::current_exe().expect("own path");
    let me = me.to_string_lossy();
    let out = run_script("arm64-test.sh", &[&me, &me]);
    if String::from_utf8_lossy(&out.stderr).contains("file(1) is needed") {
        panic!(
            "file(1) is not installed; the script cannot check the binary (apt-get install file)"
        );
    }
    refuses(&out, "arm64-test", "is not an aarch64 ELF");
}

#[test]
fn arm64_test_refuses_a_missing_binary() {
    let me = std::env::current_exe().expect("own path");
    let out = run_script(
        "arm64-test.sh",
        &[&me.to_string_lossy(), "/nonexistent/memhpa"],
    );
    refuses(&out, "arm64-test", "no such executable");
}

#[test]
fn arm64_test_fails_when_the_outputs_differ() {
    // The arm64 binary is a release cross build, which CI makes before the
    // tests; elsewhere this runs once `make static ARCH=arm64` has.
    let arm = root().join("target/aarch64-unknown-linux-musl/release/memhpa");
    let qemu = Command::new("sh")
        .args(["-c", "command -v qemu-aarch64-static"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !arm.is_file() || !qemu {
        assert!(
            !in_ci(),
            "CI=true but {} or qemu-aarch64-static is missing",
            arm.display()
        );
        println!("no arm64 build or no qemu here; skipping");
        return;
    }
    // A stand-in "x86_64 binary" whose -version is not memhpa's.
    let dir = std::env::temp_dir().join(format!("memhpa-arm64-differs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let other = dir.join("memhpa");
    std::fs::write(&other, "#!/bin/sh\necho memhpa 0.0.0-other\n").expect("stand-in");
    let chmod = Command::new("chmod").arg("+x").arg(&other).status();
    assert!(chmod.is_ok_and(|s| s.success()));
    let out = run_script(
        "arm64-test.sh",
        &[&other.to_string_lossy(), &arm.to_string_lossy()],
    );
    let _ = std::fs::remove_dir_all(&dir);
    refuses(&out, "arm64-test", "'memhpa -version' differs");
}

#[test]
fn image_test_refuses_an_image_that_is_not_there() {
    let out = run_script("image-test.sh", &["memhpa-no-such-image:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("buildah is needed") {
        assert!(!in_ci(), "CI=true but buildah is not installed");
        refuses(&out, "image-test", "buildah is needed");
        return;
    }
    refuses(&out, "image-test", "no image memhpa-no-such-image:0");
}
