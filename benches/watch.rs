//! `cargo bench --bench watch`: `pxectl watch --from-start` on a large callback log of mixed
//! junk and real callbacks: lines per second, peak RSS, and how long it takes to stop after
//! SIGTERM while busy.
//!
//! The log (1 GiB by default; 2 MiB as a smoke run under `cargo test`; `PXECTL_BENCH_LOG_MB`
//! changes it) is generated in the system temp folder (`TMPDIR=/dev/shm` puts it in memory).
//! Warnings go to /dev/null. `PXECTL_BENCH_BASELINE=PATH` also measures another pxectl binary
//! (the build before a change, say) on the same log.

#![allow(clippy::cast_precision_loss)]

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PXECTL: &str = env!("CARGO_BIN_EXE_pxectl");
const NODES: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes `--bench`; under `cargo test` this is a smoke run on a small log.
    let full = args.iter().any(|a| a == "--bench");
    let mb: u64 = std::env::var("PXECTL_BENCH_LOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1024 } else { 2 });
    let dir = tempfile::tempdir().expect("temp dir");
    let base = dir.path();
    fs::write(base.join("cluster.yaml"), description(base)).unwrap();
    run(base, &["render"]);
    run(base, &["reimage", "--all"]);

    let log = base.join("callbacks.log");
    let start = Instant::now();
    let lines = generate(&log, mb << 20);
    let size = fs::metadata(&log).unwrap().len();
    println!(
        "log: {:.0} MiB, {lines} lines, {NODES} real callbacks (generated in {:.1}s)",
        size as f64 / f64::from(1 << 20),
        start.elapsed().as_secs_f64()
    );

    measure(PXECTL, base, lines, size);
    // Side by side with another build (the one before a change, say), on the same log.
    if let Ok(other) = std::env::var("PXECTL_BENCH_BASELINE") {
        run(base, &["reimage", "--all"]);
        println!("{other}:");
        measure(&other, base, lines, size);
    }
}

/// Times `bin watch --from-start` through the whole log, then how long it takes to stop when
/// sent SIGTERM while busy.
fn measure(bin: &str, base: &Path, lines: u64, size: u64) {
    // The last line is the last node's callback: when its link is switched, all is read.
    let switched = |n: usize| {
        fs::read_link(base.join(format!("srv/pxe/pxelinux.cfg/{}", mac_name(n))))
            .is_ok_and(|t| t.as_os_str() == "local")
    };
    let start = Instant::now();
    let mut watch = watch_from_start(bin, base);
    while !switched(NODES - 1) {
        assert!(watch.try_wait().unwrap().is_none(), "watch exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let peak = peak_rss_mib(&watch);
    stop(&mut watch);
    assert!((0..NODES).all(switched), "every real callback is acted on");
    println!(
        "watch --from-start: {:.2}s, {:.0} lines/s, {:.0} MiB/s, peak RSS {peak:.1} MiB",
        took.as_secs_f64(),
        lines as f64 / took.as_secs_f64(),
        size as f64 / f64::from(1 << 20) / took.as_secs_f64(),
    );

    // Stopping while busy: SIGTERM one second into the log.
    let mut watch = watch_from_start(bin, base);
    std::thread::sleep(Duration::from_secs(1));
    let stopped = stop(&mut watch);
    println!(
        "SIGTERM while busy: stopped after {:.0} ms",
        stopped.as_secs_f64() * 1000.0
    );
}

fn description(base: &Path) -> String {
    use std::fmt::Write as _;
    let mut nodes = String::new();
    for n in 0..NODES {
        let _ = writeln!(
            nodes,
            "  - {{name: n{n}, mac: '02:00:00:00:{:02x}:{:02x}', ip: 127.0.1.{}}}",
            n / 256,
            n % 256,
            n + 1
        );
    }
    format!(
        "server: {{hostname: boot, address: 127.0.0.1/8, interface: lo}}\n\
         paths: {{dnsmasq_conf: {b}/etc/dnsmasq.conf, nginx_conf: {b}/etc/nginx/nginx.conf, web_root: {b}/srv, tftp_root: {b}/srv/pxe, state_dir: {b}/state}}\n\
         http: {{listen_address: 127.0.0.1, port: 18999}}\n\
         profiles: {{local: {{kernel: /vmlinuz}}, install: {{kernel: /i/vmlinuz}}}}\n\
         roles: {{normal: local, reimage: install}}\n\
         lifecycle: {{callbacks: true, log: {b}/callbacks.log, access_log: {b}/access.log, leases: {b}/leases}}\n\
         daemons: {{dnsmasq: {{binary: /nonexistent/dnsmasq}}, nginx: {{binary: /nonexistent/nginx}}}}\n\
         nodes:\n{nodes}",
        b = base.display()
    )
}

fn mac_name(n: usize) -> String {
    format!("01-02-00-00-00-{:02x}-{:02x}", n / 256, n % 256)
}

fn run(base: &Path, args: &[&str]) {
    let out = Command::new(PXECTL)
        .arg("--config")
        .arg(base.join("cluster.yaml"))
        .arg("-q")
        .args(args)
        .output()
        .expect("run pxectl");
    assert!(
        out.status.success(),
        "pxectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes about `bytes` of junk (malformed lines, unknown nodes, forged addresses, nodes
/// not reimaging, bytes that are not UTF-8) with the real callbacks spread through it, the
/// last one as the last line; returns how many lines.
fn generate(log: &Path, bytes: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(log).unwrap());
    let t = "2026-11-25T12:00:00+00:00";
    let junk: [&[u8]; 5] = [
        b"garbage that is not a callback at all\n",
        b"2026-11-25T12:00:00+00:00 10.9.9.9 \"/pxectl/done/ghost\" 204\n",
        b"2026-11-25T12:00:00+00:00 10.9.9.9 \"/pxectl/done/n1\" 204\n",
        b"2026-11-25T12:00:00+00:00 10.9.9.9 \"/favicon.ico\" 204\n",
        b"2026-11-25T12:00:00+00:00 10.9.9.9 \"/pxectl/done/n\xff\" 204\n",
    ];
    let (mut written, mut lines, mut next_real) = (0u64, 0u64, 0usize);
    let every = bytes / NODES as u64;
    while next_real < NODES {
        let line = junk[(lines % 5) as usize];
        w.write_all(line).unwrap();
        written += line.len() as u64;
        lines += 1;
        if written >= every * (next_real as u64 + 1) {
            let real = format!(
                "{t} 127.0.1.{} \"/pxectl/done/n{next_real}\" 204\n",
                next_real + 1
            );
            w.write_all(real.as_bytes()).unwrap();
            written += real.len() as u64;
            lines += 1;
            next_real += 1;
        }
    }
    w.flush().unwrap();
    lines
}

fn watch_from_start(bin: &str, base: &Path) -> Child {
    Command::new(bin)
        .arg("--config")
        .arg(base.join("cluster.yaml"))
        .args(["watch", "--from-start"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pxectl watch")
}

/// The child's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib(child: &Child) -> f64 {
    let status = fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Sends SIGTERM and waits: how long it took to exit.
fn stop(child: &mut Child) -> Duration {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let sent = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "watch: {status}");
    sent.elapsed()
}
