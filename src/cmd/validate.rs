//! `pxectl validate`: check the description and its templates, write nothing.

use std::io::Write;

use anyhow::Result;

use crate::cli::Settings;
use crate::exit_codes::ExitCode;
use crate::output::{plural, Verbosity};

/// Loads, checks and renders in memory; reports and exits 0 when all is well.
pub fn validate(settings: &Settings, out: &mut dyn Write) -> Result<ExitCode> {
    let loaded = super::load(settings)?;
    let plan = loaded.plan(settings)?;
    let cluster = &loaded.cluster;
    if settings.verbosity > Verbosity::Quiet {
        writeln!(
            out,
            "{}: valid ({}, {}, {}, {} and {} to render)",
            settings.config.display(),
            plural(cluster.nodes.len(), "node", "nodes"),
            plural(cluster.reservations.len(), "reservation", "reservations"),
            plural(cluster.profiles.len(), "profile", "profiles"),
            plural(plan.files.len(), "file", "files"),
            plural(plan.links.len(), "link", "links"),
        )?;
    }
    Ok(ExitCode::Success)
}
