//! The test harness: a temp dir with a description and an output root, the real binary, and
//! tree comparisons that show what differs.

#![allow(dead_code)]

pub mod synthetic;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Path of a file in the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A scratch folder holding `cluster.yaml` and an output root `out/`.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    /// An environment whose description is `yaml`.
    pub fn new(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("cluster.yaml"), yaml).expect("write description");
        fs::create_dir(dir.path().join("out")).expect("create root");
        Self { dir }
    }

    /// An environment whose description is a copy of `examples/<name>.yaml`.
    pub fn example(name: &str) -> Self {
        Self::new(&fs::read_to_string(repo(&format!("examples/{name}.yaml"))).expect("example"))
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("cluster.yaml")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Path of a real boot-server path inside the output root.
    pub fn at(&self, real: &str) -> PathBuf {
        self.root().join(real.trim_start_matches('/'))
    }

    /// The per-MAC link folder of the default layout.
    pub fn pxe(&self, name: &str) -> PathBuf {
        self.at("/srv/public/pxe/pxelinux.cfg").join(name)
    }

    pub fn write_config(&self, yaml: &str) {
        fs::write(self.config(), yaml).expect("write description");
    }

    /// `pxectl --config cluster.yaml --root out ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args, true).output().expect("run pxectl"))
    }

    /// The command `pxectl --config cluster.yaml [--root out] ARGS`, without this machine's
    /// pxectl variables.
    pub fn command(&self, args: &[&str], root: bool) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pxectl"));
        cmd.arg("--config").arg(self.config());
        if root {
            cmd.arg("--root").arg(self.root());
        }
        cmd.args(args)
            .env_remove("PXECTL_CONFIG")
            .env_remove("PXECTL_ROOT")
            .env_remove("PXECTL_TEMPLATES");
        cmd
    }
}

/// Whether a test's prerequisite holds. When it does not, the test is skipped with the reason
/// printed (to the real stderr, past the harness's capture) — or, under `CI=true`, it fails.
#[track_caller]
pub fn prerequisite(ok: bool, what: &str) -> bool {
    use std::io::Write as _;
    if ok {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "prerequisite missing under CI=true: {what}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipped {}: {what}",
        std::thread::current().name().unwrap_or("test")
    );
    false
}

/// Stops a daemon by the pid in its pid file when dropped, even when the test fails.
pub struct StopByPidFile(pub PathBuf);

impl Drop for StopByPidFile {
    fn drop(&mut self) {
        if let Some(pid) = fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            for _ in 0..500 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// Starts nginx on the rendered config `conf`, with its pid file and error log in `scratch`;
/// the guard stops it by pid.
pub fn start_nginx(conf: &Path, scratch: &Path) -> StopByPidFile {
    let pid_file = scratch.join("nginx.pid");
    let guard = StopByPidFile(pid_file.clone());
    let status = std::process::Command::new(pxectl::daemons::find_binary("nginx").expect("nginx"))
        .arg("-c")
        .arg(conf)
        .arg("-g")
        .arg(format!(
            "pid {}; error_log {}/error.log;",
            pid_file.display(),
            scratch.display()
        ))
        .status()
        .expect("run nginx");
    assert!(
        status.success(),
        "nginx did not start: {}",
        fs::read_to_string(scratch.join("error.log")).unwrap_or_default()
    );
    guard
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether `program` is installed.
pub fn have(program: &str) -> bool {
    pxectl::daemons::find_binary(program).is_some()
}

impl Env {
    /// `pxectl --config cluster.yaml ARGS`, without `--root`: for descriptions whose paths are
    /// already inside the scratch folder.
    pub fn run_live(&self, args: &[&str]) -> Run {
        Run(self.command(args, false).output().expect("run pxectl"))
    }
}

/// A finished run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts the exit status, showing both streams when it is not `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr()
        );
        self
    }
}

/// One entry of a tree as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File { bytes: Vec<u8>, mode: u32 },
    Link(PathBuf),
}

/// Every entry below `dir`, by relative path, never following links.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Node> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.expect("walk");
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            let node = if e.path_is_symlink() {
                Node::Link(fs::read_link(e.path()).unwrap())
            } else if e.file_type().is_dir() {
                Node::Dir
            } else {
                let m = e.metadata().unwrap();
                Node::File {
                    bytes: fs::read(e.path()).unwrap(),
                    mode: m.mode() & 0o7777,
                }
            };
            (rel, node)
        })
        .collect()
}

/// Identity of every entry (inode, mtime in ns), to prove nothing was rewritten. pxectl's
/// state folder is left out: its lock file records the holder's pid on every locked run.
pub fn identities(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter(|e| {
            !e.as_ref()
                .is_ok_and(|e| e.path().starts_with(dir.join("var/lib/pxectl")))
        })
        .map(|e| {
            let e = e.expect("walk");
            let m = fs::symlink_metadata(e.path()).unwrap();
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                (m.ino(), m.mtime(), m.mtime_nsec()),
            )
        })
        .collect()
}

/// Asserts two trees hold the same entries, bytes and link targets (modes are not compared:
/// git keeps only 644 and 755), listing every difference.
#[track_caller]
pub fn assert_same_tree(actual: &Path, expected: &Path) {
    let strip = |t: BTreeMap<PathBuf, Node>| -> BTreeMap<PathBuf, Node> {
        t.into_iter()
            .map(|(p, n)| match n {
                Node::File { bytes, .. } => (p, Node::File { bytes, mode: 0 }),
                other => (p, other),
            })
            .collect()
    };
    let a = strip(tree(actual));
    let e = strip(tree(expected));
    let mut problems = Vec::new();
    for (path, want) in &e {
        match a.get(path) {
            None => problems.push(format!("missing: {}", path.display())),
            Some(got) if got != want => {
                let show = |n: &Node| match n {
                    Node::File { bytes, .. } => {
                        format!("file:\n{}", String::from_utf8_lossy(bytes))
                    }
                    other => format!("{other:?}"),
                };
                problems.push(format!(
                    "differs: {}\n--- expected {}\n--- got {}",
                    path.display(),
                    show(want),
                    show(got)
                ));
            }
            Some(_) => {}
        }
    }
    for path in a.keys().filter(|p| !e.contains_key(*p)) {
        problems.push(format!("unexpected: {}", path.display()));
    }
    assert!(
        problems.is_empty(),
        "trees differ:\n{}",
        problems.join("\n")
    );
}
