//! Arbitrary, generated and mutated descriptions through load, validate and plan building:
//! never a panic, and a valid description always renders the files and links it describes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use pxectl::templates::Templates;

const EXAMPLE: &str = include_str!("../examples/portacluster.yaml");
const SMALL: &str = include_str!("fixtures/invalid/several-problems-at-once/cluster.yaml");

/// Fragments that stress YAML, the validators and the templates.
const FRAGMENTS: &[&str] = &[
    "\n",
    "\n  ",
    ":",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "\\",
    ";",
    "#",
    "\t",
    "\0",
    "\u{7f}",
    "é",
    "{{",
    "}}",
    "{%",
    "%}",
    "{{ http.url }}",
    "&a ",
    "*a",
    "!!int ",
    "~",
    "null",
    "0x1F",
    "..",
    "/",
    "01-",
    "default",
    "aa:bb:cc:dd:ee:ff",
    "10.20.0.300",
    "/0",
    "/33",
    "-1",
    "99999999999999999999",
    "yes",
    "true",
];

/// What the generator wrote into a description, for checking the plan of one it did not spoil.
struct Intent {
    dnsmasq_conf: PathBuf,
    nginx_conf: PathBuf,
    hostsfile: Option<PathBuf>,
    link_dir: PathBuf,
    profiles: BTreeSet<String>,
    default: Option<String>,
    /// Each node's link name and the profile it should point at.
    nodes: Vec<(String, String)>,
}

/// Loads `text`; when it is a valid description, builds its plan (which must not fail) and
/// checks it. Returns whether plan building was reached.
fn load_and_render(text: &str, intent: Option<&Intent>) -> bool {
    let Ok(cluster) = pxectl::description::parse(text, Path::new("/nonexistent")) else {
        return false;
    };
    let templates = Templates::load(None).expect("built-in templates load");
    let layout = pxectl::layout::Layout::new(&cluster, None);
    let plan = pxectl::plan::build(&cluster, &layout, &templates)
        .unwrap_or_else(|e| panic!("a valid description fails to render: {e:#}\n{text}"));
    check_links(&plan, text);
    if let Some(intent) = intent {
        check_intent(&plan, intent, text);
    }
    true
}

/// Every link is a plain name in a folder of profile files, and points at a planned profile.
fn check_links(plan: &pxectl::plan::Plan, text: &str) {
    let files: BTreeSet<&Path> = plan.files.iter().map(|f| f.path.as_path()).collect();
    let mut seen = BTreeSet::new();
    for link in &plan.links {
        assert!(
            seen.insert(&link.path),
            "two links at {}\n{text}",
            link.path.display()
        );
        let dir = link.path.parent().expect("a link has a folder");
        assert!(
            files.contains(dir.join(&link.target).as_path()),
            "link {} -> {:?} points at no planned profile file\n{text}",
            link.path.display(),
            link.target
        );
        assert!(
            !link.target.contains('/'),
            "link target {:?} is not a name in the link's folder\n{text}",
            link.target
        );
    }
}

/// The plan holds exactly the files and links the generator described, under its paths.
fn check_intent(plan: &pxectl::plan::Plan, intent: &Intent, text: &str) {
    let mut files: Vec<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
    files.sort();
    let mut want: Vec<PathBuf> = [&intent.dnsmasq_conf, &intent.nginx_conf]
        .into_iter()
        .chain(&intent.hostsfile)
        .cloned()
        .chain(intent.profiles.iter().map(|p| intent.link_dir.join(p)))
        .collect();
    want.sort();
    assert_eq!(files, want, "rendered files\n{text}");
    let mut links: Vec<(PathBuf, String)> = plan
        .links
        .iter()
        .map(|l| (l.path.clone(), l.target.clone()))
        .collect();
    links.sort();
    let mut want: Vec<(PathBuf, String)> = intent
        .nodes
        .iter()
        .map(|(name, profile)| (intent.link_dir.join(name), profile.clone()))
        .chain(
            intent
                .default
                .iter()
                .map(|d| (intent.link_dir.join("default"), d.clone())),
        )
        .collect();
    want.sort();
    assert_eq!(links, want, "one link per node (and `default`)\n{text}");
}

/// A description built from a valid skeleton with arbitrary values; `spoil` holds the values
/// that replace some of its scalars (any text, YAML and template syntax included).
#[derive(Debug, Clone)]
struct Generated {
    prefix: &'static str,
    interface: &'static str,
    domain: String,
    range: bool,
    lease_time: &'static str,
    hostsfile: bool,
    port: u16,
    keepalive: u8,
    /// Name, kernel, initrd, append (with template expressions).
    profiles: Vec<(String, String, Option<String>, String)>,
    /// Indexes into `profiles`: normal, reimage, rescue, default.
    roles: (usize, usize, Option<usize>, Option<usize>),
    /// MAC byte, fixed address, group, normal profile (index).
    nodes: Vec<(u8, bool, Option<&'static str>, Option<usize>)>,
    reservations: usize,
    spoil: Vec<(u16, String, bool)>,
}

/// The scalars of a description being written, numbered in order; a spoilt one is replaced.
struct Slots<'a> {
    spoil: &'a [(u16, String, bool)],
    next: usize,
}

impl Slots<'_> {
    /// The next scalar: `valid`, or its spoilt replacement (raw, or quoted as a YAML string).
    fn value(&mut self, valid: &str) -> String {
        let this = self.next;
        self.next += 1;
        match self
            .spoil
            .iter()
            .find(|(at, _, _)| usize::from(*at) == this)
        {
            Some((_, text, true)) => text.clone(),
            Some((_, text, false)) => format!("'{}'", text.replace('\'', "''")),
            None => valid.to_string(),
        }
    }
}

/// Words of a kernel command line, template expressions among them.
const APPEND_WORDS: &[&str] = &[
    "root=/dev/sda1",
    "ro",
    "quiet",
    "ip=dhcp",
    "url={{ http.url }}/install",
    "host={{ server.fqdn }}",
    "server={{ server.address }}/{{ server.prefix }}",
    "{{ paths.pxelinux_dir }}",
    "{% if dhcp.range %}range={{ dhcp.range.start }}{% endif %}",
    "{{ http.port }}",
];

impl Generated {
    /// The description, and how many scalars it has (the slots `spoil` may replace).
    fn yaml(&self) -> (String, usize) {
        let mut out = String::new();
        let mut slots = Slots {
            spoil: &self.spoil,
            next: 0,
        };
        self.settings(&mut slots, &mut out);
        self.profiles_and_roles(&mut slots, &mut out);
        self.hosts(&mut slots, &mut out);
        (out, slots.next)
    }

    fn settings(&self, v: &mut Slots, out: &mut String) {
        let p = self.prefix;
        let _ = writeln!(
            out,
            "server: {{hostname: {}, address: {}, interface: {}, domain: {}}}",
            v.value("boot"),
            v.value("10.0.0.1/16"),
            v.value(self.interface),
            v.value(&self.domain)
        );
        let _ = writeln!(
            out,
            "paths: {{dnsmasq_conf: {}, nginx_conf: {}, web_root: {}, tftp_root: {}, state_dir: {}}}",
            v.value(&format!("{p}/etc/dnsmasq.conf")),
            v.value(&format!("{p}/etc/nginx/nginx.conf")),
            v.value(&format!("{p}/srv/www")),
            v.value(&format!("{p}/srv/www/tftp")),
            v.value(&format!("{p}/var/lib/pxectl"))
        );
        out.push_str("dhcp:\n");
        if self.range {
            let _ = writeln!(
                out,
                "  range: {{start: {}, end: {}}}",
                v.value("10.0.200.1"),
                v.value("10.0.200.250")
            );
        }
        let _ = writeln!(out, "  lease_time: {}", v.value(self.lease_time));
        let hosts = if self.hostsfile {
            "hostsfile"
        } else {
            "inline"
        };
        let _ = writeln!(out, "  hosts: {}", v.value(hosts));
        let _ = writeln!(
            out,
            "http: {{port: {}, keepalive_timeout: {}}}",
            v.value(&self.port.to_string()),
            v.value(&self.keepalive.to_string())
        );
    }

    fn profiles_and_roles(&self, v: &mut Slots, out: &mut String) {
        out.push_str("profiles:\n");
        for (name, kernel, initrd, append) in &self.profiles {
            let _ = writeln!(out, "  {}:", v.value(name));
            let _ = writeln!(out, "    kernel: {}", v.value(kernel));
            if let Some(initrd) = initrd {
                let _ = writeln!(out, "    initrd: {}", v.value(initrd));
            }
            let _ = writeln!(out, "    append: {}", v.value(&format!("'{append}'")));
        }
        let name = |i: usize| self.profiles[i].0.as_str();
        let (normal, reimage, rescue, default) = self.roles;
        let _ = writeln!(out, "roles:\n  normal: {}", v.value(name(normal)));
        let _ = writeln!(out, "  reimage: {}", v.value(name(reimage)));
        if let Some(i) = rescue {
            let _ = writeln!(out, "  rescue: {}", v.value(name(i)));
        }
        if let Some(i) = default {
            let _ = writeln!(out, "  default: {}", v.value(name(i)));
        }
    }

    fn hosts(&self, v: &mut Slots, out: &mut String) {
        out.push_str("reservations:\n");
        for i in 0..self.reservations {
            let _ = writeln!(
                out,
                "  - {{name: {}, mac: {}}}",
                v.value(&format!("r{i}")),
                v.value(&format!("04:00:00:00:00:{i:02x}"))
            );
        }
        out.push_str("nodes:\n");
        for (i, (mac, ip, group, normal)) in self.nodes.iter().enumerate() {
            let _ = write!(
                out,
                "  - {{name: {}, mac: {}",
                v.value(&format!("n{i}")),
                v.value(&format!("02:00:00:00:{i:02x}:{mac:02x}"))
            );
            if *ip {
                let _ = write!(out, ", ip: {}", v.value(&format!("10.0.1.{}", i + 1)));
            }
            if let Some(group) = group {
                let _ = write!(out, ", groups: [{}]", v.value(group));
            }
            if let Some(p) = normal {
                let _ = write!(out, ", normal_profile: {}", v.value(&self.profiles[*p].0));
            }
            out.push_str("}\n");
        }
    }

    /// The description with its spoilt slots spread over all of its scalars.
    fn text(&self) -> String {
        let (_, slots) = self.yaml();
        let spread = Self {
            spoil: self
                .spoil
                .iter()
                .map(|(at, text, raw)| {
                    let at = usize::from(*at) * slots / (usize::from(u16::MAX) + 1);
                    (u16::try_from(at).expect("few slots"), text.clone(), *raw)
                })
                .collect(),
            ..self.clone()
        };
        spread.yaml().0
    }

    /// What the description says, when nothing in it was spoilt.
    fn intent(&self) -> Option<Intent> {
        if !self.spoil.is_empty() {
            return None;
        }
        let p = self.prefix;
        let link_dir = PathBuf::from(format!("{p}/srv/www/tftp/pxelinux.cfg"));
        let name = |i: usize| self.profiles[i].0.clone();
        Some(Intent {
            dnsmasq_conf: format!("{p}/etc/dnsmasq.conf").into(),
            nginx_conf: format!("{p}/etc/nginx/nginx.conf").into(),
            hostsfile: self
                .hostsfile
                .then(|| format!("{p}/var/lib/pxectl/dhcp-hosts").into()),
            link_dir,
            profiles: self.profiles.iter().map(|p| p.0.clone()).collect(),
            default: self.roles.3.map(name),
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, (mac, _, _, normal))| {
                    (
                        format!("01-02-00-00-00-{i:02x}-{mac:02x}"),
                        name(normal.unwrap_or(self.roles.0)),
                    )
                })
                .collect(),
        })
    }
}

/// Arbitrary text for a spoilt scalar: anything, fragments of YAML and template syntax, or
/// plausible words (which some scalars accept, so that spoilt descriptions reach the plan too).
fn spoiler() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,16}",
        prop::collection::vec(prop::sample::select(FRAGMENTS), 1..5).prop_map(|v| v.concat()),
        prop::collection::vec(prop::sample::select(APPEND_WORDS), 1..4).prop_map(|v| v.join(" ")),
        "[a-z][a-z0-9]{0,8}",
    ]
}

fn generated() -> impl Strategy<Value = Generated> {
    let profile = (
        "[a-z][a-z0-9-]{0,7}",
        "/[a-z]{1,8}",
        prop::option::of("/[a-z]{1,8}\\.img"),
        prop::collection::vec(prop::sample::select(APPEND_WORDS), 0..5).prop_map(|w| w.join(" ")),
    );
    let profiles = prop::collection::vec(profile, 1..5).prop_map(|mut v| {
        let mut seen = BTreeSet::new();
        v.retain(|p| p.0 != "default" && seen.insert(p.0.clone()));
        v
    });
    let node = (
        any::<u8>(),
        any::<bool>(),
        prop::option::of(prop::sample::select(&["rack1", "rack2"][..])),
        prop::option::of(0..8usize),
    );
    let spoil = prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::collection::vec((any::<u16>(), spoiler(), any::<bool>()), 1..4),
    ];
    (
        (
            prop::sample::select(&["", "/opt/pxe", "/srv2/x_y.z"][..]),
            prop::sample::select(&["eth0", "eno1", "br0.10"][..]),
            "[a-z]{1,8}\\.example",
            any::<bool>(),
            prop::sample::select(&["1h", "12h", "infinite", "5m", "3600"][..]),
            any::<bool>(),
            1..=u16::MAX,
            any::<u8>(),
        ),
        profiles,
        (
            0..8usize,
            0..8usize,
            prop::option::of(0..8usize),
            prop::option::of(0..8usize),
        ),
        prop::collection::vec(node, 0..10),
        0..3usize,
        spoil,
    )
        .prop_map(
            |(
                (prefix, interface, domain, range, lease_time, hostsfile, port, keepalive),
                profiles,
                roles,
                nodes,
                reservations,
                spoil,
            )| {
                let n = profiles.len();
                Generated {
                    prefix,
                    interface,
                    domain,
                    range,
                    lease_time,
                    hostsfile,
                    port,
                    keepalive,
                    roles: (
                        roles.0 % n,
                        roles.1 % n,
                        roles.2.map(|i| i % n),
                        roles.3.map(|i| i % n),
                    ),
                    nodes: nodes
                        .into_iter()
                        .map(|(mac, ip, group, normal)| (mac, ip, group, normal.map(|i| i % n)))
                        .collect(),
                    profiles,
                    reservations,
                    spoil,
                }
            },
        )
}

/// Applies `edits` (position, fragment index, kind) to `base`.
fn mutate(base: &str, edits: &[(usize, usize, u8)]) -> String {
    let mut text = base.to_string();
    for &(pos, frag, kind) in edits {
        let mut at = pos % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let fragment = FRAGMENTS[frag % FRAGMENTS.len()];
        match kind % 4 {
            0 => text.insert_str(at, fragment),
            1 => {
                let mut end = (at + 1 + frag % 8).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, fragment);
            }
            2 => {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = at % lines.len();
                    let mut v = lines.clone();
                    v.insert(i, lines[frag % lines.len()]);
                    text = v.join("\n");
                }
            }
            _ => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    lines.remove(at % lines.len());
                    text = lines.join("\n");
                }
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Exercises the reader on text that is almost never a description.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_and_render(&text, None);
    }

    /// Reaches plan building for a good share of inputs (see
    /// `a_good_share_of_generated_descriptions_reach_plan_building`).
    #[test]
    fn generated_descriptions_render_what_they_describe(generated in generated()) {
        let intent = generated.intent();
        load_and_render(&generated.text(), intent.as_ref());
    }

    #[test]
    fn mutated_example_never_panics(edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6)) {
        load_and_render(&mutate(EXAMPLE, &edits), None);
    }

    #[test]
    fn mutated_small_description_never_panics(edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6)) {
        load_and_render(&mutate(SMALL, &edits), None);
    }
}

/// The generator cannot silently drift into producing only refused descriptions: at least a
/// quarter of its output, spoilt ones included, reaches plan building.
#[test]
fn a_good_share_of_generated_descriptions_reach_plan_building() {
    use proptest::strategy::ValueTree as _;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = generated();
    let (mut reached, mut unspoilt, mut spoilt_reached) = (0, 0, 0);
    let total = 400;
    for _ in 0..total {
        let generated = strategy.new_tree(&mut runner).expect("a value").current();
        let intent = generated.intent();
        let ok = load_and_render(&generated.text(), intent.as_ref());
        reached += usize::from(ok);
        unspoilt += usize::from(intent.is_some());
        spoilt_reached += usize::from(ok && intent.is_none());
    }
    assert!(
        reached * 4 >= total,
        "only {reached} of {total} generated descriptions reached plan building"
    );
    assert!(
        spoilt_reached > 0 && unspoilt < total,
        "no spoilt description reached plan building ({spoilt_reached}, {unspoilt} unspoilt)"
    );
}

#[test]
fn the_unmutated_inputs_are_what_the_fuzzer_thinks() {
    assert!(pxectl::description::parse(EXAMPLE, Path::new(".")).is_ok());
    assert!(pxectl::description::parse(SMALL, Path::new(".")).is_err());
}
