//! `cargo bench --bench render`: times `pxectl render` on synthetic clusters of 1,000, 10,000
//! and 100,000 nodes, cold (empty tree) and as a no-op re-render, with peak memory.
//!
//! Each run is a separate process of the release binary; the median of several runs is
//! reported. `PXECTL_BENCH_SIZES=1000,10000` picks sizes, `PXECTL_BENCH_RUNS=5` the runs.
//! `PXECTL_BENCH_BASELINE=/path/to/an/older/pxectl` times that build too, interleaved run by
//! run with this one, for a side-by-side comparison.

// Figures for a table: precision loss in usize/u64 -> f64 is irrelevant at these sizes.
#![allow(clippy::cast_precision_loss)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

#[path = "../tests/common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::{median, ms};

const PXECTL: &str = env!("CARGO_BIN_EXE_pxectl");

/// Runs pxectl through this bench's own `--measure` wrapper; returns pxectl's wall time (from
/// its spawn to its exit, as the wrapper saw it: the wrapper's own start is not pxectl's
/// cost) and peak RSS.
fn measure(pxectl: &str, config: &Path, root: &Path) -> (Duration, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--measure", pxectl, "-q", "--config"])
        .arg(config)
        .arg("--root")
        .arg(root)
        .arg("render")
        // pxectl's own work; the daemons' config tests are measured apart (docs/performance.md).
        .arg("--no-verify")
        .output()
        .expect("run pxectl");
    assert!(
        out.status.success(),
        "pxectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reported = |key: &str| -> u64 {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the wrapper reports {key}"))
    };
    (
        Duration::from_nanos(reported("wall_ns=")),
        reported("maxrss_kib="),
    )
}

fn identities(dir: &Path) -> BTreeMap<std::path::PathBuf, (u64, i64, i64)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.path().starts_with(dir.join("var")))
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            (e.path().to_path_buf(), (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

/// The least any tool can do for a cold tree of `n` nodes: one `symlink()` per node into an
/// empty folder on the same filesystem, from this process (no start-up, no parsing).
fn symlink_floor(dir: &Path, n: usize) -> Duration {
    std::fs::create_dir_all(dir).unwrap();
    let start = Instant::now();
    for i in 0..n {
        std::os::unix::fs::symlink("local", dir.join(format!("01-02-00-{i:08x}"))).unwrap();
    }
    let t = start.elapsed();
    std::fs::remove_dir_all(dir).unwrap();
    t
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        // The wrapper: run pxectl, report its wall time and its peak RSS (from this
        // process's children's usage).
        let start = Instant::now();
        let status = Command::new(&args[2])
            .args(&args[3..])
            .status()
            .expect("spawn pxectl");
        eprintln!("wall_ns={}", start.elapsed().as_nanos());
        let usage =
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
        eprintln!("maxrss_kib={}", usage.max_rss());
        std::process::exit(status.code().unwrap_or(1));
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes `--bench`; under `cargo test` this is a smoke run that keeps the
    // benchmark compiling and working without spending minutes.
    let full = args.iter().any(|a| a == "--bench");
    let default_sizes = if full { "1000,10000,100000" } else { "100" };
    let sizes: Vec<usize> = std::env::var("PXECTL_BENCH_SIZES")
        .unwrap_or_else(|_| default_sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("size"))
        .collect();
    let runs: usize = std::env::var("PXECTL_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { 5 } else { 1 });

    println!(
        "temp folder: {} (set TMPDIR to measure another filesystem)",
        std::env::temp_dir().display()
    );
    println!();
    let mut builds = vec![("this build", PXECTL.to_string())];
    if let Ok(baseline) = std::env::var("PXECTL_BENCH_BASELINE") {
        builds.push(("baseline", baseline));
    }
    println!("| build | nodes | cold render, median ms | per node, µs | symlink() floor, median ms | render / floor | peak RSS, MB | no-op re-render, median ms | no-op wrote |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for &n in &sizes {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cluster.yaml");
        std::fs::write(&config, synthetic::description(n)).unwrap();
        let mut cold = vec![Vec::new(); builds.len()];
        let mut noop = vec![Vec::new(); builds.len()];
        let mut rss = vec![0; builds.len()];
        let mut wrote_nothing = vec![true; builds.len()];
        let mut floor = Vec::new();
        for run in 0..runs {
            for (b, (_, bin)) in builds.iter().enumerate() {
                let root = dir.path().join(format!("out{run}"));
                let (t, r) = measure(bin, &config, &root);
                cold[b].push(t);
                rss[b] = rss[b].max(r);
                let before = identities(&root);
                let (t, r) = measure(bin, &config, &root);
                noop[b].push(t);
                rss[b] = rss[b].max(r);
                wrote_nothing[b] &= before == identities(&root);
                std::fs::remove_dir_all(&root).unwrap();
            }
            floor.push(symlink_floor(&dir.path().join(format!("floor{run}")), n));
        }
        let floor = median(floor);
        for (b, (name, _)) in builds.iter().enumerate() {
            let cold = median(cold[b].clone());
            println!(
                "| {name} | {n} | {} | {:.1} | {} | {:.2} | {:.1} | {} | {} |",
                ms(cold),
                cold.as_secs_f64() * 1e6 / n as f64,
                ms(floor),
                cold.as_secs_f64() / floor.as_secs_f64(),
                rss[b] as f64 / 1024.0,
                ms(median(noop[b].clone())),
                if wrote_nothing[b] {
                    "nothing"
                } else {
                    "SOMETHING"
                }
            );
        }
        assert!(
            wrote_nothing[0],
            "the no-op re-render of {n} nodes changed the tree"
        );
    }
}
