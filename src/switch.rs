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
use crate::plan::LinkScheme;
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
    /// The link on this machine.
    pub path: PathBuf,
    /// What is there now, judged.
    pub state: LinkState,
    /// When the link there was last switched (its own mtime).
    pub since: Option<SystemTime>,
    /// The profile it should point at.
    pub to: String,
}

impl Step<'_> {
    /// Whether the link already points where it should (and so is not touched).
    pub fn already(&self) -> bool {
        self.state.profile(&self.node.normal_profile) == Some(self.to.as_str())
    }

    /// What the link points at now, as the output and journal show it.
    pub fn from(&self) -> Option<String> {
        self.state.shown(&self.node.normal_profile)
    }

    /// Whether the node is switched away from its normal profile to a described profile.
    pub fn is_switched(&self) -> bool {
        matches!(self.state, LinkState::Switched(_))
            || matches!(&self.state, LinkState::Dangling(p) if *p != self.node.normal_profile)
    }
}

/// Reads the link folder once and pairs each `(node, profile)` with what is on disk. With
/// `clean` (the caller holds the lock), a killed run's temporaries are removed on the way.
pub fn plan<'a>(
    cluster: &Cluster,
    layout: &Layout,
    wanted: impl IntoIterator<Item = (&'a Node, String)>,
    clean: bool,
) -> Result<Vec<Step<'a>>> {
    let dir = &layout.pxelinux_dir;
    let mut listing = tree::scan(dir)?;
    if clean {
        tree::remove_temps(dir, &mut listing)?;
    }
    let scheme = LinkScheme::Pxelinux;
    let described = |p: &str| cluster.profiles.contains_key(p);
    let present = |p: &str| listing.get(p).is_some_and(|f| f.entry == Entry::File);
    Ok(wanted
        .into_iter()
        .map(|(node, to)| {
            let name = scheme.name(node.mac);
            let found: Option<&Found> = listing.get(&name);
            Step {
                node,
                state: LinkState::of(
                    found.map(|f| &f.entry),
                    &node.normal_profile,
                    described,
                    present,
                ),
                since: found.and_then(|f| f.since),
                path: dir.join(name),
                to,
            }
        })
        .collect())
}

/// What stands at `node`'s entry now, judged; read alone (for one node, where [`plan`] reads
/// the folder once for many).
pub fn current(cluster: &Cluster, layout: &Layout, node: &Node) -> Result<LinkState> {
    let path = layout
        .pxelinux_dir
        .join(LinkScheme::Pxelinux.name(node.mac));
    let entry = tree::entry_at(&path)?;
    Ok(LinkState::of(
        entry.as_ref(),
        &node.normal_profile,
        |p| cluster.profiles.contains_key(p),
        |p| tree::is_file(&layout.profile(p)),
    ))
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
        let recent = s.is_switched()
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
/// the lock. Journal lines follow their switches in chunks, so a crash loses at most the
/// tail of the journal, never a link.
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
    let dir = atomic::Dir::open(todo[0].path.parent().unwrap_or(Path::new("/")))?;
    for (i, step) in todo.iter().enumerate() {
        let displaced = match step.state {
            LinkState::NotALink(Entry::Dir) => Some(displace(&step.path)?),
            _ => None,
        };
        dir.replace_link(atomic::file_name(&step.path)?, &step.to)?;
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
    dir.sync()?;
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
