//! What render, `render --check` and `status` make of hostile or stale things on disk: text
//! that would drive a terminal, folders named like temporaries, profiles no longer described.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::Env;

/// A link target holding ESC, BEL and a newline is printed escaped by every command that
/// shows it: no terminal escape, no fake line.
#[test]
fn text_read_from_disk_is_printed_escaped() {
    let env = Env::rendered();
    let link = env.pxe("01-c0-3f-d5-60-e5-a1");
    common::relink(&link, "evil\x1b[2J\x07\nproblem: 0 problems");
    let orphan = env.pxe("01-aa-bb-cc-dd-ee-ff");
    symlink("x\x1b]0;title\x07", &orphan).unwrap();
    for args in [
        &["status"][..],
        &["render", "--check"],
        &["render", "--dry-run"],
        &["reimage", "--dry-run", "node1"],
    ] {
        let run = env.run(args);
        for (stream, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
            assert!(
                !text.contains('\x1b') && !text.contains('\x07'),
                "{args:?} {stream} has a control character:\n{text}"
            );
            assert!(
                !text.lines().any(|l| l == "problem: 0 problems"),
                "{args:?} {stream} printed a fake line:\n{text}"
            );
        }
    }
    let status = env.run(&["status"]);
    status.expect(1).stdout_has(
        "`01-c0-3f-d5-60-e5-a1` points at `evil\\u{1b}[2J\\u{7}\\nproblem: 0 problems`",
    );
    // JSON stays JSON: the target as read, escaped by JSON's own rules.
    let json = env.run(&["status", "--json"]).json();
    assert_eq!(
        json["nodes"][0]["link"],
        "evil\x1b[2J\x07\nproblem: 0 problems"
    );
}

/// A folder named like one of pxectl's temporaries is not pxectl's: it blocks nothing.
#[test]
fn a_folder_named_like_a_temporary_blocks_nothing() {
    let env = Env::rendered();
    let evil = env.pxe(".pxectl.tmp.evil");
    fs::create_dir(&evil).unwrap();
    let etc_evil = env.at("/etc/.pxectl.tmp.evil");
    fs::create_dir(&etc_evil).unwrap();
    env.run(&["render"])
        .expect(0)
        .stderr_has("is named like a pxectl temporary but is not one");
    env.run(&["reimage", "node1"]).expect(0);
    env.run(&["boot-normal", "node1"]).expect(0);
    assert!(evil.is_dir() && etc_evil.is_dir(), "left alone");
}

/// A profile removed from the description leaves its file behind: `render --check` and
/// `status` report it, `render --prune` removes it.
#[test]
fn a_removed_profile_is_a_leftover_until_pruned() {
    let env = Env::rendered();
    let text = fs::read_to_string(env.config()).unwrap();
    let start = text.find("  rescue:\n").unwrap();
    let end = text.find("roles:").unwrap();
    let edited = format!("{}\n{}", &text[..start], &text[end..]).replace("  rescue: rescue\n", "");
    env.write_config(&edited);
    let rescue = env.pxe("rescue");
    let warning = format!(
        "warning: `{}` is a profile file pxectl wrote that is no longer described; `pxectl render --prune` removes it\n",
        rescue.display()
    );

    let render = env.run(&["render"]);
    render.expect(0);
    assert_eq!(render.stderr(), warning);
    assert!(rescue.is_file(), "render alone keeps it");
    env.run(&["render", "--check"]).expect(1);
    let json = env.run(&["status", "--json"]).expect(1).json();
    assert_eq!(json["files"][0]["kind"], "leftover");
    assert_eq!(json["problem_count"], 1);

    let prune = env.run(&["render", "--prune"]);
    prune.expect(0);
    assert_eq!(
        prune.stdout(),
        format!(
            "prune  {} (a profile no longer described)\nrender: 0 files written, 4 unchanged; 0 links created, 0 re-pointed, 1 pruned, 7 unchanged\n",
            rescue.display()
        )
    );
    assert!(!rescue.exists());
    env.run(&["render", "--check"]).expect(0);
    env.run(&["status"]).expect(0);
}

/// A file of an operator's own in pxelinux.cfg/ was never written by pxectl: not a leftover.
#[test]
fn an_operators_own_file_is_not_a_leftover() {
    let env = Env::rendered();
    fs::write(env.pxe("menu.c32.cfg"), "# mine\n").unwrap();
    env.run(&["render", "--check"]).expect(0);
    env.run(&["status"]).expect(0);
    env.run(&["render", "--prune"]).expect(0);
    assert!(env.pxe("menu.c32.cfg").is_file());
}

/// A journal line holding terminal escapes (a hand edit, or a target recorded before this
/// release) is printed escaped by `log`.
#[test]
fn log_prints_the_journal_escaped() {
    let env = Env::rendered();
    let journal = env.at("/var/lib/pxectl/journal.jsonl");
    let mut text = fs::read_to_string(&journal).unwrap_or_default();
    text.push_str(r#"{"time":"2026-11-25T10:00:00Z","user":"root","command":"reimage","node":"node1\u001b[2J","mac":"c0:3f:d5:60:e5:a1","from":"a\nfake","to":"installer"}"#);
    text.push('\n');
    fs::write(&journal, text).unwrap();
    let out = env
        .run(&["log", "--since", "2026-11-25T09:00:00Z"])
        .stdout();
    assert_eq!(
        out.lines().last().unwrap(),
        "2026-11-25T10:00:00Z  root  reimage  node1\\u{1b}[2J  a\\nfake -> installer"
    );
    assert!(!out.contains('\x1b'));
}

/// The `default` link's target shows in the BOOTS column of a node without a link, and a
/// config link's destination in render's lines: both from disk, both escaped.
#[test]
fn the_default_target_and_a_config_destination_are_printed_escaped() {
    let env = Env::rendered();
    let default = env.pxe("default");
    common::relink(&default, "in\x1b[31mRED\x07");
    fs::remove_file(env.pxe("01-c0-3f-d5-60-e5-a1")).unwrap();
    let nginx = env.at("/etc/nginx/nginx.conf");
    let dest = env.at("/srv/public/x\x1b[31mEVIL\nfake line");
    fs::copy(&nginx, &dest).unwrap();
    fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    common::relink(&nginx, &dest);
    for args in [
        &["status"][..],
        &["render", "--check"],
        &["render", "--dry-run"],
    ] {
        let run = env.run(args);
        for text in [run.stdout(), run.stderr()] {
            assert!(
                !text.contains('\x1b') && !text.contains('\x07'),
                "{args:?}:\n{text}"
            );
            assert!(
                !text.lines().any(|l| l.starts_with("fake line")),
                "{args:?}:\n{text}"
            );
        }
    }
    // JSON stays JSON: the target as read.
    let json = env.run(&["status", "--json"]).json();
    assert_eq!(json["nodes"][0]["profile"], "in\x1b[31mRED\x07", "{json}");
    assert_eq!(json["files"][0]["path"], dest.to_str().unwrap(), "{json}");
}

/// Leftovers are known by the path pxectl wrote: after a move of the TFTP root, the old
/// folder's profiles are leftovers, and an operator's file of the same name in the new one is
/// never touched.
#[test]
fn leftovers_are_known_by_path_not_by_name() {
    let env = Env::rendered();
    let text = fs::read_to_string(env.config()).unwrap();
    let start = text.find("  rescue:\n").unwrap();
    let end = text.find("roles:").unwrap();
    let edited = format!("{}\n{}", &text[..start], &text[end..])
        .replace("  rescue: rescue\n", "")
        .replace("tftp_root: /srv/public/pxe", "tftp_root: /srv/tftp");
    env.write_config(&edited);
    let mine = env.at("/srv/tftp/pxelinux.cfg/rescue");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::write(&mine, "# the operator's own\n").unwrap();
    env.run(&["render", "--prune"]).expect(0);
    assert_eq!(fs::read_to_string(&mine).unwrap(), "# the operator's own\n");
    for gone in ["rescue", "installer", "arch-linux"] {
        assert!(!env.pxe(gone).exists(), "{gone} left in the old TFTP root");
    }
}

/// A folder where a profile file belongs: `render --check` and `status` report it, and render
/// refuses before changing anything.
#[test]
fn a_folder_where_a_profile_belongs_stops_render_before_any_change() {
    let env = Env::rendered();
    fs::remove_file(env.pxe("rescue")).unwrap();
    fs::create_dir(env.pxe("rescue")).unwrap();
    env.run(&["render", "--check"]).expect(1);
    let json = env.run(&["status", "--json"]).expect(1).json();
    assert_eq!(json["profiles"][0]["kind"], "not-a-file");
    // Something to change besides: render still changes nothing.
    fs::write(env.at("/etc/dnsmasq.conf"), "# hand edit\n").unwrap();
    let render = env.run(&["render", "--no-verify"]);
    render.expect(3);
    assert_eq!(
        render.stderr().lines().last().unwrap(),
        format!(
            "error: `{}` is a folder, not a file; move it away so pxectl can write its file there",
            env.pxe("rescue").display()
        )
    );
    assert_eq!(
        fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap(),
        "# hand edit\n"
    );
}
