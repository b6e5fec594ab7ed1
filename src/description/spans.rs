//! Where each value of a YAML document is: key paths like `nodes[2].mac` to line and column.
//!
//! serde gives typed values without positions; this index is built from the YAML events,
//! only when there are problems to report, so loading a valid description never pays for it.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::diagnostic::Position;

/// Positions of every value and mapping key in a document.
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl Spans {
    /// Indexes `text`; a syntax error stops the index where it occurs.
    pub fn index(text: &str) -> Self {
        let mut builder = Builder::default();
        // A syntax error is reported by serde_yaml with its own position; what was indexed
        // before it is still useful.
        let _ = Parser::new_from_str(text).load(&mut builder, false);
        builder.spans
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
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    spans: Spans,
    stack: Vec<Frame>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
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

impl Builder {
    /// Places a node that starts at `mark`; returns its path, or `None` when it is a mapping key.
    fn place(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                p
            }
            Some(Frame::Map { path, key }) => {
                if let Some(k) = key.take() {
                    join(path, &k)
                } else {
                    let name = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_string(),
                    };
                    let full = join(path, &name);
                    self.spans.keys.insert(full, position(mark));
                    *key = Some(name);
                    return None;
                }
            }
        };
        self.spans.values.insert(path.clone(), position(mark));
        Some(path)
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(..) | Event::Alias(_) => {
                self.place(&ev, mark);
            }
            Event::MappingStart(..) => {
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.place(&ev, mark).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
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
    fn nearest_falls_back_to_ancestors() {
        let s = Spans::index(DOC);
        assert_eq!(s.nearest("nodes[0].ip"), s.value("nodes[0]"));
        assert_eq!(s.nearest("nodes[9].ip"), s.value("nodes"));
    }
}
