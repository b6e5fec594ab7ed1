//! `pxectl validate`: check the description and its templates, write nothing.

use std::io::Write;

use anyhow::Result;

use crate::cli::Settings;
use crate::exit_codes::ExitCode;
use crate::output::Verbosity;

/// Loads, checks and renders in memory; reports and exits 0 when all is well.
pub fn validate(settings: &Settings, out: &mut dyn Write) -> Result<ExitCode> {
    let loaded = super::load(settings)?;
    let plan = loaded.plan(settings)?;
    let cluster = &loaded.cluster;
    if settings.verbosity > Verbosity::Quiet {
        let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        writeln!(
            out,
            "{}: valid ({}, {}, {}, {} and {} to render)",
            settings.config.display(),
            count(cluster.nodes.len(), "node"),
            count(cluster.reservations.len(), "reservation"),
            count(cluster.profiles.len(), "profile"),
            count(plan.files.len(), "file"),
            count(plan.links.len(), "link"),
        )?;
    }
    Ok(ExitCode::Success)
}
