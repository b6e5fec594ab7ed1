//! `pxectl completions`: print a shell's completion script.

use std::io::Write;

use anyhow::Result;

use crate::cli::CompletionsArgs;
use crate::exit_codes::ExitCode;

/// Prints the completion script of `args.shell`.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<ExitCode> {
    crate::complete::script(args.shell, out)?;
    Ok(ExitCode::Success)
}
