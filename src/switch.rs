//! Re-pointing nodes' per-MAC links: the one operation behind reimage, boot-normal, rescue,
//! boot and reset. Every switch is atomic, journaled, and never follows what it replaces.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;

use crate::atomic;
use crate::cluster::{Cluster, Node};
use crate::exit_codes::UsageError;
use crate::journal;
use crate::layout::Layout;
use crate::loader::{stem, Loader};
use crate::tree::{self, Entry, Found, LinkState};

/// Prefix of the name a folder found where a link belongs is moved to.
pub const DISPLACED_PREFIX: &str = ".pxectl.displaced.";

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
    pub fn profile(&self, cluster: &Cluster, node: &Node) -> String {
        match self {
            Self::Reimage => cluster.roles.reimage.clone(),
            Self::Normal => node.normal_profile.clone(),
            Self::Rescue => cluster.roles.rescue.clone().unwrap_or_default(),
            Self::Profile(p) => p.clone(),
        }
    }

    pub fn check(&self, cluster: &Cluster) -> Result<(), UsageError> {
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

/// One node and where it should boot next.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub node: &'a Node,
    /// Its entries on this machine, one per loader in use.
    pub entries: Vec<StepEntry>,
    /// What is there now, the entries judged together ([`LinkState::of_node`]).
    pub state: LinkState,
    /// When the first entry was last switched (its own mtime).
    pub since: Option<SystemTime>,
    /// The profile it should point at.
    pub to: String,
}

/// One of a node's entries in a switch.
#[derive(Debug, Clone)]
pub struct StepEntry {
    pub loader: Loader,
    /// The link on this machine.
    pub path: PathBuf,
    /// What is there now, judged.
    pub state: LinkState,
    /// The target it should have: the profile switched to, rendered with the node's extra
    /// kernel arguments, in the loader's naming.
    pub target: String,
    /// Whether it has it already.
    pub there: bool,
    /// Whether the target is a file in the folder (render has written it).
    pub target_written: bool,
}

impl Step<'_> {
    /// Whether every entry already points where it should (and so is not touched).
    pub fn already(&self) -> bool {
        self.entries.iter().all(|e| e.there)
    }

    /// What the link points at now, as the output and journal show it.
    pub fn from(&self) -> Option<String> {
        self.state.shown(&self.node.normal_profile)
    }
}

/// Reads each loader's folder once and pairs each `(node, profile)` with what is on disk.
/// With `clean` (the caller holds the lock), a killed run's temporaries are removed on the way.
pub fn plan<'a>(
    cluster: &Cluster,
    layout: &Layout,
    wanted: impl IntoIterator<Item = (&'a Node, String)>,
    clean: bool,
) -> Result<Vec<Step<'a>>> {
    let mut folders = Vec::new();
    for loader in cluster.loaders_in_use() {
        let dir = layout.loader_dir(loader);
        let mut listing = tree::scan(&dir)?;
        if clean {
            tree::remove_temps(&dir, &mut listing)?;
        }
        folders.push((loader, dir, listing));
    }
    let described = |p: &str| cluster.profiles.contains_key(p);
    Ok(wanted
        .into_iter()
        .map(|(node, to)| {
            let mut since = None;
            let stem = stem(&to, node.variant.as_deref());
            let entries: Vec<StepEntry> = folders
                .iter()
                .map(|(loader, dir, listing)| {
                    let name = loader.entry(node.mac);
                    let found: Option<&Found> = listing.get(&name);
                    if since.is_none() {
                        since = found.and_then(|f| f.since);
                    }
                    let target = loader.file(&stem);
                    StepEntry {
                        loader: *loader,
                        state: LinkState::listed(
                            listing,
                            &name,
                            *loader,
                            &node.normal_profile,
                            described,
                        ),
                        path: dir.join(name),
                        there: found.is_some_and(|f| f.entry == Entry::Link(target.clone().into())),
                        target_written: listing
                            .get(&target)
                            .is_some_and(|f| f.entry == Entry::File),
                        target,
                    }
                })
                .collect();
            Step {
                node,
                state: LinkState::of_node(entries.iter().map(|e| &e.state), &node.normal_profile),
                entries,
                since,
                to,
            }
        })
        .collect())
}

/// Refuses a switch that would point an entry at a file render has not written yet (a
/// profile added, a loader or extra kernel arguments added, since the last render): a
/// missing file sends the machine to `default`, an installer.
pub fn refuse_unwritten_targets(steps: &[Step<'_>]) -> Result<()> {
    let unwritten = steps
        .iter()
        .filter(|s| !s.already())
        .flat_map(|s| &s.entries)
        .find(|e| !e.target_written);
    if let Some(e) = unwritten {
        anyhow::bail!(
            "`{}/{}` does not exist yet, so switched nodes would boot `default` instead; run `pxectl render` first (nothing was switched)",
            e.loader.dir(),
            e.target
        );
    }
    Ok(())
}

/// Splits the steps into those `only` asks for and the recent switches it keeps.
pub fn select(steps: Vec<Step<'_>>, only: Only) -> (Vec<Step<'_>>, Vec<Step<'_>>) {
    let Only::OlderThan(age) = only else {
        return (steps, Vec::new());
    };
    let now = SystemTime::now();
    steps.into_iter().partition(|s| {
        if s.already() {
            return true;
        }
        let Some(age) = age else { return true };
        // Only a switch to a described profile is worth waiting for; a missing entry, a
        // file, or a link anywhere else is reset whatever its age.
        let recent = s.state.is_switched(&s.node.normal_profile)
            && s.since
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() < age);
        !recent
    })
}

/// What one applied switch did.
#[derive(Debug, Clone)]
pub struct Done {
    pub node: String,
    pub from: Option<String>,
    pub to: String,
    /// Where a folder found in the link's place was moved.
    pub displaced: Option<PathBuf>,
}

/// Applies every step that is not `already`, journaling each as `command`; the caller holds
/// the lock. A node's entries are flipped one after the other in the loaders' order, each by
/// a rename; its journal line follows them, in chunks, so a crash loses at most the tail of
/// the journal, never a link (and the next switch or render finishes a node left mixed).
pub fn apply(
    steps: &[Step<'_>],
    state_dir: &Path,
    command: &str,
    progress: &ProgressBar,
) -> Result<Vec<Done>> {
    let todo: Vec<&Step<'_>> = steps.iter().filter(|s| !s.already()).collect();
    let mut done = Vec::with_capacity(todo.len());
    if todo.is_empty() {
        return Ok(done);
    }
    let mut journal = journal::Writer::open(state_dir)?;
    let mut dirs: Vec<(PathBuf, atomic::Dir)> = Vec::new();
    for (i, step) in todo.iter().enumerate() {
        let mut displaced = None;
        for entry in step.entries.iter().filter(|e| !e.there) {
            let path = &entry.path;
            if entry.state == LinkState::NotALink(Entry::Dir) {
                displaced = Some(displace(path)?);
            }
            let folder = path.parent().unwrap_or(Path::new("/"));
            let k = if let Some(k) = dirs.iter().position(|(d, _)| d == folder) {
                k
            } else {
                dirs.push((folder.to_path_buf(), atomic::Dir::open(folder)?));
                dirs.len() - 1
            };
            dirs[k]
                .1
                .replace_link(atomic::file_name(path)?, &entry.target)?;
        }
        let from = step.from();
        journal.record(
            command,
            &step.node.name,
            step.node.mac,
            from.clone(),
            Some(step.to.clone()),
        )?;
        done.push(Done {
            node: step.node.name.clone(),
            from,
            to: step.to.clone(),
            displaced,
        });
        if i % 512 == 511 {
            journal.sync()?;
        }
        progress.inc(1);
    }
    for (_, dir) in &dirs {
        dir.sync()?;
    }
    journal.sync()?;
    progress.finish_and_clear();
    Ok(done)
}

/// Moves a folder found where a link belongs out of the way, keeping it for the operator.
fn displace(path: &Path) -> Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let to = path.with_file_name(format!("{DISPLACED_PREFIX}{name}.{stamp}"));
    std::fs::rename(path, &to)
        .with_context(|| format!("cannot move the folder `{}` out of the way", path.display()))?;
    Ok(to)
}
