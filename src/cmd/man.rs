//! `pxectl man`: print a man page, or write them all.

use std::io::Write;

use anyhow::Result;

use crate::cli::ManArgs;
use crate::exit_codes::ExitCode;
use crate::manual;

/// Prints page `args.page`, or writes every page into `args.dir`.
pub fn man(args: &ManArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match &args.dir {
        Some(dir) => manual::write_all(dir)?,
        None => manual::write_page(&args.page, out)?,
    }
    Ok(ExitCode::Success)
}
