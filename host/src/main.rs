/// The interpreter recurses once per nesting level of a script (and per function call), so it
/// runs on a thread with a stack far larger than the main thread's 8 MiB; only the pages used
/// are ever touched.
const STACK: usize = 1 << 30;

fn main() {
    let shell = std::thread::Builder::new().name("devshell".into()).stack_size(STACK).spawn(devshell::cli::main);
    let status = shell.expect("start the devshell thread").join().unwrap_or(101);
    std::process::exit(status);
}
