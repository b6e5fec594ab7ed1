//! `reimage --wait`: following the logs until the switched nodes call back.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::ProgressBar;

use super::act::{Actor, Event};
use super::callback::{self, Outcome};
use super::follow::Follower;
use super::watch::{watcher_running, POLL};
use crate::cli::Settings;
use crate::cluster::{Cluster, Node, OnFailure};
use crate::exit_codes::ExitCode;
use crate::layout::Layout;
use crate::output::plural;
use crate::switch;

/// Where a node is in its install, as `--wait` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
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
pub struct Waiter {
    callbacks: Follower,
    access: Follower,
    tftp: Option<Follower>,
    leases: PathBuf,
}

impl Waiter {
    /// Starts following the logs at their current ends.
    pub fn start(cluster: &Cluster) -> Result<Self> {
        let mut callbacks = Follower::new(&cluster.lifecycle.log, false);
        let mut access = Follower::new(&cluster.lifecycle.access_log, false);
        let mut tftp = cluster
            .lifecycle
            .dnsmasq_log
            .as_deref()
            .map(|p| Follower::new(p, false));
        callbacks.begin()?;
        access.begin()?;
        if let Some(t) = tftp.as_mut() {
            t.begin()?;
        }
        Ok(Self {
            callbacks,
            access,
            tftp,
            leases: cluster.lifecycle.leases.clone(),
        })
    }

    /// Waits for every node in `nodes` to call back, until `timeout`; exit 0 when all are done.
    pub fn wait(
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
                "waiting up to {} for {}; {source}",
                humantime::format_duration(timeout),
                plural(nodes.len(), "node", "nodes")
            ),
        )?;
        let actor = Actor::new(cluster, layout, "reimage --wait");
        let deadline = Instant::now() + timeout;
        let patience = Patience {
            lock_timeout: settings.lock_timeout,
            deadline,
        };
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
            for line in self.callbacks(&actor, cluster, layout, &patience, nodes, &mut stages)? {
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
            writeln!(
                out,
                "reimage: all {} done",
                plural(stages.len(), "node", "nodes")
            )?;
            Ok(ExitCode::Success)
        } else {
            writeln!(
                out,
                "reimage: {} of {} did not finish: {}; their links stay on the installer (`pxectl reset --older-than` puts them back)",
                unfinished.len(),
                plural(stages.len(), "node", "nodes"),
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
                let Some(mac) = tftp_sent_mac(line) else {
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
            leased_addresses(&self.leases)
        } else {
            HashMap::default()
        };
        let by_ip: BTreeMap<String, &str> = nodes
            .iter()
            .filter_map(|n| {
                let ip =
                    n.ip.map(IpAddr::V4)
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
        actor: &Actor<'_>,
        cluster: &Cluster,
        layout: &Layout,
        patience: &Patience,
        nodes: &[&Node],
        stages: &mut BTreeMap<String, Stage>,
    ) -> Result<Vec<String>> {
        let polled = self.callbacks.poll()?;
        super::warn_too_long(polled.too_long);
        let watcher = watcher_running(&layout.state_dir.clone());
        let mut said = Vec::new();
        let mut reach = |name: &str, reached: Stage, stages: &mut BTreeMap<String, Stage>| {
            if matches!(stages.get(name), Some(Stage::Waiting | Stage::Booting)) {
                stages.insert(name.to_string(), reached);
                said.push(format!("{name}  {}", reached.word()));
            }
        };
        for line in &polled.lines {
            let Ok(cb) = callback::parse(line, &cluster.lifecycle.prefix) else {
                continue;
            };
            let Some(node) = nodes.iter().find(|n| callback::is_for(n, &cb.node)) else {
                continue;
            };
            if watcher {
                if callback::trusted(node, cb.client)
                    && cb.outcome == Outcome::Failed
                    && cluster.lifecycle.on_failure == OnFailure::Leave
                {
                    reach(&node.name, Stage::Failed, stages);
                }
            } else if let Some(event) = patience.act(actor, line) {
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
            // One read of the link folder judges every node waited for.
            let wanted = nodes.iter().map(|n| (*n, n.normal_profile.clone()));
            for step in switch::plan(cluster, layout, wanted, false)? {
                let node = step.node;
                let rescue = (cluster.lifecycle.on_failure == OnFailure::Rescue)
                    .then_some(cluster.roles.rescue.as_deref())
                    .flatten();
                match step.state.profile(&node.normal_profile) {
                    Some(p) if p == node.normal_profile => reach(&node.name, Stage::Done, stages),
                    Some(p) if Some(p) == rescue => reach(&node.name, Stage::Failed, stages),
                    _ => {}
                }
            }
        }
        Ok(said)
    }
}

/// How long `--wait` waits for the tree's lock to act on a callback: as long as it takes
/// (warning after `lock_timeout`), but not past its own deadline.
struct Patience {
    lock_timeout: Duration,
    deadline: Instant,
}

impl Patience {
    fn act(&self, actor: &Actor<'_>, line: &[u8]) -> Option<Event> {
        actor
            .handle_patiently(line, self.lock_timeout, &|| Instant::now() >= self.deadline)
            .unwrap_or_else(|e| {
                crate::output::warn(&format!(
                    "the time ran out before a callback could be acted on: {e:#}"
                ));
                None
            })
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

/// Addresses dnsmasq leased, by MAC, from its lease file (`EXPIRY MAC IP NAME CLIENT-ID`
/// per line); empty when the file cannot be read.
fn leased_addresses(path: &Path) -> HashMap<crate::mac::MacAddr, IpAddr> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::default();
    };
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

/// The MAC whose pxelinux config a dnsmasq TFTP log line says was sent
/// (`... dnsmasq-tftp[PID]: sent /srv/pxe/pxelinux.cfg/01-aa-bb-... to ADDR`).
fn tftp_sent_mac(line: &[u8]) -> Option<crate::mac::MacAddr> {
    let line = std::str::from_utf8(line).ok()?;
    let sent = line.split_once("dnsmasq-tftp")?.1.split_once(": sent ")?.1;
    let path = sent.split(' ').next()?;
    crate::mac::MacAddr::from_pxelinux_name(path.rsplit('/').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_leases_and_tftp_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().join("leases");
        std::fs::write(
            &leases,
            "1764072000 02:00:00:00:00:03 10.0.0.53 n3 01:02:00:00:00:00:03\ngarbage\n",
        )
        .unwrap();
        let map = leased_addresses(&leases);
        assert_eq!(
            map.get(&"02:00:00:00:00:03".parse().unwrap()),
            Some(&"10.0.0.53".parse().unwrap())
        );
        assert_eq!(map.len(), 1);
        assert!(leased_addresses(&dir.path().join("missing")).is_empty());
        let line = b"Nov 25 12:00:00 dnsmasq-tftp[3937]: sent /srv/pxe/pxelinux.cfg/01-02-00-00-00-00-03 to 10.0.0.53";
        assert_eq!(
            tftp_sent_mac(line),
            Some("02:00:00:00:00:03".parse().unwrap())
        );
        assert_eq!(
            tftp_sent_mac(b"Nov 25 dnsmasq-tftp[1]: sent /srv/pxe/pxelinux.0 to 10.0.0.53"),
            None
        );
        assert_eq!(
            tftp_sent_mac(b"Nov 25 dnsmasq-dhcp[1]: DHCPACK(eth0) 10.0.0.53"),
            None
        );
    }
}
