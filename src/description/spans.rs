//! Where each value of a YAML document is: key paths like `nodes[2].mac` to line and column;
//! and the document itself, read leniently, for reporting every problem of a refused one.
//!
//! serde gives typed values without positions; this index is built from the YAML events,
//! only when there are problems to report, so loading a valid description never pays for it.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

use crate::diagnostic::Position;

/// Positions of every value and mapping key in a document.
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
    /// Every key given twice in one mapping, in file order.
    pub duplicates: Vec<Duplicate>,
    /// The first document as values, a duplicate key's last value kept; none after a syntax error.
    pub document: Option<Value>,
}

/// A key given a second time in the same mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The key's path, like `profiles.local`.
    pub path: String,
    pub key: String,
    pub first: Position,
    pub again: Position,
}

impl Spans {
    /// Indexes `text`; a syntax error stops the index where it occurs.
    pub fn index(text: &str) -> Self {
        Self::load(text, Builder::default())
    }

    /// Indexes `text`, finds its duplicate keys and reads its document, plain scalars
    /// resolved as `serde_yaml` resolves them.
    pub fn read(text: &str) -> Self {
        Self::load(
            text,
            Builder {
                read: true,
                ..Builder::default()
            },
        )
    }

    fn load(text: &str, mut builder: Builder) -> Self {
        // A syntax error is reported by serde_yaml with its own position; what was indexed
        // before it is still useful.
        let loaded = Parser::new_from_str(text).load(&mut builder, false);
        let mut spans = builder.spans;
        if loaded.is_err() {
            spans.document = None;
        }
        spans
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Position> {
        self.values.get(path).copied()
    }

    /// Where the key naming `path` is, falling back to its value.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    /// The nearest located ancestor of `path` (itself included).
    pub fn nearest(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(pos) = self.value(path) {
                return Some(pos);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    Map {
        path: String,
        /// The name of the key whose value comes next.
        key: Option<String>,
        /// Read mode: that key as a value, the mapping so far and each key's place.
        doc_key: Option<Value>,
        map: Mapping,
        seen: Vec<(String, Position)>,
        anchor: usize,
    },
    Seq {
        path: String,
        next: usize,
        seq: Vec<Value>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    /// Whether the document is read (and duplicate keys found), not only indexed.
    read: bool,
    spans: Spans,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
}

pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() || key.is_empty() {
        format!("{parent}{key}")
    } else {
        format!("{parent}.{key}")
    }
}

fn position(mark: Marker) -> Position {
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// A scalar as `serde_yaml` would read it: plain ones resolved to null, bools and numbers by
/// its own rules (`0x1F` is a number, `007` a string).
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    // yaml-rust2's resolution is cheap and says which scalars may not be strings; serde_yaml
    // decides those.
    let maybe = match Yaml::from_str(&text) {
        Yaml::Null => return Value::Null,
        Yaml::Integer(_) | Yaml::Real(_) | Yaml::Boolean(_) => true,
        _ => matches!(text.as_str(), "True" | "TRUE" | "False" | "FALSE"),
    };
    match serde_yaml::from_str::<Value>(&text) {
        Ok(v @ (Value::Bool(_) | Value::Number(_))) if maybe => v,
        _ => Value::String(text),
    }
}

impl Builder {
    /// Places a node that starts at `mark`; returns its path, or `None` when it is a mapping key.
    fn place(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Seq { path, next, .. }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                p
            }
            Some(Frame::Map {
                path, key, seen, ..
            }) => {
                if let Some(k) = key.take() {
                    join(path, &k)
                } else {
                    let name = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_string(),
                    };
                    let full = join(path, &name);
                    if self.read {
                        match seen.iter().find(|(k, _)| *k == name) {
                            Some((_, first)) => self.spans.duplicates.push(Duplicate {
                                path: full.clone(),
                                key: name.clone(),
                                first: *first,
                                again: position(mark),
                            }),
                            None => seen.push((name.clone(), position(mark))),
                        }
                    }
                    self.spans.keys.insert(full, position(mark));
                    *key = Some(name);
                    return None;
                }
            }
        };
        self.spans.values.insert(path.clone(), position(mark));
        Some(path)
    }

    /// In read mode, adds a finished node to its parent (as a key, a value or an item), or
    /// makes it the document.
    fn finish(&mut self, value: Value, anchor: usize) {
        if !self.read {
            return;
        }
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.spans.document.get_or_insert(value);
            }
            Some(Frame::Seq { seq, .. }) => seq.push(value),
            Some(Frame::Map { doc_key, map, .. }) => match doc_key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => *doc_key = Some(value),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(..) | Event::Alias(_) => {
                self.place(&ev, mark);
                if !self.read {
                    return;
                }
                match ev {
                    Event::Scalar(text, style, anchor, _) => {
                        self.finish(scalar(text, style), anchor);
                    }
                    Event::Alias(id) => {
                        let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                        self.finish(value, 0);
                    }
                    _ => {}
                }
            }
            Event::MappingStart(anchor, _) => {
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    doc_key: None,
                    map: Mapping::new(),
                    seen: Vec::new(),
                    anchor,
                });
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Seq {
                    path,
                    next: 0,
                    seq: Vec::new(),
                    anchor,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Map { map, anchor, .. }) => self.finish(Value::Mapping(map), anchor),
                Some(Frame::Seq { seq, anchor, .. }) => {
                    self.finish(Value::Sequence(seq), anchor);
                }
                None => {}
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "server:\n  hostname: node0\nnodes:\n  - name: node1\n    mac: aa:bb\n  - {name: node2, mac: cc}\nprofiles:\n  arch:\n    kernel: /k\n";

    #[test]
    fn locates_values_and_keys() {
        let s = Spans::index(DOC);
        let at = |line, column| Some(Position { line, column });
        assert_eq!(s.value("server.hostname"), at(2, 13));
        assert_eq!(s.value("nodes[0].mac"), at(5, 10));
        assert_eq!(s.value("nodes[1].mac"), at(6, 24));
        assert_eq!(s.key("profiles.arch"), at(8, 3));
        assert_eq!(s.value("profiles.arch.kernel"), at(9, 13));
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth_in_block_and_flow_style() {
        let s = Spans::read(
            "a: 1\nprofiles: {local: {kernel: /k}, local: {kernel: /evil}}\nb:\n  c: 1\n  c: 2\na: 3\n",
        );
        let found: Vec<(&str, usize, usize)> = s
            .duplicates
            .iter()
            .map(|d| (d.path.as_str(), d.first.line, d.again.line))
            .collect();
        assert_eq!(
            found,
            [("profiles.local", 2, 2), ("b.c", 4, 5), ("a", 1, 6)]
        );
        assert_eq!(s.duplicates[0].first.column, 12);
        assert_eq!(s.duplicates[0].again.column, 33);
    }

    #[test]
    fn the_document_is_read_like_serde_yaml_reads_it() {
        let text = "a: [1, 2.5, true, ~, '10', x, 007, 0x1F, 1e3, +5, 00:11]\nb: &x {c: yes}\nd: *x\ne: 1\ne: 2\n";
        let s = Spans::read(text);
        let expected: Value = serde_yaml::from_str(
            "a: [1, 2.5, true, ~, '10', x, 007, 0x1F, 1e3, +5, 00:11]\nb: {c: yes}\nd: {c: yes}\ne: 2\n",
        )
        .unwrap();
        assert_eq!(s.document, Some(expected));
        assert_eq!(Spans::read("a: [\n").document, None);
    }

    #[test]
    fn nearest_falls_back_to_ancestors() {
        let s = Spans::index(DOC);
        assert_eq!(s.nearest("nodes[0].ip"), s.value("nodes[0]"));
        assert_eq!(s.nearest("nodes[9].ip"), s.value("nodes"));
    }
}
