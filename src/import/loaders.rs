//! The loaders of a setup that serves more than pxelinux: the kinds of clients, from
//! dnsmasq's `dhcp-match` lines, and the loader settings whose boot lines are the setup's.

use std::collections::BTreeMap;

use crate::cluster::Loaders;
use crate::dnsmasq_conf::Directive;
use crate::loader::{Arch, Choice, Loader};

/// `loaders` as import writes it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub clients: Vec<Arch>,
    /// `None`: `auto`.
    pub loader: Option<Loader>,
    pub secure_boot: bool,
    /// Loader files that are not Debian's names, by setting.
    pub files: BTreeMap<String, String>,
}

impl Settings {
    /// The default loader choice.
    pub fn choice(&self) -> Choice {
        Choice {
            loader: self.loader,
            secure_boot: self.secure_boot,
        }
    }
}

/// Whether `d` is one of the lines pxectl renders to send clients to their loaders
/// ([`crate::templates::boot_rules`]).
pub fn is_boot_rule(d: &Directive) -> bool {
    let v = d.value.as_deref().unwrap_or_default();
    match d.option.as_str() {
        "dhcp-match" => v.starts_with("set:") && v.contains(",option:client-arch,"),
        "dhcp-userclass" => v == "set:ipxe,iPXE",
        "dhcp-vendorclass" => v == "set:http,HTTPClient",
        "dhcp-option-force" => v == "tag:http,60,HTTPClient",
        "dhcp-boot" => v.starts_with("tag:"),
        _ => false,
    }
}

/// Every candidate for the boot lines `rules` (as `option=value` texts), the usual first:
/// each default loader choice with and without Secure Boot, with the files the lines name
/// for it and for `nodes`' own choices (their `dhcp-boot` lines carry the choice's tag).
/// `tftp_url` is the TFTP root's URL, which HTTP clients' files are under.
pub fn candidates(rules: &[String], tftp_url: &str, nodes: &[Choice]) -> Vec<Settings> {
    let mut clients: Vec<Arch> = Vec::new();
    for rule in rules {
        let arch = rule
            .strip_prefix("dhcp-match=set:")
            .and_then(|r| r.split(',').next())
            .and_then(Arch::from_key);
        // Served: tagged and given a boot file. pxectl tags BIOS clients it does not serve
        // too, when iPXE serves UEFI ones (`templates::boot_rules`).
        let served = |a: &Arch| {
            let prefix = format!("dhcp-boot=tag:{},", a.key());
            rules.iter().any(|r| r.starts_with(&prefix))
        };
        if let Some(arch) = arch.filter(|a| !clients.contains(a) && served(a)) {
            clients.push(arch);
        }
    }
    let loaders = std::iter::once(None).chain(Loader::ALL.map(Some));
    let mut out = Vec::new();
    for secure_boot in [false, true] {
        for loader in loaders.clone() {
            let default = Choice {
                loader,
                secure_boot,
            };
            let mut files = BTreeMap::new();
            for choice in std::iter::once(default).chain(nodes.iter().copied()) {
                let tag = if choice == default {
                    String::new()
                } else {
                    format!("tag:{},", choice.tag())
                };
                for &arch in &clients {
                    let loader = arch.loader(choice.loader);
                    let Some(key) = Loaders::file_key(arch, loader, choice.secure_boot) else {
                        continue;
                    };
                    let prefix = format!("dhcp-boot=tag:{},{tag}", arch.key());
                    let file = rules
                        .iter()
                        .find_map(|r| r.strip_prefix(&prefix).filter(|f| !f.starts_with("tag:")));
                    let Some(file) = file else { continue };
                    let file = if arch.is_http() {
                        file.strip_prefix(&format!("{tftp_url}/")).unwrap_or(file)
                    } else {
                        file.trim_start_matches('/')
                    };
                    let debian = Loaders::DEBIAN_FILES
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, f)| *f);
                    if debian != Some(file) {
                        files.entry(key).or_insert_with(|| file.to_string());
                    }
                }
            }
            out.push(Settings {
                clients: clients.clone(),
                loader,
                secure_boot,
                files,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_files_come_from_the_boot_lines() {
        let rules: Vec<String> = [
            "dhcp-match=set:bios,option:client-arch,0",
            "dhcp-match=set:efi-x64,option:client-arch,7",
            "dhcp-match=set:efi-x64,option:client-arch,9",
            "dhcp-boot=tag:bios,/pxelinux.0",
            "dhcp-boot=tag:efi-x64,/grubnetx64.efi",
        ]
        .map(String::from)
        .to_vec();
        let first = &candidates(&rules, "http://10.0.0.1/pxe", &[])[0];
        assert_eq!(first.clients, [Arch::Bios, Arch::EfiX64]);
        assert_eq!(first.loader, None);
        assert!(!first.secure_boot);
        assert_eq!(
            first.files,
            BTreeMap::from([("grub-x64".to_string(), "grubnetx64.efi".to_string())])
        );
    }

    #[test]
    fn a_kind_that_is_only_tagged_is_not_served() {
        // iPXE on UEFI only: BIOS clients are tagged so that they never get the script.
        let rules: Vec<String> = [
            "dhcp-match=set:bios,option:client-arch,0",
            "dhcp-match=set:efi-x64,option:client-arch,7",
            "dhcp-match=set:efi-x64,option:client-arch,9",
            "dhcp-userclass=set:ipxe,iPXE",
            "dhcp-boot=tag:efi-x64,/snponly.efi",
            "dhcp-boot=tag:ipxe,tag:!bios,http://10.0.0.1/pxe/ipxe/boot.ipxe",
        ]
        .map(String::from)
        .to_vec();
        let first = &candidates(&rules, "http://10.0.0.1/pxe", &[])[0];
        assert_eq!(first.clients, [Arch::EfiX64]);
    }
}
