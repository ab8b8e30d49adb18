//! The plugin runtime with real components: the mock through every export, the grant's denial
//! paths, the fault component (trap, spin, hog), and the compile cache.

use std::time::Duration;

use devshell::plugin::cache::LoadPath;
use devshell::plugin::grants::Grant;
use devshell::plugin::{EntryKind, Limits, PluginError, PluginSource, ToolRequest, WorkspaceMode, CONTRACT_VERSION};
use devshell::stdio::{Spill, ToolStdio};
use devshell_tests::*;

fn request(program: &str, args: &[&str]) -> ToolRequest {
    ToolRequest {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: String::new(),
        env: vec![],
        capture: true,
        timeout_ms: Some(10_000),
    }
}

fn stdout_of(output: &ToolOutput) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &ToolOutput) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn mock_session_exports_work_in_sync_mode() {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut plugin = instantiate(&rt, &mock_source(), staging_grant(staging.path()), Limits::default());
    let session = plugin.new_session(&sync_config(staging.path())).unwrap();
    plugin.ensure_ready(session).unwrap();
    let info = plugin.info(session).unwrap();
    assert_eq!(info.name, "mock");
    assert_eq!(info.mode, WorkspaceMode::Sync);
    assert!(info.syncs);

    let out =
        run_tool(&mut plugin, session, &request("cargo", &["mkdir:d", "write:d/a.txt=hello", "print:done"])).unwrap();
    assert_eq!(out.status.code, Some(0), "stderr: {}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "done\n");
    assert_eq!(std::fs::read_to_string(staging.path().join("d/a.txt")).unwrap(), "hello");

    let out = run_tool(&mut plugin, session, &request("cargo", &["delete:d/a.txt", "exit:3", "print:never"])).unwrap();
    assert_eq!(out.status.code, Some(3));
    assert_eq!(stdout_of(&out), "");
    assert!(!staging.path().join("d/a.txt").exists());

    let out = run_tool(&mut plugin, session, &request("cargo", &["bogus:op"])).unwrap();
    assert_eq!(out.status.code, Some(1));
    assert!(stderr_of(&out).contains("unknown op"), "{}", stderr_of(&out));
    plugin.shutdown(session).unwrap();
}

#[test]
fn mock_guest_fs_round_trip_and_confinement() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut plugin = instantiate(&rt, &mock_source(), Grant::default(), Limits::default());
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    plugin.ensure_ready(session).unwrap();
    assert!(!plugin.info(session).unwrap().syncs);

    plugin.mkdir("/workspace/a/b").unwrap();
    plugin.write_file("/workspace/a/b/f.txt", b"data").unwrap();
    assert_eq!(plugin.read_file("/workspace/a/./b/../b/f.txt").unwrap(), b"data");
    let stat = plugin.stat("/workspace/a/b/f.txt").unwrap();
    assert_eq!((stat.kind, stat.size), (EntryKind::File, 4));
    let names: Vec<_> = plugin.list_dir("/workspace/a").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["b"]);
    // Mode P run-tool writes into the guest tree.
    let out = run_tool(&mut plugin, session, &request("cargo", &["write:a/g.txt=x"])).unwrap();
    assert_eq!(out.status.code, Some(0), "{}", stderr_of(&out));
    assert_eq!(plugin.read_file("/workspace/a/g.txt").unwrap(), b"x");
    plugin.remove("/workspace/a").unwrap();
    assert!(matches!(plugin.stat("/workspace/a/b/f.txt"), Err(PluginError::Fs(m)) if m.contains("no such file")));

    for escaping in ["/workspace/../etc/passwd", "/etc", "relative/path", "/workspacex"] {
        match plugin.read_file(escaping) {
            Err(PluginError::Fs(message)) => assert!(message.contains("invalid path"), "{escaping}: {message}"),
            other => panic!("{escaping}: expected invalid-path, got {other:?}"),
        }
    }
    assert!(
        matches!(plugin.write_file("/workspace/../x", b"no"), Err(PluginError::Fs(m)) if m.contains("invalid path"))
    );
    assert!(matches!(plugin.remove("/workspace"), Err(PluginError::Fs(m)) if m.contains("denied")));
}

/// Spawn denials: each case asks to create a marker file; the marker proves whether anything ran.
#[test]
fn spawn_outside_the_grant_is_denied_and_runs_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut grant = staging_grant(staging.path());
    grant.allow_program("true", None).unwrap();
    grant.allow_program("touch", Some(vec!["granted-*".into()])).unwrap_or(());
    let mut plugin = instantiate(&rt, &mock_source(), grant, Limits::default());
    let session = plugin.new_session(&sync_config(staging.path())).unwrap();
    plugin.ensure_ready(session).unwrap();
    std::fs::copy("/usr/bin/env", staging.path().join("env")).unwrap();

    let marker = staging.path().join("marker");
    let cases = [
        ("spawn:mkdir marker", "`mkdir`"),                             // bare name not granted
        ("spawn:/bin/mkdir marker", "`/bin/mkdir`"),                   // absolute path outside the grant
        ("spawn:./env mkdir marker", "relative program path `./env`"), // relative path
        ("spawn:touch marker", "only with arguments"),                 // granted program, arguments not matching
    ];
    for (op, expected) in cases {
        let out = run_tool(&mut plugin, session, &request("cargo", &[op])).unwrap();
        let err = stderr_of(&out);
        assert_ne!(out.status.code, Some(0), "{op} should fail");
        assert!(err.contains("denied") && err.contains(expected), "{op}: {err}");
        assert!(!marker.exists(), "{op} must not run anything");
    }

    // The success path through the same code: a granted program runs in the staging dir.
    let out = run_tool(&mut plugin, session, &request("cargo", &["spawn:true"])).unwrap();
    assert_eq!(out.status.code, Some(0), "{}", stderr_of(&out));
    assert!(plugin.poisoned().is_none(), "a denial is an error value, never a trap");
}

#[test]
fn wasi_reads_outside_the_preopen_fail() {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut plugin = instantiate(&rt, &mock_source(), staging_grant(staging.path()), Limits::default());
    let session = plugin.new_session(&sync_config(staging.path())).unwrap();
    std::fs::write(staging.path().join("inside.txt"), "visible").unwrap();
    let staged = staging.path().canonicalize().unwrap();

    let out = run_tool(&mut plugin, session, &request("cargo", &["cat:inside.txt"])).unwrap();
    assert_eq!(stdout_of(&out), "visible\n");
    for outside in ["/etc/hostname".to_string(), format!("{}/../../../etc/passwd", staged.display())] {
        let out = run_tool(&mut plugin, session, &request("cargo", &[&format!("cat:{outside}")])).unwrap();
        assert_eq!(out.status.code, Some(1), "{outside} must not be readable");
        assert!(stdout_of(&out).is_empty(), "{outside} leaked: {}", stdout_of(&out));
    }
}

#[test]
fn trap_is_reported_and_poisons_only_that_instance() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut plugin = instantiate(&rt, &faulty_source(), Grant::default(), Limits::default());
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    match run_tool(&mut plugin, session, &request("trap", &[])) {
        Err(PluginError::Fault { plugin, reason }) => {
            assert_eq!(plugin, "faulty");
            assert!(reason.starts_with("panicked: ") && reason.ends_with(", during run-tool"), "{reason}");
            assert!(reason.contains("faulty: asked to trap (at ") && reason.contains("lib.rs:34:"), "{reason}");
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    assert!(matches!(plugin.info(session), Err(PluginError::Poisoned { .. })));
    // The runtime is still usable: a new instance of the same plugin works.
    let mut fresh = instantiate(&rt, &faulty_source(), Grant::default(), Limits::default());
    let session = fresh.new_session(&config).unwrap();
    assert_eq!(run_tool(&mut fresh, session, &request("ok", &[])).unwrap().status.code, Some(0));
}

#[test]
fn endless_loop_is_stopped_by_the_deadline() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let limits = Limits { call_timeout: Duration::from_millis(300), ..Limits::default() };
    let mut plugin = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    match run_tool(&mut plugin, session, &request("spin", &[])) {
        Err(PluginError::Fault { reason, .. }) => assert!(reason.contains("time limit"), "{reason}"),
        other => panic!("expected a time-limit fault, got {other:?}"),
    }
    let mut fresh = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let session = fresh.new_session(&config).unwrap();
    assert_eq!(run_tool(&mut fresh, session, &request("ok", &[])).unwrap().status.code, Some(0));
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let mut plugin = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    match run_tool(&mut plugin, session, &request("hog", &[])) {
        Err(PluginError::Fault { reason, .. }) => assert!(reason.contains("memory"), "{reason}"),
        other => panic!("expected a memory fault, got {other:?}"),
    }
    assert!(plugin.poisoned().is_some());
}

#[test]
fn compile_cache_hits_and_rebuilds_corrupt_artifacts() {
    let cache = tempfile::tempdir().unwrap();
    let source = mock_source();
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Compiled);
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Cached);

    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact in the cache");
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    let rt = runtime(cache.path());
    let loaded = rt.load(&source).unwrap();
    assert_eq!(loaded.load_path, LoadPath::Rebuilt);
    // The rebuilt artifact works and is trusted next time.
    let mut plugin = rt.instantiate(&loaded, Grant::default(), Limits::default()).unwrap();
    plugin.mkdir("/workspace/x").unwrap();
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Cached);

    std::fs::write(&artifact, b"DSHCWASM-truncated").unwrap();
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Rebuilt);

    // The checksum beside it is no more trusted than the artifact.
    let checksum = artifact.with_extension("cwasm.b3");
    std::fs::remove_file(&checksum).unwrap();
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Rebuilt);
    std::fs::write(&checksum, b"DSHCWASM0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Rebuilt);
    assert_eq!(runtime(cache.path()).load(&source).unwrap().load_path, LoadPath::Cached);
}

#[test]
fn incompatible_or_foreign_components_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mock = std::fs::read(devshell::plugin::builtin::MOCK_PATH).unwrap();
    // Same component, contract version rewritten in place (same length, so it stays valid).
    let needle = format!("devshell:backend/session@{CONTRACT_VERSION}");
    let replacement = needle.replace(CONTRACT_VERSION, "0.9.0");
    assert_eq!(needle.len(), replacement.len());
    let mut patched = mock.clone();
    let mut at = 0;
    while let Some(pos) = find(&patched[at..], needle.as_bytes()) {
        patched[at + pos..at + pos + needle.len()].copy_from_slice(replacement.as_bytes());
        at += pos + 1;
    }
    let path = dir.path().join("future.wasm");
    std::fs::write(&path, &patched).unwrap();
    let rt = runtime(dir.path());
    let error = rt.load(&PluginSource::File(path)).err().expect("refused");
    let message = format!("{error:#}");
    assert!(message.contains("0.9.0") && message.contains(CONTRACT_VERSION), "{message}");

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all").unwrap();
    let message = format!("{:#}", rt.load(&PluginSource::File(junk)).err().expect("refused"));
    assert!(message.contains("junk.wasm") && message.contains("not a WebAssembly component"), "{message}");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A mock session in Mode S whose grant adds `programs` to its staging dir.
struct MockSession {
    _cache: tempfile::TempDir,
    staging: tempfile::TempDir,
    plugin: devshell::plugin::PluginInstance,
    session: devshell::plugin::SessionHandle,
}

fn mock_session_granting(programs: &[&str]) -> MockSession {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut grant = staging_grant(staging.path());
    for program in programs {
        grant.allow_program(program, None).unwrap();
    }
    let mut plugin = instantiate(&runtime(cache.path()), &mock_source(), grant, Limits::default());
    let session = plugin.new_session(&sync_config(staging.path())).unwrap();
    MockSession { _cache: cache, staging, plugin, session }
}

/// A tool that outlives its timeout is killed with its whole process group, on the host side.
#[test]
fn spawned_tool_past_its_timeout_is_killed_with_its_group() {
    let MockSession { staging, mut plugin, session, .. } = mock_session_granting(&["sh"]);
    // The grandchild (sleep) must die too, or it would create the marker later.
    std::fs::write(staging.path().join("slow.sh"), "sleep 2\ntouch marker\n").unwrap();
    let mut slow = request("cargo", &["spawn:sh slow.sh"]);
    slow.timeout_ms = Some(300);
    let started = std::time::Instant::now();
    let out = run_tool(&mut plugin, session, &slow).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "the timeout did not stop the wait");
    assert_eq!(out.status.code, Some(1));
    assert!(stderr_of(&out).contains("timeout"), "{}", stderr_of(&out));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!staging.path().join("marker").exists(), "the process group survived the kill");
    // The instance is healthy: host-side timeouts do not poison it.
    assert!(plugin.poisoned().is_none());
    let quick = run_tool(&mut plugin, session, &request("cargo", &["spawn:sh -c true"])).unwrap();
    assert_eq!(quick.status.code, Some(0), "{}", stderr_of(&quick));
}

/// A spawned tool sees the host's allowlisted environment (PATH, HOME, …) plus what the plugin
/// passes, and nothing else; loader variables are refused outright.
#[test]
fn children_get_only_the_allowlisted_environment() {
    let MockSession { staging: _staging, mut plugin, session, .. } = mock_session_granting(&["env"]);
    // Only this test reads this variable, so setting it cannot disturb the others.
    std::env::set_var("DEVSHELL_TEST_HOST_SECRET", "must-not-leak");
    let mut run = request("cargo", &["spawn:env"]);
    run.env = vec![("FROM_PLUGIN".into(), "passed".into())];
    let out = run_tool(&mut plugin, session, &run).unwrap();
    let env = stdout_of(&out);
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(env.contains("FROM_PLUGIN=passed"), "{env}");
    assert!(!env.contains("must-not-leak"), "host environment leaked: {env}");

    let mut preload = request("cargo", &["spawn:env"]);
    preload.env = vec![("LD_PRELOAD".into(), "/tmp/evil.so".into())];
    let out = run_tool(&mut plugin, session, &preload).unwrap();
    assert_ne!(out.status.code, Some(0));
    assert!(stderr_of(&out).contains("`LD_PRELOAD` may not be set"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).is_empty(), "nothing ran");
}

/// A request for `program` (resolved through PATH by the OS) with stdin closed and both output
/// streams piped, as a plugin's spawn reaches `process` after the grant check.
fn piped(program: &str, args: &[&str], cwd: &std::path::Path) -> devshell::plugin::process::SpawnRequest {
    use devshell::plugin::process::StdioMode;
    devshell::plugin::process::SpawnRequest {
        program: program.into(),
        argv0: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: cwd.to_path_buf(),
        env: vec![],
        host_env: vec![],
        stdin: StdioMode::Null,
        stdout: StdioMode::Pipe,
        stderr: StdioMode::Pipe,
        timeout: Some(Duration::from_secs(60)),
        confinement: None,
    }
}

/// A `/proc/PID/status`-style field (`VmRSS:`, `Threads:`) of this process, as a number.
fn own_status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status}"));
    line[field.len()..].split_whitespace().next().unwrap().parse().unwrap()
}

/// Run the calling test again in a process of its own and report whether that happened (the
/// caller returns then) or whether this is that process (the caller does the work): its memory
/// and thread counts must not see the other tests, which run in parallel in this one.
fn rerun_alone(test: &str) -> bool {
    if std::env::var_os("DEVSHELL_TEST_ALONE").is_some() {
        return false;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env("DEVSHELL_TEST_ALONE", "1")
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.contains("1 passed"), "{test} on its own:\n{report}");
    true
}

/// A child whose output the plugin never reads blocks on its pipe: the host holds at most
/// `PIPE_HOLD_BYTES` of it, not everything the child can write (`yes` writes gigabytes a second).
#[test]
fn unread_child_output_blocks_the_child_instead_of_filling_memory() {
    use devshell::plugin::process::{ChildProcess, PIPE_HOLD_BYTES};
    if rerun_alone("unread_child_output_blocks_the_child_instead_of_filling_memory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rss_before_kib = own_status("VmRSS:");
    let mut child = ChildProcess::spawn(piped("yes", &[], dir.path())).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap();
    let written: usize = io.lines().find_map(|l| l.strip_prefix("wchar: ")).unwrap().parse().unwrap();
    let grown_kib = own_status("VmRSS:").saturating_sub(rss_before_kib);
    // What `yes` wrote is what the host took plus what fits in the kernel's pipe (64 KiB).
    assert!(written <= PIPE_HOLD_BYTES + (1 << 20), "yes wrote {written} bytes: the host kept reading");
    assert!(grown_kib < 16 << 10, "the host grew by {grown_kib} KiB while nobody read");
    // Nothing was lost: reading resumes where the child stopped.
    let data = child.read_stdout(64 * 1024, 5_000).unwrap().expect("more output");
    assert!(data.len() > 2 && data.chunks(2).all(|c| c == b"y\n" || c == b"y"), "{:?}", &data[..data.len().min(16)]);
}

/// `read_stdout_line` returns a line up to `MAX_LINE_BYTES` whole, a longer one in pieces of that
/// size (never cutting a character), and the line after it intact.
#[test]
fn long_lines_come_back_in_bounded_pieces() {
    use devshell::plugin::process::{ChildProcess, MAX_LINE_BYTES};
    let dir = tempfile::tempdir().unwrap();
    // "xé" is three bytes, so the cut at MAX_LINE_BYTES (2 mod 3) falls inside an 'é'.
    let long = MAX_LINE_BYTES / 3 + 1000;
    let script = format!(
        "head -c {MAX_LINE_BYTES} /dev/zero | tr '\\0' x; echo; yes xé | head -n {long} | tr -d '\\n'; echo; echo after"
    );
    let mut child = ChildProcess::spawn(piped("sh", &["-c", &script], dir.path())).unwrap();
    let whole = child.read_stdout_line(30_000).unwrap().unwrap();
    assert_eq!(whole.len(), MAX_LINE_BYTES);
    let mut joined = String::new();
    let mut pieces = 0;
    while joined.len() < long * 3 {
        let piece = child.read_stdout_line(30_000).unwrap().unwrap();
        assert!(piece.len() <= MAX_LINE_BYTES && !piece.contains('\u{fffd}'), "a piece cut a character");
        joined.push_str(&piece);
        pieces += 1;
    }
    assert_eq!(pieces, 2);
    assert_eq!(joined, "xé".repeat(long));
    assert_eq!(child.read_stdout_line(30_000).unwrap().as_deref(), Some("after"));
    assert_eq!(child.read_stdout_line(30_000).unwrap(), None);
}

/// A plugin instance holds at most `MAX_LIVE_CHILDREN` children: one more is refused (an `io`
/// error naming the cap, and nothing runs); dropping a child, or waiting for it and reading its
/// output to the end, frees its place; and the threads of dropped children end, even when a
/// descendant that left the process group keeps their pipes open.
#[test]
fn live_children_per_plugin_are_capped() {
    use devshell::plugin::process::{ChildLimit, ProcessError, MAX_LIVE_CHILDREN};
    if rerun_alone("live_children_per_plugin_are_capped") {
        return;
    }
    assert_eq!(MAX_LIVE_CHILDREN, 32);
    let dir = tempfile::tempdir().unwrap();
    let threads_before = own_status("Threads:");
    let limit = ChildLimit::new(MAX_LIVE_CHILDREN);
    let mut children = Vec::new();
    // The first child leaves a descendant in a session of its own that holds its pipes open.
    let escape = "setsid sleep 3 & echo started";
    children.push(limit.spawn("greedy", piped("sh", &["-c", escape], dir.path())).unwrap());
    assert_eq!(children[0].read_stdout_line(10_000).unwrap().as_deref(), Some("started"));
    for _ in 1..MAX_LIVE_CHILDREN {
        children.push(limit.spawn("greedy", piped("sleep", &["30"], dir.path())).unwrap());
    }
    assert_eq!(limit.live(), 32);
    for _ in MAX_LIVE_CHILDREN..40 {
        match limit.spawn("greedy", piped("touch", &["marker"], dir.path())) {
            Err(ProcessError::Io(message)) => {
                assert!(message.contains("plugin `greedy` already has 32 running children"), "{message}")
            }
            Err(other) => panic!("expected an io error, got {other:?}"),
            Ok(_) => panic!("a spawn beyond the cap ran"),
        }
    }
    assert!(!dir.path().join("marker").exists(), "a refused spawn ran");
    assert_eq!(limit.live(), 32);

    children.pop();
    let mut quick = limit.spawn("greedy", piped("echo", &["hi"], dir.path())).unwrap();
    assert_eq!(limit.live(), 32);
    // Exited but with unread output, it still counts; read to the end, it does not.
    assert_eq!(quick.wait(Some(Duration::from_secs(10))).unwrap().unwrap().code, Some(0));
    assert_eq!(limit.live(), 32);
    assert_eq!(quick.read_stdout(1024, 10_000).unwrap().as_deref(), Some(&b"hi\n"[..]));
    assert_eq!(quick.read_stdout(1024, 10_000).unwrap(), None);
    assert_eq!(quick.read_stderr(1024, 10_000).unwrap(), None);
    assert_eq!(limit.live(), 31);

    drop(children);
    drop(quick);
    assert_eq!(limit.live(), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while own_status("Threads:") > threads_before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(own_status("Threads:"), threads_before, "threads of dropped children are still running");
}

/// What a plugin logs reaches the terminal as one escaped line of bounded length.
#[test]
fn plugin_log_lines_are_escaped_and_cut() {
    use devshell::plugin::log::{escape_line, MAX_LINE_CHARS};
    assert_eq!(escape_line("plain text, tab\tand ünïcode"), "plain text, tab\tand ünïcode");
    assert_eq!(escape_line("done\r[devshell] fake\nsecond line"), "done\\r[devshell] fake\\nsecond line");
    assert_eq!(escape_line("abc\u{202e}fed\u{2066}"), "abc\\u{202e}fed\\u{2066}");
    for hostile in ["\x1b]0;owned\x07\x1b[2J", "\u{9b}31m \u{7f} \0", "\x1bP+q\x1b\\"] {
        let shown = escape_line(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(shown.contains("\\u{"), "{shown:?}");
    }

    let long = "é".repeat(5000);
    let cut = escape_line(&long);
    let (shown, note) = cut.split_once('…').unwrap();
    assert_eq!(shown.chars().count(), MAX_LINE_CHARS);
    assert_eq!(note, " (8000 more bytes)");
    let escapes = escape_line(&"\x1b".repeat(1000));
    assert!(escapes.chars().count() < MAX_LINE_CHARS + 30, "{}", escapes.len());
    assert!(escapes.ends_with("… (833 more bytes)"), "{escapes}"); // 167 escapes of 6 characters
    assert_eq!(escape_line(&"x".repeat(MAX_LINE_CHARS)), "x".repeat(MAX_LINE_CHARS));
}

/// A plugin that floods its log gets a burst through, then a trickle; the rest is dropped.
#[test]
fn plugin_log_lines_are_rate_limited() {
    use devshell::plugin::log::LogGate;
    let mut gate = LogGate::new("noisy\x1b[31m");
    assert_eq!(gate.plugin(), "noisy\\u{1b}[31m");
    let started = std::time::Instant::now();
    let passed = (0..10_000).filter(|_| gate.admit("spam").is_some()).count();
    let allowed = 50 + (started.elapsed().as_secs_f64() * 50.0).ceil() as usize;
    assert!((50..=allowed).contains(&passed), "{passed} of 10000 lines passed");
    let quiet = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let later = (0..100).filter(|_| gate.admit("spam").is_some()).count();
    let refilled = (quiet.elapsed().as_secs_f64() * 50.0).ceil() as usize;
    assert!((9..=refilled + 1).contains(&later), "{later} lines passed {:?} later", quiet.elapsed());
}

/// Two components' cache entries swapped on disk, each with its own valid checksum file: each
/// load notices that the artifact was not compiled from the component asked for, and rebuilds.
#[test]
fn compile_cache_rebuilds_entries_swapped_between_components() {
    let cache = tempfile::tempdir().unwrap();
    let artifacts = || -> std::collections::BTreeSet<std::path::PathBuf> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };
    assert_eq!(runtime(cache.path()).load(&mock_source()).unwrap().load_path, LoadPath::Compiled);
    let mock = artifacts().into_iter().next().unwrap();
    assert_eq!(runtime(cache.path()).load(&faulty_source()).unwrap().load_path, LoadPath::Compiled);
    let faulty = artifacts().into_iter().find(|path| *path != mock).unwrap();
    let checksum = |artifact: &std::path::Path| artifact.with_extension("cwasm.b3");
    for (a, b) in [(mock.clone(), faulty.clone()), (checksum(&mock), checksum(&faulty))] {
        let swap = cache.path().join("swap");
        std::fs::rename(&a, &swap).unwrap();
        std::fs::rename(&b, &a).unwrap();
        std::fs::rename(&swap, &b).unwrap();
    }

    let rt = runtime(cache.path());
    let loaded = rt.load(&mock_source()).unwrap();
    assert_eq!(loaded.load_path, LoadPath::Rebuilt);
    let mut plugin = rt.instantiate(&loaded, Grant::default(), Limits::default()).unwrap();
    let session = plugin.new_session(&guest_config()).unwrap();
    plugin.ensure_ready(session).unwrap();
    let out = run_tool(&mut plugin, session, &request("cargo", &["print:the mock"])).unwrap();
    assert_eq!(stdout_of(&out), "the mock\n");
    assert_eq!(rt.load(&faulty_source()).unwrap().load_path, LoadPath::Rebuilt);
    assert_eq!(runtime(cache.path()).load(&mock_source()).unwrap().load_path, LoadPath::Cached);
    assert_eq!(runtime(cache.path()).load(&faulty_source()).unwrap().load_path, LoadPath::Cached);
}

/// `tests/fixtures/mock-contract-0.1.0.wasm`: the mock as it was built against contract 0.1.0
/// (committed, never rebuilt), so the adapter is tested against a real old component.
fn mock_0_1() -> PluginSource {
    PluginSource::File(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mock-contract-0.1.0.wasm").into())
}

#[test]
fn a_component_built_against_0_1_keeps_loading_and_working_beside_0_2_ones() {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let old = rt.load(&mock_0_1()).unwrap();
    assert_eq!(old.description.contract_version, "0.1.0");
    assert!(old.description.guest_fs, "every 0.1 component exports guest-fs");
    let current = rt.load(&mock_source()).unwrap();
    assert_eq!(current.description.contract_version, CONTRACT_VERSION);

    // Mode S: its own output (0.1's tool-output bytes) reaches the run's streams, its spawns
    // go through the same grant check as 0.2's.
    let mut plugin = rt.instantiate(&old, staging_grant(staging.path()), Limits::default()).unwrap();
    let session = plugin.new_session(&sync_config(staging.path())).unwrap();
    plugin.ensure_ready(session).unwrap();
    assert_eq!(plugin.info(session).unwrap().name, "mock");
    let out = run_tool(&mut plugin, session, &request("cargo", &["write:a.txt=old", "print:from 0.1", "eprint:e"]))
        .unwrap();
    assert_eq!((out.status.code, stdout_of(&out), stderr_of(&out)), (Some(0), "from 0.1\n".into(), "e\n".into()));
    assert_eq!(std::fs::read_to_string(staging.path().join("a.txt")).unwrap(), "old");
    let out = run_tool(&mut plugin, session, &request("cargo", &["spawn:sh -c true"])).unwrap();
    assert_eq!(out.status.code, Some(1));
    assert!(stderr_of(&out).contains("denied"), "{}", stderr_of(&out));
    plugin.shutdown(session).unwrap();

    // Mode P through the adapted guest-fs, and a 0.2 instance alongside in the same runtime.
    let mut old_guest = rt.instantiate(&old, Grant::default(), Limits::default()).unwrap();
    let mut new_guest = rt.instantiate(&current, Grant::default(), Limits::default()).unwrap();
    for plugin in [&mut old_guest, &mut new_guest] {
        let session = plugin.new_session(&guest_config()).unwrap();
        plugin.ensure_ready(session).unwrap();
        plugin.write_file("/workspace/f.txt", b"guest").unwrap();
        assert_eq!(plugin.read_file("/workspace/f.txt").unwrap(), b"guest");
        let entries = plugin.list_dir("/workspace").unwrap();
        assert_eq!(entries.iter().map(|e| (e.name.as_str(), e.stat.kind)).collect::<Vec<_>>(), [("f.txt", EntryKind::File)]);
        let escape = plugin.read_file("/workspace/../etc/passwd").unwrap_err().to_string();
        assert!(escape.contains("invalid path"), "{escape}");
    }
}

#[test]
fn a_sync_only_backend_exports_no_guest_fs_and_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let loaded = rt.load(&faulty_source()).unwrap();
    assert!(!loaded.description.guest_fs);
    let sandbox = rt.load(&devshell::plugin::builtin::find("host-sandbox").unwrap()).unwrap();
    assert!(!sandbox.description.guest_fs, "host-sandbox serves Mode S only");
    let mut plugin = rt.instantiate(&loaded, Grant::default(), Limits::default()).unwrap();
    let message = plugin.list_dir("/workspace").unwrap_err().to_string();
    assert!(message.contains("no guest filesystem"), "{message}");
    assert!(plugin.poisoned().is_none(), "a missing export is an error value, not a fault");
}

#[test]
fn a_backend_reads_its_grant_options_and_the_tools_stdin_and_streams_output_through_tool_io() {
    let cache = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let mut grant = staging_grant(staging.path());
    grant.env.push("RUSTFLAGS".into());
    let mut plugin = instantiate(&rt, &mock_source(), grant, Limits::default());
    let mut config = sync_config(staging.path());
    config.options = vec![("image".into(), "rust:1.85".into())];
    let session = plugin.new_session(&config).unwrap();
    plugin.ensure_ready(session).unwrap();

    let out = run_tool(&mut plugin, session, &request("cargo", &["granted", "options"])).unwrap();
    let real = staging.path().canonicalize().unwrap();
    assert_eq!(
        stdout_of(&out),
        format!("grant dir {}\ngrant env RUSTFLAGS\ngrant network false\noption image=rust:1.85\n", real.display())
    );

    // Piped stdin reaches the backend itself, end of file included.
    let stdio = ToolStdio { stdin: Some(Spill::from_vec(b"one\ntwo\n".to_vec())), ..ToolStdio::captured() };
    let (status, captured) = plugin.run_tool(session, &request("cargo", &["stdin", "print:eof"]), stdio, None).unwrap();
    assert_eq!(status.code, Some(0));
    assert_eq!(captured.stdout.into_vec().unwrap(), b"one\ntwo\neof\n");

    // 64 MiB written in small chunks lands whole in the capture (which spills to disk), and the
    // plugin's 256 MiB cap is never near: nothing is buffered in it.
    let size: u64 = 64 << 20;
    let (status, captured) = plugin
        .run_tool(session, &request("cargo", &[&format!("flood:{size}")]), ToolStdio::captured(), None)
        .unwrap();
    assert_eq!(status.code, Some(0));
    assert_eq!(captured.stdout.len(), size);
    let mut reader = captured.stdout.into_reader().unwrap();
    let mut head = [0u8; 30];
    std::io::Read::read_exact(&mut reader, &mut head).unwrap();
    assert_eq!(&head, b"abcdefghijklmnopqrstuvwxyzabcd");
}
