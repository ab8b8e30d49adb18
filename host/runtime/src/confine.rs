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
        // Of /run, only the resolver's files (/etc/resolv.conf points there); the rest holds
        // other programs' sockets and secrets (/run/secrets, /run/user/UID).
        ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt", "/proc", "/sys", "/run/systemd/resolve"]
            .iter()
            .map(PathBuf::from)
            .collect();
    paths.extend(etc_without_secrets(Path::new("/etc")));
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

/// What under /etc holds secrets a tool run as root could otherwise read (a tool keeps uid 0;
/// only its capabilities go): password hashes, sudo rules, host keys, TLS private keys.
const ETC_SECRETS: &[&str] = &["shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl/private", "security/opasswd"];

/// The entries of /etc, each its own read rule, with [`ETC_SECRETS`] left out (Landlock only
/// allows, so a secret is kept out by not listing it; its siblings are listed one by one).
fn etc_without_secrets(etc: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(etc) else { return Vec::new() };
    let mut allowed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path.strip_prefix("/etc").unwrap_or(&path).to_string_lossy().into_owned();
        if ETC_SECRETS.contains(&relative.as_str()) {
            continue;
        }
        let holds_secret = ETC_SECRETS.iter().any(|s| s.starts_with(&format!("{relative}/")));
        if holds_secret && entry.file_type().is_ok_and(|t| t.is_dir()) {
            allowed.extend(etc_without_secrets(&path));
        } else {
            allowed.push(path);
        }
    }
    allowed
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
    /// The policy for a plugin granted `writable` dirs, a private `scratch` dir (the tools'
    /// `TMPDIR`), `readable` ones (where its granted programs are) and `network`, as fully as
    /// this kernel enforces it.
    pub fn new(writable: &[PathBuf], scratch: &Path, readable: &[PathBuf], network: bool) -> Confinement {
        let filter = if network { online_filter() } else { offline_filter() };
        let (ruleset, shortfall) = match build(writable, scratch, readable, network) {
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
            drop_capabilities()?;
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

/// No capability survives into a tool, so one run as root gets past no check (a capability
/// such as CAP_SYS_PTRACE or CAP_DAC_OVERRIDE overrides Landlock's and the file modes'):
/// the bounding and ambient sets are emptied, then the process's own sets. Async-signal-safe.
unsafe fn drop_capabilities() -> std::io::Result<()> {
    unsafe {
        for cap in 0..64 {
            // EINVAL past the kernel's last capability, EPERM without CAP_SETPCAP (then there
            // is nothing in the bounding set worth dropping for us): either way, go on.
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const VERSION_3: u32 = 0x2008_0522;
        let header = Header { version: VERSION_3, pid: 0 };
        let data = [Data { effective: 0, permitted: 0, inheritable: 0 }, Data { effective: 0, permitted: 0, inheritable: 0 }];
        if libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
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

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
/// Offsets in struct seccomp_data: the syscall number, the arch, and the low word (little
/// endian) of argument N at `ARG + 8 * N`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG: u32 = 16;
const DENY: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const NOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

/// One syscall's rule: when the call is `nr`, `body` decides (it ends in a return); any other
/// call skips it.
fn rule(nr: libc::c_long, body: Vec<libc::sock_filter>) -> Vec<libc::sock_filter> {
    let mut out = vec![bpf(LD_W_ABS, NR, 0, 0), bpf(JEQ_K, nr as u32, 0, body.len() as u8)];
    out.extend(body);
    out
}

/// Deny when argument `arg` is one of `values`, else allow.
fn deny_values(arg: u32, values: &[u32]) -> Vec<libc::sock_filter> {
    let n = values.len();
    let mut body = vec![bpf(LD_W_ABS, ARG + 8 * arg, 0, 0)];
    body.extend(values.iter().enumerate().map(|(i, v)| bpf(JEQ_K, *v, (n - i) as u8, 0)));
    body.extend([bpf(RET_K, ALLOW, 0, 0), bpf(RET_K, DENY, 0, 0)]);
    body
}

/// Deny when argument `arg` has any of the bits in `mask`, else allow.
fn deny_bits(arg: u32, mask: u32) -> Vec<libc::sock_filter> {
    vec![bpf(LD_W_ABS, ARG + 8 * arg, 0, 0), bpf(JSET_K, mask, 1, 0), bpf(RET_K, ALLOW, 0, 0), bpf(RET_K, DENY, 0, 0)]
}

/// Seccomp, as bubblewrap uses it where Landlock has no rule (EPERM unless said otherwise):
/// * the terminal: no typing into it (`TIOCSTI`, `TIOCLINUX`), no taking it over (`TIOCSPGRP`,
///   `TIOCSCTTY`), no joining another process group (`setpgid` to a group other than a new one
///   of its own: devshell's, which owns the terminal);
/// * io_uring is absent (ENOSYS, which programs fall back from): its operations open sockets
///   and files without the syscalls a filter sees;
/// * no user namespace (`unshare`/`clone` with `CLONE_NEWUSER`; `clone3`, whose flags a filter
///   cannot read, is ENOSYS and libc falls back to `clone`): inside one a tool holds every
///   capability again;
/// * no unix socket by path: `socket(AF_UNIX)` always (docker, ssh-agent, the user's D-Bus),
///   and unconnected datagram pairs (`socketpair(…, SOCK_DGRAM)`, whose `sendto` takes a path);
/// * without network (`block_sockets`), no socket of any family but netlink.
fn seccomp_filter(block_sockets: bool) -> Vec<libc::sock_filter> {
    let mut filter = vec![
        bpf(LD_W_ABS, ARCH, 0, 0),
        bpf(JEQ_K, AUDIT_ARCH, 1, 0),
        bpf(RET_K, DENY, 0, 0),
        bpf(LD_W_ABS, NR, 0, 0),
        bpf(JGE_K, 0x4000_0000, 0, 1), // x32 numbers
        bpf(RET_K, DENY, 0, 0),
    ];
    let terminal = [libc::TIOCSTI, libc::TIOCLINUX, libc::TIOCSPGRP, libc::TIOCSCTTY].map(|r| r as u32);
    filter.extend(rule(libc::SYS_ioctl, deny_values(1, &terminal)));
    for io_uring in [libc::SYS_io_uring_setup, libc::SYS_io_uring_enter, libc::SYS_io_uring_register] {
        filter.extend(rule(io_uring, vec![bpf(RET_K, NOSYS, 0, 0)]));
    }
    filter.extend(rule(libc::SYS_clone3, vec![bpf(RET_K, NOSYS, 0, 0)]));
    filter.extend(rule(libc::SYS_unshare, deny_bits(0, libc::CLONE_NEWUSER as u32)));
    filter.extend(rule(libc::SYS_clone, deny_bits(0, libc::CLONE_NEWUSER as u32)));
    filter.extend(rule(
        libc::SYS_setpgid,
        vec![bpf(LD_W_ABS, ARG + 8, 0, 0), bpf(JEQ_K, 0, 0, 1), bpf(RET_K, ALLOW, 0, 0), bpf(RET_K, DENY, 0, 0)],
    ));
    filter.extend(rule(
        libc::SYS_socketpair,
        vec![
            bpf(LD_W_ABS, ARG + 8, 0, 0),
            bpf(AND_K, 0xf, 0, 0), // the type, without SOCK_NONBLOCK | SOCK_CLOEXEC
            bpf(JEQ_K, libc::SOCK_DGRAM as u32, 1, 0),
            bpf(RET_K, ALLOW, 0, 0),
            bpf(RET_K, DENY, 0, 0),
        ],
    ));
    let family = if block_sockets {
        // Netlink (local kernel queries) is the one family allowed.
        vec![bpf(LD_W_ABS, ARG, 0, 0), bpf(JEQ_K, libc::AF_NETLINK as u32, 0, 1), bpf(RET_K, ALLOW, 0, 0), bpf(RET_K, DENY, 0, 0)]
    } else {
        deny_values(0, &[libc::AF_UNIX as u32])
    };
    filter.extend(rule(libc::SYS_socket, family));
    filter.push(bpf(RET_K, ALLOW, 0, 0));
    filter
}

fn online_filter() -> &'static [libc::sock_filter] {
    static FILTER: std::sync::OnceLock<Vec<libc::sock_filter>> = std::sync::OnceLock::new();
    FILTER.get_or_init(|| seccomp_filter(false))
}

fn offline_filter() -> &'static [libc::sock_filter] {
    static FILTER: std::sync::OnceLock<Vec<libc::sock_filter>> = std::sync::OnceLock::new();
    FILTER.get_or_init(|| seccomp_filter(true))
}

/// The ruleset's descriptor and how much of it this kernel enforces. The descriptor is taken
/// from a ruleset that is never applied to devshell itself.
fn build(
    writable: &[PathBuf],
    scratch: &Path,
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
    // Where the plugin (through WASI) or the host's sync can meet it: everything but making
    // device nodes (a block device is the whole disk), FIFOs and sockets (opening a FIFO
    // blocks, in a host call no deadline reaches). Tools that need a FIFO (make's jobserver)
    // make it in their private TMPDIR, from which nothing moves out across directories
    // (`Refer`), so a directory holding one cannot be moved into the staging dir.
    let device_nodes = AccessFs::MakeBlock | AccessFs::MakeChar;
    let shared = AccessFs::from_all(TARGET_ABI) & !device_nodes & !(AccessFs::MakeFifo | AccessFs::MakeSock);
    let private = AccessFs::from_all(TARGET_ABI) & !device_nodes & !AccessFs::Refer;
    for dir in writable.iter().chain(&writable_caches()).filter(|d| d.exists()) {
        created = created.add_rules(landlock::path_beneath_rules([dir], shared))?;
    }
    created = created.add_rules(landlock::path_beneath_rules([scratch], private))?;
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
