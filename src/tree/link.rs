//! The node-link model: what a node's per-MAC entry on disk means, judged once, here, for
//! render, `render --check`, `status`, the switch commands and the watcher alike.

use std::path::PathBuf;
use std::time::SystemTime;

use super::scan::{Entry, Listing};
use crate::loader::Loader;

/// What stands at a node's per-MAC entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// A link to the node's normal profile.
    Planned,
    /// A link to another described profile: an operator's switch, not drift.
    Switched(String),
    /// Nothing: the node boots `default`.
    Missing,
    /// A link to a described profile whose file does not exist.
    Dangling(String),
    /// A file, folder or special file where the link belongs (a hand edit).
    NotALink(Entry),
    /// A link leaving the folder (`../x`, `/etc/x`), which dnsmasq follows.
    Escapes(PathBuf),
    /// A link to a name in the folder that is not a described profile's file.
    Undescribed(String),
    /// A node's entries for different loaders point at different profiles (a switch that
    /// did not finish, or a hand edit), or not at the rendering with the node's extra kernel
    /// arguments: what the node boots depends on its loader.
    Mixed,
}

impl LinkState {
    /// Judges `found` as `loader`'s entry of a node whose normal profile is `normal`;
    /// `described` tells the described profiles, `present` whether a link target (a file name
    /// in the folder) is a file there.
    pub fn of(
        found: Option<&Entry>,
        loader: Loader,
        normal: &str,
        described: impl Fn(&str) -> bool,
        present: impl Fn(&str) -> bool,
    ) -> Self {
        let target = match found {
            None => return Self::Missing,
            Some(Entry::Link(target)) => target,
            Some(other) => return Self::NotALink(other.clone()),
        };
        let Some(file) = target.to_str().filter(|s| is_plain_name(s)) else {
            return Self::Escapes(target.clone());
        };
        let Some(name) = loader.profile_of(file).filter(|p| described(p)) else {
            return Self::Undescribed(file.to_string());
        };
        if !present(file) {
            Self::Dangling(name.to_string())
        } else if name == normal {
            Self::Planned
        } else {
            Self::Switched(name.to_string())
        }
    }

    /// Judges `loader`'s entry `name` of a node whose normal profile is `normal`, as its
    /// folder's `listing` has it: [`Self::of`], a link's target present when the listing
    /// holds a file of that name.
    pub fn listed(
        listing: &Listing,
        name: &str,
        loader: Loader,
        normal: &str,
        described: impl Fn(&str) -> bool,
    ) -> Self {
        Self::of(
            listing.get(name).map(|f| &f.entry),
            loader,
            normal,
            described,
            |file| listing.get(file).is_some_and(|f| f.entry == Entry::File),
        )
    }

    /// A node's entries (one per loader in use, in order) judged together: the first that is
    /// a problem, else [`Self::Mixed`] when they point at different profiles, else the first.
    pub fn of_node<'a>(entries: impl IntoIterator<Item = &'a Self> + Clone, normal: &str) -> Self {
        if let Some(problem) = entries.clone().into_iter().find(|e| e.is_problem()) {
            return problem.clone();
        }
        let mut profiles = entries.clone().into_iter().map(|e| e.profile(normal));
        let first = profiles.next().flatten();
        if profiles.any(|p| p != first) {
            return Self::Mixed;
        }
        entries.into_iter().next().cloned().unwrap_or(Self::Missing)
    }

    /// The profile a node's entries should all point at: that of the most recently switched
    /// entry pointing at a described profile (given with its link's mtime; on a tie the
    /// first): the last switch, even one a crash interrupted, and never an entry left behind
    /// in a loader's folder while that loader was out of use. Else `normal`.
    pub fn decision<'a>(
        entries: impl IntoIterator<Item = (&'a Self, Option<SystemTime>)>,
        normal: &'a str,
    ) -> &'a str {
        let mut best: Option<(&str, Option<SystemTime>)> = None;
        for (e, since) in entries {
            if let Some(p) = e.profile(normal) {
                if best.is_none_or(|(_, t)| since > t) {
                    best = Some((p, since));
                }
            }
        }
        best.map_or(normal, |(p, _)| p)
    }

    /// Whether something is wrong (a switch is not).
    pub fn is_problem(&self) -> bool {
        !matches!(self, Self::Planned | Self::Switched(_))
    }

    /// The described profile the link points at, if any (whether or not its file exists).
    pub fn profile<'a>(&'a self, normal: &'a str) -> Option<&'a str> {
        match self {
            Self::Planned => Some(normal),
            Self::Switched(p) | Self::Dangling(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the node is switched away from its normal profile `normal`, to another
    /// described profile (whether or not that profile's file exists).
    pub fn is_switched(&self, normal: &str) -> bool {
        self.profile(normal).is_some_and(|p| p != normal)
    }

    /// The problem's name in `status --json` (docs/cli.md).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Planned | Self::Switched(_) => "ok",
            Self::Missing => "no-link",
            Self::Dangling(_) => "dangling",
            Self::NotALink(_) => "not-a-link",
            Self::Escapes(_) => "escapes",
            Self::Undescribed(_) => "unknown-profile",
            Self::Mixed => "mixed",
        }
    }

    /// What the entry is, as switch output and the journal show it: the profile, or a
    /// description of what stands there; none when nothing does.
    pub fn shown(&self, normal: &str) -> Option<String> {
        match self {
            Self::Missing => None,
            Self::Mixed => Some("(entries disagree)".to_string()),
            Self::Planned => Some(normal.to_string()),
            Self::Switched(p) | Self::Dangling(p) => Some(p.clone()),
            Self::Undescribed(p) => Some(crate::output::escaped(p).into_owned()),
            Self::NotALink(e) => Some(e.describe()),
            Self::Escapes(t) => Some(Entry::Link(t.clone()).describe()),
        }
    }
}

/// A name inside the same folder: no `/`, not `.` or `..`, not empty.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::needless_pass_by_value)]
    fn judge(found: Option<Entry>) -> LinkState {
        LinkState::of(
            found.as_ref(),
            Loader::Pxelinux,
            "local",
            |p| ["local", "installer", "gone"].contains(&p),
            |f| f != "gone",
        )
    }

    #[allow(clippy::unnecessary_wraps)]
    fn link(t: &str) -> Option<Entry> {
        Some(Entry::Link(PathBuf::from(t)))
    }

    #[test]
    fn every_state_of_a_node_entry() {
        assert_eq!(judge(link("local")), LinkState::Planned);
        assert_eq!(
            judge(link("installer")),
            LinkState::Switched("installer".into())
        );
        assert_eq!(judge(None), LinkState::Missing);
        assert_eq!(judge(link("gone")), LinkState::Dangling("gone".into()));
        assert_eq!(judge(Some(Entry::Dir)), LinkState::NotALink(Entry::Dir));
        assert_eq!(
            judge(link("../../etc/passwd")),
            LinkState::Escapes("../../etc/passwd".into())
        );
        assert_eq!(judge(link("evil")), LinkState::Undescribed("evil".into()));
        let ok: Vec<bool> = [link("local"), link("installer"), None, link("gone")]
            .into_iter()
            .map(|f| judge(f).is_problem())
            .collect();
        assert_eq!(ok, [false, false, true, true]);
    }

    #[test]
    fn a_node_is_judged_by_all_its_entries() {
        let installer = LinkState::Switched("installer".into());
        let verdict = |e: &[LinkState]| LinkState::of_node(e, "local");
        assert_eq!(
            verdict(&[LinkState::Planned, LinkState::Planned]),
            LinkState::Planned
        );
        assert_eq!(verdict(&[installer.clone(), installer.clone()]), installer);
        assert_eq!(
            verdict(&[installer.clone(), LinkState::Planned]),
            LinkState::Mixed
        );
        assert_eq!(
            verdict(&[LinkState::Planned, LinkState::Missing]),
            LinkState::Missing
        );
        assert_eq!(
            verdict(&[LinkState::Missing, LinkState::Dangling("x".into())]),
            LinkState::Missing
        );
        let (old, new) = (
            Some(SystemTime::UNIX_EPOCH),
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1)),
        );
        let decide = |e: &[(LinkState, Option<SystemTime>)]| {
            LinkState::decision(e.iter().map(|(s, t)| (s, *t)), "local").to_string()
        };
        assert_eq!(
            decide(&[(LinkState::Missing, new), (installer.clone(), old)]),
            "installer"
        );
        assert_eq!(decide(&[(LinkState::Missing, new)]), "local");
        // The newest switch wins, wherever its loader comes in the order.
        assert_eq!(
            decide(&[(installer.clone(), old), (LinkState::Planned, new)]),
            "local"
        );
        assert_eq!(
            decide(&[(installer.clone(), new), (LinkState::Planned, old)]),
            "installer"
        );
        assert_eq!(
            decide(&[(installer.clone(), old), (LinkState::Planned, old)]),
            "installer"
        );
        let grub = LinkState::of(
            Some(&Entry::Link(PathBuf::from("installer.cfg"))),
            Loader::Grub,
            "local",
            |p| p == "installer",
            |_| true,
        );
        assert_eq!(grub, installer);
        let bare = LinkState::of(
            Some(&Entry::Link(PathBuf::from("installer"))),
            Loader::Grub,
            "local",
            |p| p == "installer",
            |_| true,
        );
        assert_eq!(bare, LinkState::Undescribed("installer".into()));
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("installer"));
        for bad in ["", ".", "..", "../etc/shadow", "/etc/shadow", "a/b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
