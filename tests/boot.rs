//! Real firmware (QEMU: `SeaBIOS` with iPXE, OVMF, OVMF with Secure Boot, OVMF's HTTP boot)
//! booting through what pxectl rendered, served by the real dnsmasq and nginx in a namespace
//! each test creates.
//! Kernels are dummy files: the proof is which files each client fetched, in which order.

mod common;

use common::boot::{
    can_boot, efi_program, pxe_program, BootLab, Fetched, Firmware, EFI_PROGRAM_STARTED, GRUB_NET,
    LDLINUX_BIOS, LDLINUX_EFI64, LOCAL_DISK_BOOTED, PXELINUX, PXE_PROGRAM_STARTED, SHIM, SNPONLY,
    SYSLINUX_EFI64,
};
use common::Env;

/// A node that boots Linux normally (`local`), switched through every profile.
const N1: &str = "52:54:00:12:00:01";
/// A node whose normal profile boots its local disk.
const N2: &str = "52:54:00:12:00:02";
const UNKNOWN: &str = "52:54:00:12:00:99";

/// The lab's description after `loaders` (the kinds of clients served, the loader): a normal,
/// an installer, a rescue, (`local_disk`) a local-disk profile and (`chained`) a chain profile
/// `chained` handing the machine to that program; n1 boots Linux normally, n2 (with
/// `local_disk`) its disk; unknown machines install.
fn description(loaders: &str, local_disk: bool, chained: Option<&str>) -> String {
    let (disk, n2) = if local_disk {
        (
            "  disk: {boot: local}\n".to_string(),
            format!("  - {{name: n2, mac: '{N2}', ip: 10.78.0.12, normal_profile: disk}}\n"),
        )
    } else {
        (String::new(), String::new())
    };
    let chain = chained.map_or(String::new(), |program| {
        format!("  chained: {{boot: chain, chain: /{program}}}\n")
    });
    format!(
        "dhcp: {{range: {{start: 10.78.0.100, end: 10.78.0.150}}, lease_time: 10m}}\n\
         {loaders}\
         profiles:\n\
         \x20 local: {{kernel: /normal-kernel, initrd: /normal-initrd, append: root=/dev/sda1}}\n\
         \x20 installer: {{kernel: /installer-kernel, initrd: /installer-initrd, append: 'url={{{{ http.url }}}}/installer'}}\n\
         \x20 rescue: {{kernel: /rescue-kernel, initrd: /rescue-initrd}}\n\
         {disk}\
         {chain}\
         roles: {{normal: local, reimage: installer, rescue: rescue, default: installer}}\n\
         nodes:\n\
         \x20 - {{name: n1, mac: '{N1}', ip: 10.78.0.11}}\n\
         {n2}"
    )
}

/// A lab on `description`, with `loaders` (installed file, name in the TFTP root) copied in
/// and dummy kernels and initrds (small enough for one TFTP packet).
fn lab(description: &str, loaders: &[(&str, &str)]) -> (Env, BootLab) {
    let env = Env::new("");
    let lab = BootLab::start(&env, description);
    for (from, to) in loaders {
        lab.install(from, to);
    }
    for profile in ["normal", "installer", "rescue"] {
        for file in ["kernel", "initrd"] {
            lab.write(
                &format!("{profile}-{file}"),
                format!("dummy {profile} {file}\n"),
            );
        }
    }
    (env, lab)
}

/// What a client fetched: over TFTP, and over HTTP.
type Fetches = (Vec<String>, Vec<String>);

/// Where a client's boot ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal<'a> {
    /// A kernel: the loader fetches it, and fails on the dummy.
    Kernel(&'a str),
    /// The local disk: no kernel fetched.
    LocalDisk,
    /// The program the `chained` profile names: fetched, and started.
    Chained(&'a str),
}

impl<'a> Goal<'a> {
    /// The last file the client fetches.
    fn last(self) -> Option<&'a str> {
        match self {
            Goal::Kernel(file) | Goal::Chained(file) => Some(file),
            Goal::LocalDisk => None,
        }
    }
}

/// How a loader shows what it did: what a client fetched (TFTP, HTTP) once it read `entry`
/// (its per-MAC entry or the default) and then the kernel or chained program `last`, or
/// booted its local disk.
struct Loader<'a> {
    firmware: Firmware,
    /// What the client fetched, given the entry and the kernel or program it must reach.
    fetches: &'a dyn Fn(&str, Option<&str>) -> Fetches,
    /// Whether the client is done: it gave up on the dummy kernel, left for the disk, or
    /// started the chained program.
    done: &'a dyn Fn(&Fetched, Goal<'_>) -> bool,
    /// n1's and n2's entries, and the default entry.
    entries: [&'a str; 3],
    /// The program, in the TFTP root, n1 is switched to (with a `chained` profile naming it)
    /// when the test chains.
    chained: Option<&'a str>,
}

/// The proof for one loader: n1 boots its normal kernel, then after `reimage` the
/// installer's, after `rescue` the rescue kernel, after `boot --profile chained` (when the
/// loader chains) the chained program, after `boot-normal` its normal kernel again; n2 (when
/// the lab has it) its local disk without fetching a kernel; an unknown MAC the default's
/// kernel. Every fetch list is compared whole, so a fall-through to the default or a loop
/// shows.
/// Returns the serial console of the last boot.
fn every_switch(env: &Env, lab: &BootLab, l: &Loader<'_>, local_disk: bool) -> String {
    let boot = |mac: &str, entry: &str, goal: Goal<'_>| {
        let mut vm = lab.boot(l.firmware, mac);
        let fetched = vm.wait_until(|f| (l.done)(f, goal));
        let expected = (l.fetches)(entry, goal.last());
        assert_eq!(
            (up_to_kernel(fetched.tftp), up_to_kernel(fetched.http)),
            expected,
            "{mac} fetched other files than expected"
        );
        fetched.serial
    };
    let [n1, n2, default] = l.entries;
    boot(N1, n1, Goal::Kernel("normal-kernel"));
    env.run_live(&["reimage", "n1"]).expect(0);
    boot(N1, n1, Goal::Kernel("installer-kernel"));
    env.run_live(&["rescue", "n1"]).expect(0);
    boot(N1, n1, Goal::Kernel("rescue-kernel"));
    if let Some(program) = l.chained {
        env.run_live(&["boot", "--profile", "chained", "n1"])
            .expect(0);
        boot(N1, n1, Goal::Chained(program));
    }
    env.run_live(&["boot-normal", "n1"]).expect(0);
    boot(N1, n1, Goal::Kernel("normal-kernel"));
    if local_disk {
        boot(N2, n2, Goal::LocalDisk);
    }
    boot(UNKNOWN, default, Goal::Kernel("installer-kernel"))
}

/// `files` up to the first kernel: pxelinux fetches the initrd right after it, before the
/// test stops the client.
fn up_to_kernel(mut files: Vec<String>) -> Vec<String> {
    if let Some(k) = files.iter().position(|f| f.ends_with("-kernel")) {
        files.truncate(k + 1);
    }
    files
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// OVMF loaded a boot option after the network's: the loader went back to the firmware.
fn firmware_went_on(f: &Fetched) -> bool {
    f.serial.matches("BdsDxe: loading Boot").count() > 1
}

/// The test's EFI program, started from the EFI system partition of the UEFI clients' disk.
fn efi_program_started_from_disk(f: &Fetched) -> bool {
    f.serial
        .contains(&format!("{EFI_PROGRAM_STARTED}[(hd0,msdos1)/EFI/BOOT]"))
}

/// The test's EFI program, fetched from the boot server by a loader.
fn efi_program_started_from_network(f: &Fetched) -> bool {
    f.serial.contains(&format!("{EFI_PROGRAM_STARTED}[]"))
}

#[test]
fn bios_clients_boot_pxelinux_through_every_switch_their_local_disk_and_a_chain() {
    if !can_boot(Firmware::Bios, &[PXELINUX, LDLINUX_BIOS]) {
        return;
    }
    let (env, lab) = lab(
        &description("", true, Some("chained.0")),
        &[(PXELINUX, "pxelinux.0"), (LDLINUX_BIOS, "ldlinux.c32")],
    );
    lab.write("chained.0", pxe_program());
    // pxelinux looks for 01-<mac> and the address's hex prefixes (not found), then `default`;
    // `LOCALBOOT 0` hands the machine back to the BIOS, which boots the disk; `PXE <file>`
    // starts the file as a PXE program.
    let fetches = |entry: &str, last: Option<&str>| {
        let mut tftp = strings(&["pxelinux.0", "ldlinux.c32"]);
        tftp.push(format!("pxelinux.cfg/{entry}"));
        tftp.extend(last.map(str::to_string));
        (tftp, Vec::new())
    };
    let done = |f: &Fetched, goal: Goal<'_>| match goal {
        Goal::Kernel(_) => f.tftp.iter().any(|t| t.ends_with("-kernel")),
        Goal::LocalDisk => f.serial.contains(LOCAL_DISK_BOOTED),
        Goal::Chained(_) => f.serial.contains(PXE_PROGRAM_STARTED),
    };
    let _ = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::Bios,
            fetches: &fetches,
            done: &done,
            entries: ["01-52-54-00-12-00-01", "01-52-54-00-12-00-02", "default"],
            chained: Some("chained.0"),
        },
        true,
    );
}

/// GRUB: its loader files, `grub/grub.cfg`, the per-MAC entry or `default.cfg`, the kernel or
/// chained program.
fn grub_fetches(loaders: &[&str], entry: &str, last: Option<&str>) -> Fetches {
    let mut tftp = strings(loaders);
    tftp.extend(["grub/grub.cfg".to_string(), format!("grub/{entry}")]);
    tftp.extend(last.map(str::to_string));
    (tftp, Vec::new())
}

/// The rendered `grub/grub.cfg` and `ipxe/boot.ipxe` say so at their end, once the entry's
/// boot failed (the kernels are dummies).
fn said_done(f: &Fetched) -> bool {
    f.serial.contains("pxectl: no profile booted")
}

const GRUB_ENTRIES: [&str; 3] = [
    "01-52:54:00:12:00:01.cfg",
    "01-52:54:00:12:00:02.cfg",
    "default.cfg",
];

#[test]
fn uefi_clients_boot_grub_through_every_switch_their_local_disk_a_chain_and_the_default() {
    if !can_boot(Firmware::Uefi, &[GRUB_NET]) {
        return;
    }
    let (env, lab) = lab(
        &description("loaders: {clients: [efi-x64]}\n", true, Some("chained.efi")),
        &[(GRUB_NET, "grubx64.efi")],
    );
    lab.install(efi_program(), "chained.efi");
    let fetches = |entry: &str, last: Option<&str>| grub_fetches(&["grubx64.efi"], entry, last);
    // The local-disk profile chainloads the disk's loader itself, before OVMF could boot
    // the disk.
    let done = |f: &Fetched, goal: Goal<'_>| match goal {
        Goal::Kernel(_) => said_done(f),
        Goal::LocalDisk => {
            assert!(
                !firmware_went_on(f),
                "GRUB went back to the firmware:\n{}",
                f.serial
            );
            efi_program_started_from_disk(f)
        }
        Goal::Chained(_) => efi_program_started_from_network(f),
    };
    let serial = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::Uefi,
            fetches: &fetches,
            done: &done,
            entries: GRUB_ENTRIES,
            chained: Some("chained.efi"),
        },
        true,
    );
    // GRUB read the dummy kernel whole and refused it: no signature was checked.
    assert!(
        serial.contains("error: premature end of file /"),
        "{serial}"
    );
}

#[test]
fn secure_boot_clients_boot_shim_then_signed_grub_through_every_switch() {
    if !can_boot(Firmware::SecureBoot, &[SHIM, GRUB_NET]) {
        return;
    }
    let (env, lab) = lab(
        &description(
            "loaders: {clients: [efi-x64], secure_boot: true}\n",
            true,
            None,
        ),
        &[(SHIM, "shimx64.efi"), (GRUB_NET, "grubx64.efi")],
    );
    let fetches = |entry: &str, last: Option<&str>| {
        grub_fetches(&["shimx64.efi", "grubx64.efi"], entry, last)
    };
    // The disk's loader is unsigned: the firmware refuses it to GRUB, which exits to the
    // firmware, which refuses it too.
    let done = |f: &Fetched, goal: Goal<'_>| match goal {
        Goal::LocalDisk => {
            let went_on = firmware_went_on(f);
            if went_on {
                let refused = f
                    .serial
                    .split_once("pxectl: disk")
                    .is_some_and(|(_, after)| {
                        after.contains("error: bad shim signature.")
                            && !after.contains(EFI_PROGRAM_STARTED)
                    });
                assert!(refused, "{}", f.serial);
            }
            went_on
        }
        _ => said_done(f),
    };
    let serial = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::SecureBoot,
            fetches: &fetches,
            done: &done,
            entries: GRUB_ENTRIES,
            chained: None,
        },
        true,
    );
    // Secure Boot was on when GRUB had shim verify the (unsigned, dummy) kernel.
    assert!(serial.contains("error: bad shim signature."), "{serial}");
}

/// iPXE: the loader by TFTP (or by HTTP boot), then `boot.ipxe`, the per-MAC script or the
/// default, and the kernel or chained program by HTTP; a failed boot ends the script (no
/// fall-through).
fn ipxe_fetches(tftp: &[&str], http: &[&str], entry: &str, last: Option<&str>) -> Fetches {
    let mut fetched = strings(http);
    fetched.push("/pxe/ipxe/boot.ipxe".into());
    fetched.push(format!("/pxe/ipxe/{entry}"));
    fetched.extend(last.map(|k| format!("/pxe/{k}")));
    (strings(tftp), fetched)
}

/// iPXE's local-disk script exits to the firmware, which boots the disk.
fn ipxe_done(f: &Fetched, goal: Goal<'_>) -> bool {
    match goal {
        Goal::Kernel(_) => said_done(f),
        Goal::LocalDisk => efi_program_started_from_disk(f),
        Goal::Chained(_) => efi_program_started_from_network(f),
    }
}

const IPXE_ENTRIES: [&str; 3] = [
    "52-54-00-12-00-01.ipxe",
    "52-54-00-12-00-02.ipxe",
    "default.ipxe",
];

#[test]
fn uefi_ipxe_gets_its_scripts_over_http_without_a_loop_through_every_switch_and_a_chain() {
    if !can_boot(Firmware::Uefi, &[SNPONLY]) {
        return;
    }
    let (env, lab) = lab(
        &description(
            "loaders: {clients: [efi-x64], loader: ipxe}\n",
            true,
            Some("chained.efi"),
        ),
        &[(SNPONLY, "snponly.efi")],
    );
    lab.install(efi_program(), "chained.efi");
    let fetches =
        |entry: &str, last: Option<&str>| ipxe_fetches(&["snponly.efi"], &[], entry, last);
    let _ = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::Uefi,
            fetches: &fetches,
            done: &ipxe_done,
            entries: IPXE_ENTRIES,
            chained: Some("chained.efi"),
        },
        true,
    );
}

#[test]
fn uefi_http_boot_gets_ipxe_by_url_then_its_scripts_through_every_switch() {
    if !can_boot(Firmware::UefiHttp, &[SNPONLY]) {
        return;
    }
    let (env, lab) = lab(
        &description("loaders: {clients: [http-x64]}\n", true, None),
        &[(SNPONLY, "snponly.efi")],
    );
    let fetches =
        |entry: &str, last: Option<&str>| ipxe_fetches(&[], &["/pxe/snponly.efi"], entry, last);
    let _ = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::UefiHttp,
            fetches: &fetches,
            done: &ipxe_done,
            entries: IPXE_ENTRIES,
            chained: None,
        },
        true,
    );
}

#[test]
fn uefi_syslinux_efi_reads_its_own_folder_through_every_switch() {
    if !can_boot(Firmware::Uefi, &[SYSLINUX_EFI64, LDLINUX_EFI64]) {
        return;
    }
    // No local-disk profile: syslinux.efi cannot boot the disk, and validation refuses one.
    let (env, lab) = lab(
        &description(
            "loaders: {clients: [efi-x64], loader: syslinux-efi}\n",
            false,
            None,
        ),
        &[
            (SYSLINUX_EFI64, "efi64/syslinux.efi"),
            (LDLINUX_EFI64, "efi64/ldlinux.e64"),
        ],
    );
    let fetches = |entry: &str, kernel: Option<&str>| {
        let mut tftp = strings(&["efi64/syslinux.efi", "efi64/ldlinux.e64"]);
        tftp.push(format!("efi64/pxelinux.cfg/{entry}"));
        tftp.extend(kernel.map(str::to_string));
        (tftp, Vec::new())
    };
    let done = |f: &Fetched, _: Goal<'_>| f.tftp.iter().any(|t| t.ends_with("-kernel"));
    let _ = every_switch(
        &env,
        &lab,
        &Loader {
            firmware: Firmware::Uefi,
            fetches: &fetches,
            done: &done,
            entries: ["01-52-54-00-12-00-01", "", "default"],
            chained: None,
        },
        false,
    );
}

/// One description serving BIOS, UEFI PXE and UEFI HTTP boot clients at once, with a node
/// forced to iPXE: dnsmasq's rules hand each its loader, the BIOS client's iPXE ROM still gets
/// pxelinux, and the iPXE just loaded gets its script, not itself again.
#[test]
fn one_description_serves_bios_uefi_and_http_boot_clients_each_their_loader() {
    if !can_boot(Firmware::Bios, &[PXELINUX, LDLINUX_BIOS, GRUB_NET, SNPONLY])
        || !can_boot(Firmware::UefiHttp, &[])
    {
        return;
    }
    let loaders = "loaders: {clients: [bios, efi-x64, http-x64]}\n";
    let text = description(loaders, false, None).replace(
        "nodes:\n",
        "nodes:\n  - {name: n3, mac: '52:54:00:12:00:03', ip: 10.78.0.13, loader: ipxe}\n",
    );
    let (_env, lab) = lab(
        &text,
        &[
            (PXELINUX, "pxelinux.0"),
            (LDLINUX_BIOS, "ldlinux.c32"),
            (GRUB_NET, "grubx64.efi"),
            (SNPONLY, "snponly.efi"),
        ],
    );
    let boot = |firmware: Firmware, mac: &str, done: &dyn Fn(&Fetched) -> bool| {
        let mut vm = lab.boot(firmware, mac);
        let f = vm.wait_until(done);
        (up_to_kernel(f.tftp), up_to_kernel(f.http))
    };
    let kernel = |f: &Fetched| f.tftp.iter().any(|t| t.ends_with("-kernel"));
    assert_eq!(
        boot(Firmware::Bios, N1, &kernel),
        (
            strings(&[
                "pxelinux.0",
                "ldlinux.c32",
                "pxelinux.cfg/01-52-54-00-12-00-01",
                "normal-kernel"
            ]),
            vec![]
        )
    );
    assert_eq!(
        boot(Firmware::Uefi, N1, &said_done),
        (
            strings(&[
                "grubx64.efi",
                "grub/grub.cfg",
                "grub/01-52:54:00:12:00:01.cfg",
                "normal-kernel"
            ]),
            vec![]
        )
    );
    assert_eq!(
        boot(Firmware::Uefi, "52:54:00:12:00:03", &said_done),
        (
            strings(&["snponly.efi"]),
            strings(&[
                "/pxe/ipxe/boot.ipxe",
                "/pxe/ipxe/52-54-00-12-00-03.ipxe",
                "/pxe/normal-kernel"
            ])
        )
    );
    assert_eq!(
        boot(Firmware::UefiHttp, N1, &said_done),
        (
            vec![],
            strings(&[
                "/pxe/snponly.efi",
                "/pxe/ipxe/boot.ipxe",
                "/pxe/ipxe/52-54-00-12-00-01.ipxe",
                "/pxe/normal-kernel"
            ])
        )
    );
}
