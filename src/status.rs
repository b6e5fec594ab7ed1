//! What each node boots next, since when, and what is wrong, read off the same comparison of
//! the plan with the disk as `render --check`, so the two never disagree. The JSON shape
//! (`pxectl status --json`) is documented in docs/cli.md and kept stable.

use std::path::Path;

use serde::Serialize;

use crate::cluster::{Cluster, Node};
use crate::output;
use crate::plan::FileKind;
use crate::tree::{Change, Comparison, Entry, Finding, LinkState, NodeLink, Old};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub nodes: Vec<NodeStatus>,
    /// Per-MAC links whose MAC no node has (only when every node is shown).
    pub orphans: Vec<Orphan>,
    /// Problems with profile files and `default`.
    pub profiles: Vec<ProfileProblem>,
    /// Problems with dnsmasq.conf, nginx.conf, the hosts file, and leftover profile files.
    pub files: Vec<FileProblem>,
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
    /// Its groups, as the description lists them.
    pub groups: Vec<String>,
    /// The loader it is given: `auto` (by its architecture), or the one forced by it or a group.
    pub loader: &'static str,
    /// Whether its UEFI boot goes through shim (Secure Boot).
    pub secure_boot: bool,
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

/// A per-MAC link for a MAC no node has, or in the folder of a loader no longer in use.
#[derive(Debug, Serialize)]
pub struct Orphan {
    pub name: String,
    pub mac: String,
    /// What it points at, or what it is when it is not a link.
    pub target: String,
    /// The loader no longer in use whose folder it is in (`grub`...); null when no node has
    /// the MAC.
    pub unused_loader: Option<&'static str>,
}

/// A profile file (or `default`) that differs from the description.
#[derive(Debug, Serialize)]
pub struct ProfileProblem {
    pub name: String,
    /// `missing`, `differs`, `mode`, `not-a-file` or `default`.
    pub kind: &'static str,
    pub message: String,
}

/// Another file that differs from the description.
#[derive(Debug, Serialize)]
pub struct FileProblem {
    /// Where it is on this machine.
    pub path: String,
    /// `missing`, `differs`, `mode`, `not-a-file` or `leftover`.
    pub kind: &'static str,
    pub message: String,
}

/// Builds the report of `nodes` (indexes into the description's nodes) from `cmp`; orphans
/// are listed when `all` nodes are shown.
pub fn report(cluster: &Cluster, cmp: &Comparison, nodes: &[usize], all: bool) -> Report {
    let mut out = Report {
        nodes: nodes
            .iter()
            .map(|&i| {
                node_status(
                    &cluster.nodes[i],
                    &cmp.nodes[i],
                    cmp.default_link.as_deref(),
                )
            })
            .collect(),
        orphans: Vec::new(),
        profiles: Vec::new(),
        files: Vec::new(),
        problem_count: 0,
    };
    crate::timing::phase("nodes");
    let want = cluster.roles.default.as_deref().unwrap_or_default();
    for change in &cmp.changes {
        match change {
            // A node's missing link is that node's problem; `--prune` is not status's.
            Change::CreateLink { node: Some(_), .. }
            | Change::ReplaceLink { node: Some(_), .. }
            | Change::RemoveLink { .. }
            | Change::RemoveFile { .. } => {}
            Change::CreateLink { path, .. } => out.default_problem(path, format!(
                "there is no `{}`, the description says a link to `{want}`; `pxectl render` creates it", file_name(path)
            )),
            Change::ReplaceLink { path, old: Entry::Link(t), .. } => out.default_problem(path, format!(
                "`{}` points at `{}`, the description says `{want}`; `pxectl render` re-points it",
                file_name(path), output::path(t)
            )),
            Change::ReplaceLink { path, old, .. } => out.default_problem(path, format!(
                "`{}` is {}, the description says a link to `{want}`; `pxectl render` replaces it",
                file_name(path), old.describe()
            )),
            Change::WriteFile { path, old, kind, .. } => {
                let (problem, what) = match old {
                    Old::Nothing => ("missing", "does not exist; `pxectl render` writes it".to_string()),
                    Old::File { .. } => ("differs", "differs from the description; `pxectl render --diff` shows how and rewrites it".to_string()),
                    Old::Link(t) => ("not-a-file", format!("is {}, not a file; `pxectl render` replaces it", Entry::Link(t.clone()).describe())),
                };
                out.file_problem(path, *kind, problem, &what);
            }
            Change::SetMode { path, mode, old, kind, .. } => {
                let needs = if *kind == FileKind::Profile { "TFTP needs" } else { "it should be" };
                let what = format!("has mode {old:o}; {needs} {mode:o}, which `pxectl render` sets");
                out.file_problem(path, *kind, "mode", &what);
            }
        }
    }
    for finding in &cmp.findings {
        match finding {
            Finding::Orphan {
                path,
                mac,
                entry,
                unused,
            } if all => out.orphans.push(Orphan {
                name: raw_name(path),
                mac: mac.colon(),
                target: match entry {
                    Entry::Link(t) => t.to_string_lossy().into_owned(),
                    other => other.describe(),
                },
                unused_loader: unused.map(crate::loader::Loader::key),
            }),
            Finding::Orphan { .. } => {}
            Finding::Blocked { path, entry } => out.default_problem(path, format!(
                "`{}` is {}, the description says a link to `{want}`; move it away and run `pxectl render`",
                file_name(path), entry.describe()
            )),
            Finding::NotAFile { path, entry, kind } => out.file_problem(
                path,
                *kind,
                "not-a-file",
                &format!("is {}, not a file; move it away and run `pxectl render`", entry.describe()),
            ),
            Finding::Leftover { path } => out.files.push(FileProblem {
                path: path.to_string_lossy().into_owned(),
                kind: "leftover",
                message: format!(
                    "`{}` is a profile file pxectl wrote that is no longer described; `pxectl render --prune` removes it",
                    output::path(path)
                ),
            }),
        }
    }
    out.problem_count = out.nodes.iter().map(|n| n.problems.len()).sum::<usize>()
        + out.orphans.len()
        + out.profiles.len()
        + out.files.len();
    out
}

impl Report {
    /// A problem with a loader's `default` link.
    fn default_problem(&mut self, path: &Path, message: String) {
        self.profiles.push(ProfileProblem {
            name: raw_name(path),
            kind: "default",
            message,
        });
    }

    /// A problem with a rendered file: profiles by name, other files by path.
    fn file_problem(&mut self, path: &Path, kind: FileKind, problem: &'static str, what: &str) {
        if kind == FileKind::Profile {
            let name = file_name(path);
            let what = if problem == "not-a-file" {
                format!("profile `{name}` {what}")
            } else {
                format!("profile file `{name}` {what}")
            };
            self.profiles.push(ProfileProblem {
                name: raw_name(path),
                kind: problem,
                message: what,
            });
        } else {
            self.files.push(FileProblem {
                message: format!("`{}` {what}", output::path(path)),
                path: path.to_string_lossy().into_owned(),
                kind: problem,
            });
        }
    }
}

/// The file name of `path` as read, for JSON (the table shows messages, escaped).
fn raw_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The file name of `path`, escaped for messages.
fn file_name(path: &Path) -> String {
    output::escaped(&path.file_name().unwrap_or_default().to_string_lossy()).into_owned()
}

fn node_status(node: &Node, link: &NodeLink, default_target: Option<&str>) -> NodeStatus {
    let name = file_name(&link.path);
    let fix = format!("`pxectl boot-normal {}` replaces it", node.name);
    let (profile, message) = match &link.state {
        LinkState::Planned | LinkState::Switched(_) => (
            link.state.profile(&node.normal_profile).map(str::to_string),
            None,
        ),
        LinkState::Missing => {
            let via = default_target.map_or_else(
                || "nothing: there is no `default` either".to_string(),
                |d| format!("`default` (`{}`)", output::escaped(d)),
            );
            (
                default_target.map(str::to_string),
                Some(format!(
                    "no `{name}` link: the node boots {via}; `pxectl boot-normal {}` creates it",
                    node.name
                )),
            )
        }
        LinkState::Dangling(p) => (
            Some(p.clone()),
            Some(format!(
                "`{name}` points at `{p}`, whose file does not exist; `pxectl render` writes it"
            )),
        ),
        LinkState::Escapes(t) => (
            None,
            Some(format!(
                "`{name}` points outside pxelinux.cfg/ (`{}`), and dnsmasq follows it; {fix}",
                output::path(t)
            )),
        ),
        LinkState::Undescribed(p) => (
            None,
            Some(format!(
                "`{name}` points at `{}`, which is not a described profile; {fix}",
                output::escaped(p)
            )),
        ),
        LinkState::NotALink(e) => (
            None,
            Some(format!(
                "`{name}` is {}, not a link (a hand edit?); {fix}",
                e.describe()
            )),
        ),
        LinkState::Mixed => {
            let each: Vec<String> = link
                .entries
                .iter()
                .map(|(loader, target)| format!("{} `{target}`", loader.key()))
                .collect();
            (
                None,
                Some(format!(
                    "its entries do not all point where they should ({}): what it boots depends on its loader; `pxectl render` or the next switch brings them in line",
                    each.join(", ")
                )),
            )
        }
    };
    let (link_text, since) = match link.found.as_ref().map(|f| (&f.entry, f.since)) {
        Some((Entry::Link(t), since)) => (
            Some(t.to_string_lossy().into_owned()),
            since.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        ),
        _ => (None, None),
    };
    NodeStatus {
        name: node.name.clone(),
        mac: node.mac.colon(),
        ip: node.ip.map(|ip| ip.to_string()),
        switched: link_text.is_some()
            && profile.as_ref().is_some_and(|p| *p != node.normal_profile),
        profile,
        link: link_text,
        since,
        normal_profile: node.normal_profile.clone(),
        groups: node.groups.clone(),
        loader: node
            .choice
            .loader
            .map_or("auto", crate::loader::Loader::key),
        secure_boot: node.choice.secure_boot,
        problems: message
            .map(|message| Problem {
                kind: link.state.kind(),
                message,
            })
            .into_iter()
            .collect(),
    }
}
