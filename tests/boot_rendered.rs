//! Real UEFI firmware (OVMF over PXE, with Secure Boot and over HTTP boot, in QEMU) booting
//! through what `pxectl render` wrote for GRUB, iPXE and syslinux.efi (files, per-MAC entries,
//! dnsmasq rules), served by the real dnsmasq and nginx in a namespace (the lab of
//! `tests/boot.rs`). Kernels are dummy files: the proof is which files each client fetched, in
//! which order.

mod common;

use common::boot::{
    can_boot, BootLab, Firmware, Vm, GRUB_NET, LDLINUX_EFI64, SHIM, SNPONLY, SYSLINUX_EFI64,
};
use common::Env;

const N1: &str = "52:54:00:12:00:01";
const N2: &str = "52:54:00:12:00:02";
const UNKNOWN: &str = "52:54:00:12:00:99";

/// What each profile's script prints last when its (dummy) kernel did not boot.
const NOTHING_BOOTED: &str = "pxectl: no profile booted";

/// `loaders` (a YAML mapping), two nodes, a normal and an installer profile; n1 boots
/// `normal`, unknown machines install; with `disk`, n2 boots a local-disk profile.
fn description(loaders: &str, disk: bool) -> String {
    let (profile, n2) = if disk {
        ("  disk: {boot: local}\n", ", normal_profile: disk")
    } else {
        ("", "")
    };
    format!(
        "dhcp: {{range: {{start: 10.78.0.100, end: 10.78.0.150}}, lease_time: 10m}}\n\
         loaders: {loaders}\n\
         profiles:\n\
         \x20 normal: {{kernel: /normal-kernel, initrd: /normal-initrd, append: root=/dev/sda1}}\n\
         \x20 installer: {{kernel: /installer-kernel, initrd: /installer-initrd, append: 'url={{{{ http.url }}}}/installer'}}\n\
         {profile}\
         roles: {{normal: normal, reimage: installer, default: installer}}\n\
         nodes:\n\
         \x20 - {{name: n1, mac: '{N1}', ip: 10.78.0.11}}\n\
         \x20 - {{name: n2, mac: '{N2}', ip: 10.78.0.12{n2}}}\n"
    )
}

/// A lab on what `pxectl render` wrote for `description`, with `loaders` (installed file,
/// name in the TFTP root) and the dummy kernels.
fn lab(env: &Env, description: &str, loaders: &[(&str, &str)]) -> BootLab {
    let lab = BootLab::start(env, description, &[]);
    for (from, to) in loaders {
        lab.install(from, to);
    }
    for profile in ["normal", "installer"] {
        for file in ["kernel", "initrd"] {
            lab.write(
                &format!("{profile}-{file}"),
                &format!("dummy {profile} {file}\n"),
            );
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
        &description("{clients: [bios, efi-x64, http-x64]}", true),
        &[(GRUB_NET, "grubx64.efi"), (SNPONLY, "snponly.efi")],
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
    let lab = lab(
        &env,
        &description("{clients: [bios, efi-x64], loader: syslinux-efi}", false),
        &[
            (SYSLINUX_EFI64, "efi64/syslinux.efi"),
            (LDLINUX_EFI64, "efi64/ldlinux.e64"),
        ],
    );
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
    let lab = lab(
        &env,
        &description("{clients: [bios, efi-x64], secure_boot: true}", false),
        &[(SHIM, "shimx64.efi"), (GRUB_NET, "grubx64.efi")],
    );
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
