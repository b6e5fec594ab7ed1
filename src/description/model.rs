//! The cluster description as written in YAML, before any check.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole YAML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDescription {
    /// The machine that runs dnsmasq and nginx.
    pub server: RawServer,
    /// Where rendered files go on the boot server.
    #[serde(default)]
    pub paths: RawPaths,
    /// dnsmasq's DHCP settings.
    #[serde(default)]
    pub dhcp: RawDhcp,
    /// nginx's HTTP settings.
    #[serde(default)]
    pub http: RawHttp,
    /// A folder whose templates replace the built-in ones of the same name (relative to this file).
    #[serde(default)]
    pub templates: Option<PathBuf>,
    /// Boot profiles by name; each is rendered for every loader in use (`pxelinux.cfg/<name>`...).
    #[serde(deserialize_with = "unique_keys")]
    pub profiles: BTreeMap<String, RawProfile>,
    /// Which profile each role means.
    pub roles: RawRoles,
    /// DHCP reservations for machines that never PXE boot (switches, PDUs).
    #[serde(default)]
    pub reservations: Vec<RawReservation>,
    /// The machines pxectl images.
    #[serde(default)]
    pub nodes: Vec<RawNode>,
    /// Which clients are served, with which loaders and loader files.
    #[serde(default)]
    pub loaders: RawLoaders,
    /// Settings shared by the nodes of a group, by group name.
    #[serde(default, deserialize_with = "unique_keys")]
    pub groups: BTreeMap<String, RawGroup>,
    /// How pxectl checks and reloads dnsmasq and nginx.
    #[serde(default)]
    pub daemons: RawDaemons,
    /// Install completion callbacks and what `pxectl watch` does with them.
    #[serde(default)]
    pub lifecycle: RawLifecycle,
}

/// A map whose keys are all different: YAML would keep the last of two silently.
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Unique(std::marker::PhantomData))
}

/// Install completion callbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLifecycle {
    /// Whether nginx answers `<prefix>/done/<node>` and `<prefix>/failed/<node>` and logs them.
    pub callbacks: bool,
    /// The URL path the callbacks live under.
    pub prefix: String,
    /// The log nginx writes callbacks to, in pxectl's format (not prefixed by `--root`).
    pub log: String,
    /// nginx's main access log, where `--wait` sees a node's downloads (not prefixed by `--root`).
    pub access_log: String,
    /// dnsmasq's lease file, where `--wait` finds the address of a node without a fixed one.
    pub leases: String,
    /// dnsmasq's log (`log-facility`), where `--wait` sees a node's TFTP fetches; none by default.
    pub dnsmasq_log: Option<String>,
    /// What a `failed` callback does: `leave` the node on the installer, or switch it to `rescue`.
    pub on_failure: OnFailure,
}

impl Default for RawLifecycle {
    fn default() -> Self {
        Self {
            callbacks: false,
            prefix: "/pxectl".into(),
            log: "/var/log/nginx/pxectl-callbacks.log".into(),
            access_log: "/var/log/nginx/access.log".into(),
            leases: "/var/lib/misc/dnsmasq.leases".into(),
            dnsmasq_log: None,
            on_failure: OnFailure::Leave,
        }
    }
}

/// What a `failed` callback does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Leave the node on the reimage profile (it reinstalls on its next boot).
    #[default]
    Leave,
    /// Switch it to `roles.rescue`.
    Rescue,
}

/// The daemons pxectl verifies configs with and reloads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDaemons {
    /// dnsmasq: binary and reload method.
    pub dnsmasq: RawDaemon,
    /// nginx: binary and reload method.
    pub nginx: RawDaemon,
    /// How long a config test (`dnsmasq --test`, `nginx -t`) or a reload command may take.
    pub timeout: String,
}

impl Default for RawDaemons {
    fn default() -> Self {
        Self {
            dnsmasq: RawDaemon::default(),
            nginx: RawDaemon::default(),
            timeout: "10s".into(),
        }
    }
}

/// One daemon.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDaemon {
    /// The program, by name (looked up in `PATH`, then `/usr/sbin`) or absolute path; default: `dnsmasq` or `nginx`.
    pub binary: Option<String>,
    /// How to reload and restart it; default: the systemd unit named like the daemon.
    pub reload: Option<RawReload>,
}

/// How a daemon is reloaded and restarted: exactly one of the keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// A systemd unit: `systemctl reload UNIT` and `systemctl restart UNIT`.
    #[serde(default)]
    pub systemd: Option<String>,
    /// A pid file: SIGHUP to reload; to restart, SIGTERM then the `start` command.
    #[serde(default)]
    pub pid_file: Option<RawPidFile>,
    /// Commands of your own.
    #[serde(default)]
    pub command: Option<RawCommands>,
}

/// The pid-file reload method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPidFile {
    /// The daemon's pid file (not prefixed by `--root`).
    pub path: String,
    /// The command that starts the daemon again, as a list of arguments (needed to restart).
    #[serde(default)]
    pub start: Option<Vec<String>>,
}

/// The command reload method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommands {
    /// The command that reloads it, as a list of arguments.
    pub reload: Vec<String>,
    /// The command that restarts it, as a list of arguments.
    pub restart: Vec<String>,
}

/// The boot server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Short host name, like `node0`.
    pub hostname: String,
    /// IPv4 address with prefix length, like `192.168.10.10/24`; the subnet is derived from it.
    pub address: String,
    /// The interface dnsmasq binds to, like `eno1`.
    pub interface: String,
    /// DNS domain appended to host names, like `pc.example.com`.
    #[serde(default)]
    pub domain: Option<String>,
}

/// Output locations, as absolute paths on the boot server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPaths {
    /// dnsmasq's configuration file.
    pub dnsmasq_conf: String,
    /// nginx's main configuration file.
    pub nginx_conf: String,
    /// nginx's web root.
    pub web_root: String,
    /// dnsmasq's TFTP root; `pxelinux.cfg/` lives under it.
    pub tftp_root: String,
    /// pxectl's own files: lock, journal.
    pub state_dir: String,
}

impl Default for RawPaths {
    fn default() -> Self {
        Self {
            dnsmasq_conf: "/etc/dnsmasq.conf".into(),
            nginx_conf: "/etc/nginx/nginx.conf".into(),
            web_root: "/srv/public".into(),
            tftp_root: "/srv/public/pxe".into(),
            state_dir: "/var/lib/pxectl".into(),
        }
    }
}

/// DHCP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDhcp {
    /// The dynamic range handed to unknown machines; without it only reservations get addresses.
    pub range: Option<RawRange>,
    /// Lease time in dnsmasq's syntax: seconds, or a number with `m`, `h`, `d`, `w`, or `infinite`.
    pub lease_time: String,
    /// Whether dnsmasq reads `/etc/ethers` for MAC-to-address pairs.
    pub read_ethers: bool,
    /// The file every PXE client is told to boot, relative to the TFTP root.
    pub boot_file: String,
    /// Where reservations go: `inline` (`dhcp-host=` lines in dnsmasq.conf) or `hostsfile`.
    pub hosts: HostsMode,
    /// The `dhcp-hostsfile` in `hostsfile` mode; default: `<state_dir>/dhcp-hosts`.
    pub hostsfile: Option<String>,
    /// dnsmasq directives pxectl does not model, written verbatim into dnsmasq.conf in order.
    pub extra: Vec<String>,
}

/// Where DHCP reservations are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostsMode {
    /// `dhcp-host=` lines in dnsmasq.conf: a change needs a dnsmasq restart.
    #[default]
    Inline,
    /// A `dhcp-hostsfile` that dnsmasq re-reads on SIGHUP: adding a node needs no restart.
    Hostsfile,
}

impl Default for RawDhcp {
    fn default() -> Self {
        Self {
            range: None,
            lease_time: "1h".into(),
            read_ethers: false,
            boot_file: "/pxelinux.0".into(),
            hosts: HostsMode::Inline,
            hostsfile: None,
            extra: Vec::new(),
        }
    }
}

/// A dynamic DHCP range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    /// First address handed out.
    pub start: String,
    /// Last address handed out.
    pub end: String,
}

/// HTTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    /// nginx `server_name`s; default: the server's FQDN, host name, `localhost` and address.
    pub server_names: Option<Vec<String>>,
    /// Address nginx listens on; default: every address.
    pub listen_address: Option<String>,
    /// Port nginx listens on.
    pub port: u16,
    /// Whether the server block is nginx's `default_server`.
    pub default_server: bool,
    /// nginx `keepalive_timeout` in seconds; 0 turns keep-alive off.
    pub keepalive_timeout: u32,
    /// Whether nginx lists directories.
    pub autoindex: bool,
    /// Whether pxectl renders, verifies and reloads nginx.conf; `false` leaves the operator's own.
    pub managed: bool,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            server_names: None,
            listen_address: None,
            port: 80,
            default_server: true,
            keepalive_timeout: 0,
            autoindex: false,
            managed: true,
        }
    }
}

/// Which kinds of clients are served and with which loaders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLoaders {
    /// The kinds of clients dnsmasq answers: `bios`, `efi-ia32`, `efi-x64`, `efi-arm64`, `http-x64`, `http-arm64`.
    pub clients: Vec<String>,
    /// The loader of nodes that do not choose one, and of unknown machines: `auto` or a loader.
    pub loader: String,
    /// Whether UEFI clients boot shim, then the signed GRUB, by default.
    pub secure_boot: bool,
    /// Loader files relative to the TFTP root, by setting (`grub-x64`...), replacing Debian's names.
    #[serde(deserialize_with = "unique_keys")]
    pub files: BTreeMap<String, String>,
}

impl Default for RawLoaders {
    fn default() -> Self {
        Self {
            clients: vec!["bios".into()],
            loader: "auto".into(),
            secure_boot: false,
            files: BTreeMap::new(),
        }
    }
}

/// Settings of the nodes of a group; a node's own setting beats its group's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// The loader of its nodes: `auto` or a loader; default: `loaders.loader`.
    #[serde(default)]
    pub loader: Option<String>,
    /// Whether its nodes boot shim, then the signed GRUB; default: `loaders.secure_boot`.
    #[serde(default)]
    pub secure_boot: Option<bool>,
    /// The profile its nodes boot day to day; default: `roles.normal`.
    #[serde(default)]
    pub normal_profile: Option<String>,
    /// Kernel arguments its nodes add to every profile's; default: none.
    #[serde(default)]
    pub append: Option<String>,
}

/// One boot profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// The `LABEL`; default: the profile's name.
    #[serde(default)]
    pub label: Option<String>,
    /// What it boots: `linux` (a kernel), `local` (the machine's own disk) or `chain` (another
    /// network boot program, `chain:`).
    #[serde(default)]
    pub boot: Option<String>,
    /// Kernel path in the TFTP root, or an HTTP URL (a template string); required to boot `linux`.
    #[serde(default)]
    pub kernel: Option<String>,
    /// Initramfs path in the TFTP root, or an HTTP URL (a template string).
    #[serde(default)]
    pub initrd: Option<String>,
    /// Kernel command line (a template string).
    #[serde(default)]
    pub append: Option<String>,
    /// pxelinux `TIMEOUT`, in tenths of a second.
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// pxelinux `PROMPT`: whether to show the `boot:` prompt.
    #[serde(default)]
    pub prompt: bool,
    /// The whole pxelinux file, kept as written (no other key then); pxelinux alone can boot it.
    #[serde(default)]
    pub pxelinux: Option<String>,
    /// With `boot: chain`: the boot program, a path in the TFTP root or an HTTP URL (a template
    /// string).
    #[serde(default)]
    pub chain: Option<String>,
}

pub(super) fn default_timeout() -> u32 {
    10
}

/// The profile each role means.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoles {
    /// What a node boots day to day.
    pub normal: String,
    /// What a node boots to be reinstalled.
    pub reimage: String,
    /// What a node boots to be repaired.
    #[serde(default)]
    pub rescue: Option<String>,
    /// What an unknown machine boots (`pxelinux.cfg/default`); none when unset.
    #[serde(default)]
    pub default: Option<String>,
}

/// A DHCP reservation for a machine that never PXE boots.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReservation {
    /// Host name (one DNS label).
    pub name: String,
    /// Hardware address, in any common spelling.
    pub mac: String,
    /// Fixed IPv4 address; default: none (dnsmasq picks one, or `/etc/ethers` does).
    #[serde(default)]
    pub ip: Option<String>,
}

/// A machine pxectl images.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Host name (one DNS label).
    pub name: String,
    /// Hardware address of the interface that PXE boots, in any common spelling.
    pub mac: String,
    /// Fixed IPv4 address; default: none.
    #[serde(default)]
    pub ip: Option<String>,
    /// Groups, for selecting several nodes at once.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The profile this node boots day to day, instead of its groups' or `roles.normal`.
    #[serde(default)]
    pub normal_profile: Option<String>,
    /// Its loader, instead of its groups' or `loaders.loader`: `auto` or a loader.
    #[serde(default)]
    pub loader: Option<String>,
    /// Whether it boots shim, then the signed GRUB, instead of its groups' or `loaders.secure_boot`.
    #[serde(default)]
    pub secure_boot: Option<bool>,
    /// Kernel arguments it adds to every profile's, instead of its groups'.
    #[serde(default)]
    pub append: Option<String>,
}
