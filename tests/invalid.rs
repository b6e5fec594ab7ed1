//! Every description under tests/fixtures/invalid/ is refused with exit status 2, each problem
//! named with its <file:line:column>, and the output tree is left exactly as it was; bad
//! flags, targets and permissions are refused with messages that say what to do.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{have, identities, is_root, prerequisite, repo, tree, Env};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

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
        let env = Env::rendered();
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
        common::assert_text("output", 
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

/// Asserts that `pxectl --config cluster.yaml validate` in the fixture folder `case` exits 2
/// with `expected` as its whole stderr.
#[track_caller]
fn assert_refused(case: &str, expected: &str) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("pxectl"))
        .current_dir(repo(&format!("tests/fixtures/invalid/{case}")))
        .args(["--config", "cluster.yaml", "validate"])
        .env_remove("PXECTL_CONFIG")
        .env_remove("PXECTL_ROOT")
        .env_remove("PXECTL_TEMPLATES")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{case}");
    common::assert_text("output", &String::from_utf8_lossy(&out.stderr), expected);
}

#[test]
fn unknown_keys_type_errors_duplicate_keys_and_semantic_problems_are_reported_together() {
    assert_refused(
        "every-kind-of-problem-at-once",
        r#"error: invalid type: string "maybe", expected a boolean
  --> cluster.yaml:8:16 (`dhcp.read_ethers`)
   = help: docs/configuration.md gives each key's type

error: unknown field `keepalive_timout`, expected one of `server_names`, `listen_address`, `port`, `default_server`, `keepalive_timeout`, `autoindex`, `managed`
  --> cluster.yaml:11:3 (`http`)
   = help: check the spelling; docs/configuration.md lists every key

error: key `local` is given twice
  --> cluster.yaml:16:3 (`profiles.local`)
   = note: first given at line 14, column 3
   = help: remove or rename one of them: YAML would silently keep only the last

error: MAC address `aa:bb:cc:00:00:01` is used twice
  --> cluster.yaml:24:21 (`nodes[1].mac`)
   = note: first used at `nodes[0].mac`
   = help: every host needs its own name, MAC address and fixed address

error: address `10.20.0.11` is used twice
  --> cluster.yaml:24:44 (`nodes[1].ip`)
   = note: first used at `nodes[0].ip`
   = help: every host needs its own name, MAC address and fixed address

error: profile `nope` is not described
  --> cluster.yaml:25:56 (`nodes[2].normal_profile`)
   = help: use one of `install`, `local`, or add it under `profiles:`

error: fixed address `10.30.0.14` is outside the boot server's subnet `10.20.0.0/24`
  --> cluster.yaml:26:44 (`nodes[3].ip`)
   = help: use a host address between `10.20.0.1` and `10.20.0.254`, or change `server.address`

error: profile `nope` is not described
  --> cluster.yaml:26:72 (`nodes[3].normal_profile`)
   = help: use one of `install`, `local`, or add it under `profiles:`

error: unknown field `macc`, expected one of `name`, `mac`, `ip`, `groups`, `normal_profile`, `loader`, `secure_boot`, `append`
  --> cluster.yaml:27:16 (`nodes[4]`)
   = help: check the spelling; docs/configuration.md lists every key

error: invalid type: string "rack1", expected a sequence
  --> cluster.yaml:28:48 (`nodes[5].groups`)
   = help: docs/configuration.md gives each key's type

error: cluster.yaml has 10 problems; nothing was written
"#,
    );
}

/// Every refusal about loaders in one description, with its note and hint: the Secure Boot
/// (without GRUB, and with HTTP boot clients), loader file, local-disk, URL kernel, script
/// syntax, reserved name, loader folder and web root problems, and two groups that disagree.
#[test]
fn every_loader_problem_is_reported_with_its_place_note_and_hint() {
    assert_refused(
        "every-loader-problem-at-once",
        r#"error: the TFTP root `/srv/tftp` is not inside the web root `/srv/www`, but `ipxe` fetches its scripts and kernels from it by HTTP
  --> cluster.yaml:2:40 (`paths.tftp_root`)
   = note: `ipxe` is in use: set at `groups.rack2.loader`
   = help: put `paths.tftp_root` inside `paths.web_root`, like `/srv/public/pxe` in `/srv/public`

error: loader file `snponly.bin` does not end in `.efi`, but `http-x64` clients fetch it by HTTP
  --> cluster.yaml:6:21 (`loaders.files.ipxe-x64`)
   = help: UEFI HTTP boot refuses other names: copy or link the file under a name ending in `.efi`

error: `efi-arm64` clients boot `grub` behind shim (Secure Boot), but its loader file `loaders.files.shim-arm64` is empty
  --> cluster.yaml:6:46 (`loaders.files.shim-arm64`)
   = help: set `loaders.files.shim-arm64` to the file's path in the TFTP root, or boot `efi-arm64` clients with another loader

error: loader file `ipxe` is in `ipxe/`, the folder of `ipxe`'s entries
  --> cluster.yaml:6:61 (`loaders.files.ipxe-bios`)
   = help: put it outside `ipxe/`: pxectl owns every name there

error: Secure Boot is on with the loader `syslinux-efi`, but Secure Boot boots shim, then GRUB
  --> cluster.yaml:9:46 (`groups.rack1.secure_boot`)
   = note: the loader is set at `groups.rack1.loader`
   = help: use `loader: grub` or `auto` where Secure Boot is on, or `secure_boot: false`

error: Secure Boot is on, but `http-x64` clients boot `ipxe`, which is not signed: Secure Boot firmware refuses it
  --> cluster.yaml:9:46 (`groups.rack1.secure_boot`)
   = note: `loaders.clients` serves `http-x64` (UEFI HTTP boot) to every node
   = help: serve Secure Boot machines over PXE only (`efi-x64`: remove `http-x64` from `loaders.clients`), or turn Secure Boot off for them

error: `efi-arm64` clients boot `ipxe`, but its loader file `loaders.files.ipxe-arm64` is not set (Debian has no such file)
  --> cluster.yaml:10:19 (`groups.rack2.loader`)
   = help: set `loaders.files.ipxe-arm64` to the file's path in the TFTP root, or boot `efi-arm64` clients with another loader

error: kernel `http://10.20.0.1/vmlinuz` is an HTTP URL, but `pxelinux`, `syslinux-efi` and `grub` fetch only by TFTP
  --> cluster.yaml:13:19 (`profiles.linux.kernel`)
   = help: put the file in the TFTP root and give its path, like `/vmlinuz`, or boot every client with `ipxe`

error: append `root=/dev/sda1 $x` has `$`, which `grub` and `ipxe` read as script syntax
  --> cluster.yaml:13:55 (`profiles.linux.append`)
   = help: remove these characters: GRUB and iPXE read `$ ; & | < > " ' \ { } #` and the backquote as variables, quotes, operators or comments

error: profile `disk` boots the local disk, which `syslinux-efi` cannot do
  --> cluster.yaml:14:16 (`profiles.disk.boot`)
   = note: `syslinux-efi` is in use: set at `groups.rack1.loader`
   = help: boot these clients with `grub` or `ipxe` instead of `syslinux-efi`, or give the profile a kernel

error: profile name `grub` would be `grub/grub.cfg`, a name `grub` keeps for itself
  --> cluster.yaml:15:3 (`profiles.grub`)
   = help: rename the profile

error: Secure Boot is on with the loader `ipxe`, but Secure Boot boots shim, then GRUB
  --> cluster.yaml:21:70 (`nodes[1].secure_boot`)
   = note: the loader is set at `groups.rack2.loader`
   = help: use `loader: grub` or `auto` where Secure Boot is on, or `secure_boot: false`

error: Secure Boot is on, but `http-x64` clients boot `ipxe`, which is not signed: Secure Boot firmware refuses it
  --> cluster.yaml:21:70 (`nodes[1].secure_boot`)
   = note: `loaders.clients` serves `http-x64` (UEFI HTTP boot) to every node
   = help: serve Secure Boot machines over PXE only (`efi-x64`: remove `http-x64` from `loaders.clients`), or turn Secure Boot off for them

error: groups `rack1` and `rack2` set `loader` to different values: `syslinux-efi` and `ipxe`
  --> cluster.yaml:22:56 (`nodes[2].groups[1]`)
   = help: set `loader` on the node itself, or make the groups agree

error: cluster.yaml has 14 problems; nothing was written
"#,
    );
}

/// A "billion laughs": nine levels of ten aliases each, 10^9 values once expanded. Before the
/// cap, reading it to report its problems ran past 3 GB within 30 s.
#[test]
fn an_alias_bomb_is_refused_at_the_alias_that_passes_the_cap() {
    assert_refused(
        "alias-bomb",
        r"error: aliases (`*name`) expand the description past 1000000 values
  --> cluster.yaml:6:36 (`f[7]`)
   = help: alias fewer or smaller values, or write them out: a cluster description never needs this many

error: cluster.yaml has 1 problem; nothing was written
",
    );
}

/// 100,000 nested `[`: `serde_yaml`'s scanner takes time quadratic in the depth of flow
/// collections (over 100 s for this file before the check), so deep nesting is refused before
/// it runs.
#[test]
fn deep_nesting_is_refused_at_the_first_level_too_many() {
    const DEPTH: usize = 100_000;
    let env = Env::new(&format!(
        "server: {{hostname: boot}}\nnodes: {}{}\n",
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    ));
    let run = env.run(&["validate"]);
    run.expect(2);
    let config = env.config().display().to_string();
    common::assert_text(
        "output",
        &run.stderr().replace(&config, "cluster.yaml"),
        r"error: the description nests deeper than 128 levels
  --> cluster.yaml:2:136
   = help: a cluster description needs a few levels at most: remove the extra ones

error: cluster.yaml has 1 problem; nothing was written
",
    );
}

#[test]
fn a_tab_in_the_indentation_is_named() {
    assert_refused(
        "tab-in-indentation",
        r"error: the indentation has a tab
  --> cluster.yaml:7:1
   = help: YAML indents with spaces only: replace the tab with spaces

error: cluster.yaml has 1 problem; nothing was written
",
    );
}

#[test]
fn duplicate_profiles_in_flow_style_are_refused_naming_both_places() {
    let env = Env::new(
        "server: {hostname: boot, address: 10.20.0.1/24, interface: eth0}\nprofiles: {local: {kernel: /k}, local: {kernel: /evil}}\nroles: {normal: local, reimage: local}\n",
    );
    let run = env.run(&["validate"]);
    run.expect(2);
    let config = env.config();
    common::assert_text("output", 
        &run.stderr(),
        &format!(
            "error: key `local` is given twice\n  --> {0}:2:33 (`profiles.local`)\n   = note: first given at line 2, column 12\n   = help: remove or rename one of them: YAML would silently keep only the last\n\nerror: {0} has 1 problem; nothing was written\n",
            config.display()
        ),
    );
}

#[test]
fn a_user_who_cannot_write_the_state_folder_is_told_it_needs_root() {
    if !prerequisite(
        is_root() && have("setpriv"),
        "needs root and setpriv to run pxectl as another user",
    ) {
        return;
    }
    let env = Env::rendered();
    // `nobody` must reach the description and the tree, not write the state folder.
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state = env.at("/var/lib/pxectl");
    let mut cmd = env.command(&["reimage", "node2"], true);
    // The build folder may be closed to `nobody` (a clone in /root): run a copy from here.
    let program = env.dir.path().join("pxectl");
    fs::hard_link(cmd.get_program(), &program)
        .or_else(|_| fs::copy(cmd.get_program(), &program).map(drop))
        .unwrap();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(program)
        .args(args)
        .env_remove("PXECTL_CONFIG")
        .env_remove("PXECTL_ROOT");
    let run = env.finish(&mut cmd);
    assert_ne!(run.code(), 0);
    common::assert_text("output", 
        &run.stderr(),
        &format!(
            "error: cannot open the lock file `{0}/lock`: run pxectl as root, or as a user who can write the state folder `{0}`: Permission denied (os error 13)\n",
            state.display()
        ),
    );
    assert_eq!(
        fs::read_link(env.pxe("01-c0-3f-d5-60-cd-8b")).unwrap(),
        std::path::Path::new("arch-linux")
    );
}

/// The `user` of the last journal entry after `reimage node2` run with `env`.
fn journal_user(set: &[(&str, &str)]) -> String {
    let env = Env::rendered();
    let mut cmd = env.command(&["reimage", "node2"], true);
    cmd.env_remove("USER").env_remove("SUDO_USER");
    for (k, v) in set {
        cmd.env(k, v);
    }
    env.finish(&mut cmd).expect(0);
    let log = env.run(&["log", "--json", "node2"]);
    let last = log.stdout().lines().last().unwrap().to_string();
    let entry: serde_json::Value = serde_json::from_str(&last).unwrap();
    entry["user"].as_str().unwrap().to_string()
}

#[test]
fn the_journal_names_the_user_by_uid_or_sudo_user_not_by_the_user_variable() {
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    assert_eq!(journal_user(&[]), me);
    assert_eq!(journal_user(&[("USER", "mallory")]), me);
    assert_eq!(journal_user(&[("SUDO_USER", "alice")]), "alice");
}

#[test]
fn a_link_name_pasted_from_the_link_folder_names_its_node() {
    let env = Env::rendered();
    let run = env.run(&["reimage", "01-C0-3F-D5-60-CD-8B"]);
    run.expect(0);
    common::assert_text(
        "output",
        &run.stdout(),
        "node2  arch-linux -> installer\nreimage: 1 switched, 0 already\n",
    );
}

#[test]
fn a_range_without_the_names_zero_padding_suggests_it() {
    let yaml = fs::read_to_string(repo("examples/portacluster.yaml"))
        .unwrap()
        .replace("name: node", "name: node0");
    let env = Env::new(&yaml);
    let run = env.run(&["reimage", "node[1-3]"]);
    run.expect(2);
    common::assert_text("output", 
        &run.stderr(),
        "error: target `node[1-3]` names nodes that are not described: `node1`, `node2`, `node3`; did you mean `node[01-03]`?\nerror: nothing was changed\n",
    );
}

#[test]
fn a_reservation_given_as_a_target_is_called_a_reservation() {
    let env = Env::rendered();
    let run = env.run(&["reimage", "switch", "00-C0-B7-B6-6A-4C"]);
    run.expect(2);
    common::assert_text("output", 
        &run.stderr(),
        "error: `switch` is a DHCP reservation, not a node: it never PXE boots, so it has no boot profile to switch\n\
         error: `00:c0:b7:b6:6a:4c` belongs to `pdu`, which is a DHCP reservation, not a node: it never PXE boots, so it has no boot profile to switch\n\
         error: nothing was changed\n",
    );
}

#[test]
fn validate_counts_in_the_singular_when_there_is_one() {
    let env = Env::new(
        "server: {hostname: boot, address: 10.20.0.1/24, interface: eth0}\nprofiles: {local: {kernel: /k}}\nroles: {normal: local, reimage: local}\nreservations: [{name: sw, mac: 00:11:22:33:44:55}]\nnodes: [{name: n1, mac: aa:bb:cc:00:00:01}]\n",
    );
    let run = env.run(&["validate"]);
    run.expect(0);
    common::assert_text(
        "output",
        &run.stdout(),
        &format!(
            "{}: valid (1 node, 1 reservation, 1 profile, 3 files and 1 link to render)\n",
            env.config().display()
        ),
    );
}

#[test]
fn reset_verbose_lists_the_nodes_it_kept_and_why() {
    let env = Env::rendered();
    env.run(&["reimage", "node1", "node2"]).expect(0);
    // node1 was switched two hours ago, node2 ten minutes ago.
    let set_age = |link: &str, age: u64| -> String {
        let t = SystemTime::now() - Duration::from_secs(age);
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let ts = TimeSpec::new(i64::try_from(secs).unwrap(), 0);
        utimensat(
            None,
            &env.pxe(link),
            &ts,
            &ts,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
        humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .to_string()
    };
    set_age("01-c0-3f-d5-60-e5-a1", 7200);
    let at = set_age("01-c0-3f-d5-60-cd-8b", 600);
    let run = env.run(&["reset", "--all", "--older-than", "1h", "-v"]);
    run.expect(0);
    common::assert_text("output", 
        &run.stdout(),
        &format!(
            "node1  installer -> arch-linux\nnode2  installer (kept: switched at {at}, less than 1h ago)\nreset: 1 switched, 4 already, 1 switched less than 1h ago (kept)\n"
        ),
    );
}

#[test]
fn an_override_template_reading_the_environment_is_refused_at_its_line() {
    let env = Env::example("portacluster");
    let dir = env.template(
        "nginx.conf.tera",
        "events {}\n{% if false %}# {{ get_env(name=\"DEPLOY_TOKEN\", default=\"none\") }}{% endif %}\n",
    );
    let template = dir.join("nginx.conf.tera");
    for args in [&["render"][..], &["validate"]] {
        let mut args = args.to_vec();
        args.extend(["--templates", dir.to_str().unwrap()]);
        let run = env.run(&args);
        run.expect(2);
        common::assert_text("output", 
            &run.stderr(),
            &format!(
                "error: template `{}` at line 2: function `get_env` is refused because rendered files depend only on the description and the templates\n",
                template.display()
            ),
        );
        assert!(tree(&env.root()).is_empty(), "{args:?} wrote files");
    }
}
