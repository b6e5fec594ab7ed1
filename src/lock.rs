//! The exclusive lock every command that changes the tree holds.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
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
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create the state folder `{}`", state_dir.display()))?;
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
                    let holder = holder(&path).map_or_else(
                        || "another pxectl".to_string(),
                        |pid| format!("pxectl pid {pid}"),
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
/// file.
pub(crate) fn open(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| {
            format!("cannot open the lock file `{}` (if it is a symbolic link, remove it: pxectl never follows one there)", path.display())
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
    Ok(file)
}

fn holder(path: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_times_out_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Duration::from_secs(1)).unwrap();
        let err = acquire(dir.path(), Duration::from_millis(50))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        acquire(dir.path(), Duration::from_millis(50)).unwrap();
    }
}
