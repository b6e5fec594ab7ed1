//! Where the boot server's files are on this machine: every output path mapped under `--root`
//! once, here; no other module maps a path.

use std::path::{Component, Path, PathBuf};

use crate::cluster::Cluster;

/// The boot server's output paths as they are on this machine (under `--root` when given).
/// File contents keep naming the real paths of `Cluster::paths`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Whether the tree is staged under `--root` rather than the live server's.
    staging: bool,
    pub dnsmasq_conf: PathBuf,
    pub nginx_conf: PathBuf,
    pub hostsfile: PathBuf,
    pub web_root: PathBuf,
    pub tftp_root: PathBuf,
    pub state_dir: PathBuf,
}

/// Where the boot server's path `real` is on this machine: under `root` when given.
pub fn on_this_machine(real: &Path, root: Option<&Path>) -> PathBuf {
    match root {
        None => real.to_path_buf(),
        Some(root) => root.join(
            real.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect::<PathBuf>(),
        ),
    }
}

impl Layout {
    /// Maps `cluster`'s output paths under `root`.
    pub fn new(cluster: &Cluster, root: Option<&Path>) -> Self {
        let host = |real: &Path| on_this_machine(real, root);
        let p = &cluster.paths;
        Self {
            staging: root.is_some(),
            dnsmasq_conf: host(&p.dnsmasq_conf),
            nginx_conf: host(&p.nginx_conf),
            hostsfile: host(&cluster.dhcp.hostsfile),
            web_root: host(&p.web_root),
            tftp_root: host(&p.tftp_root),
            state_dir: host(&p.state_dir),
        }
    }

    /// Whether this is a staging tree (`--root`), not the live server.
    pub fn staging(&self) -> bool {
        self.staging
    }

    /// `loader`'s folder of per-MAC entries and profile files.
    pub fn loader_dir(&self, loader: crate::loader::Loader) -> PathBuf {
        loader.dir_in(&self.tftp_root)
    }

    /// The folders a config may be written through a link into: web root, TFTP root, state.
    pub fn trusted(&self) -> [&Path; 3] {
        [&self.web_root, &self.tftp_root, &self.state_dir]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_prefixes_absolute_paths() {
        let cluster = crate::description::parse(
            "server: {hostname: node0, address: 10.0.0.1/24, interface: eth0}\nprofiles:\n  local: {kernel: /k}\nroles: {normal: local, reimage: local}\n",
            Path::new("."),
        )
        .unwrap();
        let staged = Layout::new(&cluster, Some(Path::new("out")));
        assert_eq!(staged.dnsmasq_conf, Path::new("out/etc/dnsmasq.conf"));
        assert_eq!(
            staged
                .loader_dir(crate::loader::Loader::Pxelinux)
                .join("local"),
            Path::new("out/srv/public/pxe/pxelinux.cfg/local")
        );
        let live = Layout::new(&cluster, None);
        assert_eq!(live.dnsmasq_conf, Path::new("/etc/dnsmasq.conf"));
        assert!(!live.staging() && staged.staging());
    }
}
