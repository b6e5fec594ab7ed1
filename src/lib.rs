//! pxectl: a PXE boot service (dnsmasq, nginx, pxelinux) described in YAML and managed from it.

pub mod atomic;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod description;
pub mod diagnostic;
pub mod exit_codes;
pub mod lock;
pub mod mac;
pub mod output;
pub mod plan;
pub mod templates;
pub mod tree;

use std::io::Write as _;

use cli::{Cli, Command, Settings};
use exit_codes::ExitCode;

/// Runs the command `cli` names; the caller prints any error and exits.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from(cli);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match &cli.command {
        Command::Render(args) => cmd::render(&settings, args, &mut out)?,
        Command::Validate => cmd::validate(&settings, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
