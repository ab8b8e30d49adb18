//! Several devshells on one workspace (Bazel's model): a command holds it while it runs, another
//! waits, naming the holder, and goes on after; a REPL takes up what others saved. Nothing any of
//! them did is lost.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{text, Sandbox};
use rexpect::session::spawn_command;

#[test]
fn concurrent_runs_lose_nothing() {
    let sandbox = Sandbox::new();
    // Started together; the tool run in each keeps it busy long enough for the others to overlap.
    let children: Vec<_> = (0..8)
        .map(|n| {
            sandbox
                .command(sandbox.path())
                .args(["--backend", "mock", "-c", &format!("cargo print:run{n}; echo {n} > /f{n}")])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn devshell")
        })
        .collect();
    for (n, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "run {n}: {}", text(&output.stderr));
        assert_eq!(text(&output.stdout), format!("run{n}\n"));
    }
    let listed = sandbox.run(&["-c", "ls /; cat /f3"]);
    let expected: String = (0..8).map(|n| format!("f{n}\n")).collect::<String>() + "3\n";
    assert_eq!(text(&listed.stdout), expected, "{}", text(&listed.stderr));
    let lock = devshell::lock::lock_path(&sandbox.state());
    assert_eq!(std::fs::metadata(lock).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_waiting_run_names_the_holder_and_goes_on_after() {
    let sandbox = Sandbox::new();
    let waiting = format!("devshell: waiting for the workspace {}: held by", sandbox.state().display());
    let pid = std::process::id();
    let holders = [
        (format!("{pid} devshell -c cargo build\n"), format!("{waiting} pid {pid} (devshell -c cargo build)")),
        // The file is anyone's to write: control characters are escaped, garbage is not shown.
        (format!("{pid} evil\x1b[2Jcommand\n"), format!("{waiting} pid {pid} (evil\\u{{1b}}[2Jcommand)")),
        ("not a holder line \x1b[2J".to_string(), format!("{waiting} another devshell")),
    ];
    for (round, (holder, shown)) in holders.into_iter().enumerate() {
        let mut lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(devshell::lock::lock_path(&sandbox.state()))
            .unwrap();
        lock.lock().unwrap();
        lock.write_all(holder.as_bytes()).unwrap();

        let mut child = sandbox
            .command(sandbox.path())
            .args(["-c", &format!("echo {round} > /r{round}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn devshell");
        let stderr = child.stderr.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if lines.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let first = received.recv_timeout(Duration::from_secs(30)).expect("a line saying it waits");
        assert_eq!(first, shown);
        std::thread::sleep(Duration::from_millis(300));
        assert!(child.try_wait().unwrap().is_none(), "it waits while the workspace is held");

        drop(lock);
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(received.iter().collect::<Vec<_>>(), Vec::<String>::new(), "one waiting line, nothing else");
    }
    let check = sandbox.run(&["-c", "cat /r0 /r1 /r2"]);
    assert_eq!(text(&check.stdout), "0\n1\n2\n");
}

#[test]
fn a_repl_takes_up_what_another_run_saved_and_keeps_its_own() {
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(sandbox.path());
    command.env("TERM", "xterm").env_remove("CARGO_TERM_COLOR").env_remove("NO_COLOR");
    let mut repl = spawn_command(command, Some(10_000)).expect("spawn devshell in a pty");
    repl.exp_string("devshell[host-sandbox]:/$ ").unwrap();
    repl.send_line("mkdir /d; echo a > /a; cd /d").unwrap();
    repl.exp_string("devshell[host-sandbox]:/d$ ").unwrap();

    // The REPL holds nothing while its prompt waits: this run goes through at once.
    let other = sandbox.run(&["-c", "echo b > /b"]);
    assert!(other.status.success(), "{}", text(&other.stderr));
    assert!(!text(&other.stderr).contains("waiting"), "{}", text(&other.stderr));

    // Its next line sees `b`, and it keeps its own directory.
    repl.send_line("M=listed; ls /; echo $M-done").unwrap();
    let listing = repl.exp_string("listed-done").unwrap();
    assert!(listing.contains("a\r\nb\r\nd\r\n"), "{listing}");
    repl.exp_string("devshell[host-sandbox]:/d$ ").unwrap();
    repl.send_line("echo c > /c").unwrap();
    repl.exp_string("devshell[host-sandbox]:/d$ ").unwrap();
    repl.send_line("exit").unwrap();
    repl.exp_eof().unwrap();

    let check = sandbox.run(&["-c", "ls /"]);
    assert_eq!(text(&check.stdout), "a\nb\nc\nd\n", "{}", text(&check.stderr));
}
