//! pxectl: a PXE boot service (dnsmasq, nginx, pxelinux) described in YAML and managed from it.

pub mod atomic;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod daemons;
pub mod description;
pub mod diagnostic;
pub mod exit_codes;
pub mod journal;
pub mod lifecycle;
pub mod lock;
pub mod mac;
pub mod output;
pub mod plan;
pub mod status;
pub mod switch;
pub mod targets;
pub mod templates;
pub mod timing;
pub mod tree;

use std::io::Write as _;

use cli::{Cli, Command, Settings};
use cmd::{Destination, Only};
use exit_codes::ExitCode;

/// Runs the command `cli` names; the caller prints any error and exits.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from(cli);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match &cli.command {
        Command::Render(args) => cmd::render(&settings, args, None, &mut out)?,
        Command::Apply(a) => cmd::render(
            &settings,
            &a.render,
            Some(settings.reach(a.live_daemons)),
            &mut out,
        )?,
        Command::Reload(args) => cmd::reload(&settings, args, &mut out)?,
        Command::Validate => cmd::validate(&settings, &mut out)?,
        Command::Reimage(a) => cmd::switch(
            &settings,
            "reimage",
            &a.switch,
            &Destination::Reimage,
            Only::Every,
            a.wait.then_some(a.timeout),
            &mut out,
        )?,
        Command::BootNormal(a) => cmd::switch(
            &settings,
            "boot-normal",
            a,
            &Destination::Normal,
            Only::Every,
            None,
            &mut out,
        )?,
        Command::Rescue(a) => cmd::switch(
            &settings,
            "rescue",
            a,
            &Destination::Rescue,
            Only::Every,
            None,
            &mut out,
        )?,
        Command::Boot(a) => cmd::switch(
            &settings,
            "boot",
            &a.switch,
            &Destination::Profile(a.profile.clone()),
            Only::Every,
            None,
            &mut out,
        )?,
        Command::Reset(a) => cmd::switch(
            &settings,
            "reset",
            &a.switch,
            &Destination::Normal,
            Only::OlderThan(a.older_than),
            None,
            &mut out,
        )?,
        Command::Status(a) => cmd::status(&settings, a, &mut out)?,
        Command::Log(a) => cmd::log(&settings, a, &mut out)?,
        Command::Watch(a) => cmd::watch(&settings, a, &mut out)?,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "pxectl", &mut out);
            ExitCode::Success
        }
        Command::Man => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            ExitCode::Success
        }
    };
    out.flush()?;
    Ok(code)
}
