//! The checked description kept for the next run, like a compiled `.pyc`: `render` stores it
//! in `/var/cache/pxectl/` (under `--root`), and `status` and the switches use it instead of
//! reading the YAML again when nothing that decides the result has changed.
//!
//! A stored description is used only when all of these hold, else the file is read as usual:
//! - it was stored by a pxectl built from the same description code (a fingerprint of the
//!   version, of the sources that parse and check a description, and of `Cargo.lock`);
//! - for the same description file (its canonical path), whose text is byte for byte the text
//!   it was checked from (the text is stored with it and compared: no hash to collide);
//! - the cache file is a regular file (never followed through a link), owned by root or by
//!   the user running pxectl, and writable by nobody else: otherwise whoever could write it
//!   could skip the checks.
//!
//! Deleting the folder is always safe.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash as _, Hasher as _};
use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::tree::Root;

/// Where checked descriptions are kept on the boot server (FHS: data that may be deleted).
pub const DIR: &str = "/var/cache/pxectl";

/// What decides how a text is checked: the version, the sources that parse and check, and the
/// versions of the crates they use.
fn fingerprint() -> u64 {
    let mut h = DefaultHasher::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        include_str!("../cluster.rs"),
        include_str!("../mac.rs"),
        include_str!("fast.rs"),
        include_str!("mod.rs"),
        include_str!("model.rs"),
        include_str!("split.rs"),
        include_str!("validate.rs"),
        // validate expands profile strings with tera through these
        include_str!("../templates.rs"),
        // and serde_yaml, serde_json and tera may read or print differently in another release
        include_str!("../../Cargo.lock"),
    ] {
        part.hash(&mut h);
    }
    h.finish()
}

/// The first line of a cache file, followed by the text (exactly `text_len` bytes), the
/// checked description as JSON, and a [`TRAILER`] giving the JSON's length. Whether a file is
/// current is decided from the header, the text and the trailer, without reading the
/// description back.
#[derive(Serialize, Deserialize)]
struct Header {
    fingerprint: u64,
    config: PathBuf,
    text_len: usize,
}

/// Longest header read: a fingerprint, a length, and a path (`PATH_MAX` bytes, escaped).
const MAX_HEADER: u64 = 64 * 1024;

/// Length of the trailer: a newline, the JSON's length in 20 digits, a newline. A file cut
/// short or grown since it was written does not match its trailer.
const TRAILER: usize = 22;

/// The cache folder: `PXECTL_CACHE_DIR` as is (empty: no cache), else [`DIR`] under `--root`.
fn dir(root: &Root) -> Option<PathBuf> {
    match std::env::var_os("PXECTL_CACHE_DIR") {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(root.host(Path::new(DIR))),
    }
}

/// The cache file in `dir` for the description at `config` (canonical).
fn file(dir: &Path, config: &Path) -> PathBuf {
    let mut h = DefaultHasher::new();
    config.hash(&mut h);
    dir.join(format!("{:016x}.json", h.finish()))
}

/// The checked description stored for `config` with this exact `text`, if there is one to trust.
pub fn load(root: &Root, config: &Path, text: &str) -> Option<Cluster> {
    load_in(&dir(root)?, config, text)
}

fn load_in(dir: &Path, config: &Path, text: &str) -> Option<Cluster> {
    let config = fs::canonicalize(config).ok()?;
    let (f, json_len) = current(dir, &config, text)?;
    let mut json = Vec::new();
    f.take(json_len).read_to_end(&mut json).ok()?;
    let mut cluster: Cluster = serde_json::from_slice(&json).ok()?;
    cluster.daemons.name_daemons();
    Some(cluster)
}

/// The cache file for `config` (canonical), read up to its description, and the length of
/// the description, when the file is trusted, whole, and was checked from exactly `text` by
/// this build.
fn current(dir: &Path, config: &Path, text: &str) -> Option<(BufReader<fs::File>, u64)> {
    use std::os::unix::fs::FileExt as _;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(file(dir, config))
        .ok()?;
    let meta = f.metadata().ok()?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_file() || (meta.uid() != 0 && meta.uid() != uid) || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut f = BufReader::with_capacity(1 << 16, f);
    let mut line = String::new();
    (&mut f).take(MAX_HEADER).read_line(&mut line).ok()?;
    let header: Header = serde_json::from_str(&line).ok()?;
    if header.fingerprint != fingerprint()
        || header.config != config
        || header.text_len != text.len()
    {
        return None;
    }
    let json_len = meta
        .len()
        .checked_sub((line.len() + text.len() + TRAILER) as u64)?;
    let mut trailer = [0; TRAILER];
    f.get_ref()
        .read_exact_at(&mut trailer, meta.len() - TRAILER as u64)
        .ok()?;
    if trailer != *format!("\n{json_len:020}\n").as_bytes() {
        return None;
    }
    // Compared in blocks: the text may be megabytes, and most of a mismatch shows early.
    let mut rest = text.as_bytes();
    let mut block = vec![0; (1 << 16).min(rest.len())];
    while !rest.is_empty() {
        let n = block.len().min(rest.len());
        f.read_exact(&mut block[..n]).ok()?;
        if block[..n] != rest[..n] {
            return None;
        }
        rest = &rest[n..];
    }
    Some((f, json_len))
}

/// Keeps `cluster`, checked from `text` of `config`, for the next run. Best effort: a cache
/// that cannot be written (no permission) only means the next run reads the YAML.
pub fn store(root: &Root, config: &Path, text: &str, cluster: &Cluster) -> anyhow::Result<()> {
    match dir(root) {
        Some(dir) => store_in(&dir, config, text, cluster),
        None => Ok(()),
    }
}

fn store_in(dir: &Path, config: &Path, text: &str, cluster: &Cluster) -> anyhow::Result<()> {
    let config = fs::canonicalize(config)?;
    // A whole file with this header and text holds this description: the fingerprint covers
    // the code that made it from the text. (Damage that keeps every length is not detected;
    // readers then fall back to the YAML until the text changes.)
    if current(dir, &config, text).is_some() {
        return Ok(());
    }
    let path = file(dir, &config);
    let header = serde_json::to_string(&Header {
        fingerprint: fingerprint(),
        config,
        text_len: text.len(),
    })?;
    crate::atomic::ensure_dir(path.parent().unwrap_or(Path::new("/")))?;
    crate::atomic::write_with(&path, 0o644, |w| {
        w.write_all(header.as_bytes())?;
        w.write_all(b"\n")?;
        w.write_all(text.as_bytes())?;
        let mut json = Counted { out: w, bytes: 0 };
        serde_json::to_writer(&mut json, cluster).map_err(std::io::Error::from)?;
        let len = json.bytes;
        write!(w, "\n{len:020}\n")
    })
}

/// A writer that counts what goes through it.
struct Counted<'a> {
    out: &'a mut dyn std::io::Write,
    bytes: u64,
}

impl std::io::Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const EXAMPLE: &str = include_str!("../../examples/portacluster.yaml");

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, Cluster) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cluster.yaml");
        fs::write(&config, EXAMPLE).unwrap();
        let cluster = super::super::parse(EXAMPLE, dir.path()).unwrap();
        let cache = dir.path().join("cache");
        (dir, cache, config, cluster)
    }

    #[test]
    fn gives_back_what_was_checked() {
        let (_dir, cache, config, cluster) = setup();
        assert!(load_in(&cache, &config, EXAMPLE).is_none());
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        let got = load_in(&cache, &config, EXAMPLE).expect("a hit");
        assert_eq!(format!("{got:?}"), format!("{cluster:?}"));
        let cached = file(&cache, &fs::canonicalize(&config).unwrap());
        assert!(cached.starts_with(&cache));
        assert_eq!(
            fs::metadata(&cached).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn a_current_file_is_not_rewritten_and_a_stale_one_is() {
        use std::os::unix::fs::MetadataExt as _;
        let (_dir, cache, config, cluster) = setup();
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        let cached = file(&cache, &fs::canonicalize(&config).unwrap());
        let ino = fs::metadata(&cached).unwrap().ino();
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        assert_eq!(fs::metadata(&cached).unwrap().ino(), ino, "rewritten");

        let edited = EXAMPLE.replace("node3", "node9");
        let other = super::super::parse(&edited, Path::new(".")).unwrap();
        store_in(&cache, &config, &edited, &other).unwrap();
        assert_ne!(fs::metadata(&cached).unwrap().ino(), ino, "kept");
        assert!(load_in(&cache, &config, EXAMPLE).is_none());
        let got = load_in(&cache, &config, &edited).expect("a hit");
        assert_eq!(format!("{got:?}"), format!("{other:?}"));
    }

    #[test]
    fn a_file_cut_short_or_grown_is_not_used_and_is_replaced() {
        let (_dir, cache, config, cluster) = setup();
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        let cached = file(&cache, &fs::canonicalize(&config).unwrap());
        let whole = fs::read(&cached).unwrap();
        let mut grown = whole.clone();
        grown.extend_from_slice(b" ");
        // Cut inside the description, inside the trailer, or with a byte added at the end:
        // the header and the text still match.
        for damaged in [
            &whole[..whole.len() - 30],
            &whole[..whole.len() - 10],
            &grown[..],
        ] {
            fs::write(&cached, damaged).unwrap();
            assert!(load_in(&cache, &config, EXAMPLE).is_none());
            store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
            assert_eq!(fs::read(&cached).unwrap(), whole, "not replaced");
            assert!(load_in(&cache, &config, EXAMPLE).is_some());
        }
    }

    #[test]
    fn another_text_or_file_misses() {
        let (dir, cache, config, cluster) = setup();
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        let edited = EXAMPLE.replace("node3", "node9");
        assert!(load_in(&cache, &config, &edited).is_none());
        let other = dir.path().join("other.yaml");
        fs::write(&other, EXAMPLE).unwrap();
        assert!(load_in(&cache, &other, EXAMPLE).is_none());
    }

    #[test]
    fn an_untrusted_or_damaged_cache_file_is_ignored() {
        let (dir, cache, config, cluster) = setup();
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        let cached = file(&cache, &fs::canonicalize(&config).unwrap());
        assert!(load_in(&cache, &config, EXAMPLE).is_some());

        fs::set_permissions(&cached, fs::Permissions::from_mode(0o664)).unwrap();
        assert!(
            load_in(&cache, &config, EXAMPLE).is_none(),
            "group-writable"
        );
        fs::set_permissions(&cached, fs::Permissions::from_mode(0o646)).unwrap();
        assert!(
            load_in(&cache, &config, EXAMPLE).is_none(),
            "world-writable"
        );
        fs::set_permissions(&cached, fs::Permissions::from_mode(0o644)).unwrap();

        let real = dir.path().join("real.json");
        fs::rename(&cached, &real).unwrap();
        std::os::unix::fs::symlink(&real, &cached).unwrap();
        assert!(load_in(&cache, &config, EXAMPLE).is_none(), "a link");
        fs::remove_file(&cached).unwrap();

        let json = fs::read_to_string(&real).unwrap();
        for torn in [json.len() / 2, json.len() - 1] {
            fs::write(&cached, &json[..torn]).unwrap();
            assert!(
                load_in(&cache, &config, EXAMPLE).is_none(),
                "torn at {torn}"
            );
        }
        let other_build = json.replacen(
            &format!("\"fingerprint\":{}", fingerprint()),
            "\"fingerprint\":1",
            1,
        );
        assert_ne!(other_build, json);
        fs::write(&cached, other_build).unwrap();
        assert!(load_in(&cache, &config, EXAMPLE).is_none(), "another build");
        // store replaces what it cannot use
        store_in(&cache, &config, EXAMPLE, &cluster).unwrap();
        assert!(load_in(&cache, &config, EXAMPLE).is_some());
    }
}
