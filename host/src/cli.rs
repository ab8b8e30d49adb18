//! The command line: parse flags, load settings and the workspace, pick REPL / `-c` / script /
//! stdin, and on the way out shut the session down (final pull) and save the workspace.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::plugin::{self, builtin, PluginSource};
use crate::session::Sessions;
use crate::shell::{Flow, Shell};
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
    /// A script file to run (as with -f) and its arguments; with -c or -f, just the arguments.
    #[arg(value_name = "SCRIPT [ARGS]", trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
    #[command(subcommand)]
    subcommand: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Inspect backend plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// List built-in and configured backends, what they ask for and what they are granted.
    List,
    /// Show the manifest and contract version of a component file.
    Inspect { file: PathBuf },
}

/// Entry point; returns the process exit status.
pub fn main() -> i32 {
    let mut args: Vec<String> = std::env::args().collect();
    // `cargo devshell …` runs us as `cargo-devshell devshell …`.
    if args.get(1).map(String::as_str) == Some("devshell") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    init_logging();
    let result = match &cli.subcommand {
        Some(Commands::Plugin(PluginCommand::List)) => plugin_list(),
        Some(Commands::Plugin(PluginCommand::Inspect { file })) => plugin_inspect(file),
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

/// A persistent staging dir per workspace (keyed by the state file's absolute path) under the
/// user's cache dir, so cargo's incremental state survives across runs.
fn staging_dir_for(state_path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(state_path)?;
    let key = blake3::hash(absolute.as_os_str().as_encoded_bytes()).to_hex();
    let base = config::cache_base().context("no home directory to put the staging dir in; set DEVSHELL_CACHE_DIR")?;
    Ok(base.join("staging").join(&key[..16]))
}

fn run_shell(cli: Cli) -> Result<i32> {
    let settings = config::resolve(config::load_file()?, cli.backend.clone())?;
    let state_path = state::resolve_path(cli.state.clone());
    let loading = std::time::Instant::now();
    let saved = state::load(&state_path)?.unwrap_or_default();
    tracing::debug!(elapsed = ?loading.elapsed(), "state loaded");
    let loaded_generation = saved.vfs.generation();
    let eager = settings.eager;
    let sessions = Sessions::new(settings, staging_dir_for(&state_path)?, saved.sync);
    let mut shell = Shell::new(saved.vfs, Box::new(sessions));
    if shell.vfs.is_dir(&saved.cwd) {
        shell.cwd = saved.cwd;
    }
    shell.errexit = cli.errexit;
    let save_path = state_path.clone();
    shell.saver = Some(Box::new(move |shell: &Shell| {
        state::save(&save_path, &state::StateRef { vfs: &shell.vfs, cwd: &shell.cwd, sync: shell.backend.manifest() })?;
        Ok(format!("saved the workspace to {}", save_path.display()))
    }));
    // SIGINT stops a running script between commands; a tool that owns the terminal gets it itself.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGINT, || {
            crate::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst)
        })?;
    }
    if eager {
        if let Err(e) = shell.backend.start(&mut shell.vfs) {
            eprintln!("devshell: the backend did not start: {e:#}");
        }
    }

    let (script, args) = match (&cli.command, &cli.file) {
        (None, None) if !cli.rest.is_empty() => (Some(PathBuf::from(&cli.rest[0])), cli.rest[1..].to_vec()),
        (_, file) => (file.clone(), cli.rest.clone()),
    };
    let status = if let Some(command) = &cli.command {
        shell.set_positional("devshell", args);
        finish(shell.run_source(command, "-c"))
    } else if let Some(file) = script {
        let source =
            std::fs::read_to_string(&file).with_context(|| format!("cannot read script {}", file.display()))?;
        shell.set_positional(&file.display().to_string(), args);
        finish(shell.run_source(&source, &file.display().to_string()))
    } else if !std::io::stdin().is_terminal() {
        let mut source = String::new();
        std::io::stdin().read_to_string(&mut source).context("cannot read commands from stdin")?;
        finish(shell.run_source(&source, "stdin"))
    } else {
        crate::repl::run(&mut shell)
    };

    let mut vfs = std::mem::take(&mut shell.vfs);
    let shutdown = shell.backend.shutdown(&mut vfs);
    shell.vfs = vfs;
    if let Err(e) = &shutdown {
        eprintln!("devshell: {e:#}");
    }
    let changed = shell.vfs.generation() != loaded_generation || shell.backend.manifest().is_dirty();
    if changed {
        let saving = std::time::Instant::now();
        state::save(&state_path, &state::StateRef { vfs: &shell.vfs, cwd: &shell.cwd, sync: shell.backend.manifest() })
            .with_context(|| format!("cannot save the workspace to {}", state_path.display()))?;
        tracing::debug!(elapsed = ?saving.elapsed(), "state saved");
    }
    // The process ends right after this: freeing tens of thousands of paths one by one would only
    // delay the exit.
    std::mem::forget(shell);
    Ok(status)
}

fn finish(status: crate::shell::Status) -> i32 {
    match status {
        Ok(code) => code,
        Err(Flow::Exit(code)) => code,
        Err(Flow::Break(_) | Flow::Continue(_)) => 0,
    }
}

fn plugin_list() -> Result<i32> {
    let file = config::load_file()?;
    let mut rows: Vec<(PluginSource, String)> =
        builtin::all().map(|s| (s, "yes (built-in grant)".to_string())).collect();
    for (name, plugin) in &file.plugins {
        let granted = match &plugin.grant {
            None => format!(
                "no: nothing granted; add [plugins.{name}.grant] to {}",
                config::config_path().map(|p| p.display().to_string()).unwrap_or_default()
            ),
            Some(g) => {
                format!("programs [{}], dirs [{}], network {}", g.programs.join(", "), g.dirs.join(", "), g.network)
            }
        };
        rows.push((PluginSource::File(plugin.path.clone()), granted));
    }
    for (source, granted) in rows {
        let described = source.read().and_then(|bytes| plugin::describe(&bytes));
        match described {
            Ok(d) => {
                let caps = &d.manifest.capabilities;
                println!(
                    "{} {} (contract {}, {})",
                    d.manifest.name,
                    d.manifest.version,
                    d.contract_version,
                    source.describe()
                );
                println!("    {}", d.manifest.description);
                println!(
                    "    requests: programs [{}], dirs [{}], network {}",
                    caps.programs.join(", "),
                    caps.dirs.join(", "),
                    caps.network
                );
                println!("    granted:  {granted}");
            }
            Err(e) => println!("{}: unusable: {e:#}", source.describe()),
        }
    }
    Ok(0)
}

fn plugin_inspect(file: &Path) -> Result<i32> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let d = plugin::describe(&bytes)
        .with_context(|| format!("{} is not a valid devshell backend component", file.display()))?;
    let compatible = if plugin::contract_compatible(&d.contract_version) { "compatible" } else { "INCOMPATIBLE" };
    println!("name:         {}", d.manifest.name);
    println!("version:      {}", d.manifest.version);
    println!("description:  {}", d.manifest.description);
    println!(
        "contract:     devshell:backend@{} ({compatible}; this devshell implements @{})",
        d.contract_version,
        plugin::CONTRACT_VERSION
    );
    println!("requests:     programs [{}]", d.manifest.capabilities.programs.join(", "));
    println!("              dirs [{}]", d.manifest.capabilities.dirs.join(", "));
    println!("              network {}", d.manifest.capabilities.network);
    Ok(if compatible == "compatible" { 0 } else { 1 })
}
