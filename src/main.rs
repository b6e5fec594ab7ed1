//! The `pxectl` binary: parse the command line, run, print the final error, pick the exit status.

use pxectl::cli::Cli;
use pxectl::exit_codes::for_error;

// mimalloc: pxectl allocates many small strings per node and frees them all at exit; glibc's
// malloc spent a fifth of a 100,000-node render in its free lists (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match pxectl::complete::answer() {
        Ok(true) => return std::process::ExitCode::SUCCESS,
        Ok(false) => {}
        Err(err) => err.exit(),
    }
    pxectl::timing::start();
    let cli = Cli::parse_args();
    let result = pxectl::run(&cli);
    // Freeing what the run built is part of its cost.
    pxectl::timing::phase("freed");
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            let (message, code) = for_error(&err);
            anstream::eprint!("{message}");
            code.into()
        }
    }
}
