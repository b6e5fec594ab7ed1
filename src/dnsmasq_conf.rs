//! dnsmasq.conf (and its hosts file) as directives, compared the way dnsmasq reads them:
//! comments, blank lines, spacing and the order of independent lines aside. `import` proves
//! its round trip with it; `render` and `status` take a file that means what the description
//! says as up to date, whatever its comments.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};

use crate::mac::MacAddr;

/// Options whose lines only add to a set (tags matched, interfaces listened on): their order
/// means nothing. Every other option's lines keep their order among themselves, as when a
/// later line overrides an earlier one (`dhcp-option`, untagged `dhcp-boot`), the last
/// matching one wins (tagged `dhcp-boot`), `tag-if` sees the tags set before it, `pxe-service`
/// lines make a menu, or `strict-order` asks `server` lines in turn.
const UNORDERED: [&str; 10] = [
    "dhcp-match",
    "dhcp-userclass",
    "dhcp-vendorclass",
    "dhcp-mac",
    "dhcp-circuitid",
    "dhcp-remoteid",
    "dhcp-subscrid",
    "interface",
    "listen-address",
    "except-interface",
];

/// One directive: `option` or `option=value`, at its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub line: usize,
    pub option: String,
    pub value: Option<String>,
}

impl Directive {
    /// As a dnsmasq.conf line, spacing normalised.
    pub fn text(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.option),
            None => self.option.clone(),
        }
    }
}

/// The directives of `text` (the file at `shown`), in order. An include (`conf-file`,
/// `conf-dir`, `conf-script`) is refused: what it pulls in would escape the round trip.
pub fn parse(text: &str, shown: &str) -> Result<Vec<Directive>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (option, value) = match line.split_once('=') {
            Some((o, v)) => (o.trim(), Some(v.trim().to_string())),
            None => (line, None),
        };
        if matches!(option, "conf-file" | "conf-dir" | "conf-script") {
            bail!(
                "{shown}:{}: `{option}` includes more configuration, which import does not follow; copy the included directives into `{shown}` and import again",
                i + 1
            );
        }
        out.push(Directive::new(i + 1, option, value));
    }
    Ok(out)
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
}

/// `line` without its comment: dnsmasq reads `#` as a comment at the start of a line or after
/// whitespace, outside double quotes. A backslash escapes the next character (a quote in
/// quotes): reading too much as value only ever makes two lines differ.
pub fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev_space = true;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Whether dnsmasq reads `found` as it reads `planned`. A file with an include, or that is
/// not text, never does.
pub fn same_meaning(found: &[u8], planned: &str) -> bool {
    let parsed = |text: &str| parse(text, "");
    match (std::str::from_utf8(found).map(parsed), parsed(planned)) {
        (Ok(Ok(found)), Ok(planned)) => differences(&found, &planned, "").is_empty(),
        _ => false,
    }
}

/// The lines of a `dhcp-hostsfile` as the `dhcp-host` directives dnsmasq reads them as.
pub fn hosts(text: &str) -> Vec<Directive> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = strip_comment(line).trim();
            (!line.is_empty()).then(|| Directive::new(i + 1, "dhcp-host", Some(line.to_string())))
        })
        .collect()
}

/// Whether dnsmasq reads the hosts file `found` as it reads `planned`.
pub fn same_hosts(found: &[u8], planned: &str) -> bool {
    std::str::from_utf8(found)
        .is_ok_and(|found| differences(&hosts(found), &hosts(planned), "").is_empty())
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
    let ordered = |ds: &[Directive]| {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in ds {
            if let Some(key) = order_key(d) {
                by_key.entry(key).or_default().push(d.text());
            }
        }
        by_key
    };
    let rendered = ordered(rendered);
    for (key, lines) in ordered(source) {
        if rendered.get(&key) != Some(&lines) {
            out.push(format!(
                "{shown}: the {key} lines would be rendered in another order ({}), which changes what dnsmasq does",
                rendered.get(&key).map(|r| r.join(", ")).unwrap_or_default()
            ));
        }
    }
    out
}

/// The lines `d` keeps its order among, named for messages; none when its order means nothing.
/// Tagged `dhcp-boot` lines beat untagged ones wherever they are; a `dhcp-host` line only
/// competes with the others for its MAC address.
fn order_key(d: &Directive) -> Option<String> {
    let value = d.value.as_deref().unwrap_or_default();
    match d.option.as_str() {
        o if UNORDERED.contains(&o) => None,
        "dhcp-boot" if value.starts_with("tag:") => Some("tagged `dhcp-boot`".into()),
        "dhcp-boot" => Some("untagged `dhcp-boot`".into()),
        "dhcp-host" => {
            let mac = value.split(',').find_map(|f| f.parse::<MacAddr>().ok());
            mac.map(|m| format!("`dhcp-host` for `{}`", m.colon()))
        }
        o => Some(format!("`{o}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<Directive> {
        parse(text, "dnsmasq.conf").unwrap()
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
    fn a_file_means_the_same_when_dnsmasq_reads_the_same_directives() {
        let planned = "interface=eno1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\n\
                       server=1.1.1.1\nserver=9.9.9.9\n";
        let same = "server=1.1.1.1\n# notes\r\ndhcp-boot = x   # BIOS\r\n\r\n interface=eno1\r\n\
                    server=9.9.9.9\ndhcp-boot=tag:efi,y";
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

    #[test]
    fn independent_lines_may_move_but_competing_ones_may_not() {
        let source = parsed(
            "a=1\nb\ndhcp-boot=x\ndhcp-boot=tag:efi,y\ndhcp-boot=tag:efi,tag:sb,z\n\
             dhcp-match=set:efi,option:client-arch,7\ndhcp-match=set:sb,option:client-arch,9\n\
             dhcp-host=52:54:00:00:00:01,10.0.0.1,n1\ndhcp-host=52:54:00:00:00:02,n2\n\
             dhcp-host=52:54:00:00:00:01,set:foo\n\
             dhcp-option=option:router,10.0.0.1\ndhcp-option=option:router,10.0.0.254\n",
        );
        let moved = |from: &str, to: &str| {
            let text: Vec<String> = source.iter().map(Directive::text).collect();
            differences(&source, &parsed(&text.join("\n").replace(from, to)), "f")
        };
        // Tags are a set; hosts of other MACs are independent; an untagged `dhcp-boot` loses
        // to any tagged one wherever it is.
        for (from, to) in [
            ("a=1\nb", "b\na=1"),
            (
                "dhcp-match=set:efi,option:client-arch,7\ndhcp-match=set:sb,option:client-arch,9",
                "dhcp-match=set:sb,option:client-arch,9\ndhcp-match=set:efi,option:client-arch,7",
            ),
            (
                "dhcp-host=52:54:00:00:00:01,10.0.0.1,n1\ndhcp-host=52:54:00:00:00:02,n2",
                "dhcp-host=52:54:00:00:00:02,n2\ndhcp-host=52:54:00:00:00:01,10.0.0.1,n1",
            ),
            (
                "dhcp-boot=x\ndhcp-boot=tag:efi,y",
                "dhcp-boot=tag:efi,y\ndhcp-boot=x",
            ),
        ] {
            assert_eq!(moved(from, to), Vec::<String>::new(), "{to}");
        }
        // The last matching tagged `dhcp-boot` wins; a later `dhcp-option` or `dhcp-host`
        // line for the same option or MAC overrides an earlier one.
        assert_eq!(
            moved("dhcp-boot=tag:efi,y\ndhcp-boot=tag:efi,tag:sb,z", "dhcp-boot=tag:efi,tag:sb,z\ndhcp-boot=tag:efi,y"),
            ["f: the tagged `dhcp-boot` lines would be rendered in another order (dhcp-boot=tag:efi,tag:sb,z, dhcp-boot=tag:efi,y), which changes what dnsmasq does"]
        );
        assert_eq!(
            moved("10.0.0.1\ndhcp-option=option:router,10.0.0.254", "10.0.0.254\ndhcp-option=option:router,10.0.0.1"),
            ["f: the `dhcp-option` lines would be rendered in another order (dhcp-option=option:router,10.0.0.254, dhcp-option=option:router,10.0.0.1), which changes what dnsmasq does"]
        );
        let mut swapped: Vec<String> = source.iter().map(Directive::text).collect();
        swapped.swap(7, 9);
        assert_eq!(
            differences(&source, &parsed(&swapped.join("\n")), "f"),
            ["f: the `dhcp-host` for `52:54:00:00:00:01` lines would be rendered in another order (dhcp-host=52:54:00:00:00:01,set:foo, dhcp-host=52:54:00:00:00:01,10.0.0.1,n1), which changes what dnsmasq does"]
        );
        assert_eq!(
            moved("b\n", "c\n"),
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
        assert!(!same_hosts(b"52:54:00:00:00:01,10.0.0.1,n1\n", planned));
        let overridden = format!("{planned}52:54:00:00:00:01,10.0.0.9,n1\n");
        let reordered = format!("52:54:00:00:00:01,10.0.0.9,n1\n{planned}");
        assert!(!same_hosts(reordered.as_bytes(), &overridden));
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

    #[test]
    fn an_escaped_quote_keeps_the_rest_of_the_value_out_of_a_comment() {
        assert_eq!(
            strip_comment(r#"dhcp-option=option:domain-search,"a\" #b""#),
            r#"dhcp-option=option:domain-search,"a\" #b""#
        );
        assert_eq!(
            strip_comment("interface=eno1 # the cluster"),
            "interface=eno1 "
        );
    }
}
