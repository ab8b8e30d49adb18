//! The language with bash as the oracle (issue 14): every case in `tests/oracle/*.sh` runs
//! under `bash -c` in a fresh copy of a fixture tree on disk and under `devshell -c` in a fresh
//! workspace holding the same tree; stdout and the exit status must match.
//!
//! A case devshell deliberately answers differently is listed in [`KNOWN_DIFFERENCES`] with
//! the reason; the test fails if a listed case starts matching too, so the list stays true.
//! `run-in-bash.py` beside the cases documents the fixture for humans and checks that each
//! case is deterministic under bash.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{text, Sandbox};

/// The tree every case starts in (relative path, contents; `None` is an empty directory).
const FIXTURE: &[(&str, Option<&str>)] = &[
    ("src/main.rs", Some("fn main() {\n    println!(\"hello\");\n    helper(2);\n}\n\nfn helper(n: u32) -> u32 {\n    n * 2\n}\n")),
    ("src/lib.rs", Some("pub mod util;\n\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n")),
    ("src/util/mod.rs", Some("pub fn twice(x: i32) -> i32 {\n    x * 2\n}\n")),
    ("README.md", Some("# demo\n\nA demo project.\nTODO: write docs\n")),
    ("notes.txt", Some("apple\nbanana\napple\ncherry\nApple\nbanana\ndate\n")),
    ("data.csv", Some("name,qty\nx,10\ny,2\nz,33\nw,7\n")),
    ("a b.txt", Some("spaced\n")),
    (".hidden", Some("secret\n")),
    ("empty", None),
    ("Cargo.toml", Some("[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")),
];

/// Where the fixture sits in devshell's workspace; each case starts there (`--cwd`).
const WORKSPACE_DIR: &str = "/w";

/// Cases devshell answers differently on purpose: (file:case, why).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "03-command-substitution:substitution-with-case-paren",
        "brush-parser 0.4 ends `$(` at the `)` of a case pattern; a syntax error, nothing runs",
    ),
    (
        "04-arithmetic:division-by-zero-in-double-paren-status",
        "brush-parser 0.4 reads `( ((…)) )` as one arithmetic command, so the error is not inside a subshell",
    ),
    (
        "08-parameter-expansion:default-with-spaces-quoted",
        "brush-parser 0.4 collapses the blanks in a quoted `${u:-a  b}` default to one",
    ),
    ("16-control-flow:for-c-style-empty-parts", "brush-parser 0.4 refuses `for ((;;))`; a syntax error, nothing runs"),
];

/// How long one case may take in either shell before it counts as hung.
const CASE_LIMIT: Duration = Duration::from_secs(20);

struct Case {
    id: String,
    body: String,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read tests/oracle")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&file).unwrap();
        let mut current: Option<(String, Vec<&str>)> = None;
        let finish = |current: Option<(String, Vec<&str>)>, cases: &mut Vec<Case>| {
            if let Some((name, lines)) = current {
                let body = lines.join("\n").trim_end_matches('\n').to_string() + "\n";
                cases.push(Case { id: format!("{stem}:{name}"), body });
            }
        };
        for line in source.split('\n') {
            if let Some(name) = line.strip_prefix("####") {
                finish(current.take(), &mut cases);
                current = Some((name.trim().to_string(), Vec::new()));
            } else if let Some((_, lines)) = &mut current {
                lines.push(line);
            }
        }
        finish(current, &mut cases);
    }
    cases
}

fn build_fixture(root: &Path) {
    for (path, contents) in FIXTURE {
        let path = root.join(path);
        match contents {
            None => std::fs::create_dir_all(&path).unwrap(),
            Some(text) => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
            }
        }
    }
}

/// Run `command` (stdin from /dev/null) to completion or `CASE_LIMIT`; (stdout, status).
fn run_limited(command: &mut Command) -> (String, Option<i32>) {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + CASE_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (text(&reader.join().unwrap()), status)
}

fn bash(body: &str, scratch: &Path) -> (String, Option<i32>) {
    let _ = std::fs::remove_dir_all(scratch);
    build_fixture(scratch);
    run_limited(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", body])
            .current_dir(scratch)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("HOME", "/home/dev"),
    )
}

fn devshell(body: &str, base_state: &Path, case_state: &Path) -> (String, Option<i32>) {
    std::fs::copy(base_state, case_state).unwrap();
    let sandbox_dir = case_state.parent().unwrap();
    run_limited(
        Command::new(env!("CARGO_BIN_EXE_devshell"))
            .args(["--cwd", WORKSPACE_DIR, "-c", body])
            .current_dir(sandbox_dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("HOME", "/home/dev")
            .env("DEVSHELL_STATE", case_state)
            .env("DEVSHELL_CACHE_DIR", sandbox_dir.join("cache"))
            .env("DEVSHELL_CONFIG", sandbox_dir.join("config.toml"))
            .env("XDG_DATA_HOME", sandbox_dir.join("data")),
    )
}

#[test]
fn devshell_matches_bash_on_every_oracle_case() {
    if Command::new("bash").arg("--version").output().is_err() {
        panic!("bash is not installed: the oracle suite needs it (apt-get install bash)");
    }
    let sandbox = Sandbox::new();
    let tree = sandbox.path().join("fixture");
    build_fixture(&tree);
    let imported = sandbox.run(&["-c", &format!("import {} {WORKSPACE_DIR}", tree.display())]);
    assert!(imported.status.success(), "import the fixture: {}", text(&imported.stderr));
    let base_state = sandbox.state();
    let case_state = sandbox.path().join("case-state");
    let scratch = sandbox.path().join("bash-tree");

    let cases = cases();
    assert!(cases.len() >= 300, "the oracle suite shrank to {} cases", cases.len());
    let filter = std::env::var("ORACLE_CASE").ok();
    let mut failures = Vec::new();
    let mut unexpectedly_fine = Vec::new();
    let mut per_file: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for case in cases.iter().filter(|c| filter.as_deref().is_none_or(|f| c.id.contains(f))) {
        let expected = bash(&case.body, &scratch);
        let actual = devshell(&case.body, &base_state, &case_state);
        let file = case.id.split(':').next().unwrap().to_string();
        let tally = per_file.entry(file).or_default();
        tally.1 += 1;
        let known = KNOWN_DIFFERENCES.iter().any(|(id, _)| *id == case.id);
        if expected == actual {
            tally.0 += 1;
            if known {
                unexpectedly_fine.push(case.id.clone());
            }
        } else if !known {
            failures.push(format!(
                "--- {}\n{}--- bash (status {:?}):\n{}--- devshell (status {:?}):\n{}",
                case.id, case.body, expected.1, expected.0, actual.1, actual.0
            ));
        }
    }
    for (file, (passed, total)) in &per_file {
        println!("{file}: {passed}/{total} match bash");
    }
    for (id, why) in KNOWN_DIFFERENCES {
        println!("known difference {id}: {why}");
    }
    assert!(unexpectedly_fine.is_empty(), "listed as known differences but now match bash: {unexpectedly_fine:?}");
    assert!(failures.is_empty(), "{} case(s) differ from bash:\n{}", failures.len(), failures.join("\n"));
}

/// One sandbox with the fixture imported, shared by the property tests' cases.
struct Oracle {
    sandbox: Sandbox,
}

impl Oracle {
    fn new() -> Oracle {
        let sandbox = Sandbox::new();
        let tree = sandbox.path().join("fixture");
        build_fixture(&tree);
        let imported = sandbox.run(&["-c", &format!("import {} {WORKSPACE_DIR}", tree.display())]);
        assert!(imported.status.success(), "import the fixture: {}", text(&imported.stderr));
        Oracle { sandbox }
    }

    /// (bash, devshell) on one script.
    fn both(&self, script: &str) -> ((String, Option<i32>), (String, Option<i32>)) {
        let bash = bash(script, &self.sandbox.path().join("bash-tree"));
        let ours = devshell(script, &self.sandbox.state(), &self.sandbox.path().join("case-state"));
        (bash, ours)
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Field splitting: any value, any common IFS, unquoted, quoted, inside a word, as `$@`
    /// and `$*` — the fields bash makes.
    #[test]
    fn word_splitting_matches_bash(
        value in "[ab :\t*x?]{0,10}",
        ifs in proptest::sample::select(vec!["unset IFS", "IFS=' '", "IFS=:", "IFS=' :'", "IFS=", "IFS=' \t\n'"]),
    ) {
        let script = format!(
            "{ifs}; v='{value}'\nprintf '<%s>' $v; echo\nprintf '<%s>' \"$v\"; echo\nprintf '<%s>' x${{v}}y; echo\n\
             set -- $v; echo $#\nprintf '<%s>' \"$@\"; echo\nprintf '<%s>' \"$*\" $*; echo\n"
        );
        let (bash, ours) = ORACLE.with(|oracle| oracle.both(&script));
        proptest::prop_assert_eq!(ours, bash, "script:\n{}", script);
    }

    /// Brace expansion: lists, nesting by juxtaposition, one-member braces left alone,
    /// sequences with steps.
    #[test]
    fn brace_expansion_matches_bash(
        prefix in "[a-c]{0,2}",
        members in proptest::collection::vec("[a-c]{0,2}", 1..4),
        suffix in "[a-c]{0,2}",
        start in -3i32..12, end in -3i32..12, step in 1i32..4,
    ) {
        let script = format!("echo {prefix}{{{}}}{suffix}\necho x{{{start}..{end}..{step}}}y\n", members.join(","));
        let (bash, ours) = ORACLE.with(|oracle| oracle.both(&script));
        proptest::prop_assert_eq!(ours, bash, "script:\n{}", script);
    }
}

thread_local! {
    static ORACLE: Oracle = Oracle::new();
}
