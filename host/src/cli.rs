//! The command line: parse flags, load settings and the workspace, pick REPL / `-c` / script /
//! stdin, and on the way out shut the session down (final pull) and save the workspace.
//!
//! Every load and save happens with the workspace held (`lock`): a `-c` run, a script or stdin
//! holds it throughout; a REPL one entry at a time, taking up what others saved before each.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::blobs::BlobStore;
use crate::lock::{self, Stamp, WorkspaceLock};
use crate::manage::PluginCommand;
use crate::session::Sessions;
use crate::shell::Shell;
use crate::sync::SyncManifest;
use crate::vfs::Vfs;
use crate::{config, state};

#[derive(Parser, Debug)]
#[command(
    name = "devshell",
    version,
    about = "A development shell for Rust projects: an in-memory workspace, with cargo, rustup and rustc run in a sandboxed execution backend",
    after_help = "With no -c, -f or SCRIPT, reads commands from the terminal (a REPL) or, when stdin is not a terminal, from stdin.\n\
Environment: DEVSHELL_VM_BACKEND (host|auto|mock|…), DEVSHELL_VM=off, DEVSHELL_VM_WORKSPACE_MODE (sync|guest), DEVSHELL_VM_EAGER, \
DEVSHELL_VM_EXEC_TIMEOUT_MS, DEVSHELL_STATE, DEVSHELL_CONFIG, DEVSHELL_CACHE_DIR, \
DEVSHELL_RUSTUP_SHORTCUT=0 (always go through the rustup proxy), DEVSHELL_LOG (e.g. debug).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Run COMMAND and exit; ARGS become $1….
    #[arg(short = 'c', value_name = "COMMAND", conflicts_with = "file")]
    command: Option<String>,
    /// Run the script FILE (a host file) and exit; ARGS become $1….
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,
    /// Exit on the first failing command (as `set -e`).
    #[arg(short = 'e')]
    errexit: bool,
    /// The workspace state file [default: $DEVSHELL_STATE, else .devshell-state in the current directory].
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// Execution backend (overrides DEVSHELL_VM_BACKEND and the config file).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Start in workspace directory PATH [default: `/` for -c, -f, a SCRIPT or stdin, like a
    /// fresh shell; the directory the last REPL was left in for the REPL].
    #[arg(long, value_name = "PATH")]
    cwd: Option<String>,
    /// A script file to run (as with -f) and its arguments; with -c or -f, just the arguments.
    #[arg(value_name = "SCRIPT [ARGS]", trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
    #[command(subcommand)]
    subcommand: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Manage backend plugins: list, inspect, install, remove, grant, revoke, new.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// List staging dirs no workspace uses any more (its state file is gone or moved on).
    Gc {
        /// Delete them too.
        #[arg(long)]
        remove: bool,
    },
}

/// Entry point; returns the process exit status.
pub fn main() -> i32 {
    // Arguments that are not UTF-8 arrive with U+FFFD in place of the bad bytes.
    let mut args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    // `cargo devshell …` runs us as `cargo-devshell devshell …`.
    if args.get(1).map(String::as_str) == Some("devshell") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    init_logging();
    let result = match &cli.subcommand {
        Some(Commands::Plugin(command)) => crate::manage::run(command),
        Some(Commands::Gc { remove }) => gc(*remove),
        None => run_shell(cli),
    };
    result.unwrap_or_else(|e| {
        eprintln!("devshell: {e:#}");
        1
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEVSHELL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only on a terminal: a log redirected to a file stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// A non-interactive run: the whole unit holds the workspace.
struct Unit {
    source: String,
    /// Where the source came from, for syntax errors.
    origin: String,
    /// `$0`.
    script_name: String,
    /// What a devshell waiting for the workspace is shown.
    described: String,
}

fn run_shell(cli: Cli) -> Result<i32> {
    let settings = config::resolve(config::load_file()?, cli.backend.clone())?;
    let state_path = state::resolve_path(cli.state.clone());
    let (script, args) = match (&cli.command, &cli.file) {
        (None, None) if !cli.rest.is_empty() => (Some(PathBuf::from(&cli.rest[0])), cli.rest[1..].to_vec()),
        (_, file) => (file.clone(), cli.rest.clone()),
    };
    // Read before the workspace is held: a slow stdin must not keep other devshells waiting.
    let unit = if let Some(command) = &cli.command {
        Some(Unit {
            source: command.clone(),
            origin: "-c".into(),
            script_name: "devshell".into(),
            described: format!("devshell -c {command}"),
        })
    } else if let Some(file) = script {
        let source =
            std::fs::read_to_string(&file).with_context(|| format!("cannot read script {}", file.display()))?;
        let name = file.display().to_string();
        Some(Unit { source, origin: name.clone(), described: format!("devshell {name}"), script_name: name })
    } else if !std::io::stdin().is_terminal() {
        let mut source = String::new();
        std::io::stdin().read_to_string(&mut source).context("cannot read commands from stdin")?;
        Some(Unit {
            source,
            origin: "stdin".into(),
            script_name: "devshell".into(),
            described: "devshell (commands from stdin)".into(),
        })
    } else {
        None
    };

    let eager = settings.eager;
    let big_file = settings.max_file_bytes;
    let mut vfs = Vfs::default();
    let sessions = Sessions::new(settings, &state_path, SyncManifest::default(), &mut vfs);
    let mut shell = Shell::new(vfs, Box::new(sessions));
    shell.options.errexit = cli.errexit;
    let save_path = state_path.clone();
    shell.saver = Some(Box::new(move |shell: &Shell| {
        state::save(&save_path, &state::StateRef { vfs: &shell.vfs, cwd: &shell.cwd, sync: shell.backend.manifest() })?;
        Ok(format!("saved the workspace to {}", save_path.display()))
    }));
    let described = unit.as_ref().map_or("devshell (starting a REPL)", |unit| unit.described.as_str());
    // Before the SIGINT handler: Ctrl-C while waiting here simply ends devshell.
    let (mut workspace, held) = Workspace::open(state_path, big_file, &mut shell, described)?;
    // SIGINT stops a running script between commands; a tool that owns the terminal gets it itself.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGINT, || {
            crate::plugin::interrupt()
        })?;
    }
    if eager {
        if let Err(e) = shell.backend.start(&mut shell.vfs) {
            eprintln!("devshell: the backend did not start: {e:#}");
        }
    }

    // A script starts where a fresh shell would, so it gives the same result whatever ran
    // before it; the REPL resumes where it was left, and a script does not move that.
    let resume = shell.cwd.clone();
    if let Some(start) = cli.cwd.as_deref().or(unit.as_ref().map(|_| "/")) {
        let start = crate::vfs::resolve("/", start);
        if !shell.vfs.is_dir(&start) {
            anyhow::bail!("--cwd {start}: no such directory in the workspace");
        }
        shell.cwd = start;
    }
    let (status, held) = match unit {
        Some(unit) => {
            shell.set_positional(&unit.script_name, args);
            let status = finish(shell.run_source(&unit.source, &unit.origin));
            shell.cwd = resume;
            (status, held)
        }
        None => {
            // The REPL holds the workspace a line at a time, never while the prompt waits.
            workspace.save_if_changed(&shell)?;
            drop(held);
            shell.interactive = true;
            let status = crate::repl::run(&mut shell, |shell, line| workspace.run_line(shell, line));
            (status, workspace.hold(&mut shell, "devshell (leaving a REPL)")?)
        }
    };

    let mut vfs = std::mem::take(&mut shell.vfs);
    let shutdown = shell.backend.shutdown(&mut vfs);
    shell.vfs = vfs;
    if let Err(e) = &shutdown {
        eprintln!("devshell: {e:#}");
    }
    workspace.save_if_changed(&shell)?;
    drop(held);
    // The process ends right after this: freeing tens of thousands of paths one by one would only
    // delay the exit.
    std::mem::forget(shell);
    Ok(status)
}

/// The state file as this process last loaded or saved it. Every devshell loads and saves only
/// while it holds the workspace, so a state file whose stamp changed was saved by another one.
struct Workspace {
    path: PathBuf,
    stamp: Option<Stamp>,
    /// The workspace generation and current directory at the last load or save.
    generation: u64,
    cwd: String,
    /// The sync manifest's sync count at the last load or save.
    syncs: u64,
    /// Where the workspace's big files live (beside the state file).
    blobs: Arc<BlobStore>,
}

impl Workspace {
    /// Hold the workspace for `command` and load it into `shell`, with its saved directory
    /// (an empty workspace when there is no state file yet).
    fn open(path: PathBuf, big_file: u64, shell: &mut Shell, command: &str) -> Result<(Workspace, WorkspaceLock)> {
        let held = WorkspaceLock::acquire(&path, command)?;
        let blobs = Arc::new(BlobStore::beside(&path, big_file));
        let mut workspace = Workspace { path, stamp: None, generation: 0, cwd: String::new(), syncs: 0, blobs };
        workspace.load(shell, false)?;
        Ok((workspace, held))
    }

    /// Hold the workspace for `command`, first taking up what another devshell saved since this
    /// one last loaded or saved (keeping the current directory when it still exists).
    fn hold(&mut self, shell: &mut Shell, command: &str) -> Result<WorkspaceLock> {
        let held = WorkspaceLock::acquire(&self.path, command)?;
        let stamp = lock::state_stamp(&self.path);
        // A state file that disappeared was not saved by anyone: keep what this process has.
        if stamp.is_some() && stamp != self.stamp {
            self.load(shell, true)?;
        }
        Ok(held)
    }

    fn load(&mut self, shell: &mut Shell, keep_cwd: bool) -> Result<()> {
        let stamp = lock::state_stamp(&self.path);
        let loading = std::time::Instant::now();
        let saved = state::load(&self.path)?.unwrap_or_default();
        tracing::debug!(elapsed = ?loading.elapsed(), "state loaded");
        shell.vfs = saved.vfs;
        shell.vfs.set_blob_store(Arc::clone(&self.blobs));
        shell.backend.replace_manifest(saved.sync, &mut shell.vfs);
        let cwd = if keep_cwd { std::mem::take(&mut shell.cwd) } else { saved.cwd };
        shell.cwd = if shell.vfs.is_dir(&cwd) { cwd } else { "/".into() };
        self.stamp = stamp;
        self.generation = shell.vfs.generation();
        self.cwd.clone_from(&shell.cwd);
        self.syncs = shell.backend.manifest().syncs();
        Ok(())
    }

    /// True when the workspace or the sync manifest differs from what was last loaded or saved.
    /// A sync that changed the manifest counts itself, so no look at its entries is needed.
    fn changed(&self, shell: &Shell) -> bool {
        let manifest = shell.backend.manifest();
        shell.vfs.generation() != self.generation || shell.cwd != self.cwd || manifest.syncs() != self.syncs
    }

    /// Save the workspace if it changed; call with the workspace held.
    fn save_if_changed(&mut self, shell: &Shell) -> Result<()> {
        if self.changed(shell) {
            let saving = std::time::Instant::now();
            let manifest = shell.backend.manifest();
            state::save(&self.path, &state::StateRef { vfs: &shell.vfs, cwd: &shell.cwd, sync: manifest })
                .with_context(|| format!("cannot save the workspace to {}", self.path.display()))?;
            tracing::debug!(elapsed = ?saving.elapsed(), "state saved");
            self.generation = shell.vfs.generation();
            self.cwd.clone_from(&shell.cwd);
            self.syncs = manifest.syncs();
        }
        // Held, so a state file that changed since the last look was saved by `save` in this process.
        self.stamp = lock::state_stamp(&self.path);
        Ok(())
    }

    /// One REPL entry, run with the workspace held and saved after it if it changed.
    fn run_line(&mut self, shell: &mut Shell, line: &str) -> crate::shell::Status {
        let held = match self.hold(shell, &format!("devshell REPL: {line}")) {
            Ok(held) => held,
            Err(e) => {
                eprintln!("devshell: {e:#}");
                shell.last_status = 1;
                return Ok(1);
            }
        };
        let status = shell.run_source(line, "stdin");
        if let Err(e) = self.save_if_changed(shell) {
            eprintln!("devshell: {e:#}");
        }
        drop(held);
        status
    }
}

fn finish(status: crate::shell::Status) -> i32 {
    match status {
        Ok(code) => code,
        Err(flow) => flow.status(0),
    }
}

fn gc(remove: bool) -> Result<i32> {
    let base = config::cache_base().context("no cache dir; set DEVSHELL_CACHE_DIR")?.join("staging");
    let orphans =
        crate::sync::orphaned_staging_dirs(&base).with_context(|| format!("cannot list {}", base.display()))?;
    if orphans.is_empty() {
        println!("no orphaned staging dirs in {}", base.display());
    }
    for (dir, why) in &orphans {
        if remove {
            std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
            println!("removed {} ({why})", dir.display());
        } else {
            println!("{} ({why})", dir.display());
        }
    }
    if !remove && !orphans.is_empty() {
        println!("run `devshell gc --remove` to delete them");
    }
    Ok(0)
}
