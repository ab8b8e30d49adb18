//! The command line: --help/--version, plugin list/inspect, configuration errors, backends.

mod common;

use common::{text, Sandbox};

#[test]
fn help_and_version_tell_the_truth() {
    let sandbox = Sandbox::new();
    let version = sandbox.run(&["--version"]);
    assert_eq!(text(&version.stdout), format!("devshell {}\n", env!("CARGO_PKG_VERSION")));
    let help = text(&sandbox.run(&["--help"]).stdout);
    for needle in ["-c <COMMAND>", "-f <FILE>", "--state", "--backend", "plugin", "DEVSHELL_VM_BACKEND"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn plugin_list_and_inspect() {
    let sandbox = Sandbox::new();
    let list = text(&sandbox.run(&["plugin", "list"]).stdout);
    assert!(list.contains("host-sandbox 0.1.0 (contract 0.2.0, sync mode only, built-in)"), "{list}");
    assert!(list.contains("mock 0.1.0 (contract 0.2.0, sync and guest modes, built-in)"), "{list}");
    assert!(list.contains("requests: programs [*], dirs [staging], network true"), "{list}");

    let mock = devshell::plugin::builtin::MOCK_PATH;
    let inspect = sandbox.run(&["plugin", "inspect", mock]);
    assert!(inspect.status.success());
    let shown = text(&inspect.stdout);
    assert!(shown.contains("name:         mock") && shown.contains("devshell:backend@0.2.0 (compatible"), "{shown}");
    assert!(shown.contains("modes:        sync and guest modes"), "{shown}");

    let junk = sandbox.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap(); // a valid, empty core module
    let refused = sandbox.run(&["plugin", "inspect", junk.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(
        message.contains("junk.wasm is not a valid devshell backend component")
            && message.contains("core WebAssembly module"),
        "{message}"
    );
}

#[test]
fn third_party_plugins_get_nothing_until_granted() {
    let sandbox = Sandbox::new();
    let config = format!("[plugins.ext]\npath = {:?}\n", devshell::plugin::builtin::MOCK_PATH);
    std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
    let list = text(&sandbox.run(&["plugin", "list"]).stdout);
    assert!(list.contains("granted:  nothing yet; allow what it asks for with `devshell plugin grant ext …`"), "{list}");
    // Printing needs no capability; writing into the staging dir needs the directory grant.
    let run = sandbox.run(&[
        "--backend",
        "ext",
        "-c",
        "cargo print:hi write:made=x; echo status=$?; test -e made || echo not-made; echo shell-alive",
    ]);
    assert_eq!(text(&run.stdout), "hi\nstatus=1\nnot-made\nshell-alive\n");
    assert!(text(&run.stderr).contains("mock: write:made=x:"), "{}", text(&run.stderr));
}

#[test]
fn bad_configuration_values_name_the_variable_and_the_choices() {
    let sandbox = Sandbox::new();
    let cases = [
        ("DEVSHELL_VM_BACKEND", "qemu", "accepted: host (= host-sandbox), auto, host-sandbox, mock"),
        ("DEVSHELL_VM_WORKSPACE_MODE", "mirror", "accepted: sync, guest"),
        ("DEVSHELL_VM_EAGER", "maybe", "accepted: 1/true/yes/on"),
        ("DEVSHELL_VM_EXEC_TIMEOUT_MS", "soon", "whole number of milliseconds"),
        ("DEVSHELL_VM", "sometimes", "accepted: 1/true/yes/on"),
        ("DEVSHELL_RUSTUP_SHORTCUT", "perhaps", "accepted: 1/true/yes/on"),
    ];
    for (var, value, accepted) in cases {
        let output = sandbox.command(sandbox.path()).env(var, value).args(["-c", "echo ran"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{var}={value}");
        let message = text(&output.stderr);
        assert!(message.contains(var) && message.contains(value) && message.contains(accepted), "{var}: {message}");
        assert!(text(&output.stdout).is_empty(), "nothing runs on bad configuration");
    }
    std::fs::write(sandbox.path().join("config.toml"), "backend = 3\n").unwrap();
    let message = text(&sandbox.run(&["-c", "true"]).stderr);
    assert!(message.contains("config.toml"), "{message}");
    std::fs::write(sandbox.path().join("config.toml"), "lazy = [\"target\", \"[unclosed\"]\n").unwrap();
    let output = sandbox.run(&["-c", "echo ran"]);
    let message = text(&output.stderr);
    assert!(message.contains("lazy pattern \"[unclosed\" is not a valid glob"), "{message}");
    assert!(message.contains("config.toml"), "the error names the file: {message}");
    assert!(text(&output.stdout).is_empty(), "nothing runs on a bad glob");
}

#[test]
fn backend_choice_and_session_state() {
    let sandbox = Sandbox::new();
    let shown = text(&sandbox.run(&["--backend", "mock", "-c", "backend; cargo print:from-mock; backend"]).stdout);
    assert!(shown.contains("backend:  mock\nmode:     sync (Mode S)\nstate:    not started"), "lazy start: {shown}");
    assert!(
        shown.contains("from-mock\nbackend:  mock\nversion:  0.1.0\nmode:     sync (Mode S)\nstate:    ready"),
        "{shown}"
    );
    let forced = sandbox
        .command(sandbox.path())
        .env("DEVSHELL_VM", "off")
        .env("DEVSHELL_VM_BACKEND", "mock")
        .args(["-c", "backend"])
        .output()
        .unwrap();
    assert!(text(&forced.stdout).starts_with("backend:  host-sandbox"), "DEVSHELL_VM=off forces the host sandbox");
    let auto =
        sandbox.command(sandbox.path()).env("DEVSHELL_VM_BACKEND", "auto").args(["-c", "backend"]).output().unwrap();
    assert!(text(&auto.stderr).contains("auto: using host-sandbox"), "auto says which it picked");
}

#[test]
fn no_tool_no_runtime_unless_eager() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["-c", "echo hi; mkdir /x; backend"]);
    assert!(text(&run.stdout).contains("state:    not started"));
    assert!(!sandbox.path().join("cache").exists(), "no engine, no compile cache, no staging dir without a tool");
    let eager = sandbox.command(sandbox.path()).env("DEVSHELL_VM_EAGER", "1").args(["-c", "backend"]).output().unwrap();
    assert!(text(&eager.stdout).contains("state:    ready"), "{}", text(&eager.stdout));
    assert!(sandbox.path().join("cache/components").is_dir());
}

#[test]
fn a_config_grant_with_argv_patterns_is_enforced_and_announced() {
    let sandbox = Sandbox::new();
    let config = format!(
        "[plugins.ext]\npath = {:?}\ngrant = {{ programs = [\"echo hello *\"], dirs = [\"staging\"] }}\n",
        devshell::plugin::builtin::MOCK_PATH
    );
    std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
    let run = sandbox.run(&[
        "--backend",
        "ext",
        "-c",
        "cargo write:ok=1 'spawn:echo hello world'; echo $?; cargo 'spawn:echo bye'; echo $?; cat ok",
    ]);
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(out, "hello world\n0\n1\n1", "stderr: {err}");
    assert!(err.contains("devshell: backend `ext` (mock 0.1.0): granted 1 program, 1 dir\n"), "{err}");
    assert!(
        err.contains(
            "devshell: denied: plugin `mock` may spawn `echo` only with arguments matching [hello *], not [bye]"
        ),
        "{err}"
    );
}
