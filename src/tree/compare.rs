//! A plan compared with the disk: the changes that would bring the disk in line, what render
//! leaves alone but reports, and every node's entry judged by [`LinkState`]. `render`,
//! `render --check`, `--dry-run` and `status` all read this one comparison.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::link::{is_plain_name, LinkState};
use super::scan::{self, entry_at, Entry, Found, Listing};
use crate::atomic;
use crate::layout::Layout;
use crate::loader::{stem, Loader};
use crate::mac::MacAddr;
use crate::plan::{FileKind, FilePlan, LinkPlan, LinkRole, Plan};

/// The state file listing the profile files render wrote, one path (on this machine) a line:
/// a profile removed from the description, or left in a TFTP root no longer described, is
/// then known as a leftover.
pub const WRITTEN: &str = "profiles.written";

/// What stood where a file is written, as it was: to show in a diff, and to put back when a
/// running daemon refuses the new file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Old {
    Nothing,
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    /// A link where pxectl's own file belongs (a profile, the hosts file): replaced, never
    /// followed.
    Link(PathBuf),
}

impl Old {
    /// As text for a diff.
    pub fn text(&self) -> String {
        match self {
            Self::Nothing => String::new(),
            Self::File { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
            Self::Link(t) => format!("({})\n", Entry::Link(t.clone()).describe()),
        }
    }
}

/// One change that would bring the disk in line with the plan. Paths are on this machine.
#[derive(Debug, Clone)]
pub enum Change {
    WriteFile {
        path: PathBuf,
        /// Where the write lands: `path`, or where the config link at `path` points.
        dest: PathBuf,
        contents: String,
        mode: u32,
        old: Old,
        kind: FileKind,
    },
    SetMode {
        path: PathBuf,
        mode: u32,
        old: u32,
        kind: FileKind,
        /// The device and inode compared: the mode of no other file is changed.
        id: (u64, u64),
    },
    CreateLink {
        path: PathBuf,
        target: String,
        /// The node whose entry this is and the profile it selects (none for a `default`).
        node: Option<(String, MacAddr, String)>,
    },
    ReplaceLink {
        path: PathBuf,
        target: String,
        old: Entry,
        /// The node whose entry is brought in line with its others and the profile they
        /// select (none for a `default`).
        node: Option<(String, MacAddr, String)>,
    },
    RemoveLink {
        path: PathBuf,
        old: PathBuf,
        /// The MAC the pruned link was named for.
        mac: MacAddr,
    },
    /// A profile file render wrote once that is no longer described (`--prune`).
    RemoveFile { path: PathBuf },
}

/// Something on disk that makes it differ from the description and that render does not
/// change by itself.
#[derive(Debug, Clone)]
pub enum Finding {
    /// A folder or special file where the `default` link belongs.
    Blocked { path: PathBuf, entry: Entry },
    /// A folder or special file where a rendered file belongs.
    NotAFile {
        path: PathBuf,
        entry: Entry,
        kind: FileKind,
    },
    /// A per-MAC entry for a MAC no longer described, or in the folder of a loader no longer
    /// in use (pruned by `--prune` when it is a link).
    Orphan {
        path: PathBuf,
        mac: MacAddr,
        entry: Entry,
        /// The loader no longer in use whose folder it is in; none when no node has the MAC.
        unused: Option<Loader>,
    },
    /// A profile file render wrote once that is no longer described (removed by `--prune`).
    Leftover { path: PathBuf },
}

/// A node's entries as found, in the description's order.
#[derive(Debug, Clone)]
pub struct NodeLink {
    /// The entry the verdict comes from: the first that is a problem, else the first.
    pub path: PathBuf,
    /// The node's entries judged together ([`LinkState::of_node`]).
    pub state: LinkState,
    /// What was read at `path`, with the link's own mtime.
    pub found: Option<Found>,
    /// When the node is [`LinkState::Mixed`]: every entry's loader and what it is (a link's
    /// target, escaped), in the order of the plan's folders; empty otherwise.
    pub entries: Vec<(Loader, String)>,
}

/// The plan compared with the disk.
#[derive(Debug, Default)]
pub struct Comparison {
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    /// One per described node, in order.
    pub nodes: Vec<NodeLink>,
    pub unchanged_files: usize,
    pub unchanged_links: usize,
    /// What `pxelinux.cfg/default` points at on disk, when it is a link to a plain name.
    pub default_link: Option<String>,
    /// Temporaries of a killed run removed on the way (only when comparing under the lock).
    pub temps_removed: usize,
    /// [`WRITTEN`]'s path and its new text once the changes are applied, when it differs.
    pub written: Option<(PathBuf, String)>,
}

impl Comparison {
    /// Whether the disk differs from the description (`--check` fails, `status` has a
    /// problem). A switched node does not make it differ.
    pub fn differs(&self) -> bool {
        !self.changes.is_empty()
            || !self.findings.is_empty()
            || self.nodes.iter().any(|n| n.state.is_problem())
    }

    /// How many things differ that render does not change by itself (a missing link or
    /// profile file is a change, not one of these).
    pub fn problems(&self) -> usize {
        self.findings.len()
            + self
                .nodes
                .iter()
                .filter(|n| {
                    n.state.is_problem()
                        && !matches!(
                            n.state,
                            LinkState::Missing | LinkState::Dangling(_) | LinkState::Mixed
                        )
                })
                .count()
    }

    /// How many of `nodes` (the description's, in order) are switched away from their normal
    /// profile.
    pub fn switched(&self, nodes: &[crate::cluster::Node]) -> usize {
        self.nodes
            .iter()
            .zip(nodes)
            .filter(|(link, node)| link.state.is_switched(&node.normal_profile))
            .count()
    }
}

/// Compares `plan` with the disk. With `clean` (the caller holds the lock), the temporaries a
/// killed run left in the folders of the plan are removed on the way. With `prune`, orphan
/// links and leftover profile files become changes that remove them.
pub fn compare(plan: &Plan, layout: &Layout, clean: bool, prune: bool) -> Result<Comparison> {
    let mut cmp = Comparison::default();
    let mut listings = Vec::with_capacity(plan.dirs.len());
    for (_, dir) in &plan.dirs {
        let mut listing = scan::scan(dir)?;
        if clean {
            cmp.temps_removed += scan::remove_temps(dir, &mut listing)?;
        }
        listings.push(listing);
    }
    let at = |dir: &Path| plan.dirs.iter().position(|(_, d)| d == dir);
    if clean {
        let dirs: BTreeSet<&Path> = plan
            .files
            .iter()
            .filter_map(|f| f.path.parent())
            .filter(|d| at(d).is_none())
            .collect();
        for dir in dirs {
            cmp.temps_removed += scan::sweep(dir)?;
        }
    }
    crate::timing::phase("scan");
    cmp.default_link = plan.dirs.first().and_then(|(loader, _)| {
        match listings[0].get(&loader.default_entry()).map(|f| &f.entry) {
            Some(Entry::Link(t)) => t
                .to_str()
                .filter(|s| is_plain_name(s))
                .and_then(|s| loader.profile_of(s))
                .map(str::to_string),
            _ => None,
        }
    });

    let trusted: Vec<PathBuf> = layout
        .trusted()
        .iter()
        .filter_map(|t| fs::canonicalize(t).ok())
        .collect();
    let forbidden = forbidden_paths(plan);
    for file in &plan.files {
        let listing = file.path.parent().and_then(at).map(|k| &listings[k]);
        compare_file(&mut cmp, file, listing, &trusted, &forbidden)?;
    }

    let managed = plan
        .links
        .iter()
        .take_while(|l| l.role == LinkRole::Managed)
        .count();
    for link in &plan.links[..managed] {
        let k = at(link.path.parent().unwrap_or(Path::new("/"))).unwrap_or(0);
        let found = listings[k].remove(atomic::file_name(&link.path)?);
        managed_link(&mut cmp, link, found);
    }
    cmp.nodes.reserve(plan.links.len() - managed);
    for entries in plan.links[managed..].chunks(plan.dirs.len().max(1)) {
        node_entries(&mut cmp, plan, entries, &mut listings)?;
    }

    leftovers(&mut cmp, plan, layout, prune);
    for ((loader, dir), listing) in plan.dirs.iter().zip(listings) {
        orphans(&mut cmp, *loader, dir, listing, prune, false);
    }
    // A loader out of use leaves its entries behind: clients it no longer serves must not find
    // old switches there, nor render take them for the last switch when it is used again.
    for loader in Loader::ALL {
        if plan.dirs.iter().all(|(l, _)| *l != loader) {
            let dir = layout.loader_dir(loader);
            let listing = scan::scan(&dir)?;
            orphans(&mut cmp, loader, &dir, listing, prune, true);
        }
    }
    crate::timing::phase("compare");
    Ok(cmp)
}

/// One node's entries (one per folder of the plan, in order): judged, created where missing
/// and brought in line where they point at different profiles, or at a rendering of the
/// profile without the node's extra kernel arguments (or with others).
fn node_entries(
    cmp: &mut Comparison,
    plan: &Plan,
    entries: &[LinkPlan],
    listings: &mut [Listing],
) -> Result<()> {
    let Some(LinkRole::Node { name, mac, variant }) = entries.first().map(|l| &l.role) else {
        return Ok(());
    };
    let normal = &entries[0].target;
    let mut found = Vec::with_capacity(entries.len());
    let mut states = Vec::with_capacity(entries.len());
    for (k, link) in entries.iter().enumerate() {
        let name = atomic::file_name(&link.path)?;
        states.push(LinkState::listed(
            &listings[k],
            name,
            link.loader,
            normal,
            |p| plan.profiles.contains(p),
        ));
        found.push(listings[k].remove(name));
    }
    let decision = LinkState::decision(
        states
            .iter()
            .zip(found.iter().map(|f| f.as_ref().and_then(|f| f.since))),
        normal,
    );
    let stem = stem(decision, variant.as_deref());
    let mut repaired = false;
    for ((link, state), f) in entries.iter().zip(&states).zip(&found) {
        let target = link.loader.file(&stem);
        match (state, f) {
            (LinkState::Missing, _) => cmp.changes.push(Change::CreateLink {
                path: link.path.clone(),
                target,
                node: Some((name.clone(), *mac, decision.to_string())),
            }),
            (_, Some(f))
                if state.profile(normal).is_some()
                    && f.entry != Entry::Link(PathBuf::from(&target)) =>
            {
                repaired = true;
                cmp.changes.push(Change::ReplaceLink {
                    path: link.path.clone(),
                    target,
                    old: f.entry.clone(),
                    node: Some((name.clone(), *mac, decision.to_string())),
                });
            }
            _ if state.profile(normal).is_some() => cmp.unchanged_links += 1,
            _ => {}
        }
    }
    // Entries that agree on the profile but not on the rendering (the node's extra kernel
    // arguments changed) are as mixed as entries that disagree.
    let state = match LinkState::of_node(&states, normal) {
        s if repaired && !s.is_problem() => LinkState::Mixed,
        s => s,
    };
    let k = states.iter().position(LinkState::is_problem).unwrap_or(0);
    let shown = |f: &Option<Found>| match f.as_ref().map(|f| &f.entry) {
        Some(Entry::Link(t)) => crate::output::path(t),
        Some(other) => other.describe(),
        None => "nothing".to_string(),
    };
    // Only a mixed node's message lists its entries: nothing is built for the others.
    let each = if state == LinkState::Mixed {
        entries
            .iter()
            .map(|l| l.loader)
            .zip(found.iter().map(shown))
            .collect()
    } else {
        Vec::new()
    };
    cmp.nodes.push(NodeLink {
        path: entries[k].path.clone(),
        state,
        entries: each,
        found: found.swap_remove(k),
    });
    Ok(())
}

/// The `default` link: render re-points it whenever it differs.
fn managed_link(cmp: &mut Comparison, link: &LinkPlan, found: Option<Found>) {
    let path = link.path.clone();
    let target = link.loader.file(&link.target);
    match found.map(|f| f.entry) {
        None => cmp.changes.push(Change::CreateLink {
            path,
            target,
            node: None,
        }),
        Some(Entry::Link(t)) if t.as_os_str() == target.as_str() => cmp.unchanged_links += 1,
        Some(entry @ (Entry::Dir | Entry::Other)) => {
            cmp.findings.push(Finding::Blocked { path, entry });
        }
        Some(old) => cmp.changes.push(Change::ReplaceLink {
            path,
            target,
            old,
            node: None,
        }),
    }
}

/// Profile files render wrote once (listed in [`WRITTEN`]) that are no longer described; and
/// the list's new text.
fn leftovers(cmp: &mut Comparison, plan: &Plan, layout: &Layout, prune: bool) {
    let list = layout.state_dir.join(WRITTEN);
    let old = fs::read_to_string(&list).unwrap_or_default();
    let mut keep: BTreeSet<String> = plan
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Profile)
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    let recorded: Vec<&str> = old.lines().filter(|p| !keep.contains(*p)).collect();
    for recorded in recorded {
        let path = PathBuf::from(recorded);
        // Still a regular file where pxectl wrote it (a link or folder there is not its own).
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if prune {
            cmp.changes.push(Change::RemoveFile { path });
        } else {
            keep.insert(recorded.to_string());
            cmp.findings.push(Finding::Leftover { path });
        }
    }
    let new: String = keep.iter().flat_map(|p| [p.as_str(), "\n"]).collect();
    if new != old {
        cmp.written = Some((list, new));
    }
}

/// Per-MAC entries no described node owns: what is left of `loader`'s listing named like
/// one of its entries.
fn orphans(
    cmp: &mut Comparison,
    loader: Loader,
    dir: &Path,
    listing: Listing,
    prune: bool,
    unused: bool,
) {
    let mut orphans: Vec<(String, Entry, MacAddr)> = listing
        .into_iter()
        .filter_map(|(name, f)| {
            let mac = loader.parse_entry(&name)?;
            Some((name, f.entry, mac))
        })
        .collect();
    orphans.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, entry, mac) in orphans {
        let path = dir.join(name);
        match entry {
            Entry::Link(old) if prune => cmp.changes.push(Change::RemoveLink { path, old, mac }),
            entry => cmp.findings.push(Finding::Orphan {
                path,
                mac,
                entry,
                unused: unused.then_some(loader),
            }),
        }
    }
}

fn compare_file(
    cmp: &mut Comparison,
    file: &FilePlan,
    listing: Option<&Listing>,
    trusted: &[PathBuf],
    forbidden: &[PathBuf],
) -> Result<()> {
    let path = file.path.clone();
    let write = |cmp: &mut Comparison, dest: PathBuf, old: Old| {
        cmp.changes.push(Change::WriteFile {
            path: file.path.clone(),
            dest,
            contents: file.contents.clone(),
            mode: file.mode,
            old,
            kind: file.kind,
        });
    };
    // A file in a loader's folder is in its listing already; other files are looked at.
    let entry = match listing {
        Some(listing) => atomic::file_name(&path)
            .ok()
            .and_then(|n| listing.get(n))
            .map(|f| f.entry.clone()),
        None => entry_at(&path)?,
    };
    let dest = match entry {
        None => {
            write(cmp, path.clone(), Old::Nothing);
            return Ok(());
        }
        Some(Entry::Link(_))
            if matches!(file.kind, FileKind::DnsmasqConf | FileKind::NginxConf) =>
        {
            link_destination(&path, trusted, forbidden)?
        }
        Some(Entry::Link(target)) => {
            // Profiles and the hosts file are pxectl's own: a link there is replaced, never followed.
            write(cmp, path.clone(), Old::Link(target));
            return Ok(());
        }
        Some(Entry::File) => path.clone(),
        Some(entry) => {
            cmp.findings.push(Finding::NotAFile {
                path,
                entry,
                kind: file.kind,
            });
            return Ok(());
        }
    };
    // Read through one descriptor: a profile or the hosts file is opened without following a
    // link (one swapped in since the scan is refused); a config, through the checked link.
    let follow = matches!(file.kind, FileKind::DnsmasqConf | FileKind::NginxConf);
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(if follow { 0 } else { nix::libc::O_NOFOLLOW } | nix::libc::O_NONBLOCK)
        .open(&dest);
    let mut handle = match opened {
        Ok(h) => h,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            write(cmp, dest, Old::Nothing);
            return Ok(());
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read `{}` (if it became a link, remove it)",
                    dest.display()
                )
            })
        }
    };
    let meta = handle
        .metadata()
        .with_context(|| format!("cannot inspect `{}`", dest.display()))?;
    if !meta.is_file() {
        let entry = if meta.is_dir() {
            Entry::Dir
        } else {
            Entry::Other
        };
        cmp.findings.push(Finding::NotAFile {
            path: dest,
            entry,
            kind: file.kind,
        });
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(file.contents.len());
    std::io::Read::read_to_end(&mut handle, &mut bytes)
        .with_context(|| format!("cannot read `{}`", dest.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if bytes != file.contents.as_bytes() && !file.kind.same_meaning(&bytes, &file.contents) {
        write(cmp, dest, Old::File { bytes, mode });
    } else if mode != file.mode {
        cmp.changes.push(Change::SetMode {
            path: dest,
            mode: file.mode,
            old: mode,
            kind: file.kind,
            id: (meta.dev(), meta.ino()),
        });
    } else {
        cmp.unchanged_files += 1;
    }
    Ok(())
}

/// What a config written through a link may never land on: the other rendered files, the
/// link folder and pxectl's own state files.
fn forbidden_paths(plan: &Plan) -> Vec<PathBuf> {
    let mut forbidden: Vec<PathBuf> = plan
        .files
        .iter()
        .map(|f| resolve_lenient(&f.path))
        .collect();
    forbidden.extend(
        plan.dirs
            .iter()
            .map(|(_, d)| fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
    );
    forbidden.extend(plan.state_files.iter().map(|f| resolve_lenient(f)));
    forbidden
}

/// `path` with the links of its folders resolved (not a link at its end, which names
/// the entry itself).
fn resolve_lenient(path: &Path) -> PathBuf {
    let parent = path.parent().unwrap_or(Path::new("/"));
    fs::canonicalize(parent).map_or_else(
        |_| path.to_path_buf(),
        |p| p.join(path.file_name().unwrap_or_default()),
    )
}

/// Where a write to the link `path` would land, if that is inside a trusted folder and not
/// one of the `forbidden` files or folders (other rendered files, `pxelinux.cfg/`, the lock,
/// the journal).
fn link_destination(path: &Path, trusted: &[PathBuf], forbidden: &[PathBuf]) -> Result<PathBuf> {
    let target =
        fs::read_link(path).with_context(|| format!("cannot read link `{}`", path.display()))?;
    let abs = path.parent().unwrap_or(Path::new("/")).join(&target);
    let resolved = fs::canonicalize(&abs).or_else(|_| {
        let parent = abs.parent().unwrap_or(Path::new("/"));
        fs::canonicalize(parent).map(|p| p.join(abs.file_name().unwrap_or_default()))
    });
    match resolved {
        Ok(dest) if forbidden.iter().any(|f| dest.starts_with(f)) => bail!(
            "`{}` is a link to `{}`, which pxectl manages otherwise (another rendered file, \
             pxelinux.cfg/, or its own state); pxectl does not write through it: remove the link",
            path.display(),
            crate::output::path(&target)
        ),
        Ok(dest) if trusted.iter().any(|t| dest.starts_with(t)) => Ok(dest),
        _ => bail!(
            "`{}` is a link to `{}`, outside the web root, TFTP root and state folder; \
             pxectl does not write through it: remove the link or point `paths` at the real file",
            path.display(),
            crate::output::path(&target)
        ),
    }
}
