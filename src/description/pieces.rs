//! A long `nodes:` list read on both cores, in pieces of [`PIECE`] items, by `serde_yaml`, so
//! that it never holds the events of the whole list at once (about 3 kB a node; 100,000 nodes
//! would take over 300 MB).
//!
//! The items are found by their lines alone: a line that starts, at the indentation of the
//! first item, with `- `. A guess of that kind can be wrong only inside a quoted scalar or a
//! flow collection that spans lines (a block scalar or a plain one ends at a line that is not
//! indented more), and then the piece that opens it is left unclosed and refused. The rest
//! of the file is read with one stand-in item in the list's place, named anew for every read,
//! which must come back as the only node: that proves the `nodes:` line is the top-level key
//! and the list ends where it was cut. Anchors in the list (which could redefine one the rest
//! of the file uses), line breaks other than `\n`, byte order marks and directives read the
//! file whole, and so does any refusal, so every problem is still reported at its place by
//! the whole read.

use super::model::{RawDescription, RawNode};

/// Items per piece.
const PIECE: usize = if cfg!(test) { 64 } else { 1024 };

/// Below this size (about 50,000 nodes) the file is read whole: at 10,000 nodes a read in
/// pieces saved no time in the end and took more memory (docs/performance.md).
const LARGE: usize = if cfg!(test) { 16 << 10 } else { 4 << 20 };

/// The description in `text` with its node list read in pieces, or `None` (read it whole).
pub fn read(text: &str) -> Option<RawDescription> {
    if text.len() < LARGE
        || text.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'])
        || text.lines().any(|l| l.starts_with('%'))
    {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let list = find(&lines)?;
    if list.starts.len() < 2 * PIECE
        || lines[list.starts[0]..list.end]
            .iter()
            .any(|l| l.contains('&'))
    {
        return None;
    }
    // The stand-in's name is new to every read, so that no file can hold it under another
    // spelling of the `nodes` key (`"nodes":`) while the `nodes:` line is inside a quote.
    let stand_in = format!(
        "pxectl stand-in {:016x}",
        std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), text.len())
    );
    let mut rest: String = lines[..list.starts[0]].concat();
    rest.push_str(&" ".repeat(list.indent));
    rest.push_str("- {name: '");
    rest.push_str(&stand_in);
    rest.push_str("', mac: ''}\n");
    rest.push_str(&lines[list.end..].concat());

    let pieces: Vec<String> = list
        .starts
        .chunks(PIECE)
        .enumerate()
        .map(|(k, chunk)| {
            let to = list
                .starts
                .get((k + 1) * PIECE)
                .copied()
                .unwrap_or(list.end);
            lines[chunk[0]..to].concat()
        })
        .collect();
    let read_pieces = |part: &[String]| -> Option<Vec<RawNode>> {
        let mut out = Vec::new();
        for piece in part {
            out.extend(serde_yaml::from_str::<Vec<RawNode>>(piece).ok()?);
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
    if !matches!(&raw.nodes[..], [only] if only.name == stand_in && only.mac.is_empty()) {
        return None;
    }
    raw.nodes = nodes;
    Some(raw)
}

/// Where the `nodes:` list is, as its lines tell (0-based line numbers).
struct List {
    /// The lines its items start on.
    starts: Vec<usize>,
    /// The first line after it (the next top-level key's, or the end of the file).
    end: usize,
    /// Its items' indentation.
    indent: usize,
}

/// Finds a block list under a `nodes:` line at the left margin: its items are the lines that
/// start with `- ` at the indentation of the first; blank lines, comments and lines indented
/// more are inside it; any other line ends it.
fn find(lines: &[&str]) -> Option<List> {
    let mut keys = lines.iter().enumerate().filter(|(_, l)| {
        l.strip_prefix("nodes:").is_some_and(|after| {
            let value = after.trim_start_matches([' ', '\t']);
            value.trim_end().is_empty() || (value.starts_with('#') && value.len() < after.len())
        })
    });
    let (key, _) = keys.next()?;
    if keys.next().is_some() {
        return None;
    }
    let blank = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let first = (key + 1..lines.len()).find(|&i| !blank(lines[i]))?;
    let at = indent(lines[first]);
    let item = |l: &str| {
        indent(l) == at
            && matches!(l[at..].strip_prefix('-'), Some(r) if r.is_empty() || r.starts_with([' ', '\n']))
    };
    if !item(lines[first]) {
        return None;
    }
    let mut starts = Vec::new();
    let mut end = lines.len();
    for (i, l) in lines.iter().enumerate().skip(first) {
        if item(l) {
            starts.push(i);
        } else if !(blank(l) || indent(l) > at) {
            end = i;
            break;
        }
    }
    Some(List {
        starts,
        end,
        indent: at,
    })
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

    /// Everything read, to compare.
    fn all(raw: &RawDescription) -> String {
        format!("{raw:?}")
    }

    fn whole(text: &str) -> RawDescription {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn a_long_list_reads_in_pieces_as_it_reads_whole() {
        for text in [
            description(500, false, ""),
            description(500, true, ""),
            description(
                500,
                false,
                "reservations:\n  - {name: sw, mac: 'aa:bb:cc:dd:ee:ff'}\n",
            ),
            description(500, true, "# the end, without a line break"),
            // Items at the key's own indentation, a comment after the key, a block scalar.
            description(500, true, "")
                .replace("\n  #", "\n#")
                .replace("\n  - name", "\n- name")
                .replace("\n    ", "\n  ")
                .replace("\n      - rack", "\n    - rack")
                .replace("nodes:\n", "nodes:   # all of them\n")
                .replacen(
                    "mac: '02:00:00:00:00:05'\n",
                    "mac: '02:00:00:00:00:05'\n  append: |\n    a\n     - b\n",
                    1,
                ),
        ] {
            let pieces = read(&text).expect(&text[..400]);
            assert_eq!(all(&pieces), all(&whole(&text)));
        }
    }

    /// Where the lines mislead, the read in pieces refuses and the whole read decides.
    #[test]
    fn anything_unusual_is_left_to_the_whole_read() {
        let base = description(500, false, "");
        let item = |i: usize| {
            format!(
                "  - {{name: n{i:06}, mac: '02:00:00:00:{:02x}:{:02x}', groups: [rack{}]}}\n",
                i / 256,
                i % 256,
                i / 40
            )
        };
        for (why, text) in [
            ("too short", description(100, false, "")),
            (
                "a tag on the key",
                base.replace("nodes:\n", "nodes: !!seq\n"),
            ),
            // An anchor in the list given again after the list's end means the list's value.
            (
                "an anchor again",
                base.replace("{kernel: /k}", "{kernel: &k /k}")
                    .replace("rack0]}", "rack0], append: &k other}")
                    + "lifecycle: {prefix: *k}\n",
            ),
            ("Windows line ends", base.replace('\n', "\r\n")),
            ("a directive", format!("%YAML 1.2\n---\n{base}")),
            // After a byte order mark, a directive is not at the start of its line.
            (
                "a directive after a byte order mark",
                format!("\u{feff}%TAG !! tag:x:\n---\n{base}")
                    .replace("rack1]}", "rack1], ip: !!null ~}"),
            ),
            (
                "a Unicode line break",
                base.replacen("  - {name: n000003", "  - {name: n000003\u{2028}", 1),
            ),
            (
                "a flow list",
                base.replace("nodes:\n", "nodes: [\n")
                    .replace("  - {", "  {")
                    .replace("]}\n", "]},\n")
                    + "]\n",
            ),
            // The `nodes:` line is inside a quoted scalar of the server.
            ("the key quoted", {
                let (head, items) = base.split_once("nodes:\n").unwrap();
                let (server, others) = head.split_once("eth0}\n").unwrap();
                format!("{server}\"eth0\nnodes:\n{items}\"}}\n{others}")
            }),
            (
                "an alias",
                base.replace("n000007,", "&a n000007,")
                    .replace("n000009,", "*a,"),
            ),
            // The same, and the real `nodes` key spelt otherwise, holding a stand-in.
            ("the key quoted, a stand-in forged", {
                let (head, items) = base.split_once("nodes:\n").unwrap();
                let (server, others) = head.split_once("eth0}\n").unwrap();
                format!("{server}\"eth0\nnodes:\n{items}\"}}\n{others}\"nodes\": [{{name: 'pxectl stand-in 0000000000000000', mac: ''}}]\n")
            }),
            // A quoted scalar opened in one piece and closed in the next.
            (
                "a quote across pieces",
                base.replace(&item(63), &item(63).replace("]}", "], append: \"open"))
                    .replace(&item(65), &format!("{}  shut\"}}\n", item(65))),
            ),
            // A quoted scalar opened in the last item continues on a line the list would end at.
            (
                "a quote past the end",
                base.replace(&item(499), &item(499).replace("]}", "], append: \"open"))
                    + "shut\"}\n",
            ),
        ] {
            if let Ok(whole) = serde_yaml::from_str::<RawDescription>(&text) {
                if let Some(pieces) = read(&text) {
                    assert_eq!(all(&pieces), all(&whole), "{why}");
                }
            }
            assert!(read(&text).is_none(), "{why}");
        }
    }

    #[test]
    fn a_bad_line_inside_the_list_is_still_refused() {
        // A tab in an item: the piece refuses it, so the whole read reports it.
        let text = description(500, true, "").replacen("    mac:", "\tmac:", 1);
        assert!(read(&text).is_none());
        assert!(serde_yaml::from_str::<RawDescription>(&text).is_err());
    }
}
