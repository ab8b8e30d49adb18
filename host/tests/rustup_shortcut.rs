//! The rustup shortcut against the real rustup: with a rustup home of two fake toolchains, a
//! routed `cargo` runs the default toolchain's binary directly, with the very environment the
//! proxy gives it; every other way of naming a toolchain still goes through the proxy.

mod common;

use std::path::{Path, PathBuf};

use common::{text, Sandbox};

/// A rustup home with toolchains `tc-one` (the default) and `tc-two`, whose `cargo` prints the
/// toolchain's name, its arguments and its sorted environment; and a cargo home whose `cargo`
/// is a proxy to the real rustup.
struct FakeRustup {
    root: PathBuf,
}

impl FakeRustup {
    fn new(sandbox: &Sandbox, rustup: &Path) -> FakeRustup {
        let root = sandbox.path().join("rust");
        for toolchain in ["tc-one", "tc-two"] {
            let bin = root.join("rustup/toolchains").join(toolchain).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            // TMPDIR is each session's own private dir: the one variable that differs by design.
            let script = format!("#!/bin/sh\necho \"{toolchain} $*\"\nenv | grep -v '^TMPDIR=' | LC_ALL=C sort\n");
            std::fs::write(bin.join("cargo"), script).unwrap();
            let mut permissions = std::fs::metadata(bin.join("cargo")).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            std::fs::set_permissions(bin.join("cargo"), permissions).unwrap();
        }
        std::fs::write(
            root.join("rustup/settings.toml"),
            "version = \"12\"\ndefault_toolchain = \"tc-one\"\nprofile = \"default\"\n\n[overrides]\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("cargo/bin")).unwrap();
        std::os::unix::fs::symlink(rustup, root.join("cargo/bin/rustup")).unwrap();
        std::os::unix::fs::symlink("rustup", root.join("cargo/bin/cargo")).unwrap();
        FakeRustup { root }
    }

    /// `devshell -c script` seeing only this rustup; returns (stdout, stderr).
    fn run(&self, sandbox: &Sandbox, script: &str, extra_env: &[(&str, &str)]) -> (String, String) {
        let output = sandbox
            .command(sandbox.path())
            .args(["-c", script])
            .env("PATH", format!("{}:/usr/bin:/bin", self.root.join("cargo/bin").display()))
            .env("RUSTUP_HOME", self.root.join("rustup"))
            .env("CARGO_HOME", self.root.join("cargo"))
            .env("RUSTUP_AUTO_INSTALL", "0")
            .env("DEVSHELL_LOG", "devshell=debug")
            .env_remove("RUSTUP_TOOLCHAIN")
            .envs(extra_env.iter().copied())
            .output()
            .unwrap();
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{script}: {stdout}\n{stderr}");
        (stdout, stderr)
    }
}

/// A sandbox with a [`FakeRustup`] driven by the real rustup; `None` (said on stderr) without one.
fn sandbox_with_fake_rustup() -> Option<(Sandbox, FakeRustup)> {
    let path = std::env::var_os("PATH")?;
    let rustup = std::env::split_paths(&path).map(|dir| dir.join("rustup")).find(|p| p.is_file());
    let Some(rustup) = rustup.and_then(|p| p.canonicalize().ok()) else {
        eprintln!("SKIPPED: no rustup on PATH, so there is no proxy to compare against");
        return None;
    };
    let sandbox = Sandbox::new();
    let fake = FakeRustup::new(&sandbox, &rustup);
    Some((sandbox, fake))
}

/// Which program devshell started for the tool, from its debug log.
fn spawned(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|line| line.split("program=").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no spawn logged in:\n{stderr}"))
}

/// Run `script` with the shortcut and without it: the tool must see the same arguments and
/// environment either way. Returns the output and the program the shortcut run started.
fn same_both_ways(fake: &FakeRustup, sandbox: &Sandbox, script: &str, env: &[(&str, &str)]) -> (String, String) {
    let (direct, log) = fake.run(sandbox, script, env);
    let program = spawned(&log);
    let proxy_off: Vec<(&str, &str)> = env.iter().copied().chain([("DEVSHELL_RUSTUP_SHORTCUT", "0")]).collect();
    let (proxied, log) = fake.run(sandbox, script, &proxy_off);
    // The proxy runs as the file the grant resolved to (rustup itself), named `cargo`.
    assert!(spawned(&log).ends_with("bin/rustup"), "proxy not used with the shortcut off:\n{log}");
    assert_eq!(direct, proxied, "{script}: the tool must see exactly what the proxy gives it");
    (direct, program)
}

#[test]
fn default_toolchain_runs_directly_with_the_proxys_environment() {
    let Some((sandbox, fake)) = sandbox_with_fake_rustup() else { return };

    let (out, program) = same_both_ways(&fake, &sandbox, "cargo --version", &[]);
    assert!(program.ends_with("toolchains/tc-one/bin/cargo"), "shortcut not taken: {program}");
    assert!(out.starts_with("tc-one --version\n"), "{out}");
    assert!(out.contains("RUSTUP_TOOLCHAIN=tc-one\n"), "{out}");

    // The host's RUSTUP_TOOLCHAIN naming an installed toolchain is just as plain.
    let (out, program) = same_both_ways(&fake, &sandbox, "cargo y", &[("RUSTUP_TOOLCHAIN", "tc-two")]);
    assert!(program.ends_with("toolchains/tc-two/bin/cargo"), "shortcut not taken: {program}");
    assert!(out.starts_with("tc-two y\n") && out.contains("RUSTUP_TOOLCHAIN_SOURCE=env\n"), "{out}");
}

#[test]
fn other_toolchain_choices_go_through_the_proxy() {
    let Some((sandbox, fake)) = sandbox_with_fake_rustup() else { return };

    let (out, log) = fake.run(&sandbox, "cargo +tc-two build", &[]);
    assert!(out.starts_with("tc-two build\n"), "{out}");
    assert!(spawned(&log).ends_with("bin/rustup"), "{log}");

    let file = "mkdir /p; printf '[toolchain]\\nchannel = \"tc-two\"\\n' > /p/rust-toolchain.toml; cd /p; cargo x";
    let (out, log) = fake.run(&sandbox, file, &[]);
    assert!(out.starts_with("tc-two x\n"), "{out}");
    assert!(out.contains("RUSTUP_TOOLCHAIN_SOURCE=toolchain-file\n"), "{out}");
    assert!(spawned(&log).ends_with("bin/rustup"), "{log}");

    // Back to plain: the toolchain file is gone from the workspace, and so from the staging dir.
    let (out, log) = fake.run(&sandbox, "rm /p/rust-toolchain.toml; cd /p; cargo z", &[]);
    assert!(out.starts_with("tc-one z\n"), "{out}");
    assert!(spawned(&log).ends_with("toolchains/tc-one/bin/cargo"), "{log}");
}
