//! Following a log like `tail -F`, line by line, in bounded memory: across rotation by
//! rename or by copy and truncation, and across restarts (a saved [`Position`]).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// The longest log line read; a longer one (no callback is that long) is skipped whole.
pub const MAX_LINE: usize = 8192;

/// The most bytes one poll reads, so that a huge backlog is read in bounded memory, a piece
/// at a time.
const BUDGET: usize = 1 << 20;

/// How many first bytes identify a log file's content: a log only grows, so when they
/// change it was truncated (even if it has since grown past where reading stood).
const HEAD: usize = 64;

/// How long a rotated-away file stays followed, once its writer has moved on to the new
/// file, without growing.
const LINGER: Duration = Duration::from_secs(5);

/// What one poll read.
#[derive(Debug, Default)]
pub struct Polled {
    pub lines: Vec<Vec<u8>>,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub too_long: usize,
    /// The poll stopped at its budget: more is there to read right away.
    pub more: bool,
}

/// Where reading a log stands: saved by the watcher, so that the next one goes on from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file being read.
    pub ino: u64,
    /// Its length when the position was taken: shorter later means truncated.
    pub size: u64,
    /// How far it was read (up to the last whole line).
    pub offset: u64,
    /// Its first bytes, up to [`HEAD`]: different later means truncated and written again.
    pub head: Vec<u8>,
}

impl Position {
    /// `INODE SIZE OFFSET HEAD-IN-HEX`, one line.
    pub fn to_line(&self) -> String {
        use std::fmt::Write as _;
        let mut line = format!("{} {} {} ", self.ino, self.size, self.offset);
        for b in &self.head {
            let _ = write!(line, "{b:02x}");
        }
        line.push('\n');
        line
    }

    /// Reads [`Position::to_line`]'s format back; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let [ino, size, offset, head] = super::words(text.trim_end_matches('\n'))?;
        let head = (0..head.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(head.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let position = Self {
            ino: ino.parse().ok()?,
            size: size.parse().ok()?,
            offset: offset.parse().ok()?,
            head,
        };
        (position.offset <= position.size && position.head.len() <= HEAD).then_some(position)
    }
}

/// One open file, read from `offset` on.
#[derive(Debug)]
struct Reading {
    file: File,
    ino: u64,
    /// Bytes consumed, including those of `partial`.
    offset: u64,
    /// The start of a line whose newline is not written yet.
    partial: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
    head: Vec<u8>,
    /// When it last grew (rotated-away files only).
    grew: Instant,
}

impl Reading {
    fn open(path: &Path) -> Result<Option<Self>> {
        match File::open(path) {
            Ok(file) => Self::new(file, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot open the log `{}`", path.display())),
        }
    }

    fn new(file: File, path: &Path) -> Result<Self> {
        let ino = file
            .metadata()
            .with_context(|| format!("cannot inspect the log `{}`", path.display()))?
            .ino();
        let mut reading = Self {
            file,
            ino,
            offset: 0,
            partial: Vec::new(),
            skipping: false,
            head: Vec::new(),
            grew: Instant::now(),
        };
        reading.head = reading.read_head()?;
        Ok(reading)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().context("cannot inspect a log")?.len())
    }

    fn read_head(&self) -> Result<Vec<u8>> {
        let mut head = vec![0; HEAD];
        let mut n = 0;
        while n < HEAD {
            match self.file.read_at(&mut head[n..], n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("cannot read a log"),
            }
        }
        head.truncate(n);
        Ok(head)
    }

    /// Whether the file was truncated since it was read up to `offset`.
    fn truncated(&self) -> Result<bool> {
        Ok(self.len()? < self.offset || !self.read_head()?.starts_with(&self.head))
    }

    /// Goes back to the start of the (truncated) file.
    fn restart(&mut self) -> Result<()> {
        self.offset = 0;
        self.partial.clear();
        self.skipping = false;
        self.head = self.read_head()?;
        Ok(())
    }

    /// Where this file's reading stands.
    fn position(&self) -> Result<Position> {
        Ok(Position {
            ino: self.ino,
            size: self.len()?,
            offset: self.offset - self.partial.len() as u64,
            head: self.head.clone(),
        })
    }

    /// Reads complete lines into `polled`, at most `budget` bytes; returns how many it read.
    fn read(&mut self, polled: &mut Polled, budget: &mut usize) -> Result<usize> {
        let mut buf = vec![0; (*budget).min(1 << 16)];
        let mut total = 0;
        while *budget > 0 {
            let want = (*budget).min(buf.len());
            let n = match self.file.read_at(&mut buf[..want], self.offset) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("cannot read a log"),
            };
            self.offset += n as u64;
            *budget -= n;
            total += n;
            self.split(&buf[..n], polled);
        }
        if total > 0 {
            self.grew = Instant::now();
            if self.head.len() < HEAD {
                self.head = self.read_head()?;
            }
        }
        Ok(total)
    }

    fn split(&mut self, mut bytes: &[u8], polled: &mut Polled) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let piece = &bytes[..end.unwrap_or(bytes.len())];
            if !self.skipping {
                if self.partial.len() + piece.len() > MAX_LINE {
                    self.partial.clear();
                    self.skipping = true;
                    polled.too_long += 1;
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            let Some(end) = end else { break };
            if self.skipping {
                self.skipping = false;
            } else {
                polled.lines.push(std::mem::take(&mut self.partial));
            }
            bytes = &bytes[end + 1..];
        }
    }

    /// A file that is done: its last line counts even without a newline.
    fn finish(self, polled: &mut Polled) {
        if !self.partial.is_empty() && !self.skipping {
            polled.lines.push(self.partial);
        }
    }
}

/// Follows a log file, line by line.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    current: Option<Reading>,
    /// Rotated away (renamed, or the copy made before a truncation), oldest first: read to
    /// the end while their writer may still append to them (nginx does until it reopens its
    /// logs), before the current file.
    rotated: VecDeque<Reading>,
    /// The next file opened at the log's path is read from its end (only the file there when
    /// watching starts from scratch).
    from_end: bool,
}

impl Follower {
    /// Follows `path`, from its current end unless `from_start`; it need not exist yet.
    pub fn new(path: &Path, from_start: bool) -> Self {
        Self {
            path: path.to_path_buf(),
            current: None,
            rotated: VecDeque::new(),
            from_end: !from_start,
        }
    }

    /// Takes the starting point now (the log's end, unless resumed or from its start), so
    /// that every line written after this returns is read.
    pub fn begin(&mut self) -> Result<()> {
        self.notice_rotation()
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where reading stands: in the oldest file not read to its end, else in the current one.
    pub fn position(&self) -> Result<Option<Position>> {
        for reading in &self.rotated {
            let position = reading.position()?;
            if position.offset < position.size {
                return Ok(Some(position));
            }
        }
        self.current
            .as_ref()
            .or(self.rotated.back())
            .map(Reading::position)
            .transpose()
    }

    /// Goes on from `saved`, where an earlier follower of this log stood. When the log was
    /// rotated since (renamed, or copied and truncated), the rest of the old file is read
    /// first, found next to the log by its inode or its first bytes; then the log from its
    /// start. Returns a warning when that rest is not found.
    pub fn resume(&mut self, saved: &Position) -> Result<Option<String>> {
        self.from_end = false;
        self.current = Reading::open(&self.path)?;
        let rest = match self.current.as_mut() {
            Some(cur) if cur.ino == saved.ino => {
                if cur.len()? >= saved.size && cur.head.starts_with(&saved.head) {
                    cur.offset = saved.offset;
                    return Ok(None);
                }
                let ino = cur.ino;
                self.find_rotated(|r, len| {
                    r.ino != ino && len >= saved.size && r.head.starts_with(&saved.head)
                })?
            }
            _ => self.find_rotated(|r, _| r.ino == saved.ino)?,
        };
        let Some(mut rest) = rest else {
            return Ok(Some(format!(
                "`{}` was rotated while no watcher ran, and its old content (inode {}) is not next to it: callbacks written after the last watcher stopped may be missed",
                self.path.display(),
                saved.ino
            )));
        };
        rest.offset = saved.offset;
        self.rotated.push_back(rest);
        Ok(None)
    }

    /// The first file next to the log, named like it (`cb.log.1` first, then `cb.log-…`, …),
    /// that `is` accepts (given its length).
    fn find_rotated(&self, is: impl Fn(&Reading, u64) -> bool) -> Result<Option<Reading>> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(None);
        };
        let name = name.to_string_lossy();
        let first = format!("{name}.1");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(None);
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() > name.len() && n.starts_with(&*name))
            .collect();
        names.sort_by_key(|n| (*n != first, n.clone()));
        for n in names {
            let path = dir.join(&n);
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            if let Some(reading) = Reading::open(&path)? {
                let len = reading.len()?;
                if is(&reading, len) {
                    return Ok(Some(reading));
                }
            }
        }
        Ok(None)
    }

    /// Complete lines written since the last poll, at most [`BUDGET`] bytes of them.
    pub fn poll(&mut self) -> Result<Polled> {
        let mut polled = Polled::default();
        self.notice_rotation()?;
        let mut budget = BUDGET;
        for old in &mut self.rotated {
            old.read(&mut polled, &mut budget)?;
            if budget == 0 {
                polled.more = true;
                return Ok(polled);
            }
        }
        // A rotated file is let go once its writer has moved on (a later file has content)
        // and it has stopped growing.
        while let Some(old) = self.rotated.front() {
            let moved_on = self.rotated.len() > 1
                || self
                    .current
                    .as_ref()
                    .map_or(Ok(false), |c| c.len().map(|l| l > 0))?;
            if !(moved_on && old.grew.elapsed() >= LINGER) {
                break;
            }
            if let Some(old) = self.rotated.pop_front() {
                old.finish(&mut polled);
            }
        }
        if let Some(cur) = self.current.as_mut() {
            cur.read(&mut polled, &mut budget)?;
        }
        polled.more = budget == 0;
        Ok(polled)
    }

    /// Opens the log when it appears, and notices when it was renamed away or truncated.
    fn notice_rotation(&mut self) -> Result<()> {
        let Some(cur) = self.current.as_mut() else {
            self.current = Reading::open(&self.path)?;
            if let Some(cur) = self.current.as_mut().filter(|_| self.from_end) {
                cur.offset = cur.len()?;
            }
            self.from_end = false;
            return Ok(());
        };
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.ino() != cur.ino => {
                // Renamed away: the name is a new file, read from its start.
                if let Some(new) = Reading::open(&self.path)? {
                    if let Some(old) = self.current.replace(new) {
                        self.rotated.push_back(old);
                    }
                }
            }
            Ok(_) if cur.truncated()? => {
                // Copied, then truncated: what was written after `offset` is in the copy.
                let (ino, offset, head) = (cur.ino, cur.offset, cur.head.clone());
                let copy = self.find_rotated(|r, len| {
                    r.ino != ino && len >= offset && r.head.starts_with(&head)
                })?;
                let Some(cur) = self.current.as_mut() else {
                    return Ok(());
                };
                if let Some(mut copy) = copy {
                    copy.offset = cur.offset;
                    copy.partial = std::mem::take(&mut cur.partial);
                    copy.skipping = cur.skipping;
                    self.rotated.push_back(copy);
                }
                cur.restart()?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn follows_appends_rotation_truncation_and_skips_huge_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cb.log");
        std::fs::write(&log, "old line\n").unwrap();
        let mut f = Follower::new(&log, false);
        assert!(f.poll().unwrap().lines.is_empty(), "starts at the end");
        let mut w = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        write!(w, "one\ntw").unwrap();
        assert_eq!(f.poll().unwrap().lines, [b"one".to_vec()]);
        writeln!(w, "o").unwrap();
        assert_eq!(f.poll().unwrap().lines, [b"two".to_vec()]);
        // A huge line, then a normal one.
        w.write_all(&vec![b'x'; MAX_LINE * 3]).unwrap();
        writeln!(w, "\nafter").unwrap();
        let p = f.poll().unwrap();
        assert_eq!(p.lines, [b"after".to_vec()]);
        assert_eq!(p.too_long, 1);
        // Rotation by rename: the rest of the old file, then the new one from its start.
        writeln!(w, "last of old").unwrap();
        std::fs::rename(&log, dir.path().join("cb.log.1")).unwrap();
        std::fs::write(&log, "first of new\n").unwrap();
        assert_eq!(
            f.poll().unwrap().lines,
            [b"last of old".to_vec(), b"first of new".to_vec()]
        );
        // logrotate's `create`: the writer keeps its old descriptor until told to reopen.
        writeln!(w, "old writer, after the rename").unwrap();
        assert_eq!(
            f.poll().unwrap().lines,
            [b"old writer, after the rename".to_vec()]
        );
        // Truncation.
        std::fs::write(&log, "").unwrap();
        let mut w = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(w, "after truncate").unwrap();
        assert_eq!(f.poll().unwrap().lines, [b"after truncate".to_vec()]);
    }

    #[test]
    fn a_missing_log_is_waited_for_and_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cb.log");
        let mut f = Follower::new(&log, false);
        assert!(f.poll().unwrap().lines.is_empty());
        std::fs::write(&log, "created later\n").unwrap();
        assert_eq!(f.poll().unwrap().lines, [b"created later".to_vec()]);
    }

    #[test]
    fn a_position_is_saved_and_read_back() {
        let p = Position {
            ino: 12,
            size: 300,
            offset: 250,
            head: b"2026 \x00\xff".to_vec(),
        };
        assert_eq!(p.to_line(), "12 300 250 323032362000ff\n");
        assert_eq!(Position::parse(&p.to_line()), Some(p));
        for bad in [
            "",
            "12 34",
            "12 300 250",
            "12 300 400 ",
            "1 2 1 zz",
            "1 2 1 abc",
            "1 2 1 00 x",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn resumes_in_the_same_file_or_finishes_the_rotated_one_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cb.log");
        std::fs::write(&log, "one\n").unwrap();
        let mut f = Follower::new(&log, true);
        assert_eq!(f.poll().unwrap().lines, [b"one".to_vec()]);
        let saved = f.position().unwrap().unwrap();
        assert_eq!((saved.size, saved.offset), (4, 4));
        drop(f);
        let append = |path: &Path, text: &str| {
            let mut w = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        };
        // Grown: goes on where it stood.
        append(&log, "two\n");
        let mut f = Follower::new(&log, false);
        assert_eq!(f.resume(&saved).unwrap(), None);
        assert_eq!(f.poll().unwrap().lines, [b"two".to_vec()]);
        // Renamed away with a dated name: the rest of it, then the new file.
        let saved = f.position().unwrap().unwrap();
        append(&log, "three\n");
        std::fs::rename(&log, dir.path().join("cb.log-20261125")).unwrap();
        std::fs::write(&log, "four\n").unwrap();
        let mut f = Follower::new(&log, false);
        assert_eq!(f.resume(&saved).unwrap(), None);
        assert_eq!(
            f.poll().unwrap().lines,
            [b"three".to_vec(), b"four".to_vec()]
        );
        // Gone for good: a warning, and the new file from its start.
        let saved = f.position().unwrap().unwrap();
        std::fs::remove_file(dir.path().join("cb.log-20261125")).unwrap();
        std::fs::rename(&log, dir.path().join("elsewhere")).unwrap();
        std::fs::write(&log, "five\n").unwrap();
        let mut f = Follower::new(&log, false);
        assert!(f
            .resume(&saved)
            .unwrap()
            .unwrap()
            .contains("is not next to it"));
        assert_eq!(f.poll().unwrap().lines, [b"five".to_vec()]);
    }

    #[test]
    fn a_poll_reads_a_bounded_piece_of_a_large_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cb.log");
        let line = "x".repeat(99) + "\n";
        std::fs::write(&log, line.repeat(3 * BUDGET / 100)).unwrap();
        let mut f = Follower::new(&log, true);
        let mut total = 0;
        let mut polls = 0;
        loop {
            let p = f.poll().unwrap();
            assert!(p.lines.len() <= BUDGET / 100 + 1);
            total += p.lines.len();
            polls += 1;
            if !p.more {
                break;
            }
        }
        assert_eq!(total, 3 * BUDGET / 100);
        assert!(polls >= 3);
    }
}
