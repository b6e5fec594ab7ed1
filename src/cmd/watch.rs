//! `pxectl watch` and `pxectl reimage --wait`: acting on install callbacks.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;
use nix::fcntl::{Flock, FlockArg};

use crate::atomic::Dir;
use crate::cli::{Settings, WatchArgs};
use crate::cluster::{Cluster, Node};
use crate::exit_codes::{ExitCode, UsageError};
use crate::layout::Layout;
use crate::lifecycle::{self, Follower, Outcome, Verdict};
use crate::plan::LinkScheme;
use crate::switch;
use crate::{journal, lock};

/// How often the logs are polled.
const POLL: Duration = Duration::from_millis(100);

/// The file a running `pxectl watch` holds a lock on, so `--wait` knows it is there.
const PRESENCE: &str = "watch.lock";

/// Where `pxectl watch` saves how far it read (`INODE OFFSET`), to resume after a restart.
const POSITION: &str = "watch.pos";

fn saved_position(path: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (ino, offset) = text.trim().split_once(' ')?;
    Some((ino.parse().ok()?, offset.parse().ok()?))
}

/// Acts on a callback, waiting out a busy lock for as long as it takes (until stopped) and
/// trying other failures three times; a callback is never dropped silently.
fn handle_patiently(
    cluster: &Cluster,
    layout: &Layout,
    settings: &Settings,
    line: &[u8],
    stop: &AtomicBool,
) -> Option<Event> {
    let mut failures = 0;
    loop {
        match handle(cluster, layout, settings, "watch", line) {
            Ok(event) => return event,
            Err(e) if stop.load(Ordering::Relaxed) => {
                eprintln!("warning: stopping before acting on a callback: {e:#}");
                return None;
            }
            Err(e) if e.downcast_ref::<lock::LockBusy>().is_some() => {
                eprintln!("warning: {e:#}; the callback waits for it");
            }
            Err(e) => {
                failures += 1;
                if failures >= 3 {
                    eprintln!(
                        "warning: could not act on a callback ({}): {e:#}; skipped",
                        String::from_utf8_lossy(line)
                    );
                    return None;
                }
                eprintln!("warning: could not act on a callback: {e:#}; trying again");
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Fails unless the description has callbacks on.
pub(crate) fn require_callbacks(cluster: &Cluster) -> Result<(), UsageError> {
    if cluster.lifecycle.callbacks {
        Ok(())
    } else {
        Err(UsageError(
            "`lifecycle.callbacks` is off, so nginx answers and logs no callbacks; turn it on and run `pxectl apply` (docs/lifecycle.md)".into(),
        ))
    }
}

/// Runs `pxectl watch` until SIGTERM or SIGINT.
pub fn watch(settings: &Settings, args: &WatchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let super::Loaded { cluster, layout } = super::load(settings)?;
    require_callbacks(&cluster)?;
    let state = layout.state_dir.clone();
    let _presence = hold_presence(&state)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install a signal handler")?;
    }
    let mut follower = Follower::new(&cluster.lifecycle.log, args.from_start);
    let position = state.join(POSITION);
    if !args.from_start {
        if let Some((ino, offset)) = saved_position(&position) {
            follower.resume(ino, offset);
        }
    }
    writeln!(
        out,
        "watch: following `{}`",
        cluster.lifecycle.log.display()
    )?;
    out.flush()?;
    while !stop.load(Ordering::Relaxed) {
        let polled = match follower.poll() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: {e:#}; trying again");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        warn_too_long(polled.too_long);
        for line in &polled.lines {
            if let Some(event) = handle_patiently(&cluster, &layout, settings, line, &stop) {
                writeln!(out, "{}", event.describe())?;
            }
        }
        out.flush()?;
        if !polled.lines.is_empty() {
            let (ino, offset) = follower.position();
            if let Err(e) =
                crate::atomic::write_file(&position, format!("{ino} {offset}\n").as_bytes(), 0o644)
            {
                eprintln!("warning: cannot save the watcher's position: {e:#}");
            }
        }
        std::thread::sleep(POLL);
    }
    writeln!(out, "watch: stopped")?;
    Ok(ExitCode::Success)
}

fn warn_too_long(n: usize) {
    if n > 0 {
        eprintln!(
            "warning: skipped {n} callback log line(s) longer than {} bytes",
            lifecycle::MAX_LINE
        );
    }
}

/// Takes the presence lock of a running watcher; fails when another watcher has it.
fn hold_presence(state: &Path) -> Result<Flock<File>> {
    std::fs::create_dir_all(state)
        .with_context(|| format!("cannot create the state folder `{}`", state.display()))?;
    let path = state.join(PRESENCE);
    let file = crate::lock::open(&path)?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another `pxectl watch` is running (it holds `{}`); one is enough",
            path.display()
        )
    })
}

/// Whether a `pxectl watch` is running for this state folder.
fn watcher_running(state: &Path) -> bool {
    let Ok(file) = File::open(state.join(PRESENCE)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// What a handled callback did.
pub(crate) struct Event {
    pub node: String,
    pub outcome: Outcome,
    /// `Some((from, to))` when the node was switched.
    pub switched: Option<(String, String)>,
    pub client: std::net::IpAddr,
}

impl Event {
    fn describe(&self) -> String {
        let what = match self.outcome {
            Outcome::Done => "install done",
            Outcome::Failed => "install failed",
        };
        match &self.switched {
            Some((from, to)) => format!(
                "{}  {from} -> {to} ({what}, callback from {})",
                self.node, self.client
            ),
            None => format!(
                "{}  {what} (callback from {}); left as it is, as `lifecycle.on_failure` says",
                self.node, self.client
            ),
        }
    }
}

/// Acts on one callback log line under the lock; `Ok(None)` when it changes nothing (with a
/// warning saying why).
pub(crate) fn handle(
    cluster: &Cluster,
    layout: &Layout,
    settings: &Settings,
    command: &str,
    line: &[u8],
) -> Result<Option<Event>> {
    let cb = match lifecycle::parse(line, &cluster.lifecycle.prefix) {
        Ok(cb) => cb,
        Err(why) => {
            eprintln!("warning: ignored a callback log line: {why}");
            return Ok(None);
        }
    };
    let state = layout.state_dir.clone();
    let _lock = lock::acquire(&state, settings.lock_timeout)?;
    let dir = Dir::open(&layout.pxelinux_dir.clone())?;
    let current = |node: &Node| -> Option<String> {
        dir.read_link(&LinkScheme::Pxelinux.name(node.mac))
            .ok()
            .and_then(|t| t.to_str().map(str::to_string))
    };
    let now = cluster
        .nodes
        .iter()
        .find(|n| lifecycle::is_for(n, &cb.node))
        .and_then(current);
    match lifecycle::decide(cluster, &cb, now.as_deref()) {
        Verdict::Ignore(why) => {
            eprintln!(
                "warning: callback `{}` for `{}` from {}: {why}; nothing changed",
                outcome_word(cb.outcome),
                cb.node,
                cb.client
            );
            Ok(None)
        }
        Verdict::Leave { node } => {
            let mut j = journal::Writer::open(&state)?;
            j.record(
                &format!("{command} (install failed, left)"),
                &node.name,
                node.mac,
                now.clone(),
                now,
            )?;
            j.sync()?;
            Ok(Some(Event {
                node: node.name.clone(),
                outcome: cb.outcome,
                switched: None,
                client: cb.client,
            }))
        }
        Verdict::Switch { node, to } => {
            let steps = switch::plan(cluster, layout, [(node, to.clone())], false)?;
            let done = switch::apply(&steps, &state, command, &ProgressBar::hidden())?;
            let from = done
                .first()
                .and_then(|d| d.from.clone())
                .unwrap_or_default();
            Ok(Some(Event {
                node: node.name.clone(),
                outcome: cb.outcome,
                switched: Some((from, to)),
                client: cb.client,
            }))
        }
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Failed => "failed",
    }
}

/// Where a node is in its install, as `--wait` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Waiting,
    Booting,
    Done,
    Failed,
}

impl Stage {
    fn word(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Booting => "booting",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// Followers opened right after the switch, still under its lock, so no callback written
/// after the switch is missed and none from before it counts.
pub(crate) struct Waiter {
    callbacks: Follower,
    access: Follower,
    tftp: Option<Follower>,
    leases: std::path::PathBuf,
}

impl Waiter {
    /// Starts following the logs at their current ends.
    pub(crate) fn start(cluster: &Cluster) -> Result<Self> {
        let mut callbacks = Follower::new(&cluster.lifecycle.log, false);
        let mut access = Follower::new(&cluster.lifecycle.access_log, false);
        let mut tftp = cluster
            .lifecycle
            .dnsmasq_log
            .as_deref()
            .map(|p| Follower::new(p, false));
        callbacks.poll()?;
        access.poll()?;
        if let Some(t) = tftp.as_mut() {
            t.poll()?;
        }
        Ok(Self {
            callbacks,
            access,
            tftp,
            leases: cluster.lifecycle.leases.clone(),
        })
    }

    /// Waits for every node in `nodes` to call back, until `timeout`; exit 0 when all are done.
    pub(crate) fn wait(
        mut self,
        cluster: &Cluster,
        layout: &Layout,
        settings: &Settings,
        nodes: &[&Node],
        timeout: Duration,
        out: &mut dyn Write,
    ) -> Result<ExitCode> {
        let state = layout.state_dir.clone();
        let watcher = watcher_running(&state);
        let mut stages: BTreeMap<String, Stage> = nodes
            .iter()
            .map(|n| (n.name.clone(), Stage::Waiting))
            .collect();

        let bar = crate::output::wait_bar(nodes.len(), settings.verbosity);
        let say = |bar: &ProgressBar, out: &mut dyn Write, line: String| -> Result<()> {
            if bar.is_hidden() {
                writeln!(out, "{line}")?;
                out.flush()?;
            } else {
                bar.println(line);
            }
            Ok(())
        };
        let source = if watcher {
            "the running `pxectl watch` flips nodes back"
        } else {
            "no `pxectl watch` is running: flipping nodes back here"
        };
        say(
            &bar,
            out,
            format!(
                "waiting up to {} for {} node(s); {source}",
                humantime::format_duration(timeout),
                nodes.len()
            ),
        )?;
        let deadline = Instant::now() + timeout;
        loop {
            let finished = stages
                .values()
                .filter(|s| matches!(s, Stage::Done | Stage::Failed))
                .count();
            bar.set_position(finished as u64);
            if finished == stages.len() || Instant::now() >= deadline {
                break;
            }
            for line in self.booting(nodes, &mut stages)? {
                say(&bar, out, line)?;
            }
            for line in self.callbacks(cluster, layout, settings, nodes, &mut stages)? {
                say(&bar, out, line)?;
            }
            bar.set_message(summary(&stages));
            std::thread::sleep(POLL);
        }
        bar.finish_and_clear();
        let unfinished: Vec<String> = stages
            .iter()
            .filter(|(_, s)| !matches!(s, Stage::Done))
            .map(|(n, s)| format!("{n} ({})", s.word()))
            .collect();
        if unfinished.is_empty() {
            writeln!(out, "reimage: all {} node(s) done", stages.len())?;
            Ok(ExitCode::Success)
        } else {
            writeln!(
                out,
                "reimage: {} of {} node(s) did not finish: {}; their links stay on the installer (`pxectl reset --older-than` puts them back)",
                unfinished.len(),
                stages.len(),
                unfinished.join(", ")
            )?;
            Ok(ExitCode::Differs)
        }
    }

    /// Nodes seen fetching their PXE config over TFTP (dnsmasq's log) or downloading from
    /// nginx (by fixed or leased address): waiting -> booting.
    fn booting(
        &mut self,
        nodes: &[&Node],
        stages: &mut BTreeMap<String, Stage>,
    ) -> Result<Vec<String>> {
        let mut said = Vec::new();
        let mut mark = |name: &str, how: &str, stages: &mut BTreeMap<String, Stage>| {
            if stages.get(name) == Some(&Stage::Waiting) {
                stages.insert(name.to_string(), Stage::Booting);
                said.push(format!("{name}  booting ({how})"));
            }
        };
        if let Some(tftp) = self.tftp.as_mut() {
            for line in &tftp.poll()?.lines {
                let Some(mac) = lifecycle::tftp_sent_mac(line) else {
                    continue;
                };
                if let Some(node) = nodes.iter().find(|n| n.mac == mac) {
                    mark(&node.name, "fetched its PXE config over TFTP", stages);
                }
            }
        }
        let lines = self.access.poll()?.lines;
        if lines.is_empty() {
            return Ok(said);
        }
        // Fixed addresses, and dnsmasq's leases for the nodes without one.
        let leased = if nodes.iter().any(|n| n.ip.is_none()) {
            lifecycle::leased_addresses(&self.leases)
        } else {
            std::collections::HashMap::default()
        };
        let by_ip: BTreeMap<String, &str> = nodes
            .iter()
            .filter_map(|n| {
                let ip =
                    n.ip.map(std::net::IpAddr::V4)
                        .or_else(|| leased.get(&n.mac).copied())?;
                Some((ip.to_string(), n.name.as_str()))
            })
            .collect();
        for line in &lines {
            let ip = line
                .split(|&b| b == b' ')
                .next()
                .and_then(|f| std::str::from_utf8(f).ok());
            if let Some(name) = ip.and_then(|ip| by_ip.get(ip)) {
                mark(name, "downloading from nginx", stages);
            }
        }
        Ok(said)
    }

    /// Callbacks of the waited-for nodes. Without a watcher they are acted on here; with
    /// one, a node counts as done once the watcher has really switched its link, and as
    /// failed on a trusted `failed` callback it left alone (or a switch to rescue).
    fn callbacks(
        &mut self,
        cluster: &Cluster,
        layout: &Layout,
        settings: &Settings,
        nodes: &[&Node],
        stages: &mut BTreeMap<String, Stage>,
    ) -> Result<Vec<String>> {
        let polled = self.callbacks.poll()?;
        warn_too_long(polled.too_long);
        let watcher = watcher_running(&layout.state_dir.clone());
        let mut said = Vec::new();
        let mut reach = |name: &str, reached: Stage, stages: &mut BTreeMap<String, Stage>| {
            if matches!(stages.get(name), Some(Stage::Waiting | Stage::Booting)) {
                stages.insert(name.to_string(), reached);
                said.push(format!("{name}  {}", reached.word()));
            }
        };
        for line in &polled.lines {
            let Ok(cb) = lifecycle::parse(line, &cluster.lifecycle.prefix) else {
                continue;
            };
            let Some(node) = nodes.iter().find(|n| lifecycle::is_for(n, &cb.node)) else {
                continue;
            };
            if watcher {
                if lifecycle::trusted(node, cb.client)
                    && cb.outcome == Outcome::Failed
                    && cluster.lifecycle.on_failure == crate::cluster::OnFailure::Leave
                {
                    reach(&node.name, Stage::Failed, stages);
                }
            } else if let Some(event) = handle(cluster, layout, settings, "reimage --wait", line)? {
                reach(
                    &event.node,
                    if event.outcome == Outcome::Done {
                        Stage::Done
                    } else {
                        Stage::Failed
                    },
                    stages,
                );
            }
        }
        if watcher {
            let dir = Dir::open(&layout.pxelinux_dir.clone())?;
            for node in nodes {
                let Ok(target) = dir.read_link(&LinkScheme::Pxelinux.name(node.mac)) else {
                    continue;
                };
                if target.as_os_str() == node.normal_profile.as_str() {
                    reach(&node.name, Stage::Done, stages);
                } else if cluster.lifecycle.on_failure == crate::cluster::OnFailure::Rescue
                    && cluster
                        .roles
                        .rescue
                        .as_deref()
                        .is_some_and(|r| target.as_os_str() == r)
                {
                    reach(&node.name, Stage::Failed, stages);
                }
            }
        }
        Ok(said)
    }
}

fn summary(stages: &BTreeMap<String, Stage>) -> String {
    let count = |s: Stage| stages.values().filter(|v| **v == s).count();
    format!(
        "{} done, {} failed, {} booting, {} waiting",
        count(Stage::Done),
        count(Stage::Failed),
        count(Stage::Booting),
        count(Stage::Waiting)
    )
}
