//! The audit journal: one JSON line per change, appended under the lock, in the state folder.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// The journal's file name in the state folder.
pub const FILE: &str = "journal.jsonl";

/// One change to what a node boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in RFC 3339 (UTC, seconds).
    pub time: String,
    /// Who: `SUDO_USER`, else the name of the running uid (the numeric uid when it has none).
    pub user: String,
    /// The pxectl command that made the change: `reimage`, `boot-normal`, `reset`, ...
    pub command: String,
    pub node: String,
    pub mac: String,
    /// What the link pointed at before: a profile, or a description of what was there
    /// (`null` when there was nothing).
    pub from: Option<String>,
    /// The profile it points at now (`null` when render pruned the link).
    pub to: Option<String>,
}

/// Who is acting, for the journal.
pub fn current_user() -> String {
    if let Some(user) = std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty()) {
        return user;
    }
    // By uid, not `$USER`: systemd leaves it unset and `su` may leave the caller's.
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {uid}"), |u| u.name)
}

/// Now, as the journal writes it.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Appends to the journal; lines go out whole, in chunks, each chunk flushed and synced.
pub struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    /// Who is acting, found once.
    user: String,
}

impl Writer {
    /// Opens the journal in `state_dir` for appending (the caller holds the lock).
    pub fn open(state_dir: &Path) -> Result<Self> {
        let path = state_dir.join(FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| {
                format!("cannot open the journal `{}` (if it is a symbolic link, remove it: pxectl never follows one there)", path.display())
            })?;
        let meta = file.metadata().ok().filter(std::fs::Metadata::is_file);
        let Some(meta) = meta else {
            anyhow::bail!(
                "the journal `{}` is not a regular file; move it away",
                path.display()
            );
        };
        // A crash may have left a torn last line; end it so the next line stays whole.
        let len = meta.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .with_context(|| format!("cannot read the journal `{}`", path.display()))?;
            if last[0] != b'\n' {
                file.write_all(b"\n")
                    .with_context(|| format!("cannot write the journal `{}`", path.display()))?;
            }
        }
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, file),
            path,
            user: current_user(),
        })
    }

    /// Queues the entry of one change, made now by this user: the one way entries are made.
    pub fn record(
        &mut self,
        command: &str,
        node: &str,
        mac: crate::mac::MacAddr,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<()> {
        self.append(&Entry {
            time: now(),
            user: self.user.clone(),
            command: command.to_string(),
            node: node.to_string(),
            mac: mac.colon(),
            from,
            to,
        })
    }

    fn append(&mut self, entry: &Entry) -> Result<()> {
        let mut line = serde_json::to_string(entry).context("cannot encode a journal entry")?;
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write the journal `{}`", self.path.display()))
    }

    /// Writes what is queued and syncs it to disk.
    pub fn sync(&mut self) -> Result<()> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .with_context(|| format!("cannot write the journal `{}`", self.path.display()))
    }
}

/// What reading the journal found.
#[derive(Debug, Default)]
pub struct Read {
    pub entries: Vec<Entry>,
    /// Lines that are not entries (a crash mid-append), by line number.
    pub skipped: Vec<usize>,
}

/// Reads every entry of the journal in `state_dir` (none when it does not exist).
pub fn read(state_dir: &Path) -> Result<Read> {
    let path = state_dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the journal `{}`", path.display()))
        }
    };
    let mut read = Read::default();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(e) => read.entries.push(e),
            Err(_) => read.skipped.push(i + 1),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node: &str) -> Entry {
        Entry {
            time: now(),
            user: "alice".into(),
            command: "reimage".into(),
            node: node.into(),
            mac: "aa:bb:cc:dd:ee:ff".into(),
            from: Some("arch-linux".into()),
            to: Some("installer".into()),
        }
    }

    #[test]
    fn a_torn_line_is_skipped_and_does_not_spoil_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path()).unwrap();
        w.append(&entry("n1")).unwrap();
        w.sync().unwrap();
        drop(w);
        // A crash mid-append.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        f.write_all(br#"{"time":"2026-"#).unwrap();
        let r = read(dir.path()).unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.skipped, [2]);
        let mut w = Writer::open(dir.path()).unwrap();
        w.append(&entry("n2")).unwrap();
        w.sync().unwrap();
        let r = read(dir.path()).unwrap();
        assert_eq!(
            r.entries
                .iter()
                .map(|e| e.node.as_str())
                .collect::<Vec<_>>(),
            ["n1", "n2"]
        );
        assert_eq!(r.skipped, [2]);
    }

    #[test]
    fn a_missing_journal_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().entries.is_empty());
    }
}
