//! The REPL through a real pseudo-terminal: prompt, completion, Ctrl-C, history, Ctrl-D.

mod common;

use rexpect::session::{spawn_command, PtySession};

fn start(sandbox: &common::Sandbox, cwd: &str) -> PtySession {
    let mut command = sandbox.command(sandbox.path());
    // A terminal as users have it: the tests must not inherit colour settings from CI.
    command.env("TERM", "xterm").env_remove("CARGO_TERM_COLOR").env_remove("NO_COLOR");
    let mut session = spawn_command(command, Some(10_000)).expect("spawn devshell in a pty");
    session.exp_string(&format!("devshell[host-sandbox]:{cwd}$ ")).expect("prompt shows backend and cwd");
    session
}

#[test]
fn completion_ctrl_c_history_and_ctrl_d() {
    let sandbox = common::Sandbox::new();
    let mut repl = start(&sandbox, "/");
    repl.send_line("mkdir -p /proj/src; echo hi > /proj/src/main.rs").unwrap();
    repl.exp_string("$ ").unwrap();

    // Command completion: `ech<TAB>` becomes `echo `.
    repl.send("ech\t").unwrap();
    repl.send_line("completed").unwrap();
    repl.exp_string("completed\r\n").unwrap();
    repl.exp_string("$ ").unwrap();

    // Path completion keeps the directory prefix: `cat /proj/sr<TAB>ma<TAB>`.
    repl.send("cat /proj/sr\t").unwrap();
    repl.send("ma\t").unwrap();
    repl.send_line("").unwrap();
    repl.exp_string("hi\r\n").unwrap();
    repl.exp_string("$ ").unwrap();

    // Ctrl-C drops the line being typed; the shell and workspace stay.
    repl.send("echo never-run").unwrap();
    repl.send_control('c').unwrap();
    repl.exp_string("devshell[host-sandbox]:/$ ").unwrap();
    repl.send_line("cd /proj; pwd").unwrap();
    repl.exp_string("/proj\r\n").unwrap();
    repl.exp_string("devshell[host-sandbox]:/proj$ ").unwrap();

    // A multi-line construct continues on a `> ` prompt.
    repl.send_line("if true; then").unwrap();
    repl.exp_string("> ").unwrap();
    repl.send_line("echo inside; fi").unwrap();
    repl.exp_string("inside\r\n").unwrap();
    repl.exp_string("$ ").unwrap();

    // Ctrl-D exits cleanly and saves.
    repl.send_control('d').unwrap();
    repl.exp_eof().unwrap();
    let check = sandbox.run(&["-c", "cat /proj/src/main.rs"]);
    assert_eq!(common::text(&check.stdout), "hi\n");
    assert!(!common::text(&check.stdout).contains("never-run"));

    // History persists: Up recalls the last line of the previous session.
    let mut repl = start(&sandbox, "/proj");
    repl.send("\x1b[A").unwrap(); // Up
    repl.send_line("").unwrap();
    repl.exp_string("inside\r\n").unwrap();
    repl.exp_string("$ ").unwrap();
    repl.send_line("history").unwrap();
    repl.exp_string("cd /proj; pwd").unwrap();
    repl.exp_string("$ ").unwrap();

    // Ctrl-R searches the history; Enter runs what it found.
    repl.send_control('r').unwrap();
    repl.send("cd /pr").unwrap();
    repl.send_line("").unwrap();
    repl.exp_string("/proj\r\n").unwrap();
    repl.exp_string("$ ").unwrap();

    // (Completion of variables, of paths after redirects and below globs: `repl::tests`.)
    repl.send_line("exit 5").unwrap();
    repl.exp_eof().unwrap();
}

/// Ctrl-C while a routed tool runs stops the tool (it owns the terminal), not devshell.
#[test]
fn ctrl_c_stops_the_running_tool_not_the_shell() {
    let sandbox = common::Sandbox::new();
    std::fs::write(sandbox.path().join("config.toml"), "routed_tools = [\"sleep\"]\n").unwrap();
    let mut repl = start(&sandbox, "/");
    let started = std::time::Instant::now();
    repl.send_line("sleep 30; echo status=$?").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    repl.send_control('c').unwrap();
    repl.exp_string("status=130").unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the tool was not stopped");
    repl.exp_string("devshell[host-sandbox]:/$ ").unwrap();
    repl.send_line("echo still-here").unwrap();
    repl.exp_string("still-here\r\n").unwrap();
    repl.send_control('d').unwrap();
    repl.exp_eof().unwrap();
}

/// Ctrl-C during a tool whose output goes into a pipe (so devshell, not the tool, gets the
/// signal): back at the prompt at once, the tool gone. (The pipeline's status is its last
/// command's, `cat`'s.)
#[test]
fn ctrl_c_stops_a_piped_tool_and_returns_to_the_prompt() {
    let sandbox = common::Sandbox::new();
    std::fs::write(sandbox.path().join("config.toml"), "routed_tools = [\"sleep\"]\n").unwrap();
    let mut repl = start(&sandbox, "/");
    let started = std::time::Instant::now();
    repl.send_line("sleep 31.5 | cat; echo after-the-pipe").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    repl.send_control('c').unwrap();
    repl.exp_string("after-the-pipe\r\n").unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the piped tool was not stopped");
    repl.exp_string("devshell[host-sandbox]:/$ ").unwrap();
    let alive = std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
        std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| cmdline == b"sleep\x0031.5\x00")
    });
    assert!(!alive, "the tool is still running");
    repl.send_control('d').unwrap();
    repl.exp_eof().unwrap();
}

/// A routed tool writes straight to the terminal, so it keeps its colours.
#[test]
fn tool_output_reaches_the_terminal_with_colours() {
    let sandbox = common::Sandbox::new();
    let mut repl = start(&sandbox, "/");
    repl.send_line("cargo new --vcs none colourful; echo status=$?").unwrap();
    // cargo prints "Creating" in bold green only when it sees a terminal.
    repl.exp_regex("\x1b\\[[0-9;]*m +Creating").expect("a coloured status line from cargo");
    repl.exp_string("status=0").unwrap();
    repl.send_control('d').unwrap();
    repl.exp_eof().unwrap();
}
