//! What each node boots next, since when, and what is wrong in the link folder, from one read
//! of it. The JSON shape (`pxectl status --json`) is documented in docs/cli.md and kept stable.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt as _;
use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;

use crate::cluster::{Cluster, Node};
use crate::mac::MacAddr;
use crate::plan::{FilePlan, LinkScheme};
use crate::tree::{self, Entry, Root};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub nodes: Vec<NodeStatus>,
    /// Per-MAC links whose MAC no node has (only when every node is shown).
    pub orphans: Vec<Orphan>,
    /// Problems with profile files and `default`.
    pub profiles: Vec<ProfileProblem>,
    /// How many problems there are in all; `status` exits 1 when this is not 0.
    pub problem_count: usize,
}

/// One node.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub mac: String,
    pub ip: Option<String>,
    /// The profile the node boots next (through `default` when it has no link); null when unknown.
    pub profile: Option<String>,
    /// The link's target as read, null when there is no link.
    pub link: Option<String>,
    /// When the link was last switched (its own mtime), RFC 3339; null when there is no link.
    pub since: Option<String>,
    pub normal_profile: String,
    /// Whether the node boots something other than its normal profile.
    pub switched: bool,
    pub problems: Vec<Problem>,
}

/// A problem with a node's link.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// `no-link`, `not-a-link`, `escapes`, `unknown-profile` or `dangling`.
    pub kind: &'static str,
    pub message: String,
}

/// A per-MAC link for a MAC no node has.
#[derive(Debug, Serialize)]
pub struct Orphan {
    pub name: String,
    pub mac: String,
    /// What it points at, or what it is when it is not a link.
    pub target: String,
}

/// A profile file (or `default`) that differs from the description.
#[derive(Debug, Serialize)]
pub struct ProfileProblem {
    pub name: String,
    /// `missing`, `differs`, `mode`, `not-a-file` or `default`.
    pub kind: &'static str,
    pub message: String,
}

/// Builds the report for `nodes`; orphans are looked for when `all` nodes are shown.
pub fn report(
    cluster: &Cluster,
    root: &Root,
    nodes: &[&Node],
    profile_files: &[FilePlan],
    all: bool,
) -> Result<Report> {
    let dir = root.host(&cluster.pxelinux_dir());
    // One pass reads every link's target and its own mtime.
    let entries = tree::scan_with_mtimes(&dir)?;
    crate::timing::phase("scan");
    let scheme = LinkScheme::Pxelinux;
    let present: HashSet<&str> = entries
        .iter()
        .filter(|(_, (e, _))| matches!(e, Entry::File))
        .map(|(n, _)| n.as_str())
        .collect();
    let default_target = match entries.get("default") {
        Some((Entry::Link(t), _)) => t
            .to_str()
            .filter(|s| tree::is_plain_name(s))
            .map(str::to_string),
        _ => None,
    };

    let mut out = Report {
        nodes: Vec::with_capacity(nodes.len()),
        orphans: Vec::new(),
        profiles: Vec::new(),
        problem_count: 0,
    };
    // On this thread: on two, it was no faster, and the second thread's allocator took fresh
    // memory (peak RSS at 10,000 nodes 45-53 MB, against 34-36; docs/performance.md).
    out.nodes = nodes
        .iter()
        .map(|node| {
            let name = scheme.name(node.mac);
            node_status(
                cluster,
                node,
                &name,
                entries.get(&name),
                &present,
                default_target.as_deref(),
            )
        })
        .collect();
    crate::timing::phase("nodes");
    out.problem_count += out.nodes.iter().map(|n| n.problems.len()).sum::<usize>();
    if all {
        let described: HashSet<MacAddr> = cluster.nodes.iter().map(|n| n.mac).collect();
        let mut orphans: Vec<Orphan> = entries
            .iter()
            .filter_map(|(name, (e, _))| {
                let mac = scheme.parse(name).filter(|m| !described.contains(m))?;
                let target = match e {
                    Entry::Link(t) => t.display().to_string(),
                    other => other.describe(),
                };
                Some(Orphan {
                    name: name.clone(),
                    mac: mac.colon(),
                    target,
                })
            })
            .collect();
        orphans.sort_by(|a, b| a.name.cmp(&b.name));
        out.problem_count += orphans.len();
        out.orphans = orphans;
    }
    out.profiles = profile_problems(cluster, root, profile_files, &entries);
    out.problem_count += out.profiles.len();
    Ok(out)
}

fn node_status(
    cluster: &Cluster,
    node: &Node,
    name: &str,
    found: Option<&(Entry, Option<SystemTime>)>,
    present: &HashSet<&str>,
    default_target: Option<&str>,
) -> NodeStatus {
    let mut problems = Vec::new();
    let mut problem = |kind, message: String| problems.push(Problem { kind, message });
    let (entry, mtime) = match found {
        Some((e, t)) => (Some(e), *t),
        None => (None, None),
    };
    let (profile, link) = match entry {
        None => {
            let via = default_target.map_or_else(
                || "nothing: there is no `default` either".to_string(),
                |d| format!("`default` (`{d}`)"),
            );
            problem(
                "no-link",
                format!(
                    "no `{name}` link: the node boots {via}; `pxectl boot-normal {}` creates it",
                    node.name
                ),
            );
            (default_target.map(str::to_string), None)
        }
        Some(Entry::Link(t)) => {
            let shown = t.display().to_string();
            match t.to_str().filter(|s| tree::is_plain_name(s)) {
                None => {
                    problem("escapes", format!("`{name}` points outside pxelinux.cfg/ (`{shown}`), and dnsmasq follows it; `pxectl boot-normal {}` replaces it", node.name));
                    (None, Some(shown))
                }
                Some(p) if !cluster.profiles.contains_key(p) => {
                    problem("unknown-profile", format!("`{name}` points at `{p}`, which is not a described profile; `pxectl boot-normal {}` replaces it", node.name));
                    (None, Some(shown))
                }
                Some(p) => {
                    if !present.contains(p) {
                        problem("dangling", format!("`{name}` points at `{p}`, whose file does not exist; `pxectl render` writes it"));
                    }
                    (Some(p.to_string()), Some(shown))
                }
            }
        }
        Some(other) => {
            problem("not-a-link", format!("`{name}` is {}, not a link (a hand edit?); `pxectl boot-normal {}` replaces it", other.describe(), node.name));
            (None, None)
        }
    };
    let since = link
        .as_ref()
        .and(mtime)
        .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    NodeStatus {
        name: node.name.clone(),
        mac: node.mac.colon(),
        ip: node.ip.map(|ip| ip.to_string()),
        switched: link.is_some() && profile.as_ref().is_some_and(|p| *p != node.normal_profile),
        profile,
        link,
        since,
        normal_profile: node.normal_profile.clone(),
        problems,
    }
}

fn profile_problems(
    cluster: &Cluster,
    root: &Root,
    files: &[FilePlan],
    entries: &HashMap<String, (Entry, Option<SystemTime>)>,
) -> Vec<ProfileProblem> {
    let mut out = Vec::new();
    for file in files {
        let name = file
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let host = root.host(&file.path);
        let problem = match entries.get(&name).map(|(e, _)| e) {
            None => Some(("missing", format!("profile file `{name}` does not exist; `pxectl render` writes it"))),
            Some(Entry::File) => match std::fs::read(&host) {
                Ok(bytes) if bytes != file.contents.as_bytes() => {
                    Some(("differs", format!("profile file `{name}` differs from the description; `pxectl render --diff` shows how and rewrites it")))
                }
                Ok(_) => match std::fs::metadata(&host).map(|m| m.permissions().mode() & 0o7777) {
                    Ok(mode) if mode != file.mode => Some((
                        "mode",
                        format!("profile file `{name}` has mode {mode:o}; TFTP needs {:o}, which `pxectl render` sets", file.mode),
                    )),
                    _ => None,
                },
                Err(e) => Some(("missing", format!("profile file `{name}` cannot be read: {e}"))),
            },
            Some(other) => Some(("not-a-file", format!("profile `{name}` is {}, not a file; move it away and run `pxectl render`", other.describe()))),
        };
        if let Some((kind, message)) = problem {
            out.push(ProfileProblem {
                name,
                kind,
                message,
            });
        }
    }
    if let Some(want) = &cluster.roles.default {
        let message = match entries.get("default").map(|(e, _)| e) {
            Some(Entry::Link(t)) if t.as_os_str() == want.as_str() => None,
            Some(Entry::Link(t)) => Some(format!("`default` points at `{}`, the description says `{want}`; `pxectl render` re-points it", t.display())),
            Some(other) => Some(format!("`default` is {}, the description says a link to `{want}`; `pxectl render` replaces it", other.describe())),
            None => Some(format!("there is no `default`, the description says a link to `{want}`; `pxectl render` creates it")),
        };
        if let Some(message) = message {
            out.push(ProfileProblem {
                name: "default".into(),
                kind: "default",
                message,
            });
        }
    }
    out
}
