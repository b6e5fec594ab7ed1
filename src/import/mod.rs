//! `pxectl import`: a hand-made setup (dnsmasq.conf, nginx.conf, the loaders' folders) read into a
//! description, proved by rendering that description into a scratch folder and comparing it
//! with the setup (the round trip).

mod draft;
mod folder;
mod loaders;
mod nginx;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::dnsmasq_conf::{self as dnsmasq, Directive};
use crate::layout::{on_this_machine, Layout};
use crate::loader::{Choice, Loader};
use crate::mac::MacAddr;
use draft::{Draft, Host, Profile};

/// What to import: the setup's files as the boot server names them, found under `root`.
pub struct Request<'a> {
    pub root: Option<&'a Path>,
    pub dnsmasq_conf: &'a Path,
    pub nginx_conf: &'a Path,
}

/// The result of an import whose setup could be read.
pub struct Outcome {
    /// The description, as YAML with the guesses in comments.
    pub yaml: String,
    /// What was guessed or kept verbatim, for stderr.
    pub notes: Vec<String>,
    /// How the rendered description differs from the setup; empty when the round trip holds.
    pub differences: Vec<String>,
    /// What the description holds, in one line.
    pub summary: String,
}

/// Reads the setup `req` names and proves the description made of it.
pub fn import(req: &Request<'_>) -> Result<Outcome> {
    let setup = Setup::read(req)?;
    let mut draft = setup.draft()?;
    setup.settle_loaders(&mut draft)?;
    // A pass keeps verbatim what did not render the same (profiles, nginx.conf); what is kept
    // verbatim renders the same, so the second pass is the last.
    loop {
        let yaml = draft.yaml();
        let rendered = match render(&yaml)? {
            Ok(rendered) => rendered,
            Err(invalid) => {
                let mut differences = draft.problems.clone();
                differences.extend(invalid);
                return Ok(draft.outcome(yaml, differences));
            }
        };
        let unrendered = setup.unrendered_profiles(&draft, &rendered);
        let nginx_differs =
            draft.http.managed && rendered.nginx.as_deref() != Some(setup.nginx_text.as_str());
        for name in &unrendered {
            draft.keep_verbatim(name, &setup.folder.profiles[name]);
        }
        if nginx_differs {
            draft.http.managed = false;
            draft.notes.push(format!(
                "{}: not what pxectl renders; kept as yours with `http.managed: false` (pxectl will not render, verify or reload it)",
                req.nginx_conf.display()
            ));
        }
        if nginx_differs || !unrendered.is_empty() {
            continue;
        }
        let differences = setup.differences(&draft, &rendered);
        if differences.is_empty() {
            setup.say_rewrites(&mut draft, &rendered);
        }
        return Ok(draft.outcome(yaml, differences));
    }
}

/// The description `yaml` rendered into a scratch folder; or, when it is invalid, why.
fn render(yaml: &str) -> Result<Result<Rendered, Vec<String>>> {
    match crate::description::parse(yaml, Path::new(".")) {
        Ok(cluster) => Ok(Ok(Rendered::render(&cluster)?)),
        Err(diagnostics) => Ok(Err(diagnostics
            .iter()
            .map(|d| {
                format!(
                    "the imported description is invalid at `{}`: {}{}",
                    d.path,
                    d.message,
                    d.hint
                        .as_deref()
                        .map(|h| format!("; {h}"))
                        .unwrap_or_default()
                )
            })
            .collect())),
    }
}

/// `real` (a path on the boot server) on this machine, under `root`. Refused when a link on
/// the way would be read outside `root`: an absolute one (it names a path on the boot server,
/// not here), or one climbing out with `..`.
fn under_root(real: &Path, root: Option<&Path>) -> Result<PathBuf> {
    let path = on_this_machine(real, root);
    let Some(root) = root.filter(|r| *r != Path::new("/")) else {
        return Ok(path);
    };
    let mut at = root.to_path_buf();
    for part in real.components().skip(1) {
        at.push(part);
        if let Some(target) = std::fs::read_link(&at).ok().filter(|t| t.is_absolute()) {
            bail!(
                "`{}` is a link to `{}`, which import would read on this machine, outside `--root` `{}`; make the link relative, or copy what it points at into the tree, and import again",
                at.display(),
                target.display(),
                root.display()
            );
        }
    }
    if let (Ok(top), Ok(resolved)) = (root.canonicalize(), path.canonicalize()) {
        if !resolved.starts_with(&top) {
            bail!(
                "`{}` leads out of `--root` `{}` through a link (to `{}`); import reads only the tree under `--root`: copy what it points at into the tree, and import again",
                path.display(),
                root.display(),
                resolved.display()
            );
        }
    }
    Ok(path)
}

/// The dnsmasq.conf the description `yaml` plans, without writing anything; none when the
/// description is invalid.
fn planned_dnsmasq(yaml: &str) -> Result<Option<String>> {
    let Ok(cluster) = crate::description::parse(yaml, Path::new(".")) else {
        return Ok(None);
    };
    let layout = Layout::new(&cluster, None);
    let templates = crate::templates::Templates::load(None)?;
    let plan = crate::plan::build(&cluster, &layout, &templates)?;
    Ok(plan
        .files
        .into_iter()
        .find(|f| f.kind == crate::plan::FileKind::DnsmasqConf)
        .map(|f| f.contents))
}

/// A text file of the setup: readable, UTF-8 and free of control characters but tab, CR and
/// newline; `shown` names it in messages.
pub(crate) fn read_text(path: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read `{shown}` (at `{}`)", path.display()))?;
    let text = String::from_utf8(bytes).ok().filter(|t| {
        !t.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    });
    match text {
        Some(t) => Ok(t),
        None => bail!(
            "`{shown}` (at `{}`) is not a text file: it holds bytes that are not UTF-8 text; give the path of the real file",
            path.display()
        ),
    }
}

/// The setup as read.
struct Setup {
    dnsmasq_shown: String,
    dnsmasq_text: String,
    directives: Vec<Directive>,
    nginx_conf: PathBuf,
    nginx_text: String,
    nginx: nginx::Nginx,
    dnsmasq_conf: PathBuf,
    tftp_root: PathBuf,
    /// The loader whose folder the profiles are read from: pxelinux's when there is one.
    primary: Loader,
    /// Its folder.
    folder: folder::Folder,
    /// The other loaders' folders that exist.
    others: Vec<(Loader, folder::Folder)>,
    /// The hosts file's real path and lines, when dnsmasq reads one.
    hostsfile: Option<(PathBuf, String, Vec<Directive>)>,
}

impl Setup {
    fn read(req: &Request<'_>) -> Result<Self> {
        for (flag, path) in [
            ("--dnsmasq-conf", req.dnsmasq_conf),
            ("--nginx-conf", req.nginx_conf),
        ] {
            if !path.is_absolute() {
                return Err(crate::exit_codes::UsageError(format!(
                    "`{}` is not an absolute path; give `{flag}` the path as the boot server names it (under `--root`)",
                    path.display()
                ))
                .into());
            }
        }
        let host = |real: &Path| under_root(real, req.root);
        let dnsmasq_shown = req.dnsmasq_conf.display().to_string();
        let text = read_text(&host(req.dnsmasq_conf)?, &dnsmasq_shown)?;
        let directives = dnsmasq::parse(&text, &dnsmasq_shown)?;
        let nginx_text = read_text(
            &host(req.nginx_conf)?,
            &req.nginx_conf.display().to_string(),
        )?;
        let nginx = nginx::parse(&nginx_text);
        let Some(tftp_root) = directives
            .iter()
            .find(|d| d.option == "tftp-root")
            .and_then(|d| d.value.clone())
        else {
            bail!("`{dnsmasq_shown}` has no `tftp-root=`, so import cannot find the loaders' folders; pxectl serves files by TFTP from dnsmasq: add `enable-tftp` and `tftp-root=PATH`");
        };
        let tftp_root = PathBuf::from(tftp_root);
        // The profiles come from `pxelinux.cfg/`, else (a UEFI-only setup) from the first
        // other loader's folder there is.
        let mut folders = Vec::new();
        for loader in Loader::ALL {
            let real = loader.dir_in(&tftp_root);
            let dir = host(&real)?;
            if dir.is_dir() {
                folders.push((loader, folder::read(loader, &dir, &real, &tftp_root)?));
            }
        }
        if folders.is_empty() {
            bail!(
                "the TFTP root `{}` has no loader's folder (`pxelinux.cfg/`, `grub/`, `ipxe/`...); import reads the profiles and per-MAC links from them",
                tftp_root.display()
            );
        }
        let (primary, folder) = folders.remove(0);
        let others = folders;
        let hostsfile = match directives.iter().find(|d| d.option == "dhcp-hostsfile") {
            Some(d) if d.value.as_deref().unwrap_or_default().is_empty() => bail!(
                "{dnsmasq_shown}:{}: `dhcp-hostsfile=` names no file; give the path of the hosts file, or remove the line, and import again",
                d.line
            ),
            Some(d) => {
                let real = PathBuf::from(d.value.clone().unwrap_or_default());
                let shown = real.display().to_string();
                let text = read_text(&host(&real)?, &shown)?;
                let lines = dnsmasq::hosts(&text, &shown)?;
                Some((real, text, lines))
            }
            None => None,
        };
        Ok(Self {
            dnsmasq_shown,
            dnsmasq_text: text,
            directives,
            nginx_conf: req.nginx_conf.to_path_buf(),
            nginx_text,
            nginx,
            dnsmasq_conf: req.dnsmasq_conf.to_path_buf(),
            tftp_root,
            primary,
            folder,
            others,
            hostsfile,
        })
    }

    /// The description the setup reads as, with what was guessed.
    fn draft(&self) -> Result<Draft> {
        let mut d = Draft {
            folder: self.primary.dir_in(&self.tftp_root),
            default_entry: self.primary.default_entry(),
            ..Draft::default()
        };
        d.paths.dnsmasq_conf.clone_from(&self.dnsmasq_conf);
        d.paths.nginx_conf.clone_from(&self.nginx_conf);
        d.paths.tftp_root.clone_from(&self.tftp_root);
        d.dhcp.lease_time = "1h".into();
        let mut hosts = Vec::new();
        let mut mask = None;
        // dnsmasq.conf: each directive pxectl models once, the rest kept as `dhcp.extra`.
        let domain = self.domain();
        let mut seen = BTreeSet::new();
        self.unmodelled_forms(&mut d);
        // The boot file: the one untagged `dhcp-boot`, naming a file alone.
        let boot_file = match self.untagged_boots()[..] {
            [dir] => dir.value.as_deref().filter(|v| !v.contains(',')),
            _ => None,
        };
        for dir in &self.directives {
            let value = dir.value.as_deref();
            let first = seen.insert(dir.option.clone());
            let modelled = match (dir.option.as_str(), value) {
                ("interface", Some(i)) if first && one_interface(i) => {
                    d.server.interface = i.to_string();
                    true
                }
                ("enable-tftp" | "read-ethers", None) if first => {
                    d.dhcp.read_ethers |= dir.option == "read-ethers";
                    true
                }
                ("tftp-root", Some(_)) if first => true,
                ("dhcp-range", Some(v)) if first => match range(v) {
                    Some((r, m, lease)) => {
                        d.dhcp.range = r;
                        mask = m;
                        d.dhcp.lease_time = lease;
                        true
                    }
                    None => false,
                },
                ("dhcp-boot", Some(v)) if Some(v) == boot_file => {
                    d.dhcp.boot_file = v.to_string();
                    true
                }
                ("dhcp-hostsfile", Some(v)) if first => {
                    d.dhcp.hostsfile = Some(v.to_string());
                    true
                }
                _ if self.many_loaders() && loaders::is_boot_rule(dir) => {
                    d.boot_rules.push((dir.line, dir.text()));
                    true
                }
                ("dhcp-host", Some(v)) if self.hostsfile.is_none() => {
                    match host(v, domain.as_deref()) {
                        Some(h) => {
                            hosts.push(h);
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            };
            if !modelled {
                d.notes.push(format!(
                    "{}:{}: `{}` is not modelled; kept verbatim in `dhcp.extra`",
                    self.dnsmasq_shown,
                    dir.line,
                    dir.text()
                ));
                d.dhcp.extra.push(dir.text());
            }
        }
        if let Some((real, _, lines)) = &self.hostsfile {
            for line in lines {
                let value = line.value.clone().unwrap_or_default();
                match host(&value, domain.as_deref()) {
                    Some(h) => hosts.push(h),
                    None => d.problems.push(format!(
                        "{}:{}: `{value}` is not a reservation pxectl can describe (`MAC[,IP],NAME`)",
                        real.display(),
                        line.line
                    )),
                }
            }
        }
        d.server.domain = domain;
        self.http(&mut d);
        self.server_address(&mut d, &hosts, mask)?;
        self.hosts_and_roles(&mut d, hosts);
        self.profiles(&mut d);
        d.problems.extend(self.folder.problems.iter().cloned());
        Ok(d)
    }

    /// The profiles, from the files of the loader read first: modelled, kept verbatim (only
    /// pxelinux's), or a problem.
    fn profiles(&self, d: &mut Draft) {
        let dir = self.primary.dir_in(&self.tftp_root);
        for (name, text) in &self.folder.profiles {
            let profile = match folder::model(self.primary, name, text) {
                Some(m) => Profile::Modelled(m.with_url(&d.http_url())),
                None if self.primary == Loader::Pxelinux => Profile::Verbatim(text.clone()),
                None => {
                    d.problems.push(format!(
                        "{}/{}: not a profile in the form pxectl writes, which only pxelinux's can be kept as written; describe it by hand",
                        dir.display(),
                        self.primary.file(name)
                    ));
                    continue;
                }
            };
            d.profiles.insert(name.clone(), profile);
        }
    }

    /// Problems with forms of the lines pxectl needs (one interface, one boot file, a range)
    /// that it does not write, each at its line with the form to write instead.
    fn unmodelled_forms(&self, d: &mut Draft) {
        let at = |dir: &Directive| format!("{}:{}: `{}`", self.dnsmasq_shown, dir.line, dir.text());
        let of = |option: &'static str| self.directives.iter().filter(move |d| d.option == option);
        match of("interface").next() {
            None => d.problems.push(format!(
                "{}: has no `interface=` line; pxectl's dnsmasq serves one interface: add `interface=NAME` and import again",
                self.dnsmasq_shown
            )),
            Some(dir) if !dir.value.as_deref().is_some_and(one_interface) => {
                d.problems.push(format!(
                    "{} is not one interface name as pxectl writes it: write `interface=NAME` (one name, no quotes) and import again",
                    at(dir)
                ));
            }
            Some(_) => {}
        }
        let untagged = self.untagged_boots();
        if untagged.len() > 1 {
            let lines: Vec<String> = untagged.iter().map(|dir| dir.line.to_string()).collect();
            d.problems.push(format!(
                "{}: lines {} are untagged `dhcp-boot` lines, of which dnsmasq serves only the last; keep that one and import again",
                self.dnsmasq_shown,
                lines.join(", ")
            ));
        } else if let Some(dir) = untagged.first().filter(|dir| dir.text().contains(',')) {
            d.problems.push(format!(
                "{} names a TFTP server; pxectl's boot file is served by this dnsmasq: write `dhcp-boot=FILE` and import again",
                at(dir)
            ));
        }
        if let Some(dir) = of("dhcp-range").next() {
            if range(dir.value.as_deref().unwrap_or_default()).is_none() {
                d.problems.push(format!(
                    "{} is not a form pxectl writes (`START,END,LEASE`, or `NETWORK,static,NETMASK,LEASE`): rewrite it so and import again",
                    at(dir)
                ));
            }
        }
        for dir in self.directives.iter().filter(|dir| {
            matches!(
                dir.option.as_str(),
                "dhcp-optsfile" | "dhcp-optsdir" | "dhcp-hostsdir" | "addn-hosts" | "hostsdir"
            )
        }) {
            d.notes.push(format!(
                "{}: import does not read what it names; reservations there are not described, and pxectl leaves the file alone",
                at(dir)
            ));
        }
    }

    /// The untagged `dhcp-boot` lines: dnsmasq serves the last to clients no tagged one is for.
    fn untagged_boots(&self) -> Vec<&Directive> {
        self.directives
            .iter()
            .filter(|d| {
                d.option == "dhcp-boot" && !dnsmasq::tagged(d.value.as_deref().unwrap_or("tag:"))
            })
            .collect()
    }

    /// Whether the setup serves more than pxelinux.
    fn many_loaders(&self) -> bool {
        self.primary != Loader::Pxelinux || !self.others.is_empty()
    }

    /// The domain of the first reservation named with one (none when every reservation has a
    /// short name), else of the server's name in nginx.
    fn domain(&self) -> Option<String> {
        let lines = self.reservation_lines();
        let names: Vec<&str> = lines
            .iter()
            .filter_map(|(_, _, v)| v.rsplit(',').next())
            .collect();
        let names = if names.is_empty() {
            self.nginx.server_names.iter().map(String::as_str).collect()
        } else {
            names
        };
        names
            .into_iter()
            .filter(|name| name.parse::<Ipv4Addr>().is_err())
            .find_map(|name| name.split_once('.').map(|(_, d)| d.trim().to_string()))
    }

    /// nginx's settings, and the server's host name from its `server_name`.
    fn http(&self, d: &mut Draft) {
        let n = &self.nginx;
        if let Some((address, port, default_server)) = &n.listen {
            d.http.listen_address.clone_from(address);
            d.http.port = *port;
            d.http.default_server = *default_server;
        }
        d.http.server_names.clone_from(&n.server_names);
        d.http.keepalive_timeout = n.keepalive_timeout.unwrap_or(0);
        d.http.autoindex = n.autoindex.unwrap_or(false);
        d.paths.web_root = PathBuf::from(n.root.as_deref().unwrap_or("/srv/public"));
        if n.root.is_none() {
            d.guess(
                "paths.web_root",
                "nginx.conf names no `root`; pxectl's default",
            );
        }
        let name = n
            .server_names
            .iter()
            .find(|s| s.parse::<Ipv4Addr>().is_err() && *s != "localhost" && !s.contains('*'));
        d.server.hostname = name
            .map_or("boot", |s| s.split('.').next().unwrap_or(s))
            .to_string();
        let why = name.map_or_else(
            || "nothing names the server".to_string(),
            |s| format!("from nginx's `server_name` `{s}`"),
        );
        d.guess("server.hostname", &why);
    }

    /// The server's address (from nginx, else the profiles' URLs) and the subnet's prefix
    /// (dnsmasq's netmask, else the narrowest of /24 and wider that holds every address).
    fn server_address(&self, d: &mut Draft, hosts: &[Host], mask: Option<Ipv4Addr>) -> Result<()> {
        let in_nginx = self
            .nginx
            .server_names
            .iter()
            .chain(d.http.listen_address.iter())
            .find_map(|s| s.parse::<Ipv4Addr>().ok());
        let in_urls = || {
            self.folder.profiles.values().find_map(|text| {
                let after = text.split("http://").nth(1)?;
                let host: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                host.parse::<Ipv4Addr>().ok()
            })
        };
        let (address, from) = match (in_nginx, in_urls()) {
            (Some(a), _) => (a, "nginx's `server_name` or `listen`"),
            (None, Some(a)) => (a, "the profiles' URLs"),
            (None, None) => bail!(
                "cannot tell the boot server's address: neither `{}` (`server_name`, `listen`) nor the profiles' URLs name it; add it to nginx's `server_name` and import again",
                self.nginx_conf.display()
            ),
        };
        d.server.address = Some(address);
        d.server.prefix = if let Some(m) = mask {
            d.guess("server.address", &format!("from {from}"));
            u8::try_from(u32::from(m).leading_ones()).unwrap_or(32)
        } else {
            let mut all: Vec<Ipv4Addr> = hosts.iter().filter_map(|h| h.ip).collect();
            if let Some((a, b)) = d.dhcp.range {
                all.extend([a, b]);
            }
            let apart = |ip: &Ipv4Addr, prefix: u8| {
                (u32::from(*ip) ^ u32::from(address)) >> (32 - u32::from(prefix)) != 0
            };
            let mut prefix = 24u8;
            while prefix > 8 && all.iter().any(|ip| apart(ip, prefix)) {
                prefix -= 1;
            }
            d.guess(
                "server.address",
                &format!("from {from}; /{prefix} holds the range and fixed addresses"),
            );
            prefix
        };
        Ok(())
    }

    /// Per-MAC links pxectl cannot describe: orphans, and links to no profile.
    fn stale_links(&self, d: &mut Draft, hosts: &[Host]) {
        let known: BTreeSet<MacAddr> = hosts.iter().map(|h| h.mac).collect();
        let dir = self.primary.dir_in(&self.tftp_root);
        let dir = dir.display();
        for (mac, target) in &self.folder.entries {
            if !known.contains(mac) {
                if let Some(line) = self.unread_reservation(*mac) {
                    d.problems.push(format!(
                        "{dir}/{}: MAC `{}` has a reservation pxectl cannot describe ({line}), so its node is not described; pxectl writes `dhcp-host=MAC[,set:pxectl-LOADER[-sb]][,IP],NAME` (LOADER: auto, pxelinux, syslinux-efi, grub or ipxe): rewrite the line so and import again",
                        self.primary.entry(*mac),
                        mac.colon()
                    ));
                    continue;
                }
                d.problems.push(format!(
                    "{dir}/{}: an orphan link to `{target}`: no reservation names MAC `{}`; add a `dhcp-host={},NAME` line or remove the link",
                    self.primary.entry(*mac),
                    mac.colon(),
                    mac.colon()
                ));
            } else if !self.folder.profiles.contains_key(target) {
                d.problems.push(format!(
                    "{dir}/{}: links to `{target}`, which is no profile file in `{dir}`; point it at a profile or add the file",
                    self.primary.entry(*mac)
                ));
            }
        }
        if let Some(target) = &self.folder.default {
            if !self.folder.profiles.contains_key(target) {
                d.problems.push(format!(
                    "{dir}/{}: links to `{target}`, which is no profile file in `{dir}`; point it at a profile or add the file",
                    self.primary.default_entry()
                ));
            }
        }
    }

    /// Where a reservation of `mac` is that [`host`] could not read: its file, line and text.
    fn unread_reservation(&self, mac: MacAddr) -> Option<String> {
        self.reservation_lines()
            .into_iter()
            .find_map(|(at, text, v)| {
                let names =
                    v.split(',').next().and_then(|m| m.parse::<MacAddr>().ok()) == Some(mac);
                names.then(|| format!("{at}: `{text}`"))
            })
    }

    /// Every reservation as dnsmasq reads it (`dhcp-host=` lines, the hosts file's lines):
    /// its `file:line`, its text there and its value.
    fn reservation_lines(&self) -> Vec<(String, String, String)> {
        let in_conf = self
            .directives
            .iter()
            .filter(|d| d.option == "dhcp-host")
            .map(|d| {
                let at = format!("{}:{}", self.dnsmasq_shown, d.line);
                (at, d.text(), d.value.clone().unwrap_or_default())
            });
        let in_file = self.hostsfile.iter().flat_map(|(real, _, lines)| {
            lines.iter().map(move |d| {
                let v = d.value.clone().unwrap_or_default();
                (format!("{}:{}", real.display(), d.line), v.clone(), v)
            })
        });
        in_conf.chain(in_file).collect()
    }

    /// The roles: `normal` what most nodes link to, `reimage` and `rescue` by name,
    /// `default` what `default` links to.
    fn roles(&self, d: &mut Draft, linked: &BTreeMap<MacAddr, &str>, hosts: &[Host]) {
        let profiles = &self.folder.profiles;
        let by_name = |words: &[&str]| {
            profiles
                .keys()
                .find(|p| words.iter().any(|w| p.to_ascii_lowercase().contains(w)))
                .cloned()
        };
        let reimage = by_name(&["install", "reimage", "deploy", "provision"]);
        let rescue = by_name(&["rescue"]);
        // A node on the installer or rescue is switched there, not at home.
        let home = |p: &str| Some(p) != reimage.as_deref() && Some(p) != rescue.as_deref();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let nodes = hosts.iter().filter(|h| linked.contains_key(&h.mac)).count();
        let mut away = 0;
        for h in hosts {
            if let Some(t) = linked.get(&h.mac).filter(|t| profiles.contains_key(**t)) {
                if home(t) {
                    *counts.entry(t).or_default() += 1;
                } else {
                    away += 1;
                }
            }
        }
        let default = self
            .folder
            .default
            .clone()
            .filter(|t| profiles.contains_key(t));
        let most = counts
            .iter()
            .max_by_key(|(p, n)| (**n, std::cmp::Reverse(*p)));
        let normal = most.map_or_else(
            || {
                profiles
                    .keys()
                    .find(|p| home(p))
                    .or_else(|| profiles.keys().next())
                    .cloned()
                    .unwrap_or_default()
            },
            |(p, _)| (*p).to_string(),
        );
        let why = match most {
            Some((_, n)) => format!("{n} of {nodes} nodes link to it"),
            None if away > 0 => {
                "every node is on the installer or rescue; the first other profile".to_string()
            }
            None => "no node links to a profile".to_string(),
        };
        d.guess("roles.normal", &why);
        d.guess(
            "roles.reimage",
            if reimage.is_some() {
                "by its name"
            } else {
                "no profile is named like an installer"
            },
        );
        if rescue.is_some() {
            d.guess("roles.rescue", "by its name");
        }
        d.roles = draft::Roles {
            reimage: reimage.unwrap_or_else(|| default.clone().unwrap_or_else(|| normal.clone())),
            normal,
            rescue,
            default,
        };
    }

    /// Nodes (reservations with a per-MAC link), reservations, and the roles.
    fn hosts_and_roles(&self, d: &mut Draft, hosts: Vec<Host>) {
        let linked: BTreeMap<MacAddr, &str> = self
            .folder
            .entries
            .iter()
            .map(|(mac, target)| (*mac, target.as_str()))
            .collect();
        self.stale_links(d, &hosts);
        self.roles(d, &linked, &hosts);
        let switched = |p: &str| p == d.roles.reimage || Some(p) == d.roles.rescue.as_deref();
        let mut notes = Vec::new();
        for mut h in hosts {
            let Some(target) = linked.get(&h.mac) else {
                d.reservations.push(h);
                continue;
            };
            if *target != d.roles.normal && self.folder.profiles.contains_key(*target) {
                if switched(target) {
                    notes.push(format!(
                        "{} boots `{target}` next (switched); render leaves its link alone",
                        h.name
                    ));
                } else {
                    h.normal_profile = Some((*target).to_string());
                }
            }
            d.nodes.push(h);
        }
        d.notes.extend(notes);
    }

    /// `loaders` whose boot lines are the setup's, tried from the most usual; when none is,
    /// the lines are kept verbatim and the other loaders' folders left alone.
    fn settle_loaders(&self, draft: &mut Draft) -> Result<()> {
        if draft.boot_rules.is_empty() && !self.many_loaders() {
            return Ok(());
        }
        let rules: Vec<String> = draft.boot_rules.iter().map(|(_, r)| r.clone()).collect();
        let nodes: BTreeSet<Choice> = draft.nodes.iter().filter_map(|n| n.choice).collect();
        let nodes: Vec<Choice> = nodes.into_iter().collect();
        for candidate in loaders::candidates(&rules, &draft.tftp_url(), &nodes) {
            draft.loaders = Some(candidate);
            if let Some(planned) = planned_dnsmasq(&draft.yaml())? {
                let boot = dnsmasq::parse(&planned, "")?;
                let rendered: Vec<String> = boot
                    .iter()
                    .filter(|d| loaders::is_boot_rule(d))
                    .map(Directive::text)
                    .collect();
                if rendered == rules {
                    let folders: Vec<String> = std::iter::once(self.primary)
                        .chain(self.others.iter().map(|(l, _)| *l))
                        .filter(|l| *l != Loader::Pxelinux)
                        .map(|l| format!("{}/", l.dir()))
                        .collect();
                    draft.guess(
                        "loaders",
                        &format!(
                            "dnsmasq's boot lines are what these render; {} read too",
                            folders.join(", ")
                        ),
                    );
                    return Ok(());
                }
            }
        }
        draft.loaders = None;
        for (line, rule) in std::mem::take(&mut draft.boot_rules) {
            draft.notes.push(format!(
                "{}:{line}: `{rule}` is not what any `loaders` setting renders; kept verbatim in `dhcp.extra`",
                self.dnsmasq_shown
            ));
            draft.dhcp.extra.push(rule);
        }
        for (loader, _) in &self.others {
            draft.notes.push(format!(
                "{}: left out of the description; pxectl will leave it alone",
                loader.dir_in(&self.tftp_root).display()
            ));
        }
        Ok(())
    }

    /// Notes that dnsmasq.conf or the hosts file hold the same, but not the same bytes.
    fn say_rewrites(&self, draft: &mut Draft, rendered: &Rendered) {
        if rendered.dnsmasq != self.dnsmasq_text {
            draft.notes.push(format!(
                "{}: the same directives, but not byte for byte (comments, spacing or order); pxectl takes it as up to date and leaves it alone until the description changes what it says, then writes it in its own layout, without the comments",
                self.dnsmasq_shown
            ));
        }
        if let (Some((real, source, _)), Some(r)) = (&self.hostsfile, &rendered.hostsfile) {
            if source != r {
                draft.notes.push(format!(
                    "{}: the same reservations, but not byte for byte (comments or order); pxectl takes it as up to date and leaves it alone until the reservations change, then writes it in its own layout, without the comments",
                    real.display()
                ));
            }
        }
    }

    /// The modelled profiles whose rendering differs from their file.
    fn unrendered_profiles(&self, draft: &Draft, rendered: &Rendered) -> Vec<String> {
        // Only pxelinux's files can be kept as written.
        let Some(files) = rendered
            .profiles_of(Loader::Pxelinux)
            .filter(|_| self.primary == Loader::Pxelinux)
        else {
            return Vec::new();
        };
        draft
            .profiles
            .iter()
            .filter(|(name, p)| {
                matches!(p, Profile::Modelled(_))
                    && files.get(*name) != self.folder.profiles.get(*name)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// How the rendered tree differs from the setup.
    fn differences(&self, draft: &Draft, rendered: &Rendered) -> Vec<String> {
        let mut out = draft.problems.clone();
        match dnsmasq::parse(&rendered.dnsmasq, &self.dnsmasq_shown) {
            Ok(r) => out.extend(dnsmasq::differences(
                &self.directives,
                &r,
                &self.dnsmasq_shown,
            )),
            Err(e) => out.push(format!("{e:#}")),
        }
        if let (Some((real, _, source)), Some(r)) = (&self.hostsfile, &rendered.hostsfile) {
            let shown = real.display().to_string();
            match dnsmasq::hosts(r, &shown) {
                Ok(r) => out.extend(dnsmasq::differences(source, &r, &shown)),
                Err(e) => out.push(format!("{e:#}")),
            }
        }
        let empty = folder::Folder::default();
        let mut targets: BTreeMap<MacAddr, BTreeSet<&String>> = BTreeMap::new();
        for (loader, ren) in &rendered.folders {
            let src = match self.source_folder(*loader) {
                Some(src) => src,
                None if ren.entries.is_empty() && ren.default.is_none() => &empty,
                None => {
                    out.push(format!(
                        "{}: would be created: the description serves it by `loaders`",
                        loader.dir_in(&self.tftp_root).display()
                    ));
                    continue;
                }
            };
            if *loader != self.primary {
                out.extend(src.problems.iter().cloned());
            }
            for (mac, target) in &src.entries {
                targets.entry(*mac).or_default().insert(target);
            }
            self.compare_folder(*loader, src, ren, draft, &mut out);
        }
        for (mac, set) in targets.iter().filter(|(_, set)| set.len() > 1) {
            let set: Vec<&str> = set.iter().map(|t| t.as_str()).collect();
            out.push(format!(
                "the entries of MAC `{}` disagree (`{}`); point them all at one profile",
                mac.colon(),
                set.join("`, `")
            ));
        }
        out
    }

    /// The folder of `loader` as found.
    fn source_folder(&self, loader: Loader) -> Option<&folder::Folder> {
        if loader == self.primary {
            return Some(&self.folder);
        }
        self.others
            .iter()
            .find(|(l, _)| *l == loader)
            .map(|(_, f)| f)
    }

    /// How `loader`'s rendered folder `ren` differs from the one found, `src`.
    fn compare_folder(
        &self,
        loader: Loader,
        src: &folder::Folder,
        ren: &folder::Folder,
        draft: &Draft,
        out: &mut Vec<String>,
    ) {
        let dir = loader.dir_in(&self.tftp_root);
        let dir = dir.display();
        for name in src
            .profiles
            .keys()
            .chain(ren.profiles.keys())
            .collect::<BTreeSet<_>>()
        {
            if src.profiles.get(name) != ren.profiles.get(name) {
                out.push(format!(
                    "{dir}/{}: the profile would not be rendered byte for byte",
                    loader.file(name)
                ));
            }
        }
        if src.dispatcher != ren.dispatcher {
            out.push(format!(
                "{dir}/{}: would not be rendered byte for byte",
                loader.dispatcher().unwrap_or_default()
            ));
        }
        if src.default != ren.default && (loader != self.primary || src.default.is_some()) {
            out.push(format!(
                "{dir}/{}: links to `{}`, would link to `{}`",
                loader.default_entry(),
                src.default.as_deref().unwrap_or("nothing"),
                ren.default.as_deref().unwrap_or("nothing")
            ));
        }
        let source: BTreeMap<MacAddr, &String> = src.entries.iter().map(|(m, t)| (*m, t)).collect();
        for (mac, target) in &ren.entries {
            match source.get(mac) {
                None => out.push(format!(
                    "{dir}/{}: would be created, linking to `{target}`",
                    loader.entry(*mac)
                )),
                // Equal, or a switched node: render leaves the link alone. A link to no
                // profile is in the folder's problems.
                Some(t) if *t == target || draft.profiles.contains_key(*t) => {}
                Some(t) if loader != self.primary => out.push(format!(
                    "{dir}/{}: links to `{t}`, which is no described profile",
                    loader.entry(*mac)
                )),
                Some(_) => {}
            }
        }
    }
}

/// Whether an `interface=` value is one interface name, as pxectl writes it.
fn one_interface(v: &str) -> bool {
    !v.contains([',', '"'])
}

/// A dynamic range, the netmask of a static one, and the lease time.
type Range = (Option<(Ipv4Addr, Ipv4Addr)>, Option<Ipv4Addr>, String);

/// A `dhcp-range=` value pxectl renders: `START,END,LEASE` (the range), or
/// `NETWORK,static,NETMASK,LEASE` (no range).
fn range(v: &str) -> Option<Range> {
    let parts: Vec<&str> = v.split(',').collect();
    match parts[..] {
        [a, b, lease] => Some((
            Some((a.parse().ok()?, b.parse().ok()?)),
            None,
            lease.to_string(),
        )),
        [net, "static", mask, lease] => {
            net.parse::<Ipv4Addr>().ok()?;
            Some((None, Some(mask.parse().ok()?), lease.to_string()))
        }
        _ => None,
    }
}

/// A `dhcp-host=` value pxectl renders: `MAC[,IP],NAME` with the MAC as pxectl spells it and
/// the name qualified by `domain` when there is one.
fn host(v: &str, domain: Option<&str>) -> Option<Host> {
    let mut parts: Vec<&str> = v.split(',').collect();
    // A node's loader choice, as pxectl tags it: right after the MAC.
    let choice = match parts.get(1).and_then(|p| p.strip_prefix("set:")) {
        Some(tag) => {
            let choice = Choice::from_tag(tag)?;
            parts.remove(1);
            Some(choice)
        }
        None => None,
    };
    let (mac, ip, name) = match parts[..] {
        [mac, name] => (mac, None, name),
        [mac, ip, name] => (mac, Some(ip.parse().ok()?), name),
        _ => return None,
    };
    let mac: MacAddr = mac.parse().ok().filter(|m: &MacAddr| m.colon() == mac)?;
    let name = match domain {
        Some(d) => name.strip_suffix(&format!(".{d}"))?,
        None => name,
    };
    (!name.is_empty() && !name.contains('.')).then(|| Host {
        name: name.to_string(),
        mac,
        ip,
        normal_profile: None,
        choice,
    })
}

/// The description rendered into a scratch folder, read back.
struct Rendered {
    dnsmasq: String,
    nginx: Option<String>,
    hostsfile: Option<String>,
    /// The folder of each loader in use, pxelinux's first when it is.
    folders: Vec<(Loader, folder::Folder)>,
}

impl Rendered {
    fn render(cluster: &crate::cluster::Cluster) -> Result<Self> {
        let scratch = tempfile::tempdir().context("cannot make a scratch folder to render into")?;
        let layout = Layout::new(cluster, Some(scratch.path()));
        let templates = crate::templates::Templates::load(None)?;
        let plan = crate::plan::build(cluster, &layout, &templates)?;
        let cmp = crate::tree::compare(&plan, &layout, false, false)?;
        crate::tree::apply(&cmp, &indicatif::ProgressBar::hidden())?;
        let text = |p: &Path| read_text(p, &p.display().to_string());
        let hosts = cluster.dhcp.hosts == crate::cluster::HostsMode::Hostsfile;
        let tftp_root = &cluster.paths.tftp_root;
        let mut folders = Vec::new();
        for (loader, dir) in &plan.dirs {
            let on_server = loader.dir_in(tftp_root);
            folders.push((*loader, folder::read(*loader, dir, &on_server, tftp_root)?));
        }
        Ok(Self {
            dnsmasq: text(&layout.dnsmasq_conf)?,
            nginx: if cluster.http.managed {
                Some(text(&layout.nginx_conf)?)
            } else {
                None
            },
            hostsfile: if hosts {
                Some(text(&layout.hostsfile)?)
            } else {
                None
            },
            folders,
        })
    }

    /// The profiles rendered for `loader`.
    fn profiles_of(&self, loader: Loader) -> Option<&BTreeMap<String, String>> {
        self.folders
            .iter()
            .find(|(l, _)| *l == loader)
            .map(|(_, f)| &f.profiles)
    }
}
