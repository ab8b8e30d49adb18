//! The plugin runtime with real components: the mock through every export, the grant's denial
//! paths, the fault component (trap, spin, hog), and the compile cache.

use std::time::Duration;

use devshell::plugin::cache::LoadPath;
use devshell::plugin::grants::Grant;
use devshell::plugin::{EntryKind, Limits, PluginError, PluginSource, ToolRequest, WorkspaceMode, CONTRACT_VERSION};
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

fn stdout_of(output: &devshell::plugin::ToolOutput) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &devshell::plugin::ToolOutput) -> String {
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

    let out = plugin.run_tool(session, &request("cargo", &["mkdir:d", "write:d/a.txt=hello", "print:done"])).unwrap();
    assert_eq!(out.status.code, Some(0), "stderr: {}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "done\n");
    assert_eq!(std::fs::read_to_string(staging.path().join("d/a.txt")).unwrap(), "hello");

    let out = plugin.run_tool(session, &request("cargo", &["delete:d/a.txt", "exit:3", "print:never"])).unwrap();
    assert_eq!(out.status.code, Some(3));
    assert_eq!(stdout_of(&out), "");
    assert!(!staging.path().join("d/a.txt").exists());

    let out = plugin.run_tool(session, &request("cargo", &["bogus:op"])).unwrap();
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
    let out = plugin.run_tool(session, &request("cargo", &["write:a/g.txt=x"])).unwrap();
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
        let out = plugin.run_tool(session, &request("cargo", &[op])).unwrap();
        let err = stderr_of(&out);
        assert_ne!(out.status.code, Some(0), "{op} should fail");
        assert!(err.contains("denied") && err.contains(expected), "{op}: {err}");
        assert!(!marker.exists(), "{op} must not run anything");
    }

    // The success path through the same code: a granted program runs in the staging dir.
    let out = plugin.run_tool(session, &request("cargo", &["spawn:true"])).unwrap();
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

    let out = plugin.run_tool(session, &request("cargo", &["cat:inside.txt"])).unwrap();
    assert_eq!(stdout_of(&out), "visible\n");
    for outside in ["/etc/hostname".to_string(), format!("{}/../../../etc/passwd", staged.display())] {
        let out = plugin.run_tool(session, &request("cargo", &[&format!("cat:{outside}")])).unwrap();
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
    match plugin.run_tool(session, &request("trap", &[])) {
        Err(PluginError::Fault { plugin, reason }) => {
            assert_eq!(plugin, "faulty");
            assert!(reason.contains("trapped") && reason.contains("run-tool"), "{reason}");
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    assert!(matches!(plugin.info(session), Err(PluginError::Poisoned { .. })));
    // The runtime is still usable: a new instance of the same plugin works.
    let mut fresh = instantiate(&rt, &faulty_source(), Grant::default(), Limits::default());
    let session = fresh.new_session(&config).unwrap();
    assert_eq!(fresh.run_tool(session, &request("ok", &[])).unwrap().status.code, Some(0));
}

#[test]
fn endless_loop_is_stopped_by_the_deadline() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let limits = Limits { call_timeout: Duration::from_millis(300), ..Limits::default() };
    let mut plugin = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    match plugin.run_tool(session, &request("spin", &[])) {
        Err(PluginError::Fault { reason, .. }) => assert!(reason.contains("time limit"), "{reason}"),
        other => panic!("expected a time-limit fault, got {other:?}"),
    }
    let mut fresh = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let session = fresh.new_session(&config).unwrap();
    assert_eq!(fresh.run_tool(session, &request("ok", &[])).unwrap().status.code, Some(0));
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let mut plugin = instantiate(&rt, &faulty_source(), Grant::default(), limits);
    let config = guest_config();
    let session = plugin.new_session(&config).unwrap();
    match plugin.run_tool(session, &request("hog", &[])) {
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
    let replacement = needle.replace("@0.1.0", "@0.9.0");
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
    let out = plugin.run_tool(session, &slow).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "the timeout did not stop the wait");
    assert_eq!(out.status.code, Some(1));
    assert!(stderr_of(&out).contains("timeout"), "{}", stderr_of(&out));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!staging.path().join("marker").exists(), "the process group survived the kill");
    // The instance is healthy: host-side timeouts do not poison it.
    assert!(plugin.poisoned().is_none());
    let quick = plugin.run_tool(session, &request("cargo", &["spawn:sh -c true"])).unwrap();
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
    let out = plugin.run_tool(session, &run).unwrap();
    let env = stdout_of(&out);
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(env.contains("FROM_PLUGIN=passed"), "{env}");
    assert!(!env.contains("must-not-leak"), "host environment leaked: {env}");

    let mut preload = request("cargo", &["spawn:env"]);
    preload.env = vec![("LD_PRELOAD".into(), "/tmp/evil.so".into())];
    let out = plugin.run_tool(session, &preload).unwrap();
    assert_ne!(out.status.code, Some(0));
    assert!(stderr_of(&out).contains("`LD_PRELOAD` may not be set"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).is_empty(), "nothing ran");
}
