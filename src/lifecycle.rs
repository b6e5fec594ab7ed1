//! Install completion callbacks: following nginx's callback log like `tail -F`, reading its
//! lines, and deciding what each callback may change (docs/lifecycle.md).

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cluster::{Cluster, Node, OnFailure};

/// The longest log line read; a longer one (no callback is that long) is skipped whole.
pub const MAX_LINE: usize = 8192;

/// Follows a log file across rotation (by rename) and truncation, line by line.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
    first_open: bool,
    from_start: bool,
    /// The file's first bytes: a log only grows, so when they change it was truncated (even
    /// if it has since grown past where we were).
    head: Vec<u8>,
    /// After a rotation by rename: the old file, still read while its writer keeps writing
    /// to it (nginx does until it reopens its logs), with its offset and idle polls.
    old: Option<(File, u64, u32)>,
}

/// How many polls in a row a rotated-away file must stay idle before it is let go.
const OLD_IDLE_POLLS: u32 = 50;

/// How many first bytes identify a log file's content.
const HEAD: usize = 64;

/// What one poll read.
#[derive(Debug, Default)]
pub struct Polled {
    pub lines: Vec<Vec<u8>>,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub too_long: usize,
}

impl Follower {
    /// Follows `path`, from its current end unless `from_start`; it need not exist yet.
    pub fn new(path: &Path, from_start: bool) -> Self {
        Self {
            path: path.to_path_buf(),
            file: None,
            ino: 0,
            offset: 0,
            partial: Vec::new(),
            skipping: false,
            first_open: true,
            from_start,
            head: Vec::new(),
            old: None,
        }
    }

    /// Where reading stands: the file's inode and the offset read up to.
    pub fn position(&self) -> (u64, u64) {
        (self.ino, self.offset - self.partial.len() as u64)
    }

    /// Resumes at `offset` when the log is still the file with inode `ino` (a restarted
    /// watcher goes on where it stopped instead of at the end).
    pub fn resume(&mut self, ino: u64, offset: u64) {
        if let Ok(meta) = std::fs::metadata(&self.path) {
            if meta.ino() == ino && meta.len() >= offset {
                self.first_open = false;
                if self.open().unwrap_or(false) {
                    self.offset = offset;
                }
            }
        }
    }

    /// The first bytes of the open file, up to [`HEAD`].
    fn read_head(&mut self) -> Result<Vec<u8>> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let mut head = Vec::with_capacity(HEAD);
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.take(HEAD as u64).read_to_end(&mut head))
            .with_context(|| format!("cannot read the callback log `{}`", self.path.display()))?;
        Ok(head)
    }

    /// Complete lines written since the last poll.
    pub fn poll(&mut self) -> Result<Polled> {
        let mut polled = Polled::default();
        self.drain_old(&mut polled)?;
        if self.file.is_none() && !self.open()? {
            return Ok(polled);
        }
        // Truncated in place (shorter than where we were, or its first bytes changed)?
        let len = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        if len < self.offset || !self.read_head()?.starts_with(&self.head) {
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
        }
        self.drain(&mut polled)?;
        // Rotated: the name now points at another file. Keep reading the old one while its
        // writer still appends to it, and read the new one from its start.
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() != self.ino) {
            if let Some(file) = self.file.take() {
                self.old = Some((file, self.offset, 0));
            }
            self.partial.clear();
            self.skipping = false;
            if self.open()? {
                self.drain(&mut polled)?;
            }
        }
        self.head = self.read_head()?;
        Ok(polled)
    }

    /// Reads what was appended to the rotated-away file; lets it go once idle long enough.
    fn drain_old(&mut self, polled: &mut Polled) -> Result<()> {
        let Some((file, offset, idle)) = self.old.take() else {
            return Ok(());
        };
        let mut reader = Follower {
            file: Some(file),
            offset,
            ..Follower::new(&self.path, true)
        };
        let before = reader.offset;
        reader.drain(polled)?;
        // A last line without its newline, in a file that is done, still counts.
        if !reader.partial.is_empty()
            && !reader.skipping
            && reader.offset == before
            && idle + 1 >= OLD_IDLE_POLLS
        {
            polled.lines.push(std::mem::take(&mut reader.partial));
        }
        let idle = if reader.offset == before { idle + 1 } else { 0 };
        if idle < OLD_IDLE_POLLS {
            if let Some(file) = reader.file.take() {
                self.old = Some((file, reader.offset, idle));
                // Bytes of an unfinished line stay in the old file's offset for the next poll.
                if let Some((_, off, _)) = self.old.as_mut() {
                    *off -= reader.partial.len() as u64;
                }
            }
        }
        Ok(())
    }

    fn open(&mut self) -> Result<bool> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.first_open = false;
                return Ok(false);
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot open the callback log `{}`", self.path.display())
                })
            }
        };
        let meta = file
            .metadata()
            .with_context(|| format!("cannot inspect `{}`", self.path.display()))?;
        self.ino = meta.ino();
        // Only the file there when watching starts is read from its end.
        self.offset = if self.first_open && !self.from_start {
            meta.len()
        } else {
            0
        };
        self.first_open = false;
        self.file = Some(file);
        Ok(true)
    }

    fn drain(&mut self, polled: &mut Polled) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.offset))
            .with_context(|| format!("cannot read the callback log `{}`", self.path.display()))?;
        let mut chunk = Vec::new();
        let n = file
            .read_to_end(&mut chunk)
            .with_context(|| format!("cannot read the callback log `{}`", self.path.display()))?;
        self.offset += n as u64;
        for &b in &chunk {
            if b == b'\n' {
                if self.skipping {
                    self.skipping = false;
                } else {
                    polled.lines.push(std::mem::take(&mut self.partial));
                }
            } else if !self.skipping {
                self.partial.push(b);
                if self.partial.len() > MAX_LINE {
                    self.partial.clear();
                    self.skipping = true;
                    polled.too_long += 1;
                }
            }
        }
        Ok(())
    }
}

/// Addresses dnsmasq leased, by MAC, from its lease file (`EXPIRY MAC IP NAME CLIENT-ID`
/// per line); empty when the file cannot be read.
pub fn leased_addresses(path: &Path) -> std::collections::HashMap<crate::mac::MacAddr, IpAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return std::collections::HashMap::default();
    };
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

/// The MAC whose pxelinux config a dnsmasq TFTP log line says was sent
/// (`... dnsmasq-tftp[PID]: sent /srv/pxe/pxelinux.cfg/01-aa-bb-... to ADDR`).
pub fn tftp_sent_mac(line: &[u8]) -> Option<crate::mac::MacAddr> {
    let line = std::str::from_utf8(line).ok()?;
    let sent = line.split_once("dnsmasq-tftp")?.1.split_once(": sent ")?.1;
    let path = sent.split(' ').next()?;
    crate::mac::MacAddr::from_pxelinux_name(path.rsplit('/').next()?)
}

/// Which callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
}

/// One parsed callback line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub time: String,
    pub client: IpAddr,
    pub outcome: Outcome,
    pub node: String,
}

/// Parses a line of the callback log (`TIME ADDR "URI" STATUS`); `Err` says why it is not a callback.
pub fn parse(line: &[u8], prefix: &str) -> Result<Callback, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let mut fields = line.split(' ');
    let (Some(time), Some(addr), Some(uri), Some(_status), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err("not in pxectl's callback log format".into());
    };
    let client: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{}` is not a client address", addr.escape_debug()))?;
    let uri = uri
        .strip_prefix('"')
        .and_then(|u| u.strip_suffix('"'))
        .ok_or("the path is not quoted")?;
    let path = uri.split('?').next().unwrap_or_default();
    let rest = path
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("`{}` is not under `{prefix}/`", path.escape_debug()))?;
    let (outcome, node) = if let Some(n) = rest.strip_prefix("done/") {
        (Outcome::Done, n)
    } else if let Some(n) = rest.strip_prefix("failed/") {
        (Outcome::Failed, n)
    } else {
        return Err(format!(
            "`{}` is neither `done/NODE` nor `failed/NODE`",
            path.escape_debug()
        ));
    };
    let plain = !node.is_empty()
        && node.len() <= 63
        && node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plain {
        return Err(format!(
            "node name `{}` is not a host name",
            node.escape_debug()
        ));
    }
    Ok(Callback {
        time: time.to_string(),
        client,
        outcome,
        node: node.to_string(),
    })
}

/// What a callback may do.
#[derive(Debug, Clone)]
pub enum Verdict<'c> {
    /// Switch `node` to `to`.
    Switch { node: &'c Node, to: String },
    /// A `failed` callback, left as configured: journal it, change nothing.
    Leave { node: &'c Node },
    /// Change nothing; say why.
    Ignore(String),
}

/// Whether a callback naming `name` is for `node` (host names compare without case).
pub fn is_for(node: &Node, name: &str) -> bool {
    node.name.eq_ignore_ascii_case(name)
}

/// Whether `client` may call back for `node`: from its fixed address, when it has one.
pub fn trusted(node: &Node, client: IpAddr) -> bool {
    node.ip.is_none_or(|ip| client == IpAddr::V4(ip))
}

/// Decides what `cb` may do, given what the node's link points at now (`current`).
/// The trust model: the node must be described, on the reimage profile, and, when it has a
/// fixed address, call from it.
pub fn decide<'c>(cluster: &'c Cluster, cb: &Callback, current: Option<&str>) -> Verdict<'c> {
    let Some(node) = cluster.nodes.iter().find(|n| is_for(n, &cb.node)) else {
        return Verdict::Ignore(format!("no node is named `{}`", cb.node));
    };
    if let (false, Some(ip)) = (trusted(node, cb.client), node.ip) {
        return Verdict::Ignore(format!(
            "node `{}` has address {ip}, but the callback came from {}",
            node.name, cb.client
        ));
    }
    if current != Some(cluster.roles.reimage.as_str()) {
        return Verdict::Ignore(format!(
            "node `{}` is not reimaging (it boots `{}`)",
            node.name,
            current.unwrap_or("nothing")
        ));
    }
    match cb.outcome {
        Outcome::Done => Verdict::Switch {
            node,
            to: node.normal_profile.clone(),
        },
        Outcome::Failed => match (cluster.lifecycle.on_failure, &cluster.roles.rescue) {
            (OnFailure::Rescue, Some(rescue)) => Verdict::Switch {
                node,
                to: rescue.clone(),
            },
            _ => Verdict::Leave { node },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn parses_callbacks_and_refuses_the_rest() {
        let ok = parse(
            br#"2026-11-25T12:00:00+00:00 10.0.0.5 "/pxectl/done/node3?x=1" 204"#,
            "/pxectl",
        )
        .unwrap();
        assert_eq!(ok.node, "node3");
        assert_eq!(ok.outcome, Outcome::Done);
        assert_eq!(ok.client, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(
            parse(br#"t ::1 "/pxectl/failed/n1" 204"#, "/pxectl")
                .unwrap()
                .outcome,
            Outcome::Failed
        );
        for bad in [
            &br#"t 10.0.0.5 "/pxectl/done/../../etc/passwd" 204"#[..],
            br#"t 10.0.0.5 "/pxectl/done/node3/extra" 204"#,
            br#"t 10.0.0.5 "/pxectl/done/" 204"#,
            br#"t 10.0.0.5 "/pxectl/reboot/node3" 204"#,
            br#"t 10.0.0.5 "/other/done/node3" 204"#,
            br#"t nonsense "/pxectl/done/node3" 204"#,
            br"t 10.0.0.5 /pxectl/done/node3 204",
            br#"t 10.0.0.5 "/pxectl/done/n\x22ode" 204"#,
            b"t 10.0.0.5 \"/pxectl/done/n\xffde\" 204",
            b"",
            b"garbage",
        ] {
            assert!(
                parse(bad, "/pxectl").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

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
    fn reads_leases_and_tftp_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().join("leases");
        std::fs::write(
            &leases,
            "1764072000 02:00:00:00:00:03 10.0.0.53 n3 01:02:00:00:00:00:03\ngarbage\n",
        )
        .unwrap();
        let map = leased_addresses(&leases);
        assert_eq!(
            map.get(&"02:00:00:00:00:03".parse().unwrap()),
            Some(&"10.0.0.53".parse().unwrap())
        );
        assert_eq!(map.len(), 1);
        assert!(leased_addresses(&dir.path().join("missing")).is_empty());
        let line = b"Nov 25 12:00:00 dnsmasq-tftp[3937]: sent /srv/pxe/pxelinux.cfg/01-02-00-00-00-00-03 to 10.0.0.53";
        assert_eq!(
            tftp_sent_mac(line),
            Some("02:00:00:00:00:03".parse().unwrap())
        );
        assert_eq!(
            tftp_sent_mac(b"Nov 25 dnsmasq-tftp[1]: sent /srv/pxe/pxelinux.0 to 10.0.0.53"),
            None
        );
        assert_eq!(
            tftp_sent_mac(b"Nov 25 dnsmasq-dhcp[1]: DHCPACK(eth0) 10.0.0.53"),
            None
        );
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
}
