//! The third-party path (issue 13), driven only through the command line as a newcomer would:
//! `plugin new`, a build outside this repository, `install`, a denial naming the grant command,
//! `grant`, a run, `plugin test`, `remove`; every malformed component refused in one line with
//! nothing installed; the built-in backends passing the conformance check.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{text, Sandbox};

fn show(output: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), text(&output.stdout), text(&output.stderr))
}

fn run_in(sandbox: &Sandbox, cwd: &Path, args: &[&str]) -> Output {
    sandbox.command(cwd).args(args).stdin(std::process::Stdio::null()).output().unwrap()
}

#[test]
fn from_plugin_new_to_a_granted_tested_and_removed_backend() {
    let sandbox = Sandbox::new();
    let work = sandbox.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let created = run_in(&sandbox, &work, &["plugin", "new", "nice"]);
    assert!(created.status.success(), "{}", show(&created));
    let again = run_in(&sandbox, &work, &["plugin", "new", "nice"]);
    assert!(!again.status.success() && text(&again.stderr).contains("already exists"), "{}", show(&again));

    // Outside this repository, with plain cargo (only the toolchain of these tests).
    let crate_dir = work.join("nice");
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--release"]).current_dir(&crate_dir);
    for var in ["CARGO_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_MAKEFLAGS"] {
        build.env_remove(var);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "the scaffold does not build: {}", show(&built));
    let wasm = crate_dir.join("target/wasm32-wasip2/release/nice.wasm");

    let installed = run_in(&sandbox, &work, &["plugin", "install", wasm.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", show(&installed));
    let suggested = "devshell plugin grant nice --program 'nice -n 10 **' --dir staging";
    assert!(text(&installed.stdout).contains(suggested), "{}", show(&installed));

    let denied = run_in(&sandbox, &work, &["--backend", "nice", "-c", "cargo --version"]);
    assert!(!denied.status.success(), "{}", show(&denied));
    assert!(text(&denied.stderr).contains("devshell plugin grant nice --"), "{}", show(&denied));

    let granted = run_in(&sandbox, &work, &["plugin", "grant", "nice", "--program", "nice -n 10 **", "--dir", "staging"]);
    assert!(granted.status.success(), "{}", show(&granted));
    let ran = run_in(&sandbox, &work, &["--backend", "nice", "-c", "cargo --version"]);
    assert!(ran.status.success() && text(&ran.stdout).starts_with("cargo "), "{}", show(&ran));

    let tested = run_in(&sandbox, &crate_dir, &["plugin", "test", "nice", "scenarios/basic.toml"]);
    assert!(tested.status.success(), "{}", show(&tested));
    assert!(text(&tested.stdout).contains(" 0 failed"), "{}", show(&tested));

    let removed = run_in(&sandbox, &work, &["plugin", "remove", "nice"]);
    assert!(removed.status.success(), "{}", show(&removed));
    let list = text(&run_in(&sandbox, &work, &["plugin", "list"]).stdout);
    assert!(!list.contains("nice"), "{list}");
    assert!(!sandbox.path().join("plugins/nice").exists());
}

#[test]
fn the_built_in_backends_pass_the_conformance_check() {
    let sandbox = Sandbox::new();
    for name in ["host-sandbox", "mock"] {
        let tested = sandbox.run(&["plugin", "test", name]);
        assert!(tested.status.success(), "{name}: {}", show(&tested));
        assert!(text(&tested.stdout).contains(" 0 failed"), "{name}: {}", show(&tested));
    }
}

/// `bytes` with every occurrence of `from` replaced by `to` (the same length).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut at = 0;
    while let Some(pos) = out[at..].windows(from.len()).position(|w| w == from.as_bytes()) {
        out[at + pos..at + pos + to.len()].copy_from_slice(to.as_bytes());
        at += pos + 1;
    }
    assert_ne!(out, bytes, "{from} not found");
    out
}

#[test]
fn every_malformed_component_is_refused_in_one_line_and_installs_nothing() {
    let sandbox = Sandbox::new();
    let config = sandbox.path().join("config.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    let mock = std::fs::read(devshell::plugin::builtin::MOCK_PATH).unwrap();
    let session = format!("devshell:backend/session@{}", devshell::plugin::CONTRACT_VERSION);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not-wasm", b"#!/bin/sh\necho hi\n".to_vec(), "not a WebAssembly component"),
        ("core-module", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        ("wrong-world", patched(&mock, &session, &session.replace("session", "sessioX")), "exports no `devshell:backend/session`"),
        ("no-manifest", patched(&mock, "devshell-manifest", "devshell-manifesX"), "no `devshell-manifest` custom section"),
        ("truncated", mock[..mock.len() / 2].to_vec(), "not installed"),
        ("major", patched(&mock, &session, &session.replace("@0.", "@1.")), "this devshell loads"),
    ];
    for (name, bytes, expected) in cases {
        let file = sandbox.path().join(format!("{name}.wasm"));
        std::fs::write(&file, bytes).unwrap();
        let output = sandbox.run(&["plugin", "install", file.to_str().unwrap()]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", show(&output));
        assert_eq!(stderr.lines().count(), 1, "{name}: not one line: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n", "{name} changed the config");
        assert!(!sandbox.path().join("plugins").exists(), "{name} stored something");
    }
}
