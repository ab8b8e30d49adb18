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
