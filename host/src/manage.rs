//! `devshell plugin …`: managing backend plugins — list, inspect, install, remove, grant,
//! revoke; `test` (`plugin_test`) and `new` (an author's starting crate, `scaffold`).
//!
//! Owns the installed layout (`plugins/NAME/VERSION.wasm` beside the config file) and what these
//! commands print. Writes the config file only through [`config::edit_file`]; never starts a
//! session. A failed command leaves the config file and the installed plugins as they were.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::config;
use crate::plugin::cache::CompileCache;
use crate::plugin::grants::Grant;
use crate::plugin::manifest::Capabilities;
use crate::plugin::{self, builtin, PluginDescription, PluginSource, Runtime};

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// List built-in and configured backends, what they ask for and what they are granted.
    List,
    /// Show a backend's manifest, contract version and modes (a config name or a .wasm file).
    Inspect { plugin: String },
    /// Check a component (contract, manifest, exports; it is compiled), store it under its name
    /// and version, and point the config file's [plugins.NAME] at it, keeping any grant.
    Install { file: PathBuf },
    /// Remove an installed backend: its [plugins.NAME] entry and its stored components.
    Remove { name: String },
    /// Grant a backend capabilities (written to its [plugins.NAME] entry in the config file).
    Grant(GrantArgs),
    /// Take capabilities back (the same flags as grant; --all takes the whole grant).
    Revoke {
        #[command(flatten)]
        grant: GrantArgs,
        /// Revoke everything granted.
        #[arg(long)]
        all: bool,
    },
    /// Check a backend: the conformance check every backend must pass, then the scenario files
    /// given (see docs/writing-a-backend.md), through real sessions on a throwaway workspace.
    Test {
        /// The backend's name (built in or in the config file).
        name: String,
        /// Scenario files (TOML, `[[run]]` entries).
        scenarios: Vec<PathBuf>,
    },
    /// Create a backend crate to start from (builds outside this repository).
    New {
        /// The backend's name (letters, digits, `-`, `_`); also the directory created.
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The backend's name in the config file ([plugins.NAME]; `devshell plugin list` shows it).
    name: String,
    /// A program it may spawn, optionally with argv patterns ("*" one argument, a trailing
    /// "**" the rest): --program cargo, --program 'podman run **'.
    #[arg(long = "program", value_name = "PROGRAM [PATTERN…]")]
    programs: Vec<String>,
    /// A directory it and its tools may read and write: `staging` or an absolute host path.
    #[arg(long = "dir", value_name = "DIR")]
    dirs: Vec<String>,
    /// An absolute host directory they may only read.
    #[arg(long = "read-dir", value_name = "DIR")]
    read_dirs: Vec<String>,
    /// A variable it may set for its programs beyond the default set.
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// Its tools may use the network.
    #[arg(long)]
    network: bool,
}

impl GrantArgs {
    /// (config field, values) for every list flag given.
    fn lists(&self) -> [(&'static str, &[String]); 4] {
        [("programs", &self.programs), ("dirs", &self.dirs), ("read_dirs", &self.read_dirs), ("env", &self.env)]
    }

    fn is_empty(&self) -> bool {
        self.lists().iter().all(|(_, values)| values.is_empty()) && !self.network
    }
}

pub fn run(command: &PluginCommand) -> Result<i32> {
    match command {
        PluginCommand::List => list(),
        PluginCommand::Inspect { plugin } => inspect(plugin),
        PluginCommand::Install { file } => install(file),
        PluginCommand::Remove { name } => remove(name),
        PluginCommand::Grant(args) => grant(args),
        PluginCommand::Revoke { grant, all } => revoke(grant, *all),
        PluginCommand::Test { name, scenarios } => crate::plugin_test::run(name, scenarios),
        PluginCommand::New { name } => crate::scaffold::create(name),
    }
}

/// The workspace modes a component serves, from its exports.
fn modes(description: &PluginDescription) -> &'static str {
    if description.guest_fs {
        "sync and guest modes"
    } else {
        "sync mode only"
    }
}

/// `compatible`, or why this devshell will not load it.
fn compatibility(description: &PluginDescription) -> String {
    if plugin::contract_compatible(&description.contract_version) {
        "compatible".into()
    } else {
        format!("INCOMPATIBLE: this devshell loads {}, so it will not load", plugin::loadable_versions())
    }
}

fn list() -> Result<i32> {
    let file = config::load_file()?;
    let mut rows: Vec<(String, PluginSource, String)> = builtin::all()
        .map(|s| {
            let name = match &s {
                PluginSource::Builtin { name, .. } => name.to_string(),
                PluginSource::File(path) => path.display().to_string(),
            };
            (name, s, "yes (built-in grant)".to_string())
        })
        .collect();
    for (name, plugin) in &file.plugins {
        let granted = match &plugin.grant {
            None => format!("nothing yet; allow what it asks for with `devshell plugin grant {name} …`"),
            Some(granted) => granted.to_string(),
        };
        rows.push((name.clone(), PluginSource::File(plugin.path.clone()), granted));
    }
    println!(
        "Tools a backend spawns run confined to its grant (dirs, network); here that is {}.\n",
        plugin::confine::kernel_support()
    );
    for (name, source, granted) in rows {
        match source.read().and_then(|bytes| plugin::describe(&bytes)) {
            Ok(d) => {
                let compatible = compatibility(&d);
                let marker = if compatible == "compatible" { String::new() } else { format!(" {compatible}") };
                let key = if name == d.manifest.name { String::new() } else { format!("{name}: ") };
                println!(
                    "{key}{} {} (contract {}, {}, {}){marker}",
                    d.manifest.name,
                    d.manifest.version,
                    d.contract_version,
                    modes(&d),
                    source.describe()
                );
                println!("    {}", d.manifest.description);
                println!("    requests: {}", d.manifest.capabilities);
                println!("    granted:  {granted}");
            }
            Err(e) => println!("{name}: unusable ({}): {e:#}", source.describe()),
        }
    }
    Ok(0)
}

/// A config name, a built-in name, or a file.
fn source_of(plugin: &str) -> Result<PluginSource> {
    if Path::new(plugin).is_file() {
        return Ok(PluginSource::File(plugin.into()));
    }
    if let Some(source) = builtin::find(plugin) {
        return Ok(source);
    }
    match config::load_file()?.plugins.get(plugin) {
        Some(entry) => Ok(PluginSource::File(entry.path.clone())),
        None => bail!("{plugin:?} is neither a file nor a backend in the config file (`devshell plugin list` shows them)"),
    }
}

fn inspect(plugin: &str) -> Result<i32> {
    let source = source_of(plugin)?;
    let bytes = source.read()?;
    let d = plugin::describe(&bytes)
        .with_context(|| format!("{} is not a valid devshell backend component", source.describe()))?;
    let compatible = compatibility(&d);
    println!("name:         {}", d.manifest.name);
    println!("version:      {}", d.manifest.version);
    println!("description:  {}", d.manifest.description);
    println!("contract:     devshell:backend@{} ({compatible})", d.contract_version);
    println!("modes:        {}", modes(&d));
    println!("requests:     {}", d.manifest.capabilities);
    Ok(if compatible == "compatible" { 0 } else { 1 })
}

/// Names become directory names and config keys: keep them plain.
fn check_name(name: &str, what: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.');
    if !plain {
        bail!("{what} {name:?} is not valid; accepted: up to 64 letters, digits, '-', '_' or '.', not starting with '.'");
    }
    Ok(())
}

fn install(file: &Path) -> Result<i32> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let refused = || format!("{} was not installed", file.display());
    let d = plugin::describe(&bytes).with_context(refused)?;
    // Compiled and linked exactly as a session would load it: what installs is what runs.
    Runtime::new(CompileCache::new(None))?.load(&PluginSource::File(file.to_path_buf())).with_context(refused)?;
    let name = d.manifest.name.clone();
    check_name(&name, "its manifest name").with_context(refused)?;
    check_name(&d.manifest.version, "its manifest version").with_context(refused)?;
    if config::BUILTIN_BACKENDS.contains(&name.as_str()) || matches!(name.as_str(), "host" | "auto") {
        bail!("{}: its name `{name}` is a built-in backend's; rename it in its manifest", refused());
    }

    let dir = config::plugins_dir().context("no config dir to install into; set DEVSHELL_CONFIG")?.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dest = dir.join(format!("{}.wasm", d.manifest.version));
    let existed = dest.exists();
    let mut temp = tempfile::Builder::new().prefix(".installing").tempfile_in(&dir)?;
    std::io::Write::write_all(&mut temp, &bytes)?;
    temp.persist(&dest).map_err(|e| e.error).with_context(|| format!("cannot store {}", dest.display()))?;
    let written = config::edit_file(|doc| {
        let entry = plugin_entry(doc, &name, true)?;
        entry.insert("path", toml_edit::value(dest.to_string_lossy().as_ref()));
        Ok(())
    });
    let config_path = match written {
        Ok(path) => path,
        Err(e) => {
            if !existed {
                let _ = std::fs::remove_file(&dest);
            }
            return Err(e.context(refused()));
        }
    };
    println!(
        "installed {name} {} (contract {}, {}) as {}",
        d.manifest.version,
        d.contract_version,
        modes(&d),
        dest.display()
    );
    println!("it asks for: {}", d.manifest.capabilities);
    let granted = config::load_file()?.plugins.get(&name).and_then(|p| p.grant.clone());
    match granted {
        Some(granted) => println!("granted:     {granted} ([plugins.{name}] in {})", config_path.display()),
        None => println!(
            "granted:     nothing yet; allow what it needs with {}, then run it with `devshell --backend {name}`",
            grant_command(&name, &d.manifest.capabilities)
        ),
    }
    Ok(0)
}

/// `devshell plugin grant NAME --program … …` for everything in `caps`.
pub fn grant_command(name: &str, caps: &Capabilities) -> String {
    let mut command = format!("`devshell plugin grant {name}");
    let quoted = |value: &str| if value.contains(' ') || value.contains('*') { format!("'{value}'") } else { value.into() };
    for (flag, values) in
        [("program", &caps.programs), ("dir", &caps.dirs), ("read-dir", &caps.read_dirs), ("env", &caps.env)]
    {
        for value in values {
            command += &format!(" --{flag} {}", quoted(value));
        }
    }
    if caps.network {
        command += " --network";
    }
    command + "`"
}

/// `[plugins.NAME]` as a table (created when `create`), whatever way the file spells it.
fn plugin_entry<'a>(
    doc: &'a mut toml_edit::DocumentMut,
    name: &str,
    create: bool,
) -> Result<&'a mut dyn toml_edit::TableLike> {
    if !create && doc.get("plugins").and_then(|p| p.get(name)).is_none() {
        bail!(
            "there is no backend `{name}` in the config file; install it first (`devshell plugin install FILE.wasm`)"
        );
    }
    let plugins = doc.entry("plugins").or_insert_with(|| {
        let mut table = toml_edit::Table::new();
        table.set_implicit(true);
        toml_edit::Item::Table(table)
    });
    let plugins = plugins.as_table_like_mut().context("`plugins` in the config file is not a table")?;
    let entry = plugins.entry(name).or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    entry.as_table_like_mut().with_context(|| format!("[plugins.{name}] in the config file is not a table"))
}

fn remove(name: &str) -> Result<i32> {
    if config::BUILTIN_BACKENDS.contains(&name) {
        bail!("`{name}` is built in; it cannot be removed");
    }
    let path = config::edit_file(|doc| {
        plugin_entry(doc, name, false)?;
        let plugins = doc["plugins"].as_table_like_mut().expect("checked by plugin_entry");
        plugins.remove(name);
        Ok(())
    })?;
    let stored = config::plugins_dir().map(|d| d.join(name)).filter(|d| d.is_dir());
    if let Some(stored) = &stored {
        std::fs::remove_dir_all(stored).with_context(|| format!("cannot remove {}", stored.display()))?;
    }
    println!(
        "removed {name}: its entry in {}{}",
        path.display(),
        stored.map(|d| format!(" and its components in {}", d.display())).unwrap_or_default()
    );
    Ok(0)
}

fn grant(args: &GrantArgs) -> Result<i32> {
    if args.is_empty() {
        bail!("say what to grant: --program, --dir, --read-dir, --env or --network (see `devshell plugin grant --help`)");
    }
    // Checked now by the rules a session applies, not first at the next start.
    let dirs = args.dirs.iter().map(|d| (d, true)).chain(args.read_dirs.iter().map(|d| (d, false)));
    for (dir, writable) in dirs.filter(|(d, _)| d.as_str() != "staging") {
        Grant::default().allow_dir(Path::new(dir), dir, writable)?;
    }
    edit_grant(&args.name, |grant| {
        for (field, values) in args.lists() {
            let list = string_list(grant, field)?;
            for value in values {
                if !list.iter().any(|v| v.as_str() == Some(value.as_str())) {
                    list.push(value.as_str());
                }
            }
        }
        if args.network {
            grant.insert("network", toml_edit::value(true));
        }
        Ok(())
    })
}

fn revoke(args: &GrantArgs, all: bool) -> Result<i32> {
    if args.is_empty() && !all {
        bail!("say what to revoke: --program, --dir, --read-dir, --env, --network, or --all");
    }
    edit_grant(&args.name, |grant| {
        if all {
            grant.clear();
            return Ok(());
        }
        for (field, values) in args.lists() {
            let list = string_list(grant, field)?;
            list.retain(|v| !values.iter().any(|value| v.as_str() == Some(value.as_str())));
        }
        if args.network {
            grant.insert("network", toml_edit::value(false));
        }
        Ok(())
    })
}

/// Change `[plugins.NAME].grant` (created if absent), then show what it now is.
fn edit_grant(name: &str, change: impl FnOnce(&mut dyn toml_edit::TableLike) -> Result<()>) -> Result<i32> {
    let path = config::edit_file(|doc| {
        let entry = plugin_entry(doc, name, false)?;
        let grant = entry.entry("grant").or_insert(toml_edit::value(toml_edit::InlineTable::new()));
        let grant = grant.as_table_like_mut().with_context(|| format!("[plugins.{name}].grant is not a table"))?;
        change(grant)
    })?;
    let granted = config::load_file()?.plugins.get(name).and_then(|p| p.grant.clone()).unwrap_or_default();
    println!("{name} is now granted: {granted} ([plugins.{name}] in {})", path.display());
    Ok(0)
}

fn string_list<'a>(grant: &'a mut dyn toml_edit::TableLike, field: &str) -> Result<&'a mut toml_edit::Array> {
    grant
        .entry(field)
        .or_insert(toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .with_context(|| format!("`{field}` in the grant is not a list"))
}
