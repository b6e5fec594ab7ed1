//! Real firmware booting through what pxectl rendered: a network namespace holding a bridge and
//! a tap for QEMU, the real dnsmasq and nginx started from the rendered configs, and the files
//! each client fetched read off dnsmasq's TFTP log and nginx's access log.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{have, is_root, prerequisite, run_ok, start_nginx_in, Env, StopByPidFile};

/// The boot server's address on the namespace's bridge; clients get addresses beside it.
pub const SERVER: &str = "10.78.0.1";
/// The bridge dnsmasq answers on, inside the namespace.
const BRIDGE: &str = "pxbr0";
const TAP: &str = "pxtap0";
/// How long a client may take from power-on to its last expected fetch. A boot takes 5-25 s
/// under TCG on two idle cores, and up to 60 s seen on cores shared with compilers.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// Debian's loaders, as their packages install them.
pub const PXELINUX: &str = "/usr/lib/PXELINUX/pxelinux.0";
pub const LDLINUX_BIOS: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";
/// Debian's signed GRUB netboot image (grub-efi-amd64-signed); `$prefix` is `grub` beside it.
pub const GRUB_NET: &str = "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed";
/// Microsoft-signed shim (shim-signed); it loads `grubx64.efi` from its own folder.
pub const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";

/// syslinux.efi (syslinux-efi) and its core module (syslinux-common), for x64.
pub const SYSLINUX_EFI64: &str = "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi";
pub const LDLINUX_EFI64: &str = "/usr/lib/syslinux/modules/efi64/ldlinux.e64";
/// iPXE for UEFI firmware's own network driver (ipxe).
pub const SNPONLY: &str = "/usr/lib/ipxe/snponly.efi";

/// What the BIOS client's local disk prints on its serial port when it is booted.
pub const LOCAL_DISK_BOOTED: &str = "pxectl-test: booted the local disk";
/// What [`pxe_program`] prints on its serial port when it is started.
pub const PXE_PROGRAM_STARTED: &str = "pxectl-test: started the chained PXE program";
/// What [`efi_program`] prints when it is started, followed by where it was loaded from
/// (GRUB's `$cmdpath`).
pub const EFI_PROGRAM_STARTED: &str = "pxectl-test: EFI program started from ";

/// 16-bit code for address 0x7c00, where the BIOS loads a boot sector and pxelinux a PXE
/// program: prints `message` to COM1 and halts.
fn print_and_halt(message: &str) -> Vec<u8> {
    // ds = 0; si = message; dx = COM1; print until 0; halt.
    let mut code = vec![
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xD8, // mov ds, ax
        0xBE, 0x15, 0x7C, // mov si, 0x7c15 (the message, 21 bytes in)
        0xBA, 0xF8, 0x03, // mov dx, 0x3f8
        0xAC, // next: lodsb
        0x84, 0xC0, // test al, al
        0x74, 0x03, // jz halt
        0xEE, // out dx, al
        0xEB, 0xF8, // jmp next
        0xF4, // halt: hlt
        0xEB, 0xFD, // jmp halt
    ];
    code.extend_from_slice(message.as_bytes());
    code.extend_from_slice(b"\r\n\0");
    code
}

/// A disk whose boot sector prints [`LOCAL_DISK_BOOTED`] to COM1 and halts: a BIOS client
/// that leaves the network for its disk (pxelinux `LOCALBOOT 0`) shows it on its console.
fn local_disk() -> Vec<u8> {
    let mut sector = print_and_halt(LOCAL_DISK_BOOTED);
    sector.resize(510, 0);
    sector.extend_from_slice(&[0x55, 0xAA]);
    sector.resize(64 * 1024, 0);
    sector
}

/// A PXE program (for pxelinux's `PXE <file>`) that prints [`PXE_PROGRAM_STARTED`] to COM1 and
/// halts.
pub fn pxe_program() -> Vec<u8> {
    print_and_halt(PXE_PROGRAM_STARTED)
}

/// The EFI program the UEFI clients' disk boots and chain profiles hand a UEFI machine to.
pub fn efi_program() -> &'static Path {
    &efi_files().0
}

/// The UEFI clients' disk: an MBR whose one partition, an EFI system partition (FAT), holds
/// [`efi_program`] at the removable path `/EFI/BOOT/BOOTX64.EFI`.
fn esp_disk() -> &'static Path {
    &efi_files().1
}

/// [`efi_program`] and [`esp_disk`], built once per test process into cargo's scratch folder
/// for tests (each moved into place whole, so a concurrent run sees the old or the new file).
fn efi_files() -> &'static (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let build = tempfile::tempdir_in(scratch).expect("a build folder");
        let dir = build.path();
        // A GRUB image whose built-in config prints the marker, then waits at GRUB's prompt;
        // part_msdos in its core so that `$cmdpath` names the partition.
        let config = dir.join("grub.cfg");
        fs::write(
            &config,
            format!("echo \"{EFI_PROGRAM_STARTED}[$cmdpath]\"\n"),
        )
        .expect("write the EFI program's grub.cfg");
        let program = dir.join("bootx64.efi");
        run_ok(
            Command::new("grub-mkstandalone")
                .args(["-O", "x86_64-efi", "--modules=part_msdos"])
                .args([
                    "--install-modules=normal echo",
                    "--locales=",
                    "--fonts=",
                    "--themes=",
                ])
                .arg("-o")
                .arg(&program)
                .arg(format!("boot/grub/grub.cfg={}", config.display())),
        );
        // A 2 MiB FAT file system, then the disk: the partition table, the partition at 1 MiB.
        let esp = dir.join("esp.img");
        let image = esp.display().to_string();
        run_ok(Command::new("mformat").args([
            "-i", &image, "-C", "-T", "4096", "-h", "64", "-s", "32", "::",
        ]));
        run_ok(Command::new("mmd").args(["-i", &image, "::/EFI", "::/EFI/BOOT"]));
        run_ok(
            Command::new("mcopy")
                .args(["-i", &image])
                .arg(&program)
                .arg("::/EFI/BOOT/BOOTX64.EFI"),
        );
        let esp = fs::read(&esp).expect("read the EFI system partition");
        let sectors = u32::try_from(esp.len() / 512).expect("a small partition");
        let mut disk = vec![0; 1 << 20];
        // The first entry: not active, no CHS, type 0xEF (EFI system), first sector, length.
        disk[446..454].copy_from_slice(&[0x00, 0xFE, 0xFF, 0xFF, 0xEF, 0xFE, 0xFF, 0xFF]);
        disk[454..458].copy_from_slice(&2048_u32.to_le_bytes());
        disk[458..462].copy_from_slice(&sectors.to_le_bytes());
        disk[510..512].copy_from_slice(&[0x55, 0xAA]);
        disk.extend_from_slice(&esp);
        fs::write(dir.join("disk.img"), disk).expect("write the UEFI clients' disk");
        let files = (
            scratch.join("boot-lab-bootx64.efi"),
            scratch.join("boot-lab-esp-disk.img"),
        );
        fs::rename(&program, &files.0).expect("move the EFI program into place");
        fs::rename(dir.join("disk.img"), &files.1).expect("move the disk into place");
        files
    })
}

const QEMU: &str = "qemu-system-x86_64";
const OVMF: &str = "/usr/share/OVMF";

/// The firmware a client boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// `SeaBIOS` with iPXE as the e1000's option ROM (ipxe-qemu): a BIOS PXE client, arch 0.
    Bios,
    /// OVMF's own PXE over a virtio NIC: a UEFI x64 client, arch 7.
    Uefi,
    /// OVMF with Microsoft's keys enrolled and Secure Boot on (needs SMM, so q35).
    SecureBoot,
    /// OVMF's HTTP boot over IPv4 (its PXE options turned off): arch 16, vendor class
    /// `HTTPClient`.
    UefiHttp,
}

impl Firmware {
    /// OVMF's code and the template of its variable store, for UEFI firmware.
    fn ovmf(self) -> Option<(&'static str, &'static str)> {
        match self {
            Firmware::Bios => None,
            Firmware::Uefi | Firmware::UefiHttp => Some(("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd")),
            Firmware::SecureBoot => Some(("OVMF_CODE_4M.ms.fd", "OVMF_VARS_4M.ms.fd")),
        }
    }

    /// The files QEMU needs for this firmware, and for UEFI the GRUB modules [`efi_program`]
    /// is built from.
    fn files(self) -> Vec<String> {
        match self.ovmf() {
            // seabios, ipxe-qemu
            None => vec![
                "/usr/share/seabios/bios-256k.bin".into(),
                "/usr/lib/ipxe/qemu/efi-e1000.rom".into(),
            ],
            // ovmf, grub-efi-amd64-bin
            Some((code, vars)) => vec![
                format!("{OVMF}/{code}"),
                format!("{OVMF}/{vars}"),
                "/usr/lib/grub/x86_64-efi/moddep.lst".into(),
            ],
        }
    }

    /// The programs that build the disk for this firmware: for UEFI, [`esp_disk`]'s.
    fn builders(self) -> &'static [&'static str] {
        match self {
            Firmware::Bios => &[],
            _ => &["grub-mkstandalone", "mformat", "mmd", "mcopy"],
        }
    }

    /// QEMU's arguments for this firmware, its writable variable store copied to `vars`, and
    /// its disk: for BIOS the [`local_disk`] written to `disk`, for UEFI the [`esp_disk`] (read
    /// only, shared).
    fn args(self, vars: &Path, disk: &Path) -> Vec<String> {
        let machine: &[&str] = match self {
            Firmware::Bios => {
                fs::write(disk, local_disk()).expect("write the local disk");
                &["-machine", "pc", "-boot", "n"]
            }
            Firmware::Uefi | Firmware::UefiHttp => &["-machine", "q35"],
            Firmware::SecureBoot => &[
                "-machine",
                "q35,smm=on",
                "-global",
                "driver=cfi.pflash01,property=secure,value=on",
            ],
        };
        let mut args: Vec<String> = machine.iter().map(ToString::to_string).collect();
        if self == Firmware::Bios {
            args.extend([
                "-drive".into(),
                format!("file={},format=raw,if=ide", disk.display()),
            ]);
        } else {
            // In the boot order after the NIC: OVMF connects only the devices in it.
            args.extend([
                "-drive".into(),
                format!(
                    "file={},format=raw,if=none,id=disk,readonly=on",
                    esp_disk().display()
                ),
                "-device".into(),
                "virtio-blk-pci,drive=disk,bootindex=2".into(),
            ]);
        }
        if let Some((code, template)) = self.ovmf() {
            fs::copy(format!("{OVMF}/{template}"), vars).expect("copy the OVMF variable store");
            args.extend([
                "-drive".into(),
                format!("if=pflash,format=raw,unit=0,readonly=on,file={OVMF}/{code}"),
                "-drive".into(),
                format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            ]);
        }
        // OVMF tries PXEv4, PXEv6, HTTPv4, HTTPv6 in turn; options turned off are not tried.
        let off: &[&str] = match self {
            Firmware::Bios => &[],
            Firmware::Uefi | Firmware::SecureBoot => &["IPv6PXESupport"],
            Firmware::UefiHttp => &["IPv4PXESupport", "IPv6PXESupport"],
        };
        for option in off {
            args.extend([
                "-fw_cfg".into(),
                format!("name=opt/org.tianocore/{option},string=n"),
            ]);
        }
        args
    }

    /// The NIC: iPXE's ROM drives the e1000 under `SeaBIOS`; under OVMF, OVMF's own virtio
    /// driver, with no option ROM, so the client is OVMF's PXE and HTTP boot.
    fn nic(self, mac: &str) -> String {
        match self {
            Firmware::Bios => format!("e1000,netdev=n0,mac={mac}"),
            _ => format!("virtio-net-pci,netdev=n0,mac={mac},romfile=,bootindex=1"),
        }
    }
}

/// Whether this machine can boot `firmware` clients: root (namespaces, taps), the daemons,
/// QEMU and the firmware files; `loaders` are the loader files the test copies in. Prints why
/// not and returns false (fails under `CI=true`).
#[track_caller]
pub fn can_boot(firmware: Firmware, loaders: &[&str]) -> bool {
    let missing: Vec<String> = firmware
        .files()
        .into_iter()
        .chain(loaders.iter().map(ToString::to_string))
        .filter(|f| !Path::new(f).exists())
        .collect();
    prerequisite(is_root(), "network namespaces and taps need root")
        && prerequisite(have("ip"), "iproute2 (`ip`) is not installed")
        && prerequisite(
            have("dnsmasq") && have("nginx"),
            "dnsmasq and nginx are not installed (`bash scripts/test` installs them)",
        )
        && prerequisite(
            have(QEMU),
            "QEMU is not installed (`bash scripts/test` installs qemu-system-x86)",
        )
        && prerequisite(
            Path::new("/dev/net/tun").exists(),
            "/dev/net/tun is missing (QEMU's tap needs it)",
        )
        && prerequisite(
            firmware.builders().iter().all(|b| have(b)),
            &format!(
                "{} are not all installed (`bash scripts/test` installs grub-common and mtools)",
                firmware.builders().join(", ")
            ),
        )
        && prerequisite(
            missing.is_empty(),
            &format!(
                "missing {} (`bash scripts/test` installs them)",
                missing.join(", ")
            ),
        )
}

/// The parts of a description the lab depends on, for a scratch folder `base`: the server on
/// the bridge, every path inside `base`, dnsmasq's and nginx's logs there, and reload commands
/// that touch no daemon of this machine.
fn lab_description(base: &Path) -> String {
    format!(
        "server: {{hostname: boot, address: {SERVER}/24, interface: {BRIDGE}, domain: lab.test}}\n\
         paths: {{dnsmasq_conf: {b}/etc/dnsmasq.conf, nginx_conf: {b}/etc/nginx/nginx.conf, web_root: {b}/srv, tftp_root: {b}/srv/pxe, state_dir: {b}/state}}\n\
         lifecycle: {{callbacks: true, log: {b}/callbacks.log, access_log: {b}/access.log, leases: {b}/leases, dnsmasq_log: {b}/dnsmasq.log}}\n\
         daemons:\n\
         \x20 dnsmasq: {{reload: {{command: {{reload: [true], restart: [true]}}}}}}\n\
         \x20 nginx: {{reload: {{command: {{reload: [true], restart: [true]}}}}}}\n",
        b = base.display()
    )
}

/// A network namespace with a bridge (the server's address) and a tap for QEMU, and the real
/// dnsmasq and nginx in it, started from the configs pxectl rendered. Everything is stopped by
/// pid and the namespace deleted when dropped, even when the test fails.
pub struct BootLab {
    ns: String,
    base: PathBuf,
    /// dnsmasq, started again for each client (see [`BootLab::boot`]).
    dnsmasq: RefCell<Option<StopByPidFile>>,
    nginx: Option<StopByPidFile>,
    boots: AtomicU32,
}

impl BootLab {
    /// Renders, with `pxectl render`, the description of `env`: what the lab depends on (the
    /// server on the bridge, every path in the scratch folder, no daemon of this machine
    /// reloaded) followed by `description` (`dhcp`, `loaders`, `profiles`, `roles`, `nodes`).
    /// Then starts the lab on the rendered files.
    pub fn start(env: &Env, description: &str) -> Self {
        static LABS: AtomicU32 = AtomicU32::new(0);
        let base = env.dir.path().to_path_buf();
        env.write_config(&format!("{}{description}", lab_description(&base)));
        super::copy_mime_types(&base);
        env.run_live(&["render"])
            .expect(0)
            .stdout_has("dnsmasq --test`: ok")
            .stdout_has("nginx -t`: ok");
        let mut lab = Self {
            ns: format!(
                "pxboot{}-{}",
                std::process::id(),
                LABS.fetch_add(1, Ordering::Relaxed)
            ),
            base: base.clone(),
            dnsmasq: RefCell::new(None),
            nginx: None,
            boots: AtomicU32::new(0),
        };
        let ns = lab.ns.clone();
        let ip = |args: &[&str]| run_ok(Command::new("ip").arg("-n").arg(&ns).args(args));
        run_ok(Command::new("ip").args(["netns", "add", &ns]));
        ip(&["link", "set", "lo", "up"]);
        ip(&["link", "add", BRIDGE, "type", "bridge"]);
        ip(&["addr", "add", &format!("{SERVER}/24"), "dev", BRIDGE]);
        // For dnsmasq's router advertisements: iPXE waits some 13 s for one otherwise.
        ip(&["addr", "add", "fd00:78::1/64", "dev", BRIDGE, "nodad"]);
        ip(&["link", "set", BRIDGE, "up"]);
        ip(&["tuntap", "add", "dev", TAP, "mode", "tap"]);
        ip(&["link", "set", TAP, "master", BRIDGE, "up"]);

        lab.start_dnsmasq();
        lab.nginx = Some(start_nginx_in(
            Some(&lab.ns),
            &base.join("etc/nginx/nginx.conf"),
            &base,
        ));
        lab
    }

    /// (Re)starts dnsmasq on the rendered config, plus what only a test adds: its own pid,
    /// lease and log files, no DNS, no privilege drop (the temp dir is root's), DHCP details in
    /// the log, IPv6 router advertisements.
    fn start_dnsmasq(&self) {
        let pid_file = self.base.join("dnsmasq.pid");
        // The old one first, and its pid file: dnsmasq leaves it behind.
        self.dnsmasq.replace(None);
        let _ = fs::remove_file(&pid_file);
        self.dnsmasq.replace(Some(StopByPidFile(pid_file.clone())));
        run_ok(
            self.exec("dnsmasq")
                .arg("-C")
                .arg(self.base.join("etc/dnsmasq.conf"))
                .arg(format!("--pid-file={}", pid_file.display()))
                .arg(format!(
                    "--dhcp-leasefile={}",
                    self.base.join("leases").display()
                ))
                .arg(format!("--log-facility={}", self.dnsmasq_log().display()))
                .args(["--port=0", "--user=root", "--log-dhcp", "--enable-ra"])
                .arg(format!("--dhcp-range=::,constructor:{BRIDGE},ra-only")),
        );
        assert!(
            super::eventually(5, || pid_file.exists()),
            "dnsmasq wrote no pid file"
        );
    }

    /// `program` run inside the namespace.
    fn exec(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, program]);
        cmd
    }

    pub fn tftp_root(&self) -> PathBuf {
        self.base.join("srv/pxe")
    }

    /// Copies the file `from` (a loader) to `to`, relative to the TFTP root.
    pub fn install(&self, from: impl AsRef<Path>, to: &str) {
        let from = from.as_ref();
        let dest = self.tftp_root().join(to);
        fs::create_dir_all(dest.parent().expect("a file")).expect("create the loader's folder");
        fs::copy(from, &dest)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), dest.display()));
    }

    /// Writes `text` to `rel`, relative to the TFTP root: the dummy kernels, [`pxe_program`].
    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let dest = self.tftp_root().join(rel);
        fs::create_dir_all(dest.parent().expect("a file")).expect("create the file's folder");
        fs::write(&dest, text).expect("write into the TFTP root");
    }

    /// Powers on a client with `firmware` and `mac` (TCG, no display, no reboot, serial to a
    /// file). Only one client runs at a time: they share the tap.
    pub fn boot(&self, firmware: Firmware, mac: &str) -> Vm<'_> {
        let n = self.boots.fetch_add(1, Ordering::Relaxed);
        // A fresh dnsmasq: the previous client was killed mid-transfer, and dnsmasq logs a
        // file whose last ACK never came as `sent` when it gives up, some 30 s later.
        if n > 0 {
            self.start_dnsmasq();
        }
        let serial = self.base.join(format!("serial-{n}.log"));
        let output = fs::File::create(self.base.join(format!("qemu-{n}.log"))).expect("qemu log");
        let from = (log_len(&self.dnsmasq_log()), log_len(&self.access_log()));
        let child = self
            .exec(QEMU)
            .args([
                "-accel",
                "tcg",
                "-m",
                "512",
                "-nographic",
                "-monitor",
                "none",
            ])
            .args(["-no-reboot", "-serial"])
            .arg(format!("file:{}", serial.display()))
            .args(firmware.args(
                &self.base.join(format!("vars-{n}.fd")),
                &self.base.join(format!("disk-{n}.img")),
            ))
            .arg("-netdev")
            .arg(format!("tap,id=n0,ifname={TAP},script=no,downscript=no"))
            .arg("-device")
            .arg(firmware.nic(mac))
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("qemu log"))
            .stderr(output)
            // `ip netns exec` execs the program: this is QEMU's pid.
            .spawn()
            .expect("start QEMU");
        Vm {
            lab: self,
            child,
            serial,
            from,
            started: Instant::now(),
        }
    }

    fn dnsmasq_log(&self) -> PathBuf {
        self.base.join("dnsmasq.log")
    }

    fn access_log(&self) -> PathBuf {
        self.base.join("access.log")
    }
}

impl Drop for BootLab {
    fn drop(&mut self) {
        // Daemons first: the namespace outlives its name while they run in it.
        self.dnsmasq.replace(None);
        self.nginx = None;
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn log_len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// `path`'s text from byte `from` on.
fn log_from(path: &Path, from: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let from = usize::try_from(from).expect("fits").min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

/// What a client fetched since it was powered on, in order.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Files dnsmasq sent whole over TFTP (its `sent <path> to <client>` lines), relative to
    /// the TFTP root. A file sent twice in a row counts once: OVMF and iPXE ask for a loader's
    /// size with a first transfer they abort, which dnsmasq may log as sent.
    pub tftp: Vec<String>,
    /// Paths nginx answered GET with 200 (its access log).
    pub http: Vec<String>,
    /// The client's serial console.
    pub serial: String,
}

impl Fetched {
    /// The files fetched over TFTP up to the first `last`, when it was fetched.
    pub fn tftp_through(&self, last: &str) -> Option<Vec<String>> {
        through(&self.tftp, last)
    }

    /// The paths fetched over HTTP up to the first `last`, when it was fetched.
    pub fn http_through(&self, last: &str) -> Option<Vec<String>> {
        through(&self.http, last)
    }
}

fn through(files: &[String], last: &str) -> Option<Vec<String>> {
    let end = files.iter().position(|f| f == last)?;
    Some(files[..=end].to_vec())
}

/// A running client; QEMU is killed by pid when dropped.
pub struct Vm<'a> {
    lab: &'a BootLab,
    child: Child,
    serial: PathBuf,
    /// Where dnsmasq's and nginx's logs ended when it was powered on.
    from: (u64, u64),
    started: Instant,
}

impl Vm<'_> {
    /// What the client fetched so far.
    pub fn fetched(&self) -> Fetched {
        let root = self.lab.tftp_root();
        let root = root.to_string_lossy();
        let mut tftp: Vec<String> = Vec::new();
        for line in log_from(&self.lab.dnsmasq_log(), self.from.0).lines() {
            let Some((_, rest)) = line.split_once("dnsmasq-tftp[") else {
                continue;
            };
            let Some(path) = rest
                .split_once("]: sent ")
                .and_then(|(_, sent)| sent.rsplit_once(" to "))
                .map(|(path, _)| path)
            else {
                continue;
            };
            // pxelinux asks for `/kernel` beside its own folder: dnsmasq logs `<root>//kernel`.
            let path = path
                .strip_prefix(&*root)
                .unwrap_or(path)
                .trim_start_matches('/')
                .replace("//", "/");
            if tftp.last() != Some(&path) {
                tftp.push(path);
            }
        }
        let http = log_from(&self.lab.access_log(), self.from.1)
            .lines()
            .filter_map(|line| {
                let (_, request) = line.split_once("\"GET ")?;
                let (path, rest) = request.split_once(' ')?;
                let (_, status) = rest.split_once("\" ")?;
                status.starts_with("200 ").then(|| path.to_string())
            })
            .collect();
        Fetched {
            tftp,
            http,
            serial: fs::read_to_string(&self.serial).unwrap_or_default(),
        }
    }

    /// Waits until `done` holds for what the client fetched, and returns that; QEMU is then
    /// killed when the `Vm` is dropped. Fails with the logs after [`BOOT_TIMEOUT`] or when
    /// QEMU exits first.
    #[track_caller]
    pub fn wait_until(&mut self, done: impl Fn(&Fetched) -> bool) -> Fetched {
        loop {
            let fetched = self.fetched();
            if done(&fetched) {
                eprintln!(
                    "fetched in {:.1} s: {:?} {:?}",
                    self.started.elapsed().as_secs_f64(),
                    fetched.tftp,
                    fetched.http
                );
                return fetched;
            }
            let exited = self.child.try_wait().expect("QEMU's status");
            assert!(
                exited.is_none() && self.started.elapsed() <= BOOT_TIMEOUT,
                "the client did not fetch what was expected within {BOOT_TIMEOUT:?} \
                 (QEMU exited: {exited:?})\nfetched: {:?}\nover HTTP: {:?}\n--- dnsmasq log\n{}\n\
                 --- serial console (tail)\n{}",
                fetched.tftp,
                fetched.http,
                // Without the per-option lines of --log-dhcp.
                log_from(&self.lab.dnsmasq_log(), self.from.0)
                    .lines()
                    .filter(|l| !l.contains(" sent size: ") && !l.contains(" requested options: "))
                    .collect::<Vec<_>>()
                    .join("\n"),
                tail(&fetched.serial, 3000),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn tail(text: &str, chars: usize) -> &str {
    let mut start = text.len().saturating_sub(chars);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Drop for Vm<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
