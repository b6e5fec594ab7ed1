//! The daemons: configs tested with the real dnsmasq and nginx, reload rules, reload failures,
//! and a real nginx reloaded by `pxectl apply`.

mod common;

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{have, identities, is_root, prerequisite, repo, Env};

fn example() -> String {
    fs::read_to_string(repo("examples/portacluster.yaml")).unwrap()
}

/// The example with its reservations in a dnsmasq hosts file.
fn hostsfile_example() -> String {
    example().replace(
        "  boot_file: /pxelinux.0\n",
        "  boot_file: /pxelinux.0\n  hosts: hostsfile\n",
    )
}

fn with_daemons(text: &str, daemons: &str) -> String {
    format!("{text}\ndaemons:\n{daemons}")
}

#[test]
fn every_rendered_config_passes_the_real_dnsmasq_and_nginx() {
    if !prerequisite(
        have("dnsmasq") && have("nginx"),
        "dnsmasq and nginx are not installed",
    ) {
        return;
    }
    let hostsfile = hostsfile_example();
    let mut seen = 0;
    for text in [example(), hostsfile, common::synthetic::description(50)] {
        let env = Env::new(&text);
        let run = env.run(&["render"]);
        run.expect(0)
            .stdout_has("etc/dnsmasq.conf (`/usr/sbin/dnsmasq --test`: ok)")
            .stdout_has("etc/nginx/nginx.conf (`/usr/sbin/nginx -t`: ok)");
        seen += 1;
    }
    // The golden reference tree itself.
    let golden = repo("tests/fixtures/portacluster/etc");
    common::run_ok(
        std::process::Command::new("dnsmasq")
            .args(["--test", "-C"])
            .arg(golden.join("dnsmasq.conf")),
    );
    let scratch = tempfile::tempdir().unwrap();
    fs::copy(
        golden.join("nginx/nginx.conf"),
        scratch.path().join("nginx.conf"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/nginx/mime.types", scratch.path().join("mime.types")).unwrap();
    common::run_ok(
        std::process::Command::new("nginx")
            .args(["-t", "-q", "-e", "stderr", "-p"])
            .arg(scratch.path())
            .arg("-c")
            .arg(scratch.path().join("nginx.conf")),
    );
    assert_eq!(seen, 3);
}

#[test]
fn the_hostsfile_mode_renders_a_hosts_file_dnsmasq_reads() {
    let env = Env::new(&hostsfile_example());
    env.run(&["render", "--no-verify"]).expect(0);
    let conf = fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap();
    assert!(
        conf.ends_with("dhcp-boot=/pxelinux.0\ndhcp-hostsfile=/var/lib/pxectl/dhcp-hosts\n"),
        "{conf}"
    );
    assert!(!conf.contains("dhcp-host="));
    let hosts = fs::read_to_string(env.at("/var/lib/pxectl/dhcp-hosts")).unwrap();
    assert!(hosts.starts_with("c4:04:15:90:bf:b4,switch.pc.datastax.com\n00:c0:b7:b6:6a:4c,pdu.pc.datastax.com\nc0:3f:d5:60:e5:a1,node1.pc.datastax.com\n"), "{hosts}");
    assert_eq!(hosts.lines().count(), 8);
}

/// Renders the example with `template` replaced, expecting the daemon to refuse it.
fn assert_broken_template_is_caught(template: &str, text: &str, daemon_says: &str) {
    let env = Env::rendered();
    let before = identities(&env.root());
    let served = |env: &Env| {
        (
            common::tree(&env.root().join("etc")),
            common::tree(&env.root().join("srv")),
        )
    };
    let before_tree = served(&env);
    let tpl = env.template(template, text);
    env.run(&["render", "--templates", tpl.to_str().unwrap()])
        .expect(3)
        .stderr_has("refused the rendered")
        .stderr_has("nothing was replaced")
        .stderr_has(daemon_says);
    env.run(&["apply", "--templates", tpl.to_str().unwrap()])
        .expect(3)
        .stderr_has(daemon_says);
    assert_eq!(
        before,
        identities(&env.root()),
        "a refused config was installed"
    );
    assert_eq!(before_tree, served(&env));
}

#[test]
fn a_template_that_breaks_nginx_syntax_is_caught_before_install() {
    if !prerequisite(have("nginx"), "nginx is not installed") {
        return;
    }
    let broken = fs::read_to_string(repo("templates/nginx.conf.tera"))
        .unwrap()
        .replace("sendfile           on;", "sendfile           on");
    assert_broken_template_is_caught("nginx.conf.tera", &broken, "nginx.conf");
}

#[test]
fn a_template_that_breaks_dnsmasq_syntax_is_caught_before_install() {
    if !prerequisite(have("dnsmasq"), "dnsmasq is not installed") {
        return;
    }
    let broken = fs::read_to_string(repo("templates/dnsmasq.conf.tera"))
        .unwrap()
        .replace("enable-tftp", "enable-tftp\ndhcp-range=nonsense");
    assert_broken_template_is_caught(
        "dnsmasq.conf.tera",
        &broken,
        "bad dhcp-range at line 3 of /etc/dnsmasq.conf",
    );
}

#[test]
fn a_verify_that_hangs_is_killed_and_nothing_is_written() {
    let env = Env::new("");
    let slow = env.dir.path().join("slow-dnsmasq");
    fs::write(&slow, "#!/bin/sh\nsleep 30\n").unwrap();
    fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write_config(&with_daemons(
        &example(),
        &format!(
            "  timeout: 300ms\n  dnsmasq: {{binary: {}}}\n",
            slow.display()
        ),
    ));
    let start = Instant::now();
    env.run(&["render"])
        .expect(3)
        .stderr_has("did not finish within 300ms; it was killed");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        !env.root().join("etc").exists() && !env.root().join("srv").exists(),
        "files were written"
    );
}

#[test]
fn a_daemon_that_is_not_installed_is_not_verified_with_a_warning() {
    let env = Env::new(&with_daemons(
        &example(),
        "  dnsmasq: {binary: /nonexistent/dnsmasq}\n  nginx: {binary: no-such-nginx}\n",
    ));
    env.run(&["render"])
        .expect(0)
        .stderr_has("was not tested: `/nonexistent/dnsmasq` is not installed here")
        .stderr_has("`no-such-nginx` is not installed here");
}

/// A description whose reload methods append `<daemon> <action>` to `marker`.
fn marked(text: &str, marker: &Path) -> String {
    let cmd = |d: &str, a: &str| format!("[sh, -c, 'echo {d} {a} >> {}']", marker.display());
    with_daemons(
        text,
        &format!(
            "  dnsmasq: {{binary: /nonexistent/dnsmasq, reload: {{command: {{reload: {}, restart: {}}}}}}}\n  nginx: {{binary: /nonexistent/nginx, reload: {{command: {{reload: {}, restart: {}}}}}}}\n",
            cmd("dnsmasq", "reload"),
            cmd("dnsmasq", "restart"),
            cmd("nginx", "reload"),
            cmd("nginx", "restart")
        ),
    )
}

/// [`marked`], but with `which` (`<daemon> <action>`) running `sh -c SCRIPT` instead.
#[track_caller]
fn marked_but(text: &str, marker: &Path, which: &str, script: &str) -> String {
    let action = which.split(' ').nth(1).unwrap();
    let echo = format!("{action}: [sh, -c, 'echo {which} >> {}']", marker.display());
    marked(text, marker).replace(&echo, &format!("{action}: [sh, -c, '{script}']"))
}

#[test]
fn apply_reloads_exactly_what_each_change_needs() {
    let env = Env::new("");
    let marker = env.dir.path().join("marker");
    let take = || -> String {
        let s = fs::read_to_string(&marker).unwrap_or_default();
        let _ = fs::remove_file(&marker);
        s
    };
    let base = hostsfile_example();
    env.write_config(&marked(&base, &marker));
    env.run(&["apply", "--live-daemons"])
        .expect(0)
        .stdout_has("restart dnsmasq")
        .stdout_has("reload nginx");
    assert_eq!(take(), "dnsmasq restart\nnginx reload\n");

    env.run(&["apply", "--live-daemons"])
        .expect(0)
        .stdout_has("reload: none needed (nothing changed)");
    assert_eq!(take(), "");

    env.run(&["reimage", "node3"]).expect(0);
    fs::remove_file(env.pxe("01-c0-3f-d5-60-e5-a1")).unwrap();
    env.run(&["apply", "--live-daemons"])
        .expect(0)
        .stdout_has("only pxelinux.cfg/ changed");
    assert_eq!(take(), "");

    // A new node in hosts-file mode: SIGHUP-style reload, no restart.
    let grown = base.replace(
        "  - {name: node6, mac: c0:3f:d5:60:d0:9e}\n",
        "  - {name: node6, mac: c0:3f:d5:60:d0:9e}\n  - {name: node7, mac: c0:3f:d5:60:d0:9f}\n",
    );
    env.write_config(&marked(&grown, &marker));
    env.run(&["apply", "--live-daemons"])
        .expect(0)
        .stdout_has("reload dnsmasq")
        .stdout_has("only DHCP reservations changed");
    assert_eq!(take(), "dnsmasq reload\n");

    // dnsmasq.conf itself: restart.
    env.write_config(&marked(
        &grown.replace("lease_time: 1h", "lease_time: 2h"),
        &marker,
    ));
    env.run(&["apply", "--live-daemons"])
        .expect(0)
        .stdout_has("dnsmasq.conf changed, and SIGHUP does not re-read it");
    assert_eq!(take(), "dnsmasq restart\n");

    // nginx.conf: reload.
    env.write_config(&marked(
        &grown
            .replace("lease_time: 1h", "lease_time: 2h")
            .replace("autoindex: true", "autoindex: false"),
        &marker,
    ));
    env.run(&["apply", "--live-daemons"]).expect(0);
    assert_eq!(take(), "nginx reload\n");

    // Explicit reloads.
    env.run(&["reload", "--live-daemons", "nginx"])
        .expect(0)
        .stdout_has("reload nginx: `sh -c");
    env.run(&["reload", "--live-daemons", "--restart"])
        .expect(0);
    assert_eq!(take(), "nginx reload\ndnsmasq restart\nnginx restart\n");
}

#[test]
fn a_failed_reload_restores_the_previous_files_and_reports_both_outcomes() {
    let env = Env::new("");
    let marker = env.dir.path().join("marker");
    env.write_config(&marked(&example(), &marker));
    env.run(&["apply", "--live-daemons"]).expect(0);
    let conf = env.at("/etc/nginx/nginx.conf");
    let good = fs::read_to_string(&conf).unwrap();
    // nginx's reload now fails every time.
    env.write_config(&marked_but(
        &example().replace("autoindex: true", "autoindex: false"),
        &marker,
        "nginx reload",
        "echo no >&2; exit 1",
    ));
    env.run(&["apply", "--live-daemons"])
        .expect(3)
        .stderr_has("cannot reload nginx")
        .stderr_has("exit status: 1")
        .stderr_has("the previous files were restored")
        .stderr_has("reload on the previous files failed too");
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        good,
        "nginx.conf was not restored"
    );
}

/// A stand-in daemon: `sleep 30` (SIGHUP ends it), its pid written to `pid_file`; it passes
/// the pid check where `sleep` is named as the daemon's binary.
#[track_caller]
fn stand_in_daemon(pid_file: &Path) -> std::process::Child {
    let daemon = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    fs::write(pid_file, format!("{}\n", daemon.id())).unwrap();
    daemon
}

#[test]
fn pid_files_that_lie_are_refused() {
    let env = Env::new("");
    let pid_file = env.dir.path().join("dnsmasq.pid");
    env.write_config(&with_daemons(
        &example(),
        &format!(
            "  dnsmasq: {{reload: {{pid_file: {{path: {}}}}}}}\n",
            pid_file.display()
        ),
    ));
    let run = env.run(&["reload", "--live-daemons", "dnsmasq"]);
    run.expect(3);
    assert_eq!(run.stdout(), "");
    assert_eq!(
        shown(&env, &run.stderr()),
        "error: dnsmasq is not running (the pid file `$TMP/dnsmasq.pid` is missing or stale), so it was not reloaded; start it (no command is known: `daemons.dnsmasq.reload.pid_file.start` is not set)\n"
    );
    fs::write(&pid_file, "not a pid\n").unwrap();
    env.run(&["reload", "--live-daemons", "dnsmasq"])
        .expect(3)
        .stderr_has("does not hold a pid");
    fs::write(&pid_file, "4194303\n").unwrap();
    env.run(&["reload", "--live-daemons", "dnsmasq"])
        .expect(3)
        .stderr_has("dnsmasq is not running");
    // A pid file naming some other process: never signalled.
    let mut other = stand_in_daemon(&pid_file);
    env.run(&["reload", "--live-daemons", "dnsmasq"])
        .expect(3)
        .stderr_has("which is `sleep`, not dnsmasq; refusing to signal it");
    env.run(&["reload", "--live-daemons", "--restart", "dnsmasq"])
        .expect(3)
        .stderr_has("not dnsmasq");
    assert!(
        other.try_wait().unwrap().is_none(),
        "the other process was signalled"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_unit_that_does_not_exist_is_a_clear_error() {
    let env = Env::new(&with_daemons(
        &example(),
        "  nginx: {reload: {systemd: pxectl-no-such-unit}}\n",
    ));
    let run = env.run(&["reload", "--live-daemons", "nginx"]);
    run.expect(3);
    // Depending on the machine: no systemctl, no systemd, or a unit systemd does not run.
    let err = run.stderr();
    assert!(
        err.contains("`systemctl` is not available here")
            || err
                .contains("`systemctl is-active pxectl-no-such-unit` cannot tell whether it runs")
            || err.contains(
                "nginx is not running (`systemctl is-active pxectl-no-such-unit`: inactive)"
            ),
        "{err}"
    );
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn a_running_nginx_serves_the_rendered_config_and_reloads_on_apply() {
    if !prerequisite(have("nginx"), "nginx is not installed")
        || !prerequisite(
            is_root(),
            "nginx needs root for /var/log/nginx and /var/lib/nginx",
        )
    {
        return;
    }
    let env = Env::new("");
    let base = env.dir.path();
    let port = common::free_port();
    let pid_file = base.join("nginx.pid");
    let description = |autoindex: bool| {
        format!(
            "server: {{hostname: boot, address: 10.20.0.1/24, interface: lo}}\n\
             paths: {{dnsmasq_conf: {b}/etc/dnsmasq.conf, nginx_conf: {b}/etc/nginx/nginx.conf, web_root: {b}/public, tftp_root: {b}/public/pxe, state_dir: {b}/state}}\n\
             http: {{listen_address: 127.0.0.1, port: {port}, autoindex: {autoindex}}}\n\
             profiles: {{local: {{kernel: /vmlinuz}}}}\n\
                          roles: {{normal: local, reimage: local}}\n\
             lifecycle: {{callbacks: true, log: {b}/callbacks.log, access_log: {b}/access.log}}\n\
             daemons: {{dnsmasq: {{reload: {{command: {{reload: [true], restart: [true]}}}}}}, nginx: {{reload: {{pid_file: {{path: {p}}}}}}}}}\n",
            b = base.display(),
            p = pid_file.display()
        )
    };
    env.write_config(&description(true));
    fs::create_dir_all(base.join("public")).unwrap();
    fs::write(base.join("public/hello.txt"), "hello\n").unwrap();
    common::copy_mime_types(base);
    env.run_live(&["render"])
        .expect(0)
        .stdout_has("nginx -t`: ok");

    let _stop = common::start_nginx(&base.join("etc/nginx/nginx.conf"), base);
    let mut page = None;
    common::eventually(5, || {
        page = http_get(port, "/").filter(|p| p.starts_with("HTTP/1.1 200"));
        page.is_some()
    });
    let page = page.expect("nginx did not answer on its loopback port");
    assert!(
        page.contains("hello.txt"),
        "autoindex listing expected:\n{page}"
    );
    assert!(http_get(port, "/hello.txt").unwrap().ends_with("hello\n"));
    let master = fs::read_to_string(&pid_file).unwrap();

    env.write_config(&description(false));
    env.run_live(&["apply"])
        .expect(0)
        .stdout_has("reload nginx: SIGHUP to pid");
    let mut status = String::new();
    common::eventually(5, || {
        status = http_get(port, "/").unwrap_or_default();
        status.starts_with("HTTP/1.1 403")
    });
    assert!(
        status.starts_with("HTTP/1.1 403"),
        "nginx still lists the folder after the reload:\n{status}"
    );
    assert!(http_get(port, "/hello.txt").unwrap().ends_with("hello\n"));
    assert_eq!(
        master,
        fs::read_to_string(&pid_file).unwrap(),
        "nginx was restarted, not reloaded"
    );
}

#[test]
fn a_failed_reload_of_one_daemon_does_not_skip_the_other() {
    let env = Env::new("");
    let marker = env.dir.path().join("marker");
    env.write_config(&marked(&example(), &marker));
    env.run(&["apply", "--live-daemons"]).expect(0);
    let _ = fs::remove_file(&marker);
    // dnsmasq's restart now fails; nginx must still be reloaded.
    env.write_config(&marked_but(
        &example()
            .replace("lease_time: 1h", "lease_time: 2h")
            .replace("autoindex: true", "autoindex: false"),
        &marker,
        "dnsmasq restart",
        "exit 1",
    ));
    env.run(&["apply", "--live-daemons"])
        .expect(3)
        .stderr_has("cannot restart dnsmasq");
    assert_eq!(fs::read_to_string(&marker).unwrap(), "nginx reload\n");
}

#[test]
fn a_pid_file_restart_whose_start_fails_is_retried_by_starting_only() {
    let env = Env::new("");
    let pid_file = env.dir.path().join("daemon.pid");
    let mut daemon = stand_in_daemon(&pid_file);
    let text = |lease: &str| {
        with_daemons(
            &example().replace("lease_time: 1h", lease),
            &format!("  dnsmasq: {{binary: sleep, reload: {{pid_file: {{path: {}, start: [sh, -c, 'exit 1']}}}}}}\n  nginx: {{binary: /nonexistent/nginx, reload: {{command: {{reload: [true], restart: [true]}}}}}}\n", pid_file.display()),
        )
    };
    env.write_config(&text("lease_time: 1h"));
    env.run(&["render", "--no-verify"]).expect(0);
    let old = fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap();
    env.write_config(&text("lease_time: 2h"));
    env.run(&["apply", "--live-daemons", "--no-verify"])
        .expect(3)
        .stderr_has("cannot restart dnsmasq: `sh -c exit 1` failed")
        .stderr_has("the previous files were restored")
        .stderr_has("restart on the previous files failed too: `sh -c exit 1` failed");
    assert!(
        daemon.try_wait().unwrap().is_some(),
        "the old daemon was not stopped"
    );
    assert_eq!(
        fs::read_to_string(env.at("/etc/dnsmasq.conf")).unwrap(),
        old
    );
}

#[test]
fn reload_of_both_daemons_reloads_nginx_when_dnsmasq_fails() {
    let env = Env::new(&with_daemons(
        &example(),
        "  dnsmasq: {reload: {command: {reload: [sh, -c, 'echo no dnsmasq >&2; exit 1'], restart: [true]}}}\n  nginx: {reload: {command: {reload: [true], restart: [true]}}}\n",
    ));
    env.run(&["reload", "--live-daemons"])
        .expect(3)
        .stdout_has("reload nginx: `true`")
        .stderr_has("cannot reload dnsmasq")
        .stderr_has("no dnsmasq");
}

/// A fake `systemctl`, first on `PATH`, that appends each call's arguments to `calls` and
/// answers as systemd would for units whose state is in `state`: `active`, `inactive`, or
/// `refusing` (active, but every reload and restart fails, as on a config it refuses).
struct FakeSystemctl {
    bin: std::path::PathBuf,
    calls: std::path::PathBuf,
    state: std::path::PathBuf,
}

impl FakeSystemctl {
    fn new(env: &Env, state: &str) -> Self {
        let bin = env.dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let (calls, state_file) = (env.dir.path().join("calls"), env.dir.path().join("state"));
        fs::write(&state_file, state).unwrap();
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> {calls}\nfor unit; do :; done\nstate=$(cat {state})\n\
             case \"$1\" in\n\
             is-active) test \"$state\" = inactive && {{ echo inactive; exit 3; }}; echo active ;;\n\
             reload|restart) test \"$state\" = refusing && {{ echo \"Job for $unit.service failed.\" >&2; exit 1; }}\n\
             test \"$1\" = reload && test \"$state\" = inactive && {{ echo \"$unit.service is not active, cannot reload.\" >&2; exit 1; }} ;;\n\
             esac\nexit 0\n",
            calls = calls.display(),
            state = state_file.display()
        );
        fs::write(bin.join("systemctl"), script).unwrap();
        fs::set_permissions(
            bin.join("systemctl"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Self {
            bin,
            calls,
            state: state_file,
        }
    }

    /// `pxectl --config cluster.yaml --root out ARGS` with the fake first on `PATH`.
    fn run(&self, env: &Env, args: &[&str]) -> common::Run {
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap());
        env.finish(env.command(args, true).env("PATH", path))
    }

    fn set_state(&self, state: &str) {
        fs::write(&self.state, state).unwrap();
    }

    /// The calls made since the last look.
    fn take(&self) -> String {
        let s = fs::read_to_string(&self.calls).unwrap_or_default();
        let _ = fs::remove_file(&self.calls);
        s
    }
}

/// The whole of `text` with the scratch folder's path shown as `$TMP`.
fn shown(env: &Env, text: &str) -> String {
    text.replace(&env.dir.path().display().to_string(), "$TMP")
}

/// Asserts that the served tree is exactly the golden render of the example.
#[track_caller]
fn assert_golden(env: &Env) {
    let golden = repo("tests/fixtures/portacluster");
    for part in ["etc", "srv"] {
        common::assert_same_tree(&env.root().join(part), &golden.join(part));
    }
}

#[test]
fn a_first_apply_with_the_daemons_stopped_installs_everything_and_removes_nothing() {
    let env = Env::example("portacluster");
    let systemctl = FakeSystemctl::new(&env, "inactive");
    let run = systemctl.run(&env, &["apply", "-q", "--no-verify", "--live-daemons"]);
    run.expect(3);
    assert_golden(&env);
    assert_eq!(
        shown(&env, &run.stdout()),
        "apply: 5 files written, 0 unchanged; 7 links created, 0 re-pointed, 0 pruned, 0 unchanged\n"
    );
    assert_eq!(
        shown(&env, &run.stderr()),
        "warning: `$TMP/out/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
         warning: `$TMP/out/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n\
         error: dnsmasq is not running (`systemctl is-active dnsmasq`: inactive), so it was not restarted; the new files are in place and nothing was removed; start it with `systemctl start dnsmasq`\n\
         nginx is not running (`systemctl is-active nginx`: inactive), so it was not reloaded; the new files are in place and nothing was removed; start it with `systemctl start nginx`\n"
    );
    assert_eq!(
        systemctl.take(),
        "is-active -- dnsmasq\nis-active -- nginx\n"
    );
    // The operator starts them on the new files; the next apply has nothing to do.
    systemctl.set_state("active");
    let run = systemctl.run(&env, &["apply", "-q", "--live-daemons"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        "apply: 0 files written, 5 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged\n\
         reload: none needed (nothing changed)\n"
    );
    assert_eq!(systemctl.take(), "");
}

#[test]
fn a_first_apply_with_a_pid_file_daemon_stopped_removes_nothing() {
    let env = Env::new("");
    let pid_file = env.dir.path().join("nginx.pid");
    env.write_config(&with_daemons(
        &example(),
        &format!(
            "  dnsmasq: {{reload: {{command: {{reload: [true], restart: [true]}}}}}}\n  nginx: {{reload: {{pid_file: {{path: {}}}}}}}\n",
            pid_file.display()
        ),
    ));
    let run = env.run(&["apply", "-q", "--no-verify", "--live-daemons"]);
    run.expect(3);
    assert_golden(&env);
    assert_eq!(
        shown(&env, &run.stdout()),
        "apply: 5 files written, 0 unchanged; 7 links created, 0 re-pointed, 0 pruned, 0 unchanged\n\
         restart dnsmasq: `true` (dnsmasq.conf changed, and SIGHUP does not re-read it)\n"
    );
    assert_eq!(
        shown(&env, &run.stderr()),
        "warning: `$TMP/out/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
         warning: `$TMP/out/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n\
         error: nginx is not running (the pid file `$TMP/nginx.pid` is missing or stale), so it was not reloaded; the new files are in place and nothing was removed; start it (no command is known: `daemons.nginx.reload.pid_file.start` is not set)\n"
    );
}

const SKIPPED: &str =
    "reload: skipped (`--root` stages files; `--live-daemons` acts on this machine's daemons)\n";

#[test]
fn under_root_apply_and_reload_leave_the_running_daemons_alone() {
    let env = Env::example("portacluster");
    let systemctl = FakeSystemctl::new(&env, "active");
    let would = "would restart dnsmasq: dnsmasq.conf changed, and SIGHUP does not re-read it\n\
                 would reload nginx: nginx.conf changed (on SIGHUP nginx keeps its old config if the new one is bad)\n";
    let run = systemctl.run(&env, &["apply", "-q", "--no-verify", "--dry-run"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        format!("{would}{SKIPPED}dry run: 5 files to write, 0 unchanged; 7 links to create, 0 to re-point, 0 to prune; nothing was written\n")
    );
    let run = systemctl.run(&env, &["apply", "-q", "--no-verify"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        format!("apply: 5 files written, 0 unchanged; 7 links created, 0 re-pointed, 0 pruned, 0 unchanged\n{would}{SKIPPED}")
    );
    assert_golden(&env);
    let run = systemctl.run(&env, &["reload"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        format!("would reload dnsmasq\nwould reload nginx\n{SKIPPED}")
    );
    assert_eq!(run.stderr(), "");
    let run = systemctl.run(&env, &["reload", "--restart", "nginx"]);
    run.expect(0);
    assert_eq!(run.stdout(), format!("would restart nginx\n{SKIPPED}"));
    assert_eq!(systemctl.take(), "", "systemctl was called under `--root`");
}

#[test]
fn under_root_a_pid_file_daemon_is_signalled_only_with_live_daemons() {
    let env = Env::new("");
    let pid_file = env.dir.path().join("dnsmasq.pid");
    let mut daemon = stand_in_daemon(&pid_file);
    env.write_config(&with_daemons(
        &hostsfile_example(),
        &format!(
            "  dnsmasq: {{binary: sleep, reload: {{pid_file: {{path: {}}}}}}}\n  nginx: {{binary: /nonexistent/nginx, reload: {{command: {{reload: [sh, -c, 'exit 1'], restart: [sh, -c, 'exit 1']}}}}}}\n",
            pid_file.display()
        ),
    ));
    env.run(&["render", "-q", "--no-verify"]).expect(0);
    let grown = |env: &Env| {
        fs::read_to_string(env.config()).unwrap().replace(
            "  - {name: node6, mac: c0:3f:d5:60:d0:9e}\n",
            "  - {name: node6, mac: c0:3f:d5:60:d0:9e}\n  - {name: node7, mac: c0:3f:d5:60:d0:9f}\n",
        )
    };
    env.write_config(&grown(&env));
    let run = env.run(&["apply", "-q"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        format!(
            "apply: 1 file written, 5 unchanged; 1 link created, 0 re-pointed, 0 pruned, 7 unchanged\n\
             would reload dnsmasq: only DHCP reservations changed, in the hosts file dnsmasq re-reads on SIGHUP\n\
             {SKIPPED}"
        )
    );
    let run = env.run(&["reload", "dnsmasq"]);
    run.expect(0);
    assert_eq!(run.stdout(), format!("would reload dnsmasq\n{SKIPPED}"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon was signalled under `--root`"
    );
    let run = env.run(&["reload", "--live-daemons", "dnsmasq"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        format!("reload dnsmasq: SIGHUP to pid {}\n", daemon.id())
    );
    assert!(
        common::eventually(5, || daemon.try_wait().unwrap().is_some()),
        "`--live-daemons` did not signal the daemon"
    );
}

#[test]
fn under_root_apply_acts_on_the_daemons_with_live_daemons() {
    let env = Env::example("portacluster");
    let systemctl = FakeSystemctl::new(&env, "active");
    systemctl
        .run(&env, &["apply", "-q", "--no-verify"])
        .expect(0);
    env.write_config(&example().replace("lease_time: 1h", "lease_time: 2h"));
    let run = systemctl.run(&env, &["apply", "-q", "--no-verify", "--live-daemons"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        "apply: 1 file written, 4 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged\n\
         restart dnsmasq: systemctl restart dnsmasq (dnsmasq.conf changed, and SIGHUP does not re-read it)\n"
    );
    assert_eq!(
        systemctl.take(),
        "is-active -- dnsmasq\nrestart -- dnsmasq\n"
    );
    let run = systemctl.run(&env, &["reload", "--live-daemons"]);
    run.expect(0);
    assert_eq!(
        run.stdout(),
        "reload dnsmasq: systemctl reload dnsmasq\nreload nginx: systemctl reload nginx\n"
    );
    assert_eq!(
        systemctl.take(),
        "is-active -- dnsmasq\nreload -- dnsmasq\nis-active -- nginx\nreload -- nginx\n"
    );
}

#[test]
fn nginx_t_under_root_creates_no_log_outside_its_scratch_folder() {
    if !prerequisite(have("nginx"), "nginx is not installed") {
        return;
    }
    let env = Env::new("");
    // The logs' real paths: a folder that exists, so that nginx -t could create them there.
    let live = env.dir.path().join("live");
    fs::create_dir(&live).unwrap();
    let (log, access) = (live.join("pxectl-callbacks.log"), live.join("access.log"));
    env.write_config(&format!(
        "{}\nlifecycle: {{callbacks: true, log: {}, access_log: {}}}\n",
        example(),
        log.display(),
        access.display()
    ));
    env.run(&["render"])
        .expect(0)
        .stdout_has("etc/nginx/nginx.conf (`/usr/sbin/nginx -t`: ok)");
    assert_eq!(
        fs::read_dir(&live).unwrap().count(),
        0,
        "nginx -t created a log at its real path"
    );
    let conf = fs::read_to_string(env.at("/etc/nginx/nginx.conf")).unwrap();
    assert!(
        conf.contains(&format!("access_log {} pxectl_callback;", log.display())),
        "{conf}"
    );
}

#[test]
fn a_running_systemd_daemon_that_refuses_the_new_files_gets_the_previous_ones_back() {
    let env = Env::example("portacluster");
    let systemctl = FakeSystemctl::new(&env, "active");
    systemctl
        .run(&env, &["apply", "-q", "--no-verify", "--live-daemons"])
        .expect(0);
    let before = common::tree(&env.root().join("etc"));
    systemctl.take();
    systemctl.set_state("refusing");
    env.write_config(
        &example()
            .replace("lease_time: 1h", "lease_time: 2h")
            .replace("autoindex: true", "autoindex: false"),
    );
    let run = systemctl.run(&env, &["apply", "-q", "--no-verify", "--live-daemons"]);
    run.expect(3);
    assert_eq!(
        run.stdout(),
        "apply: 2 files written, 3 unchanged; 0 links created, 0 re-pointed, 0 pruned, 7 unchanged\n"
    );
    assert_eq!(
        shown(&env, &run.stderr()),
        "warning: `$TMP/out/etc/dnsmasq.conf` was not tested with dnsmasq (`--no-verify`)\n\
         warning: `$TMP/out/etc/nginx/nginx.conf` was not tested with nginx (`--no-verify`)\n\
         error: cannot restart dnsmasq: `systemctl restart dnsmasq` failed: Job for dnsmasq.service failed.; see `systemctl status dnsmasq`; the previous files were restored; restart on the previous files failed too: `systemctl restart dnsmasq` failed: Job for dnsmasq.service failed.; see `systemctl status dnsmasq`\n\
         cannot reload nginx: `systemctl reload nginx` failed: Job for nginx.service failed.; see `systemctl status nginx`; the previous files were restored; reload on the previous files failed too: `systemctl reload nginx` failed: Job for nginx.service failed.; see `systemctl status nginx`\n"
    );
    assert_eq!(common::tree(&env.root().join("etc")), before);
    assert_eq!(
        systemctl.take(),
        "is-active -- dnsmasq\nrestart -- dnsmasq\nrestart -- dnsmasq\nis-active -- nginx\nreload -- nginx\nreload -- nginx\n"
    );
}

/// A refused config is put back as it was, byte for byte and with its mode, even when it was
/// not UTF-8 or not 0644; the hosts file, when it was a link, comes back as that link.
#[test]
fn a_refused_change_puts_back_exactly_what_was_there() {
    let env = Env::example("portacluster");
    let systemctl = FakeSystemctl::new(&env, "active");
    env.write_config(
        &example().replace("read_ethers: true", "read_ethers: true\n  hosts: hostsfile"),
    );
    systemctl
        .run(&env, &["apply", "-q", "--no-verify", "--live-daemons"])
        .expect(0);
    let conf = env.at("/etc/dnsmasq.conf");
    fs::write(&conf, b"# edited by hand \xe9\n").unwrap();
    fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let hosts = env.at("/var/lib/pxectl/dhcp-hosts");
    fs::rename(&hosts, env.at("/var/lib/pxectl/hosts.real")).unwrap();
    std::os::unix::fs::symlink("hosts.real", &hosts).unwrap();
    let before = (
        common::tree(&env.root().join("etc")),
        fs::read_link(&hosts).unwrap(),
    );
    systemctl.set_state("refusing");
    systemctl
        .run(&env, &["apply", "-q", "--no-verify", "--live-daemons"])
        .expect(3);
    assert_eq!(
        (
            common::tree(&env.root().join("etc")),
            fs::read_link(&hosts).unwrap()
        ),
        before
    );
}
/// Runs `pxectl --root out ARGS` in a mount namespace of its own (torn down when it ends), with
/// a tmpfs over each folder of `hidden`: `setup` fills them before, `check` prints what is in
/// them after, and that is returned once pxectl has succeeded with the nginx.conf it renders
/// tested by the real nginx. The live folders are never touched.
fn in_private_mounts(
    env: &Env,
    hidden: &[&str],
    setup: &str,
    check: &str,
    args: &[&str],
) -> String {
    let pxectl = env.command(args, true);
    // pxectl's own output goes to stderr, so that stdout is what `check` prints.
    let script = format!(
        "set -e\nfor d in {}; do mount -t tmpfs pxectl-test \"$d\"; done\n{setup}\n\"$@\" >&2\n{check}\n",
        hidden.join(" ")
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
    ])
    .arg(pxectl.get_program())
    .args(pxectl.get_args());
    for (key, value) in pxectl.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let run = env.finish(&mut cmd);
    let nginx = pxectl::daemons::find_binary("nginx").unwrap();
    run.expect(0)
        .stderr_has(&format!("nginx.conf (`{} -t`: ok)", nginx.display()));
    run.stdout()
}

/// Whether this test may run nginx -t in a mount namespace of its own.
#[track_caller]
fn private_mounts() -> bool {
    prerequisite(
        is_root()
            && have("nginx")
            && std::process::Command::new("unshare")
                .args(["--mount", "true"])
                .status()
                .is_ok_and(|s| s.success()),
        "needs root, nginx and `unshare --mount` (nginx -t runs in a mount namespace of its own)",
    )
}

#[test]
fn nginx_t_under_root_leaves_the_live_temp_folders_alone() {
    if !private_mounts() {
        return;
    }
    let env = Env::example("portacluster");
    // nginx -t as root creates its compiled-in temporary folders that are missing and gives
    // them all to its `user` (`nobody` when the config names none); www-data's stand-in owns
    // these, and two are missing.
    let left = in_private_mounts(
        &env,
        &["/var/lib/nginx"],
        "cd /var/lib/nginx && mkdir body proxy fastcgi && chown 4321:4321 body proxy fastcgi",
        "stat -c '%n %u:%g %a' *",
        &["render", "--dry-run"],
    );
    assert_eq!(
        left,
        "body 4321:4321 755\nfastcgi 4321:4321 755\nproxy 4321:4321 755\n"
    );
}

#[test]
fn nginx_t_under_root_leaves_the_live_pid_file_alone() {
    if !private_mounts() {
        return;
    }
    let env = Env::example("portacluster");
    let template = fs::read_to_string(repo("templates/nginx.conf.tera")).unwrap();
    let tpl = env.template(
        "nginx.conf.tera",
        format!("pid /run/nginx.pid;\n{template}"),
    );
    let left = in_private_mounts(
        &env,
        &["/run"],
        "",
        "ls -A /run",
        &["render", "--dry-run", "--templates", tpl.to_str().unwrap()],
    );
    assert_eq!(left, "", "nginx -t created a file in /run");
}
