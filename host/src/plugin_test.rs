//! `devshell plugin test NAME [SCENARIO.toml…]`: the conformance check every backend must pass,
//! then the author's declarative scenarios, each run through a real session (the same sync,
//! grant and runtime as `devshell --backend NAME`) on a throwaway workspace and staging dir.
//!
//! A scenario file is a list of runs:
//!
//! ```toml
//! [[run]]
//! tool = "cargo --version"             # a routed tool and its arguments
//! stdin = ""                           # optional: what the tool reads
//! status = 0                           # optional: its exit status
//! stdout_contains = "cargo"            # optional
//! spawns = ["nice -n 10 cargo --version"]  # optional: the host programs it must start, in order
//! denied = "nice"                      # optional: a denial must name this
//! ```
//!
//! Owns only the checks and their report; starts nothing it does not end.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::config;
use crate::plugin::grants::Grant;
use crate::plugin::{Limits, PluginSource, Runtime, SessionConfig, WorkspaceMode};
use crate::session::Sessions;
use crate::shell::{ToolBackend, ToolCall};
use crate::stdio::{Spill, ToolStdio};
use crate::sync::SyncManifest;
use crate::vfs::Vfs;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    run: Vec<Run>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    tool: String,
    stdin: Option<String>,
    status: Option<i32>,
    stdout_contains: Option<String>,
    spawns: Option<Vec<String>>,
    denied: Option<String>,
}

/// Counts what passed and failed, printing a line for each.
#[derive(Default)]
struct Report {
    failed: usize,
    passed: usize,
}

impl Report {
    fn check(&mut self, what: &str, outcome: Result<()>) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok      {what}");
            }
            Err(e) => {
                self.failed += 1;
                println!("FAILED  {what}: {e:#}");
            }
        }
    }
}

/// A session of backend `name` on an empty workspace, in a temp dir that goes with it.
struct Bench {
    sessions: Sessions,
    vfs: Vfs,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new(name: &str) -> Result<Bench> {
        let dir = tempfile::tempdir()?;
        let mut settings = config::resolve(config::load_file()?, Some(name.to_string()))?;
        settings.cache_base = dir.path().to_path_buf();
        let mut vfs = Vfs::default();
        let sessions = Sessions::new(settings, &dir.path().join("state"), SyncManifest::default(), &mut vfs);
        Ok(Bench { sessions, vfs, _dir: dir })
    }

    /// Run `tool` (a command line split on spaces) with `stdin`, both outputs captured.
    fn run(&mut self, tool: &str, stdin: Option<&str>) -> Result<(i32, String, String)> {
        let mut words = tool.split_whitespace().map(String::from);
        let program = words.next().context("an empty tool")?;
        let stdio = ToolStdio { stdin: stdin.map(|s| Spill::from_vec(s.as_bytes().to_vec())), ..ToolStdio::captured() };
        let call = ToolCall { program, args: words.collect(), cwd: String::new(), env: Vec::new(), stdio };
        let result = self.sessions.run_tool(&mut self.vfs, call)?;
        let text = |spill: Spill| spill.into_vec().map(|b| String::from_utf8_lossy(&b).into_owned());
        Ok((result.status, text(result.captured.stdout)?, text(result.captured.stderr)?))
    }
}

pub fn run(name: &str, scenarios: &[PathBuf]) -> Result<i32> {
    let mut report = Report::default();
    println!("conformance of `{name}`:");
    conformance(name, &mut report)?;
    for file in scenarios {
        println!("scenarios in {}:", file.display());
        scenario_file(name, file, &mut report)?;
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    Ok(if report.failed == 0 { 0 } else { 1 })
}

fn conformance(name: &str, report: &mut Report) -> Result<()> {
    let mut bench = Bench::new(name)?;
    let started = bench.sessions.start(&mut bench.vfs);
    let ready = started.is_ok();
    report.check("starts a session (constructor, ensure-ready)", started);
    if !ready {
        println!("        (the rest needs a session; grant it what it asks for: `devshell plugin list`)");
        return Ok(());
    }
    report.check("describes itself (info)", {
        let lines = bench.sessions.describe();
        if lines.iter().any(|l| l.contains("ready")) { Ok(()) } else { Err(anyhow::anyhow!("{lines:?}")) }
    });
    report.check("runs a tool and its output reaches the run's stdout (rustc --version)", {
        bench.run("rustc --version", None).and_then(|(status, out, err)| match status {
            0 if out.starts_with("rustc ") => Ok(()),
            _ => bail!("status {status}, stdout {out:?}, stderr {err:?}"),
        })
    });
    report.check("the tool's stdin reaches it, end of file included (rustc - )", {
        bench.run("rustc --print crate-name -", Some("fn main() {}\n")).and_then(|(status, out, err)| {
            match status {
                0 if out.trim() == "rust_out" => Ok(()),
                _ => bail!("status {status}, stdout {out:?}, stderr {err:?}"),
            }
        })
    });
    report.check("a failing tool is a status, not a fault (rustc --no-such-flag)", {
        bench.run("rustc --no-such-flag", None).and_then(|(status, _, _)| {
            let alive = bench.sessions.describe().iter().any(|l| l.contains("ready"));
            match (status, alive) {
                (0, _) => bail!("status 0"),
                (_, false) => bail!("the session did not survive"),
                _ => Ok(()),
            }
        })
    });
    report.check("a running tool stops at Ctrl-C and the session goes on (cancellation)", cancellation(&mut bench));
    report.check("shuts down", bench.sessions.shutdown(&mut bench.vfs));
    guest_fs(name, report)
}

/// Ctrl-C during a tool that would run for ever (rustc evaluating an endless constant): the
/// call ends within the grace period, and the next tool runs.
fn cancellation(bench: &mut Bench) -> Result<()> {
    const SPIN: &str = "#![allow(long_running_const_eval)]\n\
        const N: u64 = { let mut i = 0u64; while i < u64::MAX / 2 { i += 1; } i };\n\
        fn main() { println!(\"{N}\"); }\n";
    const PRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(15);
    let started = std::time::Instant::now();
    let press = std::thread::spawn(|| {
        std::thread::sleep(PRESS_AFTER);
        crate::plugin::interrupt();
    });
    let outcome = bench.run("rustc --crate-type lib --emit metadata -o /dev/null -", Some(SPIN));
    press.join().expect("the Ctrl-C thread");
    let took = started.elapsed();
    // The shell consumes the flag between commands; here nothing else will.
    crate::INTERRUPTED.store(false, std::sync::atomic::Ordering::SeqCst);
    match outcome {
        Ok((0, out, _)) => bail!("the tool finished normally instead of stopping (stdout {out:?})"),
        _ if took > LIMIT => bail!("the call took {took:?} to end after Ctrl-C (limit {LIMIT:?})"),
        _ if took < PRESS_AFTER => bail!("the tool ended before Ctrl-C ({took:?}): {outcome:?}"),
        _ => {}
    }
    match bench.run("rustc --version", None)? {
        (0, _, _) => Ok(()),
        (status, out, err) => bail!("after Ctrl-C, rustc --version gave status {status}, stdout {out:?}, stderr {err:?}"),
    }
}

/// Mode P backends: the guest filesystem round-trips and refuses paths outside its mount.
fn guest_fs(name: &str, report: &mut Report) -> Result<()> {
    let file = config::load_file()?;
    let source = match crate::plugin::builtin::find(name) {
        Some(source) => source,
        None => PluginSource::File(file.plugins.get(name).map(|p| p.path.clone()).unwrap_or_else(|| name.into())),
    };
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(crate::plugin::cache::CompileCache::new(Some(cache.path().to_path_buf())))?;
    let loaded = runtime.load(&source)?;
    if !loaded.description.guest_fs {
        println!("skip    guest-fs checks: it serves sync mode only (exports no guest-fs)");
        return Ok(());
    }
    let mut plugin = runtime.instantiate(&loaded, Grant::default(), Limits::default())?;
    let config = SessionConfig {
        mode: WorkspaceMode::Guest,
        guest_mount: "/workspace".into(),
        staging_dir: String::new(),
        options: Vec::new(),
    };
    let session = plugin.new_session(&config)?;
    if let Err(e) = plugin.ensure_ready(session) {
        println!("skip    guest-fs checks: it does not start in guest mode with nothing granted ({e})");
        return Ok(());
    }
    report.check("guest-fs: write, read, list, remove round-trip", (|| {
        plugin.mkdir("/workspace/conformance")?;
        plugin.write_file("/workspace/conformance/f.txt", b"bytes")?;
        if plugin.read_file("/workspace/conformance/f.txt")? != b"bytes" {
            bail!("read back other bytes");
        }
        if !plugin.list_dir("/workspace/conformance")?.iter().any(|e| e.name == "f.txt") {
            bail!("list-dir does not show the file");
        }
        plugin.remove("/workspace/conformance")?;
        Ok(())
    })());
    report.check("guest-fs: paths outside the mount are refused", {
        let escapes = ["/workspace/../etc/passwd", "/etc/passwd", "relative"];
        match escapes.iter().find(|p| plugin.read_file(p).is_ok() || plugin.write_file(p, b"x").is_ok()) {
            Some(p) => Err(anyhow::anyhow!("{p} was allowed")),
            None => Ok(()),
        }
    });
    Ok(())
}

fn scenario_file(name: &str, file: &Path, report: &mut Report) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let scenario: Scenario = toml::from_str(&text).with_context(|| format!("invalid scenario file {}", file.display()))?;
    let mut bench = Bench::new(name)?;
    for run in &scenario.run {
        let outcome = bench.run(&run.tool, run.stdin.as_deref()).and_then(|(status, out, err)| {
            let record = bench.sessions.take_record();
            if let Some(expected) = run.status {
                if status != expected {
                    bail!("exit status {status}, expected {expected}; stderr: {err}");
                }
            }
            if let Some(needle) = &run.stdout_contains {
                if !out.contains(needle.as_str()) {
                    bail!("stdout lacks {needle:?}: {out:?}");
                }
            }
            if let Some(spawns) = &run.spawns {
                if &record.spawned != spawns {
                    bail!("spawned {:?}, expected {spawns:?}", record.spawned);
                }
            }
            if let Some(needle) = &run.denied {
                if !record.denied.iter().any(|d| d.contains(needle.as_str())) {
                    bail!("no denial names {needle:?} (denials: {:?})", record.denied);
                }
            }
            Ok(())
        });
        report.check(&run.tool, outcome);
    }
    let _ = bench.sessions.shutdown(&mut bench.vfs);
    Ok(())
}
