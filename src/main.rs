//! `licd`: parse the command line and dispatch. No logic lives here.

// mimalloc: many small allocations freed on other threads (requests, TLS records, JSON)
// cost noticeably less than with the system allocator; see BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    licd::cli::main()
}
