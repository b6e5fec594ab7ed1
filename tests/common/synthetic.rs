//! Synthetic cluster descriptions of any size, shared by tests and benchmarks.

use std::fmt::Write as _;

/// A cluster of `n` nodes in a /14, each with a fixed address and a group of 40 (`rack0`, ...),
/// with profiles `local` (normal), `install` (reimage, default) and `rescue`.
pub fn description(n: usize) -> String {
    let mut s = String::from(
        "server: {hostname: boot, address: 10.0.0.1/14, interface: eth0, domain: bench.example.com}\n\
         dhcp: {range: {start: 10.3.255.1, end: 10.3.255.200}, lease_time: 12h}\n\
         profiles:\n  local: {kernel: /vmlinuz, initrd: /initrd.img, append: root=/dev/sda1 ro}\n  \
         install: {kernel: /i/vmlinuz, append: 'url={{ http.url }}/install'}\n  \
         rescue: {kernel: /r/vmlinuz}\n\
         roles: {normal: local, reimage: install, rescue: rescue, default: install}\nnodes:\n",
    );
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(0x0A00_0000u32 + 10 + u32::try_from(i).expect("fits"));
        let mac = i.to_be_bytes();
        let _ = writeln!(
            s,
            "  - {{name: n{i:06}, mac: '02:00:{:02x}:{:02x}:{:02x}:{:02x}', ip: {ip}, groups: [rack{}]}}",
            mac[4],
            mac[5],
            mac[6],
            mac[7],
            i / 40
        );
    }
    s
}

/// The pxelinux link name of synthetic node `i`.
pub fn link_name(i: usize) -> String {
    let mac = i.to_be_bytes();
    format!(
        "01-02-00-{:02x}-{:02x}-{:02x}-{:02x}",
        mac[4], mac[5], mac[6], mac[7]
    )
}
