//! Acting on one callback: decided first without any lock, so that a line that changes
//! nothing never waits for one; then decided again and carried out under the tree's lock.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use indicatif::ProgressBar;

use super::callback::{self, Callback, Outcome, Verdict};
use crate::cluster::{Cluster, Node};
use crate::layout::Layout;
use crate::lock::Lock;
use crate::{journal, switch};

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
                eprintln!("warning: ignored a callback log line: {why}");
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

    /// What `node` boots through its link now, as the output and journal show it.
    fn link_of(&self, node: Option<&Node>) -> Result<Option<String>> {
        let Some(node) = node else { return Ok(None) };
        let state = switch::current(self.cluster, self.layout, node)?;
        Ok(state.shown(&node.normal_profile))
    }
}

fn ignored(cb: &Callback, why: &str) {
    eprintln!(
        "warning: callback `{}` for `{}` from {}: {why}; nothing changed",
        cb.outcome.word(),
        cb.node,
        cb.client
    );
}
