//! `pxectl log`: the journal of switches.

use std::collections::HashSet;
use std::io::Write;
use std::time::SystemTime;

use anyhow::Result;

use crate::cli::{LogArgs, Settings};
use crate::exit_codes::{ExitCode, UsageError};
use crate::journal;
use crate::mac::MacAddr;
use crate::targets;

/// Prints journal entries, oldest first, filtered by node and time.
pub fn log(settings: &Settings, args: &LogArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let super::Loaded { cluster, layout } = super::load(settings)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let sel = args.targets.selection();

    // Names need not be described any more: the journal outlives nodes.
    let mut names: HashSet<String> = HashSet::new();
    let mut macs: HashSet<MacAddr> = HashSet::new();
    for t in sel.names {
        match targets::mac_of(t) {
            Some(mac) => {
                macs.insert(mac);
            }
            None => names.extend(
                targets::expand(t)
                    .map_err(|e| UsageError(format!("target `{t}`: {e}")))?
                    .into_iter()
                    .map(|n| n.to_ascii_lowercase()),
            ),
        }
    }
    if !sel.groups.is_empty() {
        let grouped = targets::Selection {
            names: &[],
            groups: sel.groups,
            all: false,
        };
        names.extend(
            targets::resolve(&cluster, &grouped)?
                .iter()
                .map(|n| n.name.to_ascii_lowercase()),
        );
    }
    let filter = !(sel.is_empty() || sel.all);

    let read = journal::read(&layout.state_dir)?;
    for line in &read.skipped {
        eprintln!("warning: journal line {line} is not an entry (an interrupted write?); skipped");
    }
    for e in &read.entries {
        if filter
            && !names.contains(&e.node.to_ascii_lowercase())
            && !e.mac.parse().is_ok_and(|m: MacAddr| macs.contains(&m))
        {
            continue;
        }
        if let Some(since) = since {
            match humantime::parse_rfc3339_weak(&e.time) {
                Ok(t) if t < since => continue,
                _ => {}
            }
        }
        if args.json {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        } else {
            // The journal is a file anyone with write access to it could have edited.
            let from = e.from.as_deref().unwrap_or("(no link)");
            let to = e.to.as_deref().unwrap_or("(removed)");
            let line = format!(
                "{}  {}  {}  {}  {from} -> {to}",
                e.time, e.user, e.command, e.node
            );
            writeln!(out, "{}", crate::output::escaped(&line))?;
        }
    }
    Ok(ExitCode::Success)
}

/// `2h` (back from now) or an RFC 3339 time.
fn parse_since(s: &str) -> Result<SystemTime, UsageError> {
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(SystemTime::now()
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH));
    }
    humantime::parse_rfc3339_weak(s).map_err(|_| {
        UsageError(format!(
            "`--since {s}` is neither a duration nor a time; write `2h`, `7d` or `2026-11-25T10:00:00Z`"
        ))
    })
}
