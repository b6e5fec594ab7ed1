//! `pxectl validate`: check the description and its templates, write nothing.

use std::io::Write;

use anyhow::Result;

use crate::cli::{Settings, ValidateArgs};
use crate::diagnostic::{Diagnostic, InvalidDescription};
use crate::exit_codes::ExitCode;
use crate::output::{plural, Verbosity};

/// Loads, checks and renders in memory; reports and exits 0 when all is well.
pub fn validate(settings: &Settings, args: &ValidateArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let loaded = match super::load(settings) {
        Err(err) if args.json => {
            let invalid = err.downcast::<InvalidDescription>()?;
            write_json(out, &Report::invalid(&invalid))?;
            return Ok(ExitCode::Invalid);
        }
        loaded => loaded?,
    };
    let plan = loaded.plan(settings)?;
    let cluster = &loaded.cluster;
    if args.json {
        let counts = Counts {
            nodes: cluster.nodes.len(),
            reservations: cluster.reservations.len(),
            profiles: cluster.profiles.len(),
            files: plan.files.len(),
            links: plan.links.len(),
        };
        let report = Report {
            file: settings.config.display().to_string(),
            valid: true,
            counts: Some(counts),
            problems: Vec::new(),
        };
        write_json(out, &report)?;
    } else if settings.verbosity > Verbosity::Quiet {
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

/// `validate --json` (docs/cli.md).
#[derive(serde::Serialize)]
struct Report {
    file: String,
    valid: bool,
    /// What a valid description holds and renders to.
    counts: Option<Counts>,
    problems: Vec<Problem>,
}

#[derive(serde::Serialize)]
struct Counts {
    nodes: usize,
    reservations: usize,
    profiles: usize,
    files: usize,
    links: usize,
}

/// One problem: where, the offending value, what is wrong and how to fix it.
#[derive(serde::Serialize)]
struct Problem {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    path: String,
    value: Option<serde_json::Value>,
    message: String,
    hint: Option<String>,
    note: Option<String>,
}

impl Report {
    fn invalid(invalid: &InvalidDescription) -> Self {
        let file = invalid.file.display().to_string();
        let problem = |(d, value): (&Diagnostic, Option<serde_json::Value>)| Problem {
            file: file.clone(),
            line: d.position.map(|p| p.line),
            column: d.position.map(|p| p.column),
            path: d.path.clone(),
            value,
            message: d.message.clone(),
            hint: d.hint.clone(),
            note: d.note.clone(),
        };
        Self {
            file: file.clone(),
            valid: false,
            counts: None,
            problems: invalid
                .diagnostics
                .iter()
                .zip(crate::description::offending_values(invalid))
                .map(problem)
                .collect(),
        }
    }
}

fn write_json(out: &mut dyn Write, report: &Report) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    Ok(())
}
