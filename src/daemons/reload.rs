//! Reloading exactly what a change needs, only on running daemons, and putting the previous
//! files back when a running daemon refuses them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{find_binary, output_text, run_with_timeout};
use crate::atomic;
use crate::cluster::{Daemon, Daemons, Reload};
use crate::plan::FileKind;
use crate::tree::{Change, Old};

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
    /// Why the change needs it; none when an operator asked for it (`pxectl reload`).
    pub why: Option<&'static str>,
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
            why: Some("dnsmasq.conf changed, and SIGHUP does not re-read it"),
            files: conf.into_iter().chain(hosts).collect(),
        });
    } else if !hosts.is_empty() {
        needs.push(Need {
            daemon: "dnsmasq",
            action: Action::Reload,
            why: Some(
                "only DHCP reservations changed, in the hosts file dnsmasq re-reads on SIGHUP",
            ),
            files: hosts,
        });
    }
    let nginx = files_of(FileKind::NginxConf);
    if !nginx.is_empty() {
        needs.push(Need {
            daemon: "nginx",
            action: Action::Reload,
            why: Some(
                "nginx.conf changed (on SIGHUP nginx keeps its old config if the new one is bad)",
            ),
            files: nginx,
        });
    }
    needs
}

/// Whether pxectl may act on this machine's running daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It may: no `--root`, or `--live-daemons`.
    Live,
    /// Under `--root` the files are staged, not what the daemons here run: they are left alone.
    Staged,
}

impl Reach {
    /// `Live` unless the tree of `layout` is staged under `--root` and `--live-daemons` was
    /// not given.
    pub fn new(layout: &crate::layout::Layout, live_daemons: bool) -> Self {
        if layout.staging() && !live_daemons {
            Self::Staged
        } else {
            Self::Live
        }
    }
}

/// What became of one daemon's reload or restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: how (the command line, or the signal and pid).
    Done(String),
    /// Left alone ([`Reach::Staged`]).
    Skipped,
    /// Not done: why, what became of the files, and what to do.
    Failed(String),
}

/// Each daemon acted on, in order, with what became of it.
#[derive(Debug)]
pub struct Reloads {
    pub each: Vec<(Need, Outcome)>,
    /// Why nothing was needed, when nothing was.
    pub none_needed: Option<&'static str>,
}

impl Reloads {
    /// Whether a daemon was left alone under `--root`.
    pub fn skipped(&self) -> bool {
        self.each.iter().any(|(_, o)| *o == Outcome::Skipped)
    }

    /// Every failure, together, as one error (exit 3); `Ok` when there is none.
    pub fn result(&self) -> Result<()> {
        let failures: Vec<&str> = self
            .each
            .iter()
            .filter_map(|(_, o)| match o {
                Outcome::Failed(why) => Some(why.as_str()),
                Outcome::Done(_) | Outcome::Skipped => None,
            })
            .collect();
        if !failures.is_empty() {
            bail!("{}", failures.join("\n"));
        }
        Ok(())
    }
}

/// Reloads or restarts what the applied `changes` need (`pxectl apply`). When a running daemon
/// refuses them, its previous files are put back and it is reloaded or restarted on them again.
pub fn reload_after(daemons: &Daemons, changes: &[Change], reach: Reach) -> Result<Reloads> {
    let needs = needed(changes);
    if needs.is_empty() {
        return Ok(Reloads {
            each: Vec::new(),
            none_needed: Some(if changes.is_empty() {
                "nothing changed"
            } else {
                "only pxelinux.cfg/ changed, and TFTP reads its files on every request"
            }),
        });
    }
    act(daemons, needs, changes, reach)
}

/// Reloads or restarts the daemon named `name`, or both (`pxectl reload`).
pub fn reload_asked(
    daemons: &Daemons,
    name: Option<&str>,
    action: Action,
    reach: Reach,
) -> Result<Reloads> {
    let needs = daemons
        .all()
        .into_iter()
        .filter(|d| name.is_none_or(|n| n == d.name))
        .map(|d| Need {
            daemon: d.name,
            action,
            why: None,
            files: Vec::new(),
        })
        .collect();
    act(daemons, needs, &[], reach)
}

/// Carries out `needs` in turn; a failure does not stop the others.
fn act(daemons: &Daemons, needs: Vec<Need>, changes: &[Change], reach: Reach) -> Result<Reloads> {
    let mut each = Vec::new();
    for need in needs {
        let daemon = daemons
            .named(need.daemon)
            .with_context(|| format!("no daemon is named `{}`", need.daemon))?;
        let outcome = match reach {
            Reach::Staged => Outcome::Skipped,
            Reach::Live => act_on(daemon, &need, changes, daemons.timeout),
        };
        each.push((need, outcome));
    }
    Ok(Reloads {
        each,
        none_needed: None,
    })
}

/// Whether a daemon runs.
enum State {
    Running,
    /// Not running; what says so.
    Stopped(String),
    /// Its reload method cannot tell (`command`).
    Unknown,
}

/// Reloads or restarts `daemon` if it runs. Only a running daemon's refusal puts the previous
/// files back: a stopped one has nothing to refuse, and its new files are what it will start on.
fn act_on(daemon: &Daemon, need: &Need, changes: &[Change], timeout: Duration) -> Outcome {
    let (verb, name) = (need.action.verb(), daemon.name);
    let kept = if need.files.is_empty() {
        ""
    } else {
        "; the new files are in place and nothing was removed"
    };
    match state(daemon, timeout) {
        Err(e) => return Outcome::Failed(format!("cannot {verb} {name}: {e:#}{kept}")),
        Ok(State::Stopped(evidence)) => {
            let start = match &daemon.reload {
                Reload::Systemd(unit) => format!("start it with `systemctl start {unit}`"),
                Reload::PidFile {
                    start: Some(argv), ..
                } => format!("start it with `{}`", argv.join(" ")),
                Reload::PidFile { start: None, .. } | Reload::Command { .. } => format!(
                    "start it (no command is known: `daemons.{name}.reload.pid_file.start` is not set)"
                ),
            };
            return Outcome::Failed(format!(
                "{name} is not running ({evidence}), so it was not {verb}ed{kept}; {start}"
            ));
        }
        Ok(State::Running | State::Unknown) => {}
    }
    let first = match perform(daemon, need.action, timeout) {
        Ok(how) => return Outcome::Done(how),
        Err(e) => e,
    };
    if need.files.is_empty() {
        return Outcome::Failed(format!("cannot {verb} {name}: {first:#}"));
    }
    let restored = restore(changes, &need.files);
    let again = match &restored {
        Ok(()) => perform(daemon, need.action, timeout).map_err(|e| format!("{e:#}")),
        Err(e) => Err(format!("not tried: {e:#}")),
    };
    let restored = match restored {
        Ok(()) => "the previous files were restored".to_string(),
        Err(e) => format!("restoring the previous files failed: {e:#}"),
    };
    let again = match again {
        Ok(how) => format!("{verb} on the previous files succeeded ({how})"),
        Err(e) => format!("{verb} on the previous files failed too: {e}"),
    };
    Outcome::Failed(format!(
        "cannot {verb} {name}: {first:#}; {restored}; {again}"
    ))
}

/// Whether `daemon` runs, asked the way its reload method reaches it.
fn state(daemon: &Daemon, timeout: Duration) -> Result<State> {
    match &daemon.reload {
        Reload::Systemd(unit) => {
            let systemctl = systemctl(daemon)?;
            let mut cmd = Command::new(&systemctl);
            cmd.args(["is-active", "--", unit]);
            let shown = format!("`systemctl is-active {unit}`");
            let out = run_with_timeout(cmd, timeout, &shown)?;
            match String::from_utf8_lossy(&out.stdout).trim() {
                "active" | "reloading" | "activating" | "refreshing" => Ok(State::Running),
                s @ ("inactive" | "failed" | "deactivating") => {
                    Ok(State::Stopped(format!("{shown}: {s}")))
                }
                _ => bail!(
                    "{shown} cannot tell whether it runs: {}; if systemd does not run it, set `daemons.{}.reload` to `pid_file` or `command` (docs/daemons.md)",
                    output_text(&out),
                    daemon.name
                ),
            }
        }
        Reload::PidFile { path, .. } => Ok(match running_pid(daemon, path)? {
            Some(_) => State::Running,
            None => State::Stopped(format!(
                "the pid file `{}` is missing or stale",
                path.display()
            )),
        }),
        Reload::Command { .. } => Ok(State::Unknown),
    }
}

fn systemctl(daemon: &Daemon) -> Result<PathBuf> {
    find_binary("systemctl").with_context(|| {
        format!(
            "`systemctl` is not available here; set `daemons.{}.reload` to `pid_file` or `command` (docs/daemons.md)",
            daemon.name
        )
    })
}

/// Puts back the files `files` had before `changes` (removing the new ones).
fn restore(changes: &[Change], files: &[PathBuf]) -> Result<()> {
    for change in changes {
        let Change::WriteFile { dest, old, .. } = change else {
            continue;
        };
        if !files.contains(dest) {
            continue;
        }
        match old {
            Old::File { bytes, mode } => atomic::write_file(dest, bytes, *mode)?,
            Old::Link(target) => atomic::replace_link(dest, &target.to_string_lossy())?,
            Old::Nothing => std::fs::remove_file(dest)
                .with_context(|| format!("cannot remove `{}`", dest.display()))?,
        }
    }
    Ok(())
}

/// Reloads or restarts `daemon`; returns what was done, for the output.
fn perform(daemon: &Daemon, action: Action, timeout: Duration) -> Result<String> {
    match &daemon.reload {
        Reload::Systemd(unit) => {
            let systemctl = systemctl(daemon)?;
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

    fn write(kind: FileKind) -> Change {
        Change::WriteFile {
            path: PathBuf::from("/x"),
            dest: PathBuf::from("/x"),
            contents: String::new(),
            mode: 0o644,
            old: Old::Nothing,
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
}
