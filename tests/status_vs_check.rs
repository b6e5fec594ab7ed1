//! `status` and `render --check` give the same verdict for every state a node's link, a
//! rendered file or the description can be in: both exit 0 (nothing wrong; a switched link is
//! fine) or both exit 1.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::{Env, Run};

/// node3's link.
const N3: &str = "01-c0-3f-d5-60-e5-b9";

/// Replaces node3's link by a link to `target`.
fn relink(env: &Env, target: &str) {
    common::relink(env.pxe(N3), target);
}

/// A state of the disk or the description, and the verdict both commands must give on it.
struct Row {
    name: &'static str,
    /// Turns a freshly rendered tree into this state.
    change: fn(&Env),
    /// The exit status of both: 0 nothing is wrong, 1 something is.
    verdict: i32,
}

const ROWS: &[Row] = &[
    Row {
        name: "node link as planned",
        change: |_| {},
        verdict: 0,
    },
    Row {
        name: "switched to a described profile",
        change: |env| relink(env, "installer"),
        verdict: 0,
    },
    Row {
        name: "missing",
        change: |env| fs::remove_file(env.pxe(N3)).unwrap(),
        verdict: 1,
    },
    Row {
        name: "dangling (points at a described profile whose file is missing)",
        change: |env| {
            relink(env, "rescue");
            fs::remove_file(env.pxe("rescue")).unwrap();
        },
        verdict: 1,
    },
    Row {
        name: "not a link: a regular file",
        change: |env| {
            fs::remove_file(env.pxe(N3)).unwrap();
            fs::write(env.pxe(N3), "hand edit\n").unwrap();
        },
        verdict: 1,
    },
    Row {
        name: "not a link: a folder",
        change: |env| {
            fs::remove_file(env.pxe(N3)).unwrap();
            fs::create_dir(env.pxe(N3)).unwrap();
        },
        verdict: 1,
    },
    Row {
        name: "escaping (`../../etc/passwd`)",
        change: |env| relink(env, "../../etc/passwd"),
        verdict: 1,
    },
    Row {
        name: "pointing at an undescribed name",
        change: |env| relink(env, "ubuntu"),
        verdict: 1,
    },
    Row {
        name: "an orphan link for an unknown MAC",
        change: |env| symlink("installer", env.pxe("01-aa-bb-cc-dd-ee-ff")).unwrap(),
        verdict: 1,
    },
    Row {
        name: "a hand-edited dnsmasq.conf",
        change: |env| fs::write(env.at("/etc/dnsmasq.conf"), "hand edit\n").unwrap(),
        verdict: 1,
    },
    Row {
        name: "dnsmasq.conf with comments and its independent lines reordered (same meaning)",
        change: |env| {
            let conf = env.at("/etc/dnsmasq.conf");
            let mut lines: Vec<String> = fs::read_to_string(&conf)
                .unwrap()
                .lines()
                .map(|l| format!("  {l}   # by hand"))
                .collect();
            lines.reverse();
            lines.insert(0, "# Ana's notes".to_string());
            fs::write(&conf, lines.join("\n")).unwrap();
        },
        verdict: 0,
    },
    Row {
        name: "a removed profile file",
        change: |env| fs::remove_file(env.pxe("arch-linux")).unwrap(),
        verdict: 1,
    },
    Row {
        name: "an unrendered new node (description edited after render)",
        change: |env| {
            let mut text = fs::read_to_string(env.config()).unwrap();
            text.push_str("  - {name: node7, mac: c0:3f:d5:60:d0:9f}\n");
            env.write_config(&text);
        },
        verdict: 1,
    },
];

fn show(what: &str, run: &Run) -> String {
    format!(
        "`{what}` exited {}\n--- stdout\n{}--- stderr\n{}",
        run.code(),
        run.stdout(),
        run.stderr()
    )
}

#[test]
fn status_and_check_agree_on_every_disk_state() {
    let mut failures = Vec::new();
    for Row {
        name,
        change,
        verdict,
    } in ROWS
    {
        let env = Env::rendered();
        change(&env);
        let status = env.run(&["status"]);
        let check = env.run(&["render", "--check"]);
        if status.code() != *verdict || check.code() != *verdict {
            failures.push(format!(
                "row `{name}`: both should exit {verdict}\n{}\n{}",
                show("status", &status),
                show("render --check", &check)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows fail:\n\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}
