//! The cluster description: YAML text in, checked [`Cluster`] out, or every problem with its place.

mod loaders;
mod model;
mod pieces;
mod spans;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};

pub use model::*;
pub use validate::{check_profile_name, shown};

use crate::cluster::Cluster;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, InvalidDescription, Position};
use spans::Spans;

/// Parses and checks a description; `base_dir` anchors its relative paths.
pub fn parse(text: &str, base_dir: &Path) -> Result<Cluster, Vec<Diagnostic>> {
    if text.trim().is_empty() {
        return Err(vec![Diagnostic::new("", "the description is empty")
            .at(Some(Position { line: 1, column: 1 }))
            .hint("describe at least `server`, `profiles` and `roles`; examples/portacluster.yaml is a complete one")]);
    }
    if let Some(too_deep) = spans::too_deep(text) {
        return Err(vec![too_deep]);
    }
    let raw: Result<RawDescription, _> =
        pieces::read(text).map_or_else(|| serde_yaml::from_str(text), Ok);
    crate::timing::phase("yaml");
    let raw = raw.map_err(|e| every_problem(text, &e, base_dir))?;
    let checked = validate::validate(&raw, base_dir);
    crate::timing::phase("validate");
    checked.map_err(|diags| {
        let spans = Spans::index(text);
        let mut diags: Vec<Diagnostic> = diags.into_iter().map(|d| located(d, &spans)).collect();
        diags.sort_by_key(|d| d.position);
        diags
    })
}

/// `d` placed at its key or value.
fn located(mut d: Diagnostic, spans: &Spans) -> Diagnostic {
    d.position = if d.on_key {
        spans.key(&d.path)
    } else {
        spans.value(&d.path)
    }
    .or_else(|| spans.nearest(&d.path));
    d
}

/// Each problem's offending value in the text checked (its key, for a problem with a key),
/// as JSON; none where the key path is not in it (a missing key) or the text is no YAML.
pub fn offending_values(invalid: &InvalidDescription) -> Vec<Option<serde_json::Value>> {
    let root: Option<serde_yaml::Value> = serde_yaml::from_str(&invalid.text).ok();
    invalid
        .diagnostics
        .iter()
        .map(|d| root.as_ref().and_then(|r| value_in(d, r)))
        .collect()
}

/// Whether YAML reads `s`, written plain, back as the string `s`.
pub fn reads_as_string(s: &str) -> bool {
    serde_yaml::from_str::<serde_yaml::Value>(s).ok()
        == Some(serde_yaml::Value::String(s.to_string()))
}

/// The offending value in the description `root` (its key, for a problem with a key), as
/// JSON; none when the key path is not in it (a missing key).
fn value_in(d: &Diagnostic, root: &serde_yaml::Value) -> Option<serde_json::Value> {
    let mut value = root;
    let mut key = None;
    for segment in d.path.split('.').filter(|s| !s.is_empty()) {
        let mut parts = segment.split('[');
        let name = parts.next().unwrap_or_default();
        if !name.is_empty() {
            key = Some(name);
            value = value.get(name)?;
        }
        for index in parts {
            value = value.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    if d.on_key {
        return key.map(|k| serde_json::Value::String(k.to_string()));
    }
    serde_json::to_value(value).ok()
}

/// Reads, parses and checks the description at `path`.
pub fn from_file(path: &Path) -> Result<Cluster> {
    let text = read(path)?;
    check(path, &text)
}

/// Parses and checks `text`, read from `path`; every problem is reported against `path`.
fn check(path: &Path, text: &str) -> Result<Cluster> {
    let base = path.parent().unwrap_or(Path::new("."));
    parse(text, base).map_err(|diagnostics| {
        InvalidDescription {
            file: path.to_path_buf(),
            text: text.to_string(),
            diagnostics,
        }
        .into()
    })
}

fn read(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the cluster description `{}`; pass `--config PATH` or set `PXECTL_CONFIG`",
            path.display()
        )
    })?;
    crate::timing::phase("read");
    Ok(text)
}

/// Every problem of a description `serde_yaml` refused, in file order: a syntax error, or every
/// duplicate key, unknown key and type error together with the problems `validate` finds in
/// what could be read around them.
fn every_problem(text: &str, error: &serde_yaml::Error, base_dir: &Path) -> Vec<Diagnostic> {
    let spans = Spans::read(text);
    if let Some(too_big) = spans.too_big {
        return vec![too_big];
    }
    let mut all: Vec<Diagnostic> = spans.duplicates.iter().map(duplicate_key).collect();
    match &spans.document {
        None => all.push(syntax_error(text, error)),
        Some(document) => {
            let mut reader = Lenient {
                spans: &spans,
                diags: Vec::new(),
                unread: Vec::new(),
            };
            if let Some(raw) = reader.description(document) {
                let checked = validate::validate(&raw, base_dir).err().unwrap_or_default();
                all.extend(
                    checked
                        .into_iter()
                        .filter(|d| !reader.unread.iter().any(|u| within(&d.path, u)))
                        .map(|d| located(d, &spans)),
                );
            }
            all.append(&mut reader.diags);
        }
    }
    if all.is_empty() {
        all.push(yaml_error(error));
    }
    all.sort_by_key(|d| d.position);
    all
}

/// Whether `path` is `ancestor` or below it.
fn within(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn duplicate_key(d: &spans::Duplicate) -> Diagnostic {
    Diagnostic::new(&d.path, format!("key {} is given twice", shown(&d.key)))
        .at(Some(d.again))
        .note(format!(
            "first given at line {}, column {}",
            d.first.line, d.first.column
        ))
        .hint("remove or rename one of them: YAML would silently keep only the last")
}

/// A syntax error; a tab in the indentation up to it is named as the cause.
fn syntax_error(text: &str, error: &serde_yaml::Error) -> Diagnostic {
    let d = yaml_error(error);
    let last = d.position.map_or(usize::MAX, |p| p.line);
    let tab = text.lines().take(last).enumerate().find_map(|(i, line)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        indent.find('\t').map(|c| Position {
            line: i + 1,
            column: c + 1,
        })
    });
    match tab {
        Some(at) => Diagnostic::new("", "the indentation has a tab")
            .at(Some(at))
            .hint("YAML indents with spaces only: replace the tab with spaces"),
        None => d,
    }
}

/// Reads a document `serde_yaml` refused piece by piece: each unknown key or mistyped value is
/// reported, then left out so the rest can still be read; a piece that cannot be read at all
/// (a node without `mac`) is replaced by a blank one whose own problems are not reported.
struct Lenient<'a> {
    spans: &'a Spans,
    diags: Vec<Diagnostic>,
    /// Paths of the pieces replaced by blanks.
    unread: Vec<String>,
}

impl Lenient<'_> {
    fn description(&mut self, document: &serde_yaml::Value) -> Option<RawDescription> {
        use serde_yaml::Value;
        let Value::Mapping(top) = document else {
            self.diags.push(
                Diagnostic::new("", "the description is not a mapping of keys to values")
                    .at(Some(Position { line: 1, column: 1 }))
                    .hint("start with `server:`; examples/portacluster.yaml is a complete description"),
            );
            return None;
        };
        let mut raw = RawDescription::default();
        for required in ["server", "profiles", "roles"] {
            if !top.contains_key(required) {
                self.unread.push(required.to_string());
                self.diags.push(
                    Diagnostic::new("", format!("missing field `{required}`"))
                        .at(Some(Position { line: 1, column: 1 }))
                        .hint("add the key; docs/configuration.md says what it means"),
                );
            }
        }
        for (key, value) in top {
            let Some(key) = key.as_str() else {
                self.diags.push(
                    Diagnostic::new("", "a top-level key is not a string")
                        .at(self.spans.nearest(""))
                        .hint("docs/configuration.md lists every key"),
                );
                continue;
            };
            match key {
                "server" => raw.server = self.read(key, value),
                "paths" => raw.paths = self.read(key, value),
                "dhcp" => raw.dhcp = self.read(key, value),
                "http" => raw.http = self.read(key, value),
                "roles" => raw.roles = self.read(key, value),
                "templates" => raw.templates = self.read(key, value),
                "reservations" => raw.reservations = self.items(key, value),
                "nodes" => raw.nodes = self.items(key, value),
                "daemons" => raw.daemons = self.read(key, value),
                "lifecycle" => raw.lifecycle = self.read(key, value),
                "loaders" => raw.loaders = self.read(key, value),
                "profiles" => raw.profiles = self.entries(key, value),
                "groups" => raw.groups = self.entries(key, value),
                other => self.diags.push(
                    Diagnostic::new("", format!("unknown field `{other}`"))
                        .at(self.spans.key(other))
                        .hint("check the spelling; docs/configuration.md lists every key"),
                ),
            }
        }
        Some(raw)
    }

    /// The entries of the map at `path`, each read on its own.
    fn entries<T: DeserializeOwned + Default>(
        &mut self,
        path: &str,
        value: &serde_yaml::Value,
    ) -> BTreeMap<String, T> {
        match value {
            serde_yaml::Value::Mapping(map) => map
                .iter()
                .map(|(name, entry)| {
                    let name = name.as_str().unwrap_or("?").to_string();
                    let entry = self.read(&format!("{path}.{name}"), entry);
                    (name, entry)
                })
                .collect(),
            other => self.read(path, other),
        }
    }

    /// The items of the list at `path`, each read on its own.
    fn items<T: DeserializeOwned + Default>(
        &mut self,
        path: &str,
        value: &serde_yaml::Value,
    ) -> Vec<T> {
        match value {
            serde_yaml::Value::Sequence(seq) => seq
                .iter()
                .enumerate()
                .map(|(i, item)| self.read(&format!("{path}[{i}]"), item))
                .collect(),
            other => self.read(path, other),
        }
    }

    /// `value` read as a `T`, each problem reported and its key left out until it reads; a
    /// blank `T` when it cannot.
    fn read<T: DeserializeOwned + Default>(&mut self, path: &str, value: &serde_yaml::Value) -> T {
        let mut value = value.clone();
        // Keys left out, by mapping, and whether they were unknown: a `missing field` in that
        // mapping is no news (the unknown key is likely the misspelt one).
        let mut dropped: Vec<(String, String, bool)> = Vec::new();
        loop {
            if let Ok(t) = serde_yaml::from_value::<T>(value.clone()) {
                return t;
            }
            // Reading from text, not from the value, gives the error's path within `value`.
            let text = serde_yaml::to_string(&value).unwrap_or_default();
            let error = match serde_yaml::from_str::<T>(&text) {
                Ok(t) => return t,
                Err(e) => e,
            };
            let mut d = yaml_error(&error);
            let mapping = std::mem::take(&mut d.path);
            let full = spans::join(path, &mapping);
            let field = |prefix: &str| {
                d.message
                    .strip_prefix(prefix)
                    .and_then(|m| m.split('`').next())
                    .map(str::to_string)
            };
            let unknown = field("unknown field `");
            let missing = field("missing field `");
            let news = missing.is_none_or(|m| {
                !dropped
                    .iter()
                    .any(|(map, key, unknown)| *map == mapping && (*unknown || *key == m))
            });
            let leave_out = if let Some(key) = unknown {
                d.position = self.spans.key(&spans::join(&full, &key));
                Some((mapping.clone(), key, true))
            } else {
                d.position = self
                    .spans
                    .value(&full)
                    .or_else(|| self.spans.nearest(&full));
                // A bad list item leaves its whole list out.
                let (parent, key) = mapping.rsplit_once('.').unwrap_or(("", mapping.as_str()));
                let key = key.split('[').next().unwrap_or(key);
                (!key.is_empty()).then(|| (parent.to_string(), key.to_string(), false))
            };
            if news {
                d.path = full;
                self.diags.push(d);
            }
            match leave_out {
                Some(left) if remove(&mut value, &spans::join(&left.0, &left.1)) => {
                    dropped.push(left);
                }
                _ => {
                    self.unread.push(path.to_string());
                    return T::default();
                }
            }
        }
    }
}

/// Removes the key at `path` (like `range.start`) from `value`.
fn remove(value: &mut serde_yaml::Value, path: &str) -> bool {
    let keys: Vec<&str> = path.split('.').collect();
    let mut at = value;
    for key in &keys[..keys.len() - 1] {
        match at.get_mut(*key) {
            Some(next) => at = next,
            None => return false,
        }
    }
    at.as_mapping_mut()
        .and_then(|m| m.remove(keys[keys.len() - 1]))
        .is_some()
}

/// A `serde_yaml` error (syntax, type, unknown key) as a diagnostic.
fn yaml_error(e: &serde_yaml::Error) -> Diagnostic {
    let mut text = e.to_string();
    let position = e.location().map(|l| Position {
        line: l.line(),
        column: l.column(),
    });
    if let Some(cut) = text.rfind(" at line ") {
        text.truncate(cut);
    }
    // serde_yaml prefixes nested errors with their key path: `nodes[2]: unknown field ...`.
    let (path, message) = match text.split_once(": ") {
        Some((p, m)) if !p.is_empty() && !p.contains(' ') => (p.to_string(), m.to_string()),
        _ => (String::new(), text),
    };
    let hint = if message.starts_with("unknown field") {
        "check the spelling; docs/configuration.md lists every key"
    } else if message.starts_with("missing field") {
        "add the key; docs/configuration.md says what it means"
    } else if message.starts_with("unknown variant") {
        "use one of the values listed; docs/configuration.md says what each means"
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "docs/configuration.md gives each key's type"
    } else {
        "fix the YAML syntax at this place"
    };
    Diagnostic::new(path, message).at(position).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "server: {hostname: node0, address: 10.0.0.1/24, interface: eth0}\nprofiles:\n  local: {kernel: /k}\nroles: {normal: local, reimage: local}\n";

    fn errors(text: &str) -> Vec<Diagnostic> {
        parse(text, Path::new(".")).unwrap_err()
    }

    #[test]
    fn minimal_description_uses_defaults() {
        let c = parse(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(c.paths.dnsmasq_conf, Path::new("/etc/dnsmasq.conf"));
        assert_eq!(c.http.url, "http://10.0.0.1");
        assert_eq!(c.profiles["local"].label, "local");
        assert!(c.nodes.is_empty());
    }

    #[test]
    fn unknown_key_is_located() {
        let d = errors(&format!(
            "{MINIMAL}nodes:\n  - name: n1\n    macc: aa:bb:cc:dd:ee:ff\n"
        ));
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("unknown field `macc`"), "{:?}", d[0]);
        assert_eq!(d[0].path, "nodes[0]");
        assert_eq!(d[0].position, Some(Position { line: 7, column: 5 }));
    }

    #[test]
    fn every_shape_error_is_reported_at_once() {
        let d = errors(&format!(
            "{MINIMAL}nodes:\n  - {{name: n1, macc: aa:bb:cc:dd:ee:ff}}\n  - {{name: n2, mac: aa:bb:cc:dd:ee:02, groups: rack1}}\nhttp: {{port: eighty}}\nextra: 1\n"
        ));
        let found: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(d.len(), 4, "{found:#?}");
        assert!(
            d[0].message.starts_with("unknown field `macc`"),
            "{found:#?}"
        );
        assert_eq!(
            d[0].position,
            Some(Position {
                line: 6,
                column: 16
            })
        );
        assert_eq!(d[0].path, "nodes[0]");
        assert_eq!(d[1].path, "nodes[1].groups");
        assert_eq!(d[2].path, "http.port");
        assert_eq!(d[3].message, "unknown field `extra`");
        assert_eq!(d[3].position, Some(Position { line: 9, column: 1 }));
    }

    #[test]
    fn a_bad_value_is_reported_once_and_left_out() {
        let d = errors(&format!(
            "{MINIMAL}daemons:\n  nginx:\n    reload:\n      command: {{reload: [[x]], restart: [y]}}\n  timeout: [1]\n"
        ));
        let found: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "daemons.nginx.reload.command.reload[0]",
                    "invalid type: sequence, expected a string"
                ),
                (
                    "daemons.timeout",
                    "invalid type: sequence, expected a string"
                ),
            ]
        );
    }

    #[test]
    fn syntax_error_is_located() {
        let d = errors("server: [\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].position.is_some(), "{:?}", d[0]);
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = format!(
            "{MINIMAL}nodes:\n  - {{name: n1, mac: zz}}\n  - {{name: -bad, mac: aa:bb:cc:dd:ee:ff}}\n  - {{name: n3, mac: AA-BB-CC-DD-EE-FF}}\n"
        );
        let d = errors(&text);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["nodes[0].mac", "nodes[1].name", "nodes[2].mac"],
            "{d:#?}"
        );
        assert_eq!(
            d[2].position,
            Some(Position {
                line: 8,
                column: 21
            })
        );
        assert!(d[2].note.as_deref().unwrap().contains("nodes[1].mac"));
    }
}

#[cfg(test)]
mod documentation {
    use super::*;

    /// Every field of `T`, from serde's own message for an unknown key.
    fn fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let err = serde_yaml::from_str::<T>("pxectl_no_such_key: 1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let list = err
            .split("expected one of ")
            .nth(1)
            .or_else(|| err.split("expected ").nth(1))
            .unwrap_or_default();
        list.split(", ")
            .filter_map(|f| f.split('`').nth(1))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_key_of_the_description_is_documented() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/configuration.md"
        ))
        .unwrap();
        let all = [
            ("", fields::<RawDescription>()),
            ("server", fields::<RawServer>()),
            ("paths", fields::<RawPaths>()),
            ("dhcp", fields::<RawDhcp>()),
            ("dhcp.range", fields::<RawRange>()),
            ("http", fields::<RawHttp>()),
            ("profiles", fields::<RawProfile>()),
            ("roles", fields::<RawRoles>()),
            ("reservations", fields::<RawReservation>()),
            ("nodes", fields::<RawNode>()),
            ("loaders", fields::<RawLoaders>()),
            ("groups", fields::<RawGroup>()),
            ("daemons", fields::<RawDaemons>()),
            ("daemons.*", fields::<RawDaemon>()),
            ("reload", fields::<RawReload>()),
            ("pid_file", fields::<RawPidFile>()),
            ("command", fields::<RawCommands>()),
            ("lifecycle", fields::<RawLifecycle>()),
        ];
        let mut missing = Vec::new();
        for (section, keys) in &all {
            assert!(!keys.is_empty(), "no fields found for `{section}`");
            for key in keys {
                if !doc.contains(&format!("`{key}`")) && !doc.contains(&format!(".{key}`")) {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from docs/configuration.md: {missing:?}"
        );
    }
}
