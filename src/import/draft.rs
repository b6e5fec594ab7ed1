//! The description an import makes, written as YAML an operator reads: the layout of
//! examples/portacluster.yaml, defaults left out, each guess said in a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::folder::Modelled;
use super::loaders;
use crate::loader::Choice;
use crate::mac::MacAddr;

/// The description, as import fills it in.
#[derive(Debug, Default)]
pub struct Draft {
    pub server: Server,
    pub paths: Paths,
    pub dhcp: Dhcp,
    pub http: Http,
    pub profiles: BTreeMap<String, Profile>,
    pub roles: Roles,
    pub reservations: Vec<Host>,
    pub nodes: Vec<Host>,
    /// Which loaders serve which clients, when more than pxelinux does.
    pub loaders: Option<loaders::Settings>,
    /// dnsmasq's lines sending clients to their loaders, at their lines, while `loaders` is
    /// not settled.
    pub boot_rules: Vec<(usize, String)>,
    /// The folder the profiles and links were read from (`<tftp root>/pxelinux.cfg`...), and
    /// its default entry's name.
    pub folder: PathBuf,
    pub default_entry: String,
    /// Why a key has its value, by key path: a comment on its line.
    pub guesses: BTreeMap<&'static str, String>,
    /// What was guessed or kept verbatim, for stderr.
    pub notes: Vec<String>,
    /// What the description cannot say: differences whatever it renders.
    pub problems: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Server {
    pub hostname: String,
    pub address: Option<Ipv4Addr>,
    pub prefix: u8,
    pub interface: String,
    pub domain: Option<String>,
}

#[derive(Debug, Default)]
pub struct Paths {
    pub dnsmasq_conf: PathBuf,
    pub nginx_conf: PathBuf,
    pub web_root: PathBuf,
    pub tftp_root: PathBuf,
}

#[derive(Debug, Default)]
pub struct Dhcp {
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub lease_time: String,
    pub read_ethers: bool,
    pub boot_file: String,
    pub hostsfile: Option<String>,
    pub extra: Vec<String>,
}

#[derive(Debug)]
pub struct Http {
    pub server_names: Vec<String>,
    pub listen_address: Option<String>,
    pub port: u16,
    pub default_server: bool,
    pub keepalive_timeout: u32,
    pub autoindex: bool,
    pub managed: bool,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            server_names: Vec::new(),
            listen_address: None,
            port: 80,
            default_server: false,
            keepalive_timeout: 0,
            autoindex: false,
            managed: true,
        }
    }
}

/// A profile: pxectl's keys, or the file kept verbatim.
#[derive(Debug)]
pub enum Profile {
    Modelled(Modelled),
    Verbatim(String),
}

#[derive(Debug, Default)]
pub struct Roles {
    pub normal: String,
    pub reimage: String,
    pub rescue: Option<String>,
    pub default: Option<String>,
}

/// A reservation or a node.
#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub mac: MacAddr,
    pub ip: Option<Ipv4Addr>,
    /// A node's own day-to-day profile, when it is not `roles.normal`.
    pub normal_profile: Option<String>,
    /// A node's own loader choice, from the `set:` tag of its `dhcp-host` line.
    pub choice: Option<Choice>,
}

impl Modelled {
    /// With the server's base URL written `{{ http.url }}` where a string names it.
    pub fn with_url(mut self, url: &str) -> Self {
        for s in [&mut self.kernel, &mut self.initrd, &mut self.append]
            .into_iter()
            .flatten()
        {
            *s = templated(s, url);
        }
        self
    }
}

/// `s` with each `url` followed by `/`, a space or the end written `{{ http.url }}`.
fn templated(s: &str, url: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find(url) {
        let after = &rest[at + url.len()..];
        out.push_str(&rest[..at]);
        if after.is_empty() || after.starts_with(['/', ' ']) {
            out.push_str("{{ http.url }}");
        } else {
            out.push_str(url);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl Draft {
    /// Says why `key` has its value, in the YAML and on stderr.
    pub fn guess(&mut self, key: &'static str, why: &str) {
        self.guesses.insert(key, format!("guessed: {why}"));
    }

    /// The import's result: the notes then each guess, and a summary.
    pub fn outcome(self, yaml: String, differences: Vec<String>) -> super::Outcome {
        let verbatim = self
            .profiles
            .values()
            .filter(|p| matches!(p, Profile::Verbatim(_)))
            .count();
        let plural = crate::output::plural;
        let summary = format!(
            "{}, {}, {} ({} kept verbatim), {} of dnsmasq.conf kept verbatim; rendered back, it gives this setup",
            plural(self.nodes.len(), "node", "nodes"),
            plural(self.reservations.len(), "reservation", "reservations"),
            plural(self.profiles.len(), "profile", "profiles"),
            verbatim,
            plural(self.dhcp.extra.len(), "line", "lines"),
        );
        let mut notes = self.notes;
        notes.extend(
            self.guesses
                .iter()
                .map(|(key, why)| format!("`{key}` {why}")),
        );
        super::Outcome {
            yaml,
            notes,
            differences,
            summary,
        }
    }

    /// Keeps profile `name` as its file `text`: pxectl's keys do not render it byte for byte.
    pub fn keep_verbatim(&mut self, name: &str, text: &str) {
        self.profiles
            .insert(name.to_string(), Profile::Verbatim(text.to_string()));
    }

    /// The base URL booting machines use, as validation makes it.
    pub fn http_url(&self) -> String {
        let listen = self
            .http
            .listen_address
            .as_deref()
            .and_then(|a| a.trim_start_matches('[').trim_end_matches(']').parse().ok());
        let server = self
            .server
            .address
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let host = crate::cluster::http_host(listen, server);
        crate::cluster::http_url(&host, self.http.port)
    }

    /// The TFTP root's URL on nginx, as [`crate::cluster::Cluster::tftp_url`] makes it (the
    /// base URL when the TFTP root is outside the web root).
    pub fn tftp_url(&self) -> String {
        let (web, tftp) = (&self.paths.web_root, &self.paths.tftp_root);
        crate::cluster::url_of_dir(&self.http_url(), web, tftp).unwrap_or_else(|| self.http_url())
    }

    /// The description as YAML.
    pub fn yaml(&self) -> String {
        let mut out = Yaml::default();
        out.line(&format!(
            "# Imported by `pxectl import` from {}, {} and {}/.",
            self.paths.dnsmasq_conf.display(),
            self.paths.nginx_conf.display(),
            self.folder.display()
        ));
        out.line("# Lines marked `guessed` are guesses: check them (docs/import.md).");
        self.server_and_paths(&mut out);
        self.dhcp_and_http(&mut out);
        out.line("");
        out.line("profiles:");
        for (name, profile) in &self.profiles {
            out.line(&format!("  {}:", plain(name)));
            match profile {
                Profile::Modelled(m) => modelled(&mut out, name, m),
                Profile::Verbatim(text) => verbatim(&mut out, text),
            }
        }
        self.roles_and_hosts(&mut out);
        if let Some(l) = &self.loaders {
            out.line("");
            match self.guesses.get("loaders") {
                Some(why) => out.line(&format!("loaders:                   # {why}")),
                None => out.line("loaders:"),
            }
            let clients: Vec<&str> = l.clients.iter().map(|a| a.key()).collect();
            out.line(&format!("  clients: [{}]", clients.join(", ")));
            if let Some(loader) = l.loader {
                out.line(&format!("  loader: {}", loader.key()));
            }
            if l.secure_boot {
                out.line("  secure_boot: true");
            }
            if !l.files.is_empty() {
                let files: Vec<String> = l
                    .files
                    .iter()
                    .map(|(k, f)| format!("{k}: {}", flow(f)))
                    .collect();
                out.line(&format!("  files: {{{}}}", files.join(", ")));
            }
        }
        out.0
    }

    fn server_and_paths(&self, out: &mut Yaml) {
        let server = &self.server;
        out.line("");
        out.line("server:");
        self.key(
            out,
            "server.hostname",
            "  hostname",
            &plain(&server.hostname),
        );
        let address = server
            .address
            .map(|a| format!("{a}/{}", server.prefix))
            .unwrap_or_default();
        self.key(out, "server.address", "  address", &address);
        self.key(out, "", "  interface", &plain(&server.interface));
        if let Some(domain) = &server.domain {
            self.key(out, "", "  domain", &plain(domain));
        }
        out.line("");
        out.line("paths:");
        for (path, key, value) in [
            ("", "  dnsmasq_conf", &self.paths.dnsmasq_conf),
            ("", "  nginx_conf", &self.paths.nginx_conf),
            ("paths.web_root", "  web_root", &self.paths.web_root),
            ("", "  tftp_root", &self.paths.tftp_root),
        ] {
            self.key(out, path, key, &plain(&value.display().to_string()));
        }
    }

    fn dhcp_and_http(&self, out: &mut Yaml) {
        let dhcp = &self.dhcp;
        out.line("");
        out.line("dhcp:");
        if let Some((start, end)) = dhcp.range {
            out.line(&format!("  range: {{start: {start}, end: {end}}}"));
        }
        out.line(&format!("  lease_time: {}", plain(&dhcp.lease_time)));
        if dhcp.read_ethers {
            out.line("  read_ethers: true");
        }
        if !dhcp.boot_file.is_empty() {
            out.line(&format!("  boot_file: {}", plain(&dhcp.boot_file)));
        }
        if let Some(file) = &dhcp.hostsfile {
            out.line("  hosts: hostsfile");
            out.line(&format!("  hostsfile: {}", plain(file)));
        }
        if !dhcp.extra.is_empty() {
            out.line(
                "  extra:                   # dnsmasq lines pxectl does not model, kept verbatim",
            );
            for line in &dhcp.extra {
                out.line(&format!("    - {}", plain(line)));
            }
        }
        let http = &self.http;
        out.line("");
        out.line("http:");
        if !http.managed {
            out.line("  managed: false           # nginx.conf is yours: pxectl does not render, verify or reload it");
        }
        // nginx.conf left alone: only what makes `http.url` matters.
        if http.managed && !http.server_names.is_empty() {
            let names: Vec<String> = http.server_names.iter().map(|n| flow(n)).collect();
            out.line(&format!("  server_names: [{}]", names.join(", ")));
        }
        if let Some(address) = &http.listen_address {
            out.line(&format!("  listen_address: {}", plain(address)));
        }
        out.line(&format!("  port: {}", http.port));
        if http.managed {
            if !http.default_server {
                out.line("  default_server: false");
            }
            out.line(&format!("  keepalive_timeout: {}", http.keepalive_timeout));
            if http.autoindex {
                out.line("  autoindex: true");
            }
        }
    }

    fn roles_and_hosts(&self, out: &mut Yaml) {
        let roles = &self.roles;
        out.line("");
        out.line("roles:");
        self.key(out, "roles.normal", "  normal", &plain(&roles.normal));
        self.key(out, "roles.reimage", "  reimage", &plain(&roles.reimage));
        if let Some(p) = &roles.rescue {
            self.key(out, "roles.rescue", "  rescue", &plain(p));
        }
        if let Some(p) = &roles.default {
            out.line(&format!(
                "{:<27}# {}/{} links to it",
                format!("  default: {}", plain(p)),
                self.folder
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                self.default_entry
            ));
        }
        for (key, hosts) in [("reservations", &self.reservations), ("nodes", &self.nodes)] {
            if hosts.is_empty() {
                continue;
            }
            out.line("");
            out.line(&format!("{key}:"));
            for host in hosts {
                let mut item = format!(
                    "  - {{name: {}, mac: {}",
                    flow(&host.name),
                    host.mac.colon()
                );
                if let Some(ip) = host.ip {
                    let _ = write!(item, ", ip: {ip}");
                }
                if let Some(p) = &host.normal_profile {
                    let _ = write!(item, ", normal_profile: {}", flow(p));
                }
                if let Some(choice) = host.choice {
                    let default = self.loaders.as_ref().map(loaders::Settings::choice);
                    let default = default.unwrap_or_default();
                    if choice.loader != default.loader {
                        let key = choice.loader.map_or("auto", crate::loader::Loader::key);
                        let _ = write!(item, ", loader: {key}");
                    }
                    if choice.secure_boot != default.secure_boot {
                        let _ = write!(item, ", secure_boot: {}", choice.secure_boot);
                    }
                }
                item.push('}');
                out.line(&item);
            }
        }
    }

    /// `key: value`, with the guess about `path` as a comment.
    fn key(&self, y: &mut Yaml, path: &str, key: &str, value: &str) {
        let line = format!("{key}: {value}");
        match self.guesses.get(path) {
            Some(why) => y.line(&format!("{line:<26} # {why}")),
            None => y.line(&line),
        }
    }
}

/// A profile in pxectl's keys.
fn modelled(y: &mut Yaml, name: &str, m: &Modelled) {
    if m.label != name {
        y.line(&format!("    label: {}", plain(&m.label)));
    }
    match &m.kernel {
        None => y.line("    boot: local"),
        Some(k) => y.line(&format!("    kernel: {}", plain(k))),
    }
    if let Some(i) = &m.initrd {
        y.line(&format!("    initrd: {}", plain(i)));
    }
    if let Some(a) = &m.append {
        // `{{ http.url }}` stays on one line.
        let mut words: Vec<String> = Vec::new();
        let mut open = false;
        for w in a.split(' ') {
            match words.last_mut() {
                Some(last) if open => {
                    last.push(' ');
                    last.push_str(w);
                }
                _ => words.push(w.to_string()),
            }
            open = words
                .last()
                .is_some_and(|l| l.matches("{{").count() > l.matches("}}").count());
        }
        let foldable = a.len() > 60 && !words.iter().any(String::is_empty);
        if foldable {
            y.line("    append: >-");
            let mut line = String::new();
            for w in &words {
                if !line.is_empty() && line.len() + 1 + w.len() > 84 {
                    y.line(&format!("      {line}"));
                    line.clear();
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(w);
            }
            y.line(&format!("      {line}"));
        } else {
            y.line(&format!("    append: {}", plain(a)));
        }
    }
    if m.timeout != 10 {
        y.line(&format!("    timeout: {}", m.timeout));
    }
    if m.prompt {
        y.line("    prompt: true");
    }
}

/// A profile kept as its pxelinux file, in a literal block.
fn verbatim(y: &mut Yaml, text: &str) {
    const WHY: &str = "# kept verbatim: pxectl's keys cannot say it";
    // A block scalar reads any line break as `\n`: Windows line ends need a quoted string.
    if text.contains('\r') {
        let quoted = serde_json::to_string(text).unwrap_or_default();
        y.line(&format!(
            "    pxelinux: {quoted}  {WHY}, with Windows line ends"
        ));
        return;
    }
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let indicator = if body.starts_with([' ', '\t']) || body.starts_with('\n') {
        "2"
    } else {
        ""
    };
    y.line(&format!(
        "    pxelinux: |{indicator}{chomp}            {WHY}"
    ));
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if line.is_empty() {
            y.line("");
        } else {
            y.line(&format!("      {line}"));
        }
    }
}

/// The lines written so far.
#[derive(Default)]
struct Yaml(String);

impl Yaml {
    fn line(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }
}

/// `s` as a YAML scalar in block context: plain when YAML reads it back as the same string,
/// else double-quoted (JSON's quoting is YAML's).
fn plain(s: &str) -> String {
    if crate::description::reads_as_string(s)
        && !s.contains(" #")
        && !s.contains(": ")
        && s.trim() == s
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// `s` as a scalar inside a flow collection (`[...]`, `{...}`).
fn flow(s: &str) -> String {
    if s.contains([',', '[', ']', '{', '}']) {
        serde_json::to_string(s).unwrap_or_default()
    } else {
        plain(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_url_becomes_a_template_only_where_it_ends() {
        assert_eq!(
            templated(
                "a=http://10.0.0.1/x b=http://10.0.0.10/y c=http://10.0.0.1",
                "http://10.0.0.1"
            ),
            "a={{ http.url }}/x b=http://10.0.0.10/y c={{ http.url }}"
        );
    }

    #[test]
    fn scalars_are_quoted_only_when_yaml_would_misread_them() {
        assert_eq!(plain("root=/dev/sda2 rw"), "root=/dev/sda2 rw");
        assert_eq!(plain("80"), "\"80\"");
        assert_eq!(plain("true"), "\"true\"");
        assert_eq!(plain("a: b"), "\"a: b\"");
        assert_eq!(plain("{{ http.url }}/k"), "\"{{ http.url }}/k\"");
        assert_eq!(flow("a,b"), "\"a,b\"");
    }
}
