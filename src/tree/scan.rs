//! Reading the link folders: every entry by name, each link's target and its own mtime, in one
//! pass spread over the cores; never following a link.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::atomic;

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
            Self::Link(t) => format!(
                "a link to `{}`",
                crate::output::escaped(&t.to_string_lossy())
            ),
            Self::File => "a regular file".into(),
            Self::Dir => "a folder".into(),
            Self::Other => "a special file".into(),
        }
    }
}

/// An entry and, for a link, when it was last switched (its own mtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub entry: Entry,
    pub since: Option<SystemTime>,
}

/// A folder's entries by name; empty when the folder does not exist.
pub type Listing = HashMap<String, Found>;

/// Reads the folder `dir` (one level). Another pxectl's temporary link lives only until its
/// rename: it is listed, not read (it may be gone by then). A link removed since the listing
/// (by a run holding the lock, while this one reads without it) is gone, not an error.
pub fn scan(dir: &Path) -> Result<Listing> {
    scan_with(dir, |handle, name| {
        Ok((handle.read_link(name)?, handle.mtime(name)))
    })
}

fn scan_with(
    dir: &Path,
    read: impl Fn(&atomic::Dir, &str) -> Result<(PathBuf, Option<SystemTime>)> + Sync,
) -> Result<Listing> {
    let handle = match atomic::Dir::open(dir) {
        Ok(h) => h,
        Err(_) if !dir.exists() => return Ok(Listing::new()),
        Err(e) => return Err(e),
    };
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .follow_links(false);
    let mut out = Listing::new();
    let mut links = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e)
                if e.depth() == 0
                    && e.io_error()
                        .is_some_and(|io| io.kind() == ErrorKind::NotFound) =>
            {
                return Ok(Listing::new())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read folder `{}`", dir.display()))
            }
        };
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        let ft = entry.file_type();
        if ft.is_symlink() && !atomic::is_temp(name) {
            links.push(name.to_string());
            continue;
        }
        let kind = if ft.is_symlink() {
            Entry::Link(PathBuf::new())
        } else if ft.is_file() {
            Entry::File
        } else if ft.is_dir() {
            Entry::Dir
        } else {
            Entry::Other
        };
        out.insert(
            name.to_string(),
            Found {
                entry: kind,
                since: None,
            },
        );
    }
    let read = par_map(&links, |name| match read(&handle, name) {
        Err(e) if e.root_cause().downcast_ref() == Some(&nix::errno::Errno::ENOENT) => Ok(None),
        other => other.map(Some),
    })?;
    out.extend(links.into_iter().zip(read).filter_map(|(name, l)| {
        let (target, since) = l?;
        Some((
            name,
            Found {
                entry: Entry::Link(target),
                since,
            },
        ))
    }));
    Ok(out)
}

/// What is at `path` itself, a link's target read; none when nothing is.
pub fn entry_at(path: &Path) -> Result<Option<Entry>> {
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

/// Removes the temporaries a killed pxectl left in `dir` (read into `listing`), from the
/// folder and from the listing; the caller holds the lock. Only links and regular files are
/// pxectl's: anything else named like a temporary is left alone with a warning, and never
/// blocks a run. Returns how many were removed.
pub fn remove_temps(dir: &Path, listing: &mut Listing) -> Result<usize> {
    let temps: Vec<String> = listing
        .keys()
        .filter(|n| atomic::is_temp(n))
        .cloned()
        .collect();
    let mut removed = 0;
    for name in temps {
        let found = listing.remove(&name).map(|f| f.entry);
        if matches!(found, Some(Entry::Link(_) | Entry::File)) {
            atomic::remove_stale_temp(&dir.join(&name))?;
            removed += 1;
        } else {
            warn_foreign_temp(&dir.join(&name));
        }
    }
    Ok(removed)
}

/// Removes the temporaries a killed pxectl left in the folder `dir` (none when it does not
/// exist); the caller holds the lock. Returns how many.
pub fn sweep(dir: &Path) -> Result<usize> {
    let mut listing = scan(dir)?;
    remove_temps(dir, &mut listing)
}

/// Warns about an entry named like a temporary that pxectl did not create.
pub fn warn_foreign_temp(path: &Path) {
    crate::output::warn(&format!(
        "`{}` is named like a pxectl temporary but is not one (not a file or link); left alone: remove it by hand",
        crate::output::escaped(&path.to_string_lossy())
    ));
}

/// `f` over `items` on every core (for thousands of independent syscalls), in order.
pub(super) fn par_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
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
            Ok((handle.read_link(name)?, None))
        })
        .unwrap();
        let mut names: Vec<(String, bool)> = found
            .into_iter()
            .map(|(n, f)| {
                let read = matches!(&f.entry, Entry::Link(t) if !t.as_os_str().is_empty());
                (n, read)
            })
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
        assert!(scan_with(
            dir.path(),
            |_, _| -> Result<(PathBuf, Option<SystemTime>)> {
                Err(nix::errno::Errno::EACCES).context("cannot read link")
            }
        )
        .is_err());
    }

    #[test]
    fn stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".pxectl.tmp.1.2"), "").unwrap();
        std::fs::write(dir.path().join("keep"), "").unwrap();
        assert_eq!(sweep(dir.path()).unwrap(), 1);
        assert_eq!(sweep(&dir.path().join("missing")).unwrap(), 0);
        assert!(dir.path().join("keep").exists());
    }

    #[test]
    fn a_folder_named_like_a_temporary_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".pxectl.tmp.evil")).unwrap();
        std::os::unix::fs::symlink("local", dir.path().join(".pxectl.tmp.1.2")).unwrap();
        let mut listing = scan(dir.path()).unwrap();
        assert_eq!(remove_temps(dir.path(), &mut listing).unwrap(), 1);
        assert!(listing.is_empty());
        assert!(dir.path().join(".pxectl.tmp.evil").is_dir());
        assert!(dir
            .path()
            .join(".pxectl.tmp.1.2")
            .symlink_metadata()
            .is_err());
    }
}
