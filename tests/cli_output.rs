//! Output for scripts and people: `--json` of `validate` and `render --check`/`--dry-run`,
//! compared whole, and the man pages (docs/cli.md).

mod common;

use std::fs;

use common::{repo, Env};

/// The ip-malformed fixture with two more problems: a malformed MAC and a group with a space.
fn three_problems() -> Env {
    let text = fs::read_to_string(repo("tests/fixtures/invalid/ip-malformed/cluster.yaml"))
        .unwrap()
        .replace(
            "{name: n1, mac: aa:bb:cc:00:00:01}",
            "{name: n1, mac: aa:bb:cc:00:01}",
        )
        .replace("groups: [rack1]", "groups: [rack 1]");
    Env::new(&text)
}

#[test]
fn validate_json_lists_every_problem_with_its_place_value_and_hint() {
    let env = three_problems();
    env.run(&["validate", "--json"])
        .expect(2)
        .stderr_is("")
        .stdout_is(
            r#"{
  "file": "<dir>/cluster.yaml",
  "valid": false,
  "counts": null,
  "problems": [
    {
      "file": "<dir>/cluster.yaml",
      "line": 32,
      "column": 21,
      "path": "nodes[0].mac",
      "value": "aa:bb:cc:00:01",
      "message": "MAC address `aa:bb:cc:00:01` is malformed",
      "hint": "write six hex pairs like `c0:3f:d5:60:e5:a1` or `C0-3F-D5-60-E5-A1`, or `c03f.d560.e5a1`",
      "note": null
    },
    {
      "file": "<dir>/cluster.yaml",
      "line": 33,
      "column": 44,
      "path": "nodes[1].ip",
      "value": "10.20.0.300",
      "message": "address `10.20.0.300` is not an IPv4 address",
      "hint": "write four dot-separated numbers, like `192.168.10.20`",
      "note": null
    },
    {
      "file": "<dir>/cluster.yaml",
      "line": 34,
      "column": 49,
      "path": "nodes[2].groups[0]",
      "value": "rack 1",
      "message": "group `rack 1` is not a valid group name",
      "hint": "name groups with letters, digits, `_` and `-`, like `rack1`",
      "note": null
    }
  ]
}
"#,
        );
}

#[test]
fn validate_json_of_a_valid_description_counts_what_it_renders() {
    let env = Env::example("portacluster");
    env.run(&["validate", "--json"]).succeeds_with(
        r#"{
  "file": "<dir>/cluster.yaml",
  "valid": true,
  "counts": {
    "nodes": 6,
    "reservations": 2,
    "profiles": 3,
    "files": 5,
    "links": 7
  },
  "problems": []
}
"#,
    );
}

#[test]
fn render_check_json_lists_each_change_and_problem() {
    let env = Env::example("portacluster");
    env.run(&["render", "-q"]).expect(0);
    env.run(&["render", "--check", "--json"]).succeeds_with(
        r#"{
  "changes": [],
  "problems": [],
  "reloads": [],
  "unchanged_files": 5,
  "unchanged_links": 7,
  "differs": false
}
"#,
    );
    fs::remove_file(env.pxe("01-c0-3f-d5-60-e5-a1")).unwrap();
    common::relink(env.pxe("01-c0-3f-d5-60-e5-b9"), "/etc/shadow");
    fs::write(env.pxe("rescue"), "edited by hand\n").unwrap();
    env.run(&["render", "--check", "--json"])
        .expect(1)
        .stderr_is("")
        .stdout_is(
            r#"{
  "changes": [
    {
      "action": "write",
      "path": "<root>/srv/public/pxe/pxelinux.cfg/rescue",
      "target": null,
      "detail": "changed"
    },
    {
      "action": "link",
      "path": "<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1",
      "target": "arch-linux",
      "detail": null
    }
  ],
  "problems": [
    {
      "path": "<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9",
      "message": "`<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9` (node `node3`) points outside pxelinux.cfg/ (dnsmasq would follow it): `/etc/shadow`; `pxectl boot-normal node3` replaces it"
    }
  ],
  "reloads": [],
  "unchanged_files": 4,
  "unchanged_links": 5,
  "differs": true
}
"#,
        );
}

#[test]
fn apply_dry_run_json_lists_the_reloads_it_would_need() {
    let env = Env::example("portacluster");
    let expected = fs::read_to_string(repo("tests/fixtures/output/apply-dry-run.json")).unwrap();
    env.run(&["apply", "--dry-run", "--json", "--no-verify"])
        .expect(0)
        .stderr_is(
            "warning: `<root>/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
             warning: `<root>/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n",
        )
        .stdout_is(&expected);
}

#[test]
fn render_json_needs_check_or_dry_run() {
    let env = Env::example("portacluster");
    env.run(&["render", "--json"])
        .expect(2)
        .stdout_is("")
        .stderr_is(
            "error: `--json` reports what would change: give it with `--check` or `--dry-run`\n",
        );
}

#[test]
fn every_man_page_named_can_be_printed() {
    let env = Env::example("portacluster");
    let run = env.run(&["man"]);
    run.expect(0);
    let page = run.stdout();
    // Every pxectl page the SEE ALSO and SUBCOMMANDS sections name is one `man` prints.
    let mut named: Vec<String> = page
        .split(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '-' || c == '\\' || c == '(' || c == ')')
        })
        .map(|w| w.replace("\\-", "-"))
        .filter(|w| w.starts_with("pxectl-") && w.ends_with(')'))
        .collect();
    named.sort();
    named.dedup();
    assert!(named.len() > 10, "{named:?}");
    for reference in named {
        let (name, section) = reference.trim_end_matches(')').split_once('(').unwrap();
        let page_name = name.trim_start_matches("pxectl-");
        let run = env.run(&["man", page_name]);
        run.expect(0);
        assert!(
            run.stdout().contains(&format!(".TH {name} {section} ")),
            "`pxectl man {page_name}` is not {reference}"
        );
    }
    env.run(&["man", "nosuch"]).expect(2).stdout_is("").stderr_is(
        "error: there is no man page `nosuch`; the pages are `pxectl`, `render`, `apply`, `reload`, `validate`, `reimage`, `boot-normal`, `rescue`, `boot`, `reset`, `status`, `log`, `watch`, `import`, `completions`, `man`, `cluster`\n",
    );
}

#[test]
fn completions_print_the_script_that_calls_pxectl_back() {
    let env = Env::example("portacluster");
    for shell in ["bash", "zsh", "fish"] {
        let script = env.run(&["completions", shell]);
        script.expect(0);
        let registered = env
            .finish(env.command(&[], false).env("COMPLETE", shell))
            .stdout();
        assert_eq!(script.stdout(), registered, "{shell}");
        assert!(script.stdout().contains("COMPLETE"), "{shell}");
    }
}

/// `validate`'s report of the ip-malformed fixture, `{E}` `{N}` `{R}` standing for the
/// styles of `error:`, of the place and help, and their end.
const REPORT: &str = "{E}error:{R} address `10.20.0.300` is not an IPv4 address
  {N}-->{R} <dir>/cluster.yaml:33:44 (`nodes[1].ip`)
   {N}= help:{R} write four dot-separated numbers, like `192.168.10.20`

{E}error:{R} <dir>/cluster.yaml has 1 problem; nothing was written
";

/// [`REPORT`] coloured, or plain.
fn report(colour: bool) -> String {
    let (e, n, r) = if colour {
        ("\x1b[1m\x1b[31m", "\x1b[1m\x1b[36m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    REPORT.replace("{E}", e).replace("{N}", n).replace("{R}", r)
}

fn ip_malformed() -> Env {
    Env::new(&fs::read_to_string(repo("tests/fixtures/invalid/ip-malformed/cluster.yaml")).unwrap())
}

#[test]
fn colour_is_always_or_never_as_asked_whatever_the_output_is() {
    let env = ip_malformed();
    env.run(&["validate", "--color", "always"])
        .expect(2)
        .stderr_is(&report(true));
    // `always` wins over NO_COLOR; `never` and a pipe (`auto`) print no style.
    env.finish(
        env.command(&["validate", "--color", "always"], true)
            .env("NO_COLOR", "1"),
    )
    .expect(2)
    .stderr_is(&report(true));
    env.run(&["validate", "--color", "never"])
        .expect(2)
        .stderr_is(&report(false));
    env.run(&["validate"]).expect(2).stderr_is(&report(false));

    let env = Env::example("portacluster");
    env.run(&["render", "--dry-run", "--no-verify", "--color", "always", "-q"])
        .expect(0)
        .stderr_is(
            "\x1b[1m\x1b[33mwarning:\x1b[0m `<root>/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
             \x1b[1m\x1b[33mwarning:\x1b[0m `<root>/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n",
        )
        .stdout_is("dry run: 5 files to write, 0 unchanged; 7 links to create, 0 to re-point, 0 to prune; nothing was written\n");
    env.run(&["render", "-q"]).expect(0);
    fs::remove_file(env.pxe("01-c0-3f-d5-60-e5-a1")).unwrap();
    common::relink(env.pxe("default"), "rescue");
    fs::write(env.pxe("rescue"), "edited\n").unwrap();
    env.run(&["render", "--check", "--color", "always"])
        .expect(1)
        .stdout_is(
            "\x1b[32mwrite\x1b[0m  <root>/srv/public/pxe/pxelinux.cfg/rescue (changed)\n\
             \x1b[33mrelink\x1b[0m <root>/srv/public/pxe/pxelinux.cfg/default -> installer (was a link to `rescue`)\n\
             \x1b[32mlink\x1b[0m   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1 -> arch-linux\n\
             check: the disk differs from `<dir>/cluster.yaml`: 1 file to write, 4 unchanged; 1 link to create, 1 to re-point, 0 to prune, 0 problems\n",
        );
}

/// Runs `pxectl ARGS` with stderr on a terminal, expecting exit status `code`, and returns
/// what the terminal showed.
fn on_a_terminal(env: &Env, args: &[&str], code: i32, no_color: bool) -> String {
    on_terminals(env, args, code, no_color, false)
}

/// [`on_a_terminal`], with stdout on the terminal too when `stdout_too`.
fn on_terminals(env: &Env, args: &[&str], code: i32, no_color: bool, stdout_too: bool) -> String {
    use std::io::Read as _;
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut cmd = env.command(args, true);
    if stdout_too {
        cmd.stdout(std::process::Stdio::from(pty.slave.try_clone().unwrap()));
    } else {
        cmd.stdout(std::process::Stdio::null());
    }
    cmd.stderr(std::process::Stdio::from(pty.slave))
        .env("TERM", "xterm");
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(code), "{args:?}");
    drop(cmd);
    let mut terminal = fs::File::from(pty.master);
    let mut shown = Vec::new();
    // Reading ends with EIO once no process holds the terminal's other end.
    let _ = terminal.read_to_end(&mut shown);
    let shown = String::from_utf8(shown).unwrap().replace("\r\n", "\n");
    shown.replace(&*env.dir.path().to_string_lossy(), "<dir>")
}

#[test]
fn colour_is_on_for_a_terminal_unless_no_color_is_set() {
    let env = ip_malformed();
    let shown = |no_color| on_a_terminal(&env, &["validate"], 2, no_color);
    common::assert_text("terminal", &shown(false), &report(true));
    common::assert_text("terminal", &shown(true), &report(false));

    // render's changes, on stdout.
    let env = Env::example("portacluster");
    env.run(&["render", "-q"]).expect(0);
    fs::remove_file(env.pxe("01-c0-3f-d5-60-e5-a1")).unwrap();
    let check = |no_color| on_terminals(&env, &["render", "--check"], 1, no_color, true);
    let shown = "{L}   <dir>/out/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1 -> arch-linux
check: the disk differs from `<dir>/cluster.yaml`: 0 files to write, 5 unchanged; 1 link to create, 0 to re-point, 0 to prune, 0 problems
";
    common::assert_text(
        "terminal",
        &check(false),
        &shown.replace("{L}", "\x1b[32mlink\x1b[0m"),
    );
    common::assert_text("terminal", &check(true), &shown.replace("{L}", "link"));
}

#[test]
fn progress_bars_show_on_a_terminal_but_never_with_quiet_or_json() {
    let env = Env::new(&common::synthetic::description(1200));
    let bar = "rendering [";
    let args = ["render", "--dry-run", "--no-verify", "--json"];
    assert!(!on_a_terminal(&env, &args, 0, true).contains('['));
    assert!(!on_a_terminal(&env, &["render", "--check", "--json"], 1, true).contains('['));
    assert!(!on_a_terminal(&env, &["render", "--no-verify", "-q"], 0, true).contains(bar));
    fs::remove_dir_all(env.root()).unwrap();
    assert!(on_a_terminal(&env, &["render", "--no-verify"], 0, true).contains(bar));
}

#[test]
fn log_follow_prints_entries_appended_after_it_started_until_stopped() {
    let env = Env::example("portacluster");
    env.run(&["render", "-q"]).expect(0);
    env.run(&["reimage", "node3"]).expect(0);
    let mut child = common::Reaped(
        env.command(&["log", "-f", "node3"], true)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = child.stdout_lines(common::placeholder_times);
    let next = || rx.recv_timeout(std::time::Duration::from_secs(10));
    assert_eq!(
        next().as_deref(),
        Ok("<time>  tester  render  node3  (no link) -> arch-linux")
    );
    assert_eq!(
        next().as_deref(),
        Ok("<time>  tester  reimage  node3  arch-linux -> installer")
    );
    // Appended after it started: another node's entry is filtered out, node3's is shown.
    env.run(&["rescue", "node4"]).expect(0);
    env.run(&["boot-normal", "node3"]).expect(0);
    assert_eq!(
        next().as_deref(),
        Ok("<time>  tester  boot-normal  node3  installer -> arch-linux")
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "log -f ended by itself"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stopped by SIGTERM: exit 0");
    assert!(next().is_err(), "no other line");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "");
}

/// Every global flag, by long name.
const GLOBALS: &[&str] = &[
    "config",
    "root",
    "templates",
    "lock-timeout",
    "quiet",
    "verbose",
    "color",
];

/// The global flags of the commands that switch nodes.
const SWITCHES: &[&str] = &["config", "root", "lock-timeout", "quiet", "color"];

/// The global flags each command's help lists, by long name.
const HELP_FLAGS: &[(&str, &[&str])] = &[
    ("render", GLOBALS),
    ("apply", GLOBALS),
    ("reload", &["config", "root", "color"]),
    ("validate", &["config", "templates", "quiet", "color"]),
    ("reimage", SWITCHES),
    ("boot-normal", SWITCHES),
    ("rescue", SWITCHES),
    ("boot", SWITCHES),
    (
        "reset",
        &[
            "config",
            "root",
            "lock-timeout",
            "quiet",
            "verbose",
            "color",
        ],
    ),
    ("status", &["config", "root", "templates", "quiet", "color"]),
    ("log", &["config", "root", "color"]),
    ("watch", &["config", "root", "lock-timeout", "color"]),
    ("import", &["root", "quiet", "color"]),
    ("completions", &[]),
    ("man", &[]),
];

#[test]
fn each_command_helps_with_only_the_global_flags_that_apply_to_it() {
    let env = Env::example("portacluster");
    // Every command is in the table.
    let mut commands: Vec<String> = pxectl::cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let mut listed: Vec<String> = HELP_FLAGS.iter().map(|(c, _)| c.to_string()).collect();
    commands.sort();
    listed.sort();
    assert_eq!(commands, listed, "HELP_FLAGS lists every command");
    for (command, expected) in HELP_FLAGS {
        let help = env.run(&[command, "--help"]);
        help.expect(0);
        let listed: Vec<&str> = GLOBALS
            .iter()
            .copied()
            .filter(|flag| {
                help.stdout().contains(&format!("--{flag} "))
                    || help.stdout().contains(&format!("--{flag}\n"))
            })
            .collect();
        assert_eq!(listed, *expected, "`pxectl {command} --help`");
        env.run(&["help", command])
            .expect(0)
            .stdout_is(&help.stdout());
    }
    // Still accepted where hidden, before or after the command.
    env.run_live(&["--root", "elsewhere", "validate", "-q"])
        .expect(0)
        .stdout_is("");
    env.run(&["log", "--templates", "elsewhere"])
        .expect(0)
        .stdout_is("");
}

#[test]
fn validate_help_is_this_text() {
    let env = Env::example("portacluster");
    env.finish(
        env.command(&["validate", "--help"], false)
            .env_remove("COLUMNS"),
    )
    .expect(0)
    .stdout_is(
        "Check the description and exit: 0 when valid, 2 when not

Usage: pxectl validate [OPTIONS]

Options:
  -c, --config <PATH>
          Cluster description to use
          
          [env: PXECTL_CONFIG=]
          [default: /etc/pxectl/cluster.yaml]

      --json
          Print one JSON object with every problem (shape in docs/cli.md) instead of text

      --templates <DIR>
          Take templates from DIR, replacing the built-in ones of the same name
          
          [env: PXECTL_TEMPLATES=]

  -q, --quiet
          Print only warnings, errors and the summary

      --color <WHEN>
          Colour problems and changes: `auto` on a terminal unless `NO_COLOR` is set

          Possible values:
          - auto:   On a terminal, unless `NO_COLOR` is set (or `TERM` is `dumb`)
          - always: Always, even piped or with `NO_COLOR`
          - never:  Never
          
          [default: auto]

  -h, --help
          Print help (see a summary with '-h')

  -V, --version
          Print version
",
    );
}
