//! `pxectl import`: hand-made setups under tests/fixtures/import/ (and the reference one)
//! become descriptions that render them back; what cannot be described is reported, bad input
//! is refused, and nothing is written unless the round trip holds.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_same_tree, assert_text, have, prerequisite, repo, tree, verified, Env, Run};

/// The setups that import, by fixture name, with the tree each is under.
const SETUPS: [(&str, &str); 7] = [
    ("portacluster", "tests/fixtures/portacluster"),
    ("lab", "tests/fixtures/import/lab"),
    ("debian-netboot", "tests/fixtures/import/debian-netboot"),
    ("hostsfile-ethers", "tests/fixtures/import/hostsfile-ethers"),
    ("uefi-grub", "tests/fixtures/import/uefi-grub"),
    ("mixed-loaders", "tests/fixtures/import/mixed-loaders"),
    ("uefi-only", "tests/fixtures/import/uefi-only"),
];

/// `pxectl --root ROOT import ARGS`, with the description path `<dir>/cluster.yaml` as
/// `--config` (import reads none).
fn import(env: &Env, root: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pxectl"));
    cmd.arg("--root")
        .arg(root)
        .arg("import")
        .args(args)
        .env_remove("PXECTL_CONFIG")
        .env_remove("PXECTL_ROOT")
        .env_remove("PXECTL_TEMPLATES");
    env.finish(&mut cmd)
}

/// A [`scratch`] folder whose output root is a copy of the setup at the repository path
/// `tree` (links kept as links).
fn copied(tree: &str) -> Env {
    let env = scratch();
    let from = repo(tree);
    for entry in walkdir::WalkDir::new(&from).min_depth(1) {
        let entry = entry.unwrap();
        let to = env.root().join(entry.path().strip_prefix(&from).unwrap());
        if entry.path_is_symlink() {
            symlink(fs::read_link(entry.path()).unwrap(), &to).unwrap();
        } else if entry.file_type().is_dir() {
            fs::create_dir_all(&to).unwrap();
        } else {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
    env
}

/// `pxectl import -o <dir>/cluster.yaml` of `env`'s output root.
fn import_to_config(env: &Env) -> Run {
    import(env, &env.root(), &["-o", &env.config().to_string_lossy()])
}

/// [`copied`], imported to `<dir>/cluster.yaml`.
#[track_caller]
fn imported(tree: &str) -> Env {
    let env = copied(tree);
    import_to_config(&env).expect(0);
    env
}

/// A scratch folder without a description: import writes `<dir>/cluster.yaml`.
fn scratch() -> Env {
    let env = Env::new("");
    fs::remove_file(env.config()).unwrap();
    env
}

/// Replaces `from` by `to` in the setup's dnsmasq.conf (`from` empty: appends `to`).
fn edit_dnsmasq_conf(env: &Env, from: &str, to: &str) {
    let conf = env.at("/etc/dnsmasq.conf");
    let text = fs::read_to_string(&conf).unwrap();
    let edited = if from.is_empty() {
        format!("{text}{to}")
    } else {
        assert!(text.contains(from), "{from}");
        text.replace(from, to)
    };
    fs::write(&conf, edited).unwrap();
}

fn expected(name: &str, ext: &str) -> String {
    fs::read_to_string(repo(&format!("tests/fixtures/import/{name}.{ext}"))).unwrap()
}

#[test]
fn every_setup_imports_to_its_expected_description_and_guesses_aloud() {
    for (name, tree) in SETUPS {
        let env = Env::new("");
        let run = import(&env, &repo(tree), &[]);
        run.expect(0);
        assert_text(name, &run.stdout(), &expected(name, "yaml"));
        assert_text(name, &run.stderr(), &expected(name, "stderr"));
    }
}

#[test]
fn the_reference_description_renders_the_reference_tree_byte_for_byte() {
    let env = Env::new("");
    let run = import(&env, &repo("tests/fixtures/portacluster"), &[]);
    run.expect(0);
    env.write_config(&run.stdout());
    env.run(&["render", "--no-verify"]).expect(0);
    let golden = repo("tests/fixtures/portacluster");
    for part in ["etc", "srv"] {
        assert_same_tree(&env.root().join(part), &golden.join(part));
    }
}

#[test]
fn the_reference_description_says_what_the_hand_written_example_says() {
    let imported: serde_yaml::Value =
        serde_yaml::from_str(&expected("portacluster", "yaml")).unwrap();
    let mut example: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(repo("examples/portacluster.yaml")).unwrap())
            .unwrap();
    // pxectl's own folder is not part of the setup: import leaves the default.
    example["paths"]
        .as_mapping_mut()
        .unwrap()
        .remove("state_dir")
        .unwrap();
    assert_eq!(imported, example);
}

#[test]
fn render_check_passes_right_after_importing_the_reference_tree() {
    let env = imported("tests/fixtures/portacluster");
    env.run(&["render", "--check"])
        .expect(0)
        .stdout_is("check: up to date (5 files, 7 links)\n");
}

#[test]
fn check_passes_right_after_every_import_and_render_leaves_the_hand_made_files_alone() {
    for (name, tree) in &SETUPS[1..] {
        let env = copied(tree);
        let before = tree_of(&env);
        import_to_config(&env).expect(0).stdout_is("");
        // dnsmasq.conf (and the hosts file) differ from what pxectl writes by comments and
        // order only: as dnsmasq reads them, they are up to date.
        let check = env.run(&["render", "--check"]);
        assert_eq!(check.code(), 0, "{name}: {}", check.stdout());
        assert!(
            check.stdout().starts_with("check: up to date ("),
            "{name}: {}",
            check.stdout()
        );
        env.run(&["render", "--no-verify"]).expect(0);
        // Nothing changed but pxectl's state: links, profiles, configs with their comments.
        let after = tree_of(&env);
        let changed: Vec<&PathBuf> = after
            .keys()
            .filter(|p| before.get(*p) != after.get(*p))
            .filter(|p| !p.starts_with("var"))
            .collect();
        assert!(before.keys().all(|p| after.contains_key(p)), "{name}");
        assert!(changed.is_empty(), "{name}: {changed:?}");
    }
}

#[test]
fn a_hand_made_dnsmasq_conf_is_written_in_pxectls_layout_when_its_meaning_changes() {
    let env = imported("tests/fixtures/import/lab");
    // A comment more is no change; a directive more is.
    edit_dnsmasq_conf(&env, "", "# checked by Ana\n");
    env.run(&["render", "--check"]).expect(0);
    edit_dnsmasq_conf(&env, "", "log-dhcp\n");
    let check = env.run(&["render", "--check"]);
    check.expect(1);
    check.stdout_is("write  <root>/etc/dnsmasq.conf (changed)\ncheck: the disk differs from `<dir>/cluster.yaml`: 1 file to write, 3 unchanged; 0 links to create, 0 to re-point, 0 to prune, 0 problems\n");
    env.run(&["render", "--no-verify"]).expect(0);
    let rendered = fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap();
    assert!(!rendered.contains('#'), "{rendered}");
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn a_nodes_own_loader_is_read_from_its_tag_and_a_foreign_tag_is_reported() {
    let env = copied("tests/fixtures/import/mixed-loaders");
    // Flipped like any node, in every loader's folder.
    import_to_config(&env).expect(0);
    env.run(&["boot-normal", "edge1"]).expect(0);
    for (entry, target) in [
        ("/srv/www/tftp/pxelinux.cfg/01-9c-6b-00-10-00-03", "ubuntu"),
        ("/srv/www/tftp/grub/01-9c:6b:00:10:00:03.cfg", "ubuntu.cfg"),
        ("/srv/www/tftp/ipxe/9c-6b-00-10-00-03.ipxe", "ubuntu.ipxe"),
    ] {
        assert_eq!(
            fs::read_link(env.at(entry)).unwrap(),
            Path::new(target),
            "{entry}"
        );
    }
    let json = env.run(&["status", "--json"]).expect(0).json();
    let edge1 = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "edge1");
    assert_eq!(edge1.unwrap()["loader"], "ipxe", "{json}");

    // A tag pxectl does not write: the reservation cannot be described, and import says which
    // line and how to write it.
    let env = copied("tests/fixtures/import/mixed-loaders");
    edit_dnsmasq_conf(&env, "set:pxectl-ipxe,10.40", "set:edge,10.40");
    let run = import(&env, &env.root(), &[]);
    run.expect(1).stdout_is("");
    assert!(
        run.stderr().contains(
            "/srv/www/tftp/pxelinux.cfg/01-9c-6b-00-10-00-03: MAC `9c:6b:00:10:00:03` has a reservation pxectl cannot describe (/etc/dnsmasq.conf:11: `dhcp-host=9c:6b:00:10:00:03,set:edge,10.40.0.13,edge1.lab.example.org`), so its node is not described; pxectl writes `dhcp-host=MAC[,set:pxectl-LOADER[-sb]][,IP],NAME` (LOADER: auto, pxelinux, syslinux-efi, grub or ipxe): rewrite the line so and import again\n"
        ),
        "{}",
        run.stderr()
    );
}

fn tree_of(env: &Env) -> std::collections::BTreeMap<PathBuf, common::Node> {
    tree(&env.root())
        .into_iter()
        .map(|(p, n)| match n {
            common::Node::File { bytes, .. } => (p, common::Node::File { bytes, mode: 0 }),
            other => (p, other),
        })
        .collect()
}

#[test]
fn the_imported_dnsmasq_conf_with_its_extra_lines_passes_dnsmasq_test() {
    if !prerequisite(have("dnsmasq"), "dnsmasq is not installed") {
        return;
    }
    let env = imported("tests/fixtures/import/lab");
    // render verifies a new dnsmasq.conf with `dnsmasq --test` before installing it (the
    // hand-made one means the same, so it is removed to have it written).
    fs::remove_file(env.at("/etc/dnsmasq.conf")).unwrap();
    let run = env.run(&["render"]);
    run.expect(0);
    let shown = run.placeholders(&run.stdout());
    assert!(
        shown.starts_with(&verified("/etc/dnsmasq.conf", "dnsmasq")),
        "{shown}"
    );
    // nginx.conf is the operator's (`http.managed: false`): not tested, not written.
    assert!(!shown.contains("nginx"), "{shown}");
    let conf = fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap();
    assert!(conf.contains("\nbind-interfaces\n"), "{conf}");
    assert!(
        conf.contains("\ndhcp-option=option:router,10.20.0.1\n"),
        "{conf}"
    );
}

#[test]
fn a_verbatim_profile_is_switched_to_like_any_other() {
    let env = imported("tests/fixtures/import/debian-netboot");
    env.run(&["boot", "--profile", "debian-menu", "build1"])
        .expect(0);
    assert_eq!(
        fs::read_link(env.at("/srv/tftp/pxelinux.cfg/01-00-16-3e-5d-01-01")).unwrap(),
        Path::new("debian-menu")
    );
    env.run(&["boot-normal", "build1"]).expect(0);
    assert_eq!(
        fs::read_link(env.at("/srv/tftp/pxelinux.cfg/01-00-16-3e-5d-01-01")).unwrap(),
        Path::new("local")
    );
}

#[test]
fn a_profile_with_windows_line_ends_is_kept_byte_for_byte() {
    let env = copied("tests/fixtures/import/lab");
    let memtest = env.at("/srv/tftp/pxelinux.cfg/memtest");
    let crlf = fs::read_to_string(&memtest).unwrap().replace('\n', "\r\n");
    fs::write(&memtest, &crlf).unwrap();
    let run = import_to_config(&env);
    run.expect(0);
    let description = fs::read_to_string(env.config()).unwrap();
    assert!(
        description.contains("    pxelinux: \"# memtest86+ from the memtest86+ package\\r\\nDEFAULT memtest\\r\\nLABEL memtest\\r\\n  KERNEL /memtest86+x64.bin\\r\\n\"  # kept verbatim: pxectl's keys cannot say it, with Windows line ends\n"),
        "{description}"
    );
    fs::remove_file(&memtest).unwrap();
    env.run(&["render", "--no-verify"]).expect(0);
    assert_eq!(fs::read_to_string(&memtest).unwrap(), crlf);
    env.run(&["render", "--check"]).expect(0);
}

#[test]
fn nginx_conf_left_alone_is_neither_rendered_nor_reloaded() {
    let env = imported("tests/fixtures/import/lab");
    fs::write(env.at("/etc/nginx/nginx.conf"), "# the operator's own\n").unwrap();
    env.run(&["render", "--no-verify"]).expect(0);
    assert_eq!(
        fs::read_to_string(env.at("/etc/nginx/nginx.conf")).unwrap(),
        "# the operator's own\n"
    );
    env.run(&["reload", "nginx"]).expect(2).stderr_is(
        "error: nginx.conf is not managed by pxectl (`http.managed: false`): reload nginx yourself, or set `http.managed: true`\n",
    );
}

#[test]
fn links_to_a_missing_profile_and_orphan_macs_are_reported_not_invented() {
    let env = scratch();
    let out = env.config();
    let run = import(
        &env,
        &repo("tests/fixtures/import/stale-links"),
        &["-o", &out.to_string_lossy()],
    );
    run.expect(1).stdout_is("");
    assert_text("stderr", &run.stderr(), &expected("stale-links", "stderr"));
    assert!(!out.exists(), "import wrote the description");
}

#[test]
fn a_menu_file_as_default_is_a_difference_with_the_way_out() {
    let env = copied("tests/fixtures/import/debian-netboot");
    let dir = env.at("/srv/tftp/pxelinux.cfg");
    fs::remove_file(dir.join("default")).unwrap();
    fs::copy(dir.join("debian-menu"), dir.join("default")).unwrap();
    let run = import(&env, &env.root(), &[]);
    run.expect(1).stdout_is("");
    run.stderr_has("import: the description would not render this setup, so nothing was written:\n  /srv/tftp/pxelinux.cfg/default: a file; pxectl makes `default` a link to a profile: move it to a profile (`mv default menu && ln -s menu default`) and import again\n");
}

#[test]
fn grubs_folder_is_read_and_must_agree_with_pxelinuxs() {
    let env = copied("tests/fixtures/import/uefi-grub");
    let grub = env.at("/srv/tftp/grub");
    common::relink(grub.join("01-3c:fd:fe:aa:00:02.cfg"), "disk.cfg");
    fs::write(grub.join("grub.cfg"), "configfile $prefix/menu.cfg\n").unwrap();
    let run = import(&env, &env.root(), &[]);
    run.expect(1).stdout_is("");
    let stderr = run.stderr();
    let differences = stderr
        .split_once("so nothing was written:\n")
        .map(|(_, d)| d)
        .unwrap_or_default();
    assert_text(
        "differences",
        differences,
        "  /srv/tftp/grub/grub.cfg: would not be rendered byte for byte
  the entries of MAC `3c:fd:fe:aa:00:02` disagree (`debian`, `disk`); point them all at one profile
",
    );
}

#[test]
fn boot_lines_no_loaders_setting_renders_are_kept_and_their_folders_left_alone() {
    let env = copied("tests/fixtures/import/uefi-grub");
    edit_dnsmasq_conf(&env, "dhcp-match=set:efi-x64,option:client-arch,9\n", "");
    let run = import(&env, &env.root(), &[]);
    run.expect(0);
    assert!(!run.stdout().contains("\nloaders:"), "{}", run.stdout());
    assert!(
        run.stdout().contains("  extra:                   # dnsmasq lines pxectl does not model, kept verbatim\n    - dhcp-match=set:bios,option:client-arch,0\n    - dhcp-match=set:efi-x64,option:client-arch,7\n    - dhcp-boot=tag:bios,/pxelinux.0\n    - dhcp-boot=tag:efi-x64,/grubnetx64.efi\n"),
        "{}",
        run.stdout()
    );
    run.stderr_has("import: /etc/dnsmasq.conf:9: `dhcp-match=set:efi-x64,option:client-arch,7` is not what any `loaders` setting renders; kept verbatim in `dhcp.extra`\n")
        .stderr_has("import: /srv/tftp/grub: left out of the description; pxectl will leave it alone\n");
}

/// A hand-made form in a setup, and what import says of it.
struct Form {
    name: &'static str,
    setup: &'static str,
    edit: fn(&Env),
    /// Import's exit status.
    code: i32,
    /// A whole line import prints on stderr (`<root>` for the tree).
    says: &'static str,
}

const LAB: &str = "tests/fixtures/import/lab";

const FORMS: &[Form] = &[
    Form {
        name: "an upper-case MAC address",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "52:54:00:a1:00:01", "52:54:00:A1:00:01"),
        code: 0,
        says: "import: 3 nodes, 1 reservation, 3 profiles (1 kept verbatim), 11 lines of dnsmasq.conf kept verbatim; rendered back, it gives this setup",
    },
    Form {
        name: "reservations with short names",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, ".lab.example.org\n", "\n"),
        code: 0,
        says: "import: 3 nodes, 1 reservation, 3 profiles (1 kept verbatim), 11 lines of dnsmasq.conf kept verbatim; rendered back, it gives this setup",
    },
    Form {
        name: "the untagged boot line after the tagged ones (tagged ones win anyway)",
        setup: "tests/fixtures/import/uefi-grub",
        edit: |env| {
            edit_dnsmasq_conf(env, "dhcp-boot=/pxelinux.0\n", "");
            edit_dnsmasq_conf(env, "", "dhcp-boot=/pxelinux.0\n");
        },
        code: 0,
        says: "import: 3 nodes, 0 reservations, 3 profiles (0 kept verbatim), 0 lines of dnsmasq.conf kept verbatim; rendered back, it gives this setup",
    },
    Form {
        name: "a comment after a reservation in the hosts file",
        setup: "tests/fixtures/import/hostsfile-ethers",
        edit: |env| {
            let hosts = env.at("/etc/dnsmasq-hosts.conf");
            let text = fs::read_to_string(&hosts).unwrap();
            let (first, rest) = text.split_once('\n').unwrap();
            fs::write(&hosts, format!("{first}   # rack 2\n{rest}")).unwrap();
        },
        code: 0,
        says: "import: /etc/dnsmasq-hosts.conf: the same reservations, but not byte for byte (comments or order); pxectl takes it as up to date and leaves it alone until the reservations change, then writes it in its own layout, without the comments",
    },
    Form {
        name: "every node on the installer (switched there, not at home)",
        setup: LAB,
        edit: |env| {
            for mac in ["01-52-54-00-a1-00-01", "01-52-54-00-a1-00-02"] {
                common::relink(env.at(&format!("/srv/tftp/pxelinux.cfg/{mac}")), "ubuntu-install");
            }
        },
        code: 0,
        says: "import: `roles.normal` guessed: every node is on the installer or rescue; the first other profile",
    },
    Form {
        name: "a hand-written GRUB profile in a UEFI-only setup",
        setup: "tests/fixtures/import/uefi-only",
        edit: |env| {
            fs::write(
                env.at("/srv/www/tftp/grub/ubuntu.cfg"),
                "menuentry ubuntu {\n  linux /ubuntu/vmlinuz root=/dev/sda2 ro\n  initrd /ubuntu/initrd\n}\n",
            )
            .unwrap();
        },
        code: 1,
        says: "  /srv/www/tftp/grub/ubuntu.cfg: not a profile in the form pxectl writes, which only pxelinux's can be kept as written; describe it by hand",
    },
    Form {
        name: "an orphan entry in a UEFI-only setup, named as GRUB names it",
        setup: "tests/fixtures/import/uefi-only",
        edit: |env| {
            symlink("ubuntu.cfg", env.at("/srv/www/tftp/grub/01-52:54:00:ee:ee:ee.cfg")).unwrap();
        },
        code: 1,
        says: "  /srv/www/tftp/grub/01-52:54:00:ee:ee:ee.cfg: an orphan link to `ubuntu`: no reservation names MAC `52:54:00:ee:ee:ee`; add a `dhcp-host=52:54:00:ee:ee:ee,NAME` line or remove the link",
    },
    Form {
        name: "a second line for a node's MAC, which dnsmasq reads last",
        setup: LAB,
        edit: |env| {
            edit_dnsmasq_conf(
                env,
                "10.20.0.11,web1.lab.example.org\n",
                "10.20.0.11,web1.lab.example.org\ndhcp-host=52:54:00:a1:00:01,set:foo\n",
            );
        },
        code: 1,
        says: "  /etc/dnsmasq.conf: the `dhcp-host` for `52:54:00:a1:00:01` lines would be rendered in another order (dhcp-host=52:54:00:a1:00:01,set:foo, dhcp-host=52:54:00:a1:00:01,10.20.0.11,web1.lab.example.org), which changes what dnsmasq does",
    },
    Form {
        name: "a reservation naming a node's MAC among others, after the node's own",
        setup: LAB,
        edit: |env| {
            edit_dnsmasq_conf(
                env,
                "10.20.0.11,web1.lab.example.org\n",
                "10.20.0.11,web1.lab.example.org\ndhcp-host=52:54:00:ff:ff:ff,52:54:00:a1:00:01,10.20.0.99,other\n",
            );
        },
        code: 1,
        says: "  /etc/dnsmasq.conf: the `dhcp-host` lines would be rendered in another order (dhcp-host=52:54:00:ff:ff:ff,52:54:00:a1:00:01,10.20.0.99,other, dhcp-host=52:54:00:a1:00:10,10.20.0.5,printer.lab.example.org, dhcp-host=52:54:00:a1:00:01,10.20.0.11,web1.lab.example.org, dhcp-host=52:54:00:a1:00:02,10.20.0.12,web2.lab.example.org, dhcp-host=52:54:00:a1:00:03,10.20.0.13,db1.lab.example.org), which changes what dnsmasq does",
    },
    Form {
        name: "two untagged boot lines",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "", "dhcp-boot=/other.0\n"),
        code: 1,
        says: "  /etc/dnsmasq.conf: lines 26, 32 are untagged `dhcp-boot` lines, of which dnsmasq serves only the last; keep that one and import again",
    },
    Form {
        name: "a boot line naming a TFTP server",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "dhcp-boot=/pxelinux.0", "dhcp-boot=/pxelinux.0,boot,10.20.0.2"),
        code: 1,
        says: "  /etc/dnsmasq.conf:26: `dhcp-boot=/pxelinux.0,boot,10.20.0.2` names a TFTP server; pxectl's boot file is served by this dnsmasq: write `dhcp-boot=FILE` and import again",
    },
    Form {
        name: "a quoted interface",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "interface=enp3s0", "interface=\"enp3s0\""),
        code: 1,
        says: "  /etc/dnsmasq.conf:5: `interface=\"enp3s0\"` is not one interface name as pxectl writes it: write `interface=NAME` (one name, no quotes) and import again",
    },
    Form {
        name: "no interface",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "interface=enp3s0\n", ""),
        code: 1,
        says: "  /etc/dnsmasq.conf: has no `interface=` line; pxectl's dnsmasq serves one interface: add `interface=NAME` and import again",
    },
    Form {
        name: "a range with a netmask",
        setup: LAB,
        edit: |env| edit_dnsmasq_conf(env, "10.20.0.199,12h", "10.20.0.199,255.255.255.0,12h"),
        code: 1,
        says: "  /etc/dnsmasq.conf:17: `dhcp-range=10.20.0.100,10.20.0.199,255.255.255.0,12h` is not a form pxectl writes (`START,END,LEASE`, or `NETWORK,static,NETMASK,LEASE`): rewrite it so and import again",
    },
    Form {
        name: "a per-MAC link to its profile by `./`",
        setup: LAB,
        edit: |env| common::relink(env.at("/srv/tftp/pxelinux.cfg/01-52-54-00-a1-00-01"), "./ubuntu"),
        code: 1,
        says: "  /srv/tftp/pxelinux.cfg/01-52-54-00-a1-00-01: a link to `./ubuntu`, which pxectl writes as `ubuntu`: re-point it (`ln -sfn ubuntu 01-52-54-00-a1-00-01`) and import again",
    },
    Form {
        name: "dnsmasq.conf as an absolute link (a path on the boot server, not here)",
        setup: LAB,
        edit: |env| common::relink(env.at("/etc/dnsmasq.conf"), "/etc/dnsmasq.real"),
        code: 3,
        says: "error: `<root>/etc/dnsmasq.conf` is a link to `/etc/dnsmasq.real`, which import would read on this machine, outside `--root` `<root>`; make the link relative, or copy what it points at into the tree, and import again",
    },
    Form {
        name: "pxelinux.cfg/ as a link climbing out of the tree",
        setup: LAB,
        edit: |env| {
            let dir = env.at("/srv/tftp/pxelinux.cfg");
            fs::rename(&dir, env.root().join("../elsewhere")).unwrap();
            symlink("../../../elsewhere", &dir).unwrap();
        },
        code: 3,
        says: "error: `<root>/srv/tftp/pxelinux.cfg` leads out of `--root` `<root>` through a link (to `<dir>/elsewhere`); import reads only the tree under `--root`: copy what it points at into the tree, and import again",
    },
    Form {
        name: "a hosts file line naming no file",
        setup: "tests/fixtures/import/hostsfile-ethers",
        edit: |env| edit_dnsmasq_conf(env, "dhcp-hostsfile=/etc/dnsmasq-hosts.conf", "dhcp-hostsfile="),
        code: 3,
        says: "error: /etc/dnsmasq.conf:9: `dhcp-hostsfile=` names no file; give the path of the hosts file, or remove the line, and import again",
    },
];

#[test]
fn hand_made_forms_are_read_as_dnsmasq_reads_them_or_refused_at_their_line() {
    let mut failures = Vec::new();
    for form in FORMS {
        let env = copied(form.setup);
        (form.edit)(&env);
        let run = import_to_config(&env);
        let stderr = run.placeholders(&run.stderr());
        let written = env.config().exists();
        if run.code() != form.code
            || !stderr.lines().any(|l| l == form.says)
            || written != (form.code == 0)
        {
            failures.push(format!(
                "{}: exit {} (want {}), written {written}\n{stderr}",
                form.name,
                run.code(),
                form.code
            ));
        } else if form.code == 0 {
            env.run(&["render", "--check"]).expect(0);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn render_check_sees_two_lines_for_one_option_swapped() {
    let env = copied(LAB);
    // dnsmasq keeps one list for both: the later line wins.
    let second = "dhcp-option-force=option:router,10.20.0.254\n";
    edit_dnsmasq_conf(
        &env,
        "dhcp-option=option:router,10.20.0.1\n",
        &format!("dhcp-option=option:router,10.20.0.1\n{second}"),
    );
    import_to_config(&env).expect(0);
    env.run(&["render", "--check"]).expect(0);
    // dnsmasq hands out the last router given: swapped, it is another one.
    edit_dnsmasq_conf(&env, second, "");
    edit_dnsmasq_conf(
        &env,
        "dhcp-option=option:router,10.20.0.1\n",
        &format!("{second}dhcp-option=option:router,10.20.0.1\n"),
    );
    env.run(&["render", "--check"]).expect(1);
    env.run(&["-q", "status"]).expect(1);
}

#[test]
fn the_output_file_is_never_replaced_without_force() {
    let env = Env::new("mine\n");
    let out = env.config();
    let out = out.to_string_lossy();
    let root = repo("tests/fixtures/portacluster");
    import(&env, &root, &["-o", &out]).expect(2).stderr_is(
        "error: `<dir>/cluster.yaml` exists; pass `--force` to replace it, or write elsewhere with `-o FILE`\n",
    );
    assert_eq!(fs::read_to_string(env.config()).unwrap(), "mine\n");
    import(&env, &root, &["-o", &out, "--force"]).expect(0);
    assert_eq!(
        fs::read_to_string(env.config()).unwrap(),
        expected("portacluster", "yaml")
    );
}

/// A copy of the reference tree broken by `spoil`, imported with `-o`: the exit status and
/// stderr, and whether the description was written.
fn spoiled(spoil: impl FnOnce(&Env)) -> (Run, bool) {
    let env = copied("tests/fixtures/portacluster");
    spoil(&env);
    let run = import_to_config(&env);
    let written = env.config().exists();
    (run, written)
}

/// What breaks a setup.
type Spoil = Box<dyn FnOnce(&Env)>;

#[test]
fn bad_input_is_refused_clearly_and_nothing_is_written() {
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "missing dnsmasq.conf",
            Box::new(|env: &Env| fs::remove_file(env.at("/etc/dnsmasq.conf")).unwrap()),
            "error: cannot read `/etc/dnsmasq.conf` (at `<root>/etc/dnsmasq.conf`): No such file or directory (os error 2)\n",
        ),
        (
            "unreadable nginx.conf (a folder)",
            Box::new(|env: &Env| {
                let conf = env.at("/etc/nginx/nginx.conf");
                fs::remove_file(&conf).unwrap();
                fs::create_dir(&conf).unwrap();
            }),
            "error: cannot read `/etc/nginx/nginx.conf` (at `<root>/etc/nginx/nginx.conf`): Is a directory (os error 21)\n",
        ),
        (
            "an include",
            Box::new(|env: &Env| edit_dnsmasq_conf(env, "", "conf-dir=/etc/dnsmasq.d/,*.conf\n")),
            "error: /etc/dnsmasq.conf:16: `conf-dir` includes more configuration, which import does not follow; copy the included directives into `/etc/dnsmasq.conf` and import again\n",
        ),
        (
            "binary garbage in dnsmasq.conf",
            Box::new(|env: &Env| {
                fs::write(env.at("/etc/dnsmasq.conf"), b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe").unwrap();
            }),
            "error: `/etc/dnsmasq.conf` (at `<root>/etc/dnsmasq.conf`) is not a text file: it holds bytes that are not UTF-8 text; give the path of the real file\n",
        ),
        (
            "binary garbage as a profile",
            Box::new(|env: &Env| {
                fs::write(env.at("/srv/public/pxe/pxelinux.cfg/rescue"), b"\x00\x01\x02garbage").unwrap();
            }),
            "error: `/srv/public/pxe/pxelinux.cfg/rescue` (at `<root>/srv/public/pxe/pxelinux.cfg/rescue`) is not a text file: it holds bytes that are not UTF-8 text; give the path of the real file\n",
        ),
        (
            "a link escaping the TFTP root",
            Box::new(|env: &Env| {
                let link = env.at("/srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1");
                common::relink(&link, "../../../../etc/shadow");
            }),
            "error: /srv/public/pxe/pxelinux.cfg/01-c0-3f-d5-60-e5-a1 links to `../../../../etc/shadow`, outside the TFTP root `/srv/public/pxe`: a TFTP client could not follow it; remove the link or point it at a profile in `/srv/public/pxe/pxelinux.cfg`, then import again\n",
        ),
        (
            "no TFTP root",
            Box::new(|env: &Env| edit_dnsmasq_conf(env, "tftp-root=/srv/public/pxe\n", "")),
            "error: `/etc/dnsmasq.conf` has no `tftp-root=`, so import cannot find the loaders' folders; pxectl serves files by TFTP from dnsmasq: add `enable-tftp` and `tftp-root=PATH`\n",
        ),
        (
            "no loader's folder",
            Box::new(|env: &Env| {
                fs::remove_dir_all(env.at("/srv/public/pxe/pxelinux.cfg")).unwrap();
            }),
            "error: the TFTP root `/srv/public/pxe` has no loader's folder (`pxelinux.cfg/`, `grub/`, `ipxe/`...); import reads the profiles and per-MAC links from them\n",
        ),
    ];
    for (what, spoil, message) in cases {
        let (run, written) = spoiled(spoil);
        assert_eq!(run.code(), 3, "{what}: {}", run.stderr());
        assert_text(what, &run.placeholders(&run.stderr()), message);
        assert!(run.stdout().is_empty(), "{what}");
        assert!(!written, "{what}: the description was written");
    }
}

#[test]
fn a_relative_conf_path_is_refused() {
    let env = Env::new("");
    import(
        &env,
        &repo("tests/fixtures/portacluster"),
        &["--dnsmasq-conf", "etc/dnsmasq.conf"],
    )
    .expect(2)
    .stderr_is("error: `etc/dnsmasq.conf` is not an absolute path; give `--dnsmasq-conf` the path as the boot server names it (under `--root`)\n");
}
