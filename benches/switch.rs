//! `cargo bench --bench switch`: flipping 10,000 nodes to the installer and back, side by side
//! in one run with the shell loop operators use today and a minimal symlink + rename loop;
//! and `pxectl status` on the same tree.
//!
//! Rounds interleave the three methods so that machine noise hits them alike; medians and
//! ratios are reported. `PXECTL_BENCH_NODES` and `PXECTL_BENCH_RUNS` change the size and rounds;
//! `PXECTL_BENCH_BASELINE=/path/to/an/older/pxectl` times that build too, in the same rounds.

#![allow(clippy::cast_precision_loss)]

#[path = "common.rs"]
mod common;

#[path = "../tests/common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::{median, ms};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PXECTL: &str = env!("CARGO_BIN_EXE_pxectl");

fn pxectl(bin: &str, config: &Path, root: &Path, args: &[&str]) -> Duration {
    let mut cmd = Command::new(bin);
    let start = Instant::now();
    let out = cmd
        .arg("--config")
        .arg(config)
        .arg("--root")
        .arg(root)
        .arg("-q")
        .args(args)
        .output()
        .expect("run pxectl");
    let t = start.elapsed();
    assert!(
        out.status.success() || args[0] == "status",
        "pxectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

/// Today's way: `for mac in 01-*; do ln -nfs PROFILE $mac; done`.
fn shell_loop(dir: &Path, profile: &str) -> Duration {
    let start = Instant::now();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd '{}' && for mac in 01-*; do ln -nfs {profile} $mac; done",
            dir.display()
        ))
        .status()
        .expect("run bash");
    assert!(status.success());
    start.elapsed()
}

/// The least an atomic switch needs: one symlink and one rename per link, in-process.
fn minimal_loop(dir: &Path, n: usize, profile: &str) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let tmp = dir.join(".tmp-bench");
        std::os::unix::fs::symlink(profile, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join(synthetic::link_name(i))).unwrap();
    }
    start.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let env_or = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env_or("PXECTL_BENCH_NODES", if full { 10_000 } else { 50 });
    let runs = env_or("PXECTL_BENCH_RUNS", if full { 5 } else { 1 });

    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cluster.yaml");
    std::fs::write(&config, synthetic::description(n)).unwrap();
    let root = tmp.path().join("out");
    pxectl(PXECTL, &config, &root, &["render"]);
    let baseline = std::env::var("PXECTL_BENCH_BASELINE").ok();
    let (mut base_switch, mut base_status) = (Vec::new(), Vec::new());
    let dir = root.join("srv/public/pxe/pxelinux.cfg");

    let (mut ours, mut shell, mut minimal, mut status) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(
            pxectl(PXECTL, &config, &root, &["reimage", "--all"])
                + pxectl(PXECTL, &config, &root, &["boot-normal", "--all"]),
        );
        if let Some(b) = &baseline {
            base_switch.push(
                pxectl(b, &config, &root, &["reimage", "--all"])
                    + pxectl(b, &config, &root, &["boot-normal", "--all"]),
            );
        }
        shell.push(shell_loop(&dir, "install") + shell_loop(&dir, "local"));
        minimal.push(minimal_loop(&dir, n, "install") + minimal_loop(&dir, n, "local"));
        for _ in 0..3 {
            status.push(pxectl(PXECTL, &config, &root, &["status"]));
            if let Some(b) = &baseline {
                base_status.push(pxectl(b, &config, &root, &["status"]));
            }
        }
    }
    let (ours, shell, minimal, status) =
        (median(ours), median(shell), median(minimal), median(status));
    println!(
        "temp folder: {} (set TMPDIR to measure another filesystem)",
        std::env::temp_dir().display()
    );
    println!("{n} nodes, {runs} rounds; each time is reimage --all plus boot-normal --all (2 x {n} switches)");
    println!();
    println!("| method | median ms | pxectl is |");
    println!("|---|---:|---:|");
    println!(
        "| pxectl reimage --all + boot-normal --all | {} | |",
        ms(ours)
    );
    println!(
        "| shell loop `ln -nfs` over `01-*` | {} | {:.1}x faster |",
        ms(shell),
        shell.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "| minimal symlink + rename loop | {} | {:.2}x its time |",
        ms(minimal),
        ours.as_secs_f64() / minimal.as_secs_f64()
    );
    println!(
        "| pxectl status (median of {} runs) | {} | |",
        runs * 3,
        ms(status)
    );
    if baseline.is_some() {
        let (bs, bt) = (median(base_switch), median(base_status));
        println!(
            "| baseline: reimage --all + boot-normal --all | {} | this build takes {:.2}x its time |",
            ms(bs),
            ours.as_secs_f64() / bs.as_secs_f64()
        );
        println!(
            "| baseline: status (median of {} runs) | {} | this build takes {:.2}x its time |",
            runs * 3,
            ms(bt),
            status.as_secs_f64() / bt.as_secs_f64()
        );
    }
}
