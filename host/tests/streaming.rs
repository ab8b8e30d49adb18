//! Tool output and input move the way a shell moves them (issue 12), through the real binary
//! and the built-in host-sandbox: a gigabyte of output through a pipe costs devshell no
//! gigabyte of memory, stderr arrives live while stdout is redirected, and piped stdin reaches
//! the tool with its end of file.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{text, Sandbox};

const WATCHDOG: Duration = Duration::from_secs(300);

/// A crate whose program writes `BYTES` (its first argument) of `x` to stdout in 1 MiB
/// writes, with `start` and `end` on stderr around them and a pause of its second argument
/// (milliseconds) between.
const PROGRAM: &str = r#"use std::io::Write;
fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    eprintln!("start");
    std::thread::sleep(std::time::Duration::from_millis(args[1]));
    let chunk = vec![b'x'; 1 << 20];
    let mut out = std::io::stdout().lock();
    let mut left = args[0];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
    eprintln!("end");
}
"#;

/// A sandbox with the crate imported at `/big` and built.
fn with_big_printer() -> Sandbox {
    let sandbox = Sandbox::new();
    let project = sandbox.path().join("big");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("Cargo.toml"), "[package]\nname = \"big\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
        .unwrap();
    std::fs::write(project.join("src/main.rs"), PROGRAM).unwrap();
    let script = format!("import {} /big; cd /big; cargo build -q", project.display());
    let built = sandbox.run_watched(&["-c", &script], WATCHDOG).output;
    assert!(built.status.success(), "{}", text(&built.stderr));
    sandbox
}

#[test]
fn a_gigabyte_through_a_pipe_keeps_devshell_small_and_a_redirect_keeps_every_byte() {
    let sandbox = with_big_printer();
    let idle = sandbox.run_watched(&["-c", "cd /big; cargo run -q -- 0 0 | cat > /dev/null"], WATCHDOG);
    assert!(idle.output.status.success(), "{}", text(&idle.output.stderr));
    let gib = sandbox.run_watched(&["-c", "cd /big; cargo run -q -- 1073741824 0 | cat > /dev/null"], WATCHDOG);
    assert!(gib.output.status.success(), "{}", text(&gib.output.stderr));
    let grown_mib = (gib.peak_rss_kib - idle.peak_rss_kib) / 1024;
    println!(
        "peak RSS: {} MiB idle, {} MiB with 1 GiB through the pipe",
        idle.peak_rss_kib / 1024,
        gib.peak_rss_kib / 1024
    );
    assert!(grown_mib < 64, "1 GiB through a pipe grew devshell by {grown_mib} MiB");

    // Into a workspace file: every byte arrives, the file is kept beside the state file rather
    // than in memory or in the state file, and devshell stays as small.
    let run = sandbox.run_watched(&["-c", "cd /big; cargo run -q -- 1073741824 0 > out.log; ls -l out.log"], WATCHDOG);
    assert!(text(&run.output.stdout).contains(" 1073741824 "), "{}", text(&run.output.stdout));
    let grown_mib = (run.peak_rss_kib - idle.peak_rss_kib) / 1024;
    println!("peak RSS: {} MiB with 1 GiB redirected into a workspace file", run.peak_rss_kib / 1024);
    assert!(grown_mib < 64, "1 GiB into a workspace file grew devshell by {grown_mib} MiB");
    let state_size = std::fs::metadata(sandbox.state()).unwrap().len();
    assert!(state_size < 1 << 20, "the state file holds the big file: {state_size} bytes");
    let out = sandbox.path().join("exported");
    let export = sandbox.run_watched(&["-c", &format!("export /big/out.log {}", out.display())], WATCHDOG);
    assert!(export.output.status.success(), "{}", text(&export.output.stderr));
    let mut file = std::fs::File::open(out.join("out.log")).unwrap();
    assert_eq!(file.metadata().unwrap().len(), 1 << 30);
    let mut chunk = vec![0u8; 1 << 20];
    while let Ok(n) = std::io::Read::read(&mut file, &mut chunk) {
        if n == 0 {
            break;
        }
        assert!(chunk[..n].iter().all(|&b| b == b'x'), "a byte changed on the way");
    }
    // Removing the file frees its storage at the next save.
    let removed = sandbox.run_watched(&["-c", "rm /big/out.log"], WATCHDOG);
    assert!(removed.output.status.success(), "{}", text(&removed.output.stderr));
    let blobs = sandbox.state().with_extension("blobs");
    let left = std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    assert_eq!(left, 0, "{} still holds the removed file", blobs.display());
}

#[test]
fn stderr_arrives_live_while_stdout_is_redirected() {
    let sandbox = with_big_printer();
    let mut child = sandbox
        .command(sandbox.path())
        .args(["-c", "cd /big; cargo run -q -- 1000 1500 > out.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "start" || line == "end" {
            seen.push((line, Instant::now()));
        }
    }
    assert!(child.wait().unwrap().success());
    let [(first, started), (last, ended)] = &seen[..] else { panic!("expected start and end on stderr: {seen:?}") };
    assert_eq!((first.as_str(), last.as_str()), ("start", "end"));
    // The program pauses 1.5 s between them: held back until it ended, they would arrive together.
    assert!(ended.duration_since(*started) > Duration::from_millis(1000), "stderr was held back: {seen:?}");
}

#[test]
fn piped_stdin_reaches_the_tool_with_its_end_of_file() {
    let sandbox = Sandbox::new();
    let script =
        r#"echo 'fn main() { println!("compiled from stdin"); }' | rustc - -o from-stdin; echo "rustc: $?"; ls"#;
    let run = sandbox.run_watched(&["-c", script], WATCHDOG).output;
    let stdout = text(&run.stdout);
    assert!(stdout.contains("rustc: 0") && stdout.contains("from-stdin"), "{stdout}\n{}", text(&run.stderr));
}
