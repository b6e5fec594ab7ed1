//! Every example in examples/ is exercised, so none can go stale.

mod common;

use std::fs;

use common::{repo, Env};

#[test]
fn every_example_description_validates_renders_and_is_then_up_to_date() {
    let mut seen = 0;
    for entry in fs::read_dir(repo("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        seen += 1;
        let env = Env::new(&fs::read_to_string(&path).unwrap());
        env.run(&["validate"]).expect(0);
        env.run(&["render"]).expect(0);
        env.run(&["render", "--check"])
            .expect(0)
            .stdout_has("check: up to date");
    }
    assert!(seen >= 1, "no example descriptions found");
}

#[test]
fn every_file_in_examples_is_known_to_this_test() {
    // A new kind of example needs a test of its own before it is listed here.
    for entry in fs::read_dir(repo("examples")).unwrap() {
        let path = entry.unwrap().path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        assert!(
            ["yaml"].contains(&ext),
            "{} is not exercised by any test",
            path.display()
        );
    }
}
