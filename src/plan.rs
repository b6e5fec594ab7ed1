//! The desired tree as data: every file with its contents and mode, every link with its target.
//!
//! Building a plan touches no disk; `tree` compares it with the disk and applies it. Paths
//! are where the files are on this machine ([`Layout`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::mac::MacAddr;
use crate::templates::{self, Templates};

/// Mode of every rendered file: dnsmasq refuses to serve files that are not world-readable.
pub const FILE_MODE: u32 = 0o644;

/// What a rendered file is for: decides how it is verified and what reloads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    DnsmasqConf,
    NginxConf,
    /// dnsmasq's `dhcp-hostsfile`, re-read on SIGHUP.
    DhcpHosts,
    /// A file a boot loader reads per request (a profile's rendering, or GRUB's or iPXE's
    /// dispatcher): nothing is reloaded for it.
    Profile,
}

/// A file that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    pub path: PathBuf,
    pub contents: String,
    pub mode: u32,
    pub kind: FileKind,
}

/// Who decides a link's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRole {
    /// The description does: render re-points it when it differs (`pxelinux.cfg/default`).
    Managed,
    /// The operator does, once it exists: render only creates it, pointing at the node's
    /// normal profile, and never undoes a switch.
    Node { name: String, mac: MacAddr },
}

/// A symlink that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    pub path: PathBuf,
    /// Relative target: a profile's file name in the same folder.
    pub target: String,
    pub role: LinkRole,
}

/// How per-machine link names are spelled in a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkScheme {
    /// pxelinux and syslinux.efi: `01-aa-bb-cc-dd-ee-ff`.
    Pxelinux,
}

impl LinkScheme {
    /// The link name for `mac`.
    pub fn name(self, mac: MacAddr) -> String {
        match self {
            Self::Pxelinux => mac.pxelinux_name(),
        }
    }

    /// The MAC a link name stands for, if it is one of this scheme's names.
    pub fn parse(self, name: &str) -> Option<MacAddr> {
        match self {
            Self::Pxelinux => MacAddr::from_pxelinux_name(name),
        }
    }
}

/// Everything render wants on disk.
#[derive(Debug, Clone)]
pub struct Plan {
    pub files: Vec<FilePlan>,
    /// `default`, then one link per node in the description's order.
    pub links: Vec<LinkPlan>,
    /// The folder of the per-machine links and the profiles.
    pub link_dir: PathBuf,
    pub scheme: LinkScheme,
    /// Names a node's link may point at: the described profiles.
    pub profiles: BTreeSet<String>,
    /// pxectl's own files (lock, journal...): never written through a link by render.
    pub state_files: Vec<PathBuf>,
}

/// Every profile rendered for each loader in use, each loader's dispatcher after its profiles.
fn profile_files(
    cluster: &Cluster,
    layout: &Layout,
    templates: &Templates,
    tftp_url: &str,
) -> Result<Vec<FilePlan>> {
    let mut files = Vec::new();
    for loader in cluster.loaders_in_use() {
        let dir = layout.loader_dir(loader);
        let file = |name: String, template: &str, ctx: &tera::Context| -> Result<FilePlan> {
            Ok(FilePlan {
                path: dir.join(name),
                contents: templates.render(template, ctx)?,
                mode: FILE_MODE,
                kind: FileKind::Profile,
            })
        };
        for (name, profile) in &cluster.profiles {
            files.push(file(
                loader.file(name),
                templates::profile_template(loader),
                &templates::profile_context(name, profile, loader, tftp_url),
            )?);
        }
        if let (Some(name), Some(template)) =
            (loader.dispatcher(), templates::dispatcher_template(loader))
        {
            files.push(file(
                name.to_string(),
                template,
                &templates::dispatcher_context(cluster, loader, tftp_url),
            )?);
        }
    }
    Ok(files)
}

/// Renders `cluster` through `templates` into a plan for the disk of `layout`.
pub fn build(cluster: &Cluster, layout: &Layout, templates: &Templates) -> Result<Plan> {
    let files = files(cluster, layout, templates)?;
    let scheme = LinkScheme::Pxelinux;
    Ok(Plan {
        files,
        links: links(cluster, layout, scheme),
        link_dir: layout.pxelinux_dir.clone(),
        scheme,
        profiles: cluster.profiles.keys().cloned().collect(),
        state_files: state_files(layout),
    })
}

/// Every rendered file: dnsmasq.conf, nginx.conf, the hosts file if any, each loader's
/// profiles and dispatcher.
fn files(cluster: &Cluster, layout: &Layout, templates: &Templates) -> Result<Vec<FilePlan>> {
    let tftp_url = templates::tftp_url(cluster)?;
    let ctx = templates::cluster_context(cluster, &tftp_url)?;
    crate::timing::phase("context");
    let mut files = vec![
        FilePlan {
            path: layout.dnsmasq_conf.clone(),
            contents: templates.render(templates::DNSMASQ, &ctx)?,
            mode: FILE_MODE,
            kind: FileKind::DnsmasqConf,
        },
        FilePlan {
            path: layout.nginx_conf.clone(),
            contents: templates.render(templates::NGINX, &ctx)?,
            mode: FILE_MODE,
            kind: FileKind::NginxConf,
        },
    ];
    if cluster.dhcp.hosts == crate::cluster::HostsMode::Hostsfile {
        files.push(FilePlan {
            path: layout.hostsfile.clone(),
            contents: templates.render(templates::DHCP_HOSTS, &ctx)?,
            mode: FILE_MODE,
            kind: FileKind::DhcpHosts,
        });
    }
    files.extend(profile_files(cluster, layout, templates, &tftp_url)?);
    crate::timing::phase("templates");
    Ok(files)
}

/// Every link: `default`, then one per node.
fn links(cluster: &Cluster, layout: &Layout, scheme: LinkScheme) -> Vec<LinkPlan> {
    let dir = &layout.pxelinux_dir;
    let mut links = Vec::with_capacity(cluster.nodes.len() + 1);
    if let Some(default) = &cluster.roles.default {
        links.push(LinkPlan {
            path: dir.join("default"),
            target: default.clone(),
            role: LinkRole::Managed,
        });
    }
    links.extend(cluster.nodes.iter().map(|n| LinkPlan {
        path: dir.join(scheme.name(n.mac)),
        target: n.normal_profile.clone(),
        role: LinkRole::Node {
            name: n.name.clone(),
            mac: n.mac,
        },
    }));
    crate::timing::phase("linkplan");
    links
}

/// pxectl's own files in the state folder.
fn state_files(layout: &Layout) -> Vec<PathBuf> {
    [
        crate::lock::FILE,
        crate::journal::FILE,
        crate::tree::WRITTEN,
        crate::lifecycle::PRESENCE_FILE,
        crate::lifecycle::POSITION_FILE,
    ]
    .iter()
    .map(|f| layout.state_dir.join(f))
    .collect()
}
