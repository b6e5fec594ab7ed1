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
        writeln!(
            out,
            "{}: valid ({} nodes, {} reservations, {} profiles, {} files and {} links to render)",
            settings.config.display(),
            cluster.nodes.len(),
            cluster.reservations.len(),
            cluster.profiles.len(),
            plan.files.len(),
            plan.links.len()
        )?;
    }
    Ok(ExitCode::Success)
}
