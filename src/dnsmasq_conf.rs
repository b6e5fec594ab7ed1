//! dnsmasq.conf (and its hosts file) as directives, compared the way dnsmasq reads them:
//! comments, blank lines, spacing and the order of independent lines aside. `import` proves
//! its round trip with it; `render` and `status` take a file that means what the description
//! says as up to date, whatever its comments.

use anyhow::{bail, Result};

/// Options whose lines dnsmasq reads in order: their relative order is part of the meaning
/// (the last matching tagged `dhcp-boot` wins; `tag-if` sees the tags set by those before it;
/// `pxe-service` lines make the menu in order; with `strict-order` the upstream DNS servers
/// are asked in the order of the `server`, `local` and `rev-server` lines).
const ORDERED: [&str; 6] = [
    "dhcp-boot",
    "tag-if",
    "pxe-service",
    "server",
    "local",
    "rev-server",
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
        out.push(Directive {
            line: i + 1,
            option: option.to_string(),
            value,
        });
    }
    Ok(out)
}

/// `line` without its comment: dnsmasq reads `#` as a comment at the start of a line or after
/// whitespace, outside double quotes.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
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

/// How `rendered` differs from `source` as dnsmasq reads them: directives only in one, and
/// ordered options whose order differs. Empty when they mean the same.
pub fn differences(source: &[Directive], rendered: &[Directive], shown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut left: Vec<Option<String>> = rendered.iter().map(|d| Some(d.text())).collect();
    for d in source {
        let text = d.text();
        match left.iter_mut().find(|l| l.as_deref() == Some(&text)) {
            Some(slot) => *slot = None,
            None => out.push(format!(
                "{shown}:{}: `{text}` would not be rendered",
                d.line
            )),
        }
    }
    for text in left.into_iter().flatten() {
        out.push(format!(
            "{shown}: `{text}` would be rendered, but the file does not have it"
        ));
    }
    if out.is_empty() {
        for option in ORDERED {
            let of = |ds: &[Directive]| -> Vec<String> {
                ds.iter()
                    .filter(|d| d.option == option)
                    .map(Directive::text)
                    .collect()
            };
            if of(source) != of(rendered) {
                out.push(format!(
                    "{shown}: the `{option}` lines would be rendered in another order ({}), which changes what dnsmasq does",
                    of(rendered).join(", ")
                ));
            }
        }
    }
    out
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
            "interface=eno1\ndhcp-boot=tag:efi,y\ndhcp-boot=x\n",
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
    fn independent_lines_may_move_but_ordered_ones_may_not() {
        let source = parsed("a=1\nb\ndhcp-boot=x\ndhcp-boot=tag:efi,y\n");
        assert!(differences(
            &source,
            &parsed("b\ndhcp-boot=x\na=1\ndhcp-boot=tag:efi,y\n"),
            "f"
        )
        .is_empty());
        assert_eq!(
            differences(&source, &parsed("a=1\nb\ndhcp-boot=tag:efi,y\ndhcp-boot=x\n"), "f"),
            ["f: the `dhcp-boot` lines would be rendered in another order (dhcp-boot=tag:efi,y, dhcp-boot=x), which changes what dnsmasq does"]
        );
        assert_eq!(
            differences(
                &source,
                &parsed("a=1\ndhcp-boot=x\ndhcp-boot=tag:efi,y\nc\n"),
                "f"
            ),
            [
                "f:2: `b` would not be rendered",
                "f: `c` would be rendered, but the file does not have it"
            ]
        );
    }
}
