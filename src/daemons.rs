//! dnsmasq and nginx: testing a candidate config with the real program before it is installed,
//! and reloading exactly what a change needs (docs/daemons.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cluster::{Daemon, Reload};
use crate::plan::FileKind;
use crate::tree::Change;

/// A candidate config the daemon itself refused: nothing was replaced.
#[derive(Debug, thiserror::Error)]
#[error("{daemon} refused the rendered `{file}`; nothing was replaced:\n{output}")]
pub struct VerifyFailed {
    pub daemon: &'static str,
    pub file: String,
    pub output: String,
}

/// Finds `binary`: an absolute path as is, else in `PATH`, then `/usr/sbin` and `/sbin`.
pub fn find_binary(binary: &str) -> Option<PathBuf> {
    if binary.starts_with('/') {
        return Path::new(binary).is_file().then(|| PathBuf::from(binary));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
}

/// Runs `cmd` in a process group of its own, output to scratch files (so a background
/// grandchild holding them cannot hold pxectl up, and no pipe can fill); the whole group is
/// killed when it outlives `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration, what: &str) -> Result<Output> {
    use std::io::{Read as _, Seek as _};
    use std::os::unix::process::CommandExt as _;
    let mut stdout = tempfile::tempfile().context("cannot create a scratch file")?;
    let mut stderr = tempfile::tempfile().context("cannot create a scratch file")?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().context("cannot create a scratch file")?)
        .stderr(stderr.try_clone().context("cannot create a scratch file")?)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("cannot wait for {what}"))?
        {
            break status;
        }
        if start.elapsed() >= timeout {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{what} did not finish within {}; it was killed (raise `daemons.timeout` if it is only slow)",
                humantime::format_duration(timeout)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |f: &mut std::fs::File| -> Vec<u8> {
        let mut v = Vec::new();
        let _ = f
            .rewind()
            .and_then(|()| f.take(1 << 20).read_to_end(&mut v));
        v
    };
    Ok(Output {
        status,
        stdout: read(&mut stdout),
        stderr: read(&mut stderr),
    })
}

fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stdout.trim());
    }
    text
}

/// What a verification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The daemon accepted the candidate; the command line used.
    Passed(String),
    /// The program is not installed here: not verified.
    NotInstalled,
    /// Run as another user than root, the program could not open files the config names
    /// (nginx's logs): the syntax was read, the rest not verified. Its message.
    NoPermission(String),
}

/// Tests `contents`, a candidate for the daemon's config at real path `real` (`host` on this
/// machine), with the real
/// program. nginx gets the candidate in a scratch folder beside links to the files of the
/// config's own folder (so `include mime.types` resolves as it will when installed).
pub fn verify(
    daemon: &Daemon,
    kind: FileKind,
    contents: &str,
    real: &Path,
    host: &Path,
    timeout: Duration,
) -> Result<Verified> {
    if !matches!(kind, FileKind::DnsmasqConf | FileKind::NginxConf) {
        return Ok(Verified::Passed(String::new()));
    }
    let Some(binary) = find_binary(&daemon.binary) else {
        return Ok(Verified::NotInstalled);
    };
    let scratch = tempfile::Builder::new()
        .prefix("pxectl-verify.")
        .tempdir()
        .context("cannot create a scratch folder to test the config in")?;
    let name = real.file_name().unwrap_or_default();
    let candidate = scratch.path().join(name);
    std::fs::write(&candidate, contents)
        .with_context(|| format!("cannot write `{}`", candidate.display()))?;
    let mut cmd = Command::new(&binary);
    let shown = match kind {
        FileKind::DnsmasqConf => {
            cmd.arg("--test").arg("-C").arg(&candidate);
            format!("{} --test", binary.display())
        }
        FileKind::NginxConf => {
            let dirs = [
                host.parent().map(Path::to_path_buf),
                real.parent().map(Path::to_path_buf),
            ];
            for dir in dirs.iter().flatten() {
                link_siblings(dir, name, scratch.path());
            }
            cmd.args(["-t", "-q", "-e", "stderr", "-p"])
                .arg(scratch.path())
                .arg("-c")
                .arg(&candidate);
            // Keep the test away from the live pid file (/run/nginx.pid), unless the config names one.
            if !contents.lines().any(|l| l.trim_start().starts_with("pid ")) {
                cmd.arg("-g").arg(format!(
                    "pid {};",
                    scratch.path().join("nginx.pid").display()
                ));
            }
            format!("{} -t", binary.display())
        }
        FileKind::DhcpHosts | FileKind::Profile => unreachable!("returned above"),
    };
    let out = run_with_timeout(cmd, timeout, &format!("`{shown}`"))?;
    if out.status.success() {
        return Ok(Verified::Passed(shown));
    }
    let text = output_text(&out);
    // As another user than root, nginx -t cannot open the logs root's nginx writes: that says
    // nothing about the config, which it parsed.
    if kind == FileKind::NginxConf
        && !nix::unistd::geteuid().is_root()
        && text.contains("(13: Permission denied)")
    {
        return Ok(Verified::NoPermission(text));
    }
    Err(VerifyFailed {
        daemon: daemon.name,
        file: real.display().to_string(),
        output: text.replace(
            &candidate.display().to_string(),
            &real.display().to_string(),
        ),
    }
    .into())
}

/// Links every entry of `dir` but `except` into `into`, first come first served.
fn link_siblings(dir: &Path, except: &std::ffi::OsStr, into: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name != except && !into.join(&name).exists() {
            let _ = std::os::unix::fs::symlink(entry.path(), into.join(&name));
        }
    }
}

/// Reload or restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reload,
    Restart,
}

impl Action {
    /// `reload` or `restart`.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Reload => "reload",
            Self::Restart => "restart",
        }
    }
}

/// What one daemon needs after a change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `dnsmasq` or `nginx`.
    pub daemon: &'static str,
    pub action: Action,
    pub why: &'static str,
    /// The changed files of that daemon (paths on this machine), for restoring them.
    pub files: Vec<PathBuf>,
}

/// The reload rules: what `changes` need from each daemon (docs/daemons.md).
pub fn needed(changes: &[Change]) -> Vec<Need> {
    let files_of = |kind: FileKind| -> Vec<PathBuf> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::WriteFile { dest, kind: k, .. } if *k == kind => Some(dest.clone()),
                _ => None,
            })
            .collect()
    };
    let mut needs = Vec::new();
    let conf = files_of(FileKind::DnsmasqConf);
    let hosts = files_of(FileKind::DhcpHosts);
    if !conf.is_empty() {
        needs.push(Need {
            daemon: "dnsmasq",
            action: Action::Restart,
            why: "dnsmasq.conf changed, and SIGHUP does not re-read it",
            files: conf.into_iter().chain(hosts).collect(),
        });
    } else if !hosts.is_empty() {
        needs.push(Need {
            daemon: "dnsmasq",
            action: Action::Reload,
            why: "only DHCP reservations changed, in the hosts file dnsmasq re-reads on SIGHUP",
            files: hosts,
        });
    }
    let nginx = files_of(FileKind::NginxConf);
    if !nginx.is_empty() {
        needs.push(Need {
            daemon: "nginx",
            action: Action::Reload,
            why: "nginx.conf changed (on SIGHUP nginx keeps its old config if the new one is bad)",
            files: nginx,
        });
    }
    needs
}

/// Reloads or restarts `daemon`; returns what was done, for the output.
pub fn perform(daemon: &Daemon, action: Action, timeout: Duration) -> Result<String> {
    match &daemon.reload {
        Reload::Systemd(unit) => {
            let systemctl = find_binary("systemctl")
                .with_context(|| format!("`systemctl` is not available here; set `daemons.{}.reload` to `pid_file` or `command` (docs/daemons.md)", daemon.name))?;
            let mut cmd = Command::new(&systemctl);
            cmd.arg(action.verb()).arg("--").arg(unit);
            let shown = format!("systemctl {} {unit}", action.verb());
            let out = run_with_timeout(cmd, timeout, &format!("`{shown}`"))?;
            if !out.status.success() {
                bail!(
                    "`{shown}` failed: {}; see `systemctl status {unit}`",
                    output_text(&out)
                );
            }
            Ok(shown)
        }
        Reload::PidFile { path, start } => {
            match action {
                Action::Reload => {
                    let pid = running_pid(daemon, path)?.with_context(|| {
                    format!("{} is not running (the pid file `{}` is missing or stale); start it first", daemon.name, path.display())
                })?;
                    kill(pid, Signal::SIGHUP).with_context(|| {
                        format!("cannot send SIGHUP to {} (pid {pid})", daemon.name)
                    })?;
                    Ok(format!("SIGHUP to pid {pid}"))
                }
                Action::Restart => {
                    let running = running_pid(daemon, path)?;
                    let start = start.as_ref().with_context(|| {
                    format!("cannot restart {}: `daemons.{}.reload.pid_file.start` says how to start it again", daemon.name, daemon.name)
                })?;
                    // A daemon that is already gone (a failed earlier restart, say) is just started.
                    let stopped = match running {
                        Some(pid) => {
                            kill(pid, Signal::SIGTERM).with_context(|| {
                                format!("cannot send SIGTERM to {} (pid {pid})", daemon.name)
                            })?;
                            let deadline = Instant::now() + timeout;
                            while alive(pid) && Instant::now() < deadline {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            if alive(pid) {
                                bail!(
                                    "{} (pid {pid}) did not stop within {} of SIGTERM",
                                    daemon.name,
                                    humantime::format_duration(timeout)
                                );
                            }
                            format!("SIGTERM to pid {pid}, then ")
                        }
                        None => String::new(),
                    };
                    run_argv(start, timeout)?;
                    Ok(format!("{stopped}`{}`", start.join(" ")))
                }
            }
        }
        Reload::Command { reload, restart } => {
            let argv = if action == Action::Reload {
                reload
            } else {
                restart
            };
            run_argv(argv, timeout)?;
            Ok(format!("`{}`", argv.join(" ")))
        }
    }
}

fn run_argv(argv: &[String], timeout: Duration) -> Result<()> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let shown = format!("`{}`", argv.join(" "));
    let out = run_with_timeout(cmd, timeout, &shown)?;
    if !out.status.success() {
        bail!("{shown} failed ({}): {}", out.status, output_text(&out));
    }
    Ok(())
}

/// Whether `pid` is a live process (a zombie is not).
fn alive(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `PID (COMM) S ...`.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The pid in `path`: `Some` when it names a running process of `daemon`'s program, `None`
/// when the daemon is not running (no pid file, or a stale one); an error when the file holds
/// no pid or names another program, which is never signalled.
fn running_pid(daemon: &Daemon, path: &Path) -> Result<Option<Pid>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the pid file `{}`", path.display()))
        }
    };
    let pid: i32 = text
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 1)
        .with_context(|| {
            format!(
                "the pid file `{}` does not hold a pid: `{}`",
                path.display(),
                text.trim()
            )
        })?;
    let pid = Pid::from_raw(pid);
    if !alive(pid) {
        return Ok(None);
    }
    let want = Path::new(&daemon.binary)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let exe_name = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|e| e.file_name().map(|n| n.to_string_lossy().into_owned()));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_default();
    // The kernel keeps 15 bytes of a command name.
    let comm_matches = !comm.is_empty() && comm == want.chars().take(15).collect::<String>();
    if exe_name.as_deref() != Some(want.as_str()) && !comm_matches {
        bail!(
            "the pid file `{}` names pid {pid}, which is `{}`, not {}; refusing to signal it (a stale pid file?)",
            path.display(),
            exe_name.unwrap_or(comm),
            daemon.name
        );
    }
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Why;

    fn write(kind: FileKind) -> Change {
        Change::WriteFile {
            path: PathBuf::from("/x"),
            dest: PathBuf::from("/x"),
            contents: String::new(),
            mode: 0o644,
            old: None,
            why: Why::Content,
            kind,
        }
    }

    fn actions(changes: &[Change]) -> Vec<(&'static str, Action)> {
        needed(changes)
            .iter()
            .map(|n| (n.daemon, n.action))
            .collect()
    }

    #[test]
    fn reload_rules() {
        assert_eq!(actions(&[]), []);
        assert_eq!(actions(&[write(FileKind::Profile)]), []);
        let link = Change::CreateLink {
            path: PathBuf::from("/l"),
            target: "a".into(),
            node: None,
        };
        assert_eq!(actions(&[link]), []);
        assert_eq!(
            actions(&[write(FileKind::DnsmasqConf)]),
            [("dnsmasq", Action::Restart)]
        );
        assert_eq!(
            actions(&[write(FileKind::DhcpHosts)]),
            [("dnsmasq", Action::Reload)]
        );
        assert_eq!(
            actions(&[write(FileKind::DhcpHosts), write(FileKind::DnsmasqConf)]),
            [("dnsmasq", Action::Restart)]
        );
        assert_eq!(
            actions(&[write(FileKind::NginxConf)]),
            [("nginx", Action::Reload)]
        );
    }

    #[test]
    fn a_background_grandchild_does_not_hold_pxectl_up() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 8 & echo started"]);
        let start = Instant::now();
        let out = run_with_timeout(cmd, Duration::from_secs(5), "`sh`").unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "started");
    }

    #[test]
    fn a_hung_command_and_its_children_are_killed() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30; true"]);
        let start = Instant::now();
        assert!(run_with_timeout(cmd, Duration::from_millis(200), "`sh`").is_err());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_hung_command_is_killed() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let start = Instant::now();
        let err = run_with_timeout(cmd, Duration::from_millis(200), "`sleep 30`")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
