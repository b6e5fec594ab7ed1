//! A loader's folder as found (`pxelinux.cfg/`, `grub/`...): its profile files, `default`,
//! per-MAC links and dispatcher; and what a pxelinux profile file says in pxectl's keys.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::read_text;
use crate::loader::Loader;
use crate::mac::MacAddr;

/// What the folder holds.
#[derive(Debug, Default)]
pub struct Folder {
    /// Profile files by profile name, with their text.
    pub profiles: BTreeMap<String, String>,
    /// The loader's own script beside the entries (GRUB's `grub.cfg`, iPXE's `boot.ipxe`).
    pub dispatcher: Option<String>,
    /// The profile `default` links to (or the name, when it is no profile file's).
    pub default: Option<String>,
    /// Per-MAC links: the MAC and the profile linked to (or the name), in name order.
    pub entries: Vec<(MacAddr, String)>,
    /// Entries pxectl cannot describe, said as differences.
    pub problems: Vec<String>,
}

/// Reads `loader`'s folder `dir` (on this machine; `real` is its path on the boot server,
/// under the TFTP root `tftp_root`). A link leading out of the TFTP root is an error.
pub fn read(loader: Loader, dir: &Path, real: &Path, tftp_root: &Path) -> Result<Folder> {
    let mut f = Folder::default();
    let shown = real.display();
    let mut names: Vec<String> = Vec::new();
    for entry in
        fs::read_dir(dir).with_context(|| format!("cannot read the folder `{}`", dir.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read the folder `{}`", dir.display()))?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(name) => f.problems.push(format!(
                "{shown}/{}: the name is not UTF-8, which pxectl cannot describe",
                name.to_string_lossy()
            )),
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let mac = loader.parse_entry(&name);
        let default = name == loader.default_entry();
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)
                .with_context(|| format!("cannot read the link `{}`", path.display()))?;
            let target = target.to_string_lossy().into_owned();
            if !target.contains('/') {
                let profile = loader.profile_of(&target).unwrap_or(&target).to_string();
                match (default, mac) {
                    (true, _) => f.default = Some(profile),
                    (_, Some(mac)) => f.entries.push((mac, profile)),
                    _ => f.problems.push(format!(
                        "{shown}/{name}: a link to `{target}` that is neither `default` nor a per-MAC entry; remove it or make it a profile file"
                    )),
                }
                continue;
            }
            let resolved = lexical(&real.join(&target));
            if !resolved.starts_with(tftp_root) {
                bail!(
                    "{shown}/{name} links to `{target}`, outside the TFTP root `{}`: a TFTP client could not follow it; remove the link or point it at a profile in `{shown}`, then import again",
                    tftp_root.display()
                );
            }
            let in_folder = resolved.parent() == Some(real) && resolved.file_name().is_some();
            f.problems.push(if in_folder {
                let file = resolved.file_name().unwrap_or_default().to_string_lossy();
                format!(
                    "{shown}/{name}: a link to `{target}`, which pxectl writes as `{file}`: re-point it (`ln -sfn {file} {name}`) and import again"
                )
            } else {
                format!(
                    "{shown}/{name}: a link to `{target}`, outside `{shown}`; pxectl links only to profiles in the folder: move the file into it and link to its name"
                )
            });
        } else if meta.is_file() {
            let profile = loader
                .profile_of(&name)
                .filter(|_| !default && mac.is_none());
            if default {
                f.problems.push(format!(
                    "{shown}/{name}: a file; pxectl makes `{name}` a link to a profile: move it to a profile (`mv {name} menu && ln -s menu {name}`) and import again"
                ));
            } else if loader.dispatcher() == Some(name.as_str()) {
                f.dispatcher = Some(read_text(&path, &format!("{shown}/{name}"))?);
            } else if mac.is_some() {
                f.problems.push(format!(
                    "{shown}/{name}: a file; pxectl makes per-MAC entries links to profiles: replace it with a link to the profile it copies"
                ));
            } else if let Some(Err((what, hint))) =
                profile.map(crate::description::check_profile_name)
            {
                f.problems.push(format!(
                    "{shown}/{name}: {what}, so it cannot be a profile name; {hint}"
                ));
            } else if let Some(profile) = profile {
                let text = read_text(&path, &format!("{shown}/{name}"))?;
                f.profiles.insert(profile.to_string(), text);
            } else {
                f.problems.push(format!(
                    "{shown}/{name}: a file not named like a profile's (`NAME{}`); move it out of `{shown}`",
                    loader.file("")
                ));
            }
        } else {
            f.problems.push(format!(
                "{shown}/{name}: a folder or special file, which pxectl cannot describe; move it out of `{shown}`"
            ));
        }
    }
    Ok(f)
}

/// `path` with `.` and `..` resolved without the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// A profile file as pxectl's own keys.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Modelled {
    pub label: String,
    /// None: `LOCALBOOT 0`.
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub append: Option<String>,
    pub timeout: u32,
    pub prompt: bool,
}

/// What `loader`'s profile file for profile `name` says in pxectl's terms; none when it is
/// not in the form pxectl writes. Whether pxectl renders it byte for byte is for the round
/// trip to tell.
pub fn model(loader: Loader, name: &str, text: &str) -> Option<Modelled> {
    let linux = |kernel: &str, initrd: Option<&str>, append: &str| Modelled {
        label: name.to_string(),
        kernel: Some(kernel.to_string()),
        initrd: initrd.map(str::to_string),
        append: (!append.is_empty()).then(|| append.to_string()),
        timeout: 10,
        prompt: false,
    };
    let local = || Modelled {
        label: name.to_string(),
        timeout: 10,
        ..Modelled::default()
    };
    let (mut kernel, mut initrd) = (None, None);
    match loader {
        Loader::Pxelinux | Loader::SyslinuxEfi => return model_pxelinux(text),
        // templates/grub-profile.tera
        Loader::Grub => {
            for line in text.lines() {
                match line.split_once(' ') {
                    _ if line == format!("set profile={name}") || line == "boot" => {}
                    _ if line == format!("echo pxectl: {name}") => {}
                    Some(("linux", rest)) if kernel.is_none() => kernel = Some(rest),
                    Some(("initrd", rest)) if initrd.is_none() => initrd = Some(rest),
                    _ if text.contains("\tchainloader $efi\n") => return Some(local()),
                    _ => return None,
                }
            }
        }
        // templates/ipxe-profile.tera
        Loader::Ipxe => {
            for line in text.lines() {
                match line.split_once(' ') {
                    _ if line == "#!ipxe" || line == "boot" => {}
                    Some(("kernel", rest)) if kernel.is_none() => kernel = Some(rest),
                    Some(("initrd", rest)) if initrd.is_none() => {
                        initrd = Some(rest.strip_prefix("--name initrd ")?);
                    }
                    _ if line.starts_with("iseq ${platform} pcbios && sanboot") => {
                        return Some(local())
                    }
                    _ => return None,
                }
            }
            let (k, rest) = kernel?.split_once(' ').unwrap_or((kernel?, ""));
            let rest = match initrd {
                Some(_) => rest.strip_prefix("initrd=initrd").map(str::trim_start)?,
                None => rest,
            };
            return Some(linux(k, initrd, rest));
        }
    }
    let (k, append) = kernel?.split_once(' ').unwrap_or((kernel?, ""));
    Some(linux(k, initrd, append))
}

/// A pxelinux profile file: one label booting a `LINUX` kernel (or `LOCALBOOT 0`); none for
/// anything else (menus, `KERNEL`, `IPAPPEND`, comments), which is kept verbatim.
fn model_pxelinux(text: &str) -> Option<Modelled> {
    let mut m = Modelled {
        timeout: 10,
        ..Modelled::default()
    };
    let (mut default, mut label, mut local) = (None, None, false);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim().to_string();
        match word.to_ascii_uppercase().as_str() {
            "PROMPT" => m.prompt = rest == "1",
            "TIMEOUT" => m.timeout = rest.parse().ok()?,
            "DEFAULT" if default.is_none() => default = Some(rest),
            "LABEL" if label.is_none() => label = Some(rest),
            "LINUX" if label.is_some() && m.kernel.is_none() => m.kernel = Some(rest),
            "INITRD" if label.is_some() && m.initrd.is_none() => m.initrd = Some(rest),
            "APPEND" if label.is_some() && m.append.is_none() => m.append = Some(rest),
            "LOCALBOOT" if label.is_some() && rest == "0" => local = true,
            _ => return None,
        }
    }
    m.label = label?;
    if default.as_ref() != Some(&m.label) || local == m.kernel.is_some() {
        return None;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_and_ipxe_profiles_in_pxectls_form_are_modelled() {
        let want = |initrd: Option<&str>, append: Option<&str>| Modelled {
            label: "u".into(),
            kernel: Some("/k".into()),
            initrd: initrd.map(Into::into),
            append: append.map(Into::into),
            timeout: 10,
            prompt: false,
        };
        let grub = "set profile=u\necho pxectl: u\nlinux /k root=/dev/sda2 ro\ninitrd /i\nboot\n";
        assert_eq!(
            model(Loader::Grub, "u", grub),
            Some(want(Some("/i"), Some("root=/dev/sda2 ro")))
        );
        let ipxe =
            "#!ipxe\nkernel /k initrd=initrd root=/dev/sda2 ro\ninitrd --name initrd /i\nboot\n";
        assert_eq!(
            model(Loader::Ipxe, "u", ipxe),
            Some(want(Some("/i"), Some("root=/dev/sda2 ro")))
        );
        assert_eq!(
            model(Loader::Ipxe, "u", "#!ipxe\nkernel /k\nboot\n"),
            Some(want(None, None))
        );
        for (loader, text) in [
            (Loader::Grub, "menuentry u {\n  linux /k\n}\n"),
            (
                Loader::Grub,
                "set profile=other\necho pxectl: other\nlinux /k\nboot\n",
            ),
            (Loader::Ipxe, "#!ipxe\nchain http://10.0.0.1/x.efi\n"),
            (Loader::Ipxe, "#!ipxe\nkernel /k\ninitrd /i\nboot\n"),
        ] {
            assert_eq!(model(loader, "u", text), None, "{text}");
        }
    }

    #[test]
    fn one_label_booting_linux_is_modelled() {
        let m = model(Loader::Pxelinux, "arch", "PROMPT 0\nTIMEOUT 10\nDEFAULT arch\n\nLABEL arch\n\tLINUX /k\n\tAPPEND root=/dev/sda2 rw\n").unwrap();
        assert_eq!(
            m,
            Modelled {
                label: "arch".into(),
                kernel: Some("/k".into()),
                initrd: None,
                append: Some("root=/dev/sda2 rw".into()),
                timeout: 10,
                prompt: false,
            }
        );
    }

    #[test]
    fn menus_kernel_lines_and_comments_are_not() {
        for text in [
            "DEFAULT a\nLABEL a\n\tKERNEL /k\n",
            "DEFAULT a\nLABEL a\n\tLINUX /k\nLABEL b\n\tLINUX /j\n",
            "# mine\nDEFAULT a\nLABEL a\n\tLINUX /k\n",
            "DEFAULT a\nLABEL a\n\tLINUX /k\n\tIPAPPEND 2\n",
            "DEFAULT b\nLABEL a\n\tLINUX /k\n",
        ] {
            assert_eq!(model(Loader::Pxelinux, "x", text), None, "{text}");
        }
    }

    #[test]
    fn lexical_paths_stay_or_leave() {
        assert_eq!(
            lexical(Path::new("/srv/pxe/pxelinux.cfg/../../../etc/shadow")),
            Path::new("/etc/shadow")
        );
        assert_eq!(
            lexical(Path::new("/srv/pxe/pxelinux.cfg/../menus/a")),
            Path::new("/srv/pxe/menus/a")
        );
    }
}
