//! Reading a large description on every core: the `nodes:` list is cut at its items into
//! pieces, each thread reads its share of them one piece after the other (with the fast
//! reader of [`super::fast`], else with `serde_yaml`, so that only one small piece's events
//! are in memory per thread), and the rest of the file is read by `serde_yaml` with a marker
//! in place of the list.
//!
//! This is only a faster way to get the result `serde_yaml` gives for the whole file. It
//! answers `None` (read the whole file instead) whenever it cannot be sure of that, and for
//! every error: the diagnostics always come from the whole file. Why a cut is safe:
//!
//! - The list must be a block sequence under a top-level `nodes:` line (no value, no anchor or
//!   tag on that line), its items at one indentation `k`, every other line of it either blank,
//!   a comment, or indented deeper than `k`. Anything else (tabs in the indentation, a line
//!   less indented than `k`, a `%` directive) answers `None`. Lines are read at `\n` (or
//!   `\r\n`): a text with another line break of YAML's (a lone `\r`, U+0085, U+2028,
//!   U+2029) answers `None`.
//! - A cut is made only before a line that starts an item (`- ` or `-` at column `k`). Such a
//!   line cannot be inside a block scalar or a plain scalar of an earlier item (both end at a
//!   line indented `k` or less). If it is inside a quoted scalar or a flow collection, the
//!   piece before it ends with that scalar or collection open, which `serde_yaml` refuses.
//! - The first piece starts right after the `nodes:` line, so the lines before the first item
//!   are read too; the rest keeps the `nodes:` line's comment.
//! - A list with an `&` in it answers `None`: an anchor there could be redefined, used by an
//!   alias in the rest of the file, or feed aliases up to `serde_yaml`'s limit of repetitions,
//!   which counts per document. Without anchors in the list, an alias in it can only refer to
//!   the rest of the file, which `serde_yaml` refuses in a piece (unknown anchor).
//! - The rest of the file is read with one marker node (a name the text does not hold) in
//!   place of the list, and must give exactly that node as the top-level `nodes`. If the `nodes:` line was
//!   part of a quoted scalar or flow collection that began earlier, or another `nodes` key
//!   (`"nodes":`, `nodes :`) is read instead, it does not.

use std::ops::Range;

use super::model::{RawDescription, RawNode};

/// Lists shorter than this are read with the whole file: threads would cost more than they save.
const MIN_ITEMS: usize = 256;

/// `text` read as `serde_yaml` reads it whole, on every core (in bounded memory even on one);
/// `None` when that is not sure to give the same result, or on any error.
pub fn from_str(text: &str) -> Option<RawDescription> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(8);
    from_str_in(text, threads, MIN_ITEMS, PIECE_ITEMS)
}

/// At most this many items are read at once by one thread: `serde_yaml` keeps every event of
/// what it reads in memory (about 3 kB per node), so a thread reads its share of a large list
/// as a run of smaller pieces, one after the other, and memory stays bounded.
const PIECE_ITEMS: usize = 1024;

/// [`from_str`] on `threads` threads, for lists of at least `min_items` items, reading at most
/// `piece_items` items at once on each thread.
fn from_str_in(
    text: &str,
    threads: usize,
    min_items: usize,
    piece_items: usize,
) -> Option<RawDescription> {
    let list = nodes_list(text)?;
    let items = list.items.len();
    if items < min_items.max(2) {
        return None;
    }
    let threads = threads.clamp(1, items);
    // Each thread's share, cut into pieces of at most `piece_items` items.
    let pieces = items.div_ceil(piece_items.max(1)).max(threads);
    // The first piece starts right after the `nodes:` line: what comes before the first item
    // (blank lines, comments) is read too.
    let mut cuts: Vec<usize> = (0..pieces)
        .map(|p| list.items[p * items / pieces])
        .collect();
    cuts[0] = list.span.start;
    cuts.push(list.span.end);
    let (rest, parts) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (from, to) = (t * pieces / threads, (t + 1) * pieces / threads);
                let mine = &cuts[from..=to];
                // The first thread's list receives the others' at the end: room for all.
                let room = if t == 0 {
                    items
                } else {
                    to * items / pieces - from * items / pieces
                };
                s.spawn(move || {
                    let mut nodes = Vec::with_capacity(room);
                    for w in mine.windows(2) {
                        let piece = &text[w[0]..w[1]];
                        let before = nodes.len();
                        if super::fast::read_into(piece, &mut nodes).is_none() {
                            nodes.truncate(before);
                            nodes.extend(serde_yaml::from_str::<Vec<RawNode>>(piece).ok()?);
                        }
                    }
                    Some(nodes)
                })
            })
            .collect();
        // Meanwhile, the rest, with a marker node in place of the list (the `nodes:` line keeps
        // its comment, which is read too).
        let key_line = &text[list.key_line.clone()];
        let rest = format!(
            "{}nodes: [{{name: {MARKER}, mac: x}}]{}{}",
            &text[..list.key_line.start],
            &key_line["nodes:".len()..],
            &text[list.span.end..]
        );
        let rest = read_rest(&rest);
        let parts: Vec<Option<Vec<RawNode>>> = workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect();
        (rest, parts)
    });
    let mut raw = rest?;
    let mut parts = parts.into_iter();
    raw.nodes = parts.next()??;
    for part in parts {
        raw.nodes.extend(part?);
    }
    Some(raw)
}

/// The name of the node that stands for the list in the rest of the file. A text that holds
/// it is read whole, so the marker read back can only come from the line put in.
const MARKER: &str = "pxectl-split-marker-5e1f";

/// The file with the marker node for the list, read as a whole; `None` unless the top-level
/// `nodes` is exactly the marker node (the line was not swallowed by a quoted scalar or a
/// flow collection that began earlier, and no other `nodes` key is read instead).
fn read_rest(rest: &str) -> Option<RawDescription> {
    let mut raw = serde_yaml::from_str::<RawDescription>(rest).ok()?;
    match raw.nodes.as_slice() {
        [only] if only.name == MARKER && only.mac == "x" => {
            raw.nodes.clear();
            Some(raw)
        }
        _ => None,
    }
}

/// Where the `nodes:` block list is.
#[derive(Debug, PartialEq, Eq)]
struct NodesList {
    /// The `nodes:` line, with its newline.
    key_line: Range<usize>,
    /// The byte offset of each line that starts an item.
    items: Vec<usize>,
    /// From the line after `nodes:` to the first line past the list.
    span: Range<usize>,
}

/// Finds the one top-level `nodes:` block list; `None` when it is not plainly there.
fn nodes_list(text: &str) -> Option<NodesList> {
    if !only_newline_breaks(text) {
        return None;
    }
    let mut lines = Lines { text, pos: 0 };
    let mut key_line = None;
    for (range, line) in lines.by_ref() {
        if line.starts_with('%') {
            return None;
        }
        if let Some(after) = line.strip_prefix("nodes:") {
            if !is_blank_or_comment(after) || !after.is_empty() && !after.starts_with([' ', '\t']) {
                return None;
            }
            key_line = Some(range);
            break;
        }
    }
    let key_line = key_line?;
    let mut items = Vec::new();
    let mut indent = None;
    let mut end = text.len();
    for (range, line) in lines.by_ref() {
        if is_blank_or_comment(line) {
            continue;
        }
        let body = line.trim_start_matches(' ');
        let n = line.len() - body.len();
        if body.starts_with('\t') {
            return None;
        }
        let starts_item = body == "-" || body.starts_with("- ");
        let k = *indent.get_or_insert(n);
        if n == 0 && !(k == 0 && starts_item) {
            end = range.start;
            break;
        }
        if n < k || (n == k && !starts_item) {
            return None;
        }
        if n == k {
            items.push(range.start);
        }
    }
    // Another top-level `nodes:` (a duplicate key) is left to the whole-file read to report.
    if lines.any(|(_, line)| line.starts_with("nodes:") || line.starts_with('%')) {
        return None;
    }
    if text.contains(MARKER) {
        return None;
    }
    // An anchor in the list could be redefined there, or used by an alias after it, or feed
    // aliases up to serde_yaml's limit of repetitions, which it counts per document.
    if text[key_line.end..end].contains('&') {
        return None;
    }
    Some(NodesList {
        span: key_line.end..end,
        key_line,
        items,
    })
}

/// Whether every line break of `text` is `\n` or `\r\n`, as [`Lines`] reads them.
fn only_newline_breaks(text: &str) -> bool {
    let lone_cr = text
        .split('\r')
        .skip(1)
        .any(|after| !after.starts_with('\n'));
    !lone_cr && (text.is_ascii() || !text.contains(['\u{85}', '\u{2028}', '\u{2029}']))
}

/// A line without its line break is blank or only a comment.
fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

/// The lines of a text with their byte ranges (including the line break), without the break.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (Range<usize>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.text[start..];
        let (len, line) = match rest.find('\n') {
            Some(i) => (i + 1, &rest[..i]),
            None => (rest.len(), rest),
        };
        self.pos += len;
        Some((start..start + len, line.strip_suffix('\r').unwrap_or(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "server: {hostname: b, address: 10.0.0.1/16, interface: e, domain: x}\n\
        profiles: {local: {kernel: /k}}\n\
        roles: {normal: local, reimage: local}\n";

    fn whole(text: &str) -> Option<String> {
        serde_yaml::from_str::<RawDescription>(text)
            .ok()
            .map(|r| format!("{r:?}"))
    }

    /// `text` read in `pieces` pieces on that many threads. The same pieces read on two
    /// threads, a piece at a time, may be cut elsewhere, so they may decline where this
    /// answers; when they answer, it must be the whole file's answer too.
    fn split(text: &str, pieces: usize) -> Option<String> {
        let items = nodes_list(text).map_or(1, |l| l.items.len());
        let in_turn = from_str_in(text, 2, 1, items.div_ceil(pieces)).map(|r| format!("{r:?}"));
        if in_turn.is_some() {
            assert_eq!(in_turn, whole(text), "{pieces} pieces in turn of:\n{text}");
        }
        from_str_in(text, pieces, 1, usize::MAX).map(|r| format!("{r:?}"))
    }

    fn node(i: usize) -> String {
        format!("  - name: n{i}\n    mac: 02:00:00:00:00:{i:02x}\n")
    }

    #[test]
    fn agrees_with_the_whole_file() {
        let nodes: String = (0..7).map(node).collect();
        for tail in ["", "reservations: []\n", "# end\n"] {
            let text = format!("{HEAD}nodes:\n{nodes}{tail}");
            for pieces in 2..=7 {
                let got = split(&text, pieces);
                assert!(got.is_some(), "{pieces} pieces of:\n{text}");
                assert_eq!(got, whole(&text));
            }
        }
    }

    #[test]
    fn reads_a_thread_share_a_piece_at_a_time() {
        let nodes: String = (0..7).map(node).collect();
        let text = format!("{HEAD}nodes:\n{nodes}reservations: []\n");
        for piece_items in 1..=7 {
            for threads in 1..=3 {
                let got = from_str_in(&text, threads, 1, piece_items).map(|r| format!("{r:?}"));
                assert!(
                    got.is_some(),
                    "{threads} threads, {piece_items} items at once"
                );
                assert_eq!(got, whole(&text));
            }
        }
    }

    #[test]
    fn a_large_list_in_either_style_is_read_fast_and_the_same() {
        use std::fmt::Write as _;
        let (mut flow, mut block) = (String::new(), String::new());
        for i in 0..3000 {
            let (mac, rack) = (
                format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256),
                i / 40,
            );
            let ip = format!("10.0.{}.{}", i / 250, i % 250 + 1);
            let _ = writeln!(
                flow,
                "  - {{name: n{i}, mac: '{mac}', ip: {ip}, groups: [r{rack}]}}"
            );
            let _ = writeln!(
                block,
                "- name: n{i}\n  mac: {mac}\n  groups:\n    - r{rack}\n  normal_profile: local\n"
            );
        }
        for list in [flow, block] {
            let text = format!("{HEAD}nodes:\n{list}reservations: []\n");
            let fast = super::super::fast::nodes(&list).expect("read by the fast reader");
            assert_eq!(fast.len(), 3000);
            let got = from_str(&text).map(|r| format!("{r:?}"));
            assert!(got.is_some());
            assert_eq!(got, whole(&text));
        }
    }

    #[test]
    fn finds_indentless_lists_comments_and_crlf() {
        let text = format!(
            "{HEAD}nodes:   # the machines\n- {{name: a, mac: 02:00:00:00:00:01}}\n\n# rack 2\n-\n  name: b\n  mac: 02:00:00:00:00:02\nreservations: []\n"
        );
        let list = nodes_list(&text).unwrap();
        assert_eq!(list.items.len(), 2);
        assert_eq!(&text[list.span.end..], "reservations: []\n");
        assert_eq!(split(&text, 2), whole(&text));
        assert!(split(&text, 2).is_some());
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(nodes_list(&crlf).unwrap().items.len(), 2);
        assert_eq!(split(&crlf, 2), whole(&crlf));
    }

    #[test]
    fn declines_what_it_cannot_be_sure_of() {
        let nodes: String = (0..4).map(node).collect();
        for text in [
            // flow list, anchor, or tag on the key line
            format!("{HEAD}nodes: [{{name: a, mac: 02:00:00:00:00:01}}]\n"),
            format!("{HEAD}nodes: &all\n{nodes}"),
            // a tab in the indentation, a line less indented than the items
            format!("{HEAD}nodes:\n{nodes}\t- name: x\n"),
            format!("{HEAD}nodes:\n  - name: a\n    mac: 02:00:00:00:00:01\n - name: b\n"),
            // a directive, a second `nodes:`
            format!("%YAML 1.1\n---\n{HEAD}nodes:\n{nodes}"),
            format!("{HEAD}nodes:\n{nodes}nodes:\n{nodes}"),
            // line breaks the line reading here does not see
            format!("{HEAD}nodes:\n{nodes}  # end\u{85}reservations: []\n"),
            format!("{HEAD}nodes:\n{nodes}  # end\u{2028}  - {{name: x, mac: m}}\n"),
            format!("{HEAD}nodes:\n{nodes}  # end\u{2029}nodes: []\n"),
            format!("{HEAD}nodes:\n{nodes}  # end\rreservations: []\n"),
            // anchors in the list; the marker's name in the text
            format!("{HEAD}nodes:\n  - {{name: &a a1, mac: m}}\n{nodes}"),
            format!("{HEAD}templates: /{MARKER}\nnodes:\n{nodes}"),
        ] {
            assert_eq!(split(&text, 2), None, "{text}");
        }
    }

    /// Found by a review: each answered where the whole file gives another result.
    #[test]
    fn what_the_whole_file_reads_differently_is_declined() {
        let nodes: String = (0..6).map(node).collect();
        let anchored = format!(
            "server: {{hostname: b, address: 10.0.0.1/16, interface: e, domain: &d x}}\n\
             profiles: {{local: {{kernel: /k}}}}\nroles: {{normal: local, reimage: local}}\n\
             nodes:\n  - {{name: &d other, mac: m}}\n{nodes}lifecycle: {{prefix: *d}}\n"
        );
        let renumbered = format!(
            "{HEAD}nodes:\n  - {{name: &a a1, mac: &b b1}}\n{nodes}  - {{name: &a a2, mac: &b b2}}\n  - {{name: *a, mac: *b}}\n"
        );
        for text in [
            // a tab or a control character between `nodes:` and the first item
            format!("{HEAD}nodes:\n\t\n{nodes}"),
            format!("{HEAD}nodes:\n\t# c\n{nodes}"),
            format!("{HEAD}nodes: # \u{1}\n{nodes}"),
            format!("{HEAD}nodes:\n  # \u{7f}\n{nodes}"),
            // an anchor redefined in the list, and serde_yaml's numbering of redefined anchors
            anchored,
            renumbered,
            // the `nodes:` line inside a quoted scalar, and another spelling of the key after
            format!("{HEAD}templates: '/t\nnodes:\n{nodes}'\nnodes : []\n"),
            format!("{HEAD}templates: '/t\nnodes:\n{nodes}'\n\"nodes\": []\n"),
        ] {
            let got = split(&text, 2);
            assert!(got.is_none() || got == whole(&text), "{text}");
            assert_eq!(got, None, "{text}");
        }
    }

    #[test]
    fn a_quoted_scalar_across_a_cut_is_not_cut() {
        // The second item line is inside the first item's double-quoted name.
        let text = format!(
            "{HEAD}nodes:\n  - name: \"a\n  - b\"\n    mac: 02:00:00:00:00:01\n{}",
            node(2)
        );
        assert!(
            whole(&text).is_some_and(|r| r.contains("\"a - b\"")),
            "{text}"
        );
        assert_eq!(split(&text, 2), None);
        let text = format!("{HEAD}nodes:\n  - {{name: a,\n  - b}}\n{}", node(2));
        assert_eq!(split(&text, 2), None);
    }

    #[test]
    fn a_nodes_line_inside_an_earlier_quoted_scalar_is_not_the_list() {
        let text = format!("{HEAD}templates: \"/t\nnodes:\n{}{}\"\n", node(1), node(2));
        let text_simple = format!("{HEAD}templates: \"/t\nnodes:\n  - x\n  - y\"\n");
        for t in [text, text_simple] {
            // serde_yaml reads it: `templates` holds the lines, and there are no nodes.
            assert!(whole(&t).is_some_and(|r| r.contains("nodes: []")), "{t}");
            assert_eq!(split(&t, 2), None, "{t}");
        }
    }

    #[test]
    fn an_alias_across_pieces_falls_back() {
        let text = format!(
            "{HEAD}nodes:\n  - name: a\n    mac: 02:00:00:00:00:01\n    groups: &g [x]\n  - name: b\n    mac: 02:00:00:00:00:02\n    groups: *g\n"
        );
        assert!(whole(&text).is_some());
        assert_eq!(split(&text, 2), None);
    }

    #[test]
    fn errors_are_left_to_the_whole_file() {
        let text = format!("{HEAD}nodes:\n{}  - name: [oops]\n", node(1));
        assert_eq!(split(&text, 2), None);
        let text = format!("{HEAD}bogus: 1\nnodes:\n{}{}", node(1), node(2));
        assert_eq!(split(&text, 2), None);
    }

    /// Mutated descriptions: whenever the split read answers, it answers what the whole-file
    /// read does.
    mod differential {
        use super::*;
        use proptest::prelude::*;

        const BASE: &str = "server: {hostname: b, address: 10.0.0.1/16, interface: e, domain: x}\n\
            profiles:\n  local: {kernel: /k, append: \"a b\"}\n  other:\n    kernel: /o\n    append: |\n      x\n      y\n\
            roles: {normal: local, reimage: other}\n\
            nodes:\n\
            \x20 - name: n1\n    mac: 02:00:00:00:00:01\n    groups: [a, b]\n\
            \x20 - {name: n2, mac: '02:00:00:00:00:02', ip: 10.0.0.2}\n\
            \x20 # a comment\n\
            \x20 - name: \"n3\"\n    mac: 02:00:00:00:00:03\n    normal_profile: other\n\
            \x20 - name: n4\n    mac: >-\n      02:00:00:00:00:04\n\
            \x20 - name: n5\n    mac: 02:00:00:00:00:05\n    groups:\n      - c\n\
            reservations:\n  - {name: sw, mac: 02:00:00:00:00:ff}\n";

        const FRAGMENTS: &[&str] = &[
            "\n",
            "\n  ",
            "\n  - ",
            "\n- ",
            "\n    ",
            "\"",
            "'",
            "{",
            "}",
            "[",
            "]",
            "&a ",
            "*a",
            "#",
            "\nnodes:\n",
            "nodes:",
            "|\n",
            ">\n",
            "\r\n",
            "\"nodes\": []\n",
            "nodes : []\n",
            "\n\t",
            "\r",
            "\u{85}",
            "\u{2028}",
            "\u{2029}",
            "\u{1}",
            "\t",
            "%",
            "---\n",
            "...\n",
            ": ",
            ",",
            "-",
            " ",
            "name: x\n",
            "\n  - name: n9\n    mac: 02:00:00:00:00:09\n",
        ];

        fn mutated() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                (
                    0..BASE.len(),
                    proptest::sample::select(FRAGMENTS),
                    any::<bool>(),
                ),
                1..4,
            )
            .prop_map(|edits| {
                let mut text = BASE.to_string();
                for (at, fragment, delete) in edits {
                    crate::description::edit(&mut text, at, fragment, delete);
                }
                text
            })
        }

        #[test]
        fn the_base_is_split() {
            assert!(whole(BASE).is_some());
            for pieces in 2..=5 {
                assert_eq!(split(BASE, pieces), whole(BASE));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            #[test]
            fn split_agrees_with_whole(text in mutated(), pieces in 2usize..5) {
                if let Some(got) = split(&text, pieces) {
                    prop_assert_eq!(Some(got), whole(&text), "text:\n{}", text);
                }
            }
        }
    }
}
