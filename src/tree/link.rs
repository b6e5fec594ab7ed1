//! The node-link model: what a node's per-MAC entry on disk means, judged once, here, for
//! render, `render --check`, `status`, the switch commands and the watcher alike.

use std::path::PathBuf;

use super::scan::Entry;

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
    /// A link to a name in the folder that is not a described profile.
    Undescribed(String),
}

impl LinkState {
    /// Judges `found` as the entry of a node whose normal profile is `normal`; `described`
    /// tells the described profiles, `present` which of them have a file.
    pub fn of(
        found: Option<&Entry>,
        normal: &str,
        described: impl Fn(&str) -> bool,
        present: impl Fn(&str) -> bool,
    ) -> Self {
        let target = match found {
            None => return Self::Missing,
            Some(Entry::Link(target)) => target,
            Some(other) => return Self::NotALink(other.clone()),
        };
        let Some(name) = target.to_str().filter(|s| is_plain_name(s)) else {
            return Self::Escapes(target.clone());
        };
        if !described(name) {
            Self::Undescribed(name.to_string())
        } else if !present(name) {
            Self::Dangling(name.to_string())
        } else if name == normal {
            Self::Planned
        } else {
            Self::Switched(name.to_string())
        }
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
        }
    }

    /// What the entry is, as switch output and the journal show it: the profile, or a
    /// description of what stands there; none when nothing does.
    pub fn shown(&self, normal: &str) -> Option<String> {
        match self {
            Self::Missing => None,
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
            "local",
            |p| ["local", "installer", "gone"].contains(&p),
            |p| p != "gone",
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
    fn plain_names() {
        assert!(is_plain_name("installer"));
        for bad in ["", ".", "..", "../etc/shadow", "/etc/shadow", "a/b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
