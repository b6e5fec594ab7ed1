//! Atomic changes to the tree: every write and re-point is a rename of a complete temporary.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result};

/// Prefix of every temporary name pxectl creates; leftovers from a crash are removed under the lock.
pub const TEMP_PREFIX: &str = ".pxectl.tmp.";

/// Whether `name` is one of pxectl's temporaries.
pub fn is_temp(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// Writes `contents` to `path` with `mode`: temporary in the same folder, fsync, rename.
/// A reader sees the old file or the new one, never a part; a crash leaves only a temporary.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(contents)
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))
        })
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write a temporary file for `{}`", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename a temporary file over `{}`", path.display()))?;
    Ok(())
}

/// Points the link `path` at `target`, replacing whatever entry is there but a folder:
/// a new link under a temporary name, then a rename over the old one.
pub fn replace_link(path: &Path, target: &str) -> Result<()> {
    let name = file_name(path)?;
    Dir::open(parent(path))?.replace_link(name, target)
}

/// The last component of `path` as text, or an error naming the path.
pub fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("`{}` has no usable file name", path.display()))
}

/// An open folder. Link operations by name relative to it spare the kernel a walk of the
/// whole path on each of thousands of links.
#[derive(Debug)]
pub struct Dir {
    file: fs::File,
    path: PathBuf,
    /// `.pxectl.tmp.<pid>.`: this process's temporary names start with it.
    temp_prefix: String,
}

impl Dir {
    /// Opens the folder `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = fs::File::open(path)
            .with_context(|| format!("cannot open folder `{}`", path.display()))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            temp_prefix: format!("{TEMP_PREFIX}{}.", std::process::id()),
        })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.file)
    }

    /// The target of the link `name`.
    pub fn read_link(&self, name: &str) -> Result<PathBuf> {
        nix::fcntl::readlinkat(Some(self.fd()), name)
            .map(PathBuf::from)
            .with_context(|| format!("cannot read link `{}`", self.path.join(name).display()))
    }

    /// When the entry `name` itself (not what it points at) was last modified.
    pub fn mtime(&self, name: &str) -> Option<std::time::SystemTime> {
        let st = nix::sys::stat::fstatat(
            Some(self.fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()?;
        let secs = u64::try_from(st.st_mtime).ok()?;
        let nanos = u32::try_from(st.st_mtime_nsec).ok()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
    }

    /// Points the link `name` at `target` atomically: a reader sees the old target or the new.
    pub fn replace_link(&self, name: &str, target: &str) -> Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = format!(
            "{}{}",
            self.temp_prefix,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        nix::unistd::symlinkat(target, Some(self.fd()), tmp.as_str()).with_context(|| {
            format!(
                "cannot create a temporary link `{}`",
                self.path.join(&tmp).display()
            )
        })?;
        nix::fcntl::renameat(Some(self.fd()), tmp.as_str(), Some(self.fd()), name).map_err(|e| {
            let _ = nix::unistd::unlinkat(
                Some(self.fd()),
                tmp.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            anyhow::Error::new(e).context(format!(
                "cannot rename a temporary link over `{}`",
                self.path.join(name).display()
            ))
        })
    }

    /// Creates the link `name` -> `target` when nothing is there; `Ok(false)` when something is.
    pub fn create_link(&self, name: &str, target: &str) -> Result<bool> {
        match nix::unistd::symlinkat(target, Some(self.fd()), name) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::EEXIST) => Ok(false),
            Err(e) => Err(e).with_context(|| {
                format!(
                    "cannot create link `{}` -> `{target}`",
                    self.path.join(name).display()
                )
            }),
        }
    }

    /// Flushes the folder's entries to disk.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_all()
            .with_context(|| format!("cannot sync folder `{}`", self.path.display()))
    }
}

/// Sets the mode of the regular file `path`, the one with device and inode `id`, through a
/// descriptor opened without following a link: a link or another file swapped in at `path`
/// meanwhile is refused (its mode, or its target's, would change otherwise).
pub fn set_mode(path: &Path, mode: u32, id: (u64, u64)) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .with_context(|| {
        format!(
            "cannot open `{}` to change its mode (if it became a symbolic link, remove it and render again)",
            path.display()
        )
        })?;
    if !file
        .metadata()
        .is_ok_and(|m| m.is_file() && (m.dev(), m.ino()) == id)
    {
        anyhow::bail!(
            "`{}` was replaced while pxectl worked; render again",
            path.display()
        );
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot change the mode of `{}`", path.display()))
}

/// Flushes a folder's entries (new names, renames) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync folder `{}`", dir.display()))
}

/// Creates `dir` and its parents (mode 0755 less the umask).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create folder `{}`", dir.display()))
}

/// Removes one temporary a killed run left; one already gone is fine.
pub fn remove_stale_temp(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove stale temporary `{}`", path.display()))
        }
        _ => Ok(()),
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mode_change_never_follows_a_link_swapped_in() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "root only").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let profile = dir.path().join("installer");
        std::os::unix::fs::symlink(&secret, &profile).unwrap();
        assert!(set_mode(&profile, 0o644, (0, 0)).is_err());
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "the link's target was made readable");
        std::fs::remove_file(&profile).unwrap();
        std::fs::write(&profile, "x").unwrap();
        let other = std::fs::metadata(&secret).unwrap();
        assert!(set_mode(&profile, 0o644, (other.dev(), other.ino())).is_err());
        let meta = std::fs::metadata(&profile).unwrap();
        set_mode(&profile, 0o644, (meta.dev(), meta.ino())).unwrap();
        let mode = std::fs::metadata(&profile).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
    }

    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn write_file_sets_mode_and_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_file(&p, b"one", 0o644).unwrap();
        write_file(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o644);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn write_file_replaces_a_link_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let p = dir.path().join("f");
        std::os::unix::fs::symlink(&outside, &p).unwrap();
        write_file(&p, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
    }

    #[test]
    fn replace_link_and_create_link() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("01-aa");
        let d = Dir::open(dir.path()).unwrap();
        assert!(d.create_link("01-aa", "a").unwrap());
        assert!(!d.create_link("01-aa", "b").unwrap());
        replace_link(&p, "b").unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), Path::new("b"));
        fs::remove_file(&p).unwrap();
        fs::write(&p, "hand edit").unwrap();
        replace_link(&p, "c").unwrap();
        assert_eq!(fs::read_link(&p).unwrap(), Path::new("c"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
