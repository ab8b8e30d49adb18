//! Confinement of the processes a plugin spawns, derived from its grant, with Linux Landlock.
//!
//! A program grant means something only if what the program starts is bounded too: a build
//! tool run in a plugin-writable directory runs plugin-written code (build scripts, toolchain
//! files, cargo config). So every spawned process tree may write only in the granted
//! directories, cargo's registry and git caches and a private temp dir; read those plus the
//! system and toolchain directories; connect or bind TCP only when the grant allows network;
//! and signal or reach abstract sockets only inside its own sandbox; nor type into the user's
//! terminal (a seccomp filter refuses `TIOCSTI`). The ruleset is built once
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

/// What every tool may read and execute: the system, the toolchain and git's settings. Of
/// `CARGO_HOME`, only what a build reads (not `credentials.toml`).
fn read_only_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> =
        ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/run"]
            .iter()
            .map(PathBuf::from)
            .collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    paths.extend(std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| Some(home.clone()?.join(".rustup"))));
    if let Some(cargo) = cargo_home() {
        paths.extend(["bin", "config.toml", "config"].iter().map(|name| cargo.join(name)));
    }
    // git's own settings, which cargo (`cargo new`, git dependencies) reads; not its
    // credentials store.
    if let Some(home) = &home {
        paths.push(home.join(".gitconfig"));
        let config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".config"));
        paths.push(config.join("git/config"));
        paths.push(config.join("git/ignore"));
    }
    paths
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".cargo")))
}

/// The caches a build writes besides the project: cargo's registry and git checkouts (made
/// now if missing, since a rule needs an existing path).
fn writable_caches() -> Vec<PathBuf> {
    let caches: Vec<PathBuf> =
        cargo_home().map(|home| vec![home.join("registry"), home.join("git")]).unwrap_or_default();
    for cache in &caches {
        let _ = std::fs::create_dir_all(cache);
    }
    caches
}

/// A ruleset ready to apply to spawned processes (none when Landlock is not available).
#[derive(Debug)]
pub struct Confinement {
    ruleset: Option<OwnedFd>,
    /// The seccomp filter: the terminal, io_uring, and without network every socket family
    /// that reaches out (Landlock governs TCP only, not UDP, raw or unix-path sockets).
    filter: &'static [libc::sock_filter],
    /// What this kernel does not enforce, if anything.
    pub shortfall: Option<String>,
}

impl Confinement {
    /// The policy for a plugin granted `writable` dirs (its temp dir among them), `readable`
    /// ones (where its granted programs are) and `network`, as fully as this kernel enforces it.
    pub fn new(writable: &[PathBuf], readable: &[PathBuf], network: bool) -> Confinement {
        let filter: &'static [libc::sock_filter] = if network { &ONLINE } else { &OFFLINE };
        let (ruleset, shortfall) = match build(writable, readable, network) {
            Ok((ruleset, Enforcement::Full)) => (ruleset, None),
            Ok((ruleset, Enforcement::Partial)) => {
                (ruleset, Some("this kernel's Landlock enforces only part of the confinement of spawned tools".into()))
            }
            Ok((_, Enforcement::None)) => {
                (None, Some("this kernel has no Landlock: spawned tools run unconfined".into()))
            }
            Err(e) => (None, Some(format!("cannot set up Landlock ({e}): spawned tools run unconfined"))),
        };
        Confinement { ruleset, filter, shortfall }
    }

    /// A copy for one child: the ruleset's descriptor, duplicated.
    pub fn for_child(&self) -> std::io::Result<ChildConfinement> {
        let ruleset = self.ruleset.as_ref().map(OwnedFd::try_clone).transpose()?;
        Ok(ChildConfinement { ruleset, filter: self.filter })
    }
}

/// The confinement one child applies to itself between fork and exec.
#[derive(Debug)]
pub struct ChildConfinement {
    ruleset: Option<OwnedFd>,
    filter: &'static [libc::sock_filter],
}

impl ChildConfinement {
    /// Restrict the calling process. Runs in the child after fork: only async-signal-safe
    /// calls (two syscalls), no allocation.
    pub fn apply(&self) -> std::io::Result<()> {
        // SAFETY: plain syscalls with integer arguments and a pointer to a static filter.
        unsafe {
            // Descriptors devshell inherited (beyond stdio) do not reach the tool.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // No typing into the user's terminal (TIOCSTI), which would run commands as devshell;
            // without network, no sockets that reach out.
            let filter = libc::sock_fprog { len: self.filter.len() as u16, filter: self.filter.as_ptr() as *mut _ };
            if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &filter as *const libc::sock_fprog) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let Some(ruleset) = &self.ruleset else { return Ok(()) };
            if libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

const fn bpf(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The syscall ABI the filters admit (`AUDIT_ARCH_*`); any other (i386 `int 0x80`, say) is
/// refused outright, and so are x32 numbers (bit 30), so nothing is reached by another number.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Seccomp filters, as bubblewrap uses them where Landlock has no rule: refuse (EPERM)
/// `ioctl(fd, TIOCSTI | TIOCLINUX, …)` always; make io_uring absent (ENOSYS, which programs
/// fall back from), since its operations open sockets and files without the syscalls a filter
/// sees; and with `block_sockets`, refuse `socket()` of every family but netlink (local
/// kernel queries); allow everything else.
const fn seccomp_filter(block_sockets: bool) -> [libc::sock_filter; FILTER_LEN] {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    // Offsets in struct seccomp_data: nr, arch, args[0], args[1] (low words, little-endian).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG0: u32 = 16;
    const ARG1: u32 = 24;
    const DENY: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const NOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    // With sockets allowed, the socket test compares against a number no syscall has.
    let socket = if block_sockets { libc::SYS_socket as u32 } else { u32::MAX };
    // Jump offsets count from the next instruction; the comments give the target's index.
    [
        bpf(LD_W_ABS, ARCH, 0, 0), // 0
        bpf(JEQ_K, AUDIT_ARCH, 1, 0),
        bpf(RET_K, DENY, 0, 0),
        bpf(LD_W_ABS, NR, 0, 0),
        bpf(JGE_K, 0x4000_0000, 13, 0),                        // -> 18 deny (x32 numbers)
        bpf(JEQ_K, libc::SYS_ioctl as u32, 5, 0),              // -> 11
        bpf(JEQ_K, libc::SYS_io_uring_setup as u32, 12, 0),    // -> 19 nosys
        bpf(JEQ_K, libc::SYS_io_uring_enter as u32, 11, 0),    // -> 19
        bpf(JEQ_K, libc::SYS_io_uring_register as u32, 10, 0), // -> 19
        bpf(JEQ_K, socket, 5, 0),                              // -> 15
        bpf(RET_K, ALLOW, 0, 0),
        bpf(LD_W_ABS, ARG1, 0, 0),                // 11: ioctl request
        bpf(JEQ_K, libc::TIOCSTI as u32, 5, 0),   // -> 18
        bpf(JEQ_K, libc::TIOCLINUX as u32, 4, 0), // -> 18
        bpf(RET_K, ALLOW, 0, 0),
        bpf(LD_W_ABS, ARG0, 0, 0),                 // 15: socket family
        bpf(JEQ_K, libc::AF_NETLINK as u32, 0, 1), // -> 17 allow, else 18
        bpf(RET_K, ALLOW, 0, 0),
        bpf(RET_K, DENY, 0, 0),  // 18
        bpf(RET_K, NOSYS, 0, 0), // 19
    ]
}

const FILTER_LEN: usize = 20;
static ONLINE: [libc::sock_filter; FILTER_LEN] = seccomp_filter(false);
static OFFLINE: [libc::sock_filter; FILTER_LEN] = seccomp_filter(true);

/// The ruleset's descriptor and how much of it this kernel enforces. The descriptor is taken
/// from a ruleset that is never applied to devshell itself.
fn build(
    writable: &[PathBuf],
    readable: &[PathBuf],
    network: bool,
) -> Result<(Option<OwnedFd>, Enforcement), landlock::RulesetError> {
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::BestEffort);
    ruleset = ruleset.handle_access(AccessFs::from_all(TARGET_ABI))?;
    if !network {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    let mut created = ruleset.create()?;
    let read = AccessFs::from_read(TARGET_ABI);
    for dir in read_only_paths().iter().chain(readable).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([dir], read))?;
    }
    let all = AccessFs::from_all(TARGET_ABI);
    for dir in writable.iter().chain(&writable_caches()).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([dir], all))?;
    }
    // The devices tools open by path; not the rest of /dev (raw disks, for one).
    let devices = ["/dev/null", "/dev/tty", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];
    for device in devices.iter().map(Path::new).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([device], AccessFs::from_file(TARGET_ABI)))?;
    }
    Ok((created.into(), enforcement()))
}

/// How fully this kernel confines spawned tools, in a phrase for `plugin list`.
pub fn kernel_support() -> &'static str {
    match enforcement() {
        Enforcement::Full => "fully enforced by this kernel's Landlock",
        Enforcement::Partial => "only partly enforced: this kernel's Landlock is older than the policy",
        Enforcement::None => "NOT enforced: this kernel has no Landlock",
    }
}

/// How fully this kernel enforces the policy's kind of ruleset.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Enforcement {
    Full,
    Partial,
    None,
}

/// Asked once per process, of a throwaway thread that restricts only itself: the kernel does
/// not change while devshell runs, and every plugin instance would otherwise ask again.
fn enforcement() -> Enforcement {
    static PROBED: std::sync::OnceLock<Enforcement> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| match probe_status() {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        _ => Enforcement::None,
    })
}

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
