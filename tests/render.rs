//! `pxectl render` through the real binary: the reference setup, idempotence, drift, links;
//! whole stdout and stderr compared where they are a contract.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::Path;

use common::{assert_same_tree, identities, repo, verified, verifiers, Env};

const NODE3: &str = "01-c0-3f-d5-60-e5-b9";

/// Render's summary after writing [`COLD_PLAN`].
const COLD_SUMMARY: &str =
    "render: 5 files written, 0 unchanged; 7 links created, 0 re-pointed, 0 pruned, 0 unchanged\n";

/// What render does on an empty root, one line per file and link.
const COLD_PLAN: &str = "\
write  <root>/etc/dnsmasq.conf (new)
write  <root>/etc/nginx/nginx.conf (new)
write  <root>/srv/public/pxe/pxelinux.cfg/arch-linux (new)
write  <root>/srv/public/pxe/pxelinux.cfg/installer (new)
write  <root>/srv/public/pxe/pxelinux.cfg/rescue (new)
link   <root>/srv/public/pxe/pxelinux.cfg/default -> installer
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1 -> arch-linux
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-cd-8b -> arch-linux
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9 -> arch-linux
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e4-ac -> arch-linux
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-6f-18 -> arch-linux
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-d0-9e -> arch-linux
";

#[test]
fn reproduces_the_reference_setup_byte_for_byte() {
    let env = Env::example("portacluster");
    let run = env.run(&["render"]);
    run.expect(0);
    if verifiers() {
        run.stdout_is(&format!(
            "{}{}{COLD_PLAN}{COLD_SUMMARY}",
            verified("/etc/dnsmasq.conf", "dnsmasq"),
            verified("/etc/nginx/nginx.conf", "nginx"),
        ))
        .stderr_is("");
    }
    let golden = repo("tests/fixtures/portacluster");
    for part in ["etc", "srv"] {
        assert_same_tree(&env.root().join(part), &golden.join(part));
    }
    // Besides the boot server's files, only pxectl's own state folder exists.
    let top: Vec<String> = fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(top, ["etc", "srv", "var"]);
    let mut state: Vec<String> = fs::read_dir(env.at("/var/lib/pxectl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    state.sort();
    assert_eq!(state, ["journal.jsonl", "lock", "profiles.written"]);
}

#[test]
fn rendered_files_are_world_readable() {
    let env = Env::rendered();
    for f in [
        "/etc/dnsmasq.conf",
        "/etc/nginx/nginx.conf",
        "/srv/public/pxe/pxelinux.cfg/installer",
    ] {
        let mode = fs::metadata(env.at(f)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644, "{f}");
    }
}

#[test]
fn a_second_render_rewrites_nothing() {
    let env = Env::rendered();
    let before = identities(&env.root());
    env.run(&["render"]).succeeds_with(
        "render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, \
             7 unchanged\n",
    );
    assert_eq!(before, identities(&env.root()), "inodes or mtimes changed");
}

#[test]
fn check_passes_on_a_fresh_render_and_fails_on_drift() {
    let env = Env::rendered();
    env.run(&["render", "--check"])
        .succeeds_with("check: up to date (5 files, 7 links)\n");
    fs::write(env.at("/etc/dnsmasq.conf"), "hand edit\n").unwrap();
    let before = identities(&env.root());
    env.run(&["render", "--check"])
        .expect(1)
        .stdout_is(
            "write  <root>/etc/dnsmasq.conf (changed)\n\
             check: the disk differs from `<dir>/cluster.yaml`: 1 file to write, 4 unchanged; \
             0 links to create, 0 to re-point, 0 to prune, 0 problems\n",
        )
        .stderr_is("");
    assert_eq!(before, identities(&env.root()), "--check changed the tree");
}

#[test]
fn check_fails_on_a_cold_tree() {
    let env = Env::example("portacluster");
    env.run(&["render", "--check"])
        .expect(1)
        .stdout_is(&format!(
            "{COLD_PLAN}check: the disk differs from `<dir>/cluster.yaml`: 5 files to write, \
             0 unchanged; 7 links to create, 0 to re-point, 0 to prune, 0 problems\n"
        ))
        .stderr_is("");
    assert!(common::tree(&env.root()).is_empty(), "--check wrote files");
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let env = Env::example("portacluster");
    let run = env.run(&["render", "--dry-run"]);
    run.expect(0);
    if verifiers() {
        run.stdout_is(&format!(
            "{}{}{COLD_PLAN}dry run: 5 files to write, 0 unchanged; 7 links to create, \
             0 to re-point, 0 to prune; nothing was written\n",
            verified("/etc/dnsmasq.conf", "dnsmasq"),
            verified("/etc/nginx/nginx.conf", "nginx"),
        ))
        .stderr_is("");
    }
    assert!(common::tree(&env.root()).is_empty());
}

#[test]
fn diff_shows_unified_diffs() {
    let env = Env::rendered();
    let conf = env.at("/etc/nginx/nginx.conf");
    let old = fs::read_to_string(&conf).unwrap();
    fs::write(
        &conf,
        old.replace("keepalive_timeout  0;", "keepalive_timeout  65;"),
    )
    .unwrap();
    let diff = "\
write  <root>/etc/nginx/nginx.conf (changed)
--- <root>/etc/nginx/nginx.conf
+++ <root>/etc/nginx/nginx.conf (rendered)
@@ -8,7 +8,7 @@
     include            mime.types;
     default_type       application/octet-stream;
     sendfile           on;
-    keepalive_timeout  65;
+    keepalive_timeout  0;
 
     server {
         listen      80 default_server;
";
    env.run(&["render", "--check", "--diff"])
        .expect(1)
        .stdout_is(&format!(
            "{diff}check: the disk differs from `<dir>/cluster.yaml`: 1 file to write, \
             4 unchanged; 0 links to create, 0 to re-point, 0 to prune, 0 problems\n"
        ))
        .stderr_is("");
    let run = env.run(&["render", "--diff"]);
    run.expect(0);
    if verifiers() {
        run.stdout_is(&format!(
            "{}{diff}render: 1 file written, 4 unchanged; 0 links created, 0 re-pointed, \
             0 pruned, 7 unchanged\n",
            verified("/etc/nginx/nginx.conf", "nginx")
        ))
        .stderr_is("");
    }
    assert_eq!(fs::read_to_string(&conf).unwrap(), old);
}

#[test]
fn a_0600_file_is_made_world_readable_without_rewriting() {
    let env = Env::rendered();
    let f = env.pxe("installer");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    env.run(&["render", "--check"])
        .expect(1)
        .stdout_is("\
chmod  <root>/srv/public/pxe/pxelinux.cfg/installer (600 -> 644)
check: the disk differs from `<dir>/cluster.yaml`: 1 file to write, 4 unchanged; 0 links to create, 0 to re-point, 0 to prune, 0 problems
")
        .stderr_is("");
    env.run(&["render"]).succeeds_with(
        "\
chmod  <root>/srv/public/pxe/pxelinux.cfg/installer (600 -> 644)
render: 1 file written, 4 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged
",
    );
    assert_eq!(
        fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o644
    );
}

#[test]
fn a_switched_link_is_left_alone() {
    let env = Env::rendered();
    let link = env.pxe(NODE3);
    common::relink(&link, "installer");
    let before = identities(&env.root());
    env.run(&["-v", "render"])
        .succeeds_with("\
keep   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9 -> installer (node `node3` was switched; render never undoes a switch)
render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged (1 switched node left alone)
");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("installer"));
    assert_eq!(before, identities(&env.root()));
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn a_missing_link_is_created_and_default_is_repointed() {
    let env = Env::rendered();
    fs::remove_file(env.pxe(NODE3)).unwrap();
    common::relink(env.pxe("default"), "rescue");
    env.run(&["render"]).succeeds_with(
        "\
relink <root>/srv/public/pxe/pxelinux.cfg/default -> installer (was a link to `rescue`)
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9 -> arch-linux
render: 0 files written, 5 unchanged; 1 link created, 1 re-pointed, 0 pruned, 5 unchanged
",
    );
    assert_eq!(
        fs::read_link(env.pxe(NODE3)).unwrap(),
        Path::new("arch-linux")
    );
    assert_eq!(
        fs::read_link(env.pxe("default")).unwrap(),
        Path::new("installer")
    );
}

#[test]
fn orphan_links_are_reported_and_pruned_on_request() {
    let env = Env::rendered();
    let orphan = env.pxe("01-aa-bb-cc-dd-ee-ff");
    symlink("installer", &orphan).unwrap();
    env.run(&["render"])
        .expect(0)
        .stdout_is("render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged\n")
        .stderr_is("warning: `<root>/srv/public/pxe/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff` is a link for a MAC that no node has; `pxectl render --prune` removes it\n");
    assert!(fs::symlink_metadata(&orphan).is_ok());
    env.run(&["render", "--check"]).expect(1);
    env.run(&["render", "--prune"]).succeeds_with(
        "\
prune  <root>/srv/public/pxe/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff (was a link to `installer`)
render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 1 pruned, 7 unchanged
",
    );
    assert!(fs::symlink_metadata(&orphan).is_err());
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn a_node_link_to_a_file_outside_is_reported_never_followed() {
    let env = Env::rendered();
    let secret = env.dir.path().join("shadow");
    fs::write(&secret, "root:secret\n").unwrap();
    let link = env.pxe(NODE3);
    common::relink(&link, &secret);
    env.run(&["render"])
        .expect(0)
        .stdout_is("render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 6 unchanged\n")
        .stderr_is("warning: `<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9` (node `node3`) points outside pxelinux.cfg/ (dnsmasq would follow it): `<dir>/shadow`; `pxectl boot-normal node3` replaces it\n");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "root:secret\n");
    assert_eq!(fs::read_link(&link).unwrap(), secret);
    env.run(&["render", "--check"]).expect(1);
}

#[test]
fn a_folder_or_file_where_a_link_belongs_is_reported() {
    let env = Env::rendered();
    let link = env.pxe(NODE3);
    fs::remove_file(&link).unwrap();
    fs::create_dir(&link).unwrap();
    env.run(&["render"])
        .expect(0)
        .stdout_is("render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 6 unchanged\n")
        .stderr_is("warning: `<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9` is a folder where the link of node `node3` belongs; `pxectl boot-normal` on the node replaces it (a folder is moved aside)\n");
    assert!(link.is_dir());
    fs::remove_dir(&link).unwrap();
    fs::write(&link, "hand edit").unwrap();
    env.run(&["render", "--check"])
        .expect(1)
        .stdout_is("check: the disk differs from `<dir>/cluster.yaml`: 0 files to write, 5 unchanged; 0 links to create, 0 to re-point, 0 to prune, 1 problem\n")
        .stderr_is("warning: `<root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-b9` is a regular file where the link of node `node3` belongs; `pxectl boot-normal` on the node replaces it (a folder is moved aside)\n");
    assert_eq!(fs::read_to_string(&link).unwrap(), "hand edit");
}

#[test]
fn a_config_link_pointing_outside_the_roots_is_refused() {
    let env = Env::rendered();
    let outside = env.dir.path().join("elsewhere.conf");
    fs::write(&outside, "keep\n").unwrap();
    let conf = env.at("/etc/dnsmasq.conf");
    common::relink(&conf, &outside);
    env.run(&["render"])
        .expect(3)
        .stdout_is("")
        .stderr_is("error: `<root>/etc/dnsmasq.conf` is a link to `<dir>/elsewhere.conf`, outside the web root, TFTP root and state folder; pxectl does not write through it: remove the link or point `paths` at the real file\n");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "keep\n");
}

#[test]
fn a_config_link_into_the_state_folder_is_written_through() {
    let env = Env::rendered();
    let real = env.at("/var/lib/pxectl/dnsmasq.conf");
    fs::write(&real, "old\n").unwrap();
    let conf = env.at("/etc/dnsmasq.conf");
    common::relink(&conf, &real);
    let run = env.run(&["render"]);
    run.expect(0);
    if verifiers() {
        run.stdout_is(&format!(
            "{}write  <root>/etc/dnsmasq.conf (changed)\n\
             render: 1 file written, 4 unchanged; 0 links created, 0 re-pointed, 0 pruned, \
             7 unchanged\n",
            verified("/etc/dnsmasq.conf", "dnsmasq")
        ))
        .stderr_is("");
    }
    assert!(fs::symlink_metadata(&conf)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&real)
        .unwrap()
        .starts_with("interface=eno1\n"));
}

#[test]
fn stale_temporaries_are_removed_under_the_lock() {
    let env = Env::rendered();
    let stale = env.pxe(".pxectl.tmp.999.0");
    symlink("installer", &stale).unwrap();
    env.run(&["render"]).succeeds_with(
        "\
removed 1 temporary file left by an interrupted run
render: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged
",
    );
    assert!(fs::symlink_metadata(&stale).is_err());
}

#[test]
fn templates_folder_replaces_built_ins_by_name() {
    let env = Env::example("portacluster");
    let tpl = env.template(
        "nginx.conf.tera",
        "# {{ server.fqdn }} on {{ http.listen }}\n",
    );
    // The stub is no valid nginx.conf: only `--no-verify` lets it through, with a warning.
    env.run(&[
        "render",
        "--no-verify",
        "--templates",
        tpl.to_str().unwrap(),
    ])
    .expect(0)
    .stdout_is(&format!("{COLD_PLAN}{COLD_SUMMARY}"))
    .stderr_is(
        "warning: `<root>/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
         warning: `<root>/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n",
    );
    assert_eq!(
        fs::read_to_string(env.at("/etc/nginx/nginx.conf")).unwrap(),
        "# node0.pc.datastax.com on 80\n"
    );
    // The others stay built in.
    assert!(fs::read_to_string(env.at("/etc/dnsmasq.conf"))
        .unwrap()
        .starts_with("interface=eno1\n"));
}

#[test]
fn templates_key_is_relative_to_the_description() {
    let text = fs::read_to_string(repo("examples/portacluster.yaml")).unwrap();
    let env = Env::new(&format!("templates: tpl\n{text}"));
    env.template("dnsmasq.conf.tera", "interface={{ server.interface }}\n");
    env.run(&["render"]).expect(0);
    assert_eq!(
        fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap(),
        "interface=eno1\n"
    );
}

#[test]
fn a_template_error_names_template_line_and_variable() {
    let env = Env::example("portacluster");
    let tpl = env.template(
        "dnsmasq.conf.tera",
        "interface={{ server.interface }}\ndhcp-boot={{ dhcp.bootfile }}\n",
    );
    env.run(&["render", "--templates", tpl.to_str().unwrap()])
        .expect(2)
        .stdout_is("")
        .stderr_is("error: cannot render template `<dir>/tpl/dnsmasq.conf.tera` at line 2: variable `dhcp.bootfile` is not defined; docs/templates.md lists every variable\n");
    assert!(
        common::tree(&env.root()).is_empty(),
        "a failed render wrote files"
    );
}

#[test]
fn a_missing_template_folder_is_an_error() {
    let env = Env::example("portacluster");
    env.run(&["render", "--templates", "/nonexistent/tpl"])
        .expect(2)
        .stdout_is("")
        .stderr_is("error: the template folder `/nonexistent/tpl` does not exist; fix `templates:` or `--templates`\n");
}

#[test]
fn config_comes_from_the_environment_and_flags_go_anywhere() {
    let env = Env::example("portacluster");
    let mut cmd = assert_cmd::Command::cargo_bin("pxectl").unwrap();
    cmd.arg("render")
        .arg("--root")
        .arg(env.root())
        .env("PXECTL_CONFIG", env.config());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.at("/etc/dnsmasq.conf").exists());
}

#[test]
fn a_missing_description_says_how_to_point_at_one() {
    let env = Env::example("portacluster");
    fs::remove_file(env.config()).unwrap();
    env.run(&["render"])
        .expect(3)
        .stdout_is("")
        .stderr_is("error: cannot read the cluster description `<dir>/cluster.yaml`; pass `--config PATH` or set `PXECTL_CONFIG`: No such file or directory (os error 2)\n");
}

#[test]
fn validate_checks_without_writing() {
    let env = Env::example("portacluster");
    env.run(&["validate"])
        .succeeds_with("<dir>/cluster.yaml: valid (6 nodes, 2 reservations, 3 profiles, 5 files and 7 links to render)\n");
    assert!(common::tree(&env.root()).is_empty());
}

#[test]
fn validate_reports_every_problem_at_once() {
    let env = Env::new(
        &fs::read_to_string(repo(
            "tests/fixtures/invalid/several-problems-at-once/cluster.yaml",
        ))
        .unwrap(),
    );
    env.run(&["validate"]).expect(2).stdout_is("").stderr_is(
        "\
error: profile `nope` is not described
  --> <dir>/cluster.yaml:25:12 (`roles.reimage`)
   = help: use one of `install`, `local`, or add it under `profiles:`

error: MAC address `aa:bb:cc:00:00:0g` is malformed
  --> <dir>/cluster.yaml:32:21 (`nodes[0].mac`)
   = help: write six hex pairs like `c0:3f:d5:60:e5:a1` or `C0-3F-D5-60-E5-A1`, or `c03f.d560.e5a1`

error: host name `-n3` starts or ends with `-`
  --> <dir>/cluster.yaml:34:12 (`nodes[2].name`)
   = help: use 1 to 63 letters, digits and `-`, not starting or ending with `-` (RFC 1123)

error: <dir>/cluster.yaml has 3 problems; nothing was written
",
    );
    assert!(common::tree(&env.root()).is_empty());
}

#[test]
fn quiet_prints_only_the_summary() {
    let env = Env::example("portacluster");
    let run = env.run(&["-q", "render"]);
    run.expect(0);
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.stdout());
}

#[test]
fn a_profile_that_links_to_another_profile_is_replaced_not_written_through() {
    let env = Env::rendered();
    let installer = fs::read_to_string(env.pxe("installer")).unwrap();
    common::relink(env.pxe("rescue"), "installer");
    env.run(&["render"]).succeeds_with(
        "\
write  <root>/srv/public/pxe/pxelinux.cfg/rescue (changed)
render: 1 file written, 4 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged
",
    );
    assert_eq!(
        fs::read_to_string(env.pxe("installer")).unwrap(),
        installer,
        "installer was overwritten"
    );
    assert!(!fs::symlink_metadata(env.pxe("rescue"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(env.pxe("rescue"))
        .unwrap()
        .contains("ar_source=http://192.168.10.10/rescue"));
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn a_config_link_to_pxectls_own_files_is_refused() {
    let env = Env::rendered();
    let journal = env.at("/var/lib/pxectl/journal.jsonl");
    fs::write(&journal, "").unwrap();
    let conf = env.at("/etc/nginx/nginx.conf");
    common::relink(&conf, &journal);
    env.run(&["render"]).expect(3).stdout_is("").stderr_is(
        "error: `<root>/etc/nginx/nginx.conf` is a link to `<root>/var/lib/pxectl/journal.jsonl`, \
             which pxectl manages otherwise (another rendered file, pxelinux.cfg/, or its own \
             state); pxectl does not write through it: remove the link\n",
    );
    assert_eq!(fs::read_to_string(&journal).unwrap(), "");
    let conf = env.at("/etc/dnsmasq.conf");
    common::relink(&conf, env.pxe("installer"));
    env.run(&["render"]).expect(3).stdout_is("").stderr_is(
        "error: `<root>/etc/dnsmasq.conf` is a link to \
         `<root>/srv/public/pxe/pxelinux.cfg/installer`, which pxectl manages otherwise \
         (another rendered file, pxelinux.cfg/, or its own state); pxectl does not write \
         through it: remove the link\n",
    );
}

#[test]
fn an_override_folder_loads_only_tera_files() {
    let env = Env::example("portacluster");
    env.template("nginx.conf.tera~", "{{ broken");
    let tpl = env.template("README", [0xff, 0xfe]);
    env.run(&["render", "--templates", tpl.to_str().unwrap()])
        .expect(0);
}

#[test]
fn render_journals_the_links_it_creates_and_prunes() {
    let env = Env::rendered();
    let read = || -> Vec<serde_json::Value> {
        fs::read_to_string(env.at("/var/lib/pxectl/journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let first = read();
    assert_eq!(first.len(), 6, "one entry per node's first link");
    assert_eq!(first[0]["command"], "render");
    assert_eq!(first[0]["node"], "node1");
    assert_eq!(first[0]["from"], serde_json::Value::Null);
    assert_eq!(first[0]["to"], "arch-linux");
    env.run(&["render"]).expect(0);
    assert_eq!(read().len(), 6, "a no-op render journals nothing");
    symlink("installer", env.pxe("01-aa-bb-cc-dd-ee-ff")).unwrap();
    env.run(&["render", "--prune"]).expect(0);
    let last = read().pop().unwrap();
    assert_eq!(last["command"], "render --prune");
    assert_eq!(last["node"], "(orphan)");
    assert_eq!(last["mac"], "aa:bb:cc:dd:ee:ff");
    assert_eq!(last["from"], "installer");
    assert_eq!(last["to"], serde_json::Value::Null);
    env.run(&["log"]).with_times().succeeds_with(
        "\
<time>  tester  render  node1  (no link) -> arch-linux
<time>  tester  render  node2  (no link) -> arch-linux
<time>  tester  render  node3  (no link) -> arch-linux
<time>  tester  render  node4  (no link) -> arch-linux
<time>  tester  render  node5  (no link) -> arch-linux
<time>  tester  render  node6  (no link) -> arch-linux
<time>  tester  render --prune  (orphan)  installer -> (removed)
",
    );
}

/// A hand edit of the `arch-linux` profile and a new node `node7` in the description.
fn edit_profile_and_add_node(env: &Env) {
    let profile = env.pxe("arch-linux");
    let text = fs::read_to_string(&profile).unwrap();
    fs::write(
        &profile,
        text.replace("root=/dev/sda2 rw", "root=/dev/sda2 ro"),
    )
    .unwrap();
    let mut description = fs::read_to_string(env.config()).unwrap();
    description.push_str("  - {name: node7, mac: c0:3f:d5:60:d0:9f}\n");
    env.write_config(&description);
}

const DIFF: &str = "\
write  <root>/etc/dnsmasq.conf (changed)
--- <root>/etc/dnsmasq.conf
+++ <root>/etc/dnsmasq.conf (rendered)
@@ -13,3 +13,4 @@
 dhcp-host=c0:3f:d5:60:e4:ac,node4.pc.datastax.com
 dhcp-host=c0:3f:d5:60:6f:18,node5.pc.datastax.com
 dhcp-host=c0:3f:d5:60:d0:9e,node6.pc.datastax.com
+dhcp-host=c0:3f:d5:60:d0:9f,node7.pc.datastax.com
write  <root>/srv/public/pxe/pxelinux.cfg/arch-linux (changed)
--- <root>/srv/public/pxe/pxelinux.cfg/arch-linux
+++ <root>/srv/public/pxe/pxelinux.cfg/arch-linux (rendered)
@@ -5,4 +5,4 @@
 LABEL arch
 \tLINUX /arch-kernel
 \tINITRD /arch-initramfs
-\tAPPEND root=/dev/sda2 ro
+\tAPPEND root=/dev/sda2 rw
link   <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-d0-9f -> arch-linux
--- <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-d0-9f
+++ <root>/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-d0-9f (rendered)
@@ -0,0 +1 @@
+-> arch-linux
";

#[test]
fn check_diff_shows_a_hand_edited_profile_and_a_new_node() {
    let env = Env::rendered();
    edit_profile_and_add_node(&env);
    env.run(&["render", "--check", "--diff"])
        .expect(1)
        .stdout_is(&format!(
            "{DIFF}check: the disk differs from `<dir>/cluster.yaml`: 2 files to write, 3 unchanged; \
             1 link to create, 0 to re-point, 0 to prune, 0 problems\n"
        ))
        .stderr_is("");
}

#[test]
fn diff_shows_then_writes_a_hand_edited_profile_and_a_new_node() {
    if !verifiers() {
        return;
    }
    let env = Env::rendered();
    edit_profile_and_add_node(&env);
    let verify = verified("/etc/dnsmasq.conf", "dnsmasq");
    env.run(&["render", "--diff", "--dry-run"])
        .succeeds_with(&format!(
        "{verify}{DIFF}dry run: 2 files to write, 3 unchanged; 1 link to create, 0 to re-point, \
             0 to prune; nothing was written\n"
    ));
    env.run(&["render", "--diff"]).succeeds_with(&format!(
        "{verify}{DIFF}render: 2 files written, 3 unchanged; 1 link created, 0 re-pointed, \
             0 pruned, 7 unchanged\n"
    ));
}
