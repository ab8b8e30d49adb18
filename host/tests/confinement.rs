//! Tools run confined (Landlock), derived from the grant: a crate's build script run by the
//! built-in host-sandbox cannot read a planted credentials file, write outside the project and
//! the caches, or reach out with `network = false` (TCP, UDP, a host daemon's unix socket),
//! while an ordinary build, run and test of the same crate, with a registry dependency taken
//! offline from the local cache, still work.

mod common;

use std::io::Read;

use common::{text, Sandbox};

/// Landlock as this kernel has it (0: none), asked the way the kernel documents.
fn landlock_abi() -> i64 {
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) }
}

#[test]
fn a_build_script_cannot_read_secrets_write_outside_or_connect_out() {
    if landlock_abi() < 4 {
        println!("SKIPPED: this kernel has no Landlock network rules (ABI {}); nothing to test", landlock_abi());
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.home().join(".git-credentials");
    std::fs::write(&secret, "https://user:TOKEN-1234@example.invalid\n").unwrap();
    let canary = sandbox.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    std::fs::write(canary.join("kept"), "canary bytes").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(sandbox.path().join("config.toml"), "network = false\n").unwrap();
    // A host daemon's socket (think docker.sock or an ssh agent).
    let host_socket = sandbox.path().join("daemon.sock");
    let daemon = std::os::unix::net::UnixListener::bind(&host_socket).unwrap();
    daemon.set_nonblocking(true).unwrap();

    // The crate, as a user (or a dependency) would bring it in.
    let project = sandbox.path().join("evil");
    std::fs::create_dir_all(project.join("src")).unwrap();
    // A registry dependency, built offline from the local cache (this workspace depends on it,
    // so building devshell put it there).
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"evil\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nanyhow = \"1\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/main.rs"),
        "fn main() -> anyhow::Result<()> { println!(\"built fine\"); Ok(()) }\n#[test]\nfn t() {}\n",
    )
    .unwrap();
    let build_script = format!(
        r#"fn main() {{
    let read = std::fs::read_to_string({secret:?}).map(|s| format!("READ {{s}}")).unwrap_or_else(|e| format!("no read: {{e}}"));
    let wrote = std::fs::write({outside:?}, "pwned").map(|_| "WROTE".to_string()).unwrap_or_else(|e| format!("no write: {{e}}"));
    let connected = std::net::TcpStream::connect(("127.0.0.1", {port})).map(|_| "CONNECTED".to_string()).unwrap_or_else(|e| format!("no connect: {{e}}"));
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"x", ("127.0.0.1", {port}))).map(|_| "UDP-SENT".to_string()).unwrap_or_else(|e| format!("no udp: {{e}}"));
    let unix = std::os::unix::net::UnixStream::connect({socket:?}).map(|_| "UNIX-CONNECTED".to_string()).unwrap_or_else(|e| format!("no unix socket: {{e}}"));
    println!("cargo:warning=probe: {{read}} | {{wrote}} | {{connected}} | {{udp}} | {{unix}}");
}}
"#,
        secret = secret.display().to_string(),
        outside = canary.join("planted").display().to_string(),
        socket = host_socket.display().to_string(),
    );
    std::fs::write(project.join("build.rs"), build_script).unwrap();

    let script = format!("import {} /evil; cd /evil; cargo build; cargo run -q; cargo test -q", project.display());
    let output =
        sandbox.command(sandbox.path()).args(["-c", &script]).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "an ordinary build, run and test must still work\n{stdout}\n{stderr}");
    assert!(stdout.contains("built fine"), "{stdout}\n{stderr}");
    assert!(stderr.contains("Compiling anyhow"), "the registry dependency was built\n{stderr}");
    let probe =
        stderr.lines().find(|l| l.contains("probe:")).unwrap_or_else(|| panic!("the build script ran\n{stderr}"));
    assert!(!probe.contains("READ") && !probe.contains("TOKEN"), "the credentials were readable: {probe}");
    assert!(!probe.contains("WROTE"), "it wrote outside the project: {probe}");
    assert!(!probe.contains("CONNECTED"), "it connected out with network = false: {probe}");
    assert!(!probe.contains("UDP-SENT"), "it sent UDP with network = false: {probe}");
    assert!(daemon.accept().is_err(), "it reached a host daemon's unix socket: {probe}");
    assert!(!canary.join("planted").exists());
    assert_eq!(std::fs::read(canary.join("kept")).unwrap(), b"canary bytes");
    let mut buf = [0u8; 1];
    match listener.accept() {
        Ok((mut stream, _)) => panic!("a connection reached the listener ({:?})", stream.read(&mut buf)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
    }
}
