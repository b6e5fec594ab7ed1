//! `pxectl reimage`, `boot-normal`, `rescue`, `boot` and `reset`: re-point nodes' links.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::cli::{Settings, SwitchArgs};
use crate::cluster::{Cluster, Node};
use crate::exit_codes::{ExitCode, UsageError};
use crate::lock;
use crate::output::{progress_bar, Verbosity};
use crate::switch::{self, Step};
use crate::targets::{self, Selection};
use crate::tree::Root;

/// Where the switch sends each node.
#[derive(Debug, Clone)]
pub enum Destination {
    /// `roles.reimage`.
    Reimage,
    /// Each node's normal profile.
    Normal,
    /// `roles.rescue`.
    Rescue,
    /// A profile named on the command line.
    Profile(String),
}

impl Destination {
    /// The profile for `node`, once `check` has passed.
    fn profile(&self, cluster: &Cluster, node: &Node) -> String {
        match self {
            Self::Reimage => cluster.roles.reimage.clone(),
            Self::Normal => node.normal_profile.clone(),
            Self::Rescue => cluster.roles.rescue.clone().unwrap_or_default(),
            Self::Profile(p) => p.clone(),
        }
    }

    fn check(&self, cluster: &Cluster) -> Result<(), UsageError> {
        match self {
            Self::Rescue if cluster.roles.rescue.is_none() => Err(UsageError(
                "the description names no rescue profile; set `roles.rescue` (docs/configuration.md)".into(),
            )),
            Self::Profile(p) if !cluster.profiles.contains_key(p) => {
                let known: Vec<String> = cluster.profiles.keys().map(|k| format!("`{k}`")).collect();
                Err(UsageError(format!("profile `{p}` is not described; use one of {}", known.join(", "))))
            }
            _ => Ok(()),
        }
    }
}

/// Which switched nodes `reset` puts back.
#[derive(Debug, Clone, Copy)]
pub enum Only {
    /// `reimage` and friends: every selected node.
    Every,
    /// `reset`: nodes not on their normal profile, switched at least this long ago.
    OlderThan(Option<Duration>),
}

/// Runs one switching command (`command` names it in the output and the journal).
pub fn switch(
    settings: &Settings,
    command: &str,
    args: &SwitchArgs,
    dest: &Destination,
    only: Only,
    wait: Option<Duration>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let sel = args.targets.selection();
    require_targets(&sel, command)?;
    let cluster = crate::description::from_file_cached(&settings.config, &settings.host_root())?;
    dest.check(&cluster)?;
    let nodes = targets::resolve(&cluster, &sel)?;
    let root = Root::new(settings.root.clone());
    let state = root.host(&cluster.paths.state_dir);
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
    let steps = switch::plan(&cluster, &root, wanted(), lock.is_some())?;
    let (steps, kept) = select(&cluster, steps, only);
    warn_missing_profiles(&cluster, &root, &steps);

    let width = steps.iter().map(|s| s.node.name.len()).max().unwrap_or(0);
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
    let changing = steps.len() - already;
    if args.dry_run {
        writeln!(
            out,
            "{command}: {changing} would switch, {already} already; dry run, nothing changed{}",
            kept_note(kept, only)
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
            eprintln!(
                "warning: node `{}`: a folder stood where its link belongs; it was moved to `{}`",
                d.node,
                moved.display()
            );
        }
    }
    writeln!(
        out,
        "{command}: {} switched, {already} already{}",
        done.len(),
        kept_note(kept, only)
    )?;
    drop(lock);
    match (waiter, wait) {
        (Some(waiter), Some(timeout)) => {
            // What was switched shows before the wait, even on a terminal (the bar is on stderr).
            out.flush()?;
            waiter.wait(&cluster, &root, settings, &nodes, timeout, out)
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

/// Keeps the steps `only` asks for; returns them and how many recent switches were kept.
fn select<'a>(cluster: &Cluster, steps: Vec<Step<'a>>, only: Only) -> (Vec<Step<'a>>, usize) {
    let Only::OlderThan(age) = only else {
        return (steps, 0);
    };
    let now = SystemTime::now();
    let mut kept = 0;
    let steps = steps
        .into_iter()
        .filter(|s| {
            if s.already() {
                return true;
            }
            let Some(age) = age else { return true };
                        // Only a link to a described profile is a switch worth waiting for; a missing
            // entry, a file, or a link anywhere else is reset whatever its age.
            let is_switch = matches!(&s.current, Some(crate::tree::Entry::Link(t))
                if t.to_str().is_some_and(|t| crate::tree::is_plain_name(t) && cluster.profiles.contains_key(t)));
            let recent = is_switch && s.since().is_some_and(|t| now.duration_since(t).unwrap_or_default() < age);
            kept += usize::from(recent);
            !recent
        })
        .collect();
    (steps, kept)
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

/// Warns when a switch would point at a profile file render has not written yet.
fn warn_missing_profiles(cluster: &Cluster, root: &Root, steps: &[Step<'_>]) {
    let mut seen = std::collections::BTreeSet::new();
    for step in steps.iter().filter(|s| !s.already()) {
        if seen.insert(step.to.as_str()) && !root.host(&cluster.profile_path(&step.to)).is_file() {
            eprintln!(
                "warning: `pxelinux.cfg/{}` does not exist yet, so switched nodes would not boot; run `pxectl render`",
                step.to
            );
        }
    }
}
