//! Every description under tests/fixtures/invalid/ is refused with exit status 2, each problem
//! named with its <file:line:column>, and the output tree is left exactly as it was.

mod common;

use std::fs;

use common::{identities, repo, tree, Env};

/// Asserts that `actual` is `expected`, showing a line diff when it is not.
#[track_caller]
fn assert_text(actual: &str, expected: &str) {
    if actual != expected {
        let diff = similar::TextDiff::from_lines(expected, actual);
        panic!(
            "output differs (- expected, + actual):\n{}",
            diff.unified_diff()
        );
    }
}

#[test]
fn every_invalid_description_is_refused_with_its_place_and_nothing_is_touched() {
    let mut cases: Vec<_> = fs::read_dir(repo("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "only {} invalid fixtures", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        // A tree rendered from a valid description, which the invalid one must not touch.
        let env = Env::example("portacluster");
        env.run(&["render"]).expect(0);
        let before_tree = tree(&env.root());
        let before_ids = identities(&env.root());

        env.write_config(&fs::read_to_string(case.join("cluster.yaml")).unwrap());
        let expected = fs::read_to_string(case.join("expected.txt")).unwrap();
        let problems = expected.lines().count() / 2;
        for args in [&["render"][..], &["render", "--check"], &["validate"]] {
            let run = env.run(args);
            let stderr = run.stderr();
            let mut why = Vec::new();
            if run.code() != 2 {
                why.push(format!("exit status {} instead of 2", run.code()));
            }
            for line in expected.lines().filter(|l| !l.is_empty()) {
                if !stderr.contains(line) {
                    why.push(format!("stderr lacks {line:?}"));
                }
            }
            let summary = format!("has {problems} problem");
            if !stderr.contains(&summary) || !stderr.contains("nothing was written") {
                why.push(format!("stderr lacks the summary {summary:?}"));
            }
            if stderr.contains("panicked") {
                why.push("panicked".into());
            }
            if !run.stdout().is_empty() {
                why.push(format!("printed to stdout: {}", run.stdout()));
            }
            if tree(&env.root()) != before_tree || identities(&env.root()) != before_ids {
                why.push("the output tree changed".into());
            }
            if !why.is_empty() {
                failures.push(format!(
                    "{name} ({}): {}\n{stderr}",
                    args.join(" "),
                    why.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_problem_has_a_hint() {
    let env = Env::new(
        &fs::read_to_string(repo(
            "tests/fixtures/invalid/several-problems-at-once/cluster.yaml",
        ))
        .unwrap(),
    );
    let run = env.run(&["validate"]);
    run.expect(2);
    let stderr = run.stderr();
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("nothing was written"))
        .count();
    let hints = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("= help: "))
        .count();
    assert_eq!(errors, 3, "{stderr}");
    assert_eq!(hints, errors, "{stderr}");
}

#[test]
fn an_out_of_range_duration_is_refused_before_anything_changes() {
    const HUGE: &str = "300000000000y";
    let yaml = fs::read_to_string(repo("examples/portacluster.yaml")).unwrap();
    // With callbacks on, `reimage --wait` switches before it waits.
    let env = Env::new(&format!("{yaml}\nlifecycle:\n  callbacks: true\n"));
    env.run(&["render"]).expect(0);
    let before = tree(&env.root());
    for (args, flag) in [
        (&["--lock-timeout", HUGE, "status"][..], "--lock-timeout"),
        (
            &["reimage", "node2", "--wait", "--timeout", HUGE],
            "--timeout",
        ),
        (&["reset", "--all", "--older-than", HUGE], "--older-than"),
    ] {
        let run = env.run(args);
        run.expect(2);
        assert_text(
            &run.stderr(),
            &format!(
                "error: invalid value '{HUGE}' for '{flag} <DURATION>': `{HUGE}` is longer than 100 years; write a shorter duration, like `45m` or `7d`\n\nFor more information, try '--help'.\n"
            ),
        );
        assert!(tree(&env.root()) == before, "{args:?} changed the tree");
    }
    // `--since` reaches back to the beginning of the journal at most.
    let run = env.run(&["log", "--since", HUGE]);
    run.expect(0);
    assert!(run.stdout().contains("render  node2"), "{}", run.stdout());
}
