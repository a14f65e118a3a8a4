//! `licd`: parse the command line and dispatch. No logic lives here.
fn main() -> std::process::ExitCode {
    licd::cli::main()
}
