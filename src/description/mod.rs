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
    let raw: RawDescription = serde_yaml::from_str(text).map_err(|e| vec![yaml_error(&e)])?;
    validate::validate(&raw, base_dir).map_err(|mut diags| {
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
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the cluster description `{}`; pass `--config PATH` or set `PXECTL_CONFIG`",
            path.display()
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|diagnostics| {
        InvalidDescription {
            file: path.to_path_buf(),
            diagnostics,
        }
        .into()
    })
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
