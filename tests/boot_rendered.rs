//! Real UEFI firmware (OVMF over PXE and over HTTP boot, in QEMU) booting through pxectl's
//! GRUB and iPXE renderings and dnsmasq rules, served by the real dnsmasq and nginx in a
//! namespace (the lab of `tests/boot.rs`). The cluster's loader settings are set in Rust and
//! its per-MAC entries written by the test. Kernels are dummy files: the proof is which files
//! each client fetched, in which order.

mod common;

use common::boot::{
    can_boot, lab_description, BootLab, Firmware, Vm, GRUB_NET, LDLINUX_EFI64, SHIM, SNPONLY,
    SYSLINUX_EFI64,
};
use common::Env;
use pxectl::cluster::Boot;
use pxectl::layout::Layout;
use pxectl::loader::{Arch, Choice, Loader};

const N1: &str = "52:54:00:12:00:01";
const N2: &str = "52:54:00:12:00:02";
const UNKNOWN: &str = "52:54:00:12:00:99";

/// What each profile's script prints last when its (dummy) kernel did not boot.
const NOTHING_BOOTED: &str = "pxectl: no profile booted";

/// Two nodes, a normal, an installer and a local-disk profile (`disk`, made one in Rust);
/// unknown machines install.
fn description() -> String {
    format!(
        "dhcp: {{range: {{start: 10.78.0.100, end: 10.78.0.150}}, lease_time: 10m}}\n\
         profiles:\n\
         \x20 normal: {{kernel: /normal-kernel, initrd: /normal-initrd, append: root=/dev/sda1}}\n\
         \x20 installer: {{kernel: /installer-kernel, initrd: /installer-initrd, append: 'url={{{{ http.url }}}}/installer'}}\n\
         \x20 disk: {{kernel: /unused}}\n\
         roles: {{normal: normal, reimage: installer, default: installer}}\n\
         nodes:\n\
         \x20 - {{name: n1, mac: '{N1}', ip: 10.78.0.11}}\n\
         \x20 - {{name: n2, mac: '{N2}', ip: 10.78.0.12}}\n"
    )
}

/// A lab serving `clients`, each the loader the choice `default` gives it: dnsmasq gets the rendered
/// loader rules, the TFTP root every rendered file, the loaders it needs, the dummy kernels
/// and, for each loader in use but pxelinux (whose `render` made them), per-MAC entries: n1
/// boots `normal`, n2 `disk` (where the loader can), unknown machines `installer`.
fn lab(env: &Env, clients: &[Arch], default: Choice) -> BootLab {
    let text = format!("{}{}", lab_description(env.dir.path()), description());
    let mut cluster = pxectl::description::parse(&text, env.dir.path()).expect("valid");
    cluster.profiles.get_mut("disk").expect("disk").boot = Boot::LocalDisk;
    cluster.loaders.clients = clients.to_vec();
    cluster.loaders.default = default;
    for node in &mut cluster.nodes {
        node.choice = default;
    }
    let layout = Layout::new(&cluster, None);
    let plan = pxectl::plan::build(
        &cluster,
        &layout,
        &pxectl::templates::Templates::load(None).unwrap(),
    )
    .unwrap();
    // No node has a choice of its own: the rules on dnsmasq's command line are the whole
    // difference from the dnsmasq.conf `pxectl render` writes from the description.
    let url = pxectl::templates::tftp_url(&cluster).unwrap();
    let rules: Vec<String> = pxectl::templates::boot_rules(&cluster, &url)
        .unwrap()
        .iter()
        .map(|r| format!("--{r}"))
        .collect();
    let args: Vec<&str> = rules.iter().map(String::as_str).collect();
    let lab = BootLab::start(env, &description(), &args);
    for file in &plan.files {
        if let Ok(rel) = file.path.strip_prefix(&layout.tftp_root) {
            lab.write(&rel.display().to_string(), &file.contents);
        }
    }
    for profile in ["normal", "installer"] {
        for file in ["kernel", "initrd"] {
            lab.write(
                &format!("{profile}-{file}"),
                &format!("dummy {profile} {file}\n"),
            );
        }
    }
    let n1 = N1.parse().unwrap();
    let n2 = N2.parse().unwrap();
    for loader in cluster.loaders_in_use() {
        let installed: &[(&str, &str)] = match loader {
            Loader::Pxelinux => continue,
            Loader::SyslinuxEfi => &[
                (SYSLINUX_EFI64, "efi64/syslinux.efi"),
                (LDLINUX_EFI64, "efi64/ldlinux.e64"),
            ],
            Loader::Grub if default.secure_boot => {
                &[(SHIM, "shimx64.efi"), (GRUB_NET, "grubx64.efi")]
            }
            Loader::Grub => &[(GRUB_NET, "grubx64.efi")],
            Loader::Ipxe => &[(SNPONLY, "snponly.efi")],
        };
        for (from, to) in installed {
            lab.install(from, to);
        }
        let mut entries = vec![
            (loader.entry(n1), "normal"),
            (loader.default_entry(), "installer"),
        ];
        if loader.boots_local_disk() {
            entries.push((loader.entry(n2), "disk"));
        }
        for (entry, profile) in entries {
            lab.link(&format!("{}/{entry}", loader.dir()), &loader.file(profile));
        }
    }
    lab
}

/// Waits until the client's firmware went on to its next boot option (after a loader's
/// `exit`) and returns what it fetched.
fn back_to_firmware(vm: &mut Vm) -> common::boot::Fetched {
    vm.wait_until(|f| f.serial.matches("BdsDxe: loading Boot").count() > 1)
}

#[test]
fn uefi_clients_boot_the_rendered_grub_and_ipxe_files_and_local_disk_profiles() {
    if !can_boot(Firmware::Uefi, &[GRUB_NET, SNPONLY]) || !can_boot(Firmware::UefiHttp, &[]) {
        return;
    }
    let env = Env::new("");
    let lab = lab(
        &env,
        &[Arch::Bios, Arch::EfiX64, Arch::HttpX64],
        Choice::default(),
    );
    let grub = ["grubx64.efi", "grub/grub.cfg"];

    // UEFI PXE: GRUB, its grub.cfg, the node's entry, the kernel; GRUB said so and stopped.
    let fetched = lab
        .boot(Firmware::Uefi, N1)
        .wait_until(|f| f.serial.contains(NOTHING_BOOTED));
    assert_eq!(
        fetched.tftp,
        [&grub[..], &[&format!("grub/01-{N1}.cfg"), "normal-kernel"]].concat()
    );
    assert!(
        fetched.serial.contains("pxectl: normal"),
        "{}",
        fetched.serial
    );
    let fetched = lab
        .boot(Firmware::Uefi, UNKNOWN)
        .wait_until(|f| f.serial.contains(NOTHING_BOOTED));
    assert_eq!(
        fetched.tftp,
        [&grub[..], &["grub/default.cfg", "installer-kernel"]].concat()
    );
    // A local-disk entry: no kernel; with no disk to chainload, back to the firmware.
    let fetched = back_to_firmware(&mut lab.boot(Firmware::Uefi, N2));
    assert_eq!(
        fetched.tftp,
        [&grub[..], &[&format!("grub/01-{N2}.cfg")]].concat()
    );
    assert!(
        fetched.serial.contains("pxectl: disk"),
        "{}",
        fetched.serial
    );

    // UEFI HTTP boot: iPXE by URL, then boot.ipxe (not iPXE again), the node's script, the
    // kernel over HTTP; nothing by TFTP.
    let fetched = lab
        .boot(Firmware::UefiHttp, N1)
        .wait_until(|f| f.serial.contains(NOTHING_BOOTED));
    assert!(fetched.tftp.is_empty(), "{:?}", fetched.tftp);
    assert_eq!(
        fetched.http,
        [
            "/pxe/snponly.efi",
            "/pxe/ipxe/boot.ipxe",
            "/pxe/ipxe/52-54-00-12-00-01.ipxe",
            "/pxe/normal-kernel"
        ]
    );
    // A local-disk script exits back to the firmware without going on to the default.
    let fetched = back_to_firmware(&mut lab.boot(Firmware::UefiHttp, N2));
    assert!(fetched.tftp.is_empty(), "{:?}", fetched.tftp);
    assert_eq!(
        fetched.http,
        [
            "/pxe/snponly.efi",
            "/pxe/ipxe/boot.ipxe",
            "/pxe/ipxe/52-54-00-12-00-02.ipxe"
        ]
    );
}

#[test]
fn uefi_clients_boot_the_rendered_syslinux_efi_files_with_kernels_from_the_tftp_root() {
    if !can_boot(Firmware::Uefi, &[SYSLINUX_EFI64, LDLINUX_EFI64]) {
        return;
    }
    let env = Env::new("");
    let syslinux = Choice {
        loader: Some(Loader::SyslinuxEfi),
        secure_boot: false,
    };
    let lab = lab(&env, &[Arch::Bios, Arch::EfiX64], syslinux);
    // `::/normal-kernel`: the kernel at the TFTP root, not `efi64/normal-kernel`.
    let fetched = lab
        .boot(Firmware::Uefi, N1)
        .wait_until(|f| f.tftp_through("normal-kernel").is_some());
    assert_eq!(
        fetched.tftp_through("normal-kernel").unwrap(),
        [
            "efi64/syslinux.efi",
            "efi64/ldlinux.e64",
            "efi64/pxelinux.cfg/01-52-54-00-12-00-01",
            "normal-kernel"
        ]
    );
}

#[test]
fn secure_boot_clients_boot_shim_then_grub_and_the_rendered_grub_files() {
    if !can_boot(Firmware::SecureBoot, &[SHIM, GRUB_NET]) {
        return;
    }
    let env = Env::new("");
    let secure_boot = Choice {
        loader: None,
        secure_boot: true,
    };
    let lab = lab(&env, &[Arch::Bios, Arch::EfiX64], secure_boot);
    // shim, the signed GRUB beside it, the rendered grub.cfg and entry; GRUB had shim check
    // the (unsigned, dummy) kernel, which failed.
    let fetched = lab
        .boot(Firmware::SecureBoot, N1)
        .wait_until(|f| f.serial.contains(NOTHING_BOOTED));
    assert_eq!(
        fetched.tftp,
        [
            "shimx64.efi",
            "grubx64.efi",
            "grub/grub.cfg",
            &format!("grub/01-{N1}.cfg"),
            "normal-kernel"
        ]
    );
    assert!(
        fetched.serial.contains("bad shim signature"),
        "{}",
        fetched.serial
    );
}
