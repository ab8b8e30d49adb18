fn main() {
    std::process::exit(devshell::cli::main());
}
