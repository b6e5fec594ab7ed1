//! reimage, boot-normal, rescue, boot, reset, status and log through the real binary, whole
//! stdout and stderr compared (link times pinned, journal times printed as `<time>`).

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{identities, Env};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

const N1: &str = "01-c0-3f-d5-60-e5-a1";
const N3: &str = "01-c0-3f-d5-60-e5-b9";
const N5: &str = "01-c0-3f-d5-60-6f-18";

/// The example, rendered, with an empty journal (render's own entries are tested in render.rs).
fn rendered() -> Env {
    let env = Env::rendered();
    fs::remove_file(env.at("/var/lib/pxectl/journal.jsonl")).unwrap();
    env
}

fn target(env: &Env, link: &str) -> String {
    fs::read_link(env.pxe(link))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Sets a link's own mtime `ago` into the past.
fn age(path: &Path, ago: Duration) {
    let t = SystemTime::now() - ago;
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let ts = TimeSpec::new(i64::try_from(secs).unwrap(), 0);
    utimensat(None, path, &ts, &ts, UtimensatFlags::NoFollowSymlink).unwrap();
}

fn journal(env: &Env) -> Vec<serde_json::Value> {
    fs::read_to_string(env.at("/var/lib/pxectl/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn reimage_and_boot_normal_repoint_links_and_say_what_changed() {
    let env = rendered();
    env.run(&["reimage", "node3"]).succeeds_with(
        "\
node3  arch-linux -> installer
reimage: 1 switched, 0 already
",
    );
    assert_eq!(target(&env, N3), "installer");
    let before = identities(&env.root());
    env.run(&["reimage", "node3"]).succeeds_with(
        "\
node3  installer (already)
reimage: 0 switched, 1 already
",
    );
    assert_eq!(
        before,
        identities(&env.root()),
        "an `already` node was touched"
    );
    env.run(&["boot-normal", "--all"]).succeeds_with(
        "\
node1  arch-linux (already)
node2  arch-linux (already)
node3  installer -> arch-linux
node4  arch-linux (already)
node5  arch-linux (already)
node6  arch-linux (already)
boot-normal: 1 switched, 5 already
",
    );
    assert_eq!(target(&env, N3), "arch-linux");
}

#[test]
fn rescue_and_boot_any_profile() {
    let env = rendered();
    env.run(&["rescue", "node1"]).succeeds_with(
        "\
node1  arch-linux -> rescue
rescue: 1 switched, 0 already
",
    );
    env.run(&["boot", "--profile", "installer", "node1"])
        .succeeds_with(
            "\
node1  rescue -> installer
boot: 1 switched, 0 already
",
        );
    assert_eq!(target(&env, N1), "installer");
    env.run(&["boot", "--profile", "windows", "node1"])
        .expect(2)
        .stdout_is("")
        .stderr_is("error: profile `windows` is not described; use one of `arch-linux`, `installer`, `rescue`\n");
}

#[test]
fn targets_by_mac_range_and_group() {
    let text = fs::read_to_string(common::repo("examples/portacluster.yaml"))
        .unwrap()
        .replace(
            "{name: node5, mac: c0:3f:d5:60:6f:18}",
            "{name: node5, mac: c0:3f:d5:60:6f:18, groups: [top]}",
        );
    let env = Env::new(&text);
    env.run(&["render"]).expect(0);
    env.run(&["reimage", "C0-3F-D5-60-E5-A1", "node[3,4]"])
        .succeeds_with(
            "\
node1  arch-linux -> installer
node3  arch-linux -> installer
node4  arch-linux -> installer
reimage: 3 switched, 0 already
",
        );
    assert_eq!(target(&env, N1), "installer");
    assert_eq!(target(&env, N3), "installer");
    env.run(&["rescue", "--group", "top"]).succeeds_with(
        "\
node5  arch-linux -> rescue
rescue: 1 switched, 0 already
",
    );
    assert_eq!(target(&env, N5), "rescue");
    env.run(&["boot-normal", "c03f.d560.e5a1"]).succeeds_with(
        "\
node1  installer -> arch-linux
boot-normal: 1 switched, 0 already
",
    );
}

#[test]
fn an_invalid_target_changes_nothing_and_suggests_names() {
    let env = rendered();
    let before = identities(&env.root());
    env.run(&["reimage", "node1", "nod3", "node[7-8]", "--group", "nope"])
        .expect(2)
        .stdout_is("")
        .stderr_is(
            "\
error: unknown node `nod3`; did you mean `node3`?
error: target `node[7-8]` names nodes that are not described: `node7`, `node8`
error: no node is in group `nope`; no node has a group
error: nothing was changed
",
        );
    env.run(&["reimage", "node[1-"])
        .expect(2)
        .stdout_is("")
        .stderr_is(
            "\
error: target `node[1-`: has a `[` without `]`
error: nothing was changed
",
        );
    env.run(&["reimage"])
        .expect(2)
        .stdout_is("")
        .stderr_is("error: name the nodes to reimage: node names, MAC addresses or ranges like `node[1-3]`, `--group NAME`, or `--all`\n");
    assert_eq!(before, identities(&env.root()));
    assert!(journal(&env).is_empty());
}

#[test]
fn dry_run_changes_nothing() {
    let env = rendered();
    let before = identities(&env.root());
    env.run(&["reimage", "--all", "--dry-run"]).succeeds_with(
        "\
node1  arch-linux -> installer
node2  arch-linux -> installer
node3  arch-linux -> installer
node4  arch-linux -> installer
node5  arch-linux -> installer
node6  arch-linux -> installer
reimage: 6 would switch, 0 already; dry run, nothing changed
",
    );
    assert_eq!(before, identities(&env.root()));
}

#[test]
fn every_switch_is_journaled_and_log_filters() {
    let env = rendered();
    env.run(&["reimage", "node3", "node5"]).expect(0);
    env.run(&["boot-normal", "node3"]).expect(0);
    let j = journal(&env);
    assert_eq!(j.len(), 3);
    assert_eq!(j[0]["command"], "reimage");
    assert_eq!(j[0]["node"], "node3");
    assert_eq!(j[0]["mac"], "c0:3f:d5:60:e5:b9");
    assert_eq!(j[0]["from"], "arch-linux");
    assert_eq!(j[0]["to"], "installer");
    assert!(j[0]["time"].as_str().unwrap().ends_with('Z'));
    assert!(!j[0]["user"].as_str().unwrap().is_empty());
    env.run(&["log", "node3"]).with_times().succeeds_with(
        "\
<time>  tester  reimage  node3  arch-linux -> installer
<time>  tester  boot-normal  node3  installer -> arch-linux
",
    );
    assert_eq!(
        env.run(&["log", "--since", "1h"]).stdout().lines().count(),
        3
    );
    assert_eq!(
        env.run(&["log", "--since", "2999-01-01T00:00:00Z"])
            .stdout()
            .lines()
            .count(),
        0
    );
    env.run(&["log", "--since", "yesterday-ish"])
        .expect(2)
        .stdout_is("")
        .stderr_is("error: `--since yesterday-ish` is neither a duration nor a time; write `2h`, `7d` or `2026-11-25T10:00:00Z`\n");
    // A MAC in any spelling, or a link's name as `ls pxelinux.cfg` shows it.
    for mac in ["c0:3f:d5:60:6f:18", "01-c0-3f-d5-60-6f-18"] {
        env.run(&["log", "--json", mac])
            .with_times()
            .succeeds_with(
                r#"{"time":"<time>","user":"tester","command":"reimage","node":"node5","mac":"c0:3f:d5:60:6f:18","from":"arch-linux","to":"installer"}
"#,
            );
    }
}

#[test]
fn a_torn_journal_line_does_not_break_log_or_the_next_append() {
    let env = rendered();
    env.run(&["reimage", "node3"]).expect(0);
    let path = env.at("/var/lib/pxectl/journal.jsonl");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"time":"2026-11-25T1"#);
    fs::write(&path, text).unwrap();
    env.run(&["log"])
        .with_times()
        .expect(0)
        .stdout_is("<time>  tester  reimage  node3  arch-linux -> installer\n")
        .stderr_is("warning: journal line 2 is not an entry (an interrupted write?); skipped\n");
    env.run(&["boot-normal", "node3"]).expect(0);
    let run = env.run(&["log"]);
    run.expect(0);
    assert_eq!(run.stdout().lines().count(), 2, "{}", run.stdout());
}

#[test]
fn reset_older_than_puts_back_only_stale_switches() {
    let env = rendered();
    env.run(&["reimage", "node3", "node5"]).expect(0);
    age(&env.pxe(N3), Duration::from_secs(3 * 3600));
    let before = identities(&env.root());
    env.run(&["reset", "--all", "--older-than", "2h", "--dry-run"])
        .succeeds_with(
            "node3  installer -> arch-linux\n\
             reset: 1 would switch, 4 already; dry run, nothing changed, \
             1 switched less than 2h ago (kept)\n",
        );
    assert_eq!(
        before,
        identities(&env.root()),
        "--dry-run changed the tree"
    );
    env.run(&["reset", "--all", "--older-than", "2h"])
        .succeeds_with(
            "\
node3  installer -> arch-linux
reset: 1 switched, 4 already, 1 switched less than 2h ago (kept)
",
        );
    assert_eq!(target(&env, N3), "arch-linux");
    assert_eq!(target(&env, N5), "installer");
    assert_eq!(journal(&env).last().unwrap()["command"], "reset");
    env.run(&["reset", "--all"]).succeeds_with(
        "\
node5  installer -> arch-linux
reset: 1 switched, 5 already
",
    );
}

#[test]
fn status_shows_who_boots_what_and_exits_0_when_clean() {
    let env = rendered();
    env.run(&["reimage", "node3"]).expect(0);
    env.pin_link_times();
    env.run(&["status"])
        .succeeds_with(
            "\
NODE   MAC                IP  BOOTS        SINCE                 NORMAL      GROUPS  LOADER  PROBLEMS
node1  c0:3f:d5:60:e5:a1  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node2  c0:3f:d5:60:cd:8b  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node3  c0:3f:d5:60:e5:b9  -   installer *  2026-01-02T03:04:05Z  arch-linux  -       auto
node4  c0:3f:d5:60:e4:ac  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node5  c0:3f:d5:60:6f:18  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node6  c0:3f:d5:60:d0:9e  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
6 nodes, 1 switched (*), 0 problems
",
        );
    let json = env.run(&["status", "--json", "node3"]).json();
    let n = &json["nodes"][0];
    assert_eq!(json["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(n["name"], "node3");
    assert_eq!(n["profile"], "installer");
    assert_eq!(n["normal_profile"], "arch-linux");
    assert_eq!(n["switched"], true);
    assert!(n["since"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["problem_count"], 0);
}

#[test]
fn status_reports_every_kind_of_problem_and_exits_1() {
    let env = rendered();
    let secret = env.dir.path().join("shadow");
    fs::write(&secret, "x").unwrap();
    fs::remove_file(env.pxe(N1)).unwrap(); // no link
    common::relink(env.pxe(N3), &secret); // escapes
    common::relink(env.pxe(N5), "ubuntu"); // not described
    let n2 = env.pxe("01-c0-3f-d5-60-cd-8b");
    fs::remove_file(&n2).unwrap();
    fs::write(&n2, "hand edit").unwrap(); // not a link
    fs::remove_file(env.pxe("rescue")).unwrap(); // profile missing
    fs::write(env.pxe("installer"), "edited").unwrap(); // profile differs
    symlink("installer", env.pxe("01-aa-bb-cc-dd-ee-ff")).unwrap(); // orphan
    let json = env.run(&["status", "--json"]).expect(1).json();
    let kinds = |name: &str| -> Vec<String> {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds("node1"), ["no-link"]);
    assert_eq!(kinds("node2"), ["not-a-link"]);
    assert_eq!(kinds("node3"), ["escapes"]);
    assert_eq!(kinds("node5"), ["unknown-profile"]);
    assert_eq!(kinds("node4"), Vec::<String>::new());
    assert_eq!(json["orphans"][0]["mac"], "aa:bb:cc:dd:ee:ff");
    let profile_kinds: Vec<&str> = json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(profile_kinds, ["differs", "missing"]);
    assert_eq!(json["problem_count"], 7);
    env.pin_link_times();
    env.run(&["status"])
        .expect(1)
        .stdout_is("\
NODE   MAC                IP  BOOTS       SINCE                 NORMAL      GROUPS  LOADER  PROBLEMS
node1  c0:3f:d5:60:e5:a1  -   installer   -                     arch-linux  -       auto    no-link
node2  c0:3f:d5:60:cd:8b  -   ?           -                     arch-linux  -       auto    not-a-link
node3  c0:3f:d5:60:e5:b9  -   ?           2026-01-02T03:04:05Z  arch-linux  -       auto    escapes
node4  c0:3f:d5:60:e4:ac  -   arch-linux  2026-01-02T03:04:05Z  arch-linux  -       auto
node5  c0:3f:d5:60:6f:18  -   ?           2026-01-02T03:04:05Z  arch-linux  -       auto    unknown-profile
node6  c0:3f:d5:60:d0:9e  -   arch-linux  2026-01-02T03:04:05Z  arch-linux  -       auto
problem: node1: no `01-c0-3f-d5-60-e5-a1` link: the node boots `default` (`installer`); `pxectl boot-normal node1` creates it
problem: node2: `01-c0-3f-d5-60-cd-8b` is a regular file, not a link (a hand edit?); `pxectl boot-normal node2` replaces it
problem: node3: `01-c0-3f-d5-60-e5-b9` points outside pxelinux.cfg/ (`<dir>/shadow`), and dnsmasq follows it; `pxectl boot-normal node3` replaces it
problem: node5: `01-c0-3f-d5-60-6f-18` points at `ubuntu`, which is not a described profile; `pxectl boot-normal node5` replaces it
problem: orphan `01-aa-bb-cc-dd-ee-ff` (aa:bb:cc:dd:ee:ff) -> installer: no node has this MAC; `pxectl render --prune` removes it
problem: profile file `installer` differs from the description; `pxectl render --diff` shows how and rewrites it
problem: profile file `rescue` does not exist; `pxectl render` writes it
6 nodes, 0 switched (*), 7 problems
")
        .stderr_is("");
    // A link to a described profile whose file is gone dangles.
    common::relink(env.pxe(N5), "rescue");
    env.pin_link_times();
    env.run(&["status", "node5"])
        .expect(1)
        .stdout_is("\
NODE   MAC                IP  BOOTS     SINCE                 NORMAL      GROUPS  LOADER  PROBLEMS
node5  c0:3f:d5:60:6f:18  -   rescue *  2026-01-02T03:04:05Z  arch-linux  -       auto    dangling
problem: node5: `01-c0-3f-d5-60-6f-18` points at `rescue`, whose file does not exist; `pxectl render` writes it
problem: profile file `installer` differs from the description; `pxectl render --diff` shows how and rewrites it
problem: profile file `rescue` does not exist; `pxectl render` writes it
1 node, 1 switched (*), 3 problems
")
        .stderr_is("");
}

#[test]
fn a_hostile_link_or_folder_is_replaced_never_followed() {
    let env = rendered();
    // A link to /etc/shadow: replaced, and /etc/shadow is never opened for writing.
    let shadow = Path::new("/etc/shadow");
    let shadow_before = fs::symlink_metadata(shadow)
        .ok()
        .map(|m| (m.len(), m.modified().unwrap()));
    common::relink(env.pxe(N3), shadow);
    env.pin_link_times();
    env.run(&["status", "node3"])
        .expect(1)
        .stdout_is("\
NODE   MAC                IP  BOOTS  SINCE                 NORMAL      GROUPS  LOADER  PROBLEMS
node3  c0:3f:d5:60:e5:b9  -   ?      2026-01-02T03:04:05Z  arch-linux  -       auto    escapes
problem: node3: `01-c0-3f-d5-60-e5-b9` points outside pxelinux.cfg/ (`/etc/shadow`), and dnsmasq follows it; `pxectl boot-normal node3` replaces it
1 node, 0 switched (*), 1 problem
")
        .stderr_is("");
    env.run(&["boot-normal", "node3"]).succeeds_with(
        "\
node3  a link to `/etc/shadow` -> arch-linux
boot-normal: 1 switched, 0 already
",
    );
    assert_eq!(target(&env, N3), "arch-linux");
    assert_eq!(
        shadow_before,
        fs::symlink_metadata(shadow)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap()))
    );
    // A folder: moved aside (kept for the operator), the link put in its place.
    fs::remove_file(env.pxe(N5)).unwrap();
    fs::create_dir(env.pxe(N5)).unwrap();
    fs::write(env.pxe(N5).join("keep"), "data").unwrap();
    let run = env.run(&["reimage", "node5"]);
    run.expect(0)
        .stdout_is("node5  a folder -> installer\nreimage: 1 switched, 0 already\n");
    assert_eq!(target(&env, N5), "installer");
    let moved: Vec<_> = fs::read_dir(env.pxe(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".pxectl.displaced.")
        })
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(fs::read_to_string(moved[0].join("keep")).unwrap(), "data");
    run.stderr_is(&format!(
        "warning: node `node5`: a folder stood where its link belongs; it was moved to \
         `<root>/srv/public/pxe/pxelinux.cfg/{}`\n",
        moved[0].file_name().unwrap().to_string_lossy()
    ));
    // A regular file (hand edit): replaced by the link.
    fs::remove_file(env.pxe(N1)).unwrap();
    fs::write(env.pxe(N1), "hand edit").unwrap();
    env.run(&["rescue", "node1"]).succeeds_with(
        "\
node1  a regular file -> rescue
rescue: 1 switched, 0 already
",
    );
    assert_eq!(target(&env, N1), "rescue");
}

#[test]
fn a_second_writer_waits_then_names_the_live_holder() {
    let env = rendered();
    let lock_path = env.at("/var/lib/pxectl/lock");
    // The pid in the file is of a pxectl gone since; the live holder is another program.
    fs::write(&lock_path, "4242\n").unwrap();
    let holder = common::HeldLock::at(&lock_path);
    let busy = format!(
        "error: flock pid {} holds the lock `<root>/var/lib/pxectl/lock`; waited 0.3s: retry when it is done, or raise `--lock-timeout`\n",
        holder.pid()
    );
    env.run(&["--lock-timeout", "300ms", "reimage", "node1"])
        .expect(3)
        .stdout_is("")
        .stderr_is(&busy);
    env.run(&["--lock-timeout", "300ms", "render"])
        .expect(3)
        .stdout_is("")
        .stderr_is(&busy);
    holder.release();
    env.run(&["reimage", "node1"]).expect(0);
}

#[test]
fn switching_to_a_profile_not_yet_rendered_is_refused() {
    let env = rendered();
    fs::remove_file(env.pxe("rescue")).unwrap();
    env.run(&["rescue", "node1"])
        .expect(3)
        .stdout_is("")
        .stderr_is("error: `pxelinux.cfg/rescue` does not exist yet, so switched nodes would boot `default` instead; run `pxectl render` first (nothing was switched)\n");
    assert_eq!(target(&env, N1), "arch-linux");
}

#[test]
fn a_linked_lock_or_journal_is_never_followed() {
    let env = rendered();
    let victim = env.dir.path().join("victim");
    fs::write(&victim, "precious data\n").unwrap();
    let lock = env.at("/var/lib/pxectl/lock");
    common::relink(&lock, &victim);
    env.run(&["reimage", "node1"])
        .expect(3)
        .stdout_is("")
        .stderr_is("error: cannot open the lock file `<root>/var/lib/pxectl/lock` (it is a symbolic link: remove it, pxectl never follows one there): Too many levels of symbolic links (os error 40)\n");
    env.run(&["render"]).expect(3);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious data\n");
    fs::remove_file(&lock).unwrap();
    let journal = env.at("/var/lib/pxectl/journal.jsonl");
    symlink(&victim, &journal).unwrap();
    env.run(&["reimage", "node1"])
        .expect(3)
        .stdout_is("node1  arch-linux -> installer\n")
        .stderr_is("error: cannot open the journal `<root>/var/lib/pxectl/journal.jsonl` (if it is a symbolic link, remove it: pxectl never follows one there): Too many levels of symbolic links (os error 40)\n");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious data\n");
}

#[test]
fn reset_older_than_never_keeps_a_fresh_hostile_link() {
    let env = rendered();
    common::relink(env.pxe(N1), "/etc/shadow");
    common::relink(env.pxe(N5), "ubuntu");
    env.run(&["reimage", "node3"]).expect(0);
    env.run(&["reset", "--all", "--older-than", "2h"])
        .succeeds_with(
            "\
node1  a link to `/etc/shadow` -> arch-linux
node5  ubuntu -> arch-linux
reset: 2 switched, 3 already, 1 switched less than 2h ago (kept)
",
        );
    assert_eq!(target(&env, N3), "installer");
}

#[test]
fn a_link_to_no_usable_profile_is_not_counted_as_switched() {
    let env = rendered();
    common::relink(env.pxe(N1), "/etc/shadow");
    let json = env.run(&["status", "--json", "node1"]).expect(1).json();
    assert_eq!(json["nodes"][0]["switched"], false);
    assert_eq!(json["nodes"][0]["profile"], serde_json::Value::Null);
}

#[test]
fn status_json_into_a_closed_pipe_is_not_an_error() {
    use std::io::Read as _;
    let env = Env::new(&common::synthetic::description(3000));
    env.run(&["-q", "render"]).expect(0);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pxectl"))
        .arg("--config")
        .arg(env.config())
        .arg("--root")
        .arg(env.root())
        .args(["status", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `status` and the switches read the description each time: an edit made without rendering
/// is seen at once.
#[test]
fn status_and_switches_see_an_edit_of_the_description_at_once() {
    let env = Env::rendered();
    // An edit without render: a new node, and node3 renamed.
    let text = std::fs::read_to_string(env.config()).unwrap();
    let edited = text.replace("name: node3", "name: node9");
    assert_ne!(edited, text);
    env.write_config(&edited);
    let stdout = env.run(&["status", "--json"]).stdout();
    assert!(
        stdout.contains("\"node9\"") && !stdout.contains("\"node3\""),
        "{stdout}"
    );
    env.run(&["reimage", "node9"]).succeeds_with(
        "\
node9  arch-linux -> installer
reimage: 1 switched, 0 already
",
    );
    env.run(&["reimage", "node3"])
        .expect(2)
        .stdout_is("")
        .stderr_is(
            "\
error: unknown node `node3`; did you mean `node1`, `node2`, `node4`?
error: nothing was changed
",
        );
}

/// The switch's one read of the link folder removes a killed run's temporaries, but only
/// under the lock: `--dry-run` leaves them.
#[test]
fn a_switch_removes_stale_temporaries_and_a_dry_run_does_not() {
    let env = Env::rendered();
    let stale = env.pxe(".pxectl.tmp.999.0");
    std::os::unix::fs::symlink("installer", &stale).unwrap();
    env.run(&["reimage", "--dry-run", "node1"]).expect(0);
    assert!(
        stale.symlink_metadata().is_ok(),
        "a dry run changes nothing"
    );
    env.run(&["reimage", "node1"]).expect(0);
    assert!(stale.symlink_metadata().is_err(), "left behind");
}

/// node3 switched, node1's link missing, node5's link dangling (its profile file removed), an
/// orphan link; the links' mtimes pinned.
fn troubled() -> Env {
    let env = rendered();
    env.run(&["reimage", "node3"]).expect(0);
    fs::remove_file(env.pxe(N1)).unwrap();
    common::relink(env.pxe(N5), "rescue");
    fs::remove_file(env.pxe("rescue")).unwrap();
    symlink("installer", env.pxe("01-aa-bb-cc-dd-ee-ff")).unwrap();
    env.pin_link_times();
    env
}

#[test]
fn status_table_shows_switched_missing_dangling_and_orphan() {
    troubled()
        .run(&["status"])
        .expect(1)
        .stdout_is(
            "\
NODE   MAC                IP  BOOTS        SINCE                 NORMAL      GROUPS  LOADER  PROBLEMS
node1  c0:3f:d5:60:e5:a1  -   installer    -                     arch-linux  -       auto    no-link
node2  c0:3f:d5:60:cd:8b  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node3  c0:3f:d5:60:e5:b9  -   installer *  2026-01-02T03:04:05Z  arch-linux  -       auto
node4  c0:3f:d5:60:e4:ac  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
node5  c0:3f:d5:60:6f:18  -   rescue *     2026-01-02T03:04:05Z  arch-linux  -       auto    dangling
node6  c0:3f:d5:60:d0:9e  -   arch-linux   2026-01-02T03:04:05Z  arch-linux  -       auto
problem: node1: no `01-c0-3f-d5-60-e5-a1` link: the node boots `default` (`installer`); `pxectl boot-normal node1` creates it
problem: node5: `01-c0-3f-d5-60-6f-18` points at `rescue`, whose file does not exist; `pxectl render` writes it
problem: orphan `01-aa-bb-cc-dd-ee-ff` (aa:bb:cc:dd:ee:ff) -> installer: no node has this MAC; `pxectl render --prune` removes it
problem: profile file `rescue` does not exist; `pxectl render` writes it
6 nodes, 2 switched (*), 4 problems
",
        )
        .stderr_is("");
}

#[test]
fn status_json_shows_switched_missing_dangling_and_orphan() {
    troubled()
        .run(&["status", "--json"])
        .expect(1)
        .stdout_is(include_str!("fixtures/output/status-troubled.json"))
        .stderr_is("");
}

/// Each switch command, first with `--dry-run` (same lines, "would switch", nothing changed)
/// and then for real.
#[test]
fn each_switch_command_prints_one_line_per_node_and_a_summary() {
    let env = rendered();
    // (command, lines for the nodes, summary of the dry run, summary of the real run)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["reimage", "node1", "node2"],
            "node1  arch-linux -> installer\nnode2  arch-linux -> installer\n",
            "reimage: 2 would switch, 0 already; dry run, nothing changed\n",
            "reimage: 2 switched, 0 already\n",
        ),
        (
            &["rescue", "node2", "node4"],
            "node2  installer -> rescue\nnode4  arch-linux -> rescue\n",
            "rescue: 2 would switch, 0 already; dry run, nothing changed\n",
            "rescue: 2 switched, 0 already\n",
        ),
        (
            &["boot", "--profile", "rescue", "node1", "node4", "node5"],
            "node1  installer -> rescue\nnode4  rescue (already)\nnode5  arch-linux -> rescue\n",
            "boot: 2 would switch, 1 already; dry run, nothing changed\n",
            "boot: 2 switched, 1 already\n",
        ),
        (
            &["boot-normal", "node1", "node3", "node4"],
            "node1  rescue -> arch-linux\nnode3  arch-linux (already)\nnode4  rescue -> arch-linux\n",
            "boot-normal: 2 would switch, 1 already; dry run, nothing changed\n",
            "boot-normal: 2 switched, 1 already\n",
        ),
        (
            &["reset", "--all"],
            "node2  rescue -> arch-linux\nnode5  rescue -> arch-linux\n",
            "reset: 2 would switch, 4 already; dry run, nothing changed\n",
            "reset: 2 switched, 4 already\n",
        ),
    ];
    for (args, lines, dry_summary, summary) in cases {
        let before = common::identities(&env.root());
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        env.run(&dry)
            .succeeds_with(&format!("{lines}{dry_summary}"));
        assert_eq!(
            before,
            common::identities(&env.root()),
            "{dry:?} changed the tree"
        );
        env.run(args).succeeds_with(&format!("{lines}{summary}"));
    }
}
