//! Every file in examples/ is exercised, so none can go stale.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{repo, Env};

fn example_files() -> Vec<PathBuf> {
    walkdir::WalkDir::new(repo("examples"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

#[test]
fn every_example_description_validates_renders_and_is_then_up_to_date() {
    let mut seen = 0;
    for path in example_files()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        seen += 1;
        let env = Env::new("");
        // nginx -t opens the logs a config names: keep the lifecycle's inside the scratch folder.
        let text = fs::read_to_string(path).unwrap().replace(
            "  callbacks: true",
            &format!(
                "  callbacks: true\n  log: {0}/cb.log\n  access_log: {0}/access.log",
                env.dir.path().display()
            ),
        );
        env.write_config(&text);
        env.run(&["validate"]).expect(0);
        env.run(&["render"]).expect(0);
        env.run(&["render", "--check"])
            .expect(0)
            .stdout_has("check: up to date");
        env.run(&["status"]).expect(0);
    }
    assert!(seen >= 1, "no example descriptions found");
}

/// The pxectl arguments of a command line that runs `/usr/bin/pxectl`.
fn pxectl_args(line: &str) -> Vec<String> {
    let at = line
        .find("/usr/bin/pxectl")
        .unwrap_or_else(|| panic!("no pxectl in {line:?}"));
    line[at..]
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// Runs an example's pxectl command on a rendered portacluster with one stale and one fresh switch.
fn run_reset_example(args: &[String], origin: &Path) {
    let env = Env::rendered();
    env.run(&["reimage", "node3", "node5"]).expect(0);
    let stale = env.pxe("01-c0-3f-d5-60-e5-b9");
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 3600);
    let secs = i64::try_from(old.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let ts = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        None,
        &stale,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&refs).expect(0).stdout_has("reset: 1 switched");
    assert_eq!(
        fs::read_link(&stale).unwrap(),
        Path::new("arch-linux"),
        "{}",
        origin.display()
    );
    assert_eq!(
        fs::read_link(env.pxe("01-c0-3f-d5-60-6f-18")).unwrap(),
        Path::new("installer")
    );
}

#[test]
fn the_crontab_example_runs_a_working_reset() {
    let path = repo("examples/pxectl-reset.cron");
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one job expected");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        fields[5], "root",
        "an /etc/cron.d line names the user in field 6"
    );
    run_reset_example(&pxectl_args(lines[0]), &path);
}

#[test]
fn the_systemd_units_run_a_working_reset_on_a_timer() {
    let service = repo("examples/systemd/pxectl-reset.service");
    let text = fs::read_to_string(&service).unwrap();
    let exec = text
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert!(text.contains("Type=oneshot"));
    run_reset_example(&pxectl_args(exec), &service);
    let timer = fs::read_to_string(repo("examples/systemd/pxectl-reset.timer")).unwrap();
    assert!(
        timer.contains("[Timer]")
            && timer.contains("OnUnitActiveSec=")
            && timer.contains("WantedBy=timers.target")
    );
}

#[test]
fn the_watch_unit_runs_a_working_watcher_that_stops_on_sigterm() {
    let unit = fs::read_to_string(repo("examples/systemd/pxectl-watch.service")).unwrap();
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert_eq!(pxectl_args(exec), ["watch"]);
    assert!(
        unit.contains("Type=simple") && !unit.contains("KillSignal="),
        "pxectl watch expects SIGTERM"
    );
    // The lifecycle example, with its logs moved into the scratch folder, watched for real.
    let env = Env::new("");
    let log = env.dir.path().join("callbacks.log");
    let text = fs::read_to_string(repo("examples/lifecycle.yaml"))
        .unwrap()
        .replace(
            "  callbacks: true",
            &format!(
                "  callbacks: true\n  log: {}\n  access_log: {}/access.log",
                log.display(),
                env.dir.path().display()
            ),
        );
    env.write_config(&text);
    env.run(&["render"]).expect(0);
    env.run(&["reimage", "node1"]).expect(0);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pxectl"))
        .arg("--config")
        .arg(env.config())
        .arg("--root")
        .arg(env.root())
        .args(pxectl_args(exec))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Written only once the watcher follows the log: a callback before it could be skipped.
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    assert_eq!(first, format!("watch: following `{}`\n", log.display()));
    fs::write(
        &log,
        "2026-11-25T12:00:00+00:00 192.168.10.21 \"/pxectl/done/node1\" 204\n",
    )
    .unwrap();
    let link = env.pxe("01-c0-3f-d5-60-e5-a1");
    common::eventually(10, || {
        fs::read_link(&link).unwrap() == Path::new("arch-linux")
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("arch-linux"),
        "the watcher did not flip node1 back"
    );
    assert_eq!(status.code(), Some(0));
}

#[test]
fn every_file_in_examples_is_known_to_a_test() {
    let known = [
        "portacluster.yaml",
        "lifecycle.yaml",
        "pxectl-reset.cron",
        "pxectl-reset.service",
        "pxectl-reset.timer",
        "pxectl-watch.service",
    ];
    for path in example_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            known.contains(&name.as_str())
                || Path::new(&name)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("yaml")),
            "{} is not exercised by any test",
            path.display()
        );
    }
}
