//! All of devshell's benchmarks, behind one command:
//!
//!     cargo run --release -p devshell-tests --bin bench
//!
//! Every figure is printed beside a baseline measured in the same run and the ratio. Figures are
//! medians over repeated runs; these machines are shared, so read ratios, not absolute times.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devshell::plugin::cache::CompileCache;
use devshell::plugin::grants::Grant;
use devshell::plugin::{builtin, Limits, Runtime, SessionConfig, WorkspaceMode};
use devshell::session::Sessions;
use devshell::shell::{Shell, ToolBackend, ToolCall};
use devshell::stdio::ToolStdio;
use devshell::vfs::Vfs;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

fn show(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 0.1 {
        format!("{:.3} s", secs)
    } else if secs >= 1e-4 {
        format!("{:.3} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.2} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}

fn row(what: &str, ours: Duration, baseline_name: &str, baseline: Duration) {
    let ratio = ours.as_secs_f64() / baseline.as_secs_f64().max(1e-12);
    println!("  {what:<44} {:>11}   vs {baseline_name:<34} {:>11}   ratio {ratio:>7.2}x", show(ours), show(baseline));
}

/// The release `devshell` binary next to this benchmark, built first if needed.
fn devshell_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status =
        Command::new(cargo).args(["build", "--release", "-q", "-p", "devshell"]).status().expect("run cargo build");
    assert!(status.success(), "building devshell failed");
    std::env::current_exe().unwrap().parent().unwrap().join("devshell")
}

fn run_quiet(command: &mut Command) {
    let status = command.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null()).status().expect("spawn");
    assert!(status.success(), "{command:?} failed");
}

fn isolated(binary: &Path, home: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .env("DEVSHELL_STATE", home.join("state"))
        .env("DEVSHELL_CACHE_DIR", home.join("cache"))
        .env("DEVSHELL_CONFIG", home.join("config.toml"))
        .current_dir(home);
    command
}

fn plugin_runtime() {
    println!("plugin runtime (mock component; baselines: process spawn, native Rust)");
    let source = builtin::find("mock").unwrap();
    let spawn_true = time(30, || Command::new("/bin/true").status().unwrap());
    let cold = time(5, || {
        let cache = tempfile::tempdir().unwrap();
        Runtime::new(CompileCache::new(Some(cache.path().into()))).unwrap().load(&source).unwrap();
    });
    row("cold load (compile + cache write)", cold, "spawn /bin/true", spawn_true);
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(CompileCache::new(Some(cache.path().into()))).unwrap();
    runtime.load(&source).unwrap();
    let cached = time(30, || runtime.load(&source).unwrap());
    row("cached load (verify + deserialize)", cached, "spawn /bin/true", spawn_true);
    let loaded = runtime.load(&source).unwrap();
    let instantiate = time(50, || runtime.instantiate(&loaded, Grant::default(), Limits::default()).unwrap());
    row("instantiate", instantiate, "spawn /bin/true", spawn_true);

    let mut plugin = runtime.instantiate(&loaded, Grant::default(), Limits::default()).unwrap();
    let config = SessionConfig {
        mode: WorkspaceMode::Guest,
        guest_mount: "/workspace".into(),
        staging_dir: String::new(),
        options: vec![],
    };
    let session = plugin.new_session(&config).unwrap();
    let calls = 20_000;
    let start = Instant::now();
    for _ in 0..calls {
        black_box(plugin.info(session).unwrap());
    }
    let per_call = start.elapsed() / calls;
    let native: &dyn Fn() -> String = &|| black_box("mock".to_string());
    let start = Instant::now();
    for _ in 0..calls {
        black_box(native());
    }
    row("trivial export call (session.info)", per_call, "native dyn call", start.elapsed() / calls);

    let mib = vec![7u8; 1 << 20];
    let through_plugin = time(30, || {
        plugin.write_file("/workspace/blob", &mib).unwrap();
        plugin.read_file("/workspace/blob").unwrap()
    });
    let mut native_fs = std::collections::BTreeMap::new();
    let native_copy = time(30, || {
        native_fs.insert("/workspace/blob".to_string(), black_box(&mib).clone());
        native_fs.get("/workspace/blob").unwrap().clone()
    });
    row("1 MiB write+read through guest-fs", through_plugin, "native in-memory map write+read", native_copy);
}

fn startup(binary: &Path) {
    println!("startup to exit");
    let home = tempfile::tempdir().unwrap();
    let ours = time(30, || run_quiet(isolated(binary, home.path()).args(["-c", "echo hi"])));
    let echo = time(30, || run_quiet(Command::new("/bin/echo").arg("hi")));
    row("devshell -c 'echo hi'", ours, "/bin/echo hi", echo);
}

/// A cargo project whose target/ holds at least `extra` files beyond a real build.
fn project_with_big_target(dir: &Path, extra: usize) {
    run_quiet(Command::new("cargo").args(["new", "--vcs", "none", "-q", "bench-project"]).current_dir(dir));
    let project = dir.join("bench-project");
    std::fs::write(project.join(".gitignore"), "/target\n").unwrap(); // as `cargo new` writes with git
    run_quiet(Command::new("cargo").args(["build", "-q"]).current_dir(&project));
    let junk = project.join("target/debug/bench-junk");
    for chunk in 0..(extra / 1000) {
        let sub = junk.join(format!("d{chunk}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..1000 {
            std::fs::write(sub.join(format!("f{i}.o")), b"object").unwrap();
        }
    }
}

fn cargo_through_devshell(binary: &Path) {
    println!("cargo through devshell (host-sandbox backend)");
    let home = tempfile::tempdir().unwrap();
    run_quiet(isolated(binary, home.path()).args(["-c", "cargo --version"])); // warm the compile cache
    let ours = time(21, || run_quiet(isolated(binary, home.path()).args(["-c", "cargo --version"])));
    let direct = time(21, || run_quiet(Command::new("cargo").arg("--version")));
    row("(a) cargo --version", ours, "cargo --version directly", direct);
    // The same without the rustup shortcut, and against the toolchain's own binary: what the
    // shortcut saves, and what devshell itself costs.
    let proxied = time(21, || {
        run_quiet(isolated(binary, home.path()).env("DEVSHELL_RUSTUP_SHORTCUT", "0").args(["-c", "cargo --version"]))
    });
    row("    same, DEVSHELL_RUSTUP_SHORTCUT=0", proxied, "cargo --version directly", direct);
    let toolchain_cargo =
        String::from_utf8(Command::new("rustup").args(["which", "cargo"]).output().expect("rustup which cargo").stdout)
            .unwrap();
    let unproxied = time(21, || run_quiet(Command::new(toolchain_cargo.trim()).arg("--version")));
    row("    devshell's own share", ours, "toolchain cargo --version, no proxy", unproxied);

    let host = tempfile::tempdir().unwrap();
    project_with_big_target(host.path(), 10_000);
    let project = host.path().join("bench-project");
    let files = walk_count(&project.join("target"));
    run_quiet(
        isolated(binary, home.path())
            .args(["-c", &format!("import {} /bench-project; cd /bench-project; cargo build -q", project.display())]),
    );
    // Import skips target/ (.gitignore'd); copy it into the staging dir's project so both sides
    // have the same 10,000-file target/, then let one run pull it in as lazy entries.
    let staging =
        std::fs::read_dir(home.path().join("cache/staging")).unwrap().next().unwrap().unwrap().path().join("tree");
    run_quiet(
        Command::new("cp")
            .arg("-a")
            .arg(project.join("target/debug/bench-junk"))
            .arg(staging.join("bench-project/target/debug/")),
    );
    run_quiet(isolated(binary, home.path()).args(["-c", "cd /bench-project; cargo build -q"]));
    let ten_builds = "cd /bench-project; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q; cargo build -q";
    let ours = time(5, || run_quiet(isolated(binary, home.path()).args(["-c", ten_builds])));
    let direct = time(5, || {
        for _ in 0..10 {
            run_quiet(Command::new("cargo").args(["build", "-q"]).current_dir(&project));
        }
    });
    row(&format!("(b) 10 no-op cargo builds ({files} files in target/)"), ours, "10 direct no-op cargo builds", direct);

    // (d) devshell's own peak RSS with this workspace loaded, synced and saved: the mock backend
    // runs the tool, so no cargo process is mixed into the figure.
    let mut mock_run = isolated(binary, home.path());
    mock_run.env("DEVSHELL_VM_BACKEND", "mock").args(["-c", "cd /bench-project; cargo print:synced"]);
    let rss_ours = peak_rss_kib(mock_run);
    let mut direct_build = Command::new("cargo");
    direct_build.args(["build", "-q"]).current_dir(&project);
    let rss_direct = peak_rss_kib(direct_build);
    println!(
        "  (d) peak RSS, devshell run with that workspace   {:>8.1} MiB   vs direct no-op cargo build {:>8.1} MiB",
        rss_ours as f64 / 1024.0,
        rss_direct as f64 / 1024.0
    );
}

/// The cost of confining a tool (Landlock ruleset, seccomp filter, applied between fork and
/// exec): the same program run confined, as every tool a plugin spawns is, and unconfined.
fn confinement_cost() {
    use std::os::unix::process::CommandExt;
    println!("confinement of spawned tools (Landlock + seccomp; baseline: the same program unconfined)");
    let project = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    run_quiet(Command::new("cargo").args(["new", "-q", "--vcs", "none", "confined"]).current_dir(project.path()));
    let dir = project.path().join("confined");
    let confinement = devshell::plugin::confine::Confinement::new(std::slice::from_ref(&dir), tmp.path(), &[], true);
    if let Some(shortfall) = &confinement.shortfall {
        println!("  note: {shortfall}");
    }
    let confined = |program: &str, args: &[&str]| {
        let mut command = Command::new(program);
        command.args(args).current_dir(&dir);
        let child = confinement.for_child().expect("duplicate the ruleset");
        // SAFETY: `apply` makes only async-signal-safe syscalls and does not allocate.
        unsafe { command.pre_exec(move || child.apply()) };
        command
    };
    let plain = |program: &str, args: &[&str]| {
        let mut command = Command::new(program);
        command.args(args).current_dir(&dir);
        command
    };
    let ours = time(201, || run_quiet(&mut confined("true", &[])));
    let baseline = time(201, || run_quiet(&mut plain("true", &[])));
    row("spawn and wait for `true`, confined", ours, "`true` unconfined", baseline);
    run_quiet(&mut plain("cargo", &["build", "-q"]));
    let ours = time(21, || run_quiet(&mut confined("cargo", &["build", "-q"])));
    let baseline = time(21, || run_quiet(&mut plain("cargo", &["build", "-q"])));
    row("no-op `cargo build`, confined", ours, "no-op `cargo build` unconfined", baseline);
}

/// A gigabyte of tool output through devshell (a pipe into a builtin, a redirect to
/// /dev/null) against bash doing the same with the same program.
fn streaming(binary: &Path) {
    println!("tool output streaming (1 GiB from `cargo run`; baseline: bash running the same)");
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("printer");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"printer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/main.rs"),
        "use std::io::Write;\nfn main() { let chunk = vec![b'x'; 1 << 20]; let mut out = std::io::stdout().lock(); \
         for _ in 0..1024 { out.write_all(&chunk).unwrap(); } }\n",
    )
    .unwrap();
    run_quiet(Command::new("cargo").args(["build", "-q", "--release"]).current_dir(&project));
    run_quiet(
        isolated(binary, home.path())
            .args(["-c", &format!("import {} /printer; cd /printer; cargo build -q --release", project.display())]),
    );
    for (what, line) in [
        ("| cat > /dev/null", "cargo run -q --release | cat > /dev/null"),
        ("> /dev/null", "cargo run -q --release > /dev/null"),
    ] {
        let ours = time(5, || run_quiet(isolated(binary, home.path()).args(["-c", &format!("cd /printer; {line}")])));
        let bash = time(5, || run_quiet(Command::new("bash").args(["-c", line]).current_dir(&project)));
        let gib_per_s = |d: Duration| 1.0 / d.as_secs_f64();
        row(
            &format!("1 GiB {what} ({:.2} GiB/s)", gib_per_s(ours)),
            ours,
            &format!("bash, same ({:.2} GiB/s)", gib_per_s(bash)),
            bash,
        );
    }
}

/// Run `command` to completion and return its peak resident set size in KiB (from `wait4`, which
/// reports this child alone when it has no children of its own).
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's Child does not know about
fn peak_rss_kib(mut command: Command) -> i64 {
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as i32, "wait4 failed");
    usage.ru_maxrss
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk_count(&e.path()) + 1
                } else {
                    1
                }
            })
            .sum()
        })
        .unwrap_or(0)
}

fn mock_sessions(dir: &Path, manifest: devshell::sync::SyncManifest, vfs: &mut Vfs) -> Sessions {
    Sessions::new(devshell_tests::mock_settings(&dir.join("cache")), &dir.join("state"), manifest, vfs)
}

fn sync_overhead() {
    println!("(c) sync overhead of one tool run on an unchanged tree (mock tool that does nothing)");
    for &count in &[1_000usize, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut vfs = Vfs::default();
        for i in 0..count {
            let d = format!("/src/d{}", i / 500);
            if i % 500 == 0 {
                vfs.mkdir_p(&d).unwrap();
            }
            vfs.write(&format!("{d}/f{i}.rs"), format!("// file {i}\n").into_bytes()).unwrap();
        }
        let noop = |sessions: &mut Sessions, vfs: &mut Vfs| {
            let call = ToolCall {
                program: "cargo".into(),
                args: vec![],
                cwd: String::new(),
                env: vec![],
                stdio: ToolStdio::captured(),
            };
            sessions.run_tool(vfs, call).unwrap()
        };
        // Full push into a new staging dir; the first pull walks it and arms the watcher.
        let mut sessions = mock_sessions(dir.path(), Default::default(), &mut vfs);
        noop(&mut sessions, &mut vfs);
        let runs = if count >= 100_000 { 7 } else { 21 };
        // What the first tool run of a new process pays for sync: opening and checking the
        // staging dir, an incremental push and a full walk of it (no watcher yet).
        let staging = sessions.staging_dir();
        // Each run starts from the manifest the previous one would have saved, as a new
        // process does (an older one would be refused as restored from a backup).
        let mut manifest = sessions.manifest().clone();
        let first = time(runs, || {
            let mut mirror = devshell::sync::Mirror::new(
                dir.path().join("cache/staging"),
                &dir.path().join("state"),
                manifest.clone(),
                devshell::sync::Rules::default(),
                devshell::sync::DEFAULT_MAX_IN_MEMORY,
            );
            mirror.prepare().unwrap();
            mirror.before_tool(&mut vfs).unwrap();
            let report = mirror.after_tool(&mut vfs).unwrap();
            manifest = mirror.manifest().clone();
            report
        });
        let ours = time(runs, || noop(&mut sessions, &mut vfs));
        let mirror = dir.path().join("mirror");
        run_quiet(Command::new("rsync").arg("-a").arg(format!("{}/", staging.display())).arg(&mirror));
        let rsync = time(runs, || {
            run_quiet(Command::new("rsync").arg("-a").arg(format!("{}/", staging.display())).arg(&mirror))
        });
        let find =
            time(runs, || run_quiet(Command::new("find").arg(&staging).args(["-type", "f", "-printf", "%s %T@\n"])));
        for (what, figure) in [("tool run, watched (steady)", ours), ("first run in a process (walk)", first)] {
            row(&format!("{count:>7} files: {what}"), figure, "rsync -a no-op", rsync);
            row(&format!("{count:>7} files: {what}"), figure, "find -printf walk-and-stat floor", find);
        }
    }
}

/// (d) The text tools over the in-memory workspace (a REPL's steady state) against GNU grep
/// and find on the same tree on disk, page cache warm.
fn text_tools() {
    const FILES: usize = 10_000;
    println!("text tools on {FILES} source files (in-memory workspace; baselines: GNU tools via sh on the same tree on disk)");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for i in 0..FILES {
        let sub = tree.join(format!("src/m{}", i / 100));
        std::fs::create_dir_all(&sub).unwrap();
        let text = format!("// file {i}\nfn f{i}() -> u32 {{\n    {i}\n}}\n\npub fn g{i}() {{}}\n");
        std::fs::write(sub.join(format!("f{i}.rs")), text).unwrap();
    }
    let mut vfs = Vfs::default();
    let sessions = mock_sessions(dir.path(), Default::default(), &mut vfs);
    let mut shell = Shell::new(vfs, Box::new(sessions));
    shell.run_source(&format!("import {} /t; cd /t", tree.display()), "bench").unwrap();
    let cases = [
        ("grep -rn fn . > /dev/null", "grep -rn fn . > /dev/null"),
        ("find . -name '*.rs' | wc -l > /dev/null", "find . -name '*.rs' | wc -l > /dev/null"),
        ("grep -rl 'fn f9' . | wc -l > /dev/null", "grep -rl 'fn f9' . | wc -l > /dev/null"),
    ];
    for (ours, gnu) in cases {
        let devshell = time(10, || shell.run_source(ours, "bench").unwrap());
        let baseline = time(10, || run_quiet(Command::new("sh").arg("-c").arg(gnu).current_dir(&tree)));
        row(ours.trim_end_matches(" > /dev/null"), devshell, "GNU (sh -c, same tree on disk)", baseline);
    }
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    // Only the benchmarks that run the binary build it.
    let binary = std::cell::OnceCell::new();
    let binary = || binary.get_or_init(devshell_binary);
    if wanted("runtime") {
        plugin_runtime();
    }
    if wanted("startup") {
        startup(binary());
    }
    if wanted("cargo") {
        cargo_through_devshell(binary());
    }
    if wanted("streaming") {
        streaming(binary());
    }
    if wanted("confinement") {
        confinement_cost();
    }
    if wanted("text") {
        text_tools();
    }
    if wanted("sync") {
        if Command::new("rsync").arg("--version").stdout(Stdio::null()).status().is_ok() {
            sync_overhead();
        } else {
            println!("(c) skipped: rsync is not installed (apt-get install rsync) and is the baseline");
        }
    }
}
