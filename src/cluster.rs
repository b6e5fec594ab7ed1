//! The checked cluster: every value parsed, every reference resolved, ready to render.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

pub use crate::description::{HostsMode, OnFailure};
use crate::loader::{Arch, Choice, Loader};
use crate::mac::MacAddr;

/// A cluster description that passed every check.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub server: Server,
    pub paths: Paths,
    pub dhcp: Dhcp,
    pub http: Http,
    /// Template override folder, resolved against the description's folder.
    pub templates: Option<PathBuf>,
    pub profiles: BTreeMap<String, Profile>,
    pub roles: Roles,
    pub reservations: Vec<Host>,
    pub nodes: Vec<Node>,
    pub loaders: Loaders,
    /// Extra kernel arguments by the group or node that sets them (`append:`); a node's
    /// `variant` names its entry. Every profile is also rendered with each of them.
    pub variants: BTreeMap<String, String>,
    pub daemons: Daemons,
    pub lifecycle: Lifecycle,
}

/// Install completion callbacks.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub callbacks: bool,
    /// URL path prefix, like `/pxectl` (no trailing `/`).
    pub prefix: String,
    pub log: PathBuf,
    pub access_log: PathBuf,
    pub leases: PathBuf,
    pub dnsmasq_log: Option<PathBuf>,
    pub on_failure: OnFailure,
}

/// The boot server.
#[derive(Debug, Clone)]
pub struct Server {
    pub hostname: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub interface: String,
    pub domain: Option<String>,
}

impl Server {
    /// `hostname.domain`, or the bare host name without a domain.
    pub fn fqdn(&self) -> String {
        qualify(&self.hostname, self.domain.as_deref())
    }

    /// The subnet mask derived from the prefix length.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    /// The subnet's network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & mask(self.prefix))
    }

    /// The subnet's broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !mask(self.prefix))
    }

    /// Whether `ip` is a usable host address of the subnet (not network, not broadcast).
    pub fn subnet_has_host(&self, ip: Ipv4Addr) -> bool {
        let inside = u32::from(ip) & mask(self.prefix) == u32::from(self.network());
        inside && (self.prefix >= 31 || (ip != self.network() && ip != self.broadcast()))
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// `name.domain`, or `name` alone.
pub fn qualify(name: &str, domain: Option<&str>) -> String {
    match domain {
        Some(d) => format!("{name}.{d}"),
        None => name.to_string(),
    }
}

/// Output locations on the boot server (real paths, before any `--root`).
#[derive(Debug, Clone)]
pub struct Paths {
    pub dnsmasq_conf: PathBuf,
    pub nginx_conf: PathBuf,
    pub web_root: PathBuf,
    pub tftp_root: PathBuf,
    pub state_dir: PathBuf,
}

impl Paths {
    /// pxelinux's folder of configs: profiles, `default` and the per-MAC links.
    pub fn pxelinux_dir(&self) -> PathBuf {
        Loader::Pxelinux.dir_in(&self.tftp_root)
    }
}

/// DHCP settings.
#[derive(Debug, Clone)]
pub struct Dhcp {
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub lease_time: String,
    pub read_ethers: bool,
    pub boot_file: String,
    pub hosts: HostsMode,
    /// The `dhcp-hostsfile` (used in `hostsfile` mode).
    pub hostsfile: PathBuf,
    /// dnsmasq directives written verbatim after the boot lines (`dhcp.extra`).
    pub extra: Vec<String>,
}

/// How pxectl checks and reloads the daemons.
#[derive(Debug, Clone)]
pub struct Daemons {
    pub dnsmasq: Daemon,
    pub nginx: Daemon,
    /// Time limit of a config test or a reload command.
    pub timeout: std::time::Duration,
}

/// One daemon.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// `dnsmasq` or `nginx`.
    pub name: &'static str,
    /// The program: a name looked up in `PATH` (then `/usr/sbin`), or an absolute path.
    pub binary: String,
    pub reload: Reload,
}

/// How a daemon is reloaded and restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Systemd(String),
    /// Not prefixed by `--root`: it names a running process's file.
    PidFile {
        path: PathBuf,
        start: Option<Vec<String>>,
    },
    Command {
        reload: Vec<String>,
        restart: Vec<String>,
    },
}

impl Daemons {
    /// Both daemons, dnsmasq first.
    pub fn all(&self) -> [&Daemon; 2] {
        [&self.dnsmasq, &self.nginx]
    }

    /// The daemon named `name` (`dnsmasq` or `nginx`).
    pub fn named(&self, name: &str) -> Option<&Daemon> {
        self.all().into_iter().find(|d| d.name == name)
    }
}

impl Dhcp {
    /// Whether `ip` is handed out dynamically.
    pub fn in_range(&self, ip: Ipv4Addr) -> bool {
        self.range.is_some_and(|(a, b)| a <= ip && ip <= b)
    }
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct Http {
    pub server_names: Vec<String>,
    pub listen_address: Option<IpAddr>,
    pub port: u16,
    pub default_server: bool,
    pub keepalive_timeout: u32,
    pub autoindex: bool,
    /// Whether pxectl renders, verifies and reloads nginx.conf (`http.managed`).
    pub managed: bool,
    /// Base URL booting machines use to reach nginx, like `http://192.168.10.10`.
    pub url: String,
}

impl Http {
    /// The value of nginx's `listen` directive, without flags.
    pub fn listen(&self) -> String {
        match self.listen_address {
            None => self.port.to_string(),
            Some(IpAddr::V4(a)) => format!("{a}:{}", self.port),
            Some(IpAddr::V6(a)) => format!("[{a}]:{}", self.port),
        }
    }
}

/// A profile with every template string already expanded, rendered into each loader's format.
#[derive(Debug, Clone)]
pub struct Profile {
    pub label: String,
    pub boot: Boot,
    pub timeout: u32,
    pub prompt: bool,
}

impl Profile {
    /// This profile with `extra` appended to its kernel arguments (a local-disk profile has
    /// none and is unchanged).
    #[must_use]
    pub fn with_append(&self, extra: &str) -> Self {
        let mut p = self.clone();
        if let Boot::Linux { append, .. } = &mut p.boot {
            *append = Some(match append.take() {
                Some(a) => format!("{a} {extra}"),
                None => extra.to_string(),
            });
        }
        p
    }
}

/// What a profile boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// A kernel (and initrd): each a path in the TFTP root (`/vmlinuz`) or an HTTP URL.
    Linux {
        kernel: String,
        initrd: Option<String>,
        append: Option<String>,
    },
    /// The machine's own disk.
    LocalDisk,
    /// Another network boot program: a path in the TFTP root (`/undionly.kpxe`) or, for
    /// iPXE, an HTTP URL; each loader hands the machine over to it.
    Chain(String),
    /// A pxelinux file kept as written (`pxelinux:`), which no other loader can read.
    Verbatim(String),
}

/// Which clients are served and with which loader files.
#[derive(Debug, Clone)]
pub struct Loaders {
    /// The kinds of clients dnsmasq answers, in the description's order.
    pub clients: Vec<Arch>,
    /// The choice of a node that neither it nor its groups override, and of unknown machines.
    pub default: Choice,
    /// Loader files relative to the TFTP root, by setting name (`grub-x64`, `shim-x64`,
    /// `ipxe-bios`...; see [`Loaders::file_key`]): Debian's names and the description's.
    /// pxelinux's is `dhcp.boot_file`.
    pub files: BTreeMap<String, String>,
}

impl Loaders {
    /// The setting naming the file a client of kind `arch` boots with `loader` (shim's when
    /// Secure Boot is on and the loader is GRUB); none for pxelinux (`dhcp.boot_file`).
    pub fn file_key(arch: Arch, loader: Loader, secure_boot: bool) -> Option<String> {
        let family = match loader {
            Loader::Pxelinux => return None,
            Loader::Grub if secure_boot => "shim",
            l => l.key(),
        };
        Some(format!("{family}-{}", arch.cpu()))
    }

    /// The file (relative to the TFTP root) a client of kind `arch` boots with `loader`; none
    /// for pxelinux (`dhcp.boot_file`) or when no setting names one.
    pub fn file(&self, arch: Arch, loader: Loader, secure_boot: bool) -> Option<&str> {
        let key = Self::file_key(arch, loader, secure_boot)?;
        self.files.get(&key).map(String::as_str)
    }

    /// Debian's name for each loader file setting, the default.
    pub const DEBIAN_FILES: [(&'static str, &'static str); 9] = [
        ("syslinux-efi-x64", "efi64/syslinux.efi"),
        ("grub-x64", "grubx64.efi"),
        ("grub-ia32", "grubia32.efi"),
        ("grub-arm64", "grubaa64.efi"),
        ("shim-x64", "shimx64.efi"),
        ("shim-ia32", "shimia32.efi"),
        ("shim-arm64", "shimaa64.efi"),
        ("ipxe-bios", "undionly.kpxe"),
        ("ipxe-x64", "snponly.efi"),
    ];

    /// Every loader a node's entries exist for: each served kind's loader for every choice in
    /// use (the default's and the nodes'), in [`Loader::ALL`]'s order.
    pub fn in_use<'a>(&'a self, choices: impl IntoIterator<Item = &'a Choice>) -> Vec<Loader> {
        let mut used = std::collections::BTreeSet::new();
        for choice in std::iter::once(&self.default).chain(choices) {
            for arch in &self.clients {
                used.insert(arch.loader(choice.loader));
            }
        }
        used.into_iter().collect()
    }
}

/// The profile each role means; all name described profiles.
#[derive(Debug, Clone)]
pub struct Roles {
    pub normal: String,
    pub reimage: String,
    pub rescue: Option<String>,
    pub default: Option<String>,
}

impl Cluster {
    /// The loaders whose entries every node has ([`Loaders::in_use`]).
    pub fn loaders_in_use(&self) -> Vec<Loader> {
        self.loaders.in_use(self.nodes.iter().map(|n| &n.choice))
    }

    /// The TFTP root's URL on nginx (`http.url` and the TFTP root's path in the web root,
    /// like `http://192.168.10.10/pxe`); none when the TFTP root is outside the web root.
    pub fn tftp_url(&self) -> Option<String> {
        url_of_dir(&self.http.url, &self.paths.web_root, &self.paths.tftp_root)
    }
}

/// The host in nginx's base URL: the address nginx listens on, else (none, or all
/// addresses) the server's.
pub fn http_host(listen: Option<std::net::IpAddr>, server: std::net::Ipv4Addr) -> String {
    match listen {
        Some(std::net::IpAddr::V4(a)) if !a.is_unspecified() => a.to_string(),
        Some(std::net::IpAddr::V6(a)) if !a.is_unspecified() => format!("[{a}]"),
        _ => server.to_string(),
    }
}

/// nginx's base URL (`http.url`) for `host` (an address) and `port`.
pub fn http_url(host: &str, port: u16) -> String {
    if port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{port}")
    }
}

/// The URL of `dir` on nginx, whose web root `web_root` is at `base`; none when `dir` is
/// outside the web root.
pub fn url_of_dir(base: &str, web_root: &Path, dir: &Path) -> Option<String> {
    let mut url = base.to_string();
    for part in dir.strip_prefix(web_root).ok()? {
        url.push('/');
        url.push_str(&part.to_string_lossy());
    }
    Some(url)
}

/// A DHCP reservation that never PXE boots.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub mac: MacAddr,
    pub ip: Option<Ipv4Addr>,
}

/// A machine pxectl images.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub mac: MacAddr,
    pub ip: Option<Ipv4Addr>,
    pub groups: Vec<String>,
    /// The profile it boots day to day (its override, else its group's, else `roles.normal`).
    pub normal_profile: String,
    /// Its loader and Secure Boot setting (its own, else its group's, else `loaders`').
    pub choice: Choice,
    /// The key in [`Cluster::variants`] of its extra kernel arguments (its own `append`, named
    /// after it, else its group's, named after the group); none without.
    pub variant: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(address: &str, prefix: u8) -> Server {
        Server {
            hostname: "node0".into(),
            address: address.parse().unwrap(),
            prefix,
            interface: "eno1".into(),
            domain: Some("pc.example.com".into()),
        }
    }

    #[test]
    fn derives_the_subnet() {
        let s = server("192.168.10.10", 24);
        assert_eq!(s.network(), Ipv4Addr::new(192, 168, 10, 0));
        assert_eq!(s.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(s.broadcast(), Ipv4Addr::new(192, 168, 10, 255));
        assert!(s.subnet_has_host(Ipv4Addr::new(192, 168, 10, 1)));
        assert!(!s.subnet_has_host(Ipv4Addr::new(192, 168, 10, 0)));
        assert!(!s.subnet_has_host(Ipv4Addr::new(192, 168, 10, 255)));
        assert!(!s.subnet_has_host(Ipv4Addr::new(192, 168, 11, 1)));
        assert_eq!(s.fqdn(), "node0.pc.example.com");
    }

    #[test]
    fn handles_extreme_prefixes() {
        assert_eq!(server("10.1.2.3", 0).network(), Ipv4Addr::UNSPECIFIED);
        let s = server("10.1.2.3", 32);
        assert_eq!(s.network(), Ipv4Addr::new(10, 1, 2, 3));
        assert!(s.subnet_has_host(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(!s.subnet_has_host(Ipv4Addr::new(10, 1, 2, 4)));
    }
}
