//! `stage`: parse the command line, run, map the outcome to the documented exit code.

use clap::Parser;

/// mimalloc keeps freed batch-sized buffers mapped for the next batch, where glibc's malloc
/// returns them to the kernel and page-faults them in again (benches/PROFILE.md, session 8).
/// Only the binary chooses an allocator: the library stays allocator-agnostic.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = stage::cli::Cli::parse();
    let code = match stage::commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stage: error: {e:#}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
