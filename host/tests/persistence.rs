//! The workspace survives between runs; a damaged state file is refused and kept; kill -9
//! during a save never leaves a broken file; a host project is never modified.

mod common;

use std::time::Duration;

use common::{text, Sandbox};

#[test]
fn workspace_round_trips_between_runs() {
    let sandbox = Sandbox::new();
    let first = sandbox.run(&["-c", "mkdir -p /a/b; echo kept > /a/b/f; chmod +x /a/b/f; cd /a"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = sandbox.run(&["--cwd", "/a", "-c", "pwd; cat b/f; test -x b/f && echo exec"]);
    assert_eq!(text(&second.stdout), "/a\nkept\nexec\n", "{}", text(&second.stderr));
    // A script starts at the root like a fresh shell, whatever the last one did (issue 14).
    let fresh = sandbox.run(&["-c", "pwd"]);
    assert_eq!(text(&fresh.stdout), "/\n");
    let missing = sandbox.run(&["--cwd", "/nowhere", "-c", "pwd"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("--cwd /nowhere: no such directory"), "{}", text(&missing.stderr));
}

#[test]
fn corrupt_or_foreign_state_is_refused_and_left_untouched() {
    let sandbox = Sandbox::new();
    assert!(sandbox.run(&["-c", "echo x > /f"]).status.success());
    let mut bytes = std::fs::read(sandbox.state()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(sandbox.state(), &bytes).unwrap();
    let refused = sandbox.run(&["-c", "echo should-not-run > /g"]);
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(message.contains("corrupt") && message.contains("left untouched"), "{message}");
    assert!(text(&refused.stdout).is_empty());
    assert_eq!(std::fs::read(sandbox.state()).unwrap(), bytes, "the file must stay as it was");

    std::fs::write(sandbox.state(), b"some unrelated file").unwrap();
    let message = text(&sandbox.run(&["-c", "true"]).stderr);
    assert!(message.contains("not a devshell state file"), "{message}");
    assert_eq!(std::fs::read(sandbox.state()).unwrap(), b"some unrelated file");
}

#[test]
fn kill_during_save_leaves_the_old_or_the_new_state() {
    let sandbox = Sandbox::new();
    // A workspace big enough that a save takes a while.
    let big = sandbox.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..200 {
        std::fs::write(big.join(format!("f{i}")), vec![b'x'; 64 * 1024]).unwrap();
    }
    let setup = sandbox.run(&["-c", &format!("import {} /big; echo marker > /marker", big.display())]);
    assert!(setup.status.success(), "{}", text(&setup.stderr));
    for round in 0..6 {
        let mut child = sandbox
            .command(sandbox.path())
            .args(["-c", &format!("echo round{round} > /marker; while true; do save > /dev/null; done")])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 37 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let check = sandbox.run(&["-c", "cat /marker; ls /big | cat > /count"]);
        assert!(check.status.success(), "round {round}: state unreadable after kill: {}", text(&check.stderr));
        let marker = text(&check.stdout);
        assert!(marker == "marker\n" || marker.starts_with("round"), "round {round}: {marker}");
    }
    // A save cut short may leave its temp file, but under a name that says whose it is.
    for entry in std::fs::read_dir(sandbox.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".tmp"), "anonymous temp file {name} left beside the state");
    }
}

#[test]
fn starting_inside_a_host_project_changes_nothing_there() {
    let sandbox = Sandbox::new();
    let project = sandbox.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
    let before = listing(&project);
    let run = sandbox
        .command(&project)
        .args(["-c", "import src /src; echo changed > /src/main.rs; rm -r /src; mkdir /x"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(listing(&project), before);
    assert_eq!(std::fs::read_to_string(project.join("src/main.rs")).unwrap(), "fn main() {}\n");
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().display().to_string()).collect();
    names.sort();
    names
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn entry_points_stdin_dash_e_and_exit_status() {
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command(sandbox.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"echo from-stdin\nexit 4\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(text(&output.stdout), "from-stdin\n", "no prompt when stdin is not a terminal");
    assert_eq!(output.status.code(), Some(4));

    let errexit = sandbox.run(&["-e", "-c", "echo one; false; echo two"]);
    assert_eq!(text(&errexit.stdout), "one\n");
    assert_eq!(errexit.status.code(), Some(1));
    let last = sandbox.run(&["-c", "true; nosuch"]);
    assert_eq!(last.status.code(), Some(127));
    let positional = sandbox.run(&["-c", "echo $# $1", "a", "b"]);
    assert_eq!(text(&positional.stdout), "2 a\n");
}
