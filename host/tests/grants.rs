//! A grant bounds everything a plugin causes (issue 11, "Proof"), through the real binary.
//!
//! The `hostile` test component asks the host to spawn what its test tells it to (`spawn:`,
//! `setenv:`, `write:`, `sh:` ops, see `tests/components/hostile`). Its grant here is `sh`,
//! `cargo **`, two argv patterns of a multi-call test program, the staging dir, a read-only
//! dir, no network and the variable `RUSTFLAGS`. Each test mounts one attack class: an alias of a granted program
//! (a hard link beside it, as rustup's proxies are; a symlink in the staging dir), each
//! environment route to a program of the plugin's choosing, and code the plugin wrote (a
//! toolchain file naming its own `cargo`, a crate's build script) run by a granted tool. Every
//! test plants a canary tree and a credentials file outside the allowed area and proves at the
//! end that the canary is byte-identical and the credentials never came back.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::{text, Sandbox};

const WATCHDOG: Duration = Duration::from_secs(120);
const SECRET: &str = "https://user:TOKEN-5678@example.invalid";

/// A multi-call program, like rustup's proxies: it says which name it ran as, its arguments
/// and the `RUSTFLAGS` it got.
const MULTI_CALL: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/');
    printf("ran-as=%s", name ? name + 1 : argv[0]);
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    const char *flags = getenv("RUSTFLAGS");
    printf(" RUSTFLAGS=%s\n", flags ? flags : "");
    return 0;
}
"#;

struct Lab {
    sandbox: Sandbox,
    /// The granted multi-call program, and `bin/other`, a hard link to it that is not granted.
    granted: PathBuf,
    canary: PathBuf,
    secret: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let sandbox = Sandbox::new();
        let bin = sandbox.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let source = sandbox.path().join("multi.c");
        std::fs::write(&source, MULTI_CALL).unwrap();
        let granted = bin.join("granted");
        let cc =
            Command::new("cc").arg("-o").arg(&granted).arg(&source).output().expect("run cc (needed to link Rust)");
        assert!(cc.status.success(), "cc failed: {}", text(&cc.stderr));
        std::fs::hard_link(&granted, bin.join("other")).unwrap();

        let canary = sandbox.path().join("canary");
        std::fs::create_dir(&canary).unwrap();
        std::fs::write(canary.join("kept"), "canary bytes").unwrap();
        let secret = sandbox.home().join(".git-credentials");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();

        let shelf = sandbox.path().join("shelf");
        std::fs::create_dir(&shelf).unwrap();
        std::fs::write(shelf.join("book"), "read me").unwrap();
        let g = granted.display();
        let config = format!(
            "[plugins.evil]\npath = {:?}\ngrant = {{ programs = [\"sh\", \"cargo **\", \"{g} one **\", \"{g} two **\"], \
             dirs = [\"staging\"], read_dirs = [{:?}], network = false, env = [\"RUSTFLAGS\"] }}\n\
             options = {{ image = \"rust:1.85\", cpus = \"4\" }}\n",
            devshell::plugin::builtin::HOSTILE_PATH,
            shelf.canonicalize().unwrap(),
        );
        std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
        Lab { sandbox, granted, canary, secret }
    }

    /// One tool run of the hostile backend doing `ops`, in order.
    fn run(&self, ops: &[&str]) -> Output {
        self.run_with_home(ops, &self.sandbox.home())
    }

    /// The same, with another home directory.
    fn run_with_home(&self, ops: &[&str], home: &std::path::Path) -> Output {
        let quoted: Vec<String> = ops.iter().map(|op| format!("'{op}'")).collect();
        let script = format!("cargo {}", quoted.join(" "));
        // As in a user's shell: no `RUSTUP_TOOLCHAIN` (cargo test sets one), so rustup reads
        // toolchain files.
        let mut command = self.sandbox.command(self.sandbox.path());
        command.args(["--backend", "evil", "-c", &script]).env_remove("RUSTUP_TOOLCHAIN").env("HOME", home);
        let output = self.sandbox.watch(&mut command, WATCHDOG).output;
        self.assert_nothing_leaked(&output);
        output
    }

    fn assert_nothing_leaked(&self, output: &Output) {
        let shown = show(output);
        assert!(!shown.contains("TOKEN-5678"), "the credentials file was read:\n{shown}");
        assert!(!self.canary.join("planted").exists(), "a file was planted outside:\n{shown}");
        assert_eq!(std::fs::read(self.canary.join("kept")).unwrap(), b"canary bytes", "{shown}");
        assert_eq!(std::fs::read_dir(&self.canary).unwrap().count(), 1, "{shown}");
    }

    /// The staging dir the hostile plugin works in (after a first run made it).
    fn staging_tree(&self) -> String {
        let sessions = self.sandbox.path().join("cache/staging");
        let session = std::fs::read_dir(&sessions).unwrap().next().expect("a staging dir").unwrap().path();
        session.join("tree").canonicalize().unwrap().display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.sandbox.path().join(name).display().to_string()
    }
}

fn show(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn ran_lines(output: &Output) -> Vec<String> {
    text(&output.stdout).lines().filter(|l| l.starts_with("ran-as=")).map(String::from).collect()
}

#[test]
fn an_alias_by_hard_link_is_refused() {
    let lab = Lab::new();
    // `bin/other` is the granted file under another name, as `rust-gdb` is to rustup's `cargo`.
    let output = lab.run(&[&format!("spawn:{} one x", lab.path("bin/other"))]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(ran_lines(&output).is_empty(), "the alias ran: {}", show(&output));
    let expected = format!("add \"{}\" to programs in the grant of [plugins.evil]", lab.path("bin/other"));
    assert!(text(&output.stderr).contains(&expected), "{}", show(&output));
}

#[test]
fn an_alias_by_symlink_runs_only_the_granted_file_under_its_granted_name() {
    let lab = Lab::new();
    std::os::unix::fs::symlink(&lab.granted, lab.sandbox.path().join("bin/link")).unwrap();
    let output = lab.run(&[&format!("spawn:{} one x", lab.path("bin/link"))]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(ran_lines(&output), ["ran-as=granted one x RUSTFLAGS="], "{}", show(&output));
}

#[test]
fn an_alias_by_symlink_in_the_staging_dir_is_refused() {
    let lab = Lab::new();
    let granted = lab.granted.display().to_string();
    let output = lab.run(&[&format!("sh:ln -s {granted} alias"), "spawn:./alias one x"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(ran_lines(&output).is_empty(), "the alias ran: {}", show(&output));
    assert!(text(&output.stderr).contains("a directory the plugin can write"), "{}", show(&output));
}

#[test]
fn every_argv_pattern_granted_for_a_program_is_honoured() {
    let lab = Lab::new();
    let g = lab.granted.display().to_string();
    let output = lab.run(&[&format!("spawn:{g} one a"), &format!("spawn:{g} two b")]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(ran_lines(&output), ["ran-as=granted one a RUSTFLAGS=", "ran-as=granted two b RUSTFLAGS="]);

    let output = lab.run(&[&format!("spawn:{g} three c")]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(ran_lines(&output).is_empty(), "{}", show(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[one **] or [two **]") && stderr.contains("[plugins.evil]"), "{}", show(&output));
}

#[test]
fn every_environment_route_to_a_program_is_refused_and_granted_names_pass() {
    let lab = Lab::new();
    let g = lab.granted.display().to_string();
    let planted = lab.path("canary/planted");
    let routes = [
        ("RUSTC_WRAPPER", planted.as_str()),
        ("RUSTC", planted.as_str()),
        ("RUSTDOC", planted.as_str()),
        ("CARGO_HOME", planted.as_str()),
        ("CARGO_BUILD_RUSTC_WRAPPER", planted.as_str()),
        ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", planted.as_str()),
        ("CARGO_NET_GIT_FETCH_WITH_CLI", "true"),
        ("RUSTUP_TOOLCHAIN", planted.as_str()),
        ("GIT_SSH_COMMAND", "touch canary/planted"),
        ("GIT_CONFIG_GLOBAL", planted.as_str()),
        ("PATH", planted.as_str()),
        ("BASH_ENV", planted.as_str()),
        ("LD_PRELOAD", planted.as_str()),
        ("LD_LIBRARY_PATH", planted.as_str()),
    ];
    for (name, value) in routes {
        let output = lab.run(&[&format!("setenv:{name}={value}"), &format!("spawn:{g} one")]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", show(&output));
        assert!(ran_lines(&output).is_empty(), "{name} did not stop the spawn: {}", show(&output));
        let expected = format!("may not set the environment variable `{name}`");
        assert!(text(&output.stderr).contains(&expected), "{name}: {}", show(&output));
        assert!(text(&output.stderr).contains(&format!("add \"{name}\" to env in the grant of [plugins.evil]")));
    }
    let output = lab.run(&["setenv:RUSTFLAGS=-Copt-level=1", &format!("spawn:{g} one")]);
    assert_eq!(ran_lines(&output), ["ran-as=granted one RUSTFLAGS=-Copt-level=1"], "{}", show(&output));
}

#[test]
fn a_read_only_dir_can_be_read_but_not_changed_by_the_plugin_or_its_tools() {
    let lab = Lab::new();
    let shelf = lab.sandbox.path().join("shelf").canonicalize().unwrap();
    let book = shelf.join("book").display().to_string();
    let output = lab.run(&[&format!("sh:cat {book}")]);
    assert!(output.status.success() && text(&output.stdout).contains("read me"), "{}", show(&output));
    for op in [format!("write:{book}=changed"), format!("sh:echo changed > {book}"), format!("rm:{book}")] {
        let output = lab.run(&[&op]);
        assert_ne!(output.status.code(), Some(0), "{op}: {}", show(&output));
    }
    assert_eq!(std::fs::read(shelf.join("book")).unwrap(), b"read me");
    assert_eq!(std::fs::read_dir(&shelf).unwrap().count(), 1);
}

/// A WASI file access outside the grant fails for the plugin and is reported on the host as a
/// denial naming the path, and the grant that would allow it only when granting it is safe
/// (issue 13): outside every granted directory, out of the staging dir through `..` or a
/// symlink, a write below a read-only dir, a granted path spelled the long way round.
#[test]
fn a_wasi_file_access_outside_the_grant_is_refused_and_reported_as_a_denial() {
    let lab = Lab::new();
    let canary = lab.canary.display().to_string();
    let shelf = lab.sandbox.path().join("shelf").canonicalize().unwrap().display().to_string();
    let home = lab.sandbox.home().canonicalize().unwrap().display().to_string();
    // A plain directory outside the sandbox (whose name is hidden, and which holds the config),
    // in a plain home of its own.
    let plain_home = tempfile::Builder::new().prefix("devshell-plain-").tempdir_in("/tmp").unwrap();
    let plain_home = plain_home.keep().canonicalize().unwrap();
    std::fs::create_dir(plain_home.join("shelf")).unwrap();
    std::fs::write(plain_home.join("shelf/kept"), "canary bytes").unwrap();
    let plain = plain_home.join("shelf").display().to_string();
    // From the staging dir, enough `..` to reach `/`, then down to the canary.
    let climb = format!("{}{}", "../".repeat(40), canary.trim_start_matches('/'));
    lab.run(&[&format!("symlink:out={climb}")]);
    let staging = lab.staging_tree();
    // The same path, spelled so that it is not seen as below the staging dir.
    let roundabout = format!("/{}/./{}", "..", staging.trim_start_matches('/'));
    let denied = "devshell: denied: plugin `hostile` may not";
    let outside = "outside its granted directories";
    let none = "no grant is suggested for it";
    let cases = [
        (
            format!("read:{plain}/kept"),
            format!("{denied} read \"{plain}/kept\": {outside}; to allow it, run `devshell plugin grant evil --read-dir {plain}`"),
        ),
        // Not suggested: a hidden directory, one holding the config, the home or a kernel one.
        (format!("read:{canary}/kept"), format!("{denied} read \"{canary}/kept\": {outside}; {none}")),
        (format!("write:{canary}/planted=x"), format!("{denied} write \"{canary}\": {outside}; {none}")),
        (format!("read:{home}/.ssh/id_ed25519"), format!("{denied} read \"{home}/.ssh/id_ed25519\": {outside}; {none}")),
        ("write:/proc/sys/x/y=1".into(), format!("{denied} write \"/proc/sys/x\": {outside}; {none}")),
        (format!("read:{climb}/kept"), format!("{denied} read \"{canary}/kept\": {outside} (spelled \"{staging}/../")),
        (
            format!("write:{shelf}/book=changed"),
            format!("{denied} write \"{shelf}/book\": \"{shelf}\" is granted for reading only; {none}"),
        ),
        ("read:out/kept".into(), format!("{denied} read \"{staging}/out/kept\": a symbolic link on the way leads {outside}")),
        (
            format!("read:{roundabout}/out/kept"),
            format!("{denied} read \"{roundabout}/out/kept\": it names a place in the granted \"{staging}\" by way of"),
        ),
        (
            format!("symlink:abs={canary}"),
            format!("{denied} make \"{staging}/abs\" a symbolic link to \"{canary}\": links within its granted directories must be relative"),
        ),
    ];
    for (op, denial) in &cases {
        let output = lab.run(&[op]);
        assert_eq!(output.status.code(), Some(1), "{op}: {}", show(&output));
        let stderr = text(&output.stderr);
        assert!(stderr.lines().any(|l| l.starts_with(denial.as_str())), "{op}: no `{denial}` in\n{}", show(&output));
        assert!(!text(&output.stdout).contains("canary bytes"), "{op}: {}", show(&output));
    }

    // A path longer than any the host has is refused as such, and not recorded.
    let output = lab.run(&[&format!("read:/{}", "a".repeat(5000))]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("too long") && !stderr.contains("devshell: denied"), "{}", show(&output));

    // A plain read-only directory in the home: the denial of a write suggests granting it for
    // writing (outside the home, a writable grant is never suggested).
    let config = std::fs::read_to_string(lab.sandbox.path().join("config.toml")).unwrap();
    std::fs::write(lab.sandbox.path().join("config.toml"), config.replace(&shelf, &plain)).unwrap();
    let output = lab.run(&[&format!("write:{plain}/kept=changed")]);
    let not_home = format!("{denied} write \"{plain}/kept\": \"{plain}\" is granted for reading only; {none}");
    assert!(text(&output.stderr).lines().any(|l| l.starts_with(&not_home)), "{}", show(&output));
    let output = lab.run_with_home(&[&format!("write:{plain}/kept=changed")], &plain_home);
    let denial = format!(
        "{denied} write \"{plain}/kept\": \"{plain}\" is granted for reading only (revoke its --read-dir grant first); \
         to allow it, run `devshell plugin grant evil --dir {plain}`"
    );
    assert!(text(&output.stderr).lines().any(|l| l.starts_with(&denial)), "{}", show(&output));
    assert_eq!(std::fs::read_to_string(format!("{plain}/kept")).unwrap(), "canary bytes");
    assert_eq!(std::fs::read(lab.sandbox.path().join("shelf/book")).unwrap(), b"read me");
    std::fs::remove_dir_all(&plain_home).unwrap();
}

/// `plugin grant` refuses at once what a session would refuse at its start.
#[test]
fn plugin_grant_refuses_kernel_and_symlinked_directories() {
    let lab = Lab::new();
    let link = lab.sandbox.path().join("shelf-link");
    std::os::unix::fs::symlink(lab.sandbox.path().join("shelf"), &link).unwrap();
    let config = std::fs::read(lab.sandbox.path().join("config.toml")).unwrap();
    let link = link.display().to_string();
    for (dir, why) in [("/proc/sys", "a kernel filesystem"), (link.as_str(), "reached through a symbolic link")] {
        let output = lab.sandbox.run(&["plugin", "grant", "evil", "--read-dir", dir]);
        assert_ne!(output.status.code(), Some(0), "{dir}: {}", show(&output));
        assert!(text(&output.stderr).contains(why), "{dir}: {}", show(&output));
        assert_eq!(std::fs::read(lab.sandbox.path().join("config.toml")).unwrap(), config, "{dir}: the config changed");
    }
}

/// A plugin making endless different denials gets 100 of them printed, then one line.
#[test]
fn denials_are_printed_once_each_and_at_most_a_hundred() {
    let lab = Lab::new();
    let canary = lab.canary.display().to_string();
    let output = lab.run(&[&format!("read-each:{canary}/x=250"), &format!("read-each:{canary}/x=250")]);
    assert!(output.status.success(), "{}", show(&output));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("devshell: denied:")).count(), 100, "{}", show(&output));
    assert_eq!(stderr.matches("further denials are not shown").count(), 1, "{}", show(&output));
}

#[test]
fn a_toolchain_file_the_plugin_wrote_runs_its_cargo_confined() {
    let lab = Lab::new();
    // The plugin's own `cargo`, chosen through a path toolchain: it tries to read the
    // credentials and to plant a file outside, then says it ran.
    let script = format!(
        "#!/bin/sh\ncat {secret} 2>&1 | head -c 200\necho pwned > {planted} 2>&1 || echo no-write\necho PLUGIN-CARGO-RAN\n",
        secret = lab.secret.display(),
        planted = lab.path("canary/planted"),
    );
    let output = lab.run(&[
        &format!("write:tc/bin/cargo={script}"),
        &format!("write:tc/bin/rustc={script}"),
        "sh:chmod +x tc/bin/cargo tc/bin/rustc && echo [toolchain] > rust-toolchain.toml && echo \"path = \\\"$PWD/tc\\\"\" >> rust-toolchain.toml",
        "spawn:cargo build",
    ]);
    assert!(text(&output.stdout).contains("PLUGIN-CARGO-RAN"), "rustup ran the plugin's cargo: {}", show(&output));
    assert!(text(&output.stdout).contains("no-write"), "{}", show(&output));
}

#[test]
fn a_build_script_the_plugin_wrote_runs_confined() {
    let lab = Lab::new();
    let build_rs = format!(
        "fn main() {{ let r = std::fs::read_to_string({secret:?}).unwrap_or_else(|e| format!(\"no read: {{e}}\")); \
         let w = std::fs::write({planted:?}, \"pwned\").map(|_| \"WROTE\".to_string()).unwrap_or_else(|e| format!(\"no write: {{e}}\")); \
         println!(\"cargo:warning=probe: {{r}} | {{w}}\"); }}",
        secret = lab.secret.display().to_string(),
        planted = lab.path("canary/planted"),
    );
    let output = lab.run(&[
        "write:crate/Cargo.toml=[package]\nname = \"planted\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        "write:crate/src/main.rs=fn main() {}\n",
        &format!("write:crate/build.rs={build_rs}"),
        "spawn:cargo build --offline --manifest-path crate/Cargo.toml",
    ]);
    let shown = show(&output);
    assert!(output.status.success(), "the crate still builds: {shown}");
    let probe = text(&output.stderr).lines().find(|l| l.contains("probe:")).map(String::from);
    let probe = probe.unwrap_or_else(|| panic!("the build script ran: {shown}"));
    assert!(probe.contains("no read") && probe.contains("no write"), "{probe}");
}

#[test]
fn config_options_reach_the_session() {
    let lab = Lab::new();
    let output = lab.run(&["options"]);
    assert_eq!(text(&output.stdout), "option cpus=4\noption image=rust:1.85\n", "{}", show(&output));
}

#[test]
fn what_the_manifest_does_not_ask_for_is_not_given() {
    let lab = Lab::new();
    // `faulty` asks for `sleep` and the staging dir only; the config grants it more.
    let config = format!(
        "[plugins.narrow]\npath = {:?}\ngrant = {{ programs = [\"sleep\", \"sh\"], dirs = [\"staging\"], network = true, env = [\"RUSTFLAGS\"] }}\n",
        devshell::plugin::builtin::FAULTY_PATH
    );
    std::fs::write(lab.sandbox.path().join("config.toml"), config).unwrap();
    let output = lab.sandbox.run_watched(&["--backend", "narrow", "-c", "cargo"], WATCHDOG).output;
    assert!(output.status.success(), "{}", show(&output));
    let expected =
        "granted to `narrow` but not asked for in its manifest, so not given: program `sh`, env `RUSTFLAGS`, network";
    assert!(text(&output.stderr).contains(expected), "{}", show(&output));
}

/// io_uring opens sockets and files without the syscalls the seccomp filter sees, so for a
/// confined tool it does not exist.
const IO_URING_PROBE: &str = r#"#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    char params[120];
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, params);
    if (fd >= 0) { printf("io_uring: ready\n"); return 0; }
    printf("io_uring: %s\n", strerror(errno));
    return 0;
}
"#;

#[test]
fn io_uring_does_not_exist_for_confined_tools() {
    let lab = Lab::new();
    let output = lab.run(&[&format!("write:probe.c={IO_URING_PROBE}"), "sh:cc -o probe probe.c && ./probe"]);
    assert!(output.status.success(), "{}", show(&output));
    assert!(text(&output.stdout).contains("io_uring: Function not implemented"), "{}", show(&output));
}

/// What the attack review broke: run as root, capabilities outranked Landlock (a tool could
/// ptrace devshell); `/run` held other programs' secrets; with network on, a unix socket by path
/// reached a daemon outside the sandbox; a tool's `&` job outlived it.
#[test]
fn a_confined_tool_has_no_capabilities_no_run_secrets_no_unix_sockets_and_no_leftovers() {
    let lab = Lab::new();
    let config = lab.sandbox.path().join("config.toml");
    let online = std::fs::read_to_string(&config).unwrap().replace("network = false", "network = true");
    std::fs::write(&config, online).unwrap();
    let socket = lab.sandbox.path().join("daemon.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    // Where containers keep their secrets; only root can plant one there.
    let run_secret = PathBuf::from(format!("/run/devshell-test-{}", std::process::id()));
    let planted = std::fs::create_dir(&run_secret).and_then(|_| std::fs::write(run_secret.join("token"), SECRET));
    if planted.is_err() {
        println!("SKIPPED the /run part: cannot write /run as this user ({planted:?})");
    }
    let probe = format!(
        "import socket\ntry:\n    s = socket.socket(socket.AF_UNIX)\n    s.connect(\"{}\")\n    print(\"unix: connected\")\nexcept OSError as e:\n    print(\"unix:\", e.strerror)\n",
        socket.display()
    );
    let output = lab.run(&[
        "sh:grep CapEff /proc/self/status",
        &format!("sh:cat {}/token || echo run-refused", run_secret.display()),
        &format!("write:probe.py={probe}"),
        "sh:python3 probe.py",
        "sh:sleep 555 >/dev/null 2>&1 &",
    ]);
    let _ = std::fs::remove_dir_all(&run_secret);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("CapEff:\t0000000000000000"), "{}", show(&output));
    assert!(stdout.contains("run-refused"), "{}", show(&output));
    assert!(stdout.contains("unix: Operation not permitted"), "{}", show(&output));
    assert!(listener.accept().is_err(), "the daemon got a connection");
    let sleeper = std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| cmdline == b"sleep\0555\0")
    });
    assert!(!sleeper, "the tool's background job outlived it");
}

/// Opening a FIFO blocks in a host call no deadline reaches, so a tool may make one only in its
/// private TMPDIR, never where the plugin (through WASI) or the host's sync can meet it.
#[test]
fn a_confined_tool_makes_fifos_only_in_its_private_tmpdir() {
    let lab = Lab::new();
    let output = lab.run(&[
        "sh:mkfifo staged-fifo 2>/dev/null && echo staged-fifo-made || echo staged-fifo-refused",
        "sh:mkfifo \"$TMPDIR/jobserver\" && echo tmp-fifo-made",
    ]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("staged-fifo-refused") && stdout.contains("tmp-fifo-made"), "{}", show(&output));
}

/// What the second attack review broke: a tool joined devshell's process group (and read the
/// keys typed at the prompt); an unconnected datagram socket pair reached a unix socket by
/// path; a user namespace gave back every capability; as root, /etc/shadow was readable; a
/// plugin-chosen variable name became a command in the denial's advice.
#[test]
fn a_confined_tool_cannot_join_another_group_reach_unix_sockets_or_regain_capabilities() {
    let lab = Lab::new();
    let probe = "import os, socket\n\
                 try:\n    os.setpgid(0, os.getpgid(0))\n    print(\"setpgid: joined\")\nexcept OSError as e:\n    print(\"setpgid:\", e.strerror)\n\
                 try:\n    socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n    print(\"dgram pair: made\")\nexcept OSError as e:\n    print(\"dgram pair:\", e.strerror)\n\
                 socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)\nprint(\"stream pair: made\")\n";
    let output = lab.run(&[
        &format!("write:probe.py={probe}"),
        "sh:python3 probe.py",
        "sh:unshare -U true 2>/dev/null && echo userns-made || echo userns-refused",
        "sh:cat /etc/shadow >/dev/null 2>&1 && echo shadow-read || echo shadow-refused",
        "sh:test -r /etc/passwd && echo passwd-readable",
    ]);
    let stdout = text(&output.stdout);
    for expected in [
        "setpgid: Operation not permitted",
        "dgram pair: Operation not permitted",
        "stream pair: made",
        "userns-refused",
        "shadow-refused",
        "passwd-readable",
    ] {
        assert!(stdout.contains(expected), "{expected}: {}", show(&output));
    }

    let injected = lab.run(&["setenv:X;touch${IFS}/tmp/pwned=1", "spawn:sh -c true"]);
    let stderr = text(&injected.stderr);
    assert!(stderr.contains("whose name is not valid") && !stderr.contains("devshell plugin grant"), "{}", show(&injected));
}
