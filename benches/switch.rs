//! `cargo bench --bench switch`: flipping 10,000 nodes to the installer and back, side by side
//! in one run with the shell loop operators use today and a minimal symlink + rename loop;
//! and `pxectl status` on the same tree.
//!
//! Rounds interleave the three methods so that machine noise hits them alike; medians and
//! ratios are reported. `PXECTL_BENCH_NODES` and `PXECTL_BENCH_RUNS` change the size and rounds;
//! `PXECTL_BENCH_BASELINE=/path/to/an/older/pxectl` times that build too, in the same rounds.
//! `PXECTL_BENCH_LOADERS=3` serves BIOS, UEFI and HTTP boot clients: every node has three
//! entries (pxelinux, GRUB, iPXE), which every method flips.

#![allow(clippy::cast_precision_loss)]

#[path = "common.rs"]
mod common;

#[path = "../tests/common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::{median, ms};
use pxectl::loader::Loader;
use pxectl::mac::MacAddr;

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

/// Today's way: `for mac in 01-*; do ln -nfs PROFILE $mac; done`, in each loader's folder
/// under the TFTP root `pxe` (its entries' pattern, its file name of the profile).
fn shell_loop(pxe: &Path, loaders: &[Loader], profile: &str) -> Duration {
    let script: Vec<String> = loaders
        .iter()
        .map(|l| {
            let pattern = match l {
                Loader::Grub => "01-*.cfg",
                Loader::Ipxe => "??-??-*.ipxe",
                _ => "01-*",
            };
            format!(
                "cd '{}' && for mac in {pattern}; do ln -nfs {} $mac; done",
                pxe.join(l.dir()).display(),
                l.file(profile)
            )
        })
        .collect();
    let start = Instant::now();
    let status = Command::new("bash")
        .arg("-c")
        .arg(script.join(" && "))
        .status()
        .expect("run bash");
    assert!(status.success());
    start.elapsed()
}

/// The least an atomic switch needs: one symlink and one rename per entry, in-process.
fn minimal_loop(pxe: &Path, loaders: &[Loader], n: usize, profile: &str) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let mac = MacAddr::from_pxelinux_name(&synthetic::link_name(i)).unwrap();
        for l in loaders {
            let dir = pxe.join(l.dir());
            let tmp = dir.join(".tmp-bench");
            std::os::unix::fs::symlink(l.file(profile), &tmp).unwrap();
            std::fs::rename(&tmp, dir.join(l.entry(mac))).unwrap();
        }
    }
    start.elapsed()
}

/// A synthetic description of `n` nodes served by `loaders`, in `tmp`, rendered under its
/// `out`: the description's path and the root.
fn rendered(tmp: &Path, n: usize, loaders: &[Loader]) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = tmp.join("cluster.yaml");
    let mut text = synthetic::description(n);
    if loaders.len() == 3 {
        text = text.replace(
            "nodes:\n",
            "loaders: {clients: [bios, efi-x64, http-x64]}\nnodes:\n",
        );
    }
    std::fs::write(&config, text).unwrap();
    let root = tmp.join("out");
    pxectl(PXECTL, &config, &root, &["render"]);
    (config, root)
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
    let loaders: &[Loader] = if env_or("PXECTL_BENCH_LOADERS", 1) == 3 {
        &[Loader::Pxelinux, Loader::Grub, Loader::Ipxe]
    } else {
        &[Loader::Pxelinux]
    };

    let tmp = tempfile::tempdir().unwrap();
    let (config, root) = rendered(tmp.path(), n, loaders);
    let baseline = std::env::var("PXECTL_BENCH_BASELINE").ok();
    let (mut base_switch, mut base_status) = (Vec::new(), Vec::new());
    let pxe = root.join("srv/public/pxe");

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
        shell.push(shell_loop(&pxe, loaders, "install") + shell_loop(&pxe, loaders, "local"));
        minimal.push(
            minimal_loop(&pxe, loaders, n, "install") + minimal_loop(&pxe, loaders, n, "local"),
        );
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
    println!(
        "{n} nodes with {} entries each, {runs} rounds; each time is reimage --all plus boot-normal --all (2 x {n} switches)",
        loaders.len()
    );
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
