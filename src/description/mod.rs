//! The cluster description: YAML text in, checked [`Cluster`] out, or every problem with its place.

mod model;
mod spans;
mod validate;

use std::path::Path;

use anyhow::{Context as _, Result};

pub use model::*;
pub use validate::shown;

use crate::cluster::Cluster;
use crate::diagnostic::{Diagnostic, InvalidDescription, Position};
use spans::Spans;

/// Parses and checks a description; `base_dir` anchors its relative paths.
pub fn parse(text: &str, base_dir: &Path) -> Result<Cluster, Vec<Diagnostic>> {
    if text.trim().is_empty() {
        return Err(vec![Diagnostic::new("", "the description is empty")
            .at(Some(Position { line: 1, column: 1 }))
            .hint("describe at least `server`, `profiles` and `roles`; examples/portacluster.yaml is a complete one")]);
    }
    let raw: Result<RawDescription, _> = serde_yaml::from_str(text);
    crate::timing::phase("yaml");
    let raw = raw.map_err(|e| {
        // serde_yaml places its first error precisely; the others come from reading each
        // section on its own, placed by section.
        let first = yaml_error(&e);
        let mut all = shape_errors(text);
        all.retain(|d| d.message != first.message);
        all.push(first);
        all.sort_by_key(|d| d.position);
        all
    })?;
    let checked = validate::validate(&raw, base_dir);
    crate::timing::phase("validate");
    checked.map_err(|mut diags| {
        let spans = Spans::index(text);
        for d in &mut diags {
            d.position = if d.on_key {
                spans.key(&d.path)
            } else {
                spans.value(&d.path)
            }
            .or_else(|| spans.nearest(&d.path));
        }
        diags.sort_by_key(|d| d.position);
        diags
    })
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

/// Every type error and unknown key of a syntactically valid document, found by reading each
/// section, profile, reservation and node on its own (serde stops at the first error).
fn shape_errors(text: &str) -> Vec<Diagnostic> {
    use serde::de::DeserializeOwned;
    use serde_yaml::Value;

    fn check<T: DeserializeOwned>(
        path: &str,
        value: &Value,
        spans: &Spans,
        out: &mut Vec<Diagnostic>,
    ) {
        if let Err(e) = serde_yaml::from_value::<T>(value.clone()) {
            let mut d = yaml_error(&e);
            let field = d
                .message
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next());
            d.position = field
                .and_then(|f| spans.key(&format!("{path}.{f}")))
                .or_else(|| spans.nearest(path));
            d.path = path.to_string();
            out.push(d);
        }
    }

    fn items<T: DeserializeOwned>(
        path: &str,
        value: &Value,
        spans: &Spans,
        out: &mut Vec<Diagnostic>,
    ) {
        match value {
            Value::Sequence(seq) => {
                for (i, item) in seq.iter().enumerate() {
                    check::<T>(&format!("{path}[{i}]"), item, spans, out);
                }
            }
            other => check::<Vec<T>>(path, other, spans, out),
        }
    }

    let Ok(Value::Mapping(top)) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let spans = Spans::index(text);
    let mut out = Vec::new();
    for required in ["server", "profiles", "roles"] {
        if !top.contains_key(required) {
            out.push(
                Diagnostic::new("", format!("missing field `{required}`"))
                    .at(Some(Position { line: 1, column: 1 }))
                    .hint("add the key; docs/configuration.md says what it means"),
            );
        }
    }
    for (key, value) in &top {
        let Some(key) = key.as_str() else {
            out.push(Diagnostic::new("", "a top-level key is not a string").at(spans.nearest("")));
            continue;
        };
        match key {
            "server" => check::<RawServer>(key, value, &spans, &mut out),
            "paths" => check::<RawPaths>(key, value, &spans, &mut out),
            "dhcp" => check::<RawDhcp>(key, value, &spans, &mut out),
            "http" => check::<RawHttp>(key, value, &spans, &mut out),
            "roles" => check::<RawRoles>(key, value, &spans, &mut out),
            "templates" => check::<Option<std::path::PathBuf>>(key, value, &spans, &mut out),
            "reservations" => items::<RawReservation>(key, value, &spans, &mut out),
            "nodes" => items::<RawNode>(key, value, &spans, &mut out),
            "daemons" => check::<RawDaemons>(key, value, &spans, &mut out),
            "lifecycle" => check::<RawLifecycle>(key, value, &spans, &mut out),
            "profiles" => match value {
                Value::Mapping(profiles) => {
                    for (name, profile) in profiles {
                        let name = name.as_str().unwrap_or("?");
                        check::<RawProfile>(&format!("profiles.{name}"), profile, &spans, &mut out);
                    }
                }
                other => check::<std::collections::BTreeMap<String, RawProfile>>(
                    key, other, &spans, &mut out,
                ),
            },
            other => out.push(
                Diagnostic::new("", format!("unknown field `{other}`"))
                    .at(spans.key(other))
                    .hint("check the spelling; docs/configuration.md lists every key"),
            ),
        }
    }
    out
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
        assert_eq!(d[1].path, "nodes[1]");
        assert_eq!(d[2].path, "http");
        assert_eq!(d[3].message, "unknown field `extra`");
        assert_eq!(d[3].position, Some(Position { line: 9, column: 1 }));
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
