//! Real firmware (QEMU: `SeaBIOS` with iPXE, OVMF, OVMF with Secure Boot, OVMF's HTTP boot)
//! booting through what pxectl rendered, served by the real dnsmasq and nginx in a namespace
//! each test creates.
//! Kernels are dummy files: the proof is which files each client fetched, in which order.

mod common;

use common::boot::{
    can_boot, BootLab, Firmware, GRUB_NET, LDLINUX_BIOS, LDLINUX_EFI64, PXELINUX, SERVER, SHIM,
    SNPONLY, SYSLINUX_EFI64,
};
use common::Env;

const N1: &str = "52:54:00:12:00:01";
const N2: &str = "52:54:00:12:00:02";
const UNKNOWN: &str = "52:54:00:12:00:99";

/// Two nodes, a normal, an installer and a rescue profile, unknown machines installing;
/// `boot_file` is what dnsmasq tells every client to boot.
fn description(boot_file: &str) -> String {
    format!(
        "dhcp: {{range: {{start: 10.78.0.100, end: 10.78.0.150}}, lease_time: 10m, boot_file: {boot_file}}}\n\
         profiles:\n\
         \x20 local: {{kernel: /normal-kernel, initrd: /normal-initrd, append: root=/dev/sda1}}\n\
         \x20 installer: {{kernel: /installer-kernel, initrd: /installer-initrd, append: 'url={{{{ http.url }}}}/installer'}}\n\
         \x20 rescue: {{kernel: /rescue-kernel, initrd: /rescue-initrd}}\n\
         roles: {{normal: local, reimage: installer, rescue: rescue, default: installer}}\n\
         nodes:\n\
         \x20 - {{name: n1, mac: '{N1}', ip: 10.78.0.11}}\n\
         \x20 - {{name: n2, mac: '{N2}', ip: 10.78.0.12}}\n"
    )
}

/// A lab on the description for `boot_file`, with the dummy kernels and initrds (small enough
/// for one TFTP packet).
fn lab(boot_file: &str, dnsmasq_args: &[&str]) -> (Env, BootLab) {
    let env = Env::new("");
    let lab = BootLab::start(&env, &description(boot_file), dnsmasq_args);
    for profile in ["normal", "installer", "rescue"] {
        for file in ["kernel", "initrd"] {
            lab.write(
                &format!("{profile}-{file}"),
                &format!("dummy {profile} {file}\n"),
            );
        }
    }
    (env, lab)
}

/// Boots `mac` and asserts the files it fetched over TFTP, up to its kernel (the last of
/// `expected`), are exactly `expected`.
#[track_caller]
fn boots(lab: &BootLab, firmware: Firmware, mac: &str, expected: &[&str]) {
    let kernel = expected.last().expect("a kernel");
    let mut vm = lab.boot(firmware, mac);
    let fetched = vm.wait_until(|f| f.tftp_through(kernel).is_some());
    assert_eq!(
        fetched.tftp_through(kernel).unwrap(),
        expected,
        "{mac} fetched other files than expected"
    );
}

#[test]
fn bios_clients_boot_what_their_links_name_through_every_switch() {
    if !can_boot(Firmware::Bios, &[PXELINUX, LDLINUX_BIOS]) {
        return;
    }
    let (env, lab) = lab("/pxelinux.0", &[]);
    lab.install(PXELINUX, "pxelinux.0");
    lab.install(LDLINUX_BIOS, "ldlinux.c32");
    let pxelinux = |config: &str, kernel: &str| {
        vec![
            "pxelinux.0".to_string(),
            "ldlinux.c32".to_string(),
            format!("pxelinux.cfg/{config}"),
            kernel.to_string(),
        ]
    };
    let bios = |mac: &str, expected: Vec<String>| {
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        boots(&lab, Firmware::Bios, mac, &expected);
    };
    let (n1, n2) = ("01-52-54-00-12-00-01", "01-52-54-00-12-00-02");

    bios(N1, pxelinux(n1, "normal-kernel"));
    env.run_live(&["reimage", "n1"]).expect(0);
    bios(N1, pxelinux(n1, "installer-kernel"));
    bios(N2, pxelinux(n2, "normal-kernel"));
    env.run_live(&["rescue", "n1"]).expect(0);
    bios(N1, pxelinux(n1, "rescue-kernel"));
    env.run_live(&["boot-normal", "n1"]).expect(0);
    bios(N1, pxelinux(n1, "normal-kernel"));
    // pxelinux looks for 01-<mac> and the address's hex prefixes (not found), then `default`.
    bios(UNKNOWN, pxelinux("default", "installer-kernel"));
}

/// Boots each of `clients` (MAC, the GRUB config it must get, its kernel or none for the local
/// disk) with `firmware` from
/// `loaders` (installed file, name in the TFTP root; dnsmasq hands out the first) into GRUB,
/// set up test-locally since pxectl renders no GRUB config yet: `grub/grub.cfg`, which
/// Debian's grubnetx64 sources from its `$prefix` (`grub` beside the loader), loads the
/// per-MAC file named after `$net_default_mac` (colon form), or, when there is none (GRUB's
/// `[ -f ]` cannot tell over TFTP; `source` of a missing file fails and the script goes on),
/// `grub/default.cfg`. Each entry sets `profile` first, so a machine whose kernel fails to boot
/// does not fall through to the default (an installer).
/// Asserts everything each fetched over TFTP, in order, and that GRUB said `verdict` about the
/// dummy kernel.
fn boots_grub(
    firmware: Firmware,
    loaders: &[(&str, &str)],
    clients: &[(&str, &str, Option<&str>)],
    verdict: &str,
) {
    let installed: Vec<&str> = loaders.iter().map(|(from, _)| *from).collect();
    if !can_boot(firmware, &installed) {
        return;
    }
    let (_env, lab) = lab(&format!("/{}", loaders[0].1), &[]);
    for (from, to) in loaders {
        lab.install(from, to);
    }
    lab.write(
        "grub/grub.cfg",
        "source $prefix/01-$net_default_mac.cfg\n\
         if [ -z \"$profile\" ]; then source $prefix/default.cfg; fi\n\
         echo \"grub.cfg: done\"\n",
    );
    let entry = |profile: &str| {
        format!("set profile={profile}\nlinux /{profile}-kernel\ninitrd /{profile}-initrd\nboot\n")
    };
    lab.write(&format!("grub/01-{N1}.cfg"), &entry("normal"));
    lab.write("grub/default.cfg", &entry("installer"));
    // A local-disk entry: back to the firmware (OVMF then opens its menu, UiApp, rather than
    // its next boot option).
    lab.write(
        &format!("grub/01-{N2}.cfg"),
        "set profile=local-disk\nexit\n",
    );
    for (mac, config, kernel) in clients {
        let mut vm = lab.boot(firmware, mac);
        // The whole of grub.cfg ran, or GRUB exited and the firmware loaded something else:
        // nothing more is fetched.
        let fetched = vm.wait_until(|f| match kernel {
            Some(_) => f.serial.contains("grub.cfg: done"),
            None => f.serial.matches("BdsDxe: loading Boot").count() > 1,
        });
        let expected: Vec<&str> = loaders
            .iter()
            .map(|(_, to)| *to)
            .chain(["grub/grub.cfg", config])
            .chain(*kernel)
            .collect();
        assert_eq!(fetched.tftp, expected);
        if kernel.is_some() {
            assert!(fetched.serial.contains(verdict), "{}", fetched.serial);
        }
    }
}

#[test]
fn uefi_clients_boot_grub_which_loads_their_per_mac_config_local_disk_or_the_default() {
    // GRUB read the dummy kernel whole and refused it as a kernel: nothing checked signatures.
    boots_grub(
        Firmware::Uefi,
        &[(GRUB_NET, "grubnetx64.efi.signed")],
        &[
            (N1, &format!("grub/01-{N1}.cfg"), Some("normal-kernel")),
            (N2, &format!("grub/01-{N2}.cfg"), None),
            (UNKNOWN, "grub/default.cfg", Some("installer-kernel")),
        ],
        "error: premature end of file /",
    );
}

#[test]
fn secure_boot_client_boots_shim_then_signed_grub_which_checks_the_kernel() {
    // shim loads `grubx64.efi` from its own folder. Secure Boot was on when GRUB asked shim to
    // verify the (unsigned, dummy) kernel, which failed.
    boots_grub(
        Firmware::SecureBoot,
        &[(SHIM, "shimx64.efi.signed"), (GRUB_NET, "grubx64.efi")],
        &[(N1, &format!("grub/01-{N1}.cfg"), Some("normal-kernel"))],
        "error: bad shim signature.",
    );
}

#[test]
fn uefi_ipxe_gets_its_script_over_http_without_a_loop_or_fall_through_over_pxe_and_http_boot() {
    if !can_boot(Firmware::Uefi, &[SNPONLY]) || !can_boot(Firmware::UefiHttp, &[]) {
        return;
    }
    let url = format!("http://{SERVER}/pxe");
    // Test-local DHCP rules (pxectl renders none yet). dnsmasq takes the last matching tagged
    // `dhcp-boot`: iPXE's own request (user class `iPXE`) also matches `efi64`, so its script
    // line comes last, or it is handed snponly.efi again, and again. UEFI HTTP boot wants
    // `HTTPClient` echoed in option 60 and a URL ending in `.efi`.
    let (_env, lab) = lab(
        "/pxelinux.0",
        &[
            "--dhcp-match=set:efi64,option:client-arch,7",
            "--dhcp-vendorclass=set:http,HTTPClient",
            "--dhcp-userclass=set:ipxe,iPXE",
            "--dhcp-option-force=tag:http,60,HTTPClient",
            "--dhcp-boot=tag:efi64,/snponly.efi",
            &format!("--dhcp-boot=tag:http,{url}/snponly.efi"),
            &format!("--dhcp-boot=tag:ipxe,{url}/ipxe/boot.ipxe"),
        ],
    );
    lab.install(SNPONLY, "snponly.efi");
    // The per-MAC script when there is one, else the default; a failed boot stops with a
    // marker instead of falling through to the default (an installer): a command that fails
    // ends an iPXE script unless `||` follows it.
    lab.write(
        "ipxe/boot.ipxe",
        &format!(
            "#!ipxe\n\
             imgfetch --name node {url}/ipxe/${{mac:hexhyp}}.ipxe || goto default\n\
             chain node || goto failed\n\
             :default\n\
             chain {url}/ipxe/default.ipxe || goto failed\n\
             :failed\n\
             echo boot.ipxe: failed\n"
        ),
    );
    let entry = |profile: &str| {
        format!("#!ipxe\nkernel {url}/{profile}-kernel\ninitrd {url}/{profile}-initrd\nboot\n")
    };
    lab.write("ipxe/52-54-00-12-00-01.ipxe", &entry("normal"));
    lab.write("ipxe/default.ipxe", &entry("installer"));
    // Everything fetched over HTTP by the time the script gave up on the dummy kernel.
    let boots = |firmware: Firmware, mac: &str| {
        let mut vm = lab.boot(firmware, mac);
        vm.wait_until(|f| f.serial.contains("boot.ipxe: failed"))
    };
    let node = [
        "/pxe/ipxe/boot.ipxe",
        "/pxe/ipxe/52-54-00-12-00-01.ipxe",
        "/pxe/normal-kernel",
    ];

    let fetched = boots(Firmware::Uefi, N1);
    assert_eq!(fetched.tftp, ["snponly.efi"]);
    assert_eq!(fetched.http, node);

    let fetched = boots(Firmware::Uefi, UNKNOWN);
    assert_eq!(fetched.tftp, ["snponly.efi"]);
    assert_eq!(
        fetched.http,
        [
            "/pxe/ipxe/boot.ipxe",
            "/pxe/ipxe/default.ipxe",
            "/pxe/installer-kernel"
        ]
    );

    let fetched = boots(Firmware::UefiHttp, N1);
    assert!(fetched.tftp.is_empty(), "{:?}", fetched.tftp);
    assert_eq!(fetched.http, [&["/pxe/snponly.efi"][..], &node].concat());
}

#[test]
fn uefi_syslinux_efi_reads_the_rendered_pxelinux_config_from_its_own_folder() {
    if !can_boot(Firmware::Uefi, &[SYSLINUX_EFI64, LDLINUX_EFI64]) {
        return;
    }
    // syslinux.efi looks for `pxelinux.cfg/` and resolves `/kernel` in its own folder
    // (`efi64//kernel`): test-local links (pxectl renders none yet) point both at what
    // pxectl rendered for BIOS.
    let (_env, lab) = lab(
        "/pxelinux.0",
        &[
            "--dhcp-match=set:efi64,option:client-arch,7",
            "--dhcp-boot=tag:efi64,/efi64/syslinux.efi",
        ],
    );
    lab.install(SYSLINUX_EFI64, "efi64/syslinux.efi");
    lab.install(LDLINUX_EFI64, "efi64/ldlinux.e64");
    lab.link("efi64/pxelinux.cfg", "../pxelinux.cfg");
    lab.link("efi64/normal-kernel", "../normal-kernel");
    lab.link("efi64/normal-initrd", "../normal-initrd");
    boots(
        &lab,
        Firmware::Uefi,
        N1,
        &[
            "efi64/syslinux.efi",
            "efi64/ldlinux.e64",
            "efi64/pxelinux.cfg/01-52-54-00-12-00-01",
            "efi64/normal-kernel",
        ],
    );
}
