//! Real cargo through devshell and the host-sandbox backend, offline: new, build, run, test,
//! edit and rebuild, clean, restart with the incremental build preserved.

mod common;

use common::{text, Sandbox};

#[test]
fn cargo_new_build_run_test_edit_clean_and_restart() {
    let sandbox = Sandbox::new();
    let run = |script: &str| {
        let output =
            sandbox.command(sandbox.path()).args(["-c", script]).env("CARGO_NET_OFFLINE", "true").output().unwrap();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };

    let (status, _, err) = run("mkdir /work; cd /work; cargo new --vcs none hello");
    assert_eq!(status, Some(0), "{err}");
    let (status, out, err) = run("cd /work/hello; cargo build; cargo run; ls");
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, "Hello, world!\nCargo.lock\nCargo.toml\nsrc\ntarget\n", "build output pulled back");
    assert!(err.contains("Compiling hello"), "{err}");

    // The tool runs in the staging dir matching the VFS subdirectory.
    let (status, out, err) = run("cd /work/hello/src; cargo run -q");
    assert_eq!((status, out.as_str()), (Some(0), "Hello, world!\n"), "{err}");

    let edit = r#"cd /work/hello; printf 'fn main() { println!("edited"); }\n#[test]\nfn t() { assert_eq!(1 + 1, 2); }\n' > src/main.rs; cargo run -q; cargo test -q 2>&1 | cat > /test.log; cat /test.log"#;
    let (status, out, err) = run(edit);
    assert_eq!(status, Some(0), "{err}");
    assert!(out.starts_with("edited\n"), "the edit made with a builtin is seen: {out}");
    assert!(out.contains("test result: ok. 1 passed"), "{out}");

    // The program cargo built runs from the workspace by its path, in the backend, with its
    // arguments and exit status; a file that is not executable or not there is refused.
    let workspace_programs = "cd /work/hello; ./target/debug/hello; echo status=$?; cd src; ../target/debug/hello x; \
         echo 'x' > /plain; /plain; echo status=$?; ./missing; echo status=$?";
    let (status, out, err) = run(workspace_programs);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, "edited\nstatus=0\nedited\nstatus=126\nstatus=127\n", "{err}");
    assert!(err.contains("/plain: Permission denied") && err.contains("./missing: No such file"), "{err}");

    // Restart: state and the incremental build survive; nothing is recompiled.
    let (status, _, err) = run("cd /work/hello; cargo build");
    assert_eq!(status, Some(0), "{err}");
    assert!(!err.contains("Compiling"), "second build after restart must compile nothing: {err}");

    let (status, out, err) = run("cd /work/hello; cargo clean; ls; test -e target || echo target-gone");
    assert_eq!(status, Some(0), "{err}");
    assert!(out.ends_with("target-gone\n"), "{out}");

    // A failing tool's status reaches $?.
    let (status, out, _) = run("cd /work/hello; cargo no-such-subcommand; echo status=$?");
    assert_eq!(status, Some(0));
    assert_eq!(out, "status=101\n");
}
