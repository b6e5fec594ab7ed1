//! The boot loader part of validation: `loaders`, `groups`, each node's choice (node beats
//! group beats `loaders`), and what the loaders in use cannot do with the profiles and paths.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::model::{RawDescription, RawNode};
use super::validate::{
    check_group, check_line, check_profile_name, fail, path_char, shown, At, Check, Validator,
};
use crate::cluster::{Boot, Loaders, Paths, Profile};
use crate::diagnostic::Diagnostic;
use crate::loader::{is_url, Arch, Choice, Loader};

/// Where a part of a node's choice or its normal profile was set, least specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Origin<'a> {
    /// `loaders.<field>` (or its default).
    Loaders,
    /// `groups.<name>.<field>`.
    Group(&'a str),
    /// `nodes[i].<field>`.
    Node(usize),
}

impl Use<'_> {
    pub(super) fn choice(&self) -> Choice {
        self.choice
    }
}

impl Origin<'_> {
    fn path(self, field: &str) -> String {
        match self {
            Self::Loaders => format!("loaders.{field}"),
            Self::Group(g) => format!("groups.{g}.{field}"),
            Self::Node(i) => format!("nodes[{i}].{field}"),
        }
    }
}

/// A choice in use and where its two parts were set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Use<'a> {
    choice: Choice,
    loader_at: Origin<'a>,
    secure_boot_at: Origin<'a>,
}

/// Every distinct choice in use: the default's first, then the nodes' in their order.
pub(super) struct Uses<'a> {
    list: Vec<Use<'a>>,
    seen: HashSet<Use<'a>>,
}

impl<'a> Uses<'a> {
    pub(super) fn new(default: Choice) -> Self {
        let first = Use {
            choice: default,
            loader_at: Origin::Loaders,
            secure_boot_at: Origin::Loaders,
        };
        Self {
            list: vec![first],
            seen: HashSet::from([first]),
        }
    }

    /// The choices, for [`Loaders::in_use`].
    pub(super) fn choices(&self) -> impl Iterator<Item = &Choice> {
        self.list.iter().map(|u| &u.choice)
    }

    pub(super) fn add(&mut self, u: Use<'a>) {
        // Neighbours mostly choose alike: no hashing for them.
        if self.list.last() != Some(&u) && self.seen.insert(u) {
            self.list.push(u);
        }
    }
}

/// A declared group's settings, each checked (a bad value counts as unset).
#[derive(Debug, Default)]
pub(super) struct Group<'a> {
    loader: Option<Forced>,
    secure_boot: Option<bool>,
    normal_profile: Option<&'a str>,
    append: Option<&'a str>,
}

/// A node's extra kernel arguments: the name of their renderings (the node's or the group's
/// that sets them), the arguments, and where they are set.
pub(super) type Extra<'a> = (&'a str, &'a str, String);

pub(super) type Groups<'a> = BTreeMap<&'a str, Group<'a>>;

/// A `loader:` value: `None` is `auto`.
type Forced = Option<Loader>;

/// The values of `loader:`, for messages.
const LOADER_VALUES: &str = "`auto`, `pxelinux`, `syslinux-efi`, `grub` or `ipxe`";

/// Every loader file setting: what [`Loaders::file_key`] can ask for.
fn file_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for arch in Arch::ALL {
        for loader in Loader::ALL.into_iter().filter(|l| l.serves(arch)) {
            for secure_boot in [false, true] {
                if let Some(key) = Loaders::file_key(arch, loader, secure_boot) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
    }
    keys
}

/// `a, b and c`: `items` joined for a sentence, `word` before the last one.
fn sentence(items: &[String], word: &str) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {word} {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `values` in backticks, joined for a sentence.
fn listed(values: impl IntoIterator<Item = impl AsRef<str>>, word: &str) -> String {
    let values: Vec<String> = values
        .into_iter()
        .map(|v| format!("`{}`", v.as_ref()))
        .collect();
    sentence(&values, word)
}

impl Validator {
    /// `auto` (`None`) or a loader, or records that `value` is neither.
    fn loader_value(&mut self, path: impl Into<At>, value: &str) -> Option<Forced> {
        if value == "auto" {
            return Some(None);
        }
        let loader = Loader::from_key(value);
        if loader.is_none() {
            self.check(path, "loader", value, |_| {
                fail("is unknown", &format!("use {LOADER_VALUES}"))
            });
        }
        loader.map(Some)
    }

    /// `loaders`, with Debian's file names where the description sets none; a bad client kind
    /// or file is reported and left out, so that the loaders in use can still be checked.
    pub(super) fn loaders(&mut self, raw: &RawDescription) -> Option<Loaders> {
        let l = &raw.loaders;
        let mut clients = Vec::new();
        if l.clients.is_empty() {
            self.push(
                Diagnostic::new("loaders.clients", "`clients` is empty")
                    .hint("list the kinds of clients dnsmasq answers, like `[bios, efi-x64]`"),
            );
        }
        for (i, kind) in l.clients.iter().enumerate() {
            let path = format!("loaders.clients[{i}]");
            match Arch::from_key(kind) {
                Some(arch) if clients.contains(&arch) => self.push(
                    Diagnostic::new(path, format!("client kind {} is listed twice", shown(kind)))
                        .hint("list each kind once"),
                ),
                Some(arch) => clients.push(arch),
                None => {
                    let kinds = listed(Arch::ALL.map(Arch::key), "or");
                    self.check(path, "client kind", kind, |_| {
                        fail("is unknown", &format!("use {kinds}"))
                    });
                }
            }
        }
        let loader = self.loader_value("loaders.loader", &l.loader);
        let keys = file_keys();
        let mut files: BTreeMap<String, String> = Loaders::DEBIAN_FILES
            .iter()
            .map(|(k, f)| ((*k).to_string(), (*f).to_string()))
            .collect();
        for (key, file) in &l.files {
            let path = format!("loaders.files.{key}");
            if !keys.contains(key) {
                self.push(
                    Diagnostic::new(
                        &path,
                        format!("loader file setting {} is unknown", shown(key)),
                    )
                    .on_key()
                    .hint(format!("use {}", listed(&keys, "or"))),
                );
            } else if file.is_empty() {
                files.remove(key);
            } else if self.check(path, "loader file", file, |f| check_loader_file(key, f)) {
                files.insert(key.clone(), file.clone());
            }
        }
        Some(Loaders {
            clients,
            default: Choice {
                loader: loader?,
                secure_boot: l.secure_boot,
            },
            files,
        })
    }

    /// The declared groups, each setting checked.
    pub(super) fn groups<'a>(&mut self, raw: &'a RawDescription) -> Groups<'a> {
        let mut out = Groups::new();
        for (name, g) in &raw.groups {
            let base = format!("groups.{name}");
            if !self.check(&base, "group", name, check_group) {
                if let Some(d) = self.diags.pop() {
                    self.push(d.on_key());
                }
                continue;
            }
            let loader = g
                .loader
                .as_ref()
                .and_then(|l| self.loader_value(format!("{base}.loader"), l));
            let normal_profile = g
                .normal_profile
                .as_deref()
                .filter(|p| self.profile_ref(raw, &format!("{base}.normal_profile"), p));
            let append = g
                .append
                .as_deref()
                .filter(|a| self.check(format!("{base}.append"), "append", a, check_line));
            if let (Some(loader), Some(secure_boot)) = (loader, g.secure_boot) {
                let own = Use {
                    choice: Choice {
                        loader,
                        secure_boot,
                    },
                    loader_at: Origin::Group(name),
                    secure_boot_at: Origin::Group(name),
                };
                self.secure_boot_without_grub(&own, &mut HashSet::new());
            }
            out.insert(
                name.as_str(),
                Group {
                    loader,
                    secure_boot: g.secure_boot,
                    normal_profile,
                    append,
                },
            );
        }
        out
    }

    /// Node `i`'s choice, normal profile and extra kernel arguments (its own, else its
    /// groups', else the default), or `None` when a value is bad or two of its groups disagree.
    pub(super) fn choice<'a>(
        &mut self,
        i: usize,
        n: &'a RawNode,
        raw: &'a RawDescription,
        groups: &Groups<'a>,
        default: Choice,
    ) -> Option<(Use<'a>, &'a str, Option<Extra<'a>>)> {
        let mut ok = true;
        let own_loader = match &n.loader {
            Some(l) => {
                let loader = self.loader_value(At::Item("nodes", i, "loader"), l);
                ok &= loader.is_some();
                loader.map(|l| (l, Origin::Node(i)))
            }
            None => None,
        };
        let loader = match own_loader {
            Some(l) => Some(l),
            None => self.groups_value(
                i,
                n,
                groups,
                "loader",
                |g| g.loader,
                |l| l.map_or("auto", Loader::key).to_string(),
                &mut ok,
            ),
        };
        let secure_boot = match n.secure_boot {
            Some(sb) => Some((sb, Origin::Node(i))),
            None => self.groups_value(
                i,
                n,
                groups,
                "secure_boot",
                |g| g.secure_boot,
                |sb| sb.to_string(),
                &mut ok,
            ),
        };
        let normal = match &n.normal_profile {
            Some(p) => {
                ok &= self.profile_ref(raw, &At::Item("nodes", i, "normal_profile").to_string(), p);
                p.as_str()
            }
            None => self
                .groups_value(
                    i,
                    n,
                    groups,
                    "normal_profile",
                    |g| g.normal_profile,
                    str::to_string,
                    &mut ok,
                )
                .map_or(raw.roles.normal.as_str(), |(p, _)| p),
        };
        let extra = match &n.append {
            Some(a) => {
                let path = At::Item("nodes", i, "append");
                ok &= self.check(path.clone(), "append", a, check_line);
                Some((n.name.as_str(), a.as_str(), path.to_string()))
            }
            None => self
                .groups_value(
                    i,
                    n,
                    groups,
                    "append",
                    |g| g.append,
                    str::to_string,
                    &mut ok,
                )
                .map(|(a, at)| {
                    let Origin::Group(g) = at else {
                        unreachable!("a group's value")
                    };
                    (g, a, at.path("append"))
                }),
        };
        // A blank `append` means no extra arguments; a node's still beats its groups'.
        let extra = extra.filter(|(_, args, _)| !args.trim().is_empty());
        let (loader, loader_at) = loader.unwrap_or((default.loader, Origin::Loaders));
        let (secure_boot, secure_boot_at) =
            secure_boot.unwrap_or((default.secure_boot, Origin::Loaders));
        ok.then_some((
            Use {
                choice: Choice {
                    loader,
                    secure_boot,
                },
                loader_at,
                secure_boot_at,
            },
            normal,
            extra,
        ))
    }

    /// The value node `i`'s declared groups give `field`, with the first group setting it;
    /// none when none does, or (reported, and `ok` cleared) when two of them give different
    /// values.
    #[allow(clippy::too_many_arguments)]
    fn groups_value<'a, T: PartialEq + Copy>(
        &mut self,
        i: usize,
        n: &'a RawNode,
        groups: &Groups<'a>,
        field: &str,
        get: impl Fn(&Group<'a>) -> Option<T>,
        show: impl Fn(T) -> String,
        ok: &mut bool,
    ) -> Option<(T, Origin<'a>)> {
        let mut found: Option<(T, &'a str)> = None;
        if groups.is_empty() {
            return None;
        }
        for (g, name) in n.groups.iter().enumerate() {
            let Some(value) = groups.get(name.as_str()).and_then(&get) else {
                continue;
            };
            match found {
                None => found = Some((value, name)),
                Some((first, first_name)) if first != value => {
                    self.push(
                        Diagnostic::new(
                            At::Group(i, g).to_string(),
                            format!(
                                "groups `{first_name}` and `{name}` set `{field}` to different values: {} and {}",
                                shown(&show(first)),
                                shown(&show(value))
                            ),
                        )
                        .hint(format!(
                            "set `{field}` on the node itself, or make the groups agree"
                        )),
                    );
                    *ok = false;
                    return None;
                }
                Some(_) => {}
            }
        }
        found.map(|(v, g)| (v, Origin::Group(g)))
    }

    /// What the loaders in use cannot do: Secure Boot without GRUB, a missing loader file,
    /// local-disk profiles, URL kernels, script syntax in kernel arguments, profile names they
    /// reserve, files in their folders, and iPXE outside the web root.
    pub(super) fn loaders_in_use(
        &mut self,
        raw: &RawDescription,
        loaders: &Loaders,
        uses: &Uses<'_>,
        in_use: &[Loader],
        profiles: &BTreeMap<String, Profile>,
        paths: Option<&Paths>,
    ) {
        // Why `loader` is in use, for notes.
        let used_at = |loader: Loader| -> String {
            let forced = uses.list.iter().find(|u| u.choice.loader == Some(loader));
            let usual = loaders.clients.iter().find(|a| a.loader(None) == loader);
            match (forced, usual) {
                (Some(u), _) => format!("`{}` is in use: set at `{}`", loader.key(), u.loader_at.path("loader")),
                (None, Some(arch)) => format!(
                    "`{}` is in use: the usual loader of `{}` clients, served as `loaders.clients` says",
                    loader.key(),
                    arch.key()
                ),
                (None, None) => format!("`{}` is in use", loader.key()),
            }
        };
        let mut reported = HashSet::new();
        for u in &uses.list {
            if !matches!((u.loader_at, u.secure_boot_at), (Origin::Group(a), Origin::Group(b)) if a == b)
            {
                self.secure_boot_without_grub(u, &mut reported);
            }
            self.missing_files(raw, loaders, u, &mut reported);
            self.secure_boot_over_http(loaders, u, &mut reported);
            self.grub_not_where_shim_looks(raw, loaders, u, &mut reported);
        }
        for (name, profile) in profiles {
            self.profile_for_loaders(name, profile, in_use, used_at);
        }
        for name in raw
            .profiles
            .keys()
            .filter(|n| check_profile_name(n).is_ok())
        {
            for loader in in_use.iter().filter(|l| l.reserved(name)) {
                self.push(
                    Diagnostic::new(
                        format!("profiles.{name}"),
                        format!(
                            "profile name {} would be `{}/{}`, a name `{}` keeps for itself",
                            shown(name),
                            loader.dir(),
                            loader.file(name),
                            loader.key()
                        ),
                    )
                    .on_key()
                    .hint("rename the profile"),
                );
            }
        }
        self.files_for_loaders(raw, loaders, in_use);
        if let Some(p) = paths {
            if in_use.contains(&Loader::Ipxe) && !p.tftp_root.starts_with(&p.web_root) {
                self.push(
                    Diagnostic::new(
                        "paths.tftp_root",
                        format!(
                            "the TFTP root `{}` is not inside the web root `{}`, but `ipxe` fetches its scripts and kernels from it by HTTP",
                            p.tftp_root.display(),
                            p.web_root.display()
                        ),
                    )
                    .note(used_at(Loader::Ipxe))
                    .hint("put `paths.tftp_root` inside `paths.web_root`, like `/srv/public/pxe` in `/srv/public`"),
                );
            }
        }
    }

    /// A profile's kernel, initrd and arguments, or its local disk, against the loaders in use.
    fn profile_for_loaders(
        &mut self,
        name: &str,
        profile: &Profile,
        in_use: &[Loader],
        used_at: impl Fn(Loader) -> String,
    ) {
        let base = format!("profiles.{name}");
        if let Boot::Verbatim(_) = &profile.boot {
            for loader in in_use.iter().filter(|l| **l != Loader::Pxelinux) {
                self.push(
                    Diagnostic::new(
                        format!("{base}.pxelinux"),
                        format!(
                            "profile {} is a pxelinux file, which `{}` cannot read",
                            shown(name),
                            loader.key()
                        ),
                    )
                    .note(used_at(*loader))
                    .hint("describe the profile with `kernel`, `initrd` and `append`, which pxectl renders for every loader, or serve only `bios` clients with pxelinux"),
                );
            }
            return;
        }
        let fields = match &profile.boot {
            Boot::Linux {
                kernel,
                initrd,
                append,
            } => [
                ("kernel", Some(kernel)),
                ("initrd", initrd.as_ref()),
                ("append", append.as_ref()),
            ],
            Boot::Chain(target) => [("chain", Some(target)), ("initrd", None), ("append", None)],
            _ => [("kernel", None), ("initrd", None), ("append", None)],
        };
        if !matches!(profile.boot, Boot::Linux { .. }) {
            let what = if let Boot::Chain(_) = profile.boot {
                "chains another boot program"
            } else {
                "boots the local disk"
            };
            for loader in in_use.iter().filter(|l| !l.boots_local_disk()) {
                self.push(
                    Diagnostic::new(
                        format!("{base}.boot"),
                        format!("profile {} {what}, which `{}` cannot do", shown(name), loader.key()),
                    )
                    .note(used_at(*loader))
                    .hint(format!(
                        "boot these clients with `grub` or `ipxe` instead of `{}`, or give the profile a kernel",
                        loader.key()
                    )),
                );
            }
        }
        let tftp: Vec<Loader> = in_use.iter().copied().filter(|l| l.tftp_only()).collect();
        for (field, value) in fields {
            let Some(value) = value else { continue };
            if field != "append" && is_url(value) && !tftp.is_empty() {
                let which = listed(tftp.iter().map(|l| l.key()), "and");
                let verb = if tftp.len() == 1 { "fetches" } else { "fetch" };
                self.push(
                    Diagnostic::new(
                        format!("{base}.{field}"),
                        format!(
                            "{field} {} is an HTTP URL, but {which} {verb} only by TFTP",
                            shown(value)
                        ),
                    )
                    .hint("put the file in the TFTP root and give its path, like `/vmlinuz`, or boot every client with `ipxe`"),
                );
            }
            self.script_syntax(&format!("{base}.{field}"), field, value, in_use);
        }
    }

    /// `value` (a `field` at `path`) with characters GRUB or iPXE would read as script syntax,
    /// when either is in use.
    pub(super) fn script_syntax(
        &mut self,
        path: &str,
        field: &str,
        value: &str,
        in_use: &[Loader],
    ) {
        let scripted: Vec<Loader> = in_use
            .iter()
            .copied()
            .filter(|l| matches!(l, Loader::Grub | Loader::Ipxe))
            .collect();
        let mut bad: Vec<char> = value
            .chars()
            .filter(|c| SCRIPT_SYNTAX.contains(*c))
            .collect();
        bad.sort_unstable();
        bad.dedup();
        if bad.is_empty() || scripted.is_empty() {
            return;
        }
        let which = listed(scripted.iter().map(|l| l.key()), "and");
        let verb = if scripted.len() == 1 { "reads" } else { "read" };
        let chars: Vec<String> = bad
            .iter()
            .map(|&c| match c {
                '`' => "a backquote".to_string(),
                c => shown(&c.to_string()),
            })
            .collect();
        self.push(
            Diagnostic::new(
                path,
                format!(
                    "{field} {} has {}, which {which} {verb} as script syntax",
                    shown(value),
                    sentence(&chars, "and")
                ),
            )
            .hint("remove these characters: GRUB and iPXE read `$ ; & | < > \" ' \\ { } #` and the backquote as variables, quotes, operators or comments"),
        );
    }

    /// Loader files in the folder of a loader in use, and iPXE files that UEFI HTTP boot
    /// would not take.
    fn files_for_loaders(&mut self, raw: &RawDescription, loaders: &Loaders, in_use: &[Loader]) {
        // Only files that were accepted: a refused one is reported already.
        let given = raw
            .loaders
            .files
            .iter()
            .filter(|(k, f)| loaders.files.get(*k) == Some(f));
        for (key, file) in given {
            let owner = in_use
                .iter()
                .find(|l| overlaps(Path::new(file), Path::new(l.dir())));
            if let Some(loader) = owner {
                self.push(
                    Diagnostic::new(
                        format!("loaders.files.{key}"),
                        format!(
                            "loader file {} is in `{}/`, the folder of `{}`'s entries",
                            shown(file),
                            loader.dir(),
                            loader.key()
                        ),
                    )
                    .hint(format!(
                        "put it outside `{}/`: pxectl owns every name there",
                        loader.dir()
                    )),
                );
            }
        }
        for (k, arch) in loaders.clients.iter().enumerate() {
            if !arch.is_http() {
                continue;
            }
            let Some(key) = Loaders::file_key(*arch, Loader::Ipxe, false) else {
                continue;
            };
            let Some(file) = loaders.files.get(&key) else {
                continue;
            };
            let efi = Path::new(file)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("efi"));
            if !efi {
                let at = if raw.loaders.files.contains_key(&key) {
                    format!("loaders.files.{key}")
                } else {
                    format!("loaders.clients[{k}]")
                };
                self.push(
                    Diagnostic::new(
                        at,
                        format!(
                            "loader file {} does not end in `.efi`, but `{}` clients fetch it by HTTP",
                            shown(file),
                            arch.key()
                        ),
                    )
                    .hint("UEFI HTTP boot refuses other names: copy or link the file under a name ending in `.efi`"),
                );
            }
        }
    }

    /// Secure Boot on a choice whose forced loader is not GRUB: reported where the later of the
    /// two settings was made. A group's own pair is checked with the group, used or not.
    fn secure_boot_without_grub(&mut self, u: &Use<'_>, reported: &mut HashSet<String>) {
        let Some(loader) = u.choice.loader else {
            return;
        };
        if !u.choice.secure_boot || loader == Loader::Grub {
            return;
        }
        let (at, note) = if u.secure_boot_at >= u.loader_at {
            (
                u.secure_boot_at.path("secure_boot"),
                format!("the loader is set at `{}`", u.loader_at.path("loader")),
            )
        } else {
            (
                u.loader_at.path("loader"),
                format!(
                    "Secure Boot is set at `{}`",
                    u.secure_boot_at.path("secure_boot")
                ),
            )
        };
        if reported.insert(at.clone()) {
            self.push(
                Diagnostic::new(
                    at,
                    format!("Secure Boot is on with the loader `{}`, but Secure Boot boots shim, then GRUB", loader.key()),
                )
                .note(note)
                .hint("use `loader: grub` or `auto` where Secure Boot is on, or `secure_boot: false`"),
            );
        }
    }

    /// Secure Boot on in a choice in use while `http-*` clients are served: every node can boot
    /// by UEFI HTTP, which always gets iPXE, unsigned. Reported once per `secure_boot` value.
    fn secure_boot_over_http(
        &mut self,
        loaders: &Loaders,
        u: &Use<'_>,
        reported: &mut HashSet<String>,
    ) {
        let http: Vec<Arch> = loaders
            .clients
            .iter()
            .copied()
            .filter(|a| a.is_http())
            .collect();
        let Some(first) = http.first() else {
            return;
        };
        let at = u.secure_boot_at.path("secure_boot");
        if !u.choice.secure_boot || !reported.insert(format!("{at} http")) {
            return;
        }
        let kinds = listed(http.iter().map(|a| a.key()), "and");
        let loader = first.loader(u.choice.loader);
        self.push(
            Diagnostic::new(
                at,
                format!(
                    "Secure Boot is on, but {kinds} clients boot `{}`, which is not signed: Secure Boot firmware refuses it",
                    loader.key()
                ),
            )
            .note(format!(
                "`loaders.clients` serves {kinds} (UEFI HTTP boot) to every node"
            ))
            .hint(format!(
                "serve Secure Boot machines over PXE only (`efi-x64`: remove {kinds} from `loaders.clients`), or turn Secure Boot off for them"
            )),
        );
    }

    /// A `grub-<cpu>` file other than the name shim loads GRUB by (Debian's default for the
    /// setting) while `u` boots that cpu's shim.
    fn grub_not_where_shim_looks(
        &mut self,
        raw: &RawDescription,
        loaders: &Loaders,
        u: &Use<'_>,
        reported: &mut HashSet<String>,
    ) {
        for &arch in &loaders.clients {
            let loader = arch.loader(u.choice.loader);
            if !Loaders::file_key(arch, loader, u.choice.secure_boot)
                .is_some_and(|k| k.starts_with("shim-"))
            {
                continue;
            }
            let Some(key) = Loaders::file_key(arch, loader, false) else {
                continue;
            };
            let Some((_, fixed)) = Loaders::DEBIAN_FILES.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            // Only a file that was accepted: a refused one is reported already.
            let Some(file) = raw
                .loaders
                .files
                .get(&key)
                .filter(|f| loaders.files.get(&key) == Some(f) && f != fixed)
            else {
                continue;
            };
            if reported.insert(format!("{key} behind shim")) {
                self.push(
                    Diagnostic::new(
                        format!("loaders.files.{key}"),
                        format!(
                            "loader file {} is not `{fixed}`, the name shim loads GRUB by, but `{}` clients boot shim (Secure Boot)",
                            shown(file),
                            arch.key()
                        ),
                    )
                    .note(format!(
                        "Secure Boot is set at `{}`",
                        u.secure_boot_at.path("secure_boot")
                    ))
                    .hint(format!(
                        "remove `loaders.files.{key}` and put the signed GRUB at the TFTP root as `{fixed}`, beside shim"
                    )),
                );
            }
        }
    }

    /// Served kinds of clients that `u` gives a loader with no file.
    fn missing_files(
        &mut self,
        raw: &RawDescription,
        loaders: &Loaders,
        u: &Use<'_>,
        reported: &mut HashSet<String>,
    ) {
        for (k, arch) in loaders.clients.iter().enumerate() {
            let loader = arch.loader(u.choice.loader);
            let Some(key) = Loaders::file_key(*arch, loader, u.choice.secure_boot) else {
                continue;
            };
            if loaders.files.contains_key(&key) {
                continue;
            }
            let emptied = raw.loaders.files.contains_key(&key);
            let at = if emptied {
                format!("loaders.files.{key}")
            } else if u.choice.loader == Some(loader) {
                u.loader_at.path("loader")
            } else {
                format!("loaders.clients[{k}]")
            };
            if reported.insert(format!("{at} {key}")) {
                let shim = if key.starts_with("shim-") {
                    " behind shim (Secure Boot)"
                } else {
                    ""
                };
                let why = if emptied {
                    "is empty"
                } else {
                    "is not set (Debian has no such file)"
                };
                self.push(
                    Diagnostic::new(
                        at,
                        format!("`{}` clients boot `{}`{shim}, but its loader file `loaders.files.{key}` {why}", arch.key(), loader.key()),
                    )
                    .hint(format!("set `loaders.files.{key}` to the file's path in the TFTP root, or boot `{}` clients with another loader", arch.key())),
                );
            }
        }
    }
}

/// Characters GRUB or iPXE read as syntax on a `linux`/`kernel` line.
const SCRIPT_SYNTAX: &str = "$;&|<>\"'\\{}`#";

fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// A loader file's path relative to the TFTP root; GRUB's and shim's at the root (GRUB's
/// `$prefix` is `grub/` beside it), syslinux.efi's in `efi64/`.
fn check_loader_file(key: &str, file: &str) -> Check {
    let hint = "give the file's path relative to the TFTP root, of letters, digits and `/._-+@`, like `grubx64.efi`";
    if file.starts_with('/') {
        return fail("is absolute", hint);
    }
    if !file.bytes().all(path_char) {
        return fail("has characters that are not safe in a config file", hint);
    }
    if file
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return fail("has an empty, `.` or `..` component", hint);
    }
    if (key.starts_with("grub-") || key.starts_with("shim-")) && file.contains('/') {
        return fail(
            "is not at the TFTP root",
            "GRUB reads its configs from `grub/` beside itself, where pxectl renders them, and shim loads GRUB from its own folder: put the file at the TFTP root, like `grubx64.efi`",
        );
    }
    if key == "syslinux-efi-x64" && file.strip_prefix("efi64/").is_none_or(|f| f.contains('/')) {
        return fail(
            "is not in `efi64/`",
            "syslinux.efi reads `pxelinux.cfg/` beside itself and pxectl renders it in `efi64/`: put the file there, like `efi64/syslinux.efi`",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    fn parse(text: &str) -> Cluster {
        match crate::description::parse(text, Path::new(".")) {
            Ok(c) => c,
            Err(diags) => panic!("{diags:#?}"),
        }
    }

    const SERVER: &str = "server: {hostname: boot, address: 10.0.0.1/24, interface: eth0}\n";

    #[test]
    fn without_loaders_only_bios_clients_boot_pxelinux_with_debians_file_names() {
        let c = parse(&format!(
            "{SERVER}profiles: {{linux: {{kernel: /k}}}}\nroles: {{normal: linux, reimage: linux}}\nnodes: [{{name: n1, mac: aa:bb:cc:00:00:01, groups: [rack1]}}]\n"
        ));
        assert_eq!(c.loaders.clients, [Arch::Bios]);
        assert_eq!(c.loaders.default, Choice::default());
        assert_eq!(c.nodes[0].choice, Choice::default());
        assert_eq!(c.nodes[0].normal_profile, "linux");
        assert_eq!(c.loaders_in_use(), [Loader::Pxelinux]);
        let debian: BTreeMap<String, String> = Loaders::DEBIAN_FILES
            .iter()
            .map(|(k, f)| ((*k).to_string(), (*f).to_string()))
            .collect();
        assert_eq!(c.loaders.files, debian);
    }

    #[test]
    fn every_new_key_is_read_and_a_node_beats_its_groups_which_beat_the_default() {
        let c = parse(&format!(
            "{SERVER}\
loaders:
  clients: [bios, efi-x64, efi-arm64]
  loader: grub
  secure_boot: true
  files: {{shim-x64: shimx64.efi.signed, ipxe-arm64: ipxe-arm64.efi, ipxe-ia32: ''}}
groups:
  rack1: {{loader: auto, normal_profile: disk}}
  rack2: {{loader: ipxe, secure_boot: false}}
  rack3: {{loader: ipxe, secure_boot: false}}
profiles:
  linux: {{boot: linux, kernel: /k, initrd: /i, append: root=/dev/sda1}}
  disk: {{boot: local, label: disk, timeout: 5}}
roles: {{normal: linux, reimage: linux}}
nodes:
  - {{name: n1, mac: aa:bb:cc:00:00:01}}
  - {{name: n2, mac: aa:bb:cc:00:00:02, groups: [rack1]}}
  - {{name: n3, mac: aa:bb:cc:00:00:03, groups: [rack1], loader: pxelinux, secure_boot: false, normal_profile: linux}}
  - {{name: n4, mac: aa:bb:cc:00:00:04, groups: [rack2, rack3]}}
  - {{name: n5, mac: aa:bb:cc:00:00:05, groups: [rack1, rack2], loader: grub}}
  - {{name: n6, mac: aa:bb:cc:00:00:06, groups: [not-declared]}}
"
        ));
        let choice = |loader, secure_boot| Choice {
            loader,
            secure_boot,
        };
        let got: Vec<(&str, Choice, &str)> = c
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.choice, n.normal_profile.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("n1", choice(Some(Loader::Grub), true), "linux"),
                ("n2", choice(None, true), "disk"),
                ("n3", choice(Some(Loader::Pxelinux), false), "linux"),
                ("n4", choice(Some(Loader::Ipxe), false), "linux"),
                // rack1 and rack2 disagree on `loader`, which n5 sets itself.
                ("n5", choice(Some(Loader::Grub), false), "disk"),
                ("n6", choice(Some(Loader::Grub), true), "linux"),
            ]
        );
        assert_eq!(
            c.loaders.clients,
            [Arch::Bios, Arch::EfiX64, Arch::EfiArm64]
        );
        assert_eq!(c.loaders.default, choice(Some(Loader::Grub), true));
        assert_eq!(c.loaders.files["shim-x64"], "shimx64.efi.signed");
        assert_eq!(c.loaders.files["ipxe-arm64"], "ipxe-arm64.efi");
        assert_eq!(c.loaders.files["grub-x64"], "grubx64.efi");
        assert!(!c.loaders.files.contains_key("ipxe-ia32"));
        assert_eq!(
            c.loaders_in_use(),
            [Loader::Pxelinux, Loader::Grub, Loader::Ipxe]
        );
        assert_eq!(c.profiles["disk"].boot, Boot::LocalDisk);
        assert_eq!(c.profiles["disk"].timeout, 5);
        assert_eq!(
            c.profiles["linux"].boot,
            Boot::Linux {
                kernel: "/k".into(),
                initrd: Some("/i".into()),
                append: Some("root=/dev/sda1".into()),
            }
        );
    }

    #[test]
    fn secure_boot_is_accepted_over_pxe_and_a_renamed_grub_without_shim() {
        let profiles = "profiles: {linux: {kernel: /k}}\nroles: {normal: linux, reimage: linux}\nnodes: [{name: n1, mac: aa:bb:cc:00:00:01}]\n";
        for loaders in [
            "{clients: [bios, efi-x64, efi-arm64], secure_boot: true, files: {grub-x64: grubx64.efi}}",
            "{clients: [efi-x64, http-x64], secure_boot: false, files: {grub-x64: grubnetx64.efi}}",
        ] {
            let c = parse(&format!("{SERVER}loaders: {loaders}\n{profiles}"));
            assert_eq!(c.nodes.len(), 1, "{loaders}");
        }
    }

    #[test]
    fn a_blank_append_means_no_extra_arguments_and_still_beats_the_groups() {
        let c = parse(&format!(
            "{SERVER}\
groups:
  serial: {{append: console=ttyS0}}
  quiet: {{append: '  '}}
  empty: {{append: ''}}
profiles: {{linux: {{kernel: /k, append: ro}}}}
roles: {{normal: linux, reimage: linux}}
nodes:
  - {{name: n1, mac: aa:bb:cc:00:00:01, groups: [serial]}}
  - {{name: n2, mac: aa:bb:cc:00:00:02, groups: [serial], append: ''}}
  - {{name: n3, mac: aa:bb:cc:00:00:03, groups: [quiet]}}
  - {{name: n4, mac: aa:bb:cc:00:00:04, groups: [quiet], append: console=tty0}}
  - {{name: n5, mac: aa:bb:cc:00:00:05, groups: [empty]}}
"
        ));
        let got: Vec<(&str, Option<&str>)> = c
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.variant.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("n1", Some("serial")),
                ("n2", None),
                ("n3", None),
                ("n4", Some("n4")),
                ("n5", None),
            ]
        );
        assert_eq!(
            c.variants.iter().collect::<Vec<_>>(),
            [
                (&"n4".to_string(), &"console=tty0".to_string()),
                (&"serial".to_string(), &"console=ttyS0".to_string()),
            ]
        );
    }

    #[test]
    fn the_file_settings_are_what_loaders_ask_for_and_include_debians() {
        let keys = file_keys();
        assert_eq!(
            keys,
            [
                "ipxe-bios",
                "grub-ia32",
                "shim-ia32",
                "ipxe-ia32",
                "syslinux-efi-x64",
                "grub-x64",
                "shim-x64",
                "ipxe-x64",
                "grub-arm64",
                "shim-arm64",
                "ipxe-arm64",
            ]
        );
        for (key, _) in Loaders::DEBIAN_FILES {
            assert!(keys.iter().any(|k| k == key), "{key}");
        }
    }

    #[test]
    fn loader_files() {
        for (key, ok) in [
            ("grub-x64", "grubx64.efi"),
            ("shim-arm64", "shimaa64.efi.signed"),
            ("ipxe-x64", "boot/snponly.efi"),
            ("syslinux-efi-x64", "efi64/syslinux.efi"),
        ] {
            assert!(check_loader_file(key, ok).is_ok(), "{key}: {ok}");
        }
        for (key, bad) in [
            ("grub-x64", "/grubx64.efi"),
            ("grub-x64", "efi/grubx64.efi"),
            ("shim-x64", "a/shimx64.efi"),
            ("ipxe-bios", "ipxe/../undionly.kpxe"),
            ("ipxe-bios", "a//b"),
            ("ipxe-bios", "./undionly.kpxe"),
            ("ipxe-bios", "undionly kpxe"),
            ("ipxe-bios", "x;y"),
            ("syslinux-efi-x64", "syslinux.efi"),
            ("syslinux-efi-x64", "efi64/a/syslinux.efi"),
            ("syslinux-efi-x64", "efi32/syslinux.efi"),
        ] {
            assert!(check_loader_file(key, bad).is_err(), "{key}: {bad}");
        }
    }
}
