//! What render writes for each boot loader: every profile in the loader's folder and format,
//! GRUB's and iPXE's dispatchers, local-disk profiles, dnsmasq's loader rules and per-node
//! tags; whole files compared. Clusters are set up in Rust on a parsed description.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pxectl::cluster::{Boot, Cluster, HostsMode};
use pxectl::layout::Layout;
use pxectl::loader::{Arch, Choice, Loader};
use pxectl::plan::{self, FileKind};
use pxectl::templates::Templates;

use common::{assert_text, have, prerequisite};

/// Two nodes; `normal` and `installer` boot kernels (the installer's arguments use
/// `{{ http.url }}`), `disk` is made a local-disk profile; unknown machines install.
const DESCRIPTION: &str = "\
server: {hostname: boot, address: 10.0.0.1/24, interface: eth0, domain: lab}
dhcp: {range: {start: 10.0.0.100, end: 10.0.0.150}}
profiles:
  normal: {kernel: /normal-kernel, initrd: /normal-initrd, append: root=/dev/sda1 rw}
  installer: {kernel: /d/installer-kernel, initrd: d/installer-initrd, append: 'url={{ http.url }}/installer', label: install}
  disk: {kernel: /unused}
roles: {normal: normal, reimage: installer, default: installer}
nodes:
  - {name: n1, mac: '52:54:00:12:00:01', ip: 10.0.0.11}
  - {name: n2, mac: '52:54:00:12:00:02'}
";

/// The description's cluster with `disk` booting the local disk, serving `clients`.
fn cluster(clients: &[Arch]) -> Cluster {
    cluster_from(DESCRIPTION, clients)
}

fn cluster_from(yaml: &str, clients: &[Arch]) -> Cluster {
    let mut cluster = pxectl::description::parse(yaml, Path::new(".")).expect("valid");
    cluster.profiles.get_mut("disk").expect("disk").boot = Boot::LocalDisk;
    cluster.loaders.clients = clients.to_vec();
    cluster
}

/// Makes `loader` the default choice, as the description's `loaders.loader` would: every node
/// that says nothing gets it too.
fn default_loader(cluster: &mut Cluster, loader: Loader) {
    let old = cluster.loaders.default;
    cluster.loaders.default.loader = Some(loader);
    for node in cluster.nodes.iter_mut().filter(|n| n.choice == old) {
        node.choice = cluster.loaders.default;
    }
}

/// Every rendered file by its path relative to the TFTP root (or its real path outside it).
fn render(cluster: &Cluster) -> BTreeMap<String, (FileKind, String)> {
    let layout = Layout::new(cluster, None);
    let plan = plan::build(cluster, &layout, &Templates::load(None).unwrap()).unwrap();
    plan.files
        .into_iter()
        .map(|f| {
            let path = f.path.strip_prefix(&layout.tftp_root).unwrap_or(&f.path);
            (path.display().to_string(), (f.kind, f.contents))
        })
        .collect()
}

fn file<'a>(files: &'a BTreeMap<String, (FileKind, String)>, path: &str) -> &'a str {
    &files
        .get(path)
        .unwrap_or_else(|| panic!("`{path}` not rendered; rendered: {:?}", files.keys()))
        .1
}

/// Asserts the rendered file `path` is `text`, whole.
#[track_caller]
fn expect(files: &BTreeMap<String, (FileKind, String)>, path: &str, text: &str) {
    assert_text(path, file(files, path), text);
}

/// The lines of dnsmasq.conf after its untagged `dhcp-boot`, up to the hosts.
fn boot_rules(files: &BTreeMap<String, (FileKind, String)>) -> String {
    const RULES: [&str; 5] = [
        "dhcp-match=",
        "dhcp-userclass=",
        "dhcp-vendorclass=",
        "dhcp-option-force=",
        "dhcp-boot=tag:",
    ];
    file(files, "/etc/dnsmasq.conf")
        .lines()
        .filter(|l| RULES.iter().any(|r| l.starts_with(r)))
        .flat_map(|l| [l, "\n"])
        .collect()
}

const PXELINUX_NORMAL: &str = "\
PROMPT 0
TIMEOUT 10
DEFAULT normal

LABEL normal
\tLINUX /normal-kernel
\tINITRD /normal-initrd
\tAPPEND root=/dev/sda1 rw
";

const PXELINUX_DISK: &str = "\
PROMPT 0
TIMEOUT 10
DEFAULT disk

LABEL disk
\tLOCALBOOT 0
";

#[test]
fn bios_only_renders_pxelinux_alone_with_local_boot_and_no_loader_rules() {
    let files = render(&cluster(&[Arch::Bios]));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "/etc/dnsmasq.conf",
            "/etc/nginx/nginx.conf",
            "pxelinux.cfg/disk",
            "pxelinux.cfg/installer",
            "pxelinux.cfg/normal",
        ]
    );
    expect(&files, "pxelinux.cfg/normal", PXELINUX_NORMAL);
    expect(&files, "pxelinux.cfg/disk", PXELINUX_DISK);
    expect(&files, "pxelinux.cfg/installer", "PROMPT 0\nTIMEOUT 10\nDEFAULT install\n\nLABEL install\n\tLINUX /d/installer-kernel\n\tINITRD d/installer-initrd\n\tAPPEND url=http://10.0.0.1/installer\n");
    expect(&files, "/etc/dnsmasq.conf", "interface=eth0\nenable-tftp\ntftp-root=/srv/public/pxe\ndhcp-range=10.0.0.100,10.0.0.150,1h\ndhcp-boot=/pxelinux.0\n\ndhcp-host=52:54:00:12:00:01,10.0.0.11,n1.lab\ndhcp-host=52:54:00:12:00:02,n2.lab\n");
}

#[test]
fn syslinux_efi_gets_the_pxelinux_format_in_its_folder_with_absolute_paths() {
    let mut cluster = cluster(&[Arch::Bios, Arch::EfiX64]);
    default_loader(&mut cluster, Loader::SyslinuxEfi);
    let files = render(&cluster);
    expect(&files, "efi64/pxelinux.cfg/normal", "PROMPT 0\nTIMEOUT 10\nDEFAULT normal\n\nLABEL normal\n\tLINUX ::/normal-kernel\n\tINITRD ::/normal-initrd\n\tAPPEND root=/dev/sda1 rw\n");
    expect(&files, "efi64/pxelinux.cfg/installer", "PROMPT 0\nTIMEOUT 10\nDEFAULT install\n\nLABEL install\n\tLINUX ::/d/installer-kernel\n\tINITRD ::/d/installer-initrd\n\tAPPEND url=http://10.0.0.1/installer\n");
    // pxelinux's own files stay as they were.
    expect(&files, "pxelinux.cfg/normal", PXELINUX_NORMAL);
    assert!(!files
        .keys()
        .any(|p| p.starts_with("grub/") || p.starts_with("ipxe/")));
    assert_text(
        "rules",
        &boot_rules(&files),
        "dhcp-match=set:bios,option:client-arch,0\n\
         dhcp-match=set:efi-x64,option:client-arch,7\n\
         dhcp-match=set:efi-x64,option:client-arch,9\n\
         dhcp-boot=tag:bios,/pxelinux.0\n\
         dhcp-boot=tag:efi-x64,/efi64/syslinux.efi\n",
    );
}

#[test]
fn grub_gets_a_config_per_profile_and_a_grub_cfg_that_picks_the_node_or_the_default() {
    let files = render(&cluster(&[Arch::EfiX64, Arch::EfiArm64]));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "/etc/dnsmasq.conf",
            "/etc/nginx/nginx.conf",
            "grub/disk.cfg",
            "grub/grub.cfg",
            "grub/installer.cfg",
            "grub/normal.cfg",
        ]
    );
    assert_eq!(files["grub/grub.cfg"].0, FileKind::Profile);
    expect(&files, "grub/normal.cfg", "set profile=normal\necho pxectl: normal\nlinux /normal-kernel root=/dev/sda1 rw\ninitrd /normal-initrd\nboot\n");
    expect(&files, "grub/installer.cfg", "set profile=installer\necho pxectl: installer\nlinux /d/installer-kernel url=http://10.0.0.1/installer\ninitrd /d/installer-initrd\nboot\n");
    expect(
        &files,
        "grub/disk.cfg",
        "set profile=disk\n\
         echo pxectl: disk\n\
         if [ \"$grub_cpu\" = x86_64 ]; then set efi=/EFI/BOOT/BOOTX64.EFI\n\
         elif [ \"$grub_cpu\" = arm64 ]; then set efi=/EFI/BOOT/BOOTAA64.EFI\n\
         else set efi=/EFI/BOOT/BOOTIA32.EFI\n\
         fi\n\
         if search --no-floppy --file --set=root $efi; then\n\
         \tchainloader $efi\n\
         \tboot\n\
         fi\n\
         exit\n",
    );
    expect(
        &files,
        "grub/grub.cfg",
        "source $prefix/01-$net_default_mac.cfg\n\
         if [ -z \"$profile\" ]; then source $prefix/default.cfg; fi\n\
         echo pxectl: no profile booted\n",
    );
    assert_text(
        "rules",
        &boot_rules(&files),
        "dhcp-match=set:efi-x64,option:client-arch,7\n\
         dhcp-match=set:efi-x64,option:client-arch,9\n\
         dhcp-match=set:efi-arm64,option:client-arch,11\n\
         dhcp-boot=tag:efi-x64,/grubx64.efi\n\
         dhcp-boot=tag:efi-arm64,/grubaa64.efi\n",
    );
}

#[test]
fn without_a_default_profile_the_dispatchers_only_say_nothing_booted() {
    let yaml = DESCRIPTION.replace(", default: installer}", "}");
    let mut cluster = cluster_from(&yaml, &[Arch::EfiX64]);
    default_loader(&mut cluster, Loader::Ipxe);
    cluster.nodes[0].choice.loader = Some(Loader::Grub);
    let files = render(&cluster);
    expect(
        &files,
        "grub/grub.cfg",
        "source $prefix/01-$net_default_mac.cfg\necho pxectl: no profile booted\n",
    );
    expect(
        &files,
        "ipxe/boot.ipxe",
        "#!ipxe\n\
         imgfetch --name node http://10.0.0.1/pxe/ipxe/${mac:hexhyp}.ipxe || goto default\n\
         chain node || goto failed\n\
         exit\n\
         :default\n\
         :failed\n\
         echo pxectl: no profile booted\n\
         exit 1\n",
    );
}

#[test]
fn ipxe_gets_scripts_fetching_kernels_over_http_and_a_boot_ipxe_that_picks_the_node() {
    let files = render(&cluster(&[Arch::Bios, Arch::EfiX64, Arch::HttpX64]));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "/etc/dnsmasq.conf",
            "/etc/nginx/nginx.conf",
            "grub/disk.cfg",
            "grub/grub.cfg",
            "grub/installer.cfg",
            "grub/normal.cfg",
            "ipxe/boot.ipxe",
            "ipxe/disk.ipxe",
            "ipxe/installer.ipxe",
            "ipxe/normal.ipxe",
            "pxelinux.cfg/disk",
            "pxelinux.cfg/installer",
            "pxelinux.cfg/normal",
        ]
    );
    expect(
        &files,
        "ipxe/normal.ipxe",
        "#!ipxe\n\
         kernel http://10.0.0.1/pxe/normal-kernel initrd=initrd root=/dev/sda1 rw\n\
         initrd --name initrd http://10.0.0.1/pxe/normal-initrd\n\
         boot\n",
    );
    expect(&files, "ipxe/installer.ipxe", "#!ipxe\n\
         kernel http://10.0.0.1/pxe/d/installer-kernel initrd=initrd url=http://10.0.0.1/installer\n\
         initrd --name initrd http://10.0.0.1/pxe/d/installer-initrd\n\
         boot\n");
    expect(
        &files,
        "ipxe/disk.ipxe",
        "#!ipxe\niseq ${platform} pcbios && sanboot --no-describe --drive 0x80 || exit 1\n",
    );
    expect(
        &files,
        "ipxe/boot.ipxe",
        "#!ipxe\n\
         imgfetch --name node http://10.0.0.1/pxe/ipxe/${mac:hexhyp}.ipxe || goto default\n\
         chain node || goto failed\n\
         exit\n\
         :default\n\
         chain http://10.0.0.1/pxe/ipxe/default.ipxe || goto failed\n\
         exit\n\
         :failed\n\
         echo pxectl: no profile booted\n\
         exit 1\n",
    );
}

#[test]
fn a_profile_without_initrd_or_arguments_renders_only_its_kernel() {
    let mut cluster = cluster(&[Arch::EfiX64]);
    default_loader(&mut cluster, Loader::Ipxe);
    cluster.nodes[0].choice.loader = Some(Loader::Grub);
    cluster.profiles.get_mut("normal").unwrap().boot = Boot::Linux {
        kernel: "http://mirror/vmlinuz".into(),
        initrd: None,
        append: None,
    };
    let files = render(&cluster);
    expect(
        &files,
        "ipxe/normal.ipxe",
        "#!ipxe\nkernel http://mirror/vmlinuz\nboot\n",
    );
    expect(
        &files,
        "grub/normal.cfg",
        "set profile=normal\necho pxectl: normal\nlinux http://mirror/vmlinuz\nboot\n",
    );
}

#[test]
fn a_chain_profile_hands_the_machine_to_another_boot_program_in_each_loader() {
    let mut cluster = cluster(&[Arch::Bios, Arch::EfiX64, Arch::HttpX64]);
    cluster.profiles.get_mut("disk").unwrap().boot = Boot::Chain("/other/undionly.kpxe".into());
    let files = render(&cluster);
    expect(
        &files,
        "pxelinux.cfg/disk",
        "PROMPT 0\nTIMEOUT 10\nDEFAULT disk\n\nLABEL disk\n\tPXE /other/undionly.kpxe\n",
    );
    expect(
        &files,
        "grub/disk.cfg",
        "set profile=disk\necho pxectl: disk\nchainloader /other/undionly.kpxe\nboot\n",
    );
    expect(
        &files,
        "ipxe/disk.ipxe",
        "#!ipxe\nchain http://10.0.0.1/pxe/other/undionly.kpxe\n",
    );
}

/// Rules for every client kind, the default auto and nodes forced to iPXE, to syslinux.efi,
/// and to GRUB behind shim.
fn every_kind_and_choice(hosts: HostsMode) -> Cluster {
    let yaml = format!(
        "{DESCRIPTION}  - {{name: n3, mac: '52:54:00:12:00:03'}}\n  - {{name: n4, mac: '52:54:00:12:00:04', ip: 10.0.0.14}}\n"
    );
    let mut cluster = cluster_from(&yaml, &Arch::ALL);
    cluster
        .loaders
        .files
        .insert("ipxe-ia32".into(), "ipxe32.efi".into());
    cluster
        .loaders
        .files
        .insert("ipxe-arm64".into(), "arm64/snp.efi".into());
    cluster.dhcp.hosts = hosts;
    cluster.nodes[0].choice.loader = Some(Loader::Ipxe);
    cluster.nodes[1].choice.loader = Some(Loader::SyslinuxEfi);
    cluster.nodes[2].choice = Choice {
        loader: Some(Loader::Grub),
        secure_boot: true,
    };
    cluster
}

const EVERY_KIND_RULES: &str = "\
dhcp-match=set:bios,option:client-arch,0
dhcp-match=set:efi-ia32,option:client-arch,6
dhcp-match=set:efi-x64,option:client-arch,7
dhcp-match=set:efi-x64,option:client-arch,9
dhcp-match=set:efi-arm64,option:client-arch,11
dhcp-match=set:http-x64,option:client-arch,16
dhcp-match=set:http-arm64,option:client-arch,19
dhcp-userclass=set:ipxe,iPXE
dhcp-vendorclass=set:http,HTTPClient
dhcp-option-force=tag:http,60,HTTPClient
dhcp-boot=tag:bios,/pxelinux.0
dhcp-boot=tag:efi-ia32,/grubia32.efi
dhcp-boot=tag:efi-x64,/grubx64.efi
dhcp-boot=tag:efi-arm64,/grubaa64.efi
dhcp-boot=tag:http-x64,http://10.0.0.1/pxe/snponly.efi
dhcp-boot=tag:http-arm64,http://10.0.0.1/pxe/arm64/snp.efi
dhcp-boot=tag:bios,tag:pxectl-syslinux-efi,/pxelinux.0
dhcp-boot=tag:efi-ia32,tag:pxectl-syslinux-efi,/grubia32.efi
dhcp-boot=tag:efi-x64,tag:pxectl-syslinux-efi,/efi64/syslinux.efi
dhcp-boot=tag:efi-arm64,tag:pxectl-syslinux-efi,/grubaa64.efi
dhcp-boot=tag:http-x64,tag:pxectl-syslinux-efi,http://10.0.0.1/pxe/snponly.efi
dhcp-boot=tag:http-arm64,tag:pxectl-syslinux-efi,http://10.0.0.1/pxe/arm64/snp.efi
dhcp-boot=tag:bios,tag:pxectl-grub-sb,/pxelinux.0
dhcp-boot=tag:efi-ia32,tag:pxectl-grub-sb,/shimia32.efi
dhcp-boot=tag:efi-x64,tag:pxectl-grub-sb,/shimx64.efi
dhcp-boot=tag:efi-arm64,tag:pxectl-grub-sb,/shimaa64.efi
dhcp-boot=tag:http-x64,tag:pxectl-grub-sb,http://10.0.0.1/pxe/snponly.efi
dhcp-boot=tag:http-arm64,tag:pxectl-grub-sb,http://10.0.0.1/pxe/arm64/snp.efi
dhcp-boot=tag:bios,tag:pxectl-ipxe,/undionly.kpxe
dhcp-boot=tag:efi-ia32,tag:pxectl-ipxe,/ipxe32.efi
dhcp-boot=tag:efi-x64,tag:pxectl-ipxe,/snponly.efi
dhcp-boot=tag:efi-arm64,tag:pxectl-ipxe,/arm64/snp.efi
dhcp-boot=tag:http-x64,tag:pxectl-ipxe,http://10.0.0.1/pxe/snponly.efi
dhcp-boot=tag:http-arm64,tag:pxectl-ipxe,http://10.0.0.1/pxe/arm64/snp.efi
dhcp-boot=tag:ipxe,tag:bios,tag:pxectl-ipxe,http://10.0.0.1/pxe/ipxe/boot.ipxe
dhcp-boot=tag:ipxe,tag:!bios,http://10.0.0.1/pxe/ipxe/boot.ipxe
";

#[test]
fn every_kind_and_choice_gets_its_rules_in_order_and_nodes_their_tags() {
    let files = render(&every_kind_and_choice(HostsMode::Inline));
    assert_text("rules", &boot_rules(&files), EVERY_KIND_RULES);
    let hosts: Vec<&str> = file(&files, "/etc/dnsmasq.conf")
        .lines()
        .filter(|l| l.starts_with("dhcp-host="))
        .collect();
    assert_eq!(
        hosts,
        [
            "dhcp-host=52:54:00:12:00:01,set:pxectl-ipxe,10.0.0.11,n1.lab",
            "dhcp-host=52:54:00:12:00:02,set:pxectl-syslinux-efi,n2.lab",
            "dhcp-host=52:54:00:12:00:03,set:pxectl-grub-sb,n3.lab",
            "dhcp-host=52:54:00:12:00:04,10.0.0.14,n4.lab",
        ]
    );
    let files = render(&every_kind_and_choice(HostsMode::Hostsfile));
    expect(
        &files,
        "/var/lib/pxectl/dhcp-hosts",
        "52:54:00:12:00:01,set:pxectl-ipxe,10.0.0.11,n1.lab\n\
         52:54:00:12:00:02,set:pxectl-syslinux-efi,n2.lab\n\
         52:54:00:12:00:03,set:pxectl-grub-sb,n3.lab\n\
         52:54:00:12:00:04,10.0.0.14,n4.lab\n",
    );
}

#[test]
fn a_bios_default_of_ipxe_still_sends_pxelinux_nodes_pxelinux_even_from_an_ipxe_rom() {
    let mut cluster = cluster(&[Arch::Bios]);
    default_loader(&mut cluster, Loader::Ipxe);
    cluster.nodes[1].choice.loader = Some(Loader::Pxelinux);
    let files = render(&cluster);
    // n2's line comes after the default's script line: an iPXE ROM (user class `iPXE`) on n2
    // matches both and gets the last, pxelinux.
    assert_text(
        "rules",
        &boot_rules(&files),
        "dhcp-match=set:bios,option:client-arch,0\n\
         dhcp-userclass=set:ipxe,iPXE\n\
         dhcp-boot=tag:bios,/undionly.kpxe\n\
         dhcp-boot=tag:ipxe,tag:bios,http://10.0.0.1/pxe/ipxe/boot.ipxe\n\
         dhcp-boot=tag:bios,tag:pxectl-pxelinux,/pxelinux.0\n",
    );
}

#[test]
fn a_uefi_only_ipxe_cluster_still_tags_bios_clients_so_an_ipxe_rom_gets_no_script() {
    let mut cluster = cluster(&[Arch::EfiX64]);
    default_loader(&mut cluster, Loader::Ipxe);
    let files = render(&cluster);
    // A BIOS machine whose NIC ROM is iPXE is tagged `bios` though `bios` is not served: the
    // last line is not for it, and it gets the untagged `dhcp.boot_file`.
    assert_text(
        "rules",
        &boot_rules(&files),
        "dhcp-match=set:bios,option:client-arch,0\n\
         dhcp-match=set:efi-x64,option:client-arch,7\n\
         dhcp-match=set:efi-x64,option:client-arch,9\n\
         dhcp-userclass=set:ipxe,iPXE\n\
         dhcp-boot=tag:efi-x64,/snponly.efi\n\
         dhcp-boot=tag:ipxe,tag:!bios,http://10.0.0.1/pxe/ipxe/boot.ipxe\n",
    );
}

/// The dnsmasq.conf of [`every_kind_and_choice`] with the hosts-file lines as `dhcp-host`
/// lines (the same syntax; `dnsmasq --test` does not read a hosts file).
#[test]
fn dnsmasq_accepts_the_rules_for_every_kind_and_choice_and_the_tagged_hosts() {
    if !prerequisite(
        have("dnsmasq"),
        "dnsmasq tests the rendered rules (`bash scripts/test` installs it)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inline = render(&every_kind_and_choice(HostsMode::Inline));
    let hostsfile = render(&every_kind_and_choice(HostsMode::Hostsfile));
    let hosts_lines: String = file(&hostsfile, "/var/lib/pxectl/dhcp-hosts")
        .lines()
        .flat_map(|l| ["dhcp-host=", l, "\n"])
        .collect();
    let hostsfile_conf = file(&hostsfile, "/etc/dnsmasq.conf")
        .replace("dhcp-hostsfile=/var/lib/pxectl/dhcp-hosts\n", &hosts_lines);
    for (name, conf) in [
        ("inline", file(&inline, "/etc/dnsmasq.conf")),
        ("hostsfile", &hostsfile_conf),
    ] {
        assert!(conf.contains("set:pxectl-grub-sb"), "{conf}");
        let path = dir.path().join(name);
        std::fs::write(&path, conf).unwrap();
        let binary = pxectl::daemons::find_binary("dnsmasq").unwrap();
        let out = Command::new(binary)
            .arg("--test")
            .arg("-C")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dnsmasq refused the {name} config:\n{}{}\n{conf}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn ipxe_with_the_tftp_root_outside_the_web_root_is_an_error_not_a_wrong_url() {
    let yaml = DESCRIPTION.replace(
        "dhcp:",
        "paths: {web_root: /srv/www, tftp_root: /srv/tftp}\ndhcp:",
    );
    let cluster = cluster_from(&yaml, &[Arch::HttpX64]);
    let layout = Layout::new(&cluster, None);
    let err = plan::build(&cluster, &layout, &Templates::load(None).unwrap()).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "iPXE fetches its scripts and kernels from nginx, but the TFTP root `/srv/tftp` is outside the web root `/srv/www`; put `paths.tftp_root` inside `paths.web_root`"
    );
    // Without iPXE nothing needs the URL.
    let cluster = cluster_from(&yaml, &[Arch::Bios, Arch::EfiX64]);
    let files = render(&cluster);
    assert!(files.contains_key("grub/grub.cfg"));
}

#[test]
fn a_kind_without_a_loader_file_is_an_error() {
    let mut cluster = cluster(&[Arch::EfiArm64]);
    default_loader(&mut cluster, Loader::Ipxe);
    let layout = Layout::new(&cluster, None);
    let err = plan::build(&cluster, &layout, &Templates::load(None).unwrap()).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "no ipxe file is set for `efi-arm64` clients; set `loaders.files`"
    );
}
