//! The script suite: every `scripts/NAME.dsh` runs through the real binary (`devshell -f`, with
//! arguments `arg1 "arg two"`), and its stdout, stderr and status must equal `NAME.out`,
//! `NAME.err` (empty if absent) and `NAME.status` (0 if absent).

mod common;

use std::path::Path;

#[test]
fn script_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dsh"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 8, "the suite went missing: {scripts:?}");
    let mut failures = Vec::new();
    for script in &scripts {
        let name = script.file_name().unwrap().to_str().unwrap();
        let expected = |ext: &str| std::fs::read_to_string(script.with_extension(ext)).unwrap_or_default();
        let sandbox = common::Sandbox::new();
        let output = sandbox
            .command(&dir)
            .args(["-f", name, "arg1", "arg two"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let status = output.status.code().unwrap_or(-1).to_string();
        let want_status = expected("status").trim().to_string();
        let want_status = if want_status.is_empty() { "0".to_string() } else { want_status };
        let (out, err) = (common::text(&output.stdout), common::text(&output.stderr));
        if out != expected("out") || err != expected("err") || status != want_status {
            failures.push(format!(
                "{name}: status {status} (want {want_status})\n--- stdout\n{out}--- want\n{}--- stderr\n{err}--- want\n{}",
                expected("out"),
                expected("err")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hostile scripts (from an attack review of the interpreter): each gets a clear error and a
/// status, never a panic or a stack overflow, and what ran before it is saved.
#[test]
fn hostile_scripts_fail_cleanly_and_lose_nothing() {
    let deep_groups = format!("{}echo;{}", "{ ".repeat(5000), " }".repeat(5000));
    let cases: &[(&str, i32, &str)] = &[
        ("f() { :; } <> x; f", 2, "`<>` redirects are not supported"),
        ("f() { echo in; } 3>x; f", 2, "file descriptors above 2"),
        ("echo ~999999999999999999999999", 1, "cannot be parsed"),
        ("echo {1..99999999999999999999}", 0, ""),
        ("f() { ( f ); }; f", 1, "maximum function nesting level exceeded"),
        // The innermost call fails; each `$(…)` is a subshell, so the outer `echo` succeeds.
        ("f() { echo $(f); }; f", 0, "maximum function nesting level exceeded"),
        (&deep_groups, 2, "nested more than 1000 levels deep"),
        ("printf '%.65536f|%2147483648s' 1 x", 1, "precision above"),
        ("mkdir /d; { echo lost; rm -r /d; } > /d/f; echo \"status $?\"", 0, "No such file"),
    ];
    for (script, want_status, want_message) in cases {
        let sandbox = common::Sandbox::new();
        assert!(sandbox.run(&["-c", "echo kept > /before"]).status.success());
        let output = sandbox.run(&["-c", script]);
        let stderr = common::text(&output.stderr);
        let shown: String = script.chars().take(60).collect();
        assert_eq!(output.status.code(), Some(*want_status), "{shown}: stderr {stderr}");
        assert!(stderr.contains(want_message), "{shown}: stderr {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("overflow"), "{shown}: {stderr}");
        let kept = sandbox.run(&["-c", "cat /before"]);
        assert_eq!(common::text(&kept.stdout), "kept\n", "{shown}: the workspace was lost");
    }
    let flushed = common::Sandbox::new().run(&["-c", "mkdir /d; { echo lost; rm -r /d; } > /d/f; echo \"status $?\""]);
    assert_eq!(common::text(&flushed.stdout), "status 1\n", "output that could not be written is a failure");
}
