//! The test harness: a temp dir with a description and an output root, the real binary, whole
//! outputs compared with temp paths as placeholders, and comparisons that show what differs.

#![allow(dead_code)]

pub mod boot;
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

    /// The portacluster example, rendered.
    #[track_caller]
    pub fn rendered() -> Self {
        let env = Self::example("portacluster");
        env.run(&["render"]).expect(0);
        env
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

    /// Sets the mtime of every link in the per-MAC link folder to [`PINNED_TIME`], so that
    /// `status` (its SINCE column) prints the same on every run.
    pub fn pin_link_times(&self) {
        for entry in fs::read_dir(self.pxe("")).expect("read the link folder") {
            let path = entry.expect("read the link folder").path();
            if path
                .symlink_metadata()
                .expect("stat")
                .file_type()
                .is_symlink()
            {
                set_mtime(&path, PINNED_TIME);
            }
        }
    }

    /// Writes the template `tpl/NAME` (making the folder when missing); returns the folder.
    #[track_caller]
    pub fn template(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let tpl = self.dir.path().join("tpl");
        fs::create_dir_all(&tpl).expect("create the template folder");
        fs::write(tpl.join(name), text).expect("write a template");
        tpl
    }

    pub fn write_config(&self, yaml: &str) {
        fs::write(self.config(), yaml).expect("write description");
    }

    /// `pxectl --config cluster.yaml --root out ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.finish(&mut self.command(args, true))
    }

    /// Runs `cmd` to the end; its output names the output root `<root>` and the scratch
    /// folder `<dir>` when compared whole.
    pub fn finish(&self, cmd: &mut Command) -> Run {
        Run {
            output: cmd.output().expect("run pxectl"),
            placeholders: vec![
                (self.root(), "<root>"),
                (self.dir.path().to_path_buf(), "<dir>"),
            ],
            times: false,
        }
    }

    /// The command `pxectl --config cluster.yaml [--root out] ARGS`, without this machine's
    /// pxectl variables, as user `tester` by `SUDO_USER` (the journal records who switched).
    pub fn command(&self, args: &[&str], root: bool) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pxectl"));
        cmd.arg("--config").arg(self.config());
        if root {
            cmd.arg("--root").arg(self.root());
        }
        cmd.args(args)
            .env_remove("PXECTL_CONFIG")
            .env_remove("PXECTL_ROOT")
            .env_remove("PXECTL_TEMPLATES")
            .env("SUDO_USER", "tester");
        cmd
    }
}

/// Replaces the file or link at `path` with a link to `target`.
#[track_caller]
pub fn relink(path: impl AsRef<Path>, target: impl AsRef<Path>) {
    fs::remove_file(&path).expect("remove a file to relink");
    std::os::unix::fs::symlink(target, path).expect("create a link");
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
            eventually(5, || !Path::new(&format!("/proc/{pid}")).exists());
        }
    }
}

/// Runs `cmd`, asserting that it succeeds (its stderr shown when not): its output.
#[track_caller]
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls `cond` every 20 ms for up to `secs` seconds: whether it came to hold.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// Copies this machine's `/etc/nginx/mime.types` to `etc/nginx/` under `base`: nginx.conf
/// includes it from its own folder, and nginx loads the whole list, as on a real host.
#[track_caller]
pub fn copy_mime_types(base: &Path) {
    fs::create_dir_all(base.join("etc/nginx")).expect("create nginx's folder");
    fs::copy("/etc/nginx/mime.types", base.join("etc/nginx/mime.types"))
        .expect("copy nginx's mime.types (nginx is installed)");
}

/// Starts nginx on the rendered config `conf`, with its pid file and error log in `scratch`;
/// the guard stops it by pid.
pub fn start_nginx(conf: &Path, scratch: &Path) -> StopByPidFile {
    start_nginx_in(None, conf, scratch)
}

/// As [`start_nginx`], inside the network namespace `netns` when given; there its workers run
/// as root, to read files in the temp dir they serve.
pub fn start_nginx_in(netns: Option<&str>, conf: &Path, scratch: &Path) -> StopByPidFile {
    let pid_file = scratch.join("nginx.pid");
    let guard = StopByPidFile(pid_file.clone());
    let nginx = pxectl::daemons::find_binary("nginx").expect("nginx");
    let mut cmd = match netns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns]).arg(nginx);
            cmd
        }
        None => Command::new(nginx),
    };
    let status = cmd
        .arg("-c")
        .arg(conf)
        .arg("-g")
        .arg(format!(
            "pid {}; error_log {}/error.log;{}",
            pid_file.display(),
            scratch.display(),
            if netns.is_some() { " user root;" } else { "" }
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

/// Whether dnsmasq and nginx are here to verify rendered configs (render prints their
/// verdicts, so whole-output tests of render need them); under `CI=true` their absence fails.
#[track_caller]
pub fn verifiers() -> bool {
    prerequisite(
        have("dnsmasq") && have("nginx"),
        "dnsmasq and nginx verify rendered configs (`bash scripts/test` installs them)",
    )
}

/// The line render prints when `daemon` (`dnsmasq`, `nginx`) accepted the config it renders
/// at `real`.
pub fn verified(real: &str, daemon: &str) -> String {
    let binary = pxectl::daemons::find_binary(daemon).expect("installed");
    let flag = if daemon == "nginx" { "-t" } else { "--test" };
    format!("verify <root>{real} (`{} {flag}`: ok)\n", binary.display())
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
        self.finish(&mut self.command(args, false))
    }
}

/// A finished run of the binary.
pub struct Run {
    pub output: Output,
    /// Temp paths and the placeholders that stand for them in whole-output comparisons.
    placeholders: Vec<(PathBuf, &'static str)>,
    /// Whether whole-output comparisons print UTC times (`2026-01-02T03:04:05Z`) as `<time>`.
    times: bool,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Its stdout, parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout()).expect("stdout is JSON")
    }

    /// Whole-output comparisons of this run print UTC times as `<time>`: for output that
    /// shows when something happened (`log`).
    pub fn with_times(mut self) -> Self {
        self.times = true;
        self
    }

    /// `text` with each temp path replaced by its placeholder (`<root>`, `<dir>`), and times
    /// by `<time>` after [`Run::with_times`].
    pub fn placeholders(&self, text: &str) -> String {
        let text = self
            .placeholders
            .iter()
            .fold(text.to_string(), |text, (path, placeholder)| {
                text.replace(&*path.to_string_lossy(), placeholder)
            });
        if self.times {
            placeholder_times(&text)
        } else {
            text
        }
    }

    /// Asserts the whole stdout, temp paths replaced by placeholders, is `expected`.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_text("stdout", &self.placeholders(&self.stdout()), expected);
        self
    }

    /// Asserts the whole stderr, temp paths replaced by placeholders, is `expected`.
    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Self {
        assert_text("stderr", &self.placeholders(&self.stderr()), expected);
        self
    }

    /// Asserts exit status 0, `expected` as the whole stdout and nothing on stderr.
    #[track_caller]
    pub fn succeeds_with(&self, expected: &str) -> &Self {
        self.expect(0).stdout_is(expected).stderr_is("")
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

/// Asserts `actual` is `expected`, showing a unified diff (expected -> actual) when not.
#[track_caller]
pub fn assert_text(what: &str, actual: &str, expected: &str) {
    if actual != expected {
        let diff = similar::TextDiff::from_lines(expected, actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!("{what} differs from the expected text:\n{diff}\n--- whole {what}\n{actual}");
    }
}

/// `text` with every UTC time of the form `2026-01-02T03:04:05Z` replaced by `<time>`.
pub fn placeholder_times(text: &str) -> String {
    const LEN: usize = "2026-01-02T03:04:05Z".len();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let stamp = rest
            .get(..LEN)
            .filter(|s| s.as_bytes()[LEN - 1] == b'Z' && humantime::parse_rfc3339(s).is_ok());
        if let Some(stamp) = stamp {
            out.push_str("<time>");
            rest = &rest[stamp.len()..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The time [`Env::pin_link_times`] gives links.
pub const PINNED_TIME: &str = "2026-01-02T03:04:05Z";

/// Sets the own mtime of `path` (a link is not followed) to `time`, e.g.
/// `2026-01-02T03:04:05Z`, so outputs that show it are the same on every run.
pub fn set_mtime(path: &Path, time: &str) {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    let secs = humantime::parse_rfc3339(time)
        .expect("an RFC 3339 time")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let ts = nix::sys::time::TimeSpec::new(i64::try_from(secs).expect("fits"), 0);
    utimensat(None, path, &ts, &ts, UtimensatFlags::NoFollowSymlink).expect("set mtime");
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

/// A lock file held by another program in a process of its own (`flock` from util-linux): a
/// lock this test process took would be shared with every child that the other tests'
/// threads fork meanwhile.
pub struct HeldLock(std::process::Child);

impl HeldLock {
    /// Holds `path` until released or dropped.
    pub fn at(path: &Path) -> Self {
        use std::process::Stdio;
        let mut holder = Self(
            Command::new("flock")
                .args(["--exclusive", "--close"])
                .arg(path)
                .args(["sh", "-c", "echo locked; read end"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("util-linux flock"),
        );
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.0.stdout.take().expect("piped")),
            &mut line,
        )
        .expect("read flock's line");
        assert_eq!(line, "locked\n");
        holder
    }

    /// The pid of the `flock` process, which holds the lock.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Closing its input ends the shell, and with it flock and the lock.
    pub fn release(mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child killed and reaped when dropped, so a failed assertion leaves no process behind.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// The child's stdout lines as they come, each through `map`, read on a thread.
    pub fn stdout_lines(&mut self, map: fn(&str) -> String) -> std::sync::mpsc::Receiver<String> {
        use std::io::BufRead as _;
        let stdout = self.0.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(map(&line.unwrap())).is_err() {
                    break;
                }
            }
        });
        rx
    }
}
