//! Install callbacks: `pxectl watch` and `pxectl reimage --wait`, with callback lines written
//! by a real nginx (curl as the installer) or straight into the log.

mod common;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{have, is_root, prerequisite, Env, HeldLock};

fn description(base: &Path, port: u16, nginx: bool) -> String {
    let daemons = if nginx {
        "daemons: {dnsmasq: {binary: /nonexistent/dnsmasq}, nginx: {reload: {command: {reload: [true], restart: [true]}}}}\n".to_string()
    } else {
        "daemons: {dnsmasq: {binary: /nonexistent/dnsmasq}, nginx: {binary: /nonexistent/nginx}}\n"
            .to_string()
    };
    format!(
        "server: {{hostname: boot, address: 127.0.0.1/8, interface: lo}}\n\
         paths: {{dnsmasq_conf: {b}/etc/dnsmasq.conf, nginx_conf: {b}/etc/nginx/nginx.conf, web_root: {b}/srv, tftp_root: {b}/srv/pxe, state_dir: {b}/state}}\n\
         http: {{listen_address: 127.0.0.1, port: {port}}}\n\
         profiles: {{local: {{kernel: /vmlinuz}}, install: {{kernel: /i/vmlinuz}}, rescue: {{kernel: /r/vmlinuz}}}}\n\
         roles: {{normal: local, reimage: install, rescue: rescue}}\n\
                  lifecycle: {{callbacks: true, log: {b}/callbacks.log, access_log: {b}/access.log, leases: {b}/leases, dnsmasq_log: {b}/dnsmasq.log}}\n\
         {daemons}\
         nodes:\n\
         \x20 - {{name: n1, mac: '02:00:00:00:00:01', ip: 127.0.0.11}}\n\
         \x20 - {{name: n2, mac: '02:00:00:00:00:02', ip: 127.0.0.12}}\n\
         \x20 - {{name: n3, mac: '02:00:00:00:00:03'}}\n",
        b = base.display()
    )
}

fn link(base: &Path, n: u8) -> String {
    fs::read_link(base.join(format!("srv/pxe/pxelinux.cfg/01-02-00-00-00-00-{n:02x}")))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn callback(outcome: &str, node: &str, from: &str) -> Vec<u8> {
    format!("2026-11-25T12:00:00+00:00 {from} \"/pxectl/{outcome}/{node}\" 204\n").into_bytes()
}

/// Appends node `n`'s `done` callback, from its own address, to the callback log.
#[track_caller]
fn done(base: &Path, n: u8) {
    let (node, from) = (format!("n{n}"), format!("127.0.0.1{n}"));
    append(&base.join("callbacks.log"), &callback("done", &node, &from));
}

/// logrotate's `copytruncate`: the log copied to `callbacks.log.1`, then emptied in place.
#[track_caller]
fn copytruncate(base: &Path) {
    let log = base.join("callbacks.log");
    fs::copy(&log, base.join("callbacks.log.1")).unwrap();
    let file = fs::OpenOptions::new().write(true).open(&log).unwrap();
    file.set_len(0).unwrap();
}

/// A background pxectl whose output goes to files; killed when dropped.
struct Background {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    fn start(env: &Env, args: &[&str]) -> Self {
        let out = env.dir.path().join(format!("bg-{}.out", args[0]));
        let err = env.dir.path().join(format!("bg-{}.err", args[0]));
        let child = env
            .command(args, false)
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Self { child, out, err }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// `pxectl watch` (with `args` before it), once it says it is following the log.
    fn watch(env: &Env, args: &[&str]) -> Self {
        let watch = Self::start(env, &[args, &["watch"]].concat());
        watch.until_stdout("watch to start", "watch: following");
        watch
    }

    /// Waits until its stdout holds `needle`.
    #[track_caller]
    fn until_stdout(&self, what: &str, needle: &str) {
        self.until(what, || self.stdout().contains(needle));
    }

    /// Waits until its stderr holds `needle`.
    #[track_caller]
    fn until_stderr(&self, what: &str, needle: &str) {
        self.until(what, || self.stderr().contains(needle));
    }

    /// Waits until `cond` holds (up to 10 s).
    #[track_caller]
    fn until(&self, what: &str, cond: impl Fn() -> bool) {
        assert!(
            common::eventually(10, cond),
            "timed out waiting for {what}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    fn sigterm(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    fn stop(self) -> (Option<i32>, String, String) {
        self.sigterm();
        self.finish()
    }

    /// Waits for it to end by itself: its exit status, stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().unwrap();
        (status.code(), self.stdout(), self.stderr())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn setup() -> (Env, PathBuf) {
    let env = Env::new("");
    let base = env.dir.path().to_path_buf();
    env.write_config(&description(&base, 18999, false));
    env.run_live(&["render"]).expect(0);
    (env, base)
}

/// `reimage TARGETS`, an empty callback log, and a watcher (`pxectl ARGS watch`) following it.
#[track_caller]
fn watching(targets: &[&str], args: &[&str]) -> (Env, PathBuf, PathBuf, Background) {
    let (env, base) = setup();
    env.run_live(&[&["reimage"], targets].concat()).expect(0);
    let log = base.join("callbacks.log");
    fs::write(&log, "").unwrap();
    let watch = Background::watch(&env, args);
    (env, base, log, watch)
}

/// Every node reimaging, and a watcher that has flipped n1 back.
#[track_caller]
fn watching_after_n1() -> (Env, PathBuf, PathBuf, Background) {
    let (env, base, log, watch) = watching(&["--all"], &[]);
    done(&base, 1);
    watch.until("n1", || link(&base, 1) == "local");
    (env, base, log, watch)
}

fn journal(base: &Path) -> String {
    fs::read_to_string(base.join("state/journal.jsonl")).unwrap_or_default()
}

#[test]
fn watch_flips_a_finished_node_back_journals_failures_and_stops_on_sigterm() {
    let (env, base) = setup();
    env.run_live(&["reimage", "n1", "n3"]).expect(0);
    let log = base.join("callbacks.log");
    done(&base, 1); // before watch: not acted on
    let watch = Background::watch(&env, &[]);
    assert_eq!(link(&base, 1), "install", "an old callback was acted on");
    done(&base, 1);
    watch.until("n1 to flip back", || link(&base, 1) == "local");
    append(&log, &callback("failed", "n3", "127.0.0.99"));
    watch.until("the failure to be journaled", || {
        journal(&base).contains("watch (install failed, left)")
    });
    assert_eq!(link(&base, 3), "install", "on_failure: leave changed n3");
    let (code, out, _) = watch.stop();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("n1  install -> local (install done, callback from 127.0.0.11)"),
        "{out}"
    );
    assert!(out.contains("watch: stopped"), "{out}");
    assert!(
        journal(&base).contains(r#""command":"watch","node":"n1""#),
        "{}",
        journal(&base)
    );
}

#[test]
fn hostile_and_foreign_callbacks_change_nothing_and_do_not_stop_the_watcher() {
    let (env, base) = setup();
    env.run_live(&["reimage", "n1"]).expect(0);
    let log = base.join("callbacks.log");
    let watch = Background::watch(&env, &[]);
    let mut huge = vec![b'A'; 200_000];
    huge.push(b'\n');
    append(&log, &huge);
    append(&log, b"2026 127.0.0.11 \"/pxectl/done/n\xff1\" 204\n");
    append(&log, &callback("done", "../../etc/passwd", "127.0.0.11"));
    append(&log, &callback("done", "n1/../n2", "127.0.0.11"));
    append(&log, &callback("done", "ghost", "127.0.0.11"));
    done(&base, 2); // not reimaging
    append(&log, &callback("done", "n1", "127.0.0.99")); // wrong address for n1
    append(&log, b"total garbage\n");
    watch.until_stderr("the warnings", "came from 127.0.0.99");
    assert_eq!(link(&base, 1), "install");
    assert_eq!(link(&base, 2), "local");
    let err = watch.stderr();
    for expected in [
        "longer than 8192 bytes",
        "not UTF-8",
        "is not a host name",
        "no node is named `ghost`",
        "node `n2` is not reimaging",
        "node `n1` has address 127.0.0.11, but the callback came from 127.0.0.99",
    ] {
        assert!(err.contains(expected), "stderr lacks {expected:?}:\n{err}");
    }
    // Still alive: a good callback works.
    done(&base, 1);
    watch.until("n1 to flip back", || link(&base, 1) == "local");
    assert!(
        !journal(&base).contains(r#""command":"watch","node":"n2""#),
        "{}",
        journal(&base)
    );
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_survives_rotation_by_rename_and_truncation() {
    let (_env, base, log, watch) = watching_after_n1();
    // logrotate's `create`: rename, then a new file.
    fs::rename(&log, base.join("callbacks.log.1")).unwrap();
    done(&base, 2);
    watch.until("n2 after rotation", || link(&base, 2) == "local");
    // logrotate's `copytruncate`.
    fs::write(&log, "").unwrap();
    done(&base, 3);
    watch.until("n3 after truncation", || link(&base, 3) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn a_second_watcher_is_refused() {
    let (env, _base) = setup();
    let watch = Background::watch(&env, &[]);
    env.run_live(&["watch"])
        .expect(3)
        .stderr_has("another `pxectl watch` is running");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_and_wait_need_callbacks_on() {
    let (env, base) = setup();
    env.write_config(
        &description(&base, 18999, false).replace("callbacks: true", "callbacks: false"),
    );
    env.run_live(&["watch"])
        .expect(2)
        .stderr_has("`lifecycle.callbacks` is off");
    env.run_live(&["reimage", "--wait", "n1"])
        .expect(2)
        .stderr_has("`lifecycle.callbacks` is off");
    assert_eq!(link(&base, 1), "local", "nothing may change");
}

#[test]
fn reimage_wait_times_out_listing_the_node_that_did_not_call_back() {
    let (env, base) = setup();
    let wait = Background::start(
        &env,
        &["reimage", "--wait", "--timeout", "3s", "n1", "n2", "n3"],
    );
    wait.until_stdout("the wait to start", "waiting up to 3s");
    assert_eq!(link(&base, 1), "install");
    append(
        &base.join("access.log"),
        b"127.0.0.11 - - [25/Nov/2026:12:00:00 +0000] \"GET /i/vmlinuz HTTP/1.1\" 200 1\n",
    );
    wait.until_stdout("n1 booting", "n1  booting (downloading from nginx)");
    // n2 is seen over TFTP; n3 has no fixed address, but dnsmasq leased it one.
    append(&base.join("dnsmasq.log"), b"Nov 25 12:00:00 dnsmasq-tftp[9]: sent /x/srv/pxe/pxelinux.cfg/01-02-00-00-00-00-02 to 127.0.0.12\n");
    wait.until_stdout(
        "n2 booting",
        "n2  booting (fetched its PXE config over TFTP)",
    );
    fs::write(
        base.join("leases"),
        "1764072000 02:00:00:00:00:03 127.0.0.53 n3 *\n",
    )
    .unwrap();
    append(
        &base.join("access.log"),
        b"127.0.0.53 - - [25/Nov/2026:12:00:01 +0000] \"GET /i/vmlinuz HTTP/1.1\" 200 1\n",
    );
    wait.until_stdout("n3 booting", "n3  booting (downloading from nginx)");
    done(&base, 1);
    done(&base, 2);
    let (code, out, err) = wait.finish();
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("n1  done") && out.contains("n2  done"),
        "{out}"
    );
    assert!(
        out.contains("1 of 3 nodes did not finish: n3 (booting)"),
        "{out}"
    );
    assert_eq!(
        (link(&base, 1), link(&base, 2), link(&base, 3)),
        ("local".into(), "local".into(), "install".into())
    );
    assert!(
        journal(&base).contains(r#""command":"reimage --wait","node":"n2""#),
        "{}",
        journal(&base)
    );
}

#[test]
fn reimage_wait_exits_0_when_every_node_is_done() {
    let (env, base) = setup();
    let wait = Background::start(&env, &["reimage", "--wait", "--timeout", "30s", "n1", "n2"]);
    wait.until_stdout("the wait to start", "waiting up to");
    done(&base, 2);
    done(&base, 1);
    let (code, out, _) = wait.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("reimage: all 2 nodes done"));
}

#[test]
fn an_installer_calling_a_real_nginx_with_curl_is_flipped_back() {
    if !prerequisite(have("nginx"), "nginx is not installed")
        || !prerequisite(have("curl"), "curl is not installed")
        || !prerequisite(is_root(), "nginx needs root for /var/lib/nginx")
    {
        return;
    }
    let env = Env::new("");
    let base = env.dir.path().to_path_buf();
    let port = common::free_port();
    env.write_config(&description(&base, port, true));
    common::copy_mime_types(&base);
    env.run_live(&["render"])
        .expect(0)
        .stdout_has("nginx -t`: ok");
    let pid_file = base.join("nginx.pid");
    let _stop = common::start_nginx(&base.join("etc/nginx/nginx.conf"), &base);
    env.run_live(&["reimage", "n1", "n2"]).expect(0);
    let watch = Background::watch(&env, &[]);
    let curl = |from: &str, path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--interface",
                from,
            ])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("127.0.0.11", "/pxectl/done/n1"), "204");
    watch.until("n1 to flip back", || link(&base, 1) == "local");
    // nginx's own log rotation: rename, then SIGUSR1 to reopen.
    fs::rename(base.join("callbacks.log"), base.join("callbacks.log.1")).unwrap();
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    common::eventually(5, || base.join("callbacks.log").exists());
    // A forged callback for n2 from the wrong address does nothing; the real one works.
    assert_eq!(curl("127.0.0.1", "/pxectl/done/n2"), "204");
    assert_eq!(curl("127.0.0.12", "/pxectl/done/n2"), "204");
    watch.until("n2 to flip back", || link(&base, 2) == "local");
    assert!(
        watch
            .stderr()
            .contains("but the callback came from 127.0.0.1"),
        "{}",
        watch.stderr()
    );
    assert_eq!(watch.stop().0, Some(0));
}

/// `reimage TARGETS`, a watcher, the tree's lock held by another process, and n1's `done`
/// callback waiting for it.
fn waiting_for_the_lock(targets: &[&str]) -> (Env, PathBuf, Background, HeldLock) {
    let (env, base, _log, watch) = watching(targets, &["--lock-timeout", "200ms"]);
    let held = HeldLock::at(&base.join("state/lock"));
    done(&base, 1);
    watch.until_stderr("the busy-lock warning", "the callback waits for it");
    (env, base, watch, held)
}

#[test]
fn watch_waits_out_a_busy_lock_and_resumes_after_a_restart() {
    // Someone holds the tree's lock for a while: the callback waits, it is not lost.
    let (env, base, watch, held) = waiting_for_the_lock(&["--all"]);
    assert_eq!(link(&base, 1), "install");
    held.release();
    watch.until("n1 after the lock is free", || link(&base, 1) == "local");
    assert_eq!(watch.stop().0, Some(0));
    // A callback while no watcher runs is acted on by the next one, which resumes where the
    // last stopped instead of at the end.
    done(&base, 2);
    let watch = Background::start(&env, &["watch"]);
    watch.until("n2 after the restart", || link(&base, 2) == "local");
    assert_eq!(link(&base, 3), "install");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn a_watcher_stopped_while_a_callback_waits_for_the_lock_leaves_it_to_the_next() {
    let (env, base, watch, held) = waiting_for_the_lock(&["n1"]);
    let (code, _, err) = watch.stop();
    assert_eq!(code, Some(0));
    assert!(err.contains("warning: stopping before acting on a callback: the lock `"),);
    assert_eq!(link(&base, 1), "install");
    held.release();
    let watch = Background::watch(&env, &[]);
    watch.until("n1 after the restart", || link(&base, 1) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn reimage_wait_with_a_watcher_counts_only_real_switches() {
    let (env, base) = setup();
    let log = base.join("callbacks.log");
    fs::write(&log, "").unwrap();
    let watch = Background::watch(&env, &[]);
    let wait = Background::start(&env, &["reimage", "--wait", "--timeout", "4s", "n1", "n2"]);
    wait.until_stdout(
        "the wait to start",
        "the running `pxectl watch` flips nodes back",
    );
    // A forged callback for n2 (wrong address) is ignored by the watcher, and not counted.
    append(&log, &callback("done", "n2", "127.0.0.99"));
    done(&base, 1);
    let (code, out, _) = wait.finish();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("n1  done"), "{out}");
    assert!(out.contains("did not finish: n2 (waiting)"), "{out}");
    assert_eq!(
        (link(&base, 1), link(&base, 2)),
        ("local".into(), "install".into())
    );
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn reimage_wait_waits_out_a_busy_lock_instead_of_losing_the_callback() {
    let (env, base) = setup();
    let wait = Background::start(
        &env,
        &[
            "--lock-timeout",
            "200ms",
            "reimage",
            "--wait",
            "--timeout",
            "60s",
            "n1",
        ],
    );
    wait.until_stdout("the wait to start", "waiting up to");
    let held = HeldLock::at(&base.join("state/lock"));
    done(&base, 1);
    wait.until_stderr("the busy-lock warning", "the callback waits for it");
    assert_eq!(link(&base, 1), "install");
    held.release();
    let (code, out, err) = wait.finish();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(
        out,
        "n1  local -> install\n\
         reimage: 1 switched, 0 already\n\
         waiting up to 1m for 1 node; no `pxectl watch` is running: flipping nodes back here\n\
         n1  done\n\
         reimage: all 1 node done\n"
    );
    assert_eq!(link(&base, 1), "local");
}

#[test]
fn text_from_the_callback_log_is_printed_with_control_characters_escaped() {
    let (env, base) = setup();
    env.run_live(&["reimage", "n1"]).expect(0);
    // A journal that cannot be opened: acting on a good callback fails, and is given up.
    let journal = base.join("state/journal.jsonl");
    fs::remove_file(&journal).unwrap();
    fs::create_dir(&journal).unwrap();
    let log = base.join("callbacks.log");
    let watch = Background::watch(&env, &[]);
    append(
        &log,
        b"2026 127.0.0.11 \"/pxectl/done/n1\x1b]0;pwned\x07\" 204\n",
    );
    append(
        &log,
        b"2026\x1b[31m\rfake 127.0.0.11 \"/pxectl/done/n1\" 204\n",
    );
    watch.until_stderr("the callback to be given up", "; skipped");
    let (code, _, err) = watch.stop();
    assert_eq!(code, Some(0));
    assert!(
        err.contains("warning: ignored a callback log line: node name `n1\\u{1b}]0;pwned\\u{7}` is not a host name\n"),
        "{err}"
    );
    assert!(
        err.contains("warning: could not act on a callback (2026\\u{1b}[31m\\rfake 127.0.0.11 \"/pxectl/done/n1\" 204): "),
        "{err}"
    );
    assert!(!err.contains(['\x1b', '\x07', '\r']), "{err:?}");
    assert_eq!(link(&base, 1), "install");
}

#[test]
fn the_watchers_position_goes_through_a_temporary_render_leaves_alone() {
    let (env, base) = setup();
    // With the reservations in the state folder, render sweeps pxectl's temporaries there.
    env.write_config(
        &description(&base, 18999, false).replace("nodes:\n", "dhcp: {hosts: hostsfile}\nnodes:\n"),
    );
    env.run_live(&["render"]).expect(0);
    assert!(base.join("state/dhcp-hosts").exists());
    // What a watcher killed while saving its position may leave, here a link to a file that
    // must not be written through.
    let temp = base.join("state/watch.pos.tmp");
    let outside = base.join("outside");
    fs::write(&outside, "kept\n").unwrap();
    std::os::unix::fs::symlink(&outside, &temp).unwrap();
    fs::write(base.join("state/.pxectl.tmp.Ab12Cd"), "").unwrap();
    env.run_live(&["render"]).expect(0);
    assert!(
        !base.join("state/.pxectl.tmp.Ab12Cd").exists(),
        "render swept nothing"
    );
    assert!(
        temp.symlink_metadata().is_ok(),
        "render removed the watcher's temporary"
    );
    env.run_live(&["reimage", "n1"]).expect(0);
    let watch = Background::watch(&env, &[]);
    done(&base, 1);
    watch.until("n1 to flip back", || link(&base, 1) == "local");
    assert_eq!(watch.stop().0, Some(0));
    assert_eq!(fs::read_to_string(&outside).unwrap(), "kept\n");
    assert!(temp.symlink_metadata().is_err(), "the temporary was left");
    let saved = fs::read_to_string(base.join("state/watch.pos")).unwrap();
    let log = fs::metadata(base.join("callbacks.log")).unwrap();
    let (ino, size) = (std::os::unix::fs::MetadataExt::ino(&log), log.len());
    assert!(
        saved.starts_with(&format!("{ino} {size} {size} ")),
        "{saved}"
    );
}

/// A watcher that saw `n1`'s callback and was stopped, with the other nodes still reimaging.
fn stopped_after_n1() -> (Env, PathBuf, PathBuf) {
    let (env, base, log, watch) = watching_after_n1();
    assert_eq!(watch.stop().0, Some(0));
    (env, base, log)
}

#[test]
fn watch_finishes_a_log_rotated_by_rename_while_it_was_stopped() {
    let (env, base, log) = stopped_after_n1();
    done(&base, 2);
    fs::rename(&log, base.join("callbacks.log.1")).unwrap();
    done(&base, 3);
    let watch = Background::watch(&env, &[]);
    watch.until("n2 from the rotated file", || link(&base, 2) == "local");
    watch.until("n3 from the new file", || link(&base, 3) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_finishes_a_log_rotated_by_copytruncate_while_it_was_stopped() {
    let (env, base, log) = stopped_after_n1();
    done(&base, 2);
    copytruncate(&base);
    // The new content grows past where the watcher stopped: still a truncation.
    done(&base, 3);
    append(&log, &callback("done", "ghost", "127.0.0.13"));
    append(&log, &callback("done", "ghost", "127.0.0.13"));
    let watch = Background::watch(&env, &[]);
    watch.until("n2 from the copy", || link(&base, 2) == "local");
    watch.until("n3 from the truncated file", || link(&base, 3) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_reads_the_copy_of_a_log_truncated_under_it() {
    let (_env, base, _log, watch) = watching_after_n1();
    // logrotate's `copytruncate` right after a callback, before the watcher's next poll.
    done(&base, 2);
    copytruncate(&base);
    done(&base, 3);
    watch.until("n2 from the copy", || link(&base, 2) == "local");
    watch.until("n3 from the truncated file", || link(&base, 3) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_keeps_reading_a_renamed_log_until_its_writer_moves_on() {
    let (_env, base, log, watch) = watching_after_n1();
    // logrotate's `create` without a reopen: the writer keeps appending to the renamed file,
    // however long the new one stays empty.
    let rotated = base.join("callbacks.log.1");
    fs::rename(&log, &rotated).unwrap();
    fs::write(&log, "").unwrap();
    std::thread::sleep(Duration::from_secs(6));
    append(&rotated, &callback("done", "n2", "127.0.0.12"));
    watch.until("n2 from the renamed file", || link(&base, 2) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_decides_before_taking_the_lock() {
    let (_env, base, log, watch) = watching(&["n1"], &[]);
    let held = HeldLock::at(&base.join("state/lock"));
    // Callbacks that change nothing are answered while another pxectl holds the lock.
    append(&log, &callback("done", "ghost", "127.0.0.11"));
    done(&base, 2);
    watch.until_stderr("the warnings", "node `n2` is not reimaging");
    assert!(
        watch.stderr().contains("no node is named `ghost`"),
        "{}",
        watch.stderr()
    );
    assert!(
        !watch.stderr().contains("waits for it"),
        "{}",
        watch.stderr()
    );
    // A callback that does change something waits for the lock.
    done(&base, 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(link(&base, 1), "install");
    held.release();
    watch.until("n1 after the lock is free", || link(&base, 1) == "local");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn watch_stops_promptly_on_sigterm_in_the_middle_of_a_large_log() {
    let (env, base) = setup();
    env.run_live(&["reimage", "n1"]).expect(0);
    let log = base.join("callbacks.log");
    let mut junk = Vec::new();
    for i in 0..200_000 {
        junk.extend(callback("done", &format!("ghost{i}"), "127.0.0.11"));
    }
    fs::write(&log, &junk).unwrap();
    let watch = Background::start(&env, &["watch", "--from-start"]);
    watch.until_stderr("the watcher to be busy", "no node is named `ghost");
    watch.sigterm();
    let sent = Instant::now();
    let mut watch = watch;
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        // Generous: the target (1 s) is measured by `cargo bench --bench watch`.
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        watch.stdout().ends_with("watch: stopped\n"),
        "{}",
        watch.stdout()
    );
    assert_eq!(link(&base, 1), "install");
}

#[test]
fn watch_removes_the_temporaries_a_killed_watcher_left() {
    let (env, base) = setup();
    fs::create_dir_all(base.join("state")).unwrap();
    // What a render killed while writing into the state folder leaves behind.
    let left = base.join("state/.pxectl.tmp.Ab12Cd");
    fs::write(&left, "12 34").unwrap();
    let watch = Background::watch(&env, &[]);
    assert!(!left.exists(), "the temporary is still there");
    assert_eq!(watch.stop().0, Some(0));
}

#[test]
fn render_refuses_to_write_a_config_through_a_link_to_the_watchers_files() {
    let (env, base) = setup();
    let conf = base.join("etc/nginx/nginx.conf");
    for name in ["watch.lock", "watch.pos"] {
        let state_file = base.join("state").join(name);
        fs::write(&state_file, "kept\n").unwrap();
        common::relink(&conf, &state_file);
        env.run_live(&["render"])
            .expect(3)
            .stderr_has("which pxectl manages otherwise");
        assert_eq!(fs::read_to_string(&state_file).unwrap(), "kept\n", "{name}");
        fs::remove_file(&conf).unwrap();
        env.run_live(&["render"]).expect(0);
    }
}

#[test]
fn reimage_wait_on_a_terminal_shows_what_it_switched_before_the_wait_ends() {
    let (env, base) = setup();
    // stderr on a terminal: the progress bar is drawn there, and stdout is a pipe.
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut terminal = fs::File::from(pty.master);
    std::thread::spawn(move || std::io::copy(&mut terminal, &mut std::io::sink()));
    let mut child = common::Reaped(
        env.command(&["reimage", "--wait", "--timeout", "60s", "n1"], false)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(pty.slave))
            .spawn()
            .unwrap(),
    );
    let rx = child.stdout_lines(str::to_string);
    let next = || rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(next().as_deref(), Ok("n1  local -> install"));
    assert_eq!(next().as_deref(), Ok("reimage: 1 switched, 0 already"));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the wait ended early"
    );
    done(&base, 1);
    assert_eq!(next().as_deref(), Ok("reimage: all 1 node done"));
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    assert_eq!(link(&base, 1), "local");
}
