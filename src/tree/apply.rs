//! Applying changes to the disk: the only place render writes, every write atomic.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;

use super::compare::{Change, Comparison, Finding};
use super::scan::par_map;
use crate::atomic;
use crate::mac::MacAddr;

/// What apply did.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub files_written: usize,
    pub links_created: usize,
    pub links_replaced: usize,
    pub links_pruned: usize,
    /// Leftover profile files removed (`--prune`).
    pub files_removed: usize,
    /// What happened to nodes' links, for the journal.
    pub node_links: Vec<NodeLinkChange>,
}

impl Applied {
    /// Notes that render pointed `node`'s entries at `profile` (they were `from`): one
    /// journal line a node, whatever the number of loaders its entries are for.
    fn journal_node(&mut self, node: &str, mac: MacAddr, from: Option<String>, profile: &str) {
        let again = self
            .node_links
            .last()
            .is_some_and(|l| l.mac == mac && l.to.as_deref() == Some(profile));
        if !again {
            self.node_links.push(NodeLinkChange {
                node: Some(node.to_string()),
                mac,
                from,
                to: Some(profile.to_string()),
            });
        }
    }
}

/// A node's link that render created, repaired or pruned.
#[derive(Debug, Clone)]
pub struct NodeLinkChange {
    /// The node; none for an orphan.
    pub node: Option<String>,
    pub mac: MacAddr,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Applies `changes` in order (files first, so links never dangle), then syncs every folder touched.
/// Refuses, before changing anything, when a folder or special file stands where a rendered
/// file belongs. Records the profile files written last ([`super::WRITTEN`]).
pub fn apply(cmp: &Comparison, progress: &ProgressBar) -> Result<Applied> {
    refuse_blocked(cmp)?;
    let changes = &cmp.changes;
    let mut done = Applied::default();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut ensured: HashSet<PathBuf> = HashSet::new();
    let mut open: HashMap<PathBuf, atomic::Dir> = HashMap::new();
    let mut ensure = |path: &Path, dirs: &mut BTreeSet<PathBuf>| -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        if !ensured.contains(dir) {
            atomic::ensure_dir(dir)?;
            ensured.insert(dir.to_path_buf());
            dirs.insert(dir.to_path_buf());
        }
        Ok(())
    };
    let mut i = 0;
    while i < changes.len() {
        let change = &changes[i];
        i += 1;
        match change {
            Change::WriteFile {
                dest,
                contents,
                mode,
                ..
            } => {
                ensure(dest, &mut dirs)?;
                atomic::write_file(dest, contents.as_bytes(), *mode)?;
                done.files_written += 1;
            }
            Change::SetMode { path, mode, id, .. } => {
                atomic::set_mode(path, *mode, *id)?;
                done.files_written += 1;
            }
            Change::RemoveFile { path } => {
                remove(path)?;
                dirs.insert(path.parent().unwrap_or(Path::new("/")).to_path_buf());
                done.files_removed += 1;
            }
            Change::CreateLink { .. } => {
                // A run of new links (a cold tree: one per node) is independent work: it is
                // spread over the cores, since the kernel lets link creations in one folder
                // overlap in part.
                let run = changes[i - 1..]
                    .iter()
                    .take_while(|c| matches!(c, Change::CreateLink { .. }))
                    .count();
                let batch = &changes[i - 1..i - 1 + run];
                i += run - 1;
                for c in batch {
                    if let Change::CreateLink { path, .. } = c {
                        ensure(path, &mut dirs)?;
                        let dir = path.parent().unwrap_or(Path::new("/"));
                        if !open.contains_key(dir) {
                            open.insert(dir.to_path_buf(), atomic::Dir::open(dir)?);
                        }
                    }
                }
                create_links(batch, &open, progress, &mut done)?;
                continue;
            }
            Change::ReplaceLink {
                path, target, node, ..
            } => {
                ensure(path, &mut dirs)?;
                atomic::replace_link(path, target)?;
                done.links_replaced += 1;
                if let Some((node, mac, profile)) = node {
                    done.journal_node(node, *mac, super::LinkState::Mixed.shown(""), profile);
                }
            }
            Change::RemoveLink { path, old, mac } => {
                remove(path)?;
                ensure(path, &mut dirs)?;
                done.links_pruned += 1;
                done.node_links.push(NodeLinkChange {
                    node: None,
                    mac: *mac,
                    from: Some(old.display().to_string()),
                    to: None,
                });
            }
        }
        progress.inc(1);
    }
    for dir in &dirs {
        atomic::sync_dir(dir)?;
    }
    if let Some((list, text)) = &cmp.written {
        atomic::ensure_dir(list.parent().unwrap_or(Path::new("/")))?;
        atomic::write_file(list, text.as_bytes(), 0o644)?;
    }
    progress.finish_and_clear();
    Ok(done)
}

/// Removes the file or link `path`; one gone already is fine.
fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove `{}`", path.display()))
        }
        _ => Ok(()),
    }
}

fn refuse_blocked(cmp: &Comparison) -> Result<()> {
    match cmp
        .findings
        .iter()
        .find(|f| matches!(f, Finding::NotAFile { .. }))
    {
        Some(Finding::NotAFile { path, entry, .. }) => anyhow::bail!(
            "`{}` is {}, not a file; move it away so pxectl can write its file there",
            crate::output::path(path),
            entry.describe()
        ),
        _ => Ok(()),
    }
}

/// Creates the links of `batch` (all `CreateLink`, their folders in `open`) on every core,
/// and counts and journals in `done` those this run created. The worker threads only make
/// system calls; what is journaled is built afterwards, so their allocator heaps stay empty
/// (fresh memory is costly, docs/performance.md).
fn create_links(
    batch: &[Change],
    open: &HashMap<PathBuf, atomic::Dir>,
    progress: &ProgressBar,
    done: &mut Applied,
) -> Result<()> {
    let created = par_map(batch, |c| {
        let Change::CreateLink { path, target, .. } = c else {
            return Ok(false);
        };
        let dir = path.parent().unwrap_or(Path::new("/"));
        let made = open[dir].create_link(atomic::file_name(path)?, target)?;
        progress.inc(1);
        Ok(made)
    })?;
    for (c, made) in batch.iter().zip(created) {
        done.links_created += usize::from(made);
        if let (
            true,
            Change::CreateLink {
                node: Some((node, mac, profile)),
                ..
            },
        ) = (made, c)
        {
            done.journal_node(node, *mac, None, profile);
        }
    }
    Ok(())
}
