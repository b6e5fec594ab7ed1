//! `pxectl import`: describe a hand-made setup, proved by the round trip, and write it.

use std::io::Write;

use anyhow::Result;

use crate::cli::{ImportArgs, Settings};
use crate::exit_codes::{ExitCode, UsageError};
use crate::import::{self, Request};
use crate::output::Verbosity;

/// Imports the setup under `--root`; writes the description only when the round trip holds.
pub fn import(settings: &Settings, args: &ImportArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let refuse_existing = || -> Result<()> {
        match &args.output {
            Some(path) if !args.force && path.symlink_metadata().is_ok() => {
                Err(UsageError(format!(
                    "`{}` exists; pass `--force` to replace it, or write elsewhere with `-o FILE`",
                    path.display()
                ))
                .into())
            }
            _ => Ok(()),
        }
    };
    refuse_existing()?;
    let outcome = import::import(&Request {
        root: settings.root.as_deref(),
        dnsmasq_conf: &args.dnsmasq_conf,
        nginx_conf: &args.nginx_conf,
    })?;
    let mut err = anstream::stderr();
    if settings.verbosity > Verbosity::Quiet {
        // Names and link targets read from the setup: escaped, like everything shown from disk.
        for note in &outcome.notes {
            writeln!(err, "import: {}", crate::output::escaped(note))?;
        }
    }
    if !outcome.differences.is_empty() {
        writeln!(
            err,
            "import: the description would not render this setup, so nothing was written:"
        )?;
        for d in &outcome.differences {
            writeln!(err, "  {}", crate::output::escaped(d))?;
        }
        return Ok(ExitCode::Differs);
    }
    match &args.output {
        Some(path) => {
            refuse_existing()?;
            crate::atomic::write_file(path, outcome.yaml.as_bytes(), 0o644)?;
        }
        None => out.write_all(outcome.yaml.as_bytes())?,
    }
    writeln!(err, "import: {}", outcome.summary)?;
    Ok(ExitCode::Success)
}
