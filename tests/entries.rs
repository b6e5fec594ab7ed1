//! A node's entries across loaders (pxelinux's, GRUB's, iPXE's) as one decision: rendered,
//! switched and judged together; and extra kernel arguments of a group or a node, rendered
//! into their own profile files that the node's entries point at through every switch. Whole
//! stdout compared.

mod common;

use std::fs;

use common::Env;

/// The example served to BIOS, UEFI and UEFI HTTP boot clients: three entries per node.
fn every_loader(extra: &str) -> String {
    fs::read_to_string(common::repo("examples/portacluster.yaml"))
        .unwrap()
        .replace(
            "nodes:\n",
            &format!("loaders: {{clients: [bios, efi-x64, http-x64]}}\n{extra}nodes:\n"),
        )
}

/// node3's three entries, as `loader folder/name -> target`.
fn entries(env: &Env, mac: &str) -> Vec<String> {
    let pxe = env.at("/srv/public/pxe");
    let hyphens = mac.replace(':', "-");
    [
        format!("pxelinux.cfg/01-{hyphens}"),
        format!("grub/01-{mac}.cfg"),
        format!("ipxe/{hyphens}.ipxe"),
    ]
    .into_iter()
    .map(|e| format!("{e} -> {}", fs::read_link(pxe.join(&e)).unwrap().display()))
    .collect()
}

/// What [`entries`] lists when all of `mac`'s entries point at `profile`.
fn all_at(mac: &str, profile: &str) -> Vec<String> {
    let hyphens = mac.replace(':', "-");
    vec![
        format!("pxelinux.cfg/01-{hyphens} -> {profile}"),
        format!("grub/01-{mac}.cfg -> {profile}.cfg"),
        format!("ipxe/{hyphens}.ipxe -> {profile}.ipxe"),
    ]
}

const NODE3: &str = "c0:3f:d5:60:e5:b9";

#[test]
fn every_switch_flips_all_of_a_nodes_entries_and_logs_it_once() {
    let env = Env::new(&every_loader(""));
    env.run(&["-q", "render"]).expect(0);
    assert_eq!(entries(&env, NODE3), all_at(NODE3, "arch-linux"));
    env.run(&["reimage", "node3"])
        .expect(0)
        .stdout_is("node3  arch-linux -> installer\nreimage: 1 switched, 0 already\n");
    assert_eq!(entries(&env, NODE3), all_at(NODE3, "installer"));
    env.run(&["reimage", "node3"])
        .expect(0)
        .stdout_is("node3  installer (already)\nreimage: 0 switched, 1 already\n");
    env.run(&["render", "--check"]).expect(0);
    env.run(&["boot-normal", "node3"]).expect(0);
    assert_eq!(
        entries(&env, NODE3)[1],
        "grub/01-c0:3f:d5:60:e5:b9.cfg -> arch-linux.cfg"
    );
    // render's creation of the node's three entries, the reimage, the boot-normal: a line each.
    assert_eq!(
        log_lines(&env, "node3"),
        [
            "tester  render  node3  (no link) -> arch-linux",
            "tester  reimage  node3  arch-linux -> installer",
            "tester  boot-normal  node3  installer -> arch-linux",
        ]
    );
}

/// `pxectl log NODE`'s lines without their time.
fn log_lines(env: &Env, node: &str) -> Vec<String> {
    let log = env.run(&["log", node]);
    log.expect(0);
    log.stdout()
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect()
}

#[test]
fn entries_that_disagree_are_a_problem_that_render_or_the_next_switch_repairs() {
    let env = Env::new(&every_loader(""));
    env.run(&["-q", "render"]).expect(0);
    env.run(&["-q", "reimage", "node3"]).expect(0);
    // A crash between two renames: GRUB's entry, not flipped yet, still says arch-linux, as
    // it did before the switch.
    let grub = env.at("/srv/public/pxe/grub/01-c0:3f:d5:60:e5:b9.cfg");
    common::relink(&grub, "arch-linux.cfg");
    common::set_mtime(&grub, "2026-01-02T03:04:05Z");
    env.run(&["-q", "status"]).expect(1).stdout_is(
        "problem: node3: its entries do not all point where they should (pxelinux `installer`, grub `arch-linux.cfg`, ipxe `installer.ipxe`): \
         what it boots depends on its loader; `pxectl render` or the next switch brings them in line\n\
         6 nodes, 0 switched (*), 1 problem\n",
    );
    env.run(&["render", "--check"]).expect(1);
    // render finishes the switch the newest entries record.
    env.run(&["render"]).expect(0).stdout_has(&format!(
        "relink {} -> installer.cfg (was a link to `arch-linux.cfg`)",
        grub.display()
    ));
    env.run(&["-q", "status"])
        .expect(0)
        .stdout_is("6 nodes, 1 switched (*), 0 problems\n");
    // The repair is journaled, once for the node.
    assert_eq!(
        log_lines(&env, "node3"),
        [
            "tester  render  node3  (no link) -> arch-linux",
            "tester  reimage  node3  arch-linux -> installer",
            "tester  render  node3  (entries disagree) -> installer",
        ]
    );
    // A hand edit is the newest entry: render takes it for the last switch. A switch repairs
    // the node either way.
    common::relink(&grub, "rescue.cfg");
    env.run(&["render", "--dry-run"])
        .expect(0)
        .stdout_has(&format!(
            "relink {} -> rescue (was a link to `installer`)",
            env.pxe("01-c0-3f-d5-60-e5-b9").display()
        ));
    env.run(&["-q", "boot-normal", "node3"]).expect(0);
    assert_eq!(entries(&env, NODE3), all_at(NODE3, "arch-linux"));
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn extra_kernel_arguments_of_a_group_or_a_node_follow_it_through_every_switch() {
    let text = every_loader("groups:\n  rack1: {append: console=ttyS0}\n")
        .replace(
            "{name: node1, mac: c0:3f:d5:60:e5:a1}",
            "{name: node1, mac: c0:3f:d5:60:e5:a1, groups: [rack1]}",
        )
        .replace(
            "{name: node3, mac: c0:3f:d5:60:e5:b9}",
            "{name: node3, mac: c0:3f:d5:60:e5:b9, groups: [rack1], append: nomodeset}",
        );
    let env = Env::new(&text);
    env.run(&["-q", "render"]).expect(0);
    let pxe = env.at("/srv/public/pxe");
    common::assert_text(
        "pxelinux.cfg/arch-linux@rack1",
        &fs::read_to_string(pxe.join("pxelinux.cfg/arch-linux@rack1")).unwrap(),
        "PROMPT 0\nTIMEOUT 10\nDEFAULT arch\n\nLABEL arch\n\tLINUX /arch-kernel\n\tINITRD /arch-initramfs\n\tAPPEND root=/dev/sda2 rw console=ttyS0\n",
    );
    common::assert_text(
        "grub/rescue@node3.cfg",
        &fs::read_to_string(pxe.join("grub/rescue@node3.cfg")).unwrap(),
        "set profile=rescue\necho pxectl: rescue\nlinux /sysrcd-kernel docache dodhcp setkmap=us netboot=http://192.168.10.10/sysrcd/sysrcd.dat ar_source=http://192.168.10.10/rescue ar_nowait nomodeset\ninitrd /sysrcd-initram.igz\nboot\n",
    );
    // The profile's own file is untouched by the extra arguments.
    assert!(!fs::read_to_string(pxe.join("pxelinux.cfg/arch-linux"))
        .unwrap()
        .contains("console"));
    assert_eq!(entries(&env, NODE3), all_at(NODE3, "arch-linux@node3"));
    env.run(&["rescue", "node1", "node3"]).expect(0).stdout_is(
        "node1  arch-linux -> rescue\nnode3  arch-linux -> rescue\nrescue: 2 switched, 0 already\n",
    );
    assert_eq!(
        entries(&env, "c0:3f:d5:60:e5:a1")[0],
        "pxelinux.cfg/01-c0-3f-d5-60-e5-a1 -> rescue@rack1"
    );
    assert_eq!(
        entries(&env, NODE3)[2],
        "ipxe/c0-3f-d5-60-e5-b9.ipxe -> rescue@node3.ipxe"
    );
    env.run(&["-q", "status"])
        .expect(0)
        .stdout_is("6 nodes, 2 switched (*), 0 problems\n");
    // Without the group's arguments, render points node1 at the plain rescue profile: still
    // switched, never undone.
    env.write_config(&text.replace("rack1: {append: console=ttyS0}", "rack1: {}"));
    env.run(&["-q", "render", "--prune"]).expect(0);
    assert_eq!(
        entries(&env, "c0:3f:d5:60:e5:a1"),
        all_at("c0:3f:d5:60:e5:a1", "rescue")
    );
    assert!(!pxe.join("pxelinux.cfg/rescue@rack1").exists());
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn a_loader_out_of_use_leaves_orphans_that_never_come_back_as_switches() {
    let text = every_loader("");
    let env = Env::new(&text);
    env.run(&["-q", "render"]).expect(0);
    env.run(&["-q", "reimage", "node3"]).expect(0);
    // BIOS clients are no longer served: pxelinux's entries are orphans, and BIOS machines get
    // no boot file at all (not the old switches).
    let uefi = text.replace(
        "clients: [bios, efi-x64, http-x64]",
        "clients: [efi-x64, http-x64]",
    );
    env.write_config(&uefi);
    env.run(&["-q", "boot-normal", "node3"]).expect(0);
    let orphan = "problem: orphan `01-c0-3f-d5-60-e5-b9` (c0:3f:d5:60:e5:b9) -> installer: `pxelinux` is no longer in use; `pxectl render --prune` removes it";
    let status = env.run(&["-q", "status"]);
    status.expect(1);
    assert!(
        status.stdout().lines().any(|l| l == orphan),
        "{}",
        status.stdout()
    );
    env.run(&["-q", "render"]).expect(0);
    let dnsmasq = fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap();
    assert!(!dnsmasq.contains("dhcp-boot=/pxelinux.0"), "{dnsmasq}");
    // Served again before pruning: the stale pxelinux entry (installer) is older than the
    // switch back in GRUB's and iPXE's entries, so render brings it in line with them.
    common::set_mtime(&env.pxe("01-c0-3f-d5-60-e5-b9"), "2026-01-02T03:04:05Z");
    env.write_config(&text);
    env.run(&["-q", "render"]).expect(0);
    assert_eq!(entries(&env, NODE3), all_at(NODE3, "arch-linux"));
    // And `--prune` removes a loader's entries once it is out of use.
    env.write_config(&uefi);
    env.run(&["-q", "render", "--prune"]).expect(0);
    assert!(fs::symlink_metadata(env.pxe("01-c0-3f-d5-60-e5-b9")).is_err());
    env.run(&["render", "--check"]).expect(0);
}
