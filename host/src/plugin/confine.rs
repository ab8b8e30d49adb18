//! Confinement of the processes a plugin spawns, derived from its grant, with Linux Landlock.
//!
//! A program grant means something only if what the program starts is bounded too: a build
//! tool run in a plugin-writable directory runs plugin-written code (build scripts, toolchain
//! files, cargo config). So every spawned process tree may write only in the granted
//! directories, cargo's registry and git caches and a private temp dir; read those plus the
//! system and toolchain directories; connect or bind TCP only when the grant allows network;
//! and signal or reach abstract sockets only inside its own sandbox. The ruleset is built once
//! per plugin instance; each spawn applies a duplicate of it between fork and exec. Owns only
//! the policy and its application; what is granted is decided in `grants`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, RestrictionStatus, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};

/// The newest Landlock ABI this policy is written for (Linux 6.12+); older kernels get what they
/// support.
const TARGET_ABI: ABI = ABI::V6;

/// Directories every tool may read and execute from: the system and the toolchain.
fn read_only_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/dev", "/run"]
            .iter()
            .map(PathBuf::from)
            .collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    dirs.extend(std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| Some(home.clone()?.join(".rustup"))));
    dirs.extend(cargo_home());
    dirs
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cargo")))
}

/// The caches a build writes besides the project: cargo's registry and git checkouts.
fn writable_caches() -> Vec<PathBuf> {
    cargo_home().map(|home| vec![home.join("registry"), home.join("git")]).unwrap_or_default()
}

/// A ruleset ready to apply to spawned processes (none when Landlock is not available).
#[derive(Debug)]
pub struct Confinement {
    ruleset: Option<OwnedFd>,
    /// What this kernel does not enforce, if anything.
    pub shortfall: Option<String>,
}

impl Confinement {
    /// The policy for a plugin granted `writable` dirs (its temp dir among them), `readable`
    /// ones (where its granted programs are) and `network`, as fully as this kernel enforces it.
    pub fn new(writable: &[PathBuf], readable: &[PathBuf], network: bool) -> Confinement {
        match build(writable, readable, network) {
            Ok((ruleset, RulesetStatus::FullyEnforced)) => Confinement { ruleset, shortfall: None },
            Ok((ruleset, RulesetStatus::PartiallyEnforced)) => Confinement {
                ruleset,
                shortfall: Some("this kernel's Landlock enforces only part of the confinement of spawned tools".into()),
            },
            Ok((_, _)) => Confinement {
                ruleset: None,
                shortfall: Some("this kernel has no Landlock: spawned tools run unconfined".into()),
            },
            Err(e) => Confinement {
                ruleset: None,
                shortfall: Some(format!("cannot set up Landlock ({e}): spawned tools run unconfined")),
            },
        }
    }

    /// A copy for one child: the ruleset's descriptor, duplicated.
    pub fn for_child(&self) -> std::io::Result<ChildConfinement> {
        Ok(ChildConfinement { ruleset: self.ruleset.as_ref().map(OwnedFd::try_clone).transpose()? })
    }
}

/// The confinement one child applies to itself between fork and exec.
#[derive(Debug)]
pub struct ChildConfinement {
    ruleset: Option<OwnedFd>,
}

impl ChildConfinement {
    /// Restrict the calling process. Runs in the child after fork: only async-signal-safe
    /// calls (two syscalls), no allocation.
    pub fn apply(&self) -> std::io::Result<()> {
        let Some(ruleset) = &self.ruleset else { return Ok(()) };
        // SAFETY: plain syscalls with integer arguments.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// The ruleset's descriptor and how much of it this kernel enforces. The descriptor is taken
/// from a ruleset that is never applied to devshell itself.
fn build(
    writable: &[PathBuf],
    readable: &[PathBuf],
    network: bool,
) -> Result<(Option<OwnedFd>, RulesetStatus), landlock::RulesetError> {
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::BestEffort);
    ruleset = ruleset.handle_access(AccessFs::from_all(TARGET_ABI))?;
    if !network {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    let mut created = ruleset.create()?;
    let read = AccessFs::from_read(TARGET_ABI);
    for dir in read_only_dirs().iter().chain(readable).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([dir], read))?;
    }
    let all = AccessFs::from_all(TARGET_ABI);
    for dir in writable.iter().chain(&writable_caches()).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([dir], all))?;
    }
    // Tools write to /dev/null (and read /dev/tty) by path.
    for device in ["/dev/null", "/dev/tty", "/dev/zero", "/dev/full"].iter().map(Path::new).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([device], AccessFs::from_file(TARGET_ABI)))?;
    }
    // Learn the enforcement level without restricting ourselves: a clone answers for the ruleset.
    let status = probe_status();
    Ok((created.into(), status))
}

/// How fully this kernel would enforce the policy, asked of a throwaway thread.
fn probe_status() -> RulesetStatus {
    std::thread::spawn(|| -> RulesetStatus {
        let probe = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(TARGET_ABI))
            .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
            .and_then(|r| r.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp))
            .and_then(|r| r.create())
            .and_then(|r| r.add_rules(landlock::path_beneath_rules(["/"], AccessFs::from_all(TARGET_ABI))))
            .and_then(|r| r.restrict_self());
        match probe {
            Ok(RestrictionStatus { ruleset, .. }) => ruleset,
            Err(_) => RulesetStatus::NotEnforced,
        }
    })
    .join()
    .unwrap_or(RulesetStatus::NotEnforced)
}
