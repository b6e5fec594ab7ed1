//! The output tree on disk: the only module that compares a plan with it and changes it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context as _, Result};
use indicatif::ProgressBar;

use crate::atomic;
use crate::mac::MacAddr;
use crate::plan::{FileKind, FilePlan, LinkDir, LinkRole, Plan};

/// Maps the boot server's real paths to where they are on this machine (`--root`).
#[derive(Debug, Clone, Default)]
pub struct Root(Option<PathBuf>);

impl Root {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self(dir)
    }

    /// Where the real path `real` is on this machine.
    pub fn host(&self, real: &Path) -> PathBuf {
        match &self.0 {
            None => real.to_path_buf(),
            Some(root) => {
                let relative: PathBuf = real
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .collect();
                root.join(relative)
            }
        }
    }
}

/// What is at a name in a folder, never following a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Link(PathBuf),
    File,
    Dir,
    Other,
}

impl Entry {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Link(t) => format!("a link to `{}`", t.display()),
            Self::File => "a regular file".into(),
            Self::Dir => "a folder".into(),
            Self::Other => "a special file".into(),
        }
    }
}

/// The entries of `dir` by name (none when it does not exist), with link targets read.
pub fn scan(dir: &Path) -> Result<HashMap<String, Entry>> {
    Ok(scan_with(dir, atomic::Dir::read_link)?
        .into_iter()
        .map(|(name, e)| match e {
            Found::Link(t) => (name, Entry::Link(t)),
            Found::Other(e) => (name, e),
        })
        .collect())
}

/// [`scan`] that also reads each link's own modification time (when it was last switched),
/// in the same pass.
pub fn scan_with_mtimes(dir: &Path) -> Result<HashMap<String, (Entry, Option<SystemTime>)>> {
    Ok(scan_with(dir, |handle, name| {
        Ok((handle.read_link(name)?, handle.mtime(name)))
    })?
    .into_iter()
    .map(|(name, e)| match e {
        Found::Link((t, mtime)) => (name, (Entry::Link(t), mtime)),
        Found::Other(e) => (name, (e, None)),
    })
    .collect())
}

/// What [`scan_with`] found at a name: a link with what was read of it, or anything else.
enum Found<L> {
    Link(L),
    Other(Entry),
}

/// Walks `dir` (one level) and runs `read` on every link, on every core.
fn scan_with<L: Send>(
    dir: &Path,
    read: impl Fn(&atomic::Dir, &str) -> Result<L> + Sync,
) -> Result<Vec<(String, Found<L>)>> {
    let handle = match atomic::Dir::open(dir) {
        Ok(h) => h,
        Err(_) if !dir.exists() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .follow_links(false);
    let mut out = Vec::new();
    let mut links = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e)
                if e.depth() == 0
                    && e.io_error()
                        .is_some_and(|io| io.kind() == ErrorKind::NotFound) =>
            {
                return Ok(Vec::new())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read folder `{}`", dir.display()))
            }
        };
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        let ft = entry.file_type();
        // Another pxectl's temporary link lives only until its rename: it is not read (it
        // may be gone by then), only reported, for the sweep under the lock.
        if ft.is_symlink() && !atomic::is_temp(name) {
            links.push(name.to_string());
            continue;
        }
        let kind = if ft.is_file() {
            Entry::File
        } else if ft.is_dir() {
            Entry::Dir
        } else {
            Entry::Other
        };
        out.push((name.to_string(), Found::Other(kind)));
    }
    // A link removed since the listing (by a run holding the lock, while this one reads
    // without it) is gone, not an error.
    let read = par_map(&links, |name| match read(&handle, name) {
        Err(e) if e.root_cause().downcast_ref() == Some(&nix::errno::Errno::ENOENT) => Ok(None),
        other => other.map(Some),
    })?;
    out.extend(
        links
            .into_iter()
            .zip(read)
            .filter_map(|(name, l)| Some((name, Found::Link(l?)))),
    );
    Ok(out)
}

/// `f` over `items` on every core (for thousands of independent syscalls), in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(8);
    if threads == 1 || items.len() < 512 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Result<Vec<R>>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for w in workers {
            out.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??,
            );
        }
        Ok(out)
    })
}

/// Why a file is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    New,
    Content,
}

/// One change that would bring the disk in line with the plan. Paths are on this machine.
#[derive(Debug, Clone)]
pub enum Change {
    WriteFile {
        path: PathBuf,
        dest: PathBuf,
        contents: String,
        mode: u32,
        old: Option<String>,
        why: Why,
        kind: FileKind,
    },
    SetMode {
        path: PathBuf,
        mode: u32,
        old: u32,
    },
    CreateLink {
        path: PathBuf,
        target: String,
        /// The node whose first link this is (none for `default`).
        node: Option<(String, MacAddr)>,
    },
    ReplaceLink {
        path: PathBuf,
        target: String,
        old: Entry,
    },
    RemoveLink {
        path: PathBuf,
        old: PathBuf,
        /// The MAC the pruned link was named for.
        mac: MacAddr,
    },
}

/// Something on disk worth reporting that render does not change.
#[derive(Debug, Clone)]
pub enum Finding {
    /// A node's link an operator switched to another described profile: not drift.
    Switched {
        path: PathBuf,
        node: String,
        target: String,
    },
    /// A node's link to something that is not a described profile in the same folder.
    BadLink {
        path: PathBuf,
        node: String,
        target: PathBuf,
        escapes: bool,
    },
    /// A folder, file or special file where a link belongs.
    Blocked {
        path: PathBuf,
        node: Option<String>,
        entry: Entry,
    },
    /// A per-MAC link for a MAC no longer described (removed by `--prune` when it is a link).
    Orphan { path: PathBuf, entry: Entry },
}

impl Finding {
    /// Whether this makes the disk differ from the description.
    pub fn is_drift(&self) -> bool {
        !matches!(self, Self::Switched { .. })
    }
}

/// The plan compared with the disk.
#[derive(Debug, Default)]
pub struct Comparison {
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    pub unchanged_files: usize,
    pub unchanged_links: usize,
}

impl Comparison {
    /// Whether `--check` should fail.
    pub fn differs(&self) -> bool {
        !self.changes.is_empty() || self.findings.iter().any(Finding::is_drift)
    }
}

/// What is in each link folder, by its real path.
pub type Scans = HashMap<PathBuf, HashMap<String, Entry>>;

/// Reads every link folder of `link_dirs` once. With `clean` (the caller holds the lock), the
/// temporaries a killed run left there are removed on the way; returns how many.
pub fn scan_link_dirs(link_dirs: &[LinkDir], root: &Root, clean: bool) -> Result<(Scans, usize)> {
    let mut scans = Scans::new();
    let mut removed = 0;
    for d in link_dirs {
        let host = root.host(&d.dir);
        let mut entries = scan(&host)?;
        if clean {
            removed += remove_temps(&host, &mut entries)?;
        }
        scans.insert(d.dir.clone(), entries);
    }
    Ok((scans, removed))
}

/// Removes the entries of `entries` (read from `dir`) that are pxectl temporaries, from the
/// folder and from the map; the caller holds the lock.
pub fn remove_temps<S: std::hash::BuildHasher>(
    dir: &Path,
    entries: &mut HashMap<String, Entry, S>,
) -> Result<usize> {
    let temps: Vec<String> = entries
        .keys()
        .filter(|n| atomic::is_temp(n))
        .cloned()
        .collect();
    for name in &temps {
        atomic::remove_stale_temp(&dir.join(name))?;
        entries.remove(name);
    }
    Ok(temps.len())
}

/// Compares `plan` with the disk under `root`. Files may be written through an existing link
/// only when it resolves inside one of `trusted` (real paths: web root, TFTP root, state dir).
pub fn compare(plan: &Plan, root: &Root, trusted: &[PathBuf], prune: bool) -> Result<Comparison> {
    let (scans, _) = scan_link_dirs(&plan.link_dirs, root, false)?;
    compare_scanned(plan, root, trusted, prune, &scans)
}

/// [`compare`] with the link folders already read.
pub fn compare_scanned(
    plan: &Plan,
    root: &Root,
    trusted: &[PathBuf],
    prune: bool,
    scans: &Scans,
) -> Result<Comparison> {
    let mut cmp = Comparison::default();
    let trusted: Vec<PathBuf> = trusted
        .iter()
        .filter_map(|t| fs::canonicalize(root.host(t)).ok())
        .collect();
    let forbidden = forbidden_paths(plan, root);
    for file in &plan.files {
        compare_file(&mut cmp, root.host(&file.path), file, &trusted, &forbidden)?;
    }

    let mut planned: HashSet<&Path> = HashSet::with_capacity(plan.links.len());
    let no_targets = BTreeSet::new();
    for link in &plan.links {
        planned.insert(&link.path);
        let dir = link.path.parent().unwrap_or(Path::new("/"));
        let name = link
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let targets = plan
            .link_dirs
            .iter()
            .find(|d| d.dir == dir)
            .map_or(&no_targets, |d| &d.targets);
        let existing = match scans.get(dir) {
            Some(entries) => entries.get(name).cloned(),
            None => entry_at(&root.host(&link.path))?,
        };
        let path = root.host(&link.path);
        match (existing, &link.role) {
            (None, role) => cmp.changes.push(Change::CreateLink {
                path,
                target: link.target.clone(),
                node: match role {
                    LinkRole::Managed => None,
                    LinkRole::Node { name, mac } => Some((name.clone(), *mac)),
                },
            }),
            (Some(Entry::Link(t)), _) if t.as_os_str() == link.target.as_str() => {
                cmp.unchanged_links += 1;
            }
            (Some(entry @ (Entry::Dir | Entry::Other)), role) => {
                cmp.findings.push(Finding::Blocked {
                    path,
                    node: node_name(role),
                    entry,
                });
            }
            (Some(old), LinkRole::Managed) => cmp.changes.push(Change::ReplaceLink {
                path,
                target: link.target.clone(),
                old,
            }),
            (Some(Entry::File), LinkRole::Node { name, .. }) => {
                cmp.findings.push(Finding::Blocked {
                    path,
                    node: Some(name.clone()),
                    entry: Entry::File,
                });
            }
            (Some(Entry::Link(t)), LinkRole::Node { name, .. }) => {
                let in_dir = t.to_str().filter(|s| is_plain_name(s));
                match in_dir {
                    Some(s) if targets.contains(s) => {
                        cmp.unchanged_links += 1;
                        cmp.findings.push(Finding::Switched {
                            path,
                            node: name.clone(),
                            target: s.to_string(),
                        });
                    }
                    _ => cmp.findings.push(Finding::BadLink {
                        path,
                        node: name.clone(),
                        escapes: in_dir.is_none(),
                        target: t,
                    }),
                }
            }
        }
    }

    orphans(&mut cmp, plan, root, scans, &planned, prune);
    Ok(cmp)
}

/// Per-MAC entries in the link folders that no described node owns.
fn orphans(
    cmp: &mut Comparison,
    plan: &Plan,
    root: &Root,
    scans: &HashMap<PathBuf, HashMap<String, Entry>>,
    planned: &HashSet<&Path>,
    prune: bool,
) {
    for d in &plan.link_dirs {
        let mut orphans: Vec<(&String, &Entry, MacAddr)> = scans[&d.dir]
            .iter()
            .filter_map(|(name, entry)| {
                let mac = d.scheme.parse(name)?;
                (!planned.contains(d.dir.join(name).as_path())).then_some((name, entry, mac))
            })
            .collect();
        orphans.sort_by(|a, b| a.0.cmp(b.0));
        for (name, entry, mac) in orphans {
            let path = root.host(&d.dir.join(name));
            match entry {
                Entry::Link(old) if prune => cmp.changes.push(Change::RemoveLink {
                    path,
                    old: old.clone(),
                    mac,
                }),
                _ => cmp.findings.push(Finding::Orphan {
                    path,
                    entry: entry.clone(),
                }),
            }
        }
    }
}

fn node_name(role: &LinkRole) -> Option<String> {
    match role {
        LinkRole::Managed => None,
        LinkRole::Node { name, .. } => Some(name.clone()),
    }
}

/// A name inside the same folder: no `/`, not `.` or `..`, not empty.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/')
}

fn entry_at(path: &Path) -> Result<Option<Entry>> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Ok(Some(Entry::Link(
            fs::read_link(path)
                .with_context(|| format!("cannot read link `{}`", path.display()))?,
        ))),
        Ok(m) if m.is_file() => Ok(Some(Entry::File)),
        Ok(m) if m.is_dir() => Ok(Some(Entry::Dir)),
        Ok(_) => Ok(Some(Entry::Other)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot inspect `{}`", path.display())),
    }
}

fn compare_file(
    cmp: &mut Comparison,
    path: PathBuf,
    file: &FilePlan,
    trusted: &[PathBuf],
    forbidden: &[PathBuf],
) -> Result<()> {
    let (contents, mode, kind) = (file.contents.as_str(), file.mode, file.kind);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            cmp.changes.push(Change::WriteFile {
                dest: path.clone(),
                path,
                contents: contents.to_string(),
                mode,
                old: None,
                why: Why::New,
                kind,
            });
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot inspect `{}`", path.display())),
    };
    let dest = if !meta.file_type().is_symlink() {
        path.clone()
    } else if matches!(kind, FileKind::DnsmasqConf | FileKind::NginxConf) {
        link_destination(&path, trusted, forbidden)?
    } else {
        // Profiles and the hosts file are pxectl's own: a link there is replaced, never followed.
        let target = fs::read_link(&path)
            .with_context(|| format!("cannot read link `{}`", path.display()))?;
        cmp.changes.push(Change::WriteFile {
            dest: path.clone(),
            path,
            contents: contents.to_string(),
            mode,
            old: Some(format!("(a link to `{}`)\n", target.display())),
            why: Why::Content,
            kind,
        });
        return Ok(());
    };
    let meta = match fs::metadata(&dest) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot inspect `{}`", dest.display())),
    };
    let Some(meta) = meta else {
        cmp.changes.push(Change::WriteFile {
            path,
            dest,
            contents: contents.to_string(),
            mode,
            old: None,
            why: Why::New,
            kind,
        });
        return Ok(());
    };
    if !meta.is_file() {
        bail!(
            "`{}` is {}, not a file; move it away so pxectl can write its file there",
            dest.display(),
            if meta.is_dir() {
                "a folder"
            } else {
                "a special file"
            }
        );
    }
    let old = fs::read(&dest).with_context(|| format!("cannot read `{}`", dest.display()))?;
    if old != contents.as_bytes() {
        cmp.changes.push(Change::WriteFile {
            path,
            dest,
            contents: contents.to_string(),
            mode,
            old: Some(String::from_utf8_lossy(&old).into_owned()),
            why: Why::Content,
            kind,
        });
    } else if meta.permissions().mode() & 0o7777 != mode {
        cmp.changes.push(Change::SetMode {
            path: dest,
            mode,
            old: meta.permissions().mode() & 0o7777,
        });
    } else {
        cmp.unchanged_files += 1;
    }
    Ok(())
}

/// What a config written through a link may never land on: the other rendered files, the
/// link folders and pxectl's own state files.
fn forbidden_paths(plan: &Plan, root: &Root) -> Vec<PathBuf> {
    let mut forbidden: Vec<PathBuf> = plan
        .files
        .iter()
        .map(|f| resolve_lenient(&root.host(&f.path)))
        .collect();
    forbidden.extend(plan.link_dirs.iter().map(|d| {
        let dir = root.host(&d.dir);
        fs::canonicalize(&dir).unwrap_or(dir)
    }));
    forbidden.extend(
        plan.state_files
            .iter()
            .map(|f| resolve_lenient(&root.host(f))),
    );
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
            target.display()
        ),
        Ok(dest) if trusted.iter().any(|t| dest.starts_with(t)) => Ok(dest),
        _ => bail!(
            "`{}` is a link to `{}`, outside the web root, TFTP root and state folder; \
             pxectl does not write through it: remove the link or point `paths` at the real file",
            path.display(),
            target.display()
        ),
    }
}

/// What apply did.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub files_written: usize,
    pub links_created: usize,
    pub links_replaced: usize,
    pub links_pruned: usize,
    /// What happened to nodes' links, for the journal.
    pub node_links: Vec<NodeLinkChange>,
}

/// A node's link that render created or pruned.
#[derive(Debug, Clone)]
pub struct NodeLinkChange {
    /// The node; none for an orphan.
    pub node: Option<String>,
    pub mac: MacAddr,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Applies `changes` in order (files first, so links never dangle), then syncs every folder touched.
pub fn apply(changes: &[Change], progress: &ProgressBar) -> Result<Applied> {
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
            Change::SetMode { path, mode, .. } => {
                fs::set_permissions(path, fs::Permissions::from_mode(*mode))
                    .with_context(|| format!("cannot change the mode of `{}`", path.display()))?;
                done.files_written += 1;
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
            Change::ReplaceLink { path, target, .. } => {
                ensure(path, &mut dirs)?;
                atomic::replace_link(path, target)?;
                done.links_replaced += 1;
            }
            Change::RemoveLink { path, old, mac } => {
                match fs::remove_file(path) {
                    Err(e) if e.kind() != ErrorKind::NotFound => {
                        return Err(e)
                            .with_context(|| format!("cannot remove link `{}`", path.display()))
                    }
                    _ => {}
                }
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
    progress.finish_and_clear();
    Ok(done)
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
                target,
                node: Some((node, mac)),
                ..
            },
        ) = (made, c)
        {
            done.node_links.push(NodeLinkChange {
                node: Some(node.clone()),
                mac: *mac,
                from: None,
                to: Some(target.clone()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_does_not_read_temporaries_and_skips_links_gone_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["01-aa", "01-bb", ".pxectl.tmp.1.2"] {
            std::os::unix::fs::symlink("local", dir.path().join(name)).unwrap();
        }
        // `01-bb` "disappears" between the listing and its read; a temporary is never read.
        let found = scan_with(dir.path(), |handle, name| {
            assert!(!atomic::is_temp(name), "read {name}");
            if name == "01-bb" {
                return Err(nix::errno::Errno::ENOENT).context("cannot read link");
            }
            handle.read_link(name)
        })
        .unwrap();
        let mut names: Vec<(String, bool)> = found
            .into_iter()
            .map(|(n, f)| (n, matches!(f, Found::Link(_))))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                (".pxectl.tmp.1.2".to_string(), false),
                ("01-aa".to_string(), true)
            ]
        );
        // Any other error still fails the scan.
        assert!(scan_with(dir.path(), |_, _| -> Result<()> {
            Err(nix::errno::Errno::EACCES).context("cannot read link")
        })
        .is_err());
    }

    #[test]
    fn root_prefixes_absolute_paths() {
        let r = Root::new(Some(PathBuf::from("out")));
        assert_eq!(
            r.host(Path::new("/etc/dnsmasq.conf")),
            Path::new("out/etc/dnsmasq.conf")
        );
        assert_eq!(
            Root::default().host(Path::new("/etc/x")),
            Path::new("/etc/x")
        );
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("installer"));
        for bad in ["", ".", "..", "../etc/shadow", "/etc/shadow", "a/b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
