//! dnsmasq and nginx: testing a candidate config with the real program before it is installed,
//! and reloading exactly what a change needs (docs/daemons.md).

mod reload;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

pub use reload::{needed, reload_after, reload_asked, Action, Need, Outcome, Reach, Reloads};
pub use verify::{verify_changes, Checked, Verified, VerifyFailed};

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

#[cfg(test)]
mod tests {
    use super::*;

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
