//! Mode S sync rules, end to end through a session with the mock backend (a real component):
//! changes both ways, deletions both ways, conflicts, exec bits, symlinks, lazy build output,
//! a vanished staging root, and entries a pull cannot use, which are left out while the rest
//! applies.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use devshell::session::Sessions;
use devshell::shell::{ToolBackend, ToolCall};
use devshell::stdio::ToolStdio;
use devshell::vfs::{Content, NodeKind, Vfs};

struct Fixture {
    _dir: tempfile::TempDir,
    sessions: Sessions,
    vfs: Vfs,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_settings(|_| {})
    }

    fn with_settings(adjust: impl FnOnce(&mut devshell::config::Settings)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = devshell_tests::mock_settings(&dir.path().join("cache"));
        adjust(&mut settings);
        let mut vfs = Vfs::default();
        let sessions = Sessions::new(settings, &dir.path().join("state"), Default::default(), &mut vfs);
        vfs.mkdir_p("/p/src").unwrap();
        vfs.write("/p/src/main.rs", b"fn main() {}\n".to_vec()).unwrap();
        Fixture { _dir: dir, sessions, vfs }
    }

    fn staging(&self) -> PathBuf {
        self.sessions.staging_dir()
    }

    /// Run the mock tool with these ops from workspace dir `/p`.
    fn tool(&mut self, ops: &[&str]) -> (i32, String) {
        let call = ToolCall {
            program: "cargo".into(),
            args: ops.iter().map(|s| s.to_string()).collect(),
            cwd: "p".into(),
            env: vec![],
            stdio: ToolStdio::captured(),
        };
        let result = self.sessions.run_tool(&mut self.vfs, call).expect("tool ran");
        (
            result.status,
            String::from_utf8_lossy(&result.captured.stdout.into_vec().unwrap()).into_owned()
                + &String::from_utf8_lossy(&result.captured.stderr.into_vec().unwrap()),
        )
    }
}

#[test]
fn changes_and_deletions_flow_both_ways() {
    let mut f = Fixture::new();
    let (status, out) = f.tool(&["cat:src/main.rs", "write:new.txt=from tool"]);
    assert_eq!((status, out.as_str()), (0, "fn main() {}\n"), "full push before the first run");
    assert_eq!(f.vfs.read("/p/new.txt").unwrap(), b"from tool", "pulled after the run");

    f.vfs.write("/p/src/main.rs", b"edited\n".to_vec()).unwrap();
    f.vfs.remove("/p/new.txt", false).unwrap();
    let (_, out) = f.tool(&["cat:src/main.rs"]);
    assert_eq!(out, "edited\n", "incremental push of an edit");
    assert!(!f.staging().join("p/new.txt").exists(), "a workspace rm removes the staged file");

    f.tool(&["delete:src"]);
    assert!(!f.vfs.exists("/p/src"), "a tool's delete reaches the workspace");
    assert!(f.vfs.exists("/p"));
}

#[test]
fn a_file_changed_on_both_sides_is_a_conflict_and_nothing_is_lost() {
    let mut f = Fixture::new();
    f.tool(&[]);
    std::fs::write(f.staging().join("p/src/main.rs"), "backend version\n").unwrap();
    f.vfs.write("/p/src/main.rs", b"workspace version\n".to_vec()).unwrap();
    let (_, out) = f.tool(&["cat:src/main.rs"]);
    assert_eq!(out, "workspace version\n", "the workspace keeps its version");
    assert_eq!(f.vfs.read("/p/src/main.rs").unwrap(), b"workspace version\n");
    assert_eq!(
        f.vfs.read("/p/src/main.rs.conflict-1").unwrap(),
        b"backend version\n",
        "the other side is kept beside it"
    );
    assert!(f.staging().join("p/src/main.rs.conflict-1").exists());
    // A second conflict gets the next number.
    std::fs::write(f.staging().join("p/src/main.rs"), "backend again\n").unwrap();
    f.vfs.write("/p/src/main.rs", b"workspace again\n".to_vec()).unwrap();
    f.tool(&[]);
    assert_eq!(f.vfs.read("/p/src/main.rs.conflict-2").unwrap(), b"backend again\n");
}

#[test]
fn executable_bits_round_trip() {
    let mut f = Fixture::new();
    f.vfs.write("/p/run.sh", b"#!/bin/sh\n".to_vec()).unwrap();
    f.vfs.set_executable("/p/run.sh", true).unwrap();
    f.tool(&[]);
    let mode = std::fs::metadata(f.staging().join("p/run.sh")).unwrap().permissions().mode();
    assert_ne!(mode & 0o111, 0, "pushed executable");
    let built = f.staging().join("p/tool-made");
    std::fs::write(&built, "x").unwrap();
    std::fs::set_permissions(&built, std::fs::Permissions::from_mode(0o755)).unwrap();
    f.tool(&[]);
    assert!(
        matches!(f.vfs.get("/p/tool-made").unwrap().kind, NodeKind::File { executable: true, .. }),
        "pulled executable"
    );
}

#[test]
fn symlinks_are_recorded_never_followed() {
    let mut f = Fixture::new();
    f.tool(&[]);
    std::os::unix::fs::symlink("/etc/passwd", f.staging().join("p/escape")).unwrap();
    std::os::unix::fs::symlink("src/main.rs", f.staging().join("p/inside")).unwrap();
    f.tool(&[]);
    assert!(matches!(&f.vfs.get("/p/escape").unwrap().kind, NodeKind::Symlink { target } if target == "/etc/passwd"));
    assert!(f.vfs.read("/p/escape").is_err(), "an outside target is never read into the workspace");
    assert_eq!(f.vfs.read("/p/inside").unwrap(), b"fn main() {}\n", "an inside link resolves within the workspace");
}

#[test]
fn a_workspace_file_replaces_a_staged_symlink_or_directory_and_never_writes_through() {
    let mut f = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    f.tool(&["mkdir:thing", "write:thing/inner=x"]);
    std::os::unix::fs::symlink(&victim, f.staging().join("p/link")).unwrap();
    f.tool(&[]);
    assert!(matches!(f.vfs.get("/p/link").unwrap().kind, NodeKind::Symlink { .. }));

    f.vfs.remove("/p/link", false).unwrap();
    f.vfs.write("/p/link", b"a file now".to_vec()).unwrap();
    f.vfs.remove("/p/thing", true).unwrap();
    f.vfs.write("/p/thing", b"a file too".to_vec()).unwrap();
    let (status, out) = f.tool(&["cat:link", "cat:thing"]);
    assert_eq!((status, out.as_str()), (0, "a file now\na file too\n"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched", "never written through the old symlink");
    let staged = std::fs::symlink_metadata(f.staging().join("p/link")).unwrap();
    assert!(staged.is_file(), "the symlink itself was replaced");
    assert!(std::fs::symlink_metadata(f.staging().join("p/thing")).unwrap().is_file(), "the directory was replaced");
}

#[test]
fn build_output_is_pulled_lazily() {
    let mut f = Fixture::new();
    f.tool(&["mkdir:target/debug", "write:target/debug/artifact=compiled bytes"]);
    match &f.vfs.get("/p/target/debug/artifact").unwrap().kind {
        NodeKind::File { content: Content::Host { size, .. }, .. } => assert_eq!(*size, 14),
        other => panic!("expected a lazy entry, got {other:?}"),
    }
    assert_eq!(f.vfs.read("/p/target/debug/artifact").unwrap(), b"compiled bytes");
    f.tool(&["delete:target"]);
    assert!(!f.vfs.exists("/p/target"), "cargo clean empties target/ in the workspace");
}

#[test]
fn configured_globs_choose_what_is_pulled_lazily() {
    let patterns = ["*.bin".to_string(), "p/site".to_string()];
    let mut f = Fixture::with_settings(|s| s.lazy = devshell::sync::Rules::new(&patterns).unwrap());
    f.tool(&[
        "mkdir:site",
        "write:site/index.html=<html>",
        "write:data.bin=0101",
        "mkdir:target",
        "write:target/notes.txt=eager",
    ]);
    let is_lazy = |f: &Fixture, path: &str| {
        matches!(f.vfs.get(path).unwrap().kind, NodeKind::File { content: Content::Host { .. }, .. })
    };
    assert!(is_lazy(&f, "/p/site/index.html"), "a path glob covers the directory's contents");
    assert!(is_lazy(&f, "/p/data.bin"), "a component glob matches at any depth");
    assert!(!is_lazy(&f, "/p/target/notes.txt"), "target/ is lazy only by default, not once globs are configured");
    assert_eq!(f.vfs.read("/p/data.bin").unwrap(), b"0101", "lazy entries still read");
}

#[test]
fn an_emptied_staging_root_is_never_propagated() {
    let mut f = Fixture::new();
    f.tool(&[]);
    std::fs::remove_dir_all(f.staging().join("p")).unwrap();
    let call = ToolCall {
        program: "cargo".into(),
        args: vec![],
        cwd: String::new(),
        env: vec![],
        stdio: ToolStdio::captured(),
    };
    f.sessions.run_tool(&mut f.vfs, call).unwrap();
    assert_eq!(f.vfs.read("/p/src/main.rs").unwrap(), b"fn main() {}\n", "the workspace keeps everything");
    assert_eq!(
        std::fs::read(f.staging().join("p/src/main.rs")).unwrap(),
        b"fn main() {}\n",
        "and it was pushed again in full"
    );
}

#[test]
fn entries_a_pull_cannot_use_are_left_out_and_the_rest_applies() {
    let mut f = Fixture::new();
    f.tool(&[]);
    // A socket and a FIFO are never opened; a name that is not UTF-8 cannot be a workspace path.
    let _listener = std::os::unix::net::UnixListener::bind(f.staging().join("p/sock")).unwrap();
    let fifo = std::ffi::CString::new(f.staging().join("p/fifo").into_os_string().into_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(f.staging().join("p").join(std::ffi::OsStr::from_bytes(b"bad\xffname")), b"x").unwrap();
    let (status, _) = f.tool(&["write:made-by-tool.txt=x"]);
    assert_eq!(status, 0);
    assert_eq!(f.vfs.read("/p/made-by-tool.txt").unwrap(), b"x", "the rest of the pull applied");
    for left_out in ["/p/sock", "/p/fifo"] {
        assert!(!f.vfs.exists(left_out), "{left_out} was pulled");
    }
    // And the next pull still works, with them still there.
    let (status, _) = f.tool(&["write:second.txt=y"]);
    assert_eq!(status, 0);
    assert_eq!(f.vfs.read("/p/second.txt").unwrap(), b"y");
}

/// After the first run a watcher reports what changed; new directories get watched too, so a
/// change deep inside one made by a later run still reaches the workspace.
#[test]
fn later_runs_see_changes_in_directories_created_by_earlier_ones() {
    let mut f = Fixture::new();
    f.tool(&[]);
    f.tool(&["mkdir:gen/deep", "write:gen/deep/a.txt=one"]);
    assert_eq!(f.vfs.read("/p/gen/deep/a.txt").unwrap(), b"one");
    f.tool(&["write:gen/deep/a.txt=two", "mkdir:gen/deep/er", "write:gen/deep/er/b.txt=three"]);
    assert_eq!(f.vfs.read("/p/gen/deep/a.txt").unwrap(), b"two");
    assert_eq!(f.vfs.read("/p/gen/deep/er/b.txt").unwrap(), b"three");
    f.tool(&["delete:gen/deep/er"]);
    assert!(!f.vfs.exists("/p/gen/deep/er"));
    // A change made outside any tool run, between runs, is seen by the next run as well.
    std::fs::write(f.staging().join("p/gen/deep/a.txt"), "four").unwrap();
    f.tool(&[]);
    assert_eq!(f.vfs.read("/p/gen/deep/a.txt").unwrap(), b"four");
}

#[test]
fn shutdown_pulls_what_was_written_after_the_last_tool_run() {
    let mut f = Fixture::new();
    f.tool(&["write:built=1"]);
    // A build daemon or background job writing after the tool returned.
    std::fs::write(f.staging().join("p/late.log"), "written late").unwrap();
    std::fs::remove_file(f.staging().join("p/built")).unwrap();
    f.sessions.shutdown(&mut f.vfs).unwrap();
    assert_eq!(f.vfs.read("/p/late.log").unwrap(), b"written late");
    assert!(!f.vfs.exists("/p/built"), "a late deletion is reconciled too");
}

/// A cache wiped under the workspace takes its build output with it: the lazy entries are
/// dropped (the next build makes them again) instead of failing every later push.
#[test]
fn a_wiped_staging_dir_drops_the_build_output_it_held_and_keeps_the_sources() {
    let mut f = Fixture::new();
    f.tool(&["mkdir:target", "write:target/app=built"]);
    assert!(f.vfs.exists("/p/target/app"));
    std::fs::remove_dir_all(f.staging().parent().unwrap()).unwrap();
    let mut vfs = std::mem::take(&mut f.vfs);
    let mut sessions = Sessions::new(
        devshell_tests::mock_settings(&f._dir.path().join("cache")),
        &f._dir.path().join("state"),
        f.sessions.manifest().clone(),
        &mut vfs,
    );
    let call =
        ToolCall { program: "cargo".into(), args: vec![], cwd: "p".into(), env: vec![], stdio: ToolStdio::captured() };
    let result = sessions.run_tool(&mut vfs, call).unwrap();
    assert_eq!(result.status, 0);
    assert!(!vfs.exists("/p/target/app"), "build output of the lost staging dir is dropped");
    assert_eq!(vfs.read("/p/src/main.rs").unwrap(), b"fn main() {}\n", "sources are kept");
    assert_eq!(std::fs::read(sessions.staging_dir().join("p/src/main.rs")).unwrap(), b"fn main() {}\n");
}
