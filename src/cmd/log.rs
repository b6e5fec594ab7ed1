//! `pxectl log`: the journal of switches.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::cli::{LogArgs, Settings};
use crate::exit_codes::{ExitCode, UsageError};
use crate::journal;
use crate::lifecycle::follow::Follower;
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
    let shown = |e: &journal::Entry| {
        let wanted = !filter
            || names.contains(&e.node.to_ascii_lowercase())
            || e.mac.parse().is_ok_and(|m: MacAddr| macs.contains(&m));
        let recent = since.is_none_or(|since| {
            humantime::parse_rfc3339_weak(&e.time).map_or(true, |t| t >= since)
        });
        wanted && recent
    };

    if args.follow {
        follow(
            &layout.state_dir.join(journal::FILE),
            args.json,
            &shown,
            out,
        )?;
        return Ok(ExitCode::Success);
    }
    let read = journal::read(&layout.state_dir)?;
    for line in &read.skipped {
        crate::output::warn(&format!(
            "journal line {line} is not an entry (an interrupted write?); skipped"
        ));
    }
    for e in read.entries.iter().filter(|e| shown(e)) {
        print_entry(e, args.json, out)?;
    }
    Ok(ExitCode::Success)
}

/// Prints the journal at `path` from its start, then each entry appended, until SIGINT or
/// SIGTERM.
fn follow(
    path: &std::path::Path,
    json: bool,
    shown: &dyn Fn(&journal::Entry) -> bool,
    out: &mut dyn Write,
) -> Result<()> {
    let stop = crate::lifecycle::stop_on_signals()?;
    let mut journal = Follower::new(path, true);
    journal.begin()?;
    while !stop.load(Ordering::Relaxed) {
        let polled = journal.poll()?;
        for line in &polled.lines {
            match serde_json::from_slice::<journal::Entry>(line) {
                Ok(e) if shown(&e) => print_entry(&e, json, out)?,
                Ok(_) => {}
                Err(_) => crate::output::warn(
                    "a journal line is not an entry (an interrupted write?); skipped",
                ),
            }
        }
        out.flush()?;
        if !polled.more {
            std::thread::sleep(POLL);
        }
    }
    Ok(())
}

/// How often `log -f` looks for new entries.
const POLL: Duration = Duration::from_millis(200);

fn print_entry(e: &journal::Entry, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
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
    Ok(())
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
