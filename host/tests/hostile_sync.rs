//! Sync, export and recovery against an attacker (issue 10, "Proof"), through the real binary.
//!
//! The `hostile` test component (`tests/components/hostile`) has only what an untrusted backend
//! has, the staging dir and `sh`; with it, each test mounts one attack on the staging dir: a
//! directory or build-output file swapped for a symlink that climbs out of the staging dir (in
//! `ensure-ready`, during a tool, in `shutdown`), FIFOs, sockets, devices and non-UTF-8 names,
//! sparse files of 2 GiB and 1 TiB, nesting deeper than PATH_MAX. The export test needs no
//! backend; the recovery tests (cache wiped, state file moved or deleted) use the mock backend.
//!
//! Every test plants a canary tree beside the cache, `<sandbox>/canary`, that the climbing
//! symlinks aim at, and proves at the end that it is byte-identical (paths, bytes, modes, symlink
//! targets) and that the workspace is intact: the files the attack did not touch read back as
//! written, later tool runs still sync, and (where a symlink aims at the canary) no workspace
//! file holds canary bytes. Every devshell run is under a watchdog, so a hang fails the test
//! instead of stalling the suite. Each failure message says what leaked, what was lost or what
//! hung, with the run's output.

mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{text, Sandbox};

/// Longest any devshell run here may take before it counts as hung.
const WATCHDOG: Duration = Duration::from_secs(60);
/// In every canary file, so leaked bytes are recognized wherever they land.
const CANARY_MARK: &str = "CANARY";
/// The canary tree, relative to the sandbox: (path, contents, mode); a `None` contents is a dir.
const CANARY_TREE: &[(&str, Option<&str>, u32)] = &[
    ("main.rs", Some("// CANARY main.rs: a host file outside the staging dir\n"), 0o644),
    ("secret.txt", Some("CANARY secret: must never be read into the workspace\n"), 0o600),
    ("sub", None, 0o755),
    ("sub/deep.txt", Some("CANARY deep: must never be deleted or overwritten\n"), 0o644),
    ("sub/run.sh", Some("#!/bin/sh\necho CANARY run.sh\n"), 0o755),
];
/// The workspace directory the attacks swap, with the same names as the canary's files, so a
/// write, read or delete through a swapped symlink would land on a canary file.
const ATTACKED_DIR: &[(&str, &str)] =
    &[("main.rs", "fn main() {}\n"), ("secret.txt", "workspace secret\n"), ("sub/deep.txt", "workspace deep\n")];
/// Files no attack touches: they must read back as written at the end of every test.
const BYSTANDERS: &[(&str, &str)] = &[("/README.md", "readme\n"), ("/docs/guide.md", "guide\n")];

// ---------------------------------------------------------------------------------------------
// a. ensure-ready swaps a directory for a symlink, just before the push.

#[test]
fn ensure_ready_swapping_a_dir_for_a_climbing_symlink_redirects_nothing() {
    let lab = Lab::new("hostile");
    lab.run_ok(&format!("{}; cargo print:setup", lab.setup_script("/src")), "setting up");
    let climb = lab.climb("src", "canary");

    // The next process's ensure-ready swaps `src`, then the user's edit is pushed.
    lab.arm(&[&format!("ensure-ready symlink:src={climb}"), "ensure-ready rm:.hostile-plan"]);
    let edit = lab.run("echo 'fn main() { user_edit(); }' > /src/main.rs; cargo print:after-swap");
    lab.assert_canary_untouched("pushing an edited /src/main.rs after ensure-ready swapped src for a symlink", &edit);
    lab.assert_no_canary_bytes_in_workspace("the pull after the swap (a .conflict-N copy read through the symlink?)");
    lab.assert_workspace_holds("user_edit", "the user's edit of /src/main.rs, made while src was swapped");

    // Swapped again before the push of `rm -r /src`: the delete must not reach through.
    lab.arm(&[&format!("ensure-ready symlink:src={climb}"), "ensure-ready rm:.hostile-plan"]);
    let removal = lab.run("rm -r /src; cargo print:after-rm");
    lab.assert_canary_untouched("`rm -r /src` pushed after ensure-ready swapped src for a symlink", &removal);
    lab.assert_bystanders_intact();
}

// ---------------------------------------------------------------------------------------------
// b. shutdown swaps a lazy build-output file for a symlink, after the final pull.

#[test]
fn shutdown_swapping_a_lazy_file_for_a_climbing_symlink_shows_no_host_file() {
    let lab = Lab::new("hostile");
    lab.run_ok(&format!("{}; cargo print:setup", lab.setup_script("/src")), "setting up");
    let climb = lab.climb("target/out.bin", "canary/secret.txt");

    // One process pushes the plan, builds `target/out.bin` (pulled lazily), and its shutdown,
    // after the final pull, swaps the file for a symlink to a canary file.
    let plan = lab.plan(&[&format!("shutdown symlink:target/out.bin={climb}"), "shutdown rm:.hostile-plan"]);
    let built =
        lab.run(&format!("import {plan} /.hostile-plan; cargo write:target/out.bin=built; cat /target/out.bin"));
    assert!(
        text(&built.stdout).contains("built"),
        "premise: the tool's target/out.bin should read back before the swap\n{}",
        show(&built)
    );
    let swapped = lab.staging_root().join("target/out.bin");
    assert!(
        swapped.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()),
        "premise: shutdown should have swapped {} for a symlink\n{}",
        swapped.display(),
        show(&built)
    );

    // Later processes read the lazy entry: without a tool, after a tool, and through export.
    let cold = lab.run("cat /target/out.bin");
    assert_no_canary_in("`cat /target/out.bin` in the next process (the lazy entry followed the swap)", &cold);
    let after_tool = lab.run("cargo print:pulled; cat /target/out.bin; ls -l /target");
    assert_no_canary_in("`cat /target/out.bin` after the next tool's pull", &after_tool);
    lab.assert_no_canary_bytes_in_workspace("the swapped lazy file was read (`cat`, a pull, `export /`)");
    lab.assert_canary_untouched("reading the swapped lazy file", &after_tool);
    lab.assert_bystanders_intact();
}

// ---------------------------------------------------------------------------------------------
// c. a tool swaps a directory for a symlink mid-session (after one tool run, during the next).

#[test]
fn tool_swapping_a_dir_for_a_climbing_symlink_mid_session_redirects_nothing() {
    let lab = Lab::new("hostile");
    lab.run_ok(&format!("{}; cargo print:setup", lab.setup_script("/src")), "setting up");
    let climb = lab.climb("src", "canary");

    // The first tool run arms the watcher; the second swaps `src` while it runs.
    let session = lab.run(&format!(
        "cargo print:first; echo 'fn main() {{ user_edit(); }}' > /src/main.rs; cargo symlink:src={climb}; \
         echo 'late edit' > /src/secret.txt; cargo print:after-swap; cargo print:again"
    ));
    lab.assert_canary_untouched("a tool swapped src for a symlink mid-session, then edits and tool runs", &session);
    lab.assert_no_canary_bytes_in_workspace("the pulls after a tool swapped src for a symlink");

    // The same swap, then the user deletes the directory: nothing may be deleted through it.
    let removal = lab.run(&format!(
        "rm -rf /src; mkdir -p /src/sub; echo again > /src/main.rs; echo again > /src/sub/deep.txt; \
         cargo print:restored; cargo symlink:src={climb}; rm -r /src; cargo print:after-rm"
    ));
    lab.assert_canary_untouched("`rm -r /src` after a tool swapped src for a symlink", &removal);
    lab.assert_no_canary_bytes_in_workspace("the session that swapped src and deleted it");
    lab.assert_bystanders_intact();
}

// ---------------------------------------------------------------------------------------------
// d. FIFOs, sockets, non-UTF-8 names and devices in the staging dir.

#[test]
fn special_entries_never_stop_sync() {
    let lab = Lab::new("hostile");
    lab.run_ok(&format!("{}; cargo print:setup", lab.setup_script("/src")), "setting up");
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("SKIPPED: mknod needs root (the character-device part of this test)");
    }
    let script = lab.sandbox.path().join("special.sh");
    std::fs::write(&script, SPECIAL_ENTRIES_SCRIPT).unwrap();
    // A confined tool can make no socket, FIFO or device node in the staging dir (grants.rs); what
    // else can reach the staging dir (an unconfined process, a VM's mount) still could, so the
    // test puts them there itself, before the run whose first walk meets them.
    let staging = lab.staging_root();
    drop(std::os::unix::net::UnixListener::bind(staging.join("the-socket")).unwrap());
    let fifo = CString::new(staging.join("the-fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo at a path of our own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    if root {
        let device = CString::new(staging.join("the-device").as_os_str().as_bytes()).unwrap();
        // SAFETY: mknod of a character device (1, 5: /dev/zero) at a path of our own.
        unsafe { libc::mknod(device.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) };
    }

    // One tool leaves the entries behind; the next writes a normal file (the pull after each
    // must complete, within the watchdog).
    let run = lab.run(&format!(
        "import {} /special.sh; cargo 'sh:sh special.sh'; cargo write:after.txt=ok; cat /after.txt",
        script.display()
    ));
    let kind = |name: &[u8]| {
        std::fs::symlink_metadata(staging.join(std::ffi::OsStr::from_bytes(name))).map(|m| m.file_type()).ok()
    };
    let premise = |what: &str| format!("premise: no {what} in the staging dir {}\n{}", staging.display(), show(&run));
    assert!(kind(b"the-fifo").is_some_and(|t| t.is_fifo()), "{}", premise("FIFO `the-fifo`"));
    assert!(kind(b"the-socket").is_some_and(|t| t.is_socket()), "{}", premise("socket `the-socket`"));
    assert!(kind(b"bad-\xff-name").is_some(), "{}", premise("non-UTF-8 name `bad-\\377-name`"));
    let device = root && kind(b"the-device").is_some_and(|t| t.is_char_device());
    if root && !device {
        println!("SKIPPED: mknod failed even as root (no CAP_MKNOD?); the character-device part did not run");
    }
    assert_eq!(
        text(&run.stdout).lines().last().unwrap_or_default(),
        "ok",
        "a file written after the special entries did not arrive (one bad entry failed the pull?)\n{}",
        show(&run)
    );

    // devshell says what it skipped (or carries the non-UTF-8 name faithfully).
    let stderr = text(&run.stderr);
    let mut unmentioned: Vec<&str> =
        ["the-fifo", "the-socket"].into_iter().filter(|name| !stderr.contains(name)).collect();
    if device && !stderr.contains("the-device") {
        unmentioned.push("the-device");
    }
    let listing = text(&lab.run("ls -a /").stdout);
    let carried = listing.lines().any(|l| l.starts_with("bad-") && l.ends_with("-name"));
    if !carried && !mentions_bad_name(&stderr) {
        unmentioned.push("bad-\\377-name");
    }
    assert!(
        unmentioned.is_empty(),
        "devshell did not mention the skipped entries {unmentioned:?} on stderr\n{}\n--- ls -a /\n{listing}",
        show(&run)
    );

    // A new process: its first push and every pull still work beside the entries.
    let later = lab.run("cargo write:later.txt=ok2; cat /later.txt; cat /after.txt");
    assert_eq!(
        text(&later.stdout),
        "ok2ok",
        "sync in the next process failed beside special entries\n{}",
        show(&later)
    );
    lab.assert_canary_untouched("a session with special entries in the staging dir", &later);
    lab.assert_bystanders_intact();
}

/// What a hostile tool leaves in the staging dir: a name that is not UTF-8.
const SPECIAL_ENTRIES_SCRIPT: &str = "set -e\ntouch \"$(printf 'bad-\\377-name')\"\n";

/// Whether stderr names the file `bad-\377-name` in some spelling (lossy, escaped octal or hex).
fn mentions_bad_name(stderr: &str) -> bool {
    stderr.match_indices("bad-").any(|(at, _)| stderr[at + 4..].chars().take(10).collect::<String>().contains("-name"))
}

// ---------------------------------------------------------------------------------------------
// e. sparse files of 2 GiB and 1 TiB.

#[test]
fn sparse_huge_files_stay_out_of_memory_and_the_state_file() {
    const MAX_RSS_KIB: i64 = 300 << 10;
    const MAX_STATE_BYTES: u64 = 16 << 20;
    let lab = Lab::new("hostile");
    let warm = lab.run_watched(&format!("{}; cargo print:setup", lab.setup_script("/src")));
    assert!(warm.output.status.success(), "setting up failed\n{}", show(&warm.output));

    // Each run leaves a sparse file (or nothing new) and writes a normal file beside it.
    let steps = [
        ("a 2 GiB sparse file", "cargo sparse:big=2147483648 write:after.txt=ok; cat /after.txt", "ok"),
        ("a 1 TiB sparse file", "cargo sparse:huge=1099511627776 write:later.txt=ok2; cat /later.txt", "ok2"),
        ("both sparse files, in the next process", "cargo write:third.txt=ok3; cat /third.txt", "ok3"),
    ];
    for (with, script, want) in steps {
        let run = lab.run_watched(script);
        assert!(
            run.peak_rss_kib < MAX_RSS_KIB,
            "with {with} in the staging dir, devshell's peak RSS was {} MiB (limit {} MiB; {} MiB before any \
             sparse file): the file was read into memory\n{}",
            run.peak_rss_kib >> 10,
            MAX_RSS_KIB >> 10,
            warm.peak_rss_kib >> 10,
            show(&run.output)
        );
        assert_eq!(
            text(&run.output.stdout),
            want,
            "with {with}, a file written beside it did not arrive\n{}",
            show(&run.output)
        );
        let state_size = std::fs::metadata(lab.sandbox.state()).map(|m| m.len()).unwrap_or(0);
        assert!(
            state_size < MAX_STATE_BYTES,
            "with {with}, the state file grew to {} MiB (limit {} MiB): the file was written into it",
            state_size >> 20,
            MAX_STATE_BYTES >> 20
        );
    }
    let staged = |name: &str| lab.staging_root().join(name).metadata().map(|m| m.len()).ok();
    assert_eq!(staged("big"), Some(2 << 30), "premise: the 2 GiB sparse file is not in the staging dir");
    assert_eq!(staged("huge"), Some(1 << 40), "premise: the 1 TiB sparse file is not in the staging dir");
    lab.assert_canary_untouched("sparse huge files in the staging dir", &warm.output);
    lab.assert_bystanders_intact();
}

// ---------------------------------------------------------------------------------------------
// f. nesting deeper than PATH_MAX.

#[test]
fn nesting_deeper_than_path_max_never_fails_the_pull() {
    const DEPTH: usize = 100;
    const NAME_LEN: usize = 200;
    let lab = Lab::new("hostile");
    lab.run_ok(&format!("{}; cargo print:setup", lab.setup_script("/src")), "setting up");

    let run = lab.run(&format!("cargo deep:nest={DEPTH},{NAME_LEN} write:after.txt=ok; cat /after.txt"));
    let reached = nesting_depth(&lab.staging_root().join("nest"), &"d".repeat(NAME_LEN));
    assert_eq!(
        reached,
        DEPTH,
        "premise: the hostile component nested only {reached} of {DEPTH} directories (paths of {} bytes)\n{}",
        reached * (NAME_LEN + 1),
        show(&run)
    );
    assert_eq!(
        text(&run.stdout),
        "ok",
        "a file written beside {DEPTH} nested dirs of {NAME_LEN}-byte names did not arrive (the pull failed?)\n{}",
        show(&run)
    );
    let later = lab.run("cargo write:later.txt=ok2; cat /later.txt");
    assert_eq!(text(&later.stdout), "ok2", "sync failed in the next process beside deep nesting\n{}", show(&later));
    lab.assert_canary_untouched("deep nesting in the staging dir", &later);
    lab.assert_bystanders_intact();
}

/// How many directories named `name` are nested under `start`, opened one beneath the other
/// (no path-length limit), never following a symlink.
fn nesting_depth(start: &Path, name: &str) -> usize {
    let start = CString::new(start.as_os_str().as_bytes()).unwrap();
    let name = CString::new(name).unwrap();
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: plain libc calls on NUL-terminated strings and descriptors this function owns.
    unsafe {
        let mut dir = libc::open(start.as_ptr(), flags);
        if dir < 0 {
            return 0;
        }
        let mut depth = 0;
        loop {
            let next = libc::openat(dir, name.as_ptr(), flags);
            if next < 0 {
                break;
            }
            libc::close(dir);
            dir = next;
            depth += 1;
        }
        libc::close(dir);
        depth
    }
}

// ---------------------------------------------------------------------------------------------
// g. export twice: the first export's symlink must not be written through by the second.

#[test]
fn second_export_replaces_the_symlink_the_first_one_made() {
    let lab = Lab::new("hostile");
    lab.run_ok(&lab.setup_script("/src"), "setting up");
    // A workspace symlink `/d/link -> ../canary`: harmless in the workspace, but exported into
    // `<sandbox>/out` it points at the canary.
    let source = lab.sandbox.path().join("import-d");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("file.txt"), "keep\n").unwrap();
    std::os::unix::fs::symlink("../canary", source.join("link")).unwrap();
    let out = lab.sandbox.path().join("out");
    let first = lab.run(&format!("import {} /d; ls -l /d; export /d {}", source.display(), out.display()));
    assert!(
        text(&first.stdout).contains("link -> ../canary"),
        "premise: the workspace should hold the symlink /d/link -> ../canary\n{}",
        show(&first)
    );

    // The workspace symlink becomes a directory; exported again, it must replace the symlink.
    let second = lab.run(&format!("rm /d/link; mkdir /d/link; echo mine > /d/link/f; export /d {}", out.display()));
    lab.assert_canary_untouched("the second `export /d` over the symlink the first one wrote", &second);
    let link = out.join("link");
    assert!(
        link.symlink_metadata().is_ok_and(|m| m.is_dir()),
        "{} should now be a real directory, not {:?}\n{}",
        link.display(),
        link.symlink_metadata().map(|m| m.file_type()),
        show(&second)
    );
    assert_eq!(std::fs::read_to_string(link.join("f")).ok().as_deref(), Some("mine\n"), "{}", show(&second));
    assert_eq!(std::fs::read_to_string(out.join("file.txt")).ok().as_deref(), Some("keep\n"), "{}", show(&second));
    lab.assert_bystanders_intact();
}

// ---------------------------------------------------------------------------------------------
// h. recovery: the staging dir lost or foreign, the state file moved or deleted (mock backend).

/// The workspace of the recovery tests, and the tool's own file.
const RECOVERY_SETUP: &str = "mkdir -p /p/q; echo a > /p/a.txt; echo b > /p/q/b.txt; echo top > /top.txt; \
                              cargo write:built.txt=1";
const RECOVERY_FILES: &[(&str, &str)] =
    &[("/p/a.txt", "a\n"), ("/p/q/b.txt", "b\n"), ("/top.txt", "top\n"), ("/built.txt", "1")];

#[test]
fn wiping_the_cache_loses_no_workspace_file() {
    let lab = Lab::new("mock");
    lab.run_ok(RECOVERY_SETUP, "setting up");
    std::fs::remove_dir_all(lab.sandbox.path().join("cache")).unwrap();
    let run = lab.run("cargo write:new.txt=2");
    let mut expected = RECOVERY_FILES.to_vec();
    expected.push(("/new.txt", "2"));
    lab.assert_files(&expected, "the cache (and the staging dir in it) was wiped and a tool ran", &run);
    lab.assert_canary_untouched("a tool run after the cache was wiped", &run);
}

#[test]
fn moving_the_state_file_loses_no_workspace_file() {
    let lab = Lab::new("mock");
    lab.run_ok(RECOVERY_SETUP, "setting up");
    let moved = lab.sandbox.path().join("moved-project/state");
    std::fs::create_dir(moved.parent().unwrap()).unwrap();
    std::fs::rename(lab.sandbox.state(), &moved).unwrap();
    let moved = moved.to_str().unwrap();
    let run = lab
        .sandbox
        .run_watched(&["--backend", "mock", "--state", moved, "-c", "cargo write:new.txt=2"], WATCHDOG)
        .output;
    let check = lab.sandbox.run_watched(&["--state", moved, "-c", &cat_script(RECOVERY_FILES)], WATCHDOG).output;
    let missing = missing_files(RECOVERY_FILES, &check);
    assert!(
        missing.is_empty(),
        "after the state file moved to a new path (a new staging dir) and a tool ran, the workspace lost \
         {missing:?}\n{}\n--- check\n{}",
        show(&run),
        show(&check)
    );
    lab.assert_canary_untouched("a tool run after the state file moved", &run);
}

#[test]
fn deleting_the_state_file_resurrects_nothing_from_the_old_staging_dir() {
    let lab = Lab::new("mock");
    lab.run_ok(
        "echo keep > /keep.txt; echo gone > /gone.txt; mkdir /dir; echo gone2 > /dir/gone2.txt; cargo print:synced",
        "setting up",
    );
    // One deletion synced by a tool run, one not: both are gone from the workspace.
    lab.run_ok("rm /gone.txt; cargo print:synced-delete; rm -r /dir", "deleting in the workspace");
    std::fs::remove_file(lab.sandbox.state()).unwrap();
    let run =
        lab.run("cargo write:new.txt=3; ls -a /; test -e /gone.txt && echo GONE-BACK; test -e /dir && echo DIR-BACK");
    let listing = text(&run.stdout);
    assert!(
        !listing.contains("GONE-BACK") && !listing.contains("DIR-BACK") && !listing.contains("gone"),
        "files deleted in the workspace came back from the old staging dir after the state file was deleted\n{}",
        show(&run)
    );
    assert!(listing.contains("new.txt"), "the tool's new file did not arrive\n{}", show(&run));
    lab.assert_canary_untouched("a tool run after the state file was deleted", &run);
}

// ---------------------------------------------------------------------------------------------
// The lab: a sandbox, a backend, a canary.

struct Lab {
    sandbox: Sandbox,
    backend: &'static str,
    canary: PathBuf,
    canary_before: Snapshot,
}

impl Lab {
    /// A sandbox whose config grants the hostile component `sh`, the staging dir and network
    /// (without it, its tools may not even make a unix socket, which one attack needs), with
    /// the canary planted at `<sandbox>/canary`.
    fn new(backend: &'static str) -> Lab {
        let sandbox = Sandbox::new();
        let config = format!(
            "[plugins.hostile]\npath = {:?}\ngrant = {{ programs = [\"sh\"], dirs = [\"staging\"], network = true }}\n",
            devshell::plugin::builtin::HOSTILE_PATH
        );
        std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
        let canary = sandbox.path().join("canary");
        plant(&canary);
        let canary_before = snapshot(&canary);
        Lab { sandbox, backend, canary, canary_before }
    }

    /// A script creating the bystanders and the attacked directory at `dir`.
    fn setup_script(&self, dir: &str) -> String {
        let mut lines = vec![format!("mkdir -p /docs {dir}/sub")];
        let files = BYSTANDERS.iter().map(|&(p, t)| (p.to_string(), t));
        let attacked = ATTACKED_DIR.iter().map(|&(p, t)| (format!("{dir}/{p}"), t));
        for (path, contents) in files.chain(attacked) {
            lines.push(format!("echo '{}' > {path}", contents.trim_end_matches('\n')));
        }
        lines.join("; ")
    }

    fn run_watched(&self, script: &str) -> common::Watched {
        self.sandbox.run_watched(&["--backend", self.backend, "-c", script], WATCHDOG)
    }

    /// `devshell --backend BACKEND -c SCRIPT`, under the watchdog.
    fn run(&self, script: &str) -> Output {
        self.run_watched(script).output
    }

    fn run_ok(&self, script: &str, doing: &str) -> Output {
        let output = self.run(script);
        assert!(output.status.success(), "{doing}: `{script}` failed\n{}", show(&output));
        output
    }

    /// The staging root as the plugin sees it: `<cache>/staging/<TOKEN>/tree` (or `<TOKEN>`
    /// itself, the layout before `tree/`). Exactly one must exist.
    fn staging_root(&self) -> PathBuf {
        let base = self.sandbox.path().join("cache/staging");
        let roots: Vec<PathBuf> = std::fs::read_dir(&base)
            .unwrap_or_else(|e| panic!("no staging dirs in {}: {e}", base.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .map(|dir| if dir.join("tree").is_dir() { dir.join("tree") } else { dir })
            .collect();
        assert_eq!(roots.len(), 1, "expected one staging dir under {}: {roots:?}", base.display());
        roots[0].canonicalize().unwrap()
    }

    /// A relative symlink target that, from the symlink `link` (relative to the staging root),
    /// climbs out of the staging dir to `outside` (relative to the sandbox), e.g. `../../../../canary`.
    fn climb(&self, link: &str, outside: &str) -> String {
        let root = self.staging_root();
        let sandbox = self.sandbox.path().canonicalize().unwrap();
        let depth = root.strip_prefix(&sandbox).expect("the staging dir is inside the sandbox").components().count();
        let parents = Path::new(link).components().count() - 1;
        let target = format!("{}{outside}", "../".repeat(depth + parents));
        let landing = lexical(&root.join(link).parent().unwrap().join(&target));
        assert_eq!(landing, sandbox.join(outside), "climb from {link} by {target}");
        target
    }

    /// Write a plan for the hostile component to a host file; returns its path (to `import`).
    fn plan(&self, lines: &[&str]) -> String {
        let path = self.sandbox.path().join("plan");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Put a plan into the staging dir (imported, then pushed by a tool run) for the next
    /// process's ensure-ready.
    fn arm(&self, lines: &[&str]) {
        let plan = self.plan(lines);
        self.run_ok(&format!("import {plan} /.hostile-plan; cargo print:armed"), "arming the plan");
    }

    fn assert_canary_untouched(&self, after: &str, output: &Output) {
        let changes = describe_changes(&self.canary_before, &snapshot(&self.canary));
        assert!(
            changes.is_empty(),
            "after {after}, the canary tree outside the staging dir ({}) changed:\n  {}\n{}",
            self.canary.display(),
            changes.join("\n  "),
            show(output)
        );
    }

    /// Where the workspace holds `needle`: the saved state file (which keeps file contents
    /// verbatim), and the files `export /` writes into a fresh host dir (which also reads the
    /// lazy entries). An export that fails part way is noted; what it wrote is still searched.
    fn workspace_holding(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        let state = std::fs::read(self.sandbox.state()).unwrap_or_default();
        if state.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push("the state file (the saved workspace)".to_string());
        }
        let dump = tempfile::tempdir_in(self.sandbox.path()).unwrap().keep();
        let export = self.run(&format!("export / {}", dump.display()));
        for file in files_holding(&dump, needle) {
            found.push(format!("the workspace file {file}"));
        }
        if !export.status.success() && !found.is_empty() {
            found.push(format!("(`export /` failed part way, so there may be more)\n{}", show(&export)));
        }
        found
    }

    fn assert_no_canary_bytes_in_workspace(&self, after: &str) {
        let leaked = self.workspace_holding(CANARY_MARK);
        assert!(leaked.is_empty(), "after {after}, canary bytes were read into the workspace: {}", leaked.join("; "));
    }

    /// The workspace still holds `needle` somewhere (an edit survived, wherever the engine kept it).
    fn assert_workspace_holds(&self, needle: &str, what: &str) {
        assert!(!self.workspace_holding(needle).is_empty(), "{what} is nowhere in the workspace: it was lost");
    }

    fn assert_bystanders_intact(&self) {
        let listing = self.run("ls -a / /docs");
        self.assert_files(BYSTANDERS, "the attack (`ls -a / /docs` below)", &listing);
    }

    /// Each workspace file reads back (through `cat`) as expected.
    fn assert_files(&self, files: &[(&str, &str)], after: &str, output: &Output) {
        let check = self.run(&cat_script(files));
        let missing = missing_files(files, &check);
        assert!(
            missing.is_empty(),
            "after {after}, the workspace lost or changed {missing:?}\n{}\n--- the check\n{}",
            show(output),
            show(&check)
        );
    }
}

/// A script printing each file after a `@@ PATH` line.
fn cat_script(files: &[(&str, &str)]) -> String {
    files.iter().map(|(path, _)| format!("echo '@@ {path}'; cat {path}")).collect::<Vec<_>>().join("; ")
}

/// The files whose `cat_script` section does not hold exactly the expected contents.
fn missing_files<'a>(files: &[(&'a str, &str)], check: &Output) -> Vec<&'a str> {
    let shown = text(&check.stdout);
    let mut sections = BTreeMap::new();
    for section in shown.split("@@ ").skip(1) {
        let (path, contents) = section.split_once('\n').unwrap_or((section, ""));
        sections.insert(path.to_string(), contents.to_string());
    }
    files
        .iter()
        .filter(|(path, want)| sections.get(*path).map(String::as_str) != Some(*want))
        .map(|(p, _)| *p)
        .collect()
}

fn assert_no_canary_in(what: &str, output: &Output) {
    assert!(!text(&output.stdout).contains(CANARY_MARK), "{what} printed a host file's bytes\n{}", show(output));
}

/// A run's status and output for a failure message (lines longer than 1000 characters, such as
/// a path 100 directories deep, shortened in the middle).
fn show(output: &Output) -> String {
    let shorten = |bytes: &[u8]| -> String {
        let mut shown = String::new();
        for line in text(bytes).lines() {
            let chars: Vec<char> = line.chars().collect();
            if chars.len() <= 1000 {
                shown += &format!("{line}\n");
            } else {
                let (head, tail): (String, String) =
                    (chars[..400].iter().collect(), chars[chars.len() - 400..].iter().collect());
                shown += &format!("{head}[… {} characters …]{tail}\n", chars.len() - 800);
            }
        }
        shown
    };
    format!(
        "--- status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        shorten(&output.stdout),
        shorten(&output.stderr)
    )
}

/// Resolve `.` and `..` without touching the filesystem.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The canary and its snapshots.

fn plant(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(root).unwrap();
    for &(path, contents, mode) in CANARY_TREE {
        let path = root.join(path);
        match contents {
            Some(contents) => std::fs::write(&path, contents).unwrap(),
            None => std::fs::create_dir(&path).unwrap(),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::os::unix::fs::symlink("secret.txt", root.join("link")).unwrap();
}

#[derive(Debug, PartialEq)]
enum Entry {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
    Symlink { target: PathBuf },
    Other { mode: u32 },
}

/// Every entry below `root` (and `root` itself, as ""), never following a symlink.
type Snapshot = BTreeMap<PathBuf, Entry>;

fn snapshot(root: &Path) -> Snapshot {
    let mut entries = Snapshot::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let path = root.join(&relative);
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let mode = meta.mode() & 0o7777;
        let entry = if meta.file_type().is_symlink() {
            Entry::Symlink { target: std::fs::read_link(&path).unwrap() }
        } else if meta.is_dir() {
            for child in std::fs::read_dir(&path).unwrap() {
                pending.push(relative.join(child.unwrap().file_name()));
            }
            Entry::Dir { mode }
        } else if meta.is_file() {
            Entry::File { mode, bytes: std::fs::read(&path).unwrap() }
        } else {
            Entry::Other { mode: meta.mode() }
        };
        entries.insert(relative, entry);
    }
    entries
}

fn describe_changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let name = |path: &Path| format!("canary/{}", path.display());
    let mut changes = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => changes.push(format!("{} was deleted (was {})", name(path), brief(was))),
            Some(now) if now != was => {
                changes.push(format!("{} changed: was {}, now {}", name(path), brief(was), brief(now)))
            }
            Some(_) => {}
        }
    }
    for (path, now) in after.iter().filter(|(path, _)| !before.contains_key(*path)) {
        changes.push(format!("{} was created: {}", name(path), brief(now)));
    }
    changes
}

fn brief(entry: &Entry) -> String {
    match entry {
        Entry::Dir { mode } => format!("a directory ({mode:o})"),
        Entry::File { mode, bytes } => {
            let shown: String = text(bytes).chars().take(60).collect();
            format!("a file ({mode:o}, {} bytes: {shown:?})", bytes.len())
        }
        Entry::Symlink { target } => format!("a symlink to {}", target.display()),
        Entry::Other { mode } => format!("a special file ({mode:o})"),
    }
}

/// Regular files below `dir` (never following a symlink) whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    snapshot(dir)
        .into_iter()
        .filter_map(|(path, entry)| match entry {
            Entry::File { bytes, .. } if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) => {
                Some(format!("/{}: {:?}", path.display(), text(&bytes).chars().take(60).collect::<String>()))
            }
            _ => None,
        })
        .collect()
}
