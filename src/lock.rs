//! The exclusive lock every command that changes the tree holds.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Another pxectl held the lock for longer than the timeout.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockBusy(pub String);

/// The lock file's name in the state folder.
pub const FILE: &str = "lock";

/// Held until dropped; the kernel releases it if the process dies.
#[derive(Debug)]
pub struct Lock {
    _file: Flock<File>,
    pub path: PathBuf,
}

/// Takes the lock file `lock` in `state_dir`, waiting up to `timeout` for another holder.
pub fn acquire(state_dir: &Path, timeout: Duration) -> Result<Lock> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "cannot create the state folder `{}`{}",
            state_dir.display(),
            needs_root(state_dir)
        ))
    })?;
    let path = state_dir.join(FILE);
    let start = Instant::now();
    let mut file = open(&path)?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                // Record the holder for whoever waits next; the lock itself is the flock.
                let pid = std::process::id();
                locked
                    .set_len(0)
                    .and_then(|()| locked.seek(SeekFrom::Start(0)).map(drop))
                    .and_then(|()| writeln!(locked, "{pid}"))
                    .with_context(|| {
                        format!("cannot write pid to the lock file `{}`", path.display())
                    })?;
                return Ok(Lock {
                    _file: locked,
                    path,
                });
            }
            Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => {
                if start.elapsed() >= timeout {
                    let holder = holder(&f).map_or_else(
                        || "another process".to_string(),
                        |(pid, name)| format!("{name} pid {pid}"),
                    );
                    return Err(LockBusy(format!(
                        "{holder} holds the lock `{}`; waited {:.1}s: retry when it is done, or raise `--lock-timeout`",
                        path.display(),
                        timeout.as_secs_f64()
                    ))
                    .into());
                }
                file = f;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err((_, errno)) => {
                return Err(errno).with_context(|| format!("cannot lock `{}`", path.display()));
            }
        }
    }
}

/// Opens (creating) the lock file `path`: never through a symbolic link, and only a regular
/// file, readable by its owner alone (anyone who can open a lock file can hold its lock).
pub(crate) fn open(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            let why = match e.raw_os_error().map(Errno::from_raw) {
                Some(Errno::ELOOP) => {
                    " (it is a symbolic link: remove it, pxectl never follows one there)"
                        .to_string()
                }
                Some(Errno::EACCES | Errno::EPERM | Errno::EROFS) => {
                    needs_root(path.parent().unwrap_or(path))
                }
                _ => String::new(),
            };
            anyhow::Error::new(e).context(format!(
                "cannot open the lock file `{}`{why}",
                path.display()
            ))
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot inspect the lock file `{}`", path.display()))?;
    if !meta.is_file() {
        bail!(
            "the lock file `{}` is not a regular file; remove it",
            path.display()
        );
    }
    // One made by an earlier pxectl may be readable by all.
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make the lock file `{}` private", path.display()))?;
    }
    Ok(file)
}

/// The advice for a state folder this user cannot write.
fn needs_root(state_dir: &Path) -> String {
    format!(
        ": run pxectl as root, or as a user who can write the state folder `{}`",
        state_dir.display()
    )
}

/// The process holding the lock on `file` now, by pid and name, from the kernel's list of
/// locks (the pid written in the file may be of a pxectl that has exited since).
fn holder(file: &File) -> Option<(u32, String)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = file.metadata().ok()?;
    let (major, minor) = (
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
    );
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`; waiters have `->` after the number.
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&"FLOCK") && fields.get(5) == Some(&id.as_str()))
            .then(|| fields.get(4)?.parse::<u32>().ok())
            .flatten()
            .filter(|pid| *pid != 0)
    })?;
    let mut name = String::new();
    File::open(format!("/proc/{pid}/comm"))
        .and_then(|mut f| f.read_to_string(&mut name))
        .ok()?;
    Some((pid, crate::output::escaped(name.trim()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_are_readable_by_their_owner_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(acquire(dir.path(), Duration::from_secs(1)).unwrap());
        assert_eq!(mode(&dir.path().join(FILE)), 0o600);
        // One an earlier pxectl left readable by all is made private.
        let old = dir.path().join("watch.lock");
        std::fs::write(&old, "").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&old).unwrap());
        assert_eq!(mode(&old), 0o600);
    }

    #[test]
    fn second_holder_times_out_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Duration::from_secs(1)).unwrap();
        let err = acquire(dir.path(), Duration::from_millis(50))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(" pid {} holds", std::process::id())),
            "{err}"
        );
        drop(first);
        acquire(dir.path(), Duration::from_millis(50)).unwrap();
    }

    #[test]
    fn busy_names_the_live_holder_not_the_pid_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        // Another program holds the lock; the file still names a pxectl that has exited.
        std::fs::write(&path, "4194303\n").unwrap();
        let _held = Flock::lock(File::open(&path).unwrap(), FlockArg::LockExclusive).unwrap();
        let err = acquire(dir.path(), Duration::from_millis(50))
            .unwrap_err()
            .to_string();
        let name = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(
            err,
            format!(
                "{} pid {} holds the lock `{}`; waited 0.1s: retry when it is done, or raise `--lock-timeout`",
                name.trim(),
                std::process::id(),
                path.display()
            )
        );
    }
}
