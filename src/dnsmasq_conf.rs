//! dnsmasq.conf (and its hosts file) as directives, compared the way dnsmasq reads them:
//! comments, blank lines, spacing and the order of independent lines aside. `import` proves
//! its round trip with it; `render` and `status` take a file that means what the description
//! says as up to date, whatever its comments. When in doubt two files differ: a file taken
//! for up to date that is not would hide drift, one rewritten for nothing costs a reload.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{bail, Result};

use crate::mac::MacAddr;

/// dnsmasq reads a line in pieces of about 1 kB (`fgets` into a buffer of 1,025 bytes): the
/// rest of a longer line is read as a line of its own. Longer lines are refused.
pub const MAX_LINE: usize = 1000;

/// Options whose lines only add to a set (tags matched, interfaces listened on): their order
/// means nothing.
const SETS: [&str; 4] = [
    "interface",
    "dhcp-match",
    "dhcp-userclass",
    "dhcp-vendorclass",
];

/// One directive: `option` or `option=value`, at its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub line: usize,
    pub option: String,
    pub value: Option<String>,
}

impl Directive {
    /// A directive as dnsmasq reads it: a `dhcp-host`'s MAC addresses in lower case (dnsmasq
    /// reads them as numbers).
    fn new(line: usize, option: &str, value: Option<String>) -> Self {
        let value = match value {
            Some(v) if option == "dhcp-host" && v.bytes().any(|b| b.is_ascii_uppercase()) => {
                let fields: Vec<String> = v
                    .split(',')
                    .map(|f| match f.parse::<MacAddr>() {
                        Ok(_) if f.len() == 17 && f.contains(':') => f.to_ascii_lowercase(),
                        _ => f.to_string(),
                    })
                    .collect();
                Some(fields.join(","))
            }
            other => other,
        };
        Self {
            line,
            option: option.to_string(),
            value,
        }
    }

    /// As a dnsmasq.conf line, spacing normalised.
    pub fn text(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.option),
            None => self.option.clone(),
        }
    }
}

/// The directives of `text` (the file at `shown`), in order. An include (`conf-file`,
/// `conf-dir`, `conf-script`) is refused: what it pulls in would escape the round trip; so is
/// a line dnsmasq would not read as written (too long, an unclosed quote).
pub fn parse(text: &str, shown: &str) -> Result<Vec<Directive>> {
    let mut out = Vec::new();
    for (n, line) in read_lines(text, shown)? {
        let (option, value) = match line.split_once('=') {
            Some((o, v)) => (
                o.trim_matches(is_space),
                Some(v.trim_matches(is_space).to_string()),
            ),
            None => (line, None),
        };
        if matches!(option, "conf-file" | "conf-dir" | "conf-script") {
            bail!(
                "{shown}:{n}: `{option}` includes more configuration, which import does not follow; copy the included directives into `{shown}` and import again"
            );
        }
        out.push(Directive::new(n, option, value));
    }
    Ok(out)
}

/// The lines of a `dhcp-hostsfile` (the file at `shown`) as the `dhcp-host` directives
/// dnsmasq reads them as.
pub fn hosts(text: &str, shown: &str) -> Result<Vec<Directive>> {
    Ok(read_lines(text, shown)?
        .into_iter()
        .map(|(n, line)| Directive::new(n, "dhcp-host", Some(line.to_string())))
        .collect())
}

/// The lines of `text` that are not blank or comments, as dnsmasq reads them, with their
/// numbers.
fn read_lines<'a>(text: &'a str, shown: &str) -> Result<Vec<(usize, &'a str)>> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        match read_line(raw) {
            Ok("") => {}
            Ok(line) => out.push((i + 1, line)),
            Err(why) => bail!(
                "{shown}:{}: the line {why}; rewrite it and try again",
                i + 1
            ),
        }
    }
    Ok(out)
}

/// White space as dnsmasq reads it (C's `isspace`): ASCII only.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `raw` as dnsmasq reads it: without its comment and the white space around it. Quotes are
/// kept as written. A `#` starts a comment at the start of the line or after white space
/// outside quotes (a quoted part leaves that state as it found it); in quotes a backslash
/// escapes `"`, `\\`, `t`, `n`, `e`, `b` and `r`.
pub fn read_line(raw: &str) -> std::result::Result<&str, &'static str> {
    if raw.len() >= MAX_LINE {
        return Err("is longer than dnsmasq reads at once (1,000 bytes or more)");
    }
    let bytes = raw.as_bytes();
    let mut white = true;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("has a `\"` that is not closed"),
                        Some(b'"') => break,
                        Some(b'\\')
                            if matches!(
                                bytes.get(i + 1),
                                Some(b'"' | b'\\' | b't' | b'n' | b'e' | b'b' | b'r')
                            ) =>
                        {
                            i += 2;
                        }
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                // dnsmasq reads the byte after a closing quote as plain text, even a quote.
                if bytes.get(i) == Some(&b'"') {
                    return Err("has a quote right after a closing quote");
                }
                continue;
            }
            b'#' if white => return Ok(raw[..i].trim_matches(is_space)),
            c => white = is_space(char::from(c)),
        }
        i += 1;
    }
    Ok(raw.trim_matches(is_space))
}

/// Whether dnsmasq reads `found` as it reads `planned`. A file with an include, a line
/// dnsmasq would not read as written, or that is not text, never does.
pub fn same_meaning(found: &[u8], planned: &str) -> bool {
    let found = std::str::from_utf8(found).map(|f| parse(f, ""));
    match (found, parse(planned, "")) {
        (Ok(Ok(found)), Ok(planned)) => differences(&found, &planned, "").is_empty(),
        _ => false,
    }
}

/// Whether dnsmasq reads the hosts file `found` as it reads `planned`.
pub fn same_hosts(found: &[u8], planned: &str) -> bool {
    let found = std::str::from_utf8(found).map(|f| hosts(f, ""));
    match (found, hosts(planned, "")) {
        (Ok(Ok(found)), Ok(planned)) => differences(&found, &planned, "").is_empty(),
        _ => false,
    }
}

/// How `rendered` differs from `source` as dnsmasq reads them: directives only in one, and
/// lines whose order means something in another order. Empty when they mean the same.
pub fn differences(source: &[Directive], rendered: &[Directive], shown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut left: HashMap<String, usize> = HashMap::new();
    for d in rendered {
        *left.entry(d.text()).or_default() += 1;
    }
    for d in source {
        match left.get_mut(&d.text()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(format!(
                "{shown}:{}: `{}` would not be rendered",
                d.line,
                d.text()
            )),
        }
    }
    for d in rendered {
        if let Some(n) = left.get_mut(&d.text()).filter(|n| **n > 0) {
            *n -= 1;
            out.push(format!(
                "{shown}: `{}` would be rendered, but the file does not have it",
                d.text()
            ));
        }
    }
    if !out.is_empty() {
        return out;
    }
    // The same lines in both: whether all reservations are simple is the same for both.
    let simple = source
        .iter()
        .filter(|d| d.option == "dhcp-host")
        .all(|d| simple_host(d.value.as_deref().unwrap_or_default()).is_some());
    // dnsmasq takes quotes out before it reads tags and fields: a quoted line may be read as
    // something its text does not show, so the lines of its option all stay in place.
    let quoted: BTreeSet<&str> = source
        .iter()
        .filter(|d| d.value.as_deref().is_some_and(|v| v.contains('"')))
        .map(|d| d.option.as_str())
        .collect();
    let ordered = |ds: &[Directive]| {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in ds {
            if let Some(key) = order_key(d, simple, &quoted) {
                by_key.entry(key).or_default().push(d.text());
            }
        }
        by_key
    };
    let rendered = ordered(rendered);
    for (key, lines) in ordered(source) {
        let theirs = rendered.get(&key).map(|r| r.join(", ")).unwrap_or_default();
        if rendered.get(&key) != Some(&lines) {
            out.push(if key == "other" {
                format!(
                    "{shown}: the lines pxectl does not write itself would be rendered in another order ({theirs}); dnsmasq may read them otherwise: put them in this order"
                )
            } else {
                format!(
                    "{shown}: the {key} lines would be rendered in another order ({theirs}), which changes what dnsmasq does"
                )
            });
        }
    }
    out
}

/// The group of lines `d` keeps its order in, named for messages; none when its order means
/// nothing. The options pxectl writes itself, which have no alias and share no list with
/// another option, each have a group of their own and so may move against other lines; a
/// tagged `dhcp-boot` line (`tag:` or `net:`) beats an untagged one wherever it is, so the
/// two kinds are apart. Every other option is in one group, `other`, whatever its name (and
/// so are the options of `quoted`, which have a line with a quote):
/// `dhcp-option` and `dhcp-option-force` share a list, as do `server` and `local`, and
/// `domain` and `domain-suffix` are one option.
fn order_key(d: &Directive, simple_hosts: bool, quoted: &BTreeSet<&str>) -> Option<String> {
    let option = d.option.as_str();
    if SETS.contains(&option) {
        return None;
    }
    let value = d.value.as_deref().unwrap_or_default();
    if quoted.contains(option) {
        return Some("other".into());
    }
    Some(match option {
        "dhcp-boot" if tagged(value) => "tagged `dhcp-boot`".into(),
        "dhcp-boot" => "untagged `dhcp-boot`".into(),
        "dhcp-host" => match simple_host(value).filter(|_| simple_hosts) {
            Some(mac) => format!("`dhcp-host` for `{}`", mac.colon()),
            None => "`dhcp-host`".into(),
        },
        "enable-tftp" | "tftp-root" | "read-ethers" | "dhcp-range" | "dhcp-hostsfile" => {
            format!("`{option}`")
        }
        _ => "other".into(),
    })
}

/// Whether a value starts with a tag test (`tag:` or its old name `net:`).
pub fn tagged(value: &str) -> bool {
    value.starts_with("tag:") || value.starts_with("net:")
}

/// The MAC address of a reservation in the form pxectl writes, `MAC[,set:TAG][,IP],NAME`:
/// one plain MAC address, then no field that names a machine another way (another MAC, a
/// client id, a wildcard, a tag test) or ignores it. Such lines only compete with lines for
/// the same MAC; when every `dhcp-host` line is one, lines of different MACs may move.
fn simple_host(value: &str) -> Option<MacAddr> {
    let mut fields = value.split(',');
    let first = fields.next()?;
    // dnsmasq reads a field as a hardware address only with colons (`52-54-...` is a name).
    let colons = first.len() == 17 && first.as_bytes().get(2) == Some(&b':');
    let mac = first.parse::<MacAddr>().ok().filter(|_| colons)?;
    fields
        .all(|f| f.starts_with("set:") || !(f.contains([':', '*']) || f == "ignore"))
        .then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<Directive> {
        parse(text, "dnsmasq.conf").unwrap()
    }

    fn texts(text: &str) -> Vec<String> {
        parsed(text).iter().map(Directive::text).collect()
    }

    #[test]
    fn comments_blank_lines_and_spacing_are_not_directives() {
        let d = parsed("# a comment\n\n  interface = eno1  # the cluster\nenable-tftp\ndhcp-option=option:domain-search,\"a#b\"\n");
        let texts: Vec<String> = d.iter().map(Directive::text).collect();
        assert_eq!(
            texts,
            [
                "interface=eno1",
                "enable-tftp",
                "dhcp-option=option:domain-search,\"a#b\""
            ]
        );
        assert_eq!(d[0].line, 3);
    }

    #[test]
    fn a_line_is_read_as_dnsmasq_reads_it() {
        // In quotes a backslash escapes a quote; outside it is text, and a quote opens.
        assert_eq!(
            texts("dhcp-option=option:domain-search,\"a\\\" #b\"\ntxt-record=x,rack\\\" # 4\"\n"),
            [
                "dhcp-option=option:domain-search,\"a\\\" #b\"",
                "txt-record=x,rack\\\" # 4\""
            ]
        );
        // A quoted part leaves the state before it: after `= ` a `#` behind quotes is a
        // comment, after `=` it is not.
        assert_eq!(
            texts("domain= \"aaa.example\"#.bbb\ndomain=\"aaa.example\"#.bbb\n"),
            ["domain=\"aaa.example\"", "domain=\"aaa.example\"#.bbb"]
        );
        // White space is ASCII only: a no-break space is text.
        assert_eq!(
            texts("interface=eno1\u{a0}# lab\n"),
            ["interface=eno1\u{a0}# lab"]
        );
        // dnsmasq would read the rest of a long line, or an unclosed quote, otherwise.
        let long = format!("enable-tftp # {}dhcp-boot=/evil.0\n", "x".repeat(MAX_LINE));
        for bad in [long.as_str(), "domain=\"aaa\n", "domain=\"a\"\"b\"\n"] {
            assert!(parse(bad, "f").is_err(), "{bad}");
            assert!(!same_meaning(bad.as_bytes(), "enable-tftp\n"), "{bad}");
        }
    }

    #[test]
    fn a_file_means_the_same_when_dnsmasq_reads_the_same_directives() {
        let planned = "interface=eno1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\n\
                       server=1.1.1.1\nserver=9.9.9.9\n";
        let same = "# notes\r\ndhcp-boot = x   # BIOS\r\n\r\n server=1.1.1.1\r\n\
                    interface=eno1\nserver=9.9.9.9\ndhcp-boot=tag:efi,y";
        assert!(same_meaning(same.as_bytes(), planned));
        for other in [
            "interface=eno1\ndhcp-boot=x\n",
            "interface=eno1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\nlog-dhcp\n",
            "interface=eno1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\nconf-dir=/etc/dnsmasq.d\n",
            "server=9.9.9.9\ninterface=eno1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\nserver=1.1.1.1\n",
        ] {
            assert!(!same_meaning(other.as_bytes(), planned), "{other}");
        }
        assert!(!same_meaning(b"interface=eno1\xff\n", "interface=eno1\n"));
    }

    #[test]
    fn includes_are_refused_at_their_line() {
        let e = parse("interface=eno1\nconf-dir=/etc/dnsmasq.d\n", "dnsmasq.conf").unwrap_err();
        assert_eq!(e.to_string(), "dnsmasq.conf:2: `conf-dir` includes more configuration, which import does not follow; copy the included directives into `dnsmasq.conf` and import again");
    }

    /// Whether `a` and `b`, two orders of the same lines, mean the same.
    fn same_order(a: &[&str], b: &[&str]) -> bool {
        differences(&parsed(&a.join("\n")), &parsed(&b.join("\n")), "f").is_empty()
    }

    #[test]
    fn only_lines_pxectl_writes_may_move_and_only_where_order_means_nothing() {
        let free: [[&str; 2]; 7] = [
            // Reservations of other machines, all in pxectl's form.
            [
                "dhcp-host=52:54:00:00:00:01,10.0.0.1,n1",
                "dhcp-host=52:54:00:00:00:02,set:x,n2",
            ],
            // Tags are a set, and so are interfaces.
            [
                "dhcp-match=set:efi,option:client-arch,7",
                "dhcp-userclass=set:ipxe,iPXE",
            ],
            ["interface=eno1", "interface=eno2"],
            // A tagged `dhcp-boot` beats an untagged one wherever it is.
            ["dhcp-boot=x", "dhcp-boot=tag:efi,y"],
            // Lines pxectl writes against the others.
            ["dhcp-host=52:54:00:00:00:01,n1", "log-dhcp"],
            [
                "dhcp-range=10.0.0.10,10.0.0.99,1h",
                "dhcp-option=option:router,10.0.0.1",
            ],
            ["enable-tftp", "dhcp-boot=x"],
        ];
        for [a, b] in free {
            assert!(same_order(&[a, b], &[b, a]), "{a} / {b}");
        }
        let bound: [[&str; 2]; 12] = [
            // A MAC written with dashes is a host name to dnsmasq; a quoted tag is a tag.
            [
                "dhcp-host=52:54:00:00:00:01,10.0.0.1,web1",
                "dhcp-host=52-54-00-00-00-20,10.0.0.60,web1",
            ],
            [
                "dhcp-boot=tag:efi,/grubx64.efi",
                "dhcp-boot=\"\"tag:efi,/other.efi",
            ],
            // A later `dhcp-host` for the same machine wins; which machine a line names is
            // not always its first field.
            [
                "dhcp-host=52:54:00:00:00:01,10.0.0.1,n1",
                "dhcp-host=52:54:00:00:00:01,set:x",
            ],
            [
                "dhcp-host=52:54:00:00:00:01,n1",
                "dhcp-host=52:54:00:00:00:02,52:54:00:00:00:01,n9",
            ],
            ["dhcp-host=n1,10.0.0.1", "dhcp-host=52:54:00:00:00:02,n2"],
            // The last matching tagged `dhcp-boot` wins; `net:` is `tag:`.
            ["dhcp-boot=tag:efi,y", "dhcp-boot=net:efi,z"],
            // Options that share a list, or are one option by two names.
            ["dhcp-option=3,10.0.0.1", "dhcp-option-force=3,10.0.0.2"],
            ["domain=a.example", "domain-suffix=b.example"],
            ["server=/x/10.0.0.1", "local=/x/10.0.0.2"],
            ["server=10.0.0.1", "rev-server=10.0.0.0/8,10.0.0.2"],
            ["tag-if=set:a,tag:b", "tag-if=set:b,tag:c"],
            ["pxe-service=x86PC,one", "pxe-service=x86PC,two"],
        ];
        for [a, b] in bound {
            assert!(!same_order(&[a, b], &[b, a]), "{a} / {b}");
        }
        assert_eq!(
            differences(
                &parsed("dhcp-option=3,10.0.0.1\ndhcp-option-force=3,10.0.0.2\n"),
                &parsed("dhcp-option-force=3,10.0.0.2\ndhcp-option=3,10.0.0.1\n"),
                "f"
            ),
            ["f: the lines pxectl does not write itself would be rendered in another order (dhcp-option-force=3,10.0.0.2, dhcp-option=3,10.0.0.1); dnsmasq may read them otherwise: put them in this order"]
        );
        assert_eq!(
            differences(&parsed("a=1\nb\n"), &parsed("a=1\nc\n"), "f"),
            [
                "f:2: `b` would not be rendered",
                "f: `c` would be rendered, but the file does not have it"
            ]
        );
    }

    #[test]
    fn a_hosts_file_means_its_reservations() {
        let planned = "52:54:00:00:00:01,10.0.0.1,n1\n52:54:00:00:00:02,n2\n";
        let same = "# rack 1\n52:54:00:00:00:02,n2   # spare\n\n52:54:00:00:00:01,10.0.0.1,n1\n";
        assert!(same_hosts(same.as_bytes(), planned));
        for other in [
            "52:54:00:00:00:01,10.0.0.1,n1\n",
            "52:54:00:00:00:02,n2\n52:54:00:00:00:01,10.0.0.1,n1\nn1,10.0.0.9\n",
        ] {
            assert!(!same_hosts(other.as_bytes(), planned), "{other}");
        }
    }

    #[test]
    fn a_mac_address_is_a_number_whatever_its_case() {
        assert!(same_meaning(
            b"dhcp-host=52:54:00:AA:0B:01,set:X,10.0.0.1,N1\n",
            "dhcp-host=52:54:00:aa:0b:01,set:X,10.0.0.1,N1\n"
        ));
        assert!(!same_meaning(
            b"dhcp-host=52:54:00:aa:0b:01,set:X,10.0.0.1,n1\n",
            "dhcp-host=52:54:00:aa:0b:01,set:X,10.0.0.1,N1\n"
        ));
        assert!(same_hosts(
            b"52:54:00:AA:0B:01,n1\n",
            "52:54:00:aa:0b:01,n1\n"
        ));
    }
}
