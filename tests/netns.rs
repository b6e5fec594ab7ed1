//! dnsmasq from pxectl's rendered config, in a network namespace the test creates, serving a
//! DHCP client (busybox udhcpc) and a TFTP client in a second namespace over a veth pair.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{have, is_root, prerequisite, run_ok, Env};

const NODE1: &str = "02:00:00:aa:00:01";
const NODE2: &str = "02:00:00:aa:00:02";

fn ip(args: &[&str]) {
    run_ok(Command::new("ip").args(args));
}

/// Two namespaces joined by a veth pair, and a dnsmasq in the first; all removed when dropped,
/// even when the test fails.
struct Lab {
    server: String,
    client: String,
    pid_file: PathBuf,
}

impl Lab {
    /// Two namespaces (named after the process and a count: tests run side by side), the server's end of the veth pair up with `10.77.0.1/24`; the veth
    /// names and dnsmasq's command line (the config `<base>/etc/dnsmasq.conf`, plus what only
    /// a test needs: its own pid and lease files, no DNS, no privilege drop so it can read
    /// the temp dir).
    fn new(base: &Path) -> (Self, String, String, Vec<String>) {
        static LABS: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab {
            server: format!("pxs{id}"),
            client: format!("pxc{id}"),
            pid_file: base.join("dnsmasq.pid"),
        };
        let (sv, cv) = (format!("vs{id}"), format!("vc{id}"));
        let start: Vec<String> = ["ip", "netns", "exec", &lab.server, "dnsmasq", "-C"]
            .iter()
            .map(ToString::to_string)
            .chain([
                base.join("etc/dnsmasq.conf").display().to_string(),
                format!("--pid-file={}", lab.pid_file.display()),
                format!("--dhcp-leasefile={}", base.join("leases").display()),
                "--port=0".into(),
                "--user=root".into(),
                format!("--log-facility={}", base.join("dnsmasq.log").display()),
            ])
            .collect();

        ip(&["netns", "add", &lab.server]);
        ip(&["netns", "add", &lab.client]);
        ip(&["link", "add", &sv, "type", "veth", "peer", "name", &cv]);
        ip(&["link", "set", &sv, "netns", &lab.server]);
        ip(&["link", "set", &cv, "netns", &lab.client]);
        ip(&["-n", &lab.server, "addr", "add", "10.77.0.1/24", "dev", &sv]);
        ip(&["-n", &lab.server, "link", "set", &sv, "up"]);
        ip(&["-n", &lab.server, "link", "set", "lo", "up"]);
        ip(&["-n", &lab.client, "link", "set", "lo", "up"]);
        (lab, sv, cv, start)
    }

    /// Starts dnsmasq by `start` and waits for its pid file; returns the pid.
    fn start_dnsmasq(&self, start: &[String]) -> String {
        run_ok(Command::new(&start[0]).args(&start[1..]));
        common::eventually(5, || self.pid_file.exists());
        fs::read_to_string(&self.pid_file).expect("dnsmasq wrote no pid file")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        drop(common::StopByPidFile(self.pid_file.clone()));
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn description(base: &Path, iface: &str, extra_node: bool, dnsmasq_start: &[String]) -> String {
    let mut nodes = format!("  - {{name: n1, mac: '{NODE1}', ip: 10.77.0.11}}\n");
    if extra_node {
        let _ = writeln!(nodes, "  - {{name: n2, mac: '{NODE2}', ip: 10.77.0.12}}");
    }
    let start: Vec<String> = dnsmasq_start.iter().map(|a| format!("'{a}'")).collect();
    format!(
        "server: {{hostname: boot, address: 10.77.0.1/24, interface: {iface}, domain: lab.test}}\n\
         paths: {{dnsmasq_conf: {b}/etc/dnsmasq.conf, nginx_conf: {b}/etc/nginx/nginx.conf, web_root: {b}/srv, tftp_root: {b}/srv/pxe, state_dir: {b}/state}}\n\
         dhcp: {{range: {{start: 10.77.0.100, end: 10.77.0.150}}, lease_time: 10m, hosts: hostsfile}}\n\
         profiles:\n  local: {{kernel: /vmlinuz, append: root=/dev/sda1}}\n  install: {{kernel: /i/vmlinuz, append: 'url={{{{ http.url }}}}/i'}}\n\
         roles: {{normal: local, reimage: install}}\n\
         daemons:\n  dnsmasq: {{reload: {{pid_file: {{path: {b}/dnsmasq.pid, start: [{}]}}}}}}\n  nginx: {{reload: {{command: {{reload: [true], restart: [true]}}}}}}\n\
         nodes:\n{nodes}",
        start.join(", "),
        b = base.display()
    )
}

/// Runs udhcpc in the client namespace with `mac` and the udhcpc arguments `extra`; returns
/// what the server offered.
fn dhcp(lab: &Lab, iface: &str, mac: &str, script_dir: &Path, extra: &[&str]) -> String {
    ip(&["-n", &lab.client, "link", "set", iface, "down"]);
    ip(&["-n", &lab.client, "link", "set", iface, "address", mac]);
    ip(&["-n", &lab.client, "link", "set", iface, "up"]);
    let out_file = script_dir.join("lease.env");
    let _ = fs::remove_file(&out_file);
    let script = script_dir.join("udhcpc.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && env > {}\nexit 0\n",
            out_file.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.client,
            "busybox",
            "udhcpc",
            "-i",
            iface,
            "-n",
            "-q",
            "-f",
            "-t",
            "8",
            "-T",
            "1",
            "-s",
        ])
        .arg(&script)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "udhcpc got no lease: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(&out_file).unwrap()
}

fn tftp_get(lab: &Lab, remote: &str, into: &Path) -> String {
    let _ = fs::remove_file(into);
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.client,
            "tftp",
            "-m",
            "binary",
            "10.77.0.1",
            "-c",
            "get",
            remote,
        ])
        .arg(into)
        .output()
        .unwrap();
    // tftp-hpa exits 0 on a transfer error and says why on stdout.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = fs::read_to_string(lab.pid_file.with_file_name("dnsmasq.log")).unwrap_or_default();
    fs::read_to_string(into).unwrap_or_else(|e| {
        panic!("tftp fetched nothing for {remote} ({e}): {said}\ndnsmasq log:\n{log}")
    })
}

#[test]
fn dnsmasq_from_the_rendered_config_serves_dhcp_and_tftp_and_picks_up_changes() {
    let ok = prerequisite(is_root(), "network namespaces need root")
        && prerequisite(have("ip"), "iproute2 (`ip`) is not installed")
        && prerequisite(have("dnsmasq"), "dnsmasq is not installed")
        && prerequisite(have("busybox"), "busybox (udhcpc) is not installed")
        && prerequisite(have("tftp"), "a TFTP client (tftp-hpa) is not installed");
    if !ok {
        return;
    }
    let env = Env::new("");
    let base = env.dir.path().to_path_buf();
    let (lab, sv, cv, start) = Lab::new(&base);

    env.write_config(&description(&base, &sv, false, &start));
    common::copy_mime_types(&base);
    env.run_live(&["render"])
        .expect(0)
        .stdout_has("dnsmasq --test`: ok");
    let pid = lab.start_dnsmasq(&start);

    // DHCP: the node's reservation and the boot file.
    let lease = dhcp(&lab, &cv, NODE1, &base, &[]);
    assert!(lease.contains("ip=10.77.0.11\n"), "{lease}");
    assert!(lease.contains("hostname=n1"), "{lease}");
    assert!(lease.contains("boot_file=/pxelinux.0\n"), "{lease}");
    // Take the leased address, as a booting machine would, to talk TFTP.
    ip(&[
        "-n",
        &lab.client,
        "addr",
        "add",
        "10.77.0.11/24",
        "dev",
        &cv,
    ]);

    // TFTP: the node's link gives its normal profile; after reimage, with no reload, the installer.
    let name = format!("pxelinux.cfg/01-{}", NODE1.replace(':', "-"));
    let got = base.join("got");
    let normal = tftp_get(&lab, &name, &got);
    assert_eq!(
        normal,
        fs::read_to_string(base.join("srv/pxe/pxelinux.cfg/local")).unwrap()
    );
    assert!(normal.contains("LINUX /vmlinuz"));
    env.run_live(&["reimage", "n1"]).expect(0);
    let installer = tftp_get(&lab, &name, &got);
    assert!(
        installer.contains("LINUX /i/vmlinuz") && installer.contains("url=http://10.77.0.1/i"),
        "{installer}"
    );

    // A new node: hosts file only, so a SIGHUP, not a restart; the same dnsmasq serves it.
    env.write_config(&description(&base, &sv, true, &start));
    env.run_live(&["apply"])
        .expect(0)
        .stdout_has("reload dnsmasq: SIGHUP to pid");
    assert_eq!(
        pid,
        fs::read_to_string(&lab.pid_file).unwrap(),
        "dnsmasq was restarted"
    );
    let lease = dhcp(&lab, &cv, NODE2, &base, &[]);
    assert!(lease.contains("ip=10.77.0.12\n"), "{lease}");
    assert!(lease.contains("hostname=n2"), "{lease}");
}

/// Offers of dnsmasq from the rendered config to every kind of client: the boot file each
/// gets, for a node on the default choice and one forced to iPXE, first from the firmware
/// and then from the iPXE it loaded (user class `iPXE`).
#[test]
fn dnsmasq_sends_each_client_kind_its_loader_and_an_ipxe_its_script() {
    let ok = prerequisite(is_root(), "network namespaces need root")
        && prerequisite(have("ip"), "iproute2 (`ip`) is not installed")
        && prerequisite(have("dnsmasq"), "dnsmasq is not installed")
        && prerequisite(have("busybox"), "busybox (udhcpc) is not installed");
    if !ok {
        return;
    }
    let env = Env::new("");
    let base = env.dir.path().to_path_buf();
    let (lab, sv, cv, start) = Lab::new(&base);
    // Every kind of client served; n2 forced to iPXE.
    let yaml = description(&base, &sv, true, &start)
        .replace("ip: 10.77.0.12}", "ip: 10.77.0.12, loader: ipxe}")
        + "loaders: {clients: [bios, efi-x64, http-x64]}\n";
    env.write_config(&yaml);
    env.run_live(&["render", "--no-verify"]).expect(0);
    lab.start_dnsmasq(&start);

    let url = "http://10.77.0.1/pxe";
    let arch = |code: &str| format!("0x5d:{code}");
    let ipxe = "0x4d:69505845"; // user class `iPXE`
    let http = "HTTPClient:Arch:00016:UNDI:003000";
    let cases: [(&str, &[&str], String); 10] = [
        (NODE1, &[], "/pxelinux.0".into()),
        (NODE1, &["-x", &arch("0000")], "/pxelinux.0".into()),
        // A BIOS NIC ROM that is iPXE (QEMU's) still gets pxelinux.
        (
            NODE1,
            &["-x", &arch("0000"), "-x", ipxe],
            "/pxelinux.0".into(),
        ),
        (NODE1, &["-x", &arch("0007")], "/grubx64.efi".into()),
        (NODE1, &["-x", &arch("0009")], "/grubx64.efi".into()),
        (
            NODE1,
            &["-x", &arch("0010"), "-V", http],
            format!("{url}/snponly.efi"),
        ),
        // iPXE loaded by HTTP boot asks again as a UEFI x64 client: its script, no loop.
        (
            NODE1,
            &["-x", &arch("0007"), "-x", ipxe],
            format!("{url}/ipxe/boot.ipxe"),
        ),
        (NODE2, &["-x", &arch("0000")], "/undionly.kpxe".into()),
        (
            NODE2,
            &["-x", &arch("0000"), "-x", ipxe],
            format!("{url}/ipxe/boot.ipxe"),
        ),
        (NODE2, &["-x", &arch("0007")], "/snponly.efi".into()),
    ];
    let mut got = String::new();
    let mut expected = String::new();
    for (mac, args, boot_file) in &cases {
        let lease = dhcp(&lab, &cv, mac, &base, args);
        let sent = lease
            .lines()
            .find_map(|l| l.strip_prefix("boot_file="))
            .unwrap_or("(none)");
        let _ = writeln!(got, "{mac} {args:?}: {sent}");
        let _ = writeln!(expected, "{mac} {args:?}: {boot_file}");
    }
    assert_eq!(
        got,
        expected,
        "dnsmasq.conf:\n{}",
        fs::read_to_string(base.join("etc/dnsmasq.conf")).unwrap()
    );
}
