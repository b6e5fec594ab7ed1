//! The Debian package, built by `scripts/package`, checked, installed on this machine, used
//! and removed again (docs/packaging.md). Needs root, dpkg, lintian, man and systemd-analyze.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{have, is_root, prerequisite, repo};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `program ARGS` to the end.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs `program ARGS` and fails the test, showing its output, unless it succeeds.
#[track_caller]
fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Whether package `pxectl` is installed (configured or unpacked) on this machine.
fn installed() -> bool {
    let out = run("dpkg-query", &["-W", "-f", "${Status}", "pxectl"]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(" installed")
}

/// Purges the package when dropped, so that a failing test does not leave it installed.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "pxectl"]);
    }
}

/// The paths a package holds (`dpkg-deb -c`), files and links only, without the leading `.`.
fn contents(deb: &str) -> BTreeSet<String> {
    ok("dpkg-deb", &["-c", deb])
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let path = l.split_whitespace().nth(5).expect("a path");
            path.trim_start_matches('.').to_string()
        })
        .collect()
}

/// The files of `dir` in the repository whose names end with `suffix`.
fn repo_files(dir: &str, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo(dir))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

#[test]
fn the_debian_package_installs_works_and_removes_cleanly() {
    let tools = ["dpkg", "dpkg-deb", "lintian", "man", "systemd-analyze"];
    let cargo_deb = run("cargo", &["deb", "--version"]).status.success();
    if !prerequisite(is_root(), "installing a package needs root")
        || !prerequisite(
            tools.iter().all(|t| have(t)) && cargo_deb,
            "the package test needs dpkg, lintian, man-db, systemd-analyze and cargo-deb (`bash scripts/test` installs them)",
        )
        || !prerequisite(
            !installed(),
            "pxectl is installed on this machine; the test would replace and remove it",
        )
    {
        return;
    }

    let binary = assert_cmd::cargo::cargo_bin("pxectl");
    let deb = build(&binary);
    let files = contents(&deb);
    assert_eq!(files, expected_files(&binary), "the package's files");
    // dnsmasq and nginx may run on other machines: recommended, never required.
    assert_eq!(
        ok("dpkg-deb", &["-f", &deb, "Recommends"]),
        "dnsmasq | dnsmasq-base, nginx\n"
    );
    let depends = ok("dpkg-deb", &["-f", &deb, "Depends"]);
    assert!(
        !depends.contains("dnsmasq") && !depends.contains("nginx"),
        "{depends}"
    );

    lint(&deb);

    let _purge = Purge;
    ok("dpkg", &["-i", &deb]);
    assert!(installed());
    assert_eq!(
        ok("/usr/bin/pxectl", &["--version"]),
        format!("pxectl {VERSION}\n")
    );

    check_installed(&files);

    // Removed, nothing is left but conffiles (the package has none under /etc).
    let conffiles = ok("dpkg-query", &["-W", "-f", "${Conffiles}", "pxectl"]);
    ok("dpkg", &["-r", "pxectl"]);
    assert!(!installed());
    for path in &files {
        if conffiles.contains(path.as_str()) {
            continue;
        }
        assert!(
            !Path::new(path).exists(),
            "`{path}` is left after `dpkg -r pxectl`"
        );
    }
}

/// Builds the package from `binary` and returns its path.
fn build(binary: &Path) -> String {
    // Package the binary this test run built (docs/packaging.md: no second, release build).
    let built = Command::new("bash")
        .arg(repo("scripts/package"))
        .env("PXECTL_PACKAGE_BINARY", binary)
        .output()
        .expect("run scripts/package");
    assert!(
        built.status.success(),
        "scripts/package failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8(built.stdout).expect("utf-8");
    let deb = deb.lines().last().expect("the package's path").to_string();
    assert!(
        deb.ends_with(&format!("/pxectl_{VERSION}-1_amd64.deb")),
        "{deb}"
    );

    deb
}

/// The files the package must hold: the fixed ones, each man page `binary` writes, each doc
/// and example description.
fn expected_files(binary: &Path) -> BTreeSet<String> {
    let man = tempfile::tempdir().expect("temp dir");
    ok(
        binary.to_str().expect("utf-8 path"),
        &["man", "--dir", man.path().to_str().expect("utf-8 path")],
    );
    let mut expected: BTreeSet<String> = [
        "/usr/bin/pxectl",
        "/usr/share/bash-completion/completions/pxectl",
        "/usr/share/zsh/vendor-completions/_pxectl",
        "/usr/share/fish/vendor_completions.d/pxectl.fish",
        "/lib/systemd/system/pxectl-watch.service",
        "/lib/systemd/system/pxectl-reset.service",
        "/lib/systemd/system/pxectl-reset.timer",
        "/usr/share/doc/pxectl/README.md",
        "/usr/share/doc/pxectl/changelog.gz",
        "/usr/share/doc/pxectl/changelog.Debian.gz",
        "/usr/share/doc/pxectl/copyright",
        "/usr/share/doc/pxectl/examples/pxectl-reset.cron",
        "/usr/share/lintian/overrides/pxectl",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for page in fs::read_dir(man.path()).expect("man pages") {
        let name = page
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let section = name.rsplit('.').next().expect("a section");
        expected.insert(format!("/usr/share/man/man{section}/{name}.gz"));
    }
    assert!(expected.contains("/usr/share/man/man5/pxectl-cluster.5.gz"));
    assert!(expected.contains("/usr/share/man/man1/pxectl-reimage.1.gz"));
    for doc in repo_files("docs", ".md") {
        expected.insert(format!("/usr/share/doc/pxectl/docs/{doc}"));
    }
    for example in repo_files("examples", ".yaml") {
        expected.insert(format!("/usr/share/doc/pxectl/examples/{example}"));
    }
    expected
}

/// lintian finds no error, and every warning's tag is justified in docs/packaging.md.
fn lint(deb: &str) {
    let lint = run("lintian", &[deb]);
    let report = String::from_utf8_lossy(&lint.stdout);
    assert!(
        lint.status.success() && !report.lines().any(|l| l.starts_with("E:")),
        "lintian found errors:\n{report}"
    );
    let justified = fs::read_to_string(repo("docs/packaging.md")).expect("docs/packaging.md");
    for line in report.lines().filter(|l| l.starts_with("W:")) {
        let tag = line.split_whitespace().nth(2).expect("a tag");
        assert!(
            justified.contains(&format!("`{tag}`")),
            "lintian warning `{tag}` is not justified in docs/packaging.md:\n{line}"
        );
    }
}

/// The installed binary, man pages and units work.
fn check_installed(files: &BTreeSet<String>) {
    // Every man page formats without a warning, by file and by name.
    for path in files.iter().filter(|p| p.starts_with("/usr/share/man/")) {
        let out = Command::new("man")
            .args(["--warnings", "-l", path])
            .env("MANWIDTH", "80")
            .output()
            .expect("run man");
        assert!(
            out.status.success() && out.stderr.is_empty() && !out.stdout.is_empty(),
            "man -l {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let page = ok("man", &["-P", "cat", "pxectl-reimage"]);
    assert!(page.contains("EXIT STATUS"), "{page}");

    for unit in files
        .iter()
        .filter(|p| p.starts_with("/lib/systemd/system/"))
    {
        let out = run("systemd-analyze", &["verify", unit]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // `pxectl reimage no<Tab>` with the installed script and binary (as bash-completion
    // loads it), the description named by PXECTL_CONFIG.
    let script = "source /usr/share/bash-completion/completions/pxectl
COMP_WORDS=(pxectl reimage no) COMP_CWORD=2 COMP_LINE='pxectl reimage no' COMP_POINT=17
_clap_complete_pxectl pxectl no reimage
for c in \"${COMPREPLY[@]}\"; do echo \"$c\"; done";
    let out = Command::new("bash")
        .args(["-c", script])
        .env("PATH", "/usr/bin:/bin")
        .env("PXECTL_CONFIG", repo("examples/portacluster.yaml"))
        .output()
        .expect("run bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "node1\nnode2\nnode3\nnode4\nnode5\nnode6\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
