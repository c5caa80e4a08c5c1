//! `stage`: parse the command line, run, map the outcome to the documented exit code.

use clap::Parser;

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
