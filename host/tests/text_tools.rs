//! The text tools as a user types them: on workspace files and on tool output in pipes, with
//! `bash` and GNU's tools as the oracle on the same tree on disk (issue 14; the tools' own
//! flag-by-flag comparison with GNU is in `host/src/textutil.rs`).

mod common;

use std::process::Command;

use common::{text, Sandbox};

const SCRIPT: &str = r#"grep -rn fn . | sort
find . -name '*.rs' | sort | wc -l
grep -c main src/main.rs src/lib.rs; echo "grep status $?"
grep -q nothing-like-this src/main.rs; echo "no match status $?"
cat notes.txt | tr a-z A-Z | sort | uniq -c | sort -rn | head -n 2
sort -t, -k2 -n data.csv | cut -d, -f1 | tail -n 2
sed 's/fn \([a-z_]*\)/FN<\1>/' src/lib.rs
seq 3 | xargs echo got
basename src/main.rs .rs; dirname src/main.rs
diff src/main.rs src/lib.rs > /dev/null; echo "diff status $?"
printf 'b\na\nb\n' | tee copy.txt | sort -u; cat copy.txt
"#;

#[test]
fn text_tools_in_pipes_match_bash_and_gnu() {
    let sandbox = Sandbox::new();
    let tree = sandbox.path().join("proj");
    std::fs::create_dir_all(tree.join("src")).unwrap();
    std::fs::write(tree.join("src/main.rs"), "fn main() {\n    helper();\n}\n\nfn helper() {}\n").unwrap();
    std::fs::write(tree.join("src/lib.rs"), "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\nfn main_like() {}\n").unwrap();
    std::fs::write(tree.join("notes.txt"), "apple\nbanana\napple\ncherry\napple\nbanana\n").unwrap();
    std::fs::write(tree.join("data.csv"), "x,10\ny,2\nz,33\nw,7\n").unwrap();

    let imported = sandbox.run(&["-c", &format!("import {} /proj", tree.display())]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let ours = sandbox.run(&["-c", &format!("cd /proj\n{SCRIPT}")]);
    // bash gets its own copy, so `tee` writes there.
    let copy = sandbox.path().join("bash-proj");
    assert!(Command::new("cp").arg("-r").arg(&tree).arg(&copy).status().unwrap().success());
    let bash = Command::new("bash").arg("-c").arg(SCRIPT).current_dir(&copy).env("LC_ALL", "C").output().unwrap();
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    assert_eq!(text(&ours.stdout), text(&bash.stdout), "devshell stderr: {}", text(&ours.stderr));
}

#[test]
fn text_tools_read_tool_output_and_lazy_build_output() {
    let sandbox = Sandbox::new();
    let script = "cargo new --vcs none app 2>&1 | grep -c Creating; cd app; cargo build 2>&1 | grep -o 'Compiling app'; \
                  find target -name app -type f | head -n 1";
    let output = sandbox.command(sandbox.path()).args(["-c", script]).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    assert_eq!(text(&output.stdout), "1\nCompiling app\ntarget/debug/app\n", "{}", text(&output.stderr));
}
