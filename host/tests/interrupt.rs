//! Every plugin call ends at its deadline, and Ctrl-C ends it sooner, host calls included: a
//! plugin blocked in a WASI sleep or in an hour-long read of a tool's output gives the shell
//! back within a second of Ctrl-C, with the tool's process group gone.

mod common;

use std::time::{Duration, Instant};

use common::{text, Sandbox};

/// A sandbox whose config offers the `faulty` test component, granted `sleep`, with its
/// misbehaviours (`sleep`, `hang-child`: it acts on the program name) routed to it.
fn with_faulty(call_timeout_ms: u64) -> Sandbox {
    let sandbox = Sandbox::new();
    let config = format!(
        "plugin_call_timeout_ms = {call_timeout_ms}\nrouted_tools = [\"sleep\", \"hang-child\"]\n[plugins.faulty]\npath = {:?}\ngrant = {{ programs = [\"sleep\"], dirs = [\"staging\"], network = false }}\n",
        devshell::plugin::builtin::FAULTY_PATH
    );
    std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
    sandbox
}

/// Run `script` on the `faulty` backend, send SIGINT after `after`, and return the output and
/// how long it took to end after the signal.
fn interrupt(sandbox: &Sandbox, script: &str, after: Duration) -> (std::process::Output, Duration) {
    interrupt_on(sandbox, "faulty", script, after)
}

fn interrupt_on(sandbox: &Sandbox, backend: &str, script: &str, after: Duration) -> (std::process::Output, Duration) {
    let child = sandbox
        .command(sandbox.path())
        .args(["--backend", backend, "-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() && sent.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if !waiter.is_finished() {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        panic!("devshell did not end within 20 s of Ctrl-C");
    }
    let took = sent.elapsed();
    (waiter.join().unwrap(), took)
}

fn sleeper_alive() -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| cmdline == b"sleep\03599.5\0"))
}

#[test]
fn a_wasi_sleep_ends_at_the_call_deadline() {
    let sandbox = with_faulty(1_000);
    let started = Instant::now();
    let output = sandbox
        .command(sandbox.path())
        .args(["--backend", "faulty", "-c", "sleep; echo shell-alive"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "a one-hour sleep outlived a 1 s call limit: {took:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("time limit"), "{stderr}");
    assert_eq!(text(&output.stdout), "shell-alive\n", "the shell goes on after the session ends");
}

#[test]
fn ctrl_c_ends_a_plugin_sleeping_in_wasi() {
    let sandbox = with_faulty(3_600_000);
    let (output, took) = interrupt(&sandbox, "sleep", Duration::from_millis(1500));
    assert!(took < Duration::from_secs(1), "took {took:?} after Ctrl-C\n{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("interrupted"), "{}", text(&output.stderr));
}

#[test]
fn ctrl_c_ends_a_plugin_reading_a_silent_tool_and_kills_the_tool() {
    let sandbox = with_faulty(3_600_000);
    let (output, took) = interrupt(&sandbox, "hang-child", Duration::from_millis(1500));
    assert!(took < Duration::from_secs(1), "took {took:?} after Ctrl-C\n{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("interrupted"), "{}", text(&output.stderr));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!sleeper_alive(), "the tool the plugin started is still running");
}

#[test]
fn ctrl_c_tells_the_backend_which_stops_its_run_in_time() {
    let sandbox = Sandbox::new();
    let (output, took) = interrupt_on(&sandbox, "mock", "cargo wait-cancel", Duration::from_millis(700));
    let stderr = text(&output.stderr);
    assert!(took < Duration::from_secs(1), "took {took:?} after Ctrl-C\n{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C): mock: stopped on request"), "the backend answered: {stderr}");
    assert!(!stderr.contains("did not stop in time") && !stderr.contains("restart"), "no fault: {stderr}");
}

#[test]
fn a_plugin_panic_is_reported_once_by_name_with_its_message() {
    let sandbox = Sandbox::new();
    let config = format!(
        "routed_tools = [\"trap\"]\n[plugins.faulty]\npath = {:?}\n",
        devshell::plugin::builtin::FAULTY_PATH
    );
    std::fs::write(sandbox.path().join("config.toml"), config).unwrap();
    let output = sandbox.run(&["--backend", "faulty", "-c", "trap; echo shell-alive"]);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.matches("the backend `faulty` panicked: ").count(), 1, "{stderr}");
    assert!(stderr.contains("faulty: asked to trap (at "), "{stderr}");
    assert!(!stderr.contains("unreachable instruction") && !stderr.contains("restart"), "{stderr}");
    assert_eq!(text(&output.stdout), "shell-alive\n");
}
