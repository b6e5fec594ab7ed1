//! Arbitrary and mutated descriptions through load, validate and render: never a panic.

use std::path::Path;

use proptest::prelude::*;

use pxectl::templates::Templates;

const EXAMPLE: &str = include_str!("../examples/portacluster.yaml");
const SMALL: &str = include_str!("fixtures/invalid/several-problems-at-once/cluster.yaml");

/// Fragments that stress YAML, the validators and the templates.
const FRAGMENTS: &[&str] = &[
    "\n",
    "\n  ",
    ":",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "\\",
    ";",
    "#",
    "\t",
    "\0",
    "\u{7f}",
    "é",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ http.url }}",
    "&a ",
    "*a",
    "!!int ",
    "~",
    "null",
    "0x1F",
    "..",
    "/",
    "01-",
    "default",
    "aa:bb:cc:dd:ee:ff",
    "10.20.0.300",
    "/0",
    "/33",
    "-1",
    "99999999999999999999",
    "yes",
    "true",
];

fn load_and_render(text: &str) {
    if let Ok(cluster) = pxectl::description::parse(text, Path::new("/nonexistent")) {
        let templates = Templates::load(None).expect("built-in templates load");
        let layout = pxectl::layout::Layout::new(&cluster, None);
        let plan = pxectl::plan::build(&cluster, &layout, &templates)
            .expect("a valid description renders");
        assert!(!plan.files.is_empty());
    }
}

/// Applies `edits` (position, fragment index, kind) to `base`.
fn mutate(base: &str, edits: &[(usize, usize, u8)]) -> String {
    let mut text = base.to_string();
    for &(pos, frag, kind) in edits {
        let mut at = pos % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let fragment = FRAGMENTS[frag % FRAGMENTS.len()];
        match kind % 4 {
            0 => text.insert_str(at, fragment),
            1 => {
                let mut end = (at + 1 + frag % 8).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, fragment);
            }
            2 => {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = at % lines.len();
                    let mut v = lines.clone();
                    v.insert(i, lines[frag % lines.len()]);
                    text = v.join("\n");
                }
            }
            _ => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    lines.remove(at % lines.len());
                    text = lines.join("\n");
                }
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_and_render(&text);
    }

    #[test]
    fn mutated_example_never_panics(edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6)) {
        load_and_render(&mutate(EXAMPLE, &edits));
    }

    #[test]
    fn mutated_small_description_never_panics(edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6)) {
        load_and_render(&mutate(SMALL, &edits));
    }
}

#[test]
fn the_unmutated_inputs_are_what_the_fuzzer_thinks() {
    assert!(pxectl::description::parse(EXAMPLE, Path::new(".")).is_ok());
    assert!(pxectl::description::parse(SMALL, Path::new(".")).is_err());
}
