//! Shell completion: bash's completion function, from `pxectl completions bash`, run for real
//! and its candidates compared whole (docs/cli.md).

mod common;

use std::process::Command;

use common::{prerequisite, Env};

/// The portacluster example with node1 and node2 in group `rack1`, node3 in `rack2` and
/// `gpu`.
fn env() -> Env {
    let env = Env::example("portacluster");
    let yaml = std::fs::read_to_string(env.config())
        .unwrap()
        .replace(
            "{name: node1, mac: c0:3f:d5:60:e5:a1}",
            "{name: node1, mac: c0:3f:d5:60:e5:a1, groups: [rack1]}",
        )
        .replace(
            "{name: node2, mac: c0:3f:d5:60:cd:8b}",
            "{name: node2, mac: c0:3f:d5:60:cd:8b, groups: [rack1]}",
        )
        .replace(
            "{name: node3, mac: c0:3f:d5:60:e5:b9}",
            "{name: node3, mac: c0:3f:d5:60:e5:b9, groups: [rack2, gpu]}",
        );
    env.write_config(&yaml);
    env
}

/// `PATH` with the folder of the pxectl under test first: the scripts call `pxectl` back.
fn path_with_pxectl() -> String {
    let binary = assert_cmd::cargo::cargo_bin("pxectl");
    let dir = binary.parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

/// What bash offers for the command line `line` (Tab at its end), one candidate a line,
/// with `PXECTL_CONFIG` set to `config` when given.
fn complete(line: &str, config: Option<&std::path::Path>) -> String {
    let binary = assert_cmd::cargo::cargo_bin("pxectl");
    let script = common::run_ok(Command::new(&binary).args(["completions", "bash"]));
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(
            r#"eval "$SCRIPT"
read -ra COMP_WORDS <<< "$LINE"
[[ $LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$LINE COMP_POINT=${#LINE} COMP_TYPE=9
_clap_complete_pxectl pxectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
for c in "${COMPREPLY[@]}"; do printf '%s\n' "$c"; done"#,
        )
        .env("SCRIPT", String::from_utf8(script.stdout).unwrap())
        .env("LINE", line)
        .env("PATH", path_with_pxectl())
        .env_remove("PXECTL_CONFIG");
    if let Some(config) = config {
        cmd.env("PXECTL_CONFIG", config);
    }
    String::from_utf8(common::run_ok(&mut cmd).stdout).unwrap()
}

#[test]
fn bash_completes_described_names() {
    if !prerequisite(common::have("bash"), "bash runs the completion function") {
        return;
    }
    let env = env();
    let config = env.config();
    let cfg = config.to_str().unwrap();

    // TARGETS: node names (not reservations), from PXECTL_CONFIG...
    assert_eq!(
        complete("pxectl reimage no", Some(&config)),
        "node1\nnode2\nnode3\nnode4\nnode5\nnode6\n"
    );
    assert_eq!(
        complete("pxectl rescue node", Some(&config)),
        "node1\nnode2\nnode3\nnode4\nnode5\nnode6\n"
    );
    // ... or from `--config`, before or after the command.
    assert_eq!(
        complete(&format!("pxectl --config {cfg} status node3"), None),
        "node3\n"
    );
    assert_eq!(
        complete(&format!("pxectl log -c {cfg} node5"), None),
        "node5\n"
    );
    // Groups after `-g`, profiles after `--profile`.
    assert_eq!(
        complete(&format!("pxectl reset --config {cfg} -g "), None),
        "gpu\nrack1\nrack2\n"
    );
    assert_eq!(
        complete(&format!("pxectl reimage --config {cfg} --group ra"), None),
        "rack1\nrack2\n"
    );
    assert_eq!(
        complete(&format!("pxectl boot --config {cfg} --profile "), None),
        "arch-linux\ninstaller\nrescue\n"
    );
    // Commands and flags still complete.
    assert_eq!(complete("pxectl resc", None), "rescue\n");
    assert_eq!(complete("pxectl boot --prof", None), "--profile\n");
    // A description that cannot be read completes no name, and prints no error.
    let missing = env.dir.path().join("missing.yaml");
    assert_eq!(complete("pxectl reimage no", Some(&missing)), "");
}

#[test]
fn fish_completes_described_names() {
    if !prerequisite(
        common::have("fish"),
        "fish runs its completion (`bash scripts/test` installs it)",
    ) {
        return;
    }
    let env = env();
    let binary = assert_cmd::cargo::cargo_bin("pxectl");
    let script = env.dir.path().join("pxectl.fish");
    let printed = common::run_ok(Command::new(&binary).args(["completions", "fish"]));
    std::fs::write(&script, printed.stdout).unwrap();
    let complete = |line: &str| {
        let out = common::run_ok(
            Command::new("fish")
                .arg("--no-config")
                .arg("-c")
                .arg(format!("source {}; complete -C'{line}'", script.display()))
                .env("PATH", path_with_pxectl())
                .env("PXECTL_CONFIG", env.config()),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        complete("pxectl reimage no"),
        "node1\nnode2\nnode3\nnode4\nnode5\nnode6\n"
    );
    assert_eq!(complete("pxectl status -g r"), "rack1\nrack2\n");
    assert_eq!(
        complete("pxectl boot --profile "),
        "arch-linux\ninstaller\nrescue\n"
    );
}
