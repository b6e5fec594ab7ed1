//! Real processes against one tree: concurrent writers, SIGKILL mid-run, readers racing flips.

mod common;

use std::collections::HashSet;
use std::fs;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pxectl::loader::Loader;
use pxectl::mac::MacAddr;

use common::{synthetic, Env};

const PROFILES: [&str; 3] = ["local", "install", "rescue"];

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.command(&[&["--lock-timeout", "300s", "-q"], args].concat(), true)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pxectl")
}

/// A random number, different on every call.
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Every node of a synthetic cluster of `n` has a link to a described profile in the folder
/// of `loader` under the TFTP root `pxe`; returns how many pxectl temporaries are there.
#[track_caller]
fn assert_entries_valid(pxe: &Path, loader: Loader, n: usize) -> usize {
    let dir = pxe.join(loader.dir());
    for i in 0..n {
        let mac = MacAddr::from_pxelinux_name(&synthetic::link_name(i)).unwrap();
        let name = loader.entry(mac);
        let target = fs::read_link(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let target = target.to_str().unwrap();
        assert!(
            PROFILES.iter().any(|p| loader.file(p) == target),
            "{name} -> {target}"
        );
        assert!(dir.join(target).is_file(), "{name} -> {target}, not a file");
    }
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .is_some_and(pxectl::atomic::is_temp)
        })
        .count()
}

/// [`assert_entries_valid`] for pxelinux.
#[track_caller]
fn assert_links_valid(pxe: &Path, n: usize) -> usize {
    assert_entries_valid(pxe, Loader::Pxelinux, n)
}

#[track_caller]
fn assert_journal_parses(env: &Env) -> usize {
    let text = fs::read_to_string(env.at("/var/lib/pxectl/journal.jsonl")).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("journal line {}: {e}: {line}", i + 1));
        assert!(v["node"].is_string() && v["to"].is_string(), "{line}");
    }
    text.lines().count()
}

/// A cluster large enough for the parallel paths (the `nodes:` list read in pieces, links
/// created on every core): every link right, every creation journaled once, temporaries of
/// a killed run removed, and a second render writes nothing.
#[test]
fn a_large_cluster_renders_every_link_once() {
    let n = 5_000;
    let env = Env::new(&synthetic::description(n));
    let dir = env.pxe("");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("local", dir.join(".pxectl.tmp.1.7")).unwrap();
    env.run(&["render"])
        .expect(0)
        .stdout_has("removed 1 temporary file left by an interrupted run")
        .stdout_has(&format!("{} links created", n + 1));
    assert_eq!(assert_links_valid(&env.at("/srv/public/pxe"), n), 0);
    for i in 0..n {
        assert_eq!(
            fs::read_link(dir.join(synthetic::link_name(i))).unwrap(),
            Path::new("local")
        );
    }
    assert_eq!(assert_journal_parses(&env), n);
    env.run(&["render"]).expect(0).stdout_has(&format!(
        "0 links created, 0 re-pointed, 0 pruned, {} unchanged",
        n + 1
    ));
    env.run(&["validate"])
        .expect(0)
        .stdout_has(&format!("({n} nodes,"));
}

#[test]
fn sixteen_concurrent_writers_leave_a_valid_tree() {
    let n = 200;
    let env = Env::new(&synthetic::description(n));
    env.run(&["-q", "render"]).expect(0);
    let jobs: [&[&str]; 8] = [
        &["reimage", "--all"],
        &["boot-normal", "--all"],
        &["reset", "--all"],
        &["render"],
        &["rescue", "n000[000-099]"],
        &["boot", "--profile", "install", "--group", "rack1"],
        &["reset", "--all", "--older-than", "1s"],
        &["boot-normal", "n000[050-150]"],
    ];
    let children: Vec<(usize, Child)> = (0..16)
        .map(|i| (i, spawn(&env, jobs[i % jobs.len()])))
        .collect();
    for (i, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "job {i} {:?}: {}",
            jobs[i % jobs.len()],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let temps = assert_links_valid(&env.at("/srv/public/pxe"), n);
    assert_eq!(temps, 0, "temporaries left behind");
    assert!(assert_journal_parses(&env) > 0);
    env.run(&["status"]).expect(0);
}

#[test]
fn sigkill_during_reimage_all_never_leaves_an_entry_of_any_loader_invalid() {
    let n = 10_000;
    // Every node has three entries: pxelinux's, GRUB's and iPXE's.
    let loaders = [Loader::Pxelinux, Loader::Grub, Loader::Ipxe];
    let text = synthetic::description(n).replace(
        "nodes:\n",
        "loaders: {clients: [bios, efi-x64, http-x64]}\nnodes:\n",
    );
    let env = Env::new(&text);
    env.run(&["-q", "render"]).expect(0);
    let pxe = &env.at("/srv/public/pxe");
    let mut kills_mid_run = 0;
    for round in 0..8 {
        let command = if round % 2 == 0 {
            "reimage"
        } else {
            "boot-normal"
        };
        let mut child = spawn(&env, &[command, "--all"]);
        std::thread::sleep(Duration::from_millis(100 + random() % 1400));
        let finished = child.try_wait().unwrap().is_some();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        );
        child.wait().unwrap();
        kills_mid_run += usize::from(!finished);
        for loader in loaders {
            assert_entries_valid(pxe, loader, n);
        }
        assert_journal_parses(&env);
    }
    assert!(kills_mid_run > 0, "no kill landed while pxectl ran");
    // The next run cleans up whatever the kills left and finishes the job: no node is left
    // with entries that disagree.
    env.run(&["-q", "boot-normal", "--all"]).expect(0);
    for loader in loaders {
        assert_eq!(
            assert_entries_valid(pxe, loader, n),
            0,
            "temporaries left after a full run"
        );
    }
    for i in (0..n).step_by(997) {
        let mac = MacAddr::from_pxelinux_name(&synthetic::link_name(i)).unwrap();
        for loader in loaders {
            let link = pxe.join(loader.dir()).join(loader.entry(mac));
            assert_eq!(
                fs::read_link(link).unwrap(),
                Path::new(&loader.file("local"))
            );
        }
    }
    env.run(&["-q", "status"]).expect(0);
}

/// Reads `link` through in a loop until `stop`; returns how many reads found nothing.
fn reader(
    link: std::path::PathBuf,
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut missing = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = fs::read(&link) {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
                missing += 1;
            }
            reads.fetch_add(1, Ordering::Relaxed);
        }
        missing
    })
}

#[test]
fn a_reader_never_finds_a_link_missing_during_a_thousand_flips() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("local"), "normal").unwrap();
    fs::write(dir.path().join("install"), "installer").unwrap();
    let link = dir.path().join("01-02-00-00-00-00-01");
    std::os::unix::fs::symlink("local", &link).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let handle = reader(link.clone(), stop.clone(), reads.clone());
    for i in 0..1000 {
        pxectl::atomic::replace_link(&link, if i % 2 == 0 { "install" } else { "local" }).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        handle.join().unwrap(),
        0,
        "the link was missing for some reads"
    );
    assert!(
        reads.load(Ordering::Relaxed) > 1000,
        "the reader barely ran"
    );
}

#[test]
fn a_reader_never_finds_a_link_missing_while_the_binary_flips_it() {
    let env = Env::new(&synthetic::description(3));
    env.run(&["-q", "render"]).expect(0);
    let link = env.pxe(&synthetic::link_name(1));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let handle = reader(link, stop.clone(), reads.clone());
    let mut seen = HashSet::new();
    for i in 0..40 {
        let command = if i % 2 == 0 { "reimage" } else { "boot-normal" };
        env.run(&["-q", command, "n000001"]).expect(0);
        seen.insert(fs::read_link(env.pxe(&synthetic::link_name(1))).unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        handle.join().unwrap(),
        0,
        "the link was missing for some reads"
    );
    assert_eq!(seen.len(), 2, "the link did not flip");
}
