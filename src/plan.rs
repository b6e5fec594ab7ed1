//! The desired tree as data: every file with its contents and mode, every link with its target.
//!
//! Building a plan touches no disk; `tree` compares it with the disk and applies it. Paths
//! are where the files are on this machine ([`Layout`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::loader::Loader;
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

impl FileKind {
    /// Whether a file found as `found` is what `planned` says, though not byte for byte:
    /// dnsmasq's files mean their directives, whatever the comments, spacing and order of
    /// independent lines; every other file means its bytes.
    pub fn same_meaning(self, found: &[u8], planned: &str) -> bool {
        match self {
            Self::DnsmasqConf => crate::dnsmasq_conf::same_meaning(found, planned),
            Self::DhcpHosts => crate::dnsmasq_conf::same_hosts(found, planned),
            Self::NginxConf | Self::Profile => found == planned.as_bytes(),
        }
    }
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
    Node {
        name: String,
        mac: MacAddr,
        /// Whose extra kernel arguments its profiles are rendered with ([`Cluster::variants`]).
        variant: Option<String>,
    },
}

/// A symlink that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    pub path: PathBuf,
    /// The profile it selects; the link's target is the loader's file of it.
    pub target: String,
    pub role: LinkRole,
    /// Whose folder it is in.
    pub loader: Loader,
}

/// Everything render wants on disk.
#[derive(Debug, Clone)]
pub struct Plan {
    pub files: Vec<FilePlan>,
    /// Each loader's `default`, then each node's entries (one per loader, in the order of
    /// `dirs`) in the description's order.
    pub links: Vec<LinkPlan>,
    /// The loaders in use and their folders of per-MAC entries and profile files.
    pub dirs: Vec<(Loader, PathBuf)>,
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
            if let crate::cluster::Boot::Verbatim(text) = &profile.boot {
                // Validation keeps verbatim pxelinux files to pxelinux. Written as they are,
                // also where a node with extra kernel arguments points: its entries always
                // name `<profile>@<variant>`.
                let variants = cluster.variants.keys().map(|v| Some(v.as_str()));
                for variant in std::iter::once(None).chain(variants) {
                    files.push(FilePlan {
                        path: dir.join(loader.file(&crate::loader::stem(name, variant))),
                        contents: text.clone(),
                        mode: FILE_MODE,
                        kind: FileKind::Profile,
                    });
                }
                continue;
            }
            files.push(file(
                loader.file(name),
                templates::profile_template(loader),
                &templates::profile_context(name, profile, loader, tftp_url),
            )?);
            for (variant, extra) in &cluster.variants {
                files.push(file(
                    loader.file(&crate::loader::stem(name, Some(variant))),
                    templates::profile_template(loader),
                    &templates::profile_context(
                        name,
                        &profile.with_append(extra),
                        loader,
                        tftp_url,
                    ),
                )?);
            }
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
    let dirs: Vec<(Loader, PathBuf)> = cluster
        .loaders_in_use()
        .into_iter()
        .map(|l| (l, layout.loader_dir(l)))
        .collect();
    Ok(Plan {
        files,
        links: links(cluster, &dirs),
        dirs,
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
    let mut files = vec![FilePlan {
        path: layout.dnsmasq_conf.clone(),
        contents: templates.render(templates::DNSMASQ, &ctx)?,
        mode: FILE_MODE,
        kind: FileKind::DnsmasqConf,
    }];
    // `http.managed: false`: the operator's own nginx.conf, never rendered, verified or reloaded.
    if cluster.http.managed {
        files.push(FilePlan {
            path: layout.nginx_conf.clone(),
            contents: templates.render(templates::NGINX, &ctx)?,
            mode: FILE_MODE,
            kind: FileKind::NginxConf,
        });
    }
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

/// Every link: each loader's `default`, then each node's entries.
fn links(cluster: &Cluster, dirs: &[(Loader, PathBuf)]) -> Vec<LinkPlan> {
    let mut links = Vec::with_capacity((cluster.nodes.len() + 1) * dirs.len());
    if let Some(default) = &cluster.roles.default {
        links.extend(dirs.iter().map(|(loader, dir)| LinkPlan {
            path: dir.join(loader.default_entry()),
            target: default.clone(),
            role: LinkRole::Managed,
            loader: *loader,
        }));
    }
    for n in &cluster.nodes {
        links.extend(dirs.iter().map(|(loader, dir)| LinkPlan {
            path: dir.join(loader.entry(n.mac)),
            target: n.normal_profile.clone(),
            role: LinkRole::Node {
                name: n.name.clone(),
                mac: n.mac,
                variant: n.variant.clone(),
            },
            loader: *loader,
        }));
    }
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
