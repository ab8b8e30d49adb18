//! `devshell plugin new NAME`: a backend crate that builds outside this repository with plain
//! cargo, the contract it builds against vendored in it (`wit/backend.wit`, this devshell's
//! current contract) and its one dependency pinned to the version devshell itself uses. Owns
//! the templates beside this file; writes only the new directory, and nothing at all when it
//! exists.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The contract a new backend builds against: the one this devshell implements.
const WIT: &str = include_str!("../../../wit/0.2.0/backend.wit");
/// Kept equal to the workspace's `wit-bindgen` (`Cargo.lock`) by a test.
pub const WIT_BINDGEN: &str = "0.61.1";

const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("Cargo.toml.in")),
    (".cargo/config.toml", include_str!("cargo-config.toml.in")),
    ("manifest.json", include_str!("manifest.json.in")),
    ("src/lib.rs", include_str!("lib.rs.in")),
    ("README.md", include_str!("README.md.in")),
    ("scenarios/basic.toml", include_str!("basic.toml.in")),
    (".gitignore", "/target\n"),
    ("wit/backend.wit", WIT),
];

pub fn create(name: &str) -> Result<i32> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        bail!("{name:?} is not a valid backend name; accepted: lowercase letters, digits, '-' and '_', starting with a letter");
    }
    let dir = Path::new(name);
    if dir.exists() {
        bail!("{} already exists; choose another name or remove it", dir.display());
    }
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{contract}}", crate::plugin::CONTRACT_VERSION)
            .replace("{{wit_bindgen}}", WIT_BINDGEN)
            .replace("{{devshell_version}}", env!("CARGO_PKG_VERSION"))
    };
    // Built in a temp dir beside it and renamed: a failure leaves nothing half-made.
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staging = tempfile::Builder::new().prefix(".devshell-new").tempdir_in(parent)?;
    for (path, template) in FILES {
        let file = staging.path().join(path);
        std::fs::create_dir_all(file.parent().expect("relative file paths have a parent"))?;
        std::fs::write(&file, fill(template)).with_context(|| format!("cannot write {}", file.display()))?;
    }
    std::fs::rename(staging.keep(), dir).with_context(|| format!("cannot create {}", dir.display()))?;
    println!("created {name}/, a backend that runs every tool under `nice -n 10` (contract devshell:backend@{}).", crate::plugin::CONTRACT_VERSION);
    println!("Build and try it:\n  cd {name} && cargo build --release");
    println!("  devshell plugin install target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"));
    println!("  devshell plugin grant {name} --program 'nice -n 10 **' --dir staging");
    println!("  devshell plugin test {name} scenarios/basic.toml");
    Ok(0)
}
