//! Turns a raw description into a checked [`Cluster`], reporting every problem at once.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::loaders::{Extra, Groups, Use, Uses};
use super::model::{RawDaemon, RawDescription, RawNode, RawProfile, RawReservation};
use crate::cluster::{
    Boot, Cluster, Daemon, Daemons, Dhcp, Host, Http, Lifecycle, Node, OnFailure, Paths, Profile,
    Reload, Roles, Server,
};
use crate::diagnostic::Diagnostic;
use crate::loader::{Choice, Loader};
use crate::mac::MacAddr;
use crate::templates;

/// Checks `raw`; `base_dir` is the description's folder, for relative paths in it.
pub fn validate(raw: &RawDescription, base_dir: &Path) -> Result<Cluster, Vec<Diagnostic>> {
    let mut v = Validator::default();
    let server = v.server(raw);
    let paths = v.paths(raw);
    let dhcp = v.dhcp(raw, server.as_ref(), paths.as_ref());
    let daemons = v.daemons(raw);
    let lifecycle = v.lifecycle(raw);
    let http = v.http(raw, server.as_ref());
    let profiles = v.profiles(raw, server.as_ref(), http.as_ref(), paths.as_ref());
    let roles = v.roles(raw);
    let loaders = v.loaders(raw);
    let groups = v.groups(raw);
    let default = loaders.as_ref().map_or_else(Choice::default, |l| l.default);
    let mut uses = Uses::new(default);
    let reservations: Vec<Option<Host>> = raw
        .reservations
        .iter()
        .enumerate()
        .map(|(i, r)| v.reservation(i, r))
        .collect();
    // Extra kernel arguments by the name of their renderings, with where they are set.
    let mut variants: BTreeMap<String, (String, String)> = BTreeMap::new();
    let nodes: Vec<Option<Node>> = raw
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (mut node, choice, extra) = v.node(i, n, raw, &groups, default)?;
            uses.add(choice);
            if let Some((name, args, at)) = extra {
                match variants.get(name) {
                    Some((first, first_at)) if first != args => v.push(
                        Diagnostic::new(
                            &at,
                            format!(
                                "`{name}` names both a group and a node whose `append` differ ({} at `{first_at}`)",
                                shown(first)
                            ),
                        )
                        .hint("rename the group or the node: each one's extra arguments are rendered under its name"),
                    ),
                    Some(_) => {}
                    None => {
                        variants.insert(name.to_string(), (args.to_string(), at));
                    }
                }
                node.variant = Some(name.to_string());
            }
            Some(node)
        })
        .collect();
    // The loaders whose folders pxectl owns; pxelinux's alone when `loaders` is unusable.
    let in_use = loaders
        .as_ref()
        .map_or_else(|| vec![Loader::Pxelinux], |l| l.in_use(uses.choices()));
    if let Some(loaders) = &loaders {
        v.loaders_in_use(raw, loaders, &uses, &in_use, &profiles, paths.as_ref());
        for (args, at) in variants.values() {
            v.script_syntax(at, "append", args, &in_use);
        }
    }
    if let (Some(server), Some(dhcp)) = (&server, &dhcp) {
        v.addresses(server, dhcp, raw);
    }
    v.uniqueness(raw, server.as_ref());
    if let (Some(paths), Some(dhcp)) = (&paths, &dhcp) {
        v.overlaps(paths, dhcp, lifecycle.as_ref(), &in_use);
    }

    match (
        server, paths, dhcp, http, roles, daemons, lifecycle, loaders,
    ) {
        (
            Some(server),
            Some(paths),
            Some(dhcp),
            Some(http),
            Some(roles),
            Some(daemons),
            Some(lifecycle),
            Some(loaders),
        ) if v.diags.is_empty() => Ok(Cluster {
            server,
            paths,
            dhcp,
            http,
            templates: raw.templates.as_ref().map(|t| base_dir.join(t)),
            profiles,
            roles,
            reservations: reservations.into_iter().flatten().collect(),
            nodes: nodes.into_iter().flatten().collect(),
            loaders,
            variants: variants
                .into_iter()
                .map(|(k, (args, _))| (k, args))
                .collect(),
            daemons,
            lifecycle,
        }),
        _ => Err(v.diags),
    }
}

/// The hosts file's name in the state folder when `dhcp.hostsfile` is not set.
const DEFAULT_HOSTSFILE: &str = "dhcp-hosts";

/// A user value as it should appear in a message: in backticks, control characters escaped.
pub fn shown(value: &str) -> String {
    format!("`{}`", value.escape_debug())
}

/// Where a value is in the description, formatted into a key path only when a check fails.
#[derive(Debug, Clone)]
pub(super) enum At {
    /// A fixed path, like `server.hostname`.
    Key(&'static str),
    /// A path built elsewhere.
    Owned(String),
    /// A field of a list item: `nodes[3].mac`.
    Item(&'static str, usize, &'static str),
    /// A node's group: `nodes[3].groups[1]`.
    Group(usize, usize),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(k) => f.write_str(k),
            Self::Owned(s) => f.write_str(s),
            Self::Item(list, i, field) => write!(f, "{list}[{i}].{field}"),
            Self::Group(i, g) => write!(f, "nodes[{i}].groups[{g}]"),
        }
    }
}

impl From<&'static str> for At {
    fn from(k: &'static str) -> Self {
        Self::Key(k)
    }
}

impl From<String> for At {
    fn from(s: String) -> Self {
        Self::Owned(s)
    }
}

impl From<&String> for At {
    fn from(s: &String) -> Self {
        Self::Owned(s.clone())
    }
}

#[derive(Default)]
pub(super) struct Validator {
    pub(super) diags: Vec<Diagnostic>,
}

pub type Check = Result<(), (String, String)>;

pub(super) fn fail(what: &str, hint: &str) -> Check {
    Err((what.to_string(), hint.to_string()))
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// One DNS label as RFC 1123 allows it in a host name.
fn check_label(s: &str) -> Check {
    let hint = "use 1 to 63 letters, digits and `-`, not starting or ending with `-` (RFC 1123)";
    if s.is_empty() || s.len() > 63 {
        return fail("must be 1 to 63 characters long", hint);
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return fail("has characters other than letters, digits and `-`", hint);
    }
    if s.starts_with('-') || s.ends_with('-') {
        return fail("starts or ends with `-`", hint);
    }
    Ok(())
}

/// A node's or reservation's host name: a DNS label that neither reads as a MAC address
/// (targets would be ambiguous) nor as something dnsmasq parses in `dhcp-host=` itself.
fn check_host_name(s: &str) -> Check {
    check_label(s)?;
    if s.parse::<MacAddr>().is_ok() {
        return fail(
            "reads as a MAC address, so `pxectl reimage` could not tell the two apart",
            "choose a name that is not twelve hex digits",
        );
    }
    let lease_like = {
        let digits = s.strip_suffix(['s', 'm', 'h', 'd', 'w']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if lease_like || s.eq_ignore_ascii_case("ignore") || s.eq_ignore_ascii_case("infinite") {
        return fail(
            "is a word dnsmasq reads as a lease time or `ignore` in `dhcp-host=`, not as a name",
            "choose a name with letters in it, like `node600`",
        );
    }
    Ok(())
}

fn check_domain(s: &str) -> Check {
    let hint = "use dot-separated labels of letters, digits and `-`, like `pc.example.com`";
    if s.is_empty() || s.len() > 253 || s.split('.').any(|l| check_label(l).is_err()) {
        return fail("is not a valid DNS domain", hint);
    }
    Ok(())
}

/// Characters allowed in paths that end up in dnsmasq, nginx or pxelinux files.
pub(super) fn path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'@')
}

fn check_abs_path(s: &str) -> Check {
    let hint = "use an absolute path of letters, digits and `/._-+@`, without `..`";
    if !s.starts_with('/') {
        return fail("is not an absolute path", hint);
    }
    if !s.bytes().all(path_char) {
        return fail("has characters that are not safe in a config file", hint);
    }
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return fail("contains `.` or `..` components", hint);
    }
    Ok(())
}

fn check_interface(s: &str) -> Check {
    let hint = "use the kernel's interface name, like `eno1` or `eth0` (at most 15 characters)";
    let ok = !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b':' | b'*')
        });
    if ok {
        Ok(())
    } else {
        fail("is not a valid interface name", hint)
    }
}

fn check_lease_time(s: &str) -> Check {
    let hint = "write seconds or a number with `m`, `h`, `d` or `w` (at least `2m`), or `infinite`";
    if s == "infinite" {
        return Ok(());
    }
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return fail("has an unknown unit", hint),
    };
    let Some(n) = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u64>().ok())
        .flatten()
    else {
        return fail("is not a lease time", hint);
    };
    if n.saturating_mul(scale) < 120 {
        return fail("is shorter than dnsmasq's minimum of 2 minutes", hint);
    }
    Ok(())
}

fn check_server_name(s: &str) -> Check {
    let hint = "use a host name, a wildcard like `*.example.com`, or an address; no spaces, quotes, `;`, `{`, `}` or `$`";
    let ok = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*' | b':' | b'[' | b']')
        });
    if ok {
        Ok(())
    } else {
        fail("is not a safe nginx server name", hint)
    }
}

/// A token on a pxelinux line (label, kernel, initrd): printable, no spaces.
fn check_token(s: &str) -> Check {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return fail(
            "must be printable ASCII without spaces",
            "pxelinux reads this as one word; remove spaces and control characters",
        );
    }
    Ok(())
}

/// A whole pxelinux line's argument (APPEND): anything but control characters.
pub(super) fn check_line(s: &str) -> Check {
    if has_control(s) {
        return fail(
            "contains a newline or control character",
            "a pxelinux directive is one line; remove the newline or control character",
        );
    }
    Ok(())
}

/// dnsmasq options `dhcp.extra` may not carry: includes would hide directives from every
/// check, and a second `tftp-root` would move the root pxectl renders into.
const NOT_EXTRA: [(&str, &str); 4] = [
    (
        "conf-file",
        "copy the included file's directives into `dhcp.extra` instead",
    ),
    (
        "conf-dir",
        "copy the included files' directives into `dhcp.extra` instead",
    ),
    (
        "conf-script",
        "copy the script's directives into `dhcp.extra` instead",
    ),
    ("tftp-root", "set `paths.tftp_root` instead"),
];

/// One dnsmasq.conf line carried verbatim (`dhcp.extra`): `option` or `option=value`.
fn check_directive(s: &str) -> Check {
    let option = s.split_once('=').map_or(s, |(o, _)| o);
    if option.is_empty()
        || !option
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return fail(
            "is not a dnsmasq directive",
            "write one dnsmasq.conf line, `option` or `option=value`, like `bind-interfaces` or `dhcp-option=option:router,192.168.10.1`",
        );
    }
    if let Some((_, hint)) = NOT_EXTRA.iter().find(|(o, _)| *o == option) {
        return fail(&format!("is `{option}`, which pxectl does not carry"), hint);
    }
    if let Err(why) = crate::dnsmasq_conf::read_line(s) {
        return fail(
            why,
            "dnsmasq would read it otherwise than written: shorten it, or close its quote",
        );
    }
    Ok(())
}

/// Whether pxelinux would look `name` up on its own for some client before `default`:
/// 1 to 8 uppercase hex digits (an IP address prefix) or a UUID.
fn pxelinux_reserved(name: &str) -> bool {
    let hex_ip = (1..=8).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    let uuid = name.len() == 36
        && name.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    hex_ip || uuid
}

pub fn check_profile_name(s: &str) -> Check {
    let hint =
        "name profiles with letters, digits and `._-`, not starting with `.`, like `arch-linux`";
    if s.is_empty() || s.len() > 64 {
        return fail("must be 1 to 64 characters long", hint);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return fail("is not a plain file name", hint);
    }
    if s.starts_with('.') {
        return fail("starts with `.`", hint);
    }
    if s == "default" {
        return fail(
            "collides with pxelinux's `default`",
            "choose another name; `roles.default` says which profile `default` links to",
        );
    }
    if s.starts_with("01-") {
        return fail(
            "looks like a per-MAC link name (`01-...`)",
            "choose a name that does not start with `01-`",
        );
    }
    if pxelinux_reserved(s) {
        return fail(
            "is a name pxelinux looks up by IP address or UUID",
            "choose a name that is not 1 to 8 uppercase hex digits or a UUID",
        );
    }
    Ok(())
}

pub(super) fn check_group(s: &str) -> Check {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        return fail(
            "is not a valid group name",
            "name groups with letters, digits, `_` and `-`, like `rack1`",
        );
    }
    Ok(())
}

impl Validator {
    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Runs `check` on the value at `path`; records a diagnostic naming `what` when it fails.
    pub(super) fn check(
        &mut self,
        path: impl Into<At>,
        what: &str,
        value: &str,
        check: impl Fn(&str) -> Check,
    ) -> bool {
        let result = if has_control(value) {
            fail(
                "contains a newline or control character",
                "remove it: it would break or inject into the generated files",
            )
        } else {
            check(value)
        };
        match result {
            Ok(()) => true,
            Err((problem, hint)) => {
                self.push(
                    Diagnostic::new(
                        path.into().to_string(),
                        format!("{what} {} {problem}", shown(value)),
                    )
                    .hint(hint),
                );
                false
            }
        }
    }

    /// Parses `value` as a `T`, or records that it is not one (`problem`, `hint`).
    fn parsed<T: std::str::FromStr>(
        &mut self,
        path: &At,
        what: &str,
        value: &str,
        problem: &str,
        hint: &str,
    ) -> Option<T> {
        if !self.check(path.clone(), what, value, |_| Ok(())) {
            return None;
        }
        let parsed = value.parse().ok();
        if parsed.is_none() {
            self.push(
                Diagnostic::new(
                    path.to_string(),
                    format!("{what} {} {problem}", shown(value)),
                )
                .hint(hint),
            );
        }
        parsed
    }

    fn ipv4(&mut self, path: &At, what: &str, value: &str) -> Option<Ipv4Addr> {
        self.parsed(
            path,
            what,
            value,
            "is not an IPv4 address",
            "write four dot-separated numbers, like `192.168.10.20`",
        )
    }

    fn mac(&mut self, path: &At, what: &str, value: &str) -> Option<MacAddr> {
        self.parsed(
            path,
            what,
            value,
            "is malformed",
            "write six hex pairs like `c0:3f:d5:60:e5:a1` or `C0-3F-D5-60-E5-A1`, or `c03f.d560.e5a1`",
        )
    }

    fn server(&mut self, raw: &RawDescription) -> Option<Server> {
        let s = &raw.server;
        let hostname_ok = self.check("server.hostname", "host name", &s.hostname, check_label);
        let interface_ok = self.check(
            "server.interface",
            "interface",
            &s.interface,
            check_interface,
        );
        let domain_ok = match &s.domain {
            Some(d) => self.check("server.domain", "domain", d, check_domain),
            None => true,
        };
        let address = self.server_address(&s.address);
        let (address, prefix) = address?;
        (hostname_ok && interface_ok && domain_ok).then(|| Server {
            hostname: s.hostname.clone(),
            address,
            prefix,
            interface: s.interface.clone(),
            domain: s.domain.clone(),
        })
    }

    fn server_address(&mut self, value: &str) -> Option<(Ipv4Addr, u8)> {
        let path = "server.address";
        if !self.check(path, "address", value, |_| Ok(())) {
            return None;
        }
        let parsed = value.split_once('/').and_then(|(ip, prefix)| {
            let ip: Ipv4Addr = ip.parse().ok()?;
            let prefix: u8 = prefix.parse().ok().filter(|p| (8..=30).contains(p))?;
            Some((ip, prefix))
        });
        if parsed.is_none() {
            self.push(
                Diagnostic::new(path, format!("address {} is not an IPv4 address with a prefix length", shown(value)))
                    .hint("write the address and the subnet's prefix length (8 to 30), like `192.168.10.10/24`"),
            );
        }
        parsed
    }

    fn paths(&mut self, raw: &RawDescription) -> Option<Paths> {
        let p = &raw.paths;
        let fields = [
            ("paths.dnsmasq_conf", &p.dnsmasq_conf),
            ("paths.nginx_conf", &p.nginx_conf),
            ("paths.web_root", &p.web_root),
            ("paths.tftp_root", &p.tftp_root),
            ("paths.state_dir", &p.state_dir),
        ];
        let mut ok = true;
        for (path, value) in fields {
            ok &= self.check(path, "path", value, check_abs_path);
        }
        if ok {
            for (path, value) in [
                ("paths.dnsmasq_conf", &p.dnsmasq_conf),
                ("paths.nginx_conf", &p.nginx_conf),
            ] {
                if value.ends_with('/') || value == "/" {
                    ok = false;
                    self.push(
                        Diagnostic::new(
                            path,
                            format!("path {} names a folder, not a file", shown(value)),
                        )
                        .hint("name the configuration file itself, like `/etc/dnsmasq.conf`"),
                    );
                }
            }
        }
        let norm = |s: &str| PathBuf::from(s).components().collect::<PathBuf>();
        ok.then(|| Paths {
            dnsmasq_conf: norm(&p.dnsmasq_conf),
            nginx_conf: norm(&p.nginx_conf),
            web_root: norm(&p.web_root),
            tftp_root: norm(&p.tftp_root),
            state_dir: norm(&p.state_dir),
        })
    }

    fn dhcp(
        &mut self,
        raw: &RawDescription,
        server: Option<&Server>,
        paths: Option<&Paths>,
    ) -> Option<Dhcp> {
        let d = &raw.dhcp;
        let lease_ok = self.check(
            "dhcp.lease_time",
            "lease time",
            &d.lease_time,
            check_lease_time,
        );
        let boot_ok = self.check("dhcp.boot_file", "boot file", &d.boot_file, |s| {
            if s.is_empty() || !s.bytes().all(path_char) {
                fail(
                    "has characters that are not safe in a config file",
                    "use letters, digits and `/._-+@`, like `/pxelinux.0`",
                )
            } else {
                Ok(())
            }
        });
        let mut range = None;
        let mut range_ok = true;
        if let Some(r) = &d.range {
            let start = self.ipv4(&At::Key("dhcp.range.start"), "range start", &r.start);
            let end = self.ipv4(&At::Key("dhcp.range.end"), "range end", &r.end);
            range_ok = start.is_some() && end.is_some();
            if let (Some(start), Some(end)) = (start, end) {
                if start > end {
                    range_ok = false;
                    self.push(
                        Diagnostic::new(
                            "dhcp.range.start",
                            format!("range start `{start}` is after range end `{end}`"),
                        )
                        .hint("swap `start` and `end`"),
                    );
                }
                if let Some(server) = server {
                    for (path, ip) in [("dhcp.range.start", start), ("dhcp.range.end", end)] {
                        if !server.subnet_has_host(ip) {
                            range_ok = false;
                            self.push(outside_subnet(path, "range address", ip, server));
                        }
                    }
                    if (start..=end).contains(&server.address) {
                        range_ok = false;
                        self.push(
                            Diagnostic::new("dhcp.range", format!("the boot server's own address `{}` is inside the dynamic range `{start}`..`{end}`", server.address))
                                .hint("move the range so it leaves the server's address out"),
                        );
                    }
                }
                range = Some((start, end));
            }
        }
        let hostsfile = match &d.hostsfile {
            Some(h) => self
                .check("dhcp.hostsfile", "path", h, check_abs_path)
                .then(|| PathBuf::from(h)),
            None => paths.map(|p| p.state_dir.join(DEFAULT_HOSTSFILE)),
        };
        let hostsfile = hostsfile?;
        let mut extra_ok = true;
        for (i, line) in d.extra.iter().enumerate() {
            extra_ok &= self.check(format!("dhcp.extra[{i}]"), "line", line, check_directive);
        }
        (lease_ok && boot_ok && range_ok && extra_ok).then(|| Dhcp {
            range,
            lease_time: d.lease_time.clone(),
            read_ethers: d.read_ethers,
            boot_file: d.boot_file.clone(),
            hosts: d.hosts,
            hostsfile,
            extra: d.extra.clone(),
        })
    }

    fn http(&mut self, raw: &RawDescription, server: Option<&Server>) -> Option<Http> {
        let h = &raw.http;
        let mut ok = true;
        let listen_address = match &h.listen_address {
            None => None,
            Some(a) => {
                let parsed = a.parse::<IpAddr>().ok().filter(|_| !has_control(a));
                if parsed.is_none() {
                    ok = false;
                    self.push(
                        Diagnostic::new("http.listen_address", format!("listen address {} is not an IP address", shown(a)))
                            .hint("write an IPv4 or IPv6 address, like `192.168.10.10`, or leave the key out to listen on every address"),
                    );
                }
                parsed
            }
        };
        if h.port == 0 {
            ok = false;
            self.push(
                Diagnostic::new("http.port", "port `0` cannot be listened on")
                    .hint("use a port from 1 to 65535, like `80`"),
            );
        }
        let names = match &h.server_names {
            Some(names) => {
                if names.is_empty() {
                    ok = false;
                    self.push(
                        Diagnostic::new("http.server_names", "`server_names` is empty")
                            .hint("list at least one name, or leave the key out for the default"),
                    );
                }
                for (i, n) in names.iter().enumerate() {
                    ok &= self.check(
                        format!("http.server_names[{i}]"),
                        "server name",
                        n,
                        check_server_name,
                    );
                }
                names.clone()
            }
            None => match server {
                Some(s) => {
                    let mut names = vec![
                        s.fqdn(),
                        s.hostname.clone(),
                        "localhost".into(),
                        s.address.to_string(),
                    ];
                    names.dedup();
                    names
                }
                None => Vec::new(),
            },
        };
        let server = server?;
        let host = crate::cluster::http_host(listen_address, server.address);
        let url = crate::cluster::http_url(&host, h.port);
        ok.then_some(Http {
            server_names: names,
            listen_address,
            port: h.port,
            default_server: h.default_server,
            keepalive_timeout: h.keepalive_timeout,
            autoindex: h.autoindex,
            managed: h.managed,
            url,
        })
    }

    fn profiles(
        &mut self,
        raw: &RawDescription,
        server: Option<&Server>,
        http: Option<&Http>,
        paths: Option<&Paths>,
    ) -> BTreeMap<String, Profile> {
        let mut out = BTreeMap::new();
        if raw.profiles.is_empty() {
            self.push(
                Diagnostic::new("profiles", "no profiles are described")
                    .hint("describe at least the profile `roles.normal` names"),
            );
        }
        let ctx = match (server, http, paths) {
            (Some(s), Some(h), Some(p)) => Some(templates::string_context(s, h, p)),
            _ => None,
        };
        for (name, p) in &raw.profiles {
            let base = format!("profiles.{name}");
            if !self.check(&base, "profile name", name, check_profile_name) {
                if let Some(d) = self.diags.pop() {
                    self.push(d.on_key());
                }
                continue;
            }
            if let Some(profile) = self.profile(&base, name, p, ctx.as_ref()) {
                out.insert(name.clone(), profile);
            }
        }
        out
    }

    fn profile(
        &mut self,
        base: &str,
        name: &str,
        p: &RawProfile,
        ctx: Option<&tera::Context>,
    ) -> Option<Profile> {
        if let Some(text) = &p.pxelinux {
            return self.verbatim(base, name, p, text);
        }
        let label = p.label.clone().unwrap_or_else(|| name.to_string());
        let ok = self.check(format!("{base}.label"), "label", &label, check_token);
        let mut expand = |field: &str, value: &str, line: bool| -> Option<String> {
            let path = format!("{base}.{field}");
            let ctx = ctx?;
            match templates::expand(value, ctx) {
                Ok(s) => {
                    let rule = if line { check_line } else { check_token };
                    self.check(&path, field, &s, rule).then_some(s)
                }
                Err(e) => {
                    let hint = if e.contains("is not defined") {
                        format!("the variables are {}", templates::STRING_VARIABLES)
                    } else {
                        "profile strings may use `{{ variable }}` and tera filters, but not includes, other templates or `get_env`, `now` and `get_random`: write the value itself".to_string()
                    };
                    self.push(
                        Diagnostic::new(
                            &path,
                            format!("{field} {} cannot be expanded: {e}", shown(value)),
                        )
                        .hint(hint),
                    );
                    None
                }
            }
        };
        let boot = match p.boot.as_deref() {
            None | Some("linux") => {
                let kernel = p.kernel.as_ref().map(|k| expand("kernel", k, false));
                let initrd = p.initrd.as_ref().map(|s| expand("initrd", s, false));
                let append = p.append.as_ref().map(|s| expand("append", s, true));
                if p.chain.is_some() {
                    self.no_use(
                        base,
                        name,
                        "chain",
                        "boots a kernel",
                        "remove it, or set `boot: chain`",
                    );
                }
                if kernel.is_none() {
                    self.push(
                        Diagnostic::new(base, format!("profile {} has no `kernel`", shown(name)))
                            .on_key()
                            .hint("add `kernel:`, the kernel's path in the TFTP root or its HTTP URL, or set `boot: local` to boot the machine's own disk"),
                    );
                }
                match (kernel, initrd, append) {
                    (Some(Some(kernel)), initrd, append)
                        if !matches!(initrd, Some(None)) && !matches!(append, Some(None)) =>
                    {
                        Some(Boot::Linux {
                            kernel,
                            initrd: initrd.flatten(),
                            append: append.flatten(),
                        })
                    }
                    _ => None,
                }
            }
            Some(kind @ ("local" | "chain")) => {
                let chain = p.chain.as_ref().map(|c| expand("chain", c, false));
                self.without_kernel(base, name, kind, p, chain)
            }
            Some(other) => {
                self.check(format!("{base}.boot"), "boot", other, |_| {
                    fail(
                        "is unknown",
                        "use `linux` (a kernel), `local` (the machine's own disk) or `chain` (another boot program)",
                    )
                });
                None
            }
        };
        let boot = boot?;
        ok.then_some(Profile {
            label,
            boot,
            timeout: p.timeout,
            prompt: p.prompt,
        })
    }

    /// A profile that boots no kernel (`local`, `chain`): none of a kernel's keys, and for
    /// `chain` its target (`chain`, already expanded: `Some(None)` when that failed, and was
    /// reported).
    #[allow(clippy::option_option)]
    fn without_kernel(
        &mut self,
        base: &str,
        name: &str,
        kind: &str,
        p: &RawProfile,
        chain: Option<Option<String>>,
    ) -> Option<Boot> {
        let given = [
            ("kernel", &p.kernel),
            ("initrd", &p.initrd),
            ("append", &p.append),
            ("chain", if kind == "local" { &p.chain } else { &None }),
        ];
        let which = if kind == "local" {
            "boots the local disk"
        } else {
            "chains another boot program"
        };
        let mut local_ok = true;
        for (field, value) in given {
            if value.is_some() {
                local_ok = false;
                let hint = "remove it, or boot a kernel with `boot: linux`";
                self.no_use(base, name, field, which, hint);
            }
        }
        match (kind, chain) {
            ("local", _) => local_ok.then_some(Boot::LocalDisk),
            (_, Some(Some(target))) => local_ok.then_some(Boot::Chain(target)),
            (_, None) => {
                self.push(
                            Diagnostic::new(base, format!("profile {} chains nothing", shown(name)))
                                .on_key()
                                .hint("add `chain:`, the boot program's path in the TFTP root (like `/undionly.kpxe`) or, for iPXE, its URL"),
                        );
                None
            }
            _ => None,
        }
    }

    /// Key `field` of profile `name` (at `base`), which has no use in a profile that `which`.
    fn no_use(&mut self, base: &str, name: &str, field: &str, which: &str, hint: &str) {
        self.push(
            Diagnostic::new(
                format!("{base}.{field}"),
                format!(
                    "`{field}` has no use in profile {}, which {which}",
                    shown(name)
                ),
            )
            .on_key()
            .hint(hint),
        );
    }

    /// A profile given as its pxelinux file (`pxelinux:`): text alone, with no other key.
    fn verbatim(&mut self, base: &str, name: &str, p: &RawProfile, text: &str) -> Option<Profile> {
        let mut ok = true;
        let others = [
            ("label", p.label.is_some()),
            ("boot", p.boot.is_some()),
            ("kernel", p.kernel.is_some()),
            ("initrd", p.initrd.is_some()),
            ("append", p.append.is_some()),
            ("chain", p.chain.is_some()),
            ("timeout", p.timeout != super::model::default_timeout()),
            ("prompt", p.prompt),
        ];
        for (field, given) in others {
            if given {
                ok = false;
                let hint = "remove it, or describe the profile with `kernel`, `initrd` and `append` instead of `pxelinux`";
                self.no_use(base, name, field, "is given as its pxelinux file", hint);
            }
        }
        let bare_cr = text.split("\r\n").any(|part| part.contains('\r'));
        if text.trim().is_empty()
            || bare_cr
            || text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            ok = false;
            self.push(
                Diagnostic::new(
                    format!("{base}.pxelinux"),
                    format!("the pxelinux file of profile {} is empty or holds a control character other than tab, newline and CR before a newline", shown(name)),
                )
                .hint("write the file as pxelinux reads it, lines of text ending in newlines"),
            );
        }
        ok.then(|| Profile {
            label: name.to_string(),
            boot: Boot::Verbatim(text.to_string()),
            timeout: p.timeout,
            prompt: p.prompt,
        })
    }

    fn lifecycle(&mut self, raw: &RawDescription) -> Option<Lifecycle> {
        let l = &raw.lifecycle;
        let prefix = l.prefix.trim_end_matches('/').to_string();
        let prefix_ok = self.check("lifecycle.prefix", "URL prefix", &l.prefix, |p| {
            let trimmed = p.trim_end_matches('/');
            let segments_ok = trimmed
                .split('/')
                .skip(1)
                .all(|s| !s.is_empty() && s != "." && s != "..");
            if trimmed.starts_with('/')
                && trimmed.len() > 1
                && trimmed.bytes().all(path_char)
                && segments_ok
            {
                Ok(())
            } else {
                fail(
                    "is not a URL path",
                    "write a path of letters, digits and `/._-+@` like `/pxectl`",
                )
            }
        });
        let log_ok = self.check("lifecycle.log", "path", &l.log, check_abs_path);
        let access_ok = self.check(
            "lifecycle.access_log",
            "path",
            &l.access_log,
            check_abs_path,
        );
        let leases_ok = self.check("lifecycle.leases", "path", &l.leases, check_abs_path);
        let dnsmasq_log_ok = l
            .dnsmasq_log
            .as_ref()
            .is_none_or(|d| self.check("lifecycle.dnsmasq_log", "path", d, check_abs_path));
        if l.callbacks && !raw.http.managed {
            self.push(
                Diagnostic::new(
                    "lifecycle.callbacks",
                    "callbacks need pxectl's nginx.conf, but `http.managed` is `false`",
                )
                .hint("set `http.managed: true`, or turn `callbacks` off"),
            );
            return None;
        }
        if l.on_failure == OnFailure::Rescue && raw.roles.rescue.is_none() {
            self.push(
                Diagnostic::new(
                    "lifecycle.on_failure",
                    "`on_failure: rescue` needs a rescue profile",
                )
                .hint("set `roles.rescue`, or use `on_failure: leave`"),
            );
            return None;
        }
        (prefix_ok && log_ok && access_ok && leases_ok && dnsmasq_log_ok).then(|| Lifecycle {
            callbacks: l.callbacks,
            prefix,
            log: PathBuf::from(&l.log),
            access_log: PathBuf::from(&l.access_log),
            leases: PathBuf::from(&l.leases),
            dnsmasq_log: l.dnsmasq_log.as_ref().map(PathBuf::from),
            on_failure: l.on_failure,
        })
    }

    fn daemons(&mut self, raw: &RawDescription) -> Option<Daemons> {
        let d = &raw.daemons;
        let timeout = match humantime::parse_duration(&d.timeout) {
            Ok(t)
                if t >= std::time::Duration::from_millis(100)
                    && t <= std::time::Duration::from_secs(3600) =>
            {
                Some(t)
            }
            _ => {
                self.push(
                    Diagnostic::new(
                        "daemons.timeout",
                        format!(
                            "timeout {} is not a duration from 100ms to 1h",
                            shown(&d.timeout)
                        ),
                    )
                    .hint("write it like `10s` or `1m`"),
                );
                None
            }
        };
        let dnsmasq = self.daemon("dnsmasq", &d.dnsmasq);
        let nginx = self.daemon("nginx", &d.nginx);
        Some(Daemons {
            dnsmasq: dnsmasq?,
            nginx: nginx?,
            timeout: timeout?,
        })
    }

    fn daemon(&mut self, name: &'static str, d: &RawDaemon) -> Option<Daemon> {
        let base = format!("daemons.{name}");
        let binary = d.binary.clone().unwrap_or_else(|| name.to_string());
        let binary_ok = self.check(format!("{base}.binary"), "binary", &binary, |b| {
            if b.is_empty() || (b.contains('/') && !b.starts_with('/')) {
                fail(
                    "is neither a program name nor an absolute path",
                    "write `dnsmasq` (looked up in PATH) or a path like `/usr/sbin/dnsmasq`",
                )
            } else {
                Ok(())
            }
        });
        let argv_ok = |v: &mut Self, path: String, argv: &[String]| -> bool {
            if argv.is_empty() || argv[0].is_empty() {
                v.push(Diagnostic::new(path, "the command is empty").hint("write the program and its arguments as a list, like `[systemctl, reload, nginx]`"));
                return false;
            }
            argv.iter()
                .enumerate()
                .all(|(i, a)| v.check(format!("{path}[{i}]"), "argument", a, |_| Ok(())))
        };
        let r = d.reload.clone().unwrap_or_default();
        let given = usize::from(r.systemd.is_some())
            + usize::from(r.pid_file.is_some())
            + usize::from(r.command.is_some());
        let reload = if given > 1 {
            self.push(
                Diagnostic::new(
                    format!("{base}.reload"),
                    "`reload` names more than one method",
                )
                .hint("keep exactly one of `systemd`, `pid_file` and `command`"),
            );
            None
        } else if let Some(unit) = &r.systemd {
            self.check(format!("{base}.reload.systemd"), "unit", unit, |u| {
                if !u.is_empty()
                    && !u.starts_with('-')
                    && u.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b':' | b'-')
                    })
                {
                    Ok(())
                } else {
                    fail(
                        "is not a systemd unit name",
                        "write a unit like `dnsmasq` or `nginx.service`",
                    )
                }
            })
            .then(|| Reload::Systemd(unit.clone()))
        } else if let Some(p) = &r.pid_file {
            let ok = self.check(
                format!("{base}.reload.pid_file.path"),
                "pid file",
                &p.path,
                check_abs_path,
            );
            let start_ok = p
                .start
                .as_ref()
                .is_none_or(|s| argv_ok(self, format!("{base}.reload.pid_file.start"), s));
            (ok && start_ok).then(|| Reload::PidFile {
                path: PathBuf::from(&p.path),
                start: p.start.clone(),
            })
        } else if let Some(c) = &r.command {
            let a = argv_ok(self, format!("{base}.reload.command.reload"), &c.reload);
            let b = argv_ok(self, format!("{base}.reload.command.restart"), &c.restart);
            (a && b).then(|| Reload::Command {
                reload: c.reload.clone(),
                restart: c.restart.clone(),
            })
        } else {
            Some(Reload::Systemd(name.to_string()))
        };
        (binary_ok).then_some(())?;
        Some(Daemon {
            name,
            binary,
            reload: reload?,
        })
    }

    pub(super) fn profile_ref(&mut self, raw: &RawDescription, path: &str, name: &str) -> bool {
        if raw.profiles.contains_key(name) {
            return true;
        }
        let known: Vec<String> = raw.profiles.keys().map(|k| format!("`{k}`")).collect();
        self.push(
            Diagnostic::new(path, format!("profile {} is not described", shown(name))).hint(
                format!(
                    "use one of {}, or add it under `profiles:`",
                    known.join(", ")
                ),
            ),
        );
        false
    }

    fn roles(&mut self, raw: &RawDescription) -> Option<Roles> {
        let r = &raw.roles;
        let mut ok = self.profile_ref(raw, "roles.normal", &r.normal);
        ok &= self.profile_ref(raw, "roles.reimage", &r.reimage);
        for (path, value) in [("roles.rescue", &r.rescue), ("roles.default", &r.default)] {
            if let Some(v) = value {
                ok &= self.profile_ref(raw, path, v);
            }
        }
        ok.then(|| Roles {
            normal: r.normal.clone(),
            reimage: r.reimage.clone(),
            rescue: r.rescue.clone(),
            default: r.default.clone(),
        })
    }

    fn reservation(&mut self, i: usize, r: &RawReservation) -> Option<Host> {
        let at = |field| At::Item("reservations", i, field);
        let name_ok = self.check(at("name"), "host name", &r.name, check_host_name);
        let mac = self.mac(&at("mac"), "MAC address", &r.mac);
        let ip = r.ip.as_ref().map(|ip| self.ipv4(&at("ip"), "address", ip));
        if !name_ok || matches!(ip, Some(None)) {
            return None;
        }
        Some(Host {
            name: r.name.clone(),
            mac: mac?,
            ip: ip.flatten(),
        })
    }

    fn node<'a>(
        &mut self,
        i: usize,
        n: &'a RawNode,
        raw: &'a RawDescription,
        groups: &Groups<'a>,
        default: Choice,
    ) -> Option<(Node, Use<'a>, Option<Extra<'a>>)> {
        let at = |field| At::Item("nodes", i, field);
        let mut ok = self.check(at("name"), "host name", &n.name, check_host_name);
        let mac = self.mac(&at("mac"), "MAC address", &n.mac);
        let ip = n.ip.as_ref().map(|ip| self.ipv4(&at("ip"), "address", ip));
        ok &= !matches!(ip, Some(None));
        for (g, group) in n.groups.iter().enumerate() {
            ok &= self.check(At::Group(i, g), "group", group, check_group);
        }
        let chosen = self.choice(i, n, raw, groups, default);
        let (choice, normal, extra) = chosen?;
        ok.then_some(())?;
        Some((
            Node {
                name: n.name.clone(),
                mac: mac?,
                ip: ip.flatten(),
                groups: n.groups.clone(),
                normal_profile: normal.to_string(),
                choice: choice.choice(),
                variant: None,
            },
            choice,
            extra,
        ))
    }

    /// Fixed addresses outside the subnet or inside the dynamic range, whatever else is wrong
    /// with their host.
    fn addresses(&mut self, server: &Server, dhcp: &Dhcp, raw: &RawDescription) {
        let parsed = |list, i, ip: &Option<String>| {
            Some((
                At::Item(list, i, "ip"),
                ip.as_ref()?.parse::<Ipv4Addr>().ok()?,
            ))
        };
        let fixed = raw
            .reservations
            .iter()
            .enumerate()
            .filter_map(|(i, r)| parsed("reservations", i, &r.ip))
            .chain(
                raw.nodes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| parsed("nodes", i, &n.ip)),
            );
        for (at, ip) in fixed {
            if server.subnet_has_host(ip) && !dhcp.in_range(ip) {
                continue;
            }
            let path = at.to_string();
            if !server.subnet_has_host(ip) {
                self.push(outside_subnet(&path, "fixed address", ip, server));
            } else if dhcp.in_range(ip) {
                let (a, b) = dhcp.range.unwrap_or((ip, ip));
                self.push(
                    Diagnostic::new(
                        &path,
                        format!("fixed address `{ip}` is inside the dynamic range `{a}`..`{b}`"),
                    )
                    .hint("pick an address outside `dhcp.range`, or shrink the range"),
                );
            }
        }
    }

    /// Rendered files, and the files the daemons write (nginx's logs, dnsmasq's leases and log),
    /// that would overwrite each other, a link folder of a loader in use or pxectl's own state.
    fn overlaps(
        &mut self,
        paths: &Paths,
        dhcp: &Dhcp,
        lifecycle: Option<&Lifecycle>,
        in_use: &[Loader],
    ) {
        let mut files = vec![
            ("paths.dnsmasq_conf", &paths.dnsmasq_conf),
            ("paths.nginx_conf", &paths.nginx_conf),
            ("dhcp.hostsfile", &dhcp.hostsfile),
        ];
        if let Some(l) = lifecycle {
            files.extend([
                ("lifecycle.log", &l.log),
                ("lifecycle.access_log", &l.access_log),
                ("lifecycle.leases", &l.leases),
            ]);
            files.extend(l.dnsmasq_log.as_ref().map(|d| ("lifecycle.dnsmasq_log", d)));
        }
        let overlap = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
        let links: Vec<(&str, PathBuf)> = in_use
            .iter()
            .map(|l| (l.dir(), l.dir_in(&paths.tftp_root)))
            .collect();
        let state = &paths.state_dir;
        for (i, (at, file)) in files.iter().enumerate() {
            let shown_file = shown(&file.to_string_lossy());
            if let Some((first, _)) = files[..i].iter().find(|(_, f)| overlap(file, f)) {
                self.push(
                    Diagnostic::new(*at, format!("path {shown_file} overlaps `{first}`"))
                        .hint("give every rendered file and daemon log its own path, neither inside another"),
                );
            }
            for (dir, links) in links.iter().filter(|(_, links)| overlap(file, links)) {
                self.push(
                    Diagnostic::new(
                        *at,
                        format!(
                            "path {shown_file} overlaps the link folder `{}`",
                            links.display()
                        ),
                    )
                    .hint(format!(
                        "put it outside `{dir}/`: pxectl owns every entry there"
                    )),
                );
            }
            let default_hostsfile =
                *at == "dhcp.hostsfile" && **file == state.join(DEFAULT_HOSTSFILE);
            if overlap(file, state) && !default_hostsfile {
                self.push(
                    Diagnostic::new(
                        *at,
                        format!(
                            "path {shown_file} overlaps the state folder `{}`",
                            state.display()
                        ),
                    )
                    .hint(format!("pxectl keeps its lock and journal there; put it elsewhere (only the default hosts file `{DEFAULT_HOSTSFILE}` may be there)")),
                );
            }
        }
        for (dir, links) in links.iter().filter(|(_, links)| overlap(state, links)) {
            self.push(
                Diagnostic::new(
                    "paths.state_dir",
                    format!(
                        "the state folder `{}` overlaps the link folder `{}`",
                        state.display(),
                        links.display()
                    ),
                )
                .hint(format!("keep `state_dir` out of `tftp_root`'s `{dir}/`")),
            );
        }
    }

    /// Duplicate names, MACs and addresses across the server, reservations and nodes.
    fn uniqueness(&mut self, raw: &RawDescription, server: Option<&Server>) {
        let n = raw.reservations.len() + raw.nodes.len() + 1;
        // Keys borrow the description where they can: these maps hold every host.
        let mut names: HashMap<Cow<'_, str>, Seen> = HashMap::with_capacity(n);
        let mut macs: HashMap<MacAddr, Seen> = HashMap::with_capacity(n);
        let mut ips: HashMap<Ipv4Addr, Seen> = HashMap::with_capacity(n);
        names.insert(lowercase(&raw.server.hostname), Seen::Server);
        if let Some(s) = server {
            ips.insert(s.address, Seen::Server);
        }
        let entries = raw
            .reservations
            .iter()
            .enumerate()
            .map(|(i, r)| (Seen::Reservation(i), &r.name, &r.mac, &r.ip))
            .chain(
                raw.nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (Seen::Node(i), &n.name, &n.mac, &n.ip)),
            );
        for (here, name, mac, ip) in entries {
            match names.entry(lowercase(name)) {
                Entry::Occupied(first) => {
                    self.push(duplicate(here, "name", "host name", name, *first.get()));
                }
                Entry::Vacant(slot) => {
                    slot.insert(here);
                }
            }
            if let Ok(m) = mac.parse::<MacAddr>() {
                match macs.entry(m) {
                    Entry::Occupied(first) => {
                        self.push(duplicate(
                            here,
                            "mac",
                            "MAC address",
                            &m.colon(),
                            *first.get(),
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(here);
                    }
                }
            }
            if let Some(Ok(a)) = ip.as_ref().map(|s| s.parse::<Ipv4Addr>()) {
                match ips.entry(a) {
                    Entry::Occupied(first) => {
                        self.push(duplicate(
                            here,
                            "ip",
                            "address",
                            &a.to_string(),
                            *first.get(),
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(here);
                    }
                }
            }
        }
    }
}

/// `s` in lower case, borrowed when it already is.
fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Where a name, MAC or address was first seen (small: the uniqueness maps hold every host).
#[derive(Debug, Clone, Copy)]
enum Seen {
    Server,
    Reservation(usize),
    Node(usize),
}

impl Seen {
    /// The path of its `field` (`name`, `mac` or `ip`).
    fn at(self, field: &'static str) -> At {
        match (self, field) {
            (Self::Server, "name") => At::Key("server.hostname"),
            (Self::Server, _) => At::Key("server.address"),
            (Self::Reservation(i), _) => At::Item("reservations", i, field),
            (Self::Node(i), _) => At::Item("nodes", i, field),
        }
    }
}

fn outside_subnet(path: &str, what: &str, ip: Ipv4Addr, server: &Server) -> Diagnostic {
    let subnet = format!("`{}/{}`", server.network(), server.prefix);
    let problem = if ip == server.network() {
        format!("is the network address of the subnet {subnet}")
    } else if ip == server.broadcast() {
        format!("is the broadcast address of the subnet {subnet}")
    } else {
        format!("is outside the boot server's subnet {subnet}")
    };
    Diagnostic::new(path, format!("{what} `{ip}` {problem}")).hint(format!(
        "use a host address between `{}` and `{}`, or change `server.address`",
        Ipv4Addr::from(u32::from(server.network()) + 1),
        Ipv4Addr::from(u32::from(server.broadcast()) - 1)
    ))
}

fn duplicate(here: Seen, field: &'static str, what: &str, value: &str, first: Seen) -> Diagnostic {
    Diagnostic::new(
        here.at(field).to_string(),
        format!("{what} {} is used twice", shown(value)),
    )
    .note(format!("first used at `{}`", first.at(field)))
    .hint("every host needs its own name, MAC address and fixed address")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<String> {
        let raw: RawDescription = serde_yaml::from_str(&format!(
            "server: {{hostname: boot, address: 10.0.0.1/24, interface: eth0}}\nprofiles: {{local: {{kernel: /k}}}}\nroles: {{normal: local, reimage: local}}\n{yaml}"
        ))
        .unwrap();
        validate(&raw, Path::new("."))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn output_paths_overlap_nothing_but_the_default_hosts_file_is_in_the_state_folder() {
        assert_eq!(errors("dhcp: {hosts: hostsfile}\n"), Vec::<String>::new());
        assert_eq!(
            errors("dhcp: {hostsfile: /var/lib/pxectl/dhcp-hosts}\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            errors("dhcp: {hostsfile: /var/lib/pxectl/journal.jsonl}\n"),
            ["dhcp.hostsfile: path `/var/lib/pxectl/journal.jsonl` overlaps the state folder `/var/lib/pxectl`"]
        );
        assert_eq!(
            errors("paths: {nginx_conf: /etc/dnsmasq.conf, state_dir: /srv/public/pxe/pxelinux.cfg/s}\n"),
            [
                "paths.nginx_conf: path `/etc/dnsmasq.conf` overlaps `paths.dnsmasq_conf`",
                "dhcp.hostsfile: path `/srv/public/pxe/pxelinux.cfg/s/dhcp-hosts` overlaps the link folder `/srv/public/pxe/pxelinux.cfg`",
                "paths.state_dir: the state folder `/srv/public/pxe/pxelinux.cfg/s` overlaps the link folder `/srv/public/pxe/pxelinux.cfg`",
            ]
        );
        assert_eq!(
            errors("paths: {dnsmasq_conf: /var/lib/pxectl}\n"),
            [
                "paths.dnsmasq_conf: path `/var/lib/pxectl` overlaps the state folder `/var/lib/pxectl`",
                "dhcp.hostsfile: path `/var/lib/pxectl/dhcp-hosts` overlaps `paths.dnsmasq_conf`",
            ]
        );
    }

    #[test]
    fn daemon_logs_and_leases_overlap_no_rendered_file_each_other_or_pxectl_folders() {
        assert_eq!(
            errors("lifecycle: {log: /var/log/cb.log, access_log: /var/log/a.log, leases: /var/lib/misc/l, dnsmasq_log: /var/log/d.log}\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            errors("lifecycle: {log: /var/lib/pxectl/journal.jsonl, access_log: /etc/dnsmasq.conf}\n"),
            [
                "lifecycle.log: path `/var/lib/pxectl/journal.jsonl` overlaps the state folder `/var/lib/pxectl`",
                "lifecycle.access_log: path `/etc/dnsmasq.conf` overlaps `paths.dnsmasq_conf`",
            ]
        );
        assert_eq!(
            errors("lifecycle: {log: /var/log/x.log, access_log: /var/log/x.log, leases: /srv/public/pxe/pxelinux.cfg/l, dnsmasq_log: /etc/nginx}\n"),
            [
                "lifecycle.access_log: path `/var/log/x.log` overlaps `lifecycle.log`",
                "lifecycle.leases: path `/srv/public/pxe/pxelinux.cfg/l` overlaps the link folder `/srv/public/pxe/pxelinux.cfg`",
                "lifecycle.dnsmasq_log: path `/etc/nginx` overlaps `paths.nginx_conf`",
            ]
        );
        assert_eq!(
            errors("dhcp: {hostsfile: /etc/hosts.d/pxe}\nlifecycle: {leases: /var/lib/pxectl/dhcp-hosts}\n"),
            ["lifecycle.leases: path `/var/lib/pxectl/dhcp-hosts` overlaps the state folder `/var/lib/pxectl`"]
        );
    }

    #[test]
    fn rendered_files_and_the_state_folder_stay_out_of_every_loader_folder_in_use() {
        let inside = "dhcp: {hostsfile: /srv/public/pxe/grub/hosts}\npaths: {state_dir: /srv/public/pxe/ipxe/state}\n";
        assert_eq!(errors(inside), Vec::<String>::new());
        assert_eq!(
            errors(&format!("{inside}loaders: {{clients: [bios, efi-x64, http-x64]}}\n")),
            [
                "dhcp.hostsfile: path `/srv/public/pxe/grub/hosts` overlaps the link folder `/srv/public/pxe/grub`",
                "paths.state_dir: the state folder `/srv/public/pxe/ipxe/state` overlaps the link folder `/srv/public/pxe/ipxe`",
            ]
        );
    }

    #[test]
    fn labels() {
        assert!(check_label("node1").is_ok());
        assert!(check_label("a").is_ok());
        assert!(check_label(&"a".repeat(63)).is_ok());
        for bad in ["", "-a", "a-", "a.b", "a_b", "ñ", "a b", &"a".repeat(64)] {
            assert!(check_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_names() {
        assert!(check_host_name("node600").is_ok());
        assert!(check_host_name("rack1-n01").is_ok());
        for bad in [
            "deadbeefcafe",
            "DEADBEEFCAFE",
            "600",
            "12h",
            "1w",
            "ignore",
            "Infinite",
            "n_1",
        ] {
            assert!(check_host_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lease_times() {
        for ok in ["1h", "120", "2m", "infinite", "12h", "1w", "3d"] {
            assert!(check_lease_time(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1m",
            "119",
            "h",
            "1x",
            "-1h",
            "1.5h",
            "1hh",
            "99999999999999999999999h",
        ] {
            assert!(check_lease_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_names() {
        for ok in [
            "arch-linux",
            "installer",
            "rescue",
            "ubuntu-24.04",
            "abc",
            "C0A8G",
        ] {
            assert!(check_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "..",
            "a/b",
            "default",
            "01-c0-3f-d5-60-e5-a1",
            "C0A80A",
            "A",
            "b8945908-d6a6-41a9-611d-74a6ab80b83d",
            "a b",
        ] {
            assert!(check_profile_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(check_abs_path("/srv/public/pxe").is_ok());
        for bad in [
            "srv",
            "/srv/../etc",
            "/srv/./x",
            "/srv/a b",
            "/srv;",
            "/srv/${x}",
            "/srv/{a}",
        ] {
            assert!(check_abs_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_names() {
        for ok in [
            "node0.pc.example.com",
            "localhost",
            "192.168.10.10",
            "*.example.com",
            "[::1]",
            "_",
        ] {
            assert!(check_server_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a;b", "a}", "a{", "a b", "$host", "\"x\"", "~^re$"] {
            assert!(check_server_name(bad).is_err(), "{bad}");
        }
    }
}
