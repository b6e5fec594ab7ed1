//! A long `nodes:` list read in pieces, so that `serde_yaml` never holds the events of the whole
//! list at once (about 3 kB a node; 100,000 nodes would take over 300 MB). `serde_yaml` still
//! reads every byte of the file, once; `yaml-rust2` only says on which lines the items start.
//! Whatever is unusual (a flow-style list, anchors, aliases, tags, directives, line breaks
//! other than `\n`, a piece that does not read back as exactly the items seen) gives `None`,
//! and the caller reads the whole file as one.

use yaml_rust2::parser::{Event, Parser};

use super::model::{RawDescription, RawNode};

/// Items per piece; below twice this, the file is read whole.
const PIECE: usize = 1024;

/// Below this size (about 50,000 nodes) the file is read whole: finding the items costs about
/// as much as `serde_yaml`'s read of them, and the events of a whole read fit in memory.
/// (Unit tests read smaller lists the same way.)
const LARGE: usize = if cfg!(test) { 64 << 10 } else { 4 << 20 };

/// The description in `text` read with its node list in pieces, or `None` (read it whole).
pub fn read(text: &str) -> Option<RawDescription> {
    if text.len() < LARGE
        || text.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}'])
        || text.lines().any(|l| l.starts_with('%'))
    {
        return None;
    }
    let list = find(text)?;
    if list.items.len() < 2 * PIECE {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // Every item starts its own line with `- `: the only way a block list's item can.
    if list.items.iter().any(|i| {
        !lines
            .get(i.line)
            .is_some_and(|l| l.trim_start().starts_with('-'))
    }) {
        return None;
    }
    let end = if list.end > list.items[list.items.len() - 1].line {
        list.end
    } else {
        lines.len()
    };
    let indent = lines[list.key_line].len() - lines[list.key_line].trim_start().len();
    let mut rest: String = lines[..list.items[0].line].concat();
    rest.push_str(&" ".repeat(indent + 2));
    rest.push_str("[]\n");
    rest.push_str(&lines[end.min(lines.len())..].concat());

    let starts: Vec<usize> = list.items.iter().map(|i| i.line).collect();
    let pieces: Vec<(usize, usize)> = starts
        .chunks(PIECE)
        .enumerate()
        .map(|(k, chunk)| {
            let next = starts.get((k + 1) * PIECE).copied().unwrap_or(end);
            (chunk[0], next)
        })
        .collect();
    let read_pieces = |part: &[(usize, usize)]| -> Option<Vec<RawNode>> {
        let mut out = Vec::new();
        for &(from, to) in part {
            out.extend(serde_yaml::from_str::<Vec<RawNode>>(&lines[from..to].concat()).ok()?);
        }
        Some(out)
    };
    let (first, second) = pieces.split_at(pieces.len() / 2);
    let (mut raw, nodes) = std::thread::scope(|s| {
        let other = s.spawn(|| read_pieces(second));
        let raw = serde_yaml::from_str::<RawDescription>(&rest).ok();
        let mut nodes = read_pieces(first)?;
        nodes.extend(other.join().ok()??);
        Some((raw?, nodes))
    })?;
    // The pieces hold exactly the items `yaml-rust2` saw, in order.
    let same = nodes.len() == list.items.len()
        && nodes
            .iter()
            .zip(&list.items)
            .all(|(n, i)| i.name.as_deref() == Some(n.name.as_str()));
    if !same || !raw.nodes.is_empty() {
        return None;
    }
    raw.nodes = nodes;
    Some(raw)
}

/// Where the top-level `nodes:` list is.
struct List {
    /// The line of the `nodes` key (0-based, as every line here).
    key_line: usize,
    items: Vec<Item>,
    /// The line the list's end was seen on (the next key's, or the end of the file).
    end: usize,
}

struct Item {
    line: usize,
    /// Its `name`, as `yaml-rust2` read it.
    name: Option<String>,
}

/// Finds the top-level `nodes:` block list with `yaml-rust2`, keeping no more than its items'
/// lines and names.
fn find(text: &str) -> Option<List> {
    #[derive(PartialEq)]
    enum Frame {
        /// A mapping, and whether its next node is a key.
        Map(bool),
        Seq,
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let (mut list, mut key_line, mut in_list, mut documents) = (None::<List>, None, false, 0);
    // Inside an item: the depth of the item's mapping, and whether its next value is `name`.
    let mut name_next = false;
    loop {
        let (event, mark) = parser.next_token().ok()?;
        let line = mark.line().saturating_sub(1);
        let is_node = matches!(
            event,
            Event::Scalar(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
                | Event::Alias(_)
        );
        match &event {
            Event::Alias(_) => return None,
            Event::Scalar(_, _, anchor, tag)
            | Event::MappingStart(anchor, tag)
            | Event::SequenceStart(anchor, tag)
                if *anchor != 0 || tag.is_some() =>
            {
                return None
            }
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
            }
            Event::StreamEnd => break,
            _ => {}
        }
        // The role of this node in its parent: a key of the top mapping, an item of the list...
        let depth = stack.len();
        let is_key = is_node && matches!(stack.last(), Some(Frame::Map(true)));
        if is_node && in_list && depth == 2 {
            list.as_mut()?.items.push(Item { line, name: None });
        }
        if in_list && depth == 3 && name_next {
            if let Event::Scalar(value, ..) = &event {
                list.as_mut()?.items.last_mut()?.name = Some(value.clone());
            }
        }
        name_next = in_list
            && depth == 3
            && is_key
            && matches!(&event, Event::Scalar(v, ..) if v == "name");
        if depth == 1 && is_key {
            key_line = match &event {
                Event::Scalar(v, ..) if v == "nodes" => {
                    if list.is_some() {
                        return None;
                    }
                    Some(line)
                }
                _ => None,
            };
        } else if depth == 1 && is_node {
            if let (Some(k), Event::SequenceStart(..)) = (key_line.take(), &event) {
                list = Some(List {
                    key_line: k,
                    items: Vec::new(),
                    end: 0,
                });
                in_list = true;
            }
        }
        if let Some(Frame::Map(next_is_key)) = stack.last_mut() {
            if is_node {
                *next_is_key = !*next_is_key;
            }
        }
        match event {
            Event::MappingStart(..) => stack.push(Frame::Map(true)),
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if in_list && stack.len() == 1 {
                    in_list = false;
                    list.as_mut()?.end = line;
                }
            }
            _ => {}
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A description of `n` nodes; `block` writes each node as a block mapping.
    fn description(n: usize, block: bool, extra: &str) -> String {
        let mut s = String::from(
            "server: {hostname: boot, address: 10.0.0.1/14, interface: eth0}\nprofiles:\n  local: {kernel: /k}\nroles: {normal: local, reimage: local}\nnodes:\n",
        );
        for i in 0..n {
            if block {
                let _ = write!(
                    s,
                    "  # node {i}\n  - name: n{i:06}\n    mac: '02:00:00:00:{:02x}:{:02x}'\n    groups:\n      - rack{}\n",
                    i / 256,
                    i % 256,
                    i / 40
                );
            } else {
                let _ = writeln!(
                    s,
                    "  - {{name: n{i:06}, mac: '02:00:00:00:{:02x}:{:02x}', groups: [rack{}]}}",
                    i / 256,
                    i % 256,
                    i / 40
                );
            }
        }
        s.push_str(extra);
        s
    }

    fn names(raw: &RawDescription) -> Vec<String> {
        raw.nodes
            .iter()
            .map(|n| format!("{} {} {:?}", n.name, n.mac, n.groups))
            .collect()
    }

    #[test]
    fn a_long_list_reads_in_pieces_as_it_reads_whole() {
        for (block, extra) in [
            (false, ""),
            (true, ""),
            (
                false,
                "reservations:\n  - {name: sw, mac: 'aa:bb:cc:dd:ee:ff'}\n",
            ),
            (true, "# the end, without a line break"),
        ] {
            let text = description(5000, block, extra);
            let whole: RawDescription = serde_yaml::from_str(&text).unwrap();
            let pieces = read(&text).expect("read in pieces");
            assert_eq!(names(&pieces), names(&whole));
            assert_eq!(pieces.reservations.len(), whole.reservations.len());
        }
    }

    #[test]
    fn anything_unusual_is_left_to_the_whole_read() {
        let base = description(5000, false, "");
        for text in [
            description(100, false, ""),
            base.replace("nodes:\n", "nodes: !!seq\n"),
            base.replace("n000007,", "&a n000007,")
                .replace("n000009,", "*a,"),
            base.replace('\n', "\r\n"),
            format!("%YAML 1.2\n---\n{base}"),
            base.replacen("  - {name: n000003", "  - {name: n000003\u{2028}", 1),
            // An item whose name `yaml-rust2` and the piece would read differently cannot pass.
            base.replace("nodes:\n", "nodes: [\n")
                .replace("]}\n", "]},\n")
                + "]\n",
        ] {
            assert!(read(&text).is_none(), "{}", &text[..200.min(text.len())]);
        }
    }

    #[test]
    fn a_bad_line_inside_the_list_is_still_refused() {
        // A tab in an item: the piece refuses it, so the whole read reports it.
        let text = description(5000, true, "").replacen("    mac:", "\tmac:", 1);
        assert!(read(&text).is_none());
        assert!(serde_yaml::from_str::<RawDescription>(&text).is_err());
    }
}
