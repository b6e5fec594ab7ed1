//! Where each value of a YAML document is: key paths like `nodes[2].mac` to line and column;
//! and the document itself, read leniently, for reporting every problem of a refused one.
//!
//! serde gives typed values without positions; this index is built from the YAML events,
//! only when there are problems to report, so loading a valid description never pays for it.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

use crate::diagnostic::{Diagnostic, Position};

/// How deep collections may nest, as in `serde_yaml`.
pub const MAX_DEPTH: usize = 128;
/// How many values the aliases of a refused description may copy in all while it is read
/// leniently (`serde_yaml` refuses an alias bomb with its own limit, but this reader copies
/// each alias's value).
pub const MAX_ALIAS_COPIES: usize = 1_000_000;

/// Positions of every value and mapping key in a document.
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
    /// Every key given twice in one mapping, in file order.
    pub duplicates: Vec<Duplicate>,
    /// The first document as values, a duplicate key's last value kept; none after a syntax error.
    pub document: Option<Value>,
    /// Why reading stopped early: nesting deeper than [`MAX_DEPTH`] or aliases copying more
    /// than [`MAX_ALIAS_COPIES`] values. Nothing else in a document that big is reported.
    pub too_big: Option<Diagnostic>,
    /// Whether a syntax error stopped the reading.
    syntax_error: bool,
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
        // Events are pulled here rather than through `Parser::load`, which recurses per level,
        // so that reading stops as soon as a limit is passed. A syntax error is reported by
        // serde_yaml with its own position; what was indexed before it is still useful.
        let mut parser = Parser::new_from_str(text);
        let complete = loop {
            match parser.next_token() {
                Ok((Event::DocumentEnd | Event::StreamEnd, _)) => break true,
                Ok((ev, mark)) => builder.on_event(ev, mark),
                Err(_) => {
                    builder.spans.syntax_error = true;
                    break false;
                }
            }
            if builder.spans.too_big.is_some() {
                break false;
            }
        };
        let mut spans = builder.spans;
        if !complete {
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
        /// How many values the mapping holds, itself and aliases' copies included.
        size: usize,
    },
    Seq {
        path: String,
        next: usize,
        seq: Vec<Value>,
        anchor: usize,
        size: usize,
    },
}

#[derive(Default)]
struct Builder {
    /// Whether the document is read (and duplicate keys found), not only indexed.
    read: bool,
    spans: Spans,
    stack: Vec<Frame>,
    /// Each anchored value, with its size.
    anchors: HashMap<usize, (Value, usize)>,
    /// How many values aliases have copied so far.
    copies: usize,
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

    /// In read mode, adds a finished node of `size` values to its parent (as a key, a value or
    /// an item), or makes it the document.
    fn finish(&mut self, value: Value, anchor: usize, size: usize) {
        if !self.read {
            return;
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                self.spans.document.get_or_insert(value);
            }
            Some(Frame::Seq { seq, size: s, .. }) => {
                seq.push(value);
                *s += size;
            }
            Some(Frame::Map {
                doc_key,
                map,
                size: s,
                ..
            }) => {
                *s += size;
                match doc_key.take() {
                    Some(k) => {
                        map.insert(k, value);
                    }
                    None => *doc_key = Some(value),
                }
            }
        }
    }

    /// Stops the reading with `problem`.
    fn too_big(&mut self, problem: Diagnostic) {
        self.spans.too_big = Some(problem);
    }

    /// Whether a collection starting at `mark` nests too deep, reported if so.
    fn nests_too_deep(&mut self, mark: Marker) -> bool {
        let deep = self.stack.len() >= MAX_DEPTH;
        if deep {
            self.too_big(too_deep_at(position(mark)));
        }
        deep
    }
}

fn too_deep_at(at: Position) -> Diagnostic {
    Diagnostic::new(
        "",
        format!("the description nests deeper than {MAX_DEPTH} levels"),
    )
    .at(Some(at))
    .hint("a cluster description needs a few levels at most: remove the extra ones")
}

/// The problem of a description nesting flow collections (`[[[...`) deeper than
/// [`MAX_DEPTH`], found before `serde_yaml` reads it: its scanner takes time quadratic in that
/// depth. Brackets are counted first, even in strings and comments; a text whose count passes
/// the limit is read here to be sure. Where that reading stops at a syntax error (yaml-rust2
/// refuses flow collections 256 deep, and some `serde_yaml` reads, like one opened on every
/// line), the count decides.
pub fn too_deep(text: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let at = text.bytes().position(|b| {
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth > MAX_DEPTH
    })?;
    let spans = Spans::read(text);
    spans.too_big.or_else(|| {
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let position = Position {
            line: text[..at].matches('\n').count() + 1,
            column: text[line_start..=at].chars().count(),
        };
        spans.syntax_error.then(|| too_deep_at(position))
    })
}

impl Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(..) | Event::Alias(_) => {
                let path = self.place(&ev, mark);
                if !self.read {
                    return;
                }
                match ev {
                    Event::Scalar(text, style, anchor, _) => {
                        self.finish(scalar(text, style), anchor, 1);
                    }
                    Event::Alias(id) => {
                        let size = self.anchors.get(&id).map_or(1, |(_, size)| *size);
                        self.copies += size;
                        if self.copies > MAX_ALIAS_COPIES {
                            let path = path.unwrap_or_default();
                            return self.too_big(
                                Diagnostic::new(path, format!("aliases (`*name`) expand the description past {MAX_ALIAS_COPIES} values"))
                                .at(Some(position(mark)))
                                .hint("alias fewer or smaller values, or write them out: a cluster description never needs this many"),
                            );
                        }
                        let value = self
                            .anchors
                            .get(&id)
                            .map_or(Value::Null, |(v, _)| v.clone());
                        self.finish(value, 0, size);
                    }
                    _ => {}
                }
            }
            Event::MappingStart(anchor, _) => {
                if self.nests_too_deep(mark) {
                    return;
                }
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    doc_key: None,
                    map: Mapping::new(),
                    seen: Vec::new(),
                    anchor,
                    size: 1,
                });
            }
            Event::SequenceStart(anchor, _) => {
                if self.nests_too_deep(mark) {
                    return;
                }
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Seq {
                    path,
                    next: 0,
                    seq: Vec::new(),
                    anchor,
                    size: 1,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Map {
                    map, anchor, size, ..
                }) => self.finish(Value::Mapping(map), anchor, size),
                Some(Frame::Seq {
                    seq, anchor, size, ..
                }) => self.finish(Value::Sequence(seq), anchor, size),
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
    fn nesting_is_read_to_128_levels_like_serde_yaml() {
        let nested = |n| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        let ok = nested(MAX_DEPTH - 1);
        assert!(serde_yaml::from_str::<Value>(&ok).is_ok());
        assert!(Spans::read(&ok).document.is_some());
        assert!(too_deep(&ok).is_none());
        let deep = nested(MAX_DEPTH);
        assert!(serde_yaml::from_str::<Value>(&deep).is_err());
        let found = Spans::read(&deep).too_big.unwrap();
        assert_eq!(
            found.position,
            Some(Position {
                line: 1,
                column: 131
            })
        );
        assert_eq!(
            found.message,
            "the description nests deeper than 128 levels"
        );
        // yaml-rust2 refuses a flow collection opened on every line; the bracket count decides.
        let lines = format!("a: {}{}\n", "[\n".repeat(200), "]".repeat(200));
        assert_eq!(
            too_deep(&lines).unwrap().position,
            Some(Position {
                line: 129,
                column: 1
            })
        );
        // Brackets in strings count, but a document yaml-rust2 reads whole decides.
        let quoted = format!("a: '{}'\n", "[".repeat(200));
        assert!(too_deep(&quoted).is_none());
    }

    #[test]
    fn aliases_copy_at_most_a_million_values() {
        let mut lines = vec!["a: &a [x, x, x, x, x, x, x, x, x]".to_string()];
        for (name, prev) in ["b", "c", "d", "e", "f"]
            .iter()
            .zip(["a", "b", "c", "d", "e"])
        {
            let aliases = vec![format!("*{prev}"); 10].join(", ");
            lines.push(format!("{name}: &{name} [{aliases}]"));
        }
        let s = Spans::read(&lines.join("\n"));
        assert_eq!(s.document, None);
        let found = s.too_big.unwrap();
        assert_eq!(found.path, "f[8]");
        assert!(
            found.message.contains("past 1000000 values"),
            "{}",
            found.message
        );
        // Five levels of ten stay under the cap.
        assert!(Spans::read(&lines[..5].join("\n")).document.is_some());
    }

    #[test]
    fn nearest_falls_back_to_ancestors() {
        let s = Spans::index(DOC);
        assert_eq!(s.nearest("nodes[0].ip"), s.value("nodes[0]"));
        assert_eq!(s.nearest("nodes[9].ip"), s.value("nodes"));
    }
}
