//! Acting on one callback: decided first without any lock, so that a line that changes
//! nothing never waits for one; then decided again and carried out under the tree's lock.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use indicatif::ProgressBar;

use super::callback::{self, Callback, Outcome, Verdict};
use super::watch::POLL;
use crate::cluster::{Cluster, Node};
use crate::layout::Layout;
use crate::lock::{self, Lock, LockBusy};
use crate::{journal, switch};

/// The longest a patient wait for the tree's lock waits at a time, between looks at whether
/// it should give up.
const LOCK_SLICE: Duration = Duration::from_millis(100);

/// What a handled callback did.
#[derive(Debug, Clone)]
pub struct Event {
    pub node: String,
    pub outcome: Outcome,
    /// `Some((from, to))` when the node was switched.
    pub switched: Option<(String, String)>,
    pub client: IpAddr,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.outcome {
            Outcome::Done => "install done",
            Outcome::Failed => "install failed",
        };
        match &self.switched {
            Some((from, to)) => write!(
                f,
                "{}  {from} -> {to} ({what}, callback from {})",
                self.node, self.client
            ),
            None => write!(
                f,
                "{}  {what} (callback from {}); left as it is, as `lifecycle.on_failure` says",
                self.node, self.client
            ),
        }
    }
}

/// Acts on callback log lines for one description.
pub struct Actor<'c> {
    cluster: &'c Cluster,
    layout: &'c Layout,
    /// The journal's `command`: `watch` or `reimage --wait`.
    command: &'static str,
    /// Nodes by lower-case name: one look-up per line, however many nodes.
    nodes: HashMap<String, &'c Node>,
}

impl<'c> Actor<'c> {
    pub fn new(cluster: &'c Cluster, layout: &'c Layout, command: &'static str) -> Self {
        Self {
            cluster,
            layout,
            command,
            nodes: cluster
                .nodes
                .iter()
                .map(|n| (n.name.to_ascii_lowercase(), n))
                .collect(),
        }
    }

    /// The state folder, where the tree's lock is.
    pub fn state(&self) -> &Path {
        &self.layout.state_dir
    }

    /// Acts on one callback log line; `Ok(None)` when it changes nothing (with a warning
    /// saying why). `lock` takes the tree's lock, and is called only for a line that would
    /// change something.
    pub fn handle(
        &self,
        line: &[u8],
        lock: impl FnOnce(&Path) -> Result<Lock>,
    ) -> Result<Option<Event>> {
        let cb = match callback::parse(line, &self.cluster.lifecycle.prefix) {
            Ok(cb) => cb,
            Err(why) => {
                crate::output::warn(&format!("ignored a callback log line: {why}"));
                return Ok(None);
            }
        };
        let node = self.nodes.get(&cb.node.to_ascii_lowercase()).copied();
        let now = self.link_of(node)?;
        if let Verdict::Ignore(why) = callback::decide(self.cluster, &cb, node, now.as_deref()) {
            ignored(&cb, &why);
            return Ok(None);
        }
        let _lock = lock(&self.layout.state_dir)?;
        // Again under the lock: another pxectl may have switched the node meanwhile.
        let now = self.link_of(node)?;
        match callback::decide(self.cluster, &cb, node, now.as_deref()) {
            Verdict::Ignore(why) => {
                ignored(&cb, &why);
                Ok(None)
            }
            Verdict::Leave { node } => {
                let mut j = journal::Writer::open(&self.layout.state_dir)?;
                let command = format!("{} (install failed, left)", self.command);
                j.record(&command, &node.name, node.mac, now.clone(), now)?;
                j.sync()?;
                Ok(Some(Event {
                    node: node.name.clone(),
                    outcome: cb.outcome,
                    switched: None,
                    client: cb.client,
                }))
            }
            Verdict::Switch { node, to } => {
                let steps = switch::plan(self.cluster, self.layout, [(node, to.clone())], false)?;
                let done = switch::apply(
                    &steps,
                    &self.layout.state_dir,
                    self.command,
                    &ProgressBar::hidden(),
                )?;
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

    /// [`Actor::handle`], waiting out a busy lock for as long as it takes (until `stop` says
    /// so, looked at every 100 ms) and trying other failures three times; a callback is never
    /// dropped silently. `Err` only when `stop` ended it before the callback was acted on (the
    /// caller says what becomes of it); `lock_timeout` is how long before warning that the
    /// callback waits for the lock.
    pub fn handle_patiently(
        &self,
        line: &[u8],
        lock_timeout: Duration,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Event>> {
        let mut failures = 0;
        loop {
            match self.handle(line, |state| patient_lock(state, lock_timeout, stop)) {
                Ok(event) => return Ok(event),
                Err(e) if stop() => return Err(e),
                Err(e) => {
                    failures += 1;
                    if failures >= 3 {
                        crate::output::warn(&format!(
                            "could not act on a callback ({}): {e:#}; skipped",
                            crate::output::escaped(&String::from_utf8_lossy(line))
                        ));
                        return Ok(None);
                    }
                    crate::output::warn(&format!(
                        "could not act on a callback: {e:#}; trying again"
                    ));
                }
            }
            pause(Duration::from_secs(1), stop);
        }
    }

    /// What `node` boots through its link now, as the output and journal show it.
    fn link_of(&self, node: Option<&Node>) -> Result<Option<String>> {
        let Some(node) = node else { return Ok(None) };
        let wanted = [(node, node.normal_profile.clone())];
        let step = switch::plan(self.cluster, self.layout, wanted, false)?.pop();
        Ok(step.and_then(|s| s.state.shown(&node.normal_profile)))
    }
}

/// The tree's lock, waited for as long as it takes, until `stop` says so.
fn patient_lock(state: &Path, lock_timeout: Duration, stop: &dyn Fn() -> bool) -> Result<Lock> {
    let start = Instant::now();
    let mut warned = false;
    loop {
        match lock::acquire(state, LOCK_SLICE.min(lock_timeout)) {
            Err(e) if e.is::<LockBusy>() => {
                if stop() {
                    bail!("the lock `{}` is busy", state.join(lock::FILE).display());
                }
                if !warned && start.elapsed() >= lock_timeout {
                    crate::output::warn(&format!(
                        "another pxectl has held the lock `{}` for {}; the callback waits for it",
                        state.join(lock::FILE).display(),
                        humantime::format_duration(lock_timeout)
                    ));
                    warned = true;
                }
            }
            other => return other,
        }
    }
}

/// Sleeps `d`, or less when `stop` says so.
pub(super) fn pause(d: Duration, stop: &dyn Fn() -> bool) {
    let end = Instant::now() + d;
    while !stop() && Instant::now() < end {
        std::thread::sleep(POLL.min(end - Instant::now()));
    }
}

fn ignored(cb: &Callback, why: &str) {
    crate::output::warn(&format!(
        "callback `{}` for `{}` from {}: {why}; nothing changed",
        cb.outcome.word(),
        cb.node,
        cb.client
    ));
}
