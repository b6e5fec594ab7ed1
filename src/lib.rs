//! pxectl: a PXE boot service (dnsmasq, nginx, pxelinux) described in YAML and managed from it.

pub mod atomic;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod complete;
pub mod daemons;
pub mod description;
pub mod diagnostic;
pub mod dnsmasq_conf;
pub mod exit_codes;
pub mod import;
pub mod journal;
pub mod layout;
pub mod lifecycle;
pub mod loader;
pub mod lock;
pub mod mac;
pub mod manual;
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
use cmd::SwitchRequest;
use exit_codes::ExitCode;
use switch::{Destination, Only};

/// Runs the command `cli` names; the caller prints any error and exits.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from(cli);
    // stderr is written through anstream, which drops the styles when colour is off there;
    // stdout is given styles only when it is coloured (`Settings::colour`): stripping every
    // byte of a large render's output would cost it time.
    anstream::ColorChoice::write_global(cli.color.into());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let switch = |command, args, dest, only, wait| SwitchRequest {
        command,
        args,
        dest,
        only,
        wait,
    };
    let code = match &cli.command {
        Command::Render(args) => cmd::render(&settings, args, &mut out)?,
        Command::Apply(args) => cmd::apply(&settings, args, &mut out)?,
        Command::Reload(args) => cmd::reload(&settings, args, &mut out)?,
        Command::Validate(a) => cmd::validate(&settings, a, &mut out)?,
        Command::Reimage(a) => {
            let wait = a.wait.then_some(a.timeout);
            let req = switch(
                "reimage",
                &a.switch,
                Destination::Reimage,
                Only::Every,
                wait,
            );
            cmd::switch(&settings, &req, &mut out)?
        }
        Command::BootNormal(a) => {
            let req = switch("boot-normal", a, Destination::Normal, Only::Every, None);
            cmd::switch(&settings, &req, &mut out)?
        }
        Command::Rescue(a) => {
            let req = switch("rescue", a, Destination::Rescue, Only::Every, None);
            cmd::switch(&settings, &req, &mut out)?
        }
        Command::Boot(a) => {
            let dest = Destination::Profile(a.profile.clone());
            let req = switch("boot", &a.switch, dest, Only::Every, None);
            cmd::switch(&settings, &req, &mut out)?
        }
        Command::Reset(a) => {
            let only = Only::OlderThan(a.older_than);
            let req = switch("reset", &a.switch, Destination::Normal, only, None);
            cmd::switch(&settings, &req, &mut out)?
        }
        Command::Status(a) => cmd::status(&settings, a, &mut out)?,
        Command::Log(a) => cmd::log(&settings, a, &mut out)?,
        Command::Watch(a) => cmd::watch(&settings, a, &mut out)?,
        Command::Import(a) => cmd::import(&settings, a, &mut out)?,
        Command::Completions(a) => cmd::completions(a, &mut out)?,
        Command::Man(a) => cmd::man(a, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
