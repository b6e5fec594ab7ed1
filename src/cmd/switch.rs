//! `pxectl reimage`, `boot-normal`, `rescue`, `boot` and `reset`: re-point nodes' links.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Settings, SwitchArgs};
use crate::exit_codes::{ExitCode, UsageError};
use crate::lock;
use crate::output::{progress_bar, Verbosity};
use crate::switch::{self, Destination, Only};
use crate::targets::{self, Selection};

/// One switching command, as the command line asked for it.
#[derive(Debug)]
pub struct SwitchRequest<'a> {
    /// Its name, in the output and the journal.
    pub command: &'static str,
    pub args: &'a SwitchArgs,
    pub dest: Destination,
    pub only: Only,
    /// `reimage --wait`: how long to wait for the installs to call back.
    pub wait: Option<Duration>,
}

/// Runs one switching command.
pub fn switch(
    settings: &Settings,
    req: &SwitchRequest<'_>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let SwitchRequest {
        command,
        args,
        ref dest,
        only,
        wait,
    } = *req;
    let sel = args.targets.selection();
    require_targets(&sel, command)?;
    let super::Loaded { cluster, layout } = super::load(settings)?;
    dest.check(&cluster)?;
    let nodes = targets::resolve(&cluster, &sel)?;
    let state = layout.state_dir.clone();
    let wanted = || nodes.iter().map(|n| (*n, dest.profile(&cluster, n)));
    if wait.is_some() {
        crate::lifecycle::require_callbacks(&cluster)?;
    }

    let lock = if args.dry_run {
        None
    } else {
        Some(lock::acquire(&state, settings.lock_timeout)?)
    };
    // Under the lock, the one read of the link folder also removes a killed run's temporaries.
    let steps = switch::plan(&cluster, &layout, wanted(), lock.is_some())?;
    let (steps, kept) = switch::select(steps, only);
    switch::refuse_unwritten_targets(&steps)?;

    let width = steps
        .iter()
        .chain(&kept)
        .map(|s| s.node.name.len())
        .max()
        .unwrap_or(0);
    let quiet = settings.verbosity == Verbosity::Quiet;
    let already = steps.iter().filter(|s| s.already()).count();
    let listed_already = matches!(only, Only::Every);
    if !quiet {
        for step in &steps {
            if step.already() {
                if listed_already {
                    writeln!(out, "{:width$}  {} (already)", step.node.name, step.to)?;
                }
            } else {
                let from = step.from().unwrap_or_else(|| "(no link)".into());
                writeln!(out, "{:width$}  {from} -> {}", step.node.name, step.to)?;
            }
        }
    }
    if let (Verbosity::Verbose, Only::OlderThan(Some(age))) = (settings.verbosity, only) {
        for step in &kept {
            let at = step.since.map_or_else(
                || "?".to_string(),
                |t| humantime::format_rfc3339_seconds(t).to_string(),
            );
            let from = step.from().unwrap_or_default();
            writeln!(
                out,
                "{:width$}  {from} (kept: switched at {at}, less than {} ago)",
                step.node.name,
                humantime::format_duration(age)
            )?;
        }
    }
    let changing = steps.len() - already;
    if args.dry_run {
        writeln!(
            out,
            "{command}: {changing} would switch, {already} already; dry run, nothing changed{}",
            kept_note(kept.len(), only)
        )?;
        return Ok(ExitCode::Success);
    }
    let bar = progress_bar(changing, settings.verbosity, command);
    let done = switch::apply(&steps, &state, command, &bar)?;
    // Follow the logs from right after the switch, still under the lock: a callback written
    // before it predates this reimage and must not count.
    let waiter = match wait {
        Some(_) => Some(crate::lifecycle::Waiter::start(&cluster)?),
        None => None,
    };
    for d in &done {
        if let Some(moved) = &d.displaced {
            crate::output::warn(&format!(
                "node `{}`: a folder stood where its link belongs; it was moved to `{}`",
                d.node,
                moved.display()
            ));
        }
    }
    writeln!(
        out,
        "{command}: {} switched, {already} already{}",
        done.len(),
        kept_note(kept.len(), only)
    )?;
    drop(lock);
    match (waiter, wait) {
        (Some(waiter), Some(timeout)) => {
            // What was switched shows before the wait, even on a terminal (the bar is on stderr).
            out.flush()?;
            waiter.wait(&cluster, &layout, settings, &nodes, timeout, out)
        }
        _ => Ok(ExitCode::Success),
    }
}

fn require_targets(sel: &Selection<'_>, command: &str) -> Result<(), UsageError> {
    if sel.is_empty() {
        return Err(UsageError(format!(
            "name the nodes to {command}: node names, MAC addresses or ranges like `node[1-3]`, `--group NAME`, or `--all`"
        )));
    }
    Ok(())
}

fn kept_note(kept: usize, only: Only) -> String {
    match only {
        Only::OlderThan(Some(age)) if kept > 0 => {
            format!(
                ", {kept} switched less than {} ago (kept)",
                humantime::format_duration(age)
            )
        }
        _ => String::new(),
    }
}
