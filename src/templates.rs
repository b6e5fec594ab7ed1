//! The tera templates: built-in ones embedded in the binary, replaced by a user's folder.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;
use tera::{Context, Tera};

use crate::cluster::{Boot, Cluster, Http, Paths, Profile, Server};
use crate::loader::{self, Arch, Choice, Loader};

/// dnsmasq's configuration file.
pub const DNSMASQ: &str = "dnsmasq.conf.tera";
/// nginx's configuration file.
pub const NGINX: &str = "nginx.conf.tera";
/// One pxelinux or syslinux.efi profile.
pub const PROFILE: &str = "pxelinux-profile.tera";
/// One GRUB profile.
pub const GRUB_PROFILE: &str = "grub-profile.tera";
/// One iPXE profile.
pub const IPXE_PROFILE: &str = "ipxe-profile.tera";
/// GRUB's `grub/grub.cfg`: the per-MAC entry, else the default.
pub const GRUB_DISPATCHER: &str = "grub.cfg.tera";
/// iPXE's `ipxe/boot.ipxe`: the per-MAC entry, else the default.
pub const IPXE_DISPATCHER: &str = "boot.ipxe.tera";
/// dnsmasq's `dhcp-hostsfile` (hosts-file mode).
pub const DHCP_HOSTS: &str = "dhcp-hosts.tera";

const BUILTIN: [(&str, &str); 8] = [
    (DNSMASQ, include_str!("../templates/dnsmasq.conf.tera")),
    (NGINX, include_str!("../templates/nginx.conf.tera")),
    (PROFILE, include_str!("../templates/pxelinux-profile.tera")),
    (GRUB_PROFILE, include_str!("../templates/grub-profile.tera")),
    (IPXE_PROFILE, include_str!("../templates/ipxe-profile.tera")),
    (GRUB_DISPATCHER, include_str!("../templates/grub.cfg.tera")),
    (IPXE_DISPATCHER, include_str!("../templates/boot.ipxe.tera")),
    (DHCP_HOSTS, include_str!("../templates/dhcp-hosts.tera")),
];

/// The template of `loader`'s profile files.
pub fn profile_template(loader: Loader) -> &'static str {
    match loader {
        Loader::Pxelinux | Loader::SyslinuxEfi => PROFILE,
        Loader::Grub => GRUB_PROFILE,
        Loader::Ipxe => IPXE_PROFILE,
    }
}

/// The template of `loader`'s dispatcher ([`Loader::dispatcher`]), if it has one.
pub fn dispatcher_template(loader: Loader) -> Option<&'static str> {
    match loader {
        Loader::Pxelinux | Loader::SyslinuxEfi => None,
        Loader::Grub => Some(GRUB_DISPATCHER),
        Loader::Ipxe => Some(IPXE_DISPATCHER),
    }
}

/// The variables a profile string may use.
pub const STRING_VARIABLES: &str = "`server.*` (hostname, fqdn, address, prefix, network, netmask, broadcast, interface, domain), `http.*` (url, port, listen, listen_address, server_names, default_server, keepalive_timeout, autoindex) and `paths.*` (dnsmasq_conf, nginx_conf, web_root, tftp_root, state_dir, pxelinux_dir)";

/// A template that cannot be used: exit status 2, like an invalid description.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Where a template came from, for messages.
#[derive(Debug, Clone)]
enum Origin {
    BuiltIn,
    File(PathBuf),
}

/// The loaded template set.
pub struct Templates {
    tera: Tera,
    sources: HashMap<String, (Origin, String)>,
}

impl Templates {
    /// The built-in templates, each replaced by a file of the same name in `dir` when there is one.
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut sources: HashMap<String, (Origin, String)> = BUILTIN
            .iter()
            .map(|(name, text)| ((*name).to_string(), (Origin::BuiltIn, (*text).to_string())))
            .collect();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).with_context(|| {
                format!(
                    "cannot read the template folder `{}` (set by `templates:` or `--templates`)",
                    dir.display()
                )
            })?;
            for entry in entries {
                let entry = entry.with_context(|| {
                    format!("cannot read the template folder `{}`", dir.display())
                })?;
                let path = entry.path();
                if !path.is_file() {
                    continue;
                }
                // Only `*.tera`: an editor's backup or a README beside them is not a template.
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .filter(|n| Path::new(n).extension().is_some_and(|e| e == "tera"))
                    .map(str::to_string)
                else {
                    continue;
                };
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read template `{}`", path.display()))?;
                sources.insert(name, (Origin::File(path), text));
            }
        }
        let mut tera = tera();
        let mut names: Vec<&String> = sources.keys().collect();
        names.sort();
        for name in names {
            let (origin, text) = &sources[name];
            tera.add_raw_template(name, text).map_err(|e| {
                TemplateError(format!(
                    "template {} has a syntax error: {}",
                    describe(name, origin),
                    chain(&e)
                ))
            })?;
            // Refused even where no render reaches, so the template says what it does.
            if let Some((f, line)) = impure_call(text) {
                return Err(TemplateError(format!(
                    "template {} at line {line}: {}",
                    describe(name, origin),
                    refusal(f)
                ))
                .into());
            }
        }
        Ok(Self { tera, sources })
    }

    /// Renders template `name`; errors name the template, the line and the missing variable.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<String> {
        self.tera.render(name, ctx).map_err(|e| {
            let (origin, text) = &self.sources[name];
            let detail = chain(&e);
            let mut msg = format!("cannot render template {}", describe(name, origin));
            if let Some(var) = missing_variable(&detail) {
                if let Some(line) = line_using(text, &var) {
                    let _ = write!(msg, " at line {line}");
                }
                let _ = write!(
                    msg,
                    ": variable `{var}` is not defined; docs/templates.md lists every variable"
                );
            } else {
                let _ = write!(msg, ": {detail}");
            }
            TemplateError(msg).into()
        })
    }
}

/// tera's functions whose result depends on the machine or the moment, not on the description:
/// rendered files must be the same whoever renders them and whenever.
const IMPURE_FUNCTIONS: [&str; 3] = ["get_env", "now", "get_random"];

/// A tera instance without autoescaping, whose impure functions fail if a call escapes
/// [`impure_call`].
fn tera() -> Tera {
    let mut tera = Tera::default();
    tera.autoescape_on(Vec::new());
    for name in IMPURE_FUNCTIONS {
        tera.register_function(name, move |_: &HashMap<String, tera::Value>| {
            Err(tera::Error::msg(refusal(name)))
        });
    }
    tera
}

fn refusal(function: &str) -> String {
    format!("function `{function}` is refused because rendered files depend only on the description and the templates")
}

/// The first call of an impure function in the tags of `text`, and its line.
fn impure_call(text: &str) -> Option<(&'static str, usize)> {
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let open = at + rest.find("{{").into_iter().chain(rest.find("{%")).min()?;
        let end = if text[open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let close = text[open..].find(end).map_or(text.len(), |c| open + c);
        let tag = &text[open..close];
        for f in IMPURE_FUNCTIONS {
            let call = tag.match_indices(f).find(|&(i, _)| {
                let before = tag[..i].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                    && tag[i + f.len()..].trim_start().starts_with('(')
            });
            if let Some((i, _)) = call {
                return Some((f, text[..open + i].matches('\n').count() + 1));
            }
        }
        at = close;
    }
}

fn describe(name: &str, origin: &Origin) -> String {
    match origin {
        Origin::BuiltIn => format!("`{name}` (built in)"),
        Origin::File(p) => format!("`{}`", p.display()),
    }
}

/// tera's error and its sources, joined.
fn chain(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

fn missing_variable(detail: &str) -> Option<String> {
    let start = detail.find("Variable `")? + "Variable `".len();
    let len = detail[start..].find('`')?;
    Some(detail[start..start + len].to_string())
}

/// The first line (from 1) of `text` whose tags mention `var`.
fn line_using(text: &str, var: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.contains(var) && (l.contains("{{") || l.contains("{%")))
        .map(|i| i + 1)
}

/// Expands a description string (a profile's `append`, say) against `ctx`.
pub fn expand(text: &str, ctx: &Context) -> Result<String, String> {
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return Ok(text.to_string());
    }
    if let Some((f, _)) = impure_call(text) {
        return Err(refusal(f));
    }
    tera().render_str(text, ctx).map_err(|e| {
        let detail = chain(&e);
        match missing_variable(&detail) {
            Some(var) => format!("variable `{var}` is not defined"),
            None => detail
                .rsplit(": ")
                .next()
                .unwrap_or(&detail)
                .trim()
                .to_string(),
        }
    })
}

#[derive(Serialize)]
struct ServerView<'a> {
    hostname: &'a str,
    fqdn: String,
    address: String,
    prefix: u8,
    network: String,
    netmask: String,
    broadcast: String,
    interface: &'a str,
    domain: Option<&'a str>,
}

impl<'a> ServerView<'a> {
    fn new(s: &'a Server) -> Self {
        Self {
            hostname: &s.hostname,
            fqdn: s.fqdn(),
            address: s.address.to_string(),
            prefix: s.prefix,
            network: s.network().to_string(),
            netmask: s.netmask().to_string(),
            broadcast: s.broadcast().to_string(),
            interface: &s.interface,
            domain: s.domain.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct PathsView {
    dnsmasq_conf: String,
    nginx_conf: String,
    web_root: String,
    tftp_root: String,
    state_dir: String,
    pxelinux_dir: String,
}

impl PathsView {
    fn new(p: &Paths) -> Self {
        let s = |p: &Path| p.display().to_string();
        Self {
            dnsmasq_conf: s(&p.dnsmasq_conf),
            nginx_conf: s(&p.nginx_conf),
            web_root: s(&p.web_root),
            tftp_root: s(&p.tftp_root),
            state_dir: s(&p.state_dir),
            pxelinux_dir: s(&p.pxelinux_dir()),
        }
    }
}

#[derive(Serialize)]
struct HttpView<'a> {
    server_names: &'a [String],
    listen: String,
    listen_address: Option<String>,
    port: u16,
    default_server: bool,
    keepalive_timeout: u32,
    autoindex: bool,
    url: &'a str,
}

impl<'a> HttpView<'a> {
    fn new(h: &'a Http) -> Self {
        Self {
            server_names: &h.server_names,
            listen: h.listen(),
            listen_address: h.listen_address.map(|a| a.to_string()),
            port: h.port,
            default_server: h.default_server,
            keepalive_timeout: h.keepalive_timeout,
            autoindex: h.autoindex,
            url: &h.url,
        }
    }
}

#[derive(Serialize)]
struct RangeView {
    start: String,
    end: String,
}

#[derive(Serialize)]
struct DhcpView<'a> {
    range: Option<RangeView>,
    lease_time: &'a str,
    read_ethers: bool,
    boot_file: &'a str,
    hosts: crate::cluster::HostsMode,
    hostsfile: String,
    boot_rules: Vec<String>,
    extra: &'a [String],
    /// Whether BIOS clients are served: the untagged `dhcp-boot` is theirs.
    bios: bool,
}

#[derive(Serialize)]
struct HostView<'a> {
    kind: &'static str,
    name: &'a str,
    fqdn: String,
    mac: String,
    ip: Option<String>,
    groups: &'a [String],
    normal_profile: Option<&'a str>,
    /// The dnsmasq tag of its loader choice, when not the default one.
    tag: Option<String>,
}

/// The context profile strings are expanded in.
pub fn string_context(server: &Server, http: &Http, paths: &Paths) -> Context {
    let mut ctx = Context::new();
    ctx.insert("server", &ServerView::new(server));
    ctx.insert("http", &HttpView::new(http));
    ctx.insert("paths", &PathsView::new(paths));
    ctx
}

/// The context dnsmasq.conf and nginx.conf are rendered in; `tftp_url` is [`tftp_url`]'s.
pub fn cluster_context(c: &Cluster, tftp_url: &str) -> Result<Context> {
    let mut ctx = string_context(&c.server, &c.http, &c.paths);
    let domain = c.server.domain.as_deref();
    ctx.insert(
        "dhcp",
        &DhcpView {
            range: c.dhcp.range.map(|(a, b)| RangeView {
                start: a.to_string(),
                end: b.to_string(),
            }),
            lease_time: &c.dhcp.lease_time,
            read_ethers: c.dhcp.read_ethers,
            boot_file: &c.dhcp.boot_file,
            hosts: c.dhcp.hosts,
            hostsfile: c.dhcp.hostsfile.display().to_string(),
            boot_rules: boot_rules(c, tftp_url)?,
            extra: &c.dhcp.extra,
            bios: c.loaders.clients.contains(&crate::loader::Arch::Bios),
        },
    );
    let reservations = c.reservations.iter().map(|h| HostView {
        kind: "reservation",
        name: &h.name,
        fqdn: crate::cluster::qualify(&h.name, domain),
        mac: h.mac.colon(),
        ip: h.ip.map(|ip| ip.to_string()),
        groups: &[],
        normal_profile: None,
        tag: None,
    });
    let nodes = c.nodes.iter().map(|n| HostView {
        kind: "node",
        name: &n.name,
        fqdn: crate::cluster::qualify(&n.name, domain),
        mac: n.mac.colon(),
        ip: n.ip.map(|ip| ip.to_string()),
        groups: &n.groups,
        normal_profile: Some(&n.normal_profile),
        tag: (n.choice != c.loaders.default).then(|| n.choice.tag()),
    });
    let hosts: Vec<HostView> = reservations.chain(nodes).collect();
    ctx.insert("hosts", &hosts);
    ctx.insert(
        "lifecycle",
        &serde_json::json!({
            "callbacks": c.lifecycle.callbacks,
            "prefix": c.lifecycle.prefix,
            "log": c.lifecycle.log.display().to_string(),
            "access_log": c.lifecycle.access_log.display().to_string(),
            "on_failure": c.lifecycle.on_failure,
        }),
    );
    Ok(ctx)
}

/// The TFTP root's URL on nginx ([`Cluster::tftp_url`]), which iPXE fetches everything from;
/// empty when the TFTP root is outside the web root and no loader in use fetches by HTTP.
pub fn tftp_url(c: &Cluster) -> Result<String> {
    match c.tftp_url() {
        Some(url) => Ok(url),
        None if c.loaders_in_use().contains(&Loader::Ipxe) => Err(TemplateError(format!(
            "iPXE fetches its scripts and kernels from nginx, but the TFTP root `{}` is outside the web root `{}`; put `paths.tftp_root` inside `paths.web_root`",
            c.paths.tftp_root.display(),
            c.paths.web_root.display()
        ))
        .into()),
        None => Ok(String::new()),
    }
}

/// dnsmasq's lines sending each kind of client its loader, in the order they must have (dnsmasq
/// uses the last matching tagged `dhcp-boot`, the untagged one only when none matches): the
/// default choice's, then each other choice nodes use, tagged; last the iPXE script for an
/// iPXE that was loaded on a UEFI client, never the loader again. None when pxelinux alone
/// is in use: the untagged `dhcp-boot` serves it, as in the first version.
pub fn boot_rules(c: &Cluster, tftp_url: &str) -> Result<Vec<String>> {
    let loaders = &c.loaders;
    let clients = &loaders.clients;
    let others: std::collections::BTreeSet<Choice> = c
        .nodes
        .iter()
        .map(|n| n.choice)
        .filter(|ch| *ch != loaders.default)
        .collect();
    let choices: Vec<Choice> = std::iter::once(loaders.default).chain(others).collect();
    let in_use = loaders.in_use(&choices);
    if in_use == [Loader::Pxelinux] {
        return Ok(Vec::new());
    }
    let ipxe_on_uefi = choices.iter().any(|ch| {
        clients
            .iter()
            .any(|&a| a != Arch::Bios && a.loader(ch.loader) == Loader::Ipxe)
    });
    // The last line's `tag:!bios` needs BIOS clients tagged, served or not: else a BIOS
    // machine whose NIC ROM is iPXE would get the script.
    let untagged_bios = (ipxe_on_uefi && !clients.contains(&Arch::Bios)).then_some(&Arch::Bios);
    let mut rules = Vec::new();
    for arch in untagged_bios.into_iter().chain(clients) {
        for code in arch.client_arch() {
            rules.push(format!(
                "dhcp-match=set:{},option:client-arch,{code}",
                arch.key()
            ));
        }
    }
    if in_use.contains(&Loader::Ipxe) {
        rules.push("dhcp-userclass=set:ipxe,iPXE".to_string());
    }
    if clients.iter().any(|a| a.is_http()) {
        rules.push("dhcp-vendorclass=set:http,HTTPClient".to_string());
        rules.push("dhcp-option-force=tag:http,60,HTTPClient".to_string());
    }
    let script = loader::url(
        tftp_url,
        &format!(
            "{}/{}",
            Loader::Ipxe.dir(),
            Loader::Ipxe.dispatcher().unwrap_or_default()
        ),
    );
    for (i, choice) in choices.iter().enumerate() {
        let tag = if i == 0 {
            String::new()
        } else {
            format!(",tag:{}", choice.tag())
        };
        for &arch in clients {
            let loader = arch.loader(choice.loader);
            let file = match loaders.file(arch, loader, choice.secure_boot) {
                Some(file) if arch.is_http() => loader::url(tftp_url, file),
                Some(file) => loader::tftp_path(file),
                None if loader == Loader::Pxelinux => c.dhcp.boot_file.clone(),
                None => {
                    return Err(TemplateError(format!(
                        "no {} file is set for `{}` clients; set `loaders.files`",
                        loader.key(),
                        arch.key()
                    ))
                    .into())
                }
            };
            rules.push(format!("dhcp-boot=tag:{}{tag},{file}", arch.key()));
        }
        if clients.contains(&Arch::Bios) && Arch::Bios.loader(choice.loader) == Loader::Ipxe {
            rules.push(format!("dhcp-boot=tag:ipxe,tag:bios{tag},{script}"));
        }
    }
    if ipxe_on_uefi {
        rules.push(format!("dhcp-boot=tag:ipxe,tag:!bios,{script}"));
    }
    Ok(rules)
}

/// The context of `loader`'s dispatcher: `loader` (its folder's default entry and URL) and
/// the `default` profile.
pub fn dispatcher_context(c: &Cluster, loader: Loader, tftp_url: &str) -> Context {
    let mut ctx = Context::new();
    ctx.insert(
        "loader",
        &serde_json::json!({
            "name": loader.key(),
            "dir": loader.dir(),
            "default_entry": loader.default_entry(),
            "url": (!tftp_url.is_empty()).then(|| loader::url(tftp_url, loader.dir())),
        }),
    );
    ctx.insert("default", &c.roles.default);
    ctx
}

/// The context of profile `name` rendered for `loader`: kernel and initrd as it fetches them
/// ([`Loader::locate`]).
pub fn profile_context(name: &str, p: &Profile, loader: Loader, tftp_url: &str) -> Context {
    let locate = |file: &String| loader.locate(file, tftp_url);
    let (kernel, initrd, append) = match &p.boot {
        Boot::Linux {
            kernel,
            initrd,
            append,
        } => (
            Some(locate(kernel)),
            initrd.as_ref().map(locate),
            append.as_ref(),
        ),
        Boot::LocalDisk | Boot::Chain(_) | Boot::Verbatim(_) => (None, None, None),
    };
    let chain = match &p.boot {
        Boot::Chain(target) => Some(locate(target)),
        _ => None,
    };
    let mut ctx = Context::new();
    ctx.insert(
        "profile",
        &serde_json::json!({
            "name": name,
            "label": p.label,
            "local": kernel.is_none() && chain.is_none(),
            "chain": chain,
            "kernel": kernel,
            "initrd": initrd,
            "append": append,
            "timeout": p.timeout,
            "prompt": p.prompt,
        }),
    );
    ctx
}

/// Fails when `dir` is set but is not a folder.
pub fn check_dir(dir: Option<&Path>) -> Result<()> {
    if let Some(d) = dir {
        if !d.is_dir() {
            return Err(TemplateError(format!(
                "the template folder `{}` does not exist; fix `templates:` or `--templates`",
                d.display()
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_passes_plain_strings_through() {
        let ctx = Context::new();
        assert_eq!(
            expand("root=/dev/sda2 rw", &ctx).unwrap(),
            "root=/dev/sda2 rw"
        );
    }

    #[test]
    fn expand_names_a_missing_variable() {
        let ctx = Context::new();
        let err = expand("x={{ http.ur }}", &ctx).unwrap_err();
        assert!(err.contains("`http.ur`"), "{err}");
    }

    #[test]
    fn render_error_names_template_line_and_variable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(NGINX), "a\nb {{ nope.x }}\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let err = t.render(NGINX, &Context::new()).unwrap_err().to_string();
        assert!(err.contains("nginx.conf.tera"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("`nope.x`"), "{err}");
    }

    #[test]
    fn impure_functions_are_refused_in_strings() {
        std::env::set_var("PXECTL_TEST_SECRET", "secret");
        for call in [
            r#"get_env(name="PXECTL_TEST_SECRET", default="none")"#,
            "now()",
            "get_random(end=10)",
        ] {
            let err = expand(&format!("x={{{{ {call} }}}}"), &Context::new()).unwrap_err();
            let name = call.split('(').next().unwrap();
            assert_eq!(err, refusal(name));
        }
    }

    #[test]
    fn impure_functions_fail_when_called() {
        for call in [r#"get_env(name="HOME")"#, "now()", "get_random(end=2)"] {
            let err = tera()
                .render_str(&format!("{{{{ {call} }}}}"), &Context::new())
                .unwrap_err();
            let name = call.split('(').next().unwrap();
            assert!(chain(&err).ends_with(&refusal(name)), "{}", chain(&err));
        }
    }

    #[test]
    fn impure_calls_are_found_in_tags_only_even_where_no_render_reaches() {
        assert_eq!(impure_call("now() {{ x }}"), None);
        assert_eq!(impure_call("{{ x.now() }} {{ know(1) }}"), None);
        assert_eq!(
            impure_call("a\n{% if false %}\n{{ get_random (end=2) }}{% endif %}"),
            Some(("get_random", 3))
        );
        assert_eq!(impure_call("{% set t = now() %}"), Some(("now", 1)));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DNSMASQ),
            "a\n{% if false %}{{ get_env(name=\"HOME\") }}{% endif %}\n",
        )
        .unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "template `{}` at line 2: {}",
                dir.path().join(DNSMASQ).display(),
                refusal("get_env")
            )
        );
        assert_eq!(
            expand("{% if false %}{{ now() }}{% endif %}", &Context::new()),
            Err(refusal("now"))
        );
    }

    /// Nodes n1 and n2 on a description without loader keys, serving `clients`.
    fn cluster(clients: &[Arch]) -> Cluster {
        let mut c = crate::description::parse(
            "server: {hostname: boot, address: 10.0.0.1/24, interface: eth0}\nprofiles: {p: {kernel: /k}}\nroles: {normal: p, reimage: p}\nnodes:\n  - {name: n1, mac: '52:54:00:00:00:01'}\n  - {name: n2, mac: '52:54:00:00:00:02'}\n",
            Path::new("."),
        )
        .unwrap();
        c.loaders.clients = clients.to_vec();
        c
    }

    fn rules(c: &Cluster) -> String {
        let url = tftp_url(c).unwrap();
        boot_rules(c, &url)
            .unwrap()
            .iter()
            .flat_map(|r| [r.as_str(), "\n"])
            .collect()
    }

    const AUTO: &str = "\
dhcp-match=set:bios,option:client-arch,0
dhcp-match=set:efi-x64,option:client-arch,7
dhcp-match=set:efi-x64,option:client-arch,9
dhcp-match=set:http-x64,option:client-arch,16
dhcp-userclass=set:ipxe,iPXE
dhcp-vendorclass=set:http,HTTPClient
dhcp-option-force=tag:http,60,HTTPClient
dhcp-boot=tag:bios,/pxelinux.0
dhcp-boot=tag:efi-x64,/grubx64.efi
dhcp-boot=tag:http-x64,http://10.0.0.1/pxe/snponly.efi
";

    #[test]
    fn boot_rules_are_none_for_bios_alone() {
        assert_eq!(rules(&cluster(&[Arch::Bios])), "");
        let mut c = cluster(&[Arch::Bios]);
        c.nodes[0].choice.secure_boot = true;
        assert_eq!(rules(&c), "");
    }

    #[test]
    fn boot_rules_send_each_kind_its_usual_loader_and_any_ipxe_its_script_last() {
        let last = "dhcp-boot=tag:ipxe,tag:!bios,http://10.0.0.1/pxe/ipxe/boot.ipxe\n";
        let c = cluster(&[Arch::Bios, Arch::EfiX64, Arch::HttpX64]);
        assert_eq!(rules(&c), format!("{AUTO}{last}"));

        let mut c = cluster(&[Arch::Bios, Arch::EfiX64, Arch::HttpX64]);
        c.nodes[1].choice.loader = Some(Loader::Ipxe);
        let ipxe = "\
dhcp-boot=tag:bios,tag:pxectl-ipxe,/undionly.kpxe
dhcp-boot=tag:efi-x64,tag:pxectl-ipxe,/snponly.efi
dhcp-boot=tag:http-x64,tag:pxectl-ipxe,http://10.0.0.1/pxe/snponly.efi
dhcp-boot=tag:ipxe,tag:bios,tag:pxectl-ipxe,http://10.0.0.1/pxe/ipxe/boot.ipxe
";
        assert_eq!(rules(&c), format!("{AUTO}{ipxe}{last}"));
    }

    #[test]
    fn boot_rules_send_secure_boot_nodes_shim() {
        let mut c = cluster(&[Arch::Bios, Arch::EfiX64]);
        c.nodes[0].choice.secure_boot = true;
        assert_eq!(
            rules(&c),
            "\
dhcp-match=set:bios,option:client-arch,0
dhcp-match=set:efi-x64,option:client-arch,7
dhcp-match=set:efi-x64,option:client-arch,9
dhcp-boot=tag:bios,/pxelinux.0
dhcp-boot=tag:efi-x64,/grubx64.efi
dhcp-boot=tag:bios,tag:pxectl-auto-sb,/pxelinux.0
dhcp-boot=tag:efi-x64,tag:pxectl-auto-sb,/shimx64.efi
"
        );
    }

    #[test]
    fn syntax_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DNSMASQ), "{% if %}\n").unwrap();
        let err = format!("{:#}", Templates::load(Some(dir.path())).err().unwrap());
        assert!(err.contains("dnsmasq.conf.tera"), "{err}");
    }
}
