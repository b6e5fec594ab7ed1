//! The man pages: pxectl(1) and one page a command from the clap definition, with pxectl's
//! EXIT STATUS, ENVIRONMENT and FILES sections, and pxectl-cluster(5) from docs/configuration.md.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};

use crate::exit_codes::ExitCode;

/// The page of the description format, made from this document.
const CONFIGURATION: &str = include_str!("../docs/configuration.md");

/// The name `pxectl man PAGE` takes for pxectl-cluster(5).
const CLUSTER: &str = "cluster";

/// Variables read that are no flag's `env`.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("NO_COLOR", "When set and not empty, no colour (unless `--color always`)."),
    ("PXECTL_TIMINGS", "When `1`, print on stderr how long each phase of a run took and the memory after it."),
    ("SUDO_USER", "Recorded in the journal as the user who switched, before the name of the user id pxectl runs as."),
    ("COMPLETE", "Set by the shell completion scripts: when it names a shell, pxectl prints completions instead of running."),
];

const FILES: &[(&str, &str)] = &[
    (crate::cli::DEFAULT_CONFIG, "The cluster description (pxectl-cluster(5)), unless `--config` or `PXECTL_CONFIG` names another."),
    ("/var/lib/pxectl/lock", "The lock of the commands that change the tree (the folder is `paths.state_dir`)."),
    ("/var/lib/pxectl/journal.jsonl", "The journal of switches that `pxectl log` prints."),
    ("/etc/dnsmasq.conf, /etc/nginx/nginx.conf, /srv/public/pxe", "What `render` writes, by default (`paths` in pxectl-cluster(5))."),
    ("/lib/systemd/system/pxectl-watch.service, pxectl-reset.service, pxectl-reset.timer", "The units of `pxectl watch` and of a `reset` every 15 minutes, shipped disabled."),
    ("/usr/share/doc/pxectl/", "The documentation and example descriptions."),
];

/// Every page's file name (`pxectl.1`, `pxectl-render.1`, ..., `pxectl-cluster.5`) and the
/// name `pxectl man` takes for it.
pub fn pages() -> Vec<(String, String)> {
    let mut pages = vec![("pxectl.1".to_string(), "pxectl".to_string())];
    pages.extend(commands().get_subcommands().map(|c| {
        (
            format!("pxectl-{}.1", c.get_name()),
            c.get_name().to_string(),
        )
    }));
    pages.push((format!("pxectl-{CLUSTER}.5"), CLUSTER.to_string()));
    pages
}

/// The definition pages are made from: built, so subcommands carry the global flags.
fn commands() -> clap::Command {
    let mut cmd = crate::cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Writes page `name` (`pxectl`, a command, or `cluster`); an unknown name is an error
/// listing the known ones.
pub fn write_page(name: &str, out: &mut dyn Write) -> Result<()> {
    if name == CLUSTER {
        return cluster_page(out);
    }
    let root = commands();
    let cmd = if name == "pxectl" {
        &root
    } else {
        root.find_subcommand(name).ok_or_else(|| {
            let known: Vec<String> = pages().into_iter().map(|(_, n)| format!("`{n}`")).collect();
            crate::exit_codes::UsageError(format!(
                "there is no man page `{name}`; the pages are {}",
                known.join(", ")
            ))
        })?
    };
    command_page(cmd, out)
}

/// Writes every page into `dir`, one file each.
pub fn write_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for (file, name) in pages() {
        let path = dir.join(file);
        let mut page = Vec::new();
        write_page(&name, &mut page)?;
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// `clap_mangen`'s page of `cmd` with EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO added
/// before its VERSION section.
fn command_page(cmd: &clap::Command, out: &mut dyn Write) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("pxectl {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    let page = String::from_utf8(page)?;

    let mut extra = Roff::new();
    extra.control("SH", ["EXIT STATUS"]);
    for code in ExitCode::ALL {
        extra
            .control("TP", [])
            .text([bold((code as u8).to_string())]);
        extra.text(inlines(code.meaning()));
    }
    extra.control("SH", ["ENVIRONMENT"]);
    let flags = cmd.get_arguments().filter_map(|a| {
        let var = a.get_env()?.to_string_lossy().into_owned();
        let long = a.get_long()?;
        Some((var, format!("The default of `--{long}`.")))
    });
    let others = ENVIRONMENT
        .iter()
        .map(|(v, m)| ((*v).to_string(), (*m).to_string()));
    for (var, meaning) in flags.chain(others) {
        extra.control("TP", []).text([bold(var)]);
        extra.text(inlines(&meaning));
    }
    extra.control("SH", ["FILES"]);
    for (file, meaning) in FILES {
        extra.control("TP", []).text([italic(*file)]);
        extra.text(inlines(meaning));
    }
    extra.control("SH", ["SEE ALSO"]);
    let mut see: Vec<String> = pages()
        .into_iter()
        .map(|(file, _)| file)
        .filter(|file| {
            !file.starts_with(&format!("{}.", cmd.get_display_name().unwrap_or("pxectl")))
        })
        .map(|file| match file.rsplit_once('.') {
            Some((name, section)) => format!("{name}({section})"),
            None => file,
        })
        .collect();
    see.extend(["dnsmasq(8)".into(), "nginx(8)".into()]);
    extra.text([roman(see.join(", "))]);
    let extra = extra.to_roff();

    let at = page.find(".SH VERSION").unwrap_or(page.len());
    out.write_all(&page.as_bytes()[..at])?;
    out.write_all(extra.as_bytes())?;
    out.write_all(&page.as_bytes()[at..])?;
    Ok(())
}

/// pxectl-cluster(5): docs/configuration.md as roff. Headings become sections, tables
/// one tagged paragraph a row, code blocks literal, `code` bold, links their text.
fn cluster_page(out: &mut dyn Write) -> Result<()> {
    let mut roff = Roff::new();
    let version = format!("pxectl {}", env!("CARGO_PKG_VERSION"));
    roff.control("TH", ["pxectl-cluster", "5", "", &version]);
    roff.control("SH", ["NAME"]);
    roff.text([roman(
        "pxectl-cluster - the cluster description pxectl reads (/etc/pxectl/cluster.yaml)",
    )]);
    roff.control("SH", ["DESCRIPTION"]);
    let mut paragraph: Vec<&str> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    let mut code = false;
    let flush = |roff: &mut Roff, paragraph: &mut Vec<&str>| {
        if !paragraph.is_empty() {
            roff.control("PP", []).text(inlines(&paragraph.join(" ")));
            paragraph.clear();
        }
    };
    for line in CONFIGURATION.lines() {
        if line.starts_with("```") {
            flush(&mut roff, &mut paragraph);
            roff.control(if code { "fi" } else { "nf" }, []);
            if code {
                roff.control("RE", []);
            } else {
                roff.control("RS", ["4"]);
            }
            code = !code;
            continue;
        }
        if code {
            roff.text([roman(line)]);
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            flush(&mut roff, &mut paragraph);
            roff.control("SH", [plain(title).to_uppercase().as_str()]);
        } else if let Some(title) = line.strip_prefix("### ") {
            flush(&mut roff, &mut paragraph);
            roff.control("SS", [plain(title).as_str()]);
        } else if line.starts_with("# ") {
            // The title: the NAME section says it.
        } else if let Some(row) = line.strip_prefix('|') {
            flush(&mut roff, &mut paragraph);
            let cells: Vec<&str> = row
                .trim_end_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                continue;
            }
            if header.is_empty() {
                header = cells.iter().map(|c| (*c).to_string()).collect();
                continue;
            }
            table_row(&mut roff, &header, &cells);
        } else if line.trim().is_empty() {
            flush(&mut roff, &mut paragraph);
            header.clear();
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut roff, &mut paragraph);
            roff.control("IP", ["\\(bu", "2"]);
            paragraph.push(item);
        } else {
            paragraph.push(line.trim());
        }
    }
    flush(&mut roff, &mut paragraph);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("pxectl(1), pxectl-validate(1), dnsmasq(8), nginx(8)")]);
    roff.to_writer(out)?;
    Ok(())
}

/// A table row as a tagged paragraph: the first cell as the tag, the middle cells named by
/// their column, the last cell as the text.
fn table_row(roff: &mut Roff, header: &[String], cells: &[&str]) {
    let Some((first, rest)) = cells.split_first() else {
        return;
    };
    roff.control("TP", []).text(inlines(first));
    if let Some((last, middle)) = rest.split_last() {
        let named: Vec<String> = middle
            .iter()
            .zip(header.iter().skip(1))
            .map(|(cell, column)| format!("{column}: {cell}"))
            .collect();
        if !named.is_empty() {
            roff.text(inlines(&format!("({}) ", named.join("; "))));
        }
        roff.text(inlines(last));
    }
}

/// Markdown inline text as roff: `code` in bold, `[text](link)` as its text, `**strong**` bold.
fn inlines(text: &str) -> Vec<Inline> {
    let text = unlink(text).replace("**", "");
    let mut out = Vec::new();
    for (i, piece) in text.split('`').enumerate() {
        if piece.is_empty() {
            continue;
        }
        out.push(if i % 2 == 1 {
            bold(piece)
        } else {
            roman(piece)
        });
    }
    out
}

/// A heading without its Markdown: `` `server` (required) `` -> `server (required)`.
fn plain(text: &str) -> String {
    unlink(text).replace('`', "")
}

/// `[text](link)` -> `text`.
fn unlink(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_lose_their_target() {
        assert_eq!(
            unlink("see [`x.yaml`](../x.yaml) and [b](c)."),
            "see `x.yaml` and b."
        );
        assert_eq!(unlink("a [not a link"), "a [not a link");
    }

    #[test]
    fn every_page_renders() {
        for (file, name) in pages() {
            let mut page = Vec::new();
            write_page(&name, &mut page).unwrap();
            let page = String::from_utf8(page).unwrap();
            assert!(page.contains(".SH NAME"), "{file}");
            if file.ends_with(".1") {
                for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
                    assert!(
                        page.contains(&format!(".SH \"{section}\""))
                            || page.contains(&format!(".SH {section}")),
                        "{file}: {section}"
                    );
                }
            }
        }
    }
}
