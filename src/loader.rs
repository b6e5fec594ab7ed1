//! Boot loaders and the clients they serve: the one place that knows, for each loader, where
//! its per-MAC entries and profile files live and how they are named, and, for each kind of
//! client, what DHCP sees and which loader it gets.

use std::path::{Path, PathBuf};

use crate::mac::MacAddr;

/// A kind of network-booting client, told apart by DHCP option 93 (client architecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// Legacy BIOS PXE (client-arch 0).
    Bios,
    /// UEFI IA32 PXE (6).
    EfiIa32,
    /// UEFI x64 PXE (7, and 9 which some firmware sends).
    EfiX64,
    /// UEFI arm64 PXE (11).
    EfiArm64,
    /// UEFI x64 HTTP boot (16, vendor class `HTTPClient`).
    HttpX64,
    /// UEFI arm64 HTTP boot (19).
    HttpArm64,
}

impl Arch {
    pub const ALL: [Self; 6] = [
        Self::Bios,
        Self::EfiIa32,
        Self::EfiX64,
        Self::EfiArm64,
        Self::HttpX64,
        Self::HttpArm64,
    ];

    /// The name in the description (`loaders.clients`) and the dnsmasq tag.
    pub fn key(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::EfiIa32 => "efi-ia32",
            Self::EfiX64 => "efi-x64",
            Self::EfiArm64 => "efi-arm64",
            Self::HttpX64 => "http-x64",
            Self::HttpArm64 => "http-arm64",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == key)
    }

    /// The client-arch values (DHCP option 93) that mean this kind.
    pub fn client_arch(self) -> &'static [u16] {
        match self {
            Self::Bios => &[0],
            Self::EfiIa32 => &[6],
            Self::EfiX64 => &[7, 9],
            Self::EfiArm64 => &[11],
            Self::HttpX64 => &[16],
            Self::HttpArm64 => &[19],
        }
    }

    /// Whether the firmware fetches its loader by HTTP (a URL as boot file).
    pub fn is_http(self) -> bool {
        matches!(self, Self::HttpX64 | Self::HttpArm64)
    }

    /// The CPU part of loader file settings: `x64` in `grub-x64`.
    pub fn cpu(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::EfiIa32 => "ia32",
            Self::EfiX64 | Self::HttpX64 => "x64",
            Self::EfiArm64 | Self::HttpArm64 => "arm64",
        }
    }

    /// The loader a client of this kind gets when nothing forces one, and whether `forced`
    /// can serve it at all (a loader that cannot is ignored for this kind).
    pub fn loader(self, forced: Option<Loader>) -> Loader {
        if let Some(l) = forced.filter(|l| l.serves(self)) {
            return l;
        }
        match self {
            Self::Bios => Loader::Pxelinux,
            Self::EfiIa32 | Self::EfiX64 | Self::EfiArm64 => Loader::Grub,
            Self::HttpX64 | Self::HttpArm64 => Loader::Ipxe,
        }
    }
}

/// A boot loader family: each has its own folder of per-MAC entries and profile files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Loader {
    /// pxelinux.0 (BIOS): `pxelinux.cfg/01-<mac>` → `<profile>`.
    Pxelinux,
    /// syslinux.efi (UEFI x64): `efi64/pxelinux.cfg/01-<mac>` → `<profile>`.
    SyslinuxEfi,
    /// GRUB, alone or behind shim (UEFI): `grub/01-<mac:colons>.cfg` → `<profile>.cfg`.
    Grub,
    /// iPXE (BIOS, UEFI, UEFI HTTP boot): `ipxe/<mac-hyphens>.ipxe` → `<profile>.ipxe`.
    Ipxe,
}

impl Loader {
    pub const ALL: [Self; 4] = [Self::Pxelinux, Self::SyslinuxEfi, Self::Grub, Self::Ipxe];

    /// The name in the description (`loader:`) and in messages.
    pub fn key(self) -> &'static str {
        match self {
            Self::Pxelinux => "pxelinux",
            Self::SyslinuxEfi => "syslinux-efi",
            Self::Grub => "grub",
            Self::Ipxe => "ipxe",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.key() == key)
    }

    /// Whether this loader can boot a client of kind `arch`.
    pub fn serves(self, arch: Arch) -> bool {
        match self {
            Self::Pxelinux => arch == Arch::Bios,
            Self::SyslinuxEfi => arch == Arch::EfiX64,
            Self::Grub => matches!(arch, Arch::EfiIa32 | Arch::EfiX64 | Arch::EfiArm64),
            Self::Ipxe => true,
        }
    }

    /// Whether it fetches kernels only by TFTP (an HTTP URL kernel is refused for it).
    pub fn tftp_only(self) -> bool {
        !matches!(self, Self::Ipxe)
    }

    /// How it names `file` (a kernel or an initrd: a path in the TFTP root or an HTTP URL):
    /// pxelinux as written (the first version's output), syslinux.efi `::/path` (it resolves
    /// `/path` in its own folder), GRUB `/path` on the TFTP server, iPXE the path's URL under
    /// `tftp_url`, the TFTP root's URL on nginx (unused by the others). URLs stay as they are.
    pub fn locate(self, file: &str, tftp_url: &str) -> String {
        if is_url(file) {
            return file.to_string();
        }
        match self {
            Self::Pxelinux => file.to_string(),
            Self::SyslinuxEfi => format!("::{}", tftp_path(file)),
            Self::Grub => tftp_path(file),
            Self::Ipxe => url(tftp_url, file),
        }
    }

    /// Whether it can boot the local disk (syslinux.efi has no working `LOCALBOOT`) or chain
    /// another boot program (nor a working `PXE`).
    pub fn boots_local_disk(self) -> bool {
        !matches!(self, Self::SyslinuxEfi)
    }

    /// Its folder of per-MAC entries and profile files, relative to the TFTP root.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Pxelinux => "pxelinux.cfg",
            Self::SyslinuxEfi => "efi64/pxelinux.cfg",
            Self::Grub => "grub",
            Self::Ipxe => "ipxe",
        }
    }

    /// Its folder under `tftp_root`.
    pub fn dir_in(self, tftp_root: &Path) -> PathBuf {
        tftp_root.join(self.dir())
    }

    /// The per-MAC entry's name for `mac`.
    pub fn entry(self, mac: MacAddr) -> String {
        match self {
            Self::Pxelinux | Self::SyslinuxEfi => mac.pxelinux_name(),
            Self::Grub => format!("01-{}.cfg", mac.colon()),
            Self::Ipxe => format!("{}.ipxe", mac.pxelinux_name().trim_start_matches("01-")),
        }
    }

    /// The MAC a name in the folder stands for, if it is one of this loader's entry names.
    pub fn parse_entry(self, name: &str) -> Option<MacAddr> {
        match self {
            Self::Pxelinux | Self::SyslinuxEfi => MacAddr::from_pxelinux_name(name),
            Self::Grub => {
                let mac: MacAddr = name
                    .strip_prefix("01-")?
                    .strip_suffix(".cfg")?
                    .parse()
                    .ok()?;
                (self.entry(mac) == name).then_some(mac)
            }
            Self::Ipxe => {
                let hyphens = name.strip_suffix(".ipxe")?;
                let mac = MacAddr::from_pxelinux_name(&format!("01-{hyphens}"))?;
                (self.entry(mac) == name).then_some(mac)
            }
        }
    }

    /// The file name of a profile's rendering in the folder: `stem` is the profile's name,
    /// or [`stem`]'s name of its rendering with extra kernel arguments.
    pub fn file(self, stem: &str) -> String {
        match self.suffix() {
            "" => stem.to_string(),
            s => format!("{stem}{s}"),
        }
    }

    /// The profile a file name in the folder is a rendering of, if it is named like one.
    pub fn profile_of(self, file: &str) -> Option<&str> {
        let stem = match self.suffix() {
            "" => Some(file),
            s => file.strip_suffix(s),
        }?;
        Some(stem.split_once('@').map_or(stem, |(p, _)| p)).filter(|p| !p.is_empty())
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Pxelinux | Self::SyslinuxEfi => "",
            Self::Grub => ".cfg",
            Self::Ipxe => ".ipxe",
        }
    }

    /// The entry an unknown machine reads (a link to the default profile's file).
    pub fn default_entry(self) -> String {
        self.file("default")
    }

    /// The loader's own script beside the entries, which picks the per-MAC entry or the
    /// default (GRUB and iPXE do not look one up by themselves); none for the syslinux family.
    pub fn dispatcher(self) -> Option<&'static str> {
        match self {
            Self::Pxelinux | Self::SyslinuxEfi => None,
            Self::Grub => Some("grub.cfg"),
            Self::Ipxe => Some("boot.ipxe"),
        }
    }

    /// Names in the folder that a profile may not take (its file would be one of these).
    pub fn reserved(self, profile: &str) -> bool {
        let file = self.file(profile);
        file == self.default_entry()
            || self.dispatcher() == Some(file.as_str())
            || self.parse_entry(&file).is_some()
    }
}

/// The name (before the loader's suffix) of `profile` rendered with the extra kernel arguments
/// of `variant` (a group or node, see `Cluster::variants`): `installer@rack1`; profile names
/// have no `@`.
pub fn stem(profile: &str, variant: Option<&str>) -> String {
    match variant {
        None => profile.to_string(),
        Some(v) => format!("{profile}@{v}"),
    }
}

/// Whether a kernel, initrd or loader file is a URL rather than a path in the TFTP root.
pub fn is_url(file: &str) -> bool {
    file.starts_with("http://") || file.starts_with("https://")
}

/// A path in the TFTP root as a client asks for it: absolute (`/vmlinuz`).
pub fn tftp_path(file: &str) -> String {
    format!("/{}", file.trim_start_matches('/'))
}

/// A path in the TFTP root as a URL under `tftp_url`, the TFTP root's URL on nginx.
pub fn url(tftp_url: &str, file: &str) -> String {
    format!("{tftp_url}/{}", file.trim_start_matches('/'))
}

/// Which loader a node uses and whether Secure Boot is on: one decision per node (node beats
/// group beats `loaders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Choice {
    /// `None`: each kind of client gets its usual loader ([`Arch::loader`]).
    pub loader: Option<Loader>,
    /// UEFI clients boot shim, which loads the signed GRUB beside it.
    pub secure_boot: bool,
}

impl Choice {
    /// The dnsmasq tag of nodes with this choice, like `pxectl-grub-sb` or `pxectl-auto`.
    pub fn tag(self) -> String {
        let loader = self.loader.map_or("auto", Loader::key);
        let sb = if self.secure_boot { "-sb" } else { "" };
        format!("pxectl-{loader}{sb}")
    }

    /// The choice whose [`tag`](Self::tag) `tag` is.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let rest = tag.strip_prefix("pxectl-")?;
        let (rest, secure_boot) = rest
            .strip_suffix("-sb")
            .map_or((rest, false), |r| (r, true));
        let loader = match rest {
            "auto" => None,
            key => Some(Loader::from_key(key)?),
        };
        Some(Self {
            loader,
            secure_boot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_nothing_else_parses() {
        let loaders = std::iter::once(None).chain(Loader::ALL.map(Some));
        for loader in loaders {
            for secure_boot in [false, true] {
                let choice = Choice {
                    loader,
                    secure_boot,
                };
                assert_eq!(Choice::from_tag(&choice.tag()), Some(choice));
            }
        }
        for other in [
            "pxectl-",
            "pxectl-sb",
            "pxectl-grub-sb-sb",
            "grub",
            "known",
            "pxectl-uefi",
        ] {
            assert_eq!(Choice::from_tag(other), None, "{other}");
        }
    }

    #[test]
    fn entry_names_round_trip_and_nothing_else_parses() {
        let mac: MacAddr = "52:54:00:12:00:01".parse().unwrap();
        let names = [
            (Loader::Pxelinux, "01-52-54-00-12-00-01"),
            (Loader::SyslinuxEfi, "01-52-54-00-12-00-01"),
            (Loader::Grub, "01-52:54:00:12:00:01.cfg"),
            (Loader::Ipxe, "52-54-00-12-00-01.ipxe"),
        ];
        for (loader, name) in names {
            assert_eq!(loader.entry(mac), name);
            assert_eq!(loader.parse_entry(name), Some(mac), "{name}");
        }
        for (loader, name) in [
            (Loader::Grub, "01-52-54-00-12-00-01.cfg"),
            (Loader::Grub, "grub.cfg"),
            (Loader::Grub, "01-52:54:00:12:00:01"),
            (Loader::Ipxe, "52:54:00:12:00:01.ipxe"),
            (Loader::Ipxe, "boot.ipxe"),
            (Loader::Ipxe, "01-52-54-00-12-00-01.ipxe"),
        ] {
            assert_eq!(loader.parse_entry(name), None, "{name}");
        }
    }

    #[test]
    fn profile_files_and_reserved_names() {
        assert_eq!(Loader::Grub.file("installer"), "installer.cfg");
        assert_eq!(Loader::Grub.profile_of("installer.cfg"), Some("installer"));
        assert_eq!(Loader::Grub.profile_of("installer"), None);
        assert_eq!(Loader::Ipxe.profile_of(".ipxe"), None);
        assert_eq!(Loader::Pxelinux.profile_of("installer"), Some("installer"));
        assert_eq!(
            Loader::Grub.file(&stem("installer", Some("rack1"))),
            "installer@rack1.cfg"
        );
        assert_eq!(
            Loader::Grub.profile_of("installer@rack1.cfg"),
            Some("installer")
        );
        assert_eq!(
            Loader::Pxelinux.profile_of("installer@n3"),
            Some("installer")
        );
        assert_eq!(Loader::Pxelinux.profile_of("@n3"), None);
        assert!(Loader::Grub.reserved("grub"));
        assert!(Loader::Ipxe.reserved("boot"));
        assert!(Loader::Ipxe.reserved("52-54-00-12-00-01"));
        assert!(Loader::Pxelinux.reserved("default"));
        assert!(!Loader::Grub.reserved("boot"));
    }

    #[test]
    fn each_loader_fetches_kernels_its_own_way() {
        let base = "http://10.0.0.1/pxe";
        let cases = [
            (Loader::Pxelinux, "/vmlinuz", "/vmlinuz"),
            (Loader::Pxelinux, "vmlinuz", "vmlinuz"),
            (Loader::SyslinuxEfi, "/vmlinuz", "::/vmlinuz"),
            (Loader::SyslinuxEfi, "d/vmlinuz", "::/d/vmlinuz"),
            (Loader::Grub, "vmlinuz", "/vmlinuz"),
            (Loader::Grub, "/d/vmlinuz", "/d/vmlinuz"),
            (Loader::Ipxe, "/d/vmlinuz", "http://10.0.0.1/pxe/d/vmlinuz"),
            (Loader::Ipxe, "http://h/k", "http://h/k"),
            (Loader::Ipxe, "https://h/k", "https://h/k"),
            (Loader::Pxelinux, "http://h/k", "http://h/k"),
        ];
        for (loader, file, fetched) in cases {
            assert_eq!(loader.locate(file, base), fetched, "{loader:?} {file}");
        }
    }

    #[test]
    fn each_client_gets_its_usual_loader_unless_a_loader_that_serves_it_is_forced() {
        assert_eq!(Arch::Bios.loader(None), Loader::Pxelinux);
        assert_eq!(Arch::EfiX64.loader(None), Loader::Grub);
        assert_eq!(Arch::HttpX64.loader(None), Loader::Ipxe);
        assert_eq!(Arch::Bios.loader(Some(Loader::Grub)), Loader::Pxelinux);
        assert_eq!(Arch::EfiX64.loader(Some(Loader::Ipxe)), Loader::Ipxe);
        assert_eq!(Arch::HttpX64.loader(Some(Loader::Grub)), Loader::Ipxe);
        assert_eq!(
            Arch::EfiX64.loader(Some(Loader::SyslinuxEfi)),
            Loader::SyslinuxEfi
        );
        assert_eq!(
            Arch::EfiArm64.loader(Some(Loader::SyslinuxEfi)),
            Loader::Grub
        );
    }
}
