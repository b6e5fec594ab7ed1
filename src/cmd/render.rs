//! `pxectl render`: bring the disk in line with the description, changing only what differs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::atomic;
use crate::cli::{DaemonName, ReloadArgs, RenderArgs, Settings};
use crate::cluster::Cluster;
use crate::daemons::{self, Action, Verified};
use crate::exit_codes::ExitCode;
use crate::lock;
use crate::output::{self, plural, progress_bar, Verbosity};
use crate::plan::FileKind;
use crate::tree::{self, Applied, Change, Comparison, Finding, LinkState, Why};

/// Runs `pxectl render`.
pub fn render(settings: &Settings, args: &RenderArgs, out: &mut dyn Write) -> Result<ExitCode> {
    run(settings, args, false, out)
}

/// Runs `pxectl apply`: render, then reload what the change needs.
pub fn apply(settings: &Settings, args: &RenderArgs, out: &mut dyn Write) -> Result<ExitCode> {
    run(settings, args, true, out)
}

fn run(
    settings: &Settings,
    args: &RenderArgs,
    reload: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let loaded = super::load(settings)?;
    let (cluster, layout) = (&loaded.cluster, &loaded.layout);
    // Planned (no disk access) before the lock is taken: a template error must leave the disk
    // untouched.
    let plan = loaded.plan(settings)?;
    let verbosity = settings.verbosity;

    if args.check || args.dry_run {
        let cmp = tree::compare(&plan, layout, false, args.prune)?;
        if !args.check {
            verify(cluster, &cmp, args.no_verify, verbosity, out)?;
        }
        report(cluster, &cmp, args.diff, verbosity, out)?;
        if args.check {
            return check_summary(&cmp, settings, out);
        }
        if reload {
            for need in daemons::needed(&cmp.changes) {
                writeln!(
                    out,
                    "would {} {}: {}",
                    need.action.verb(),
                    need.daemon,
                    need.why
                )?;
            }
        }
        writeln!(
            out,
            "dry run: {}; nothing was written",
            planned_summary(&cmp)
        )?;
        return Ok(ExitCode::Success);
    }

    let _lock = lock::acquire(&layout.state_dir, settings.lock_timeout)?;
    crate::timing::phase("lock");
    // Under the lock, the one read of each folder removes a killed run's temporaries.
    let cmp = tree::compare(&plan, layout, true, args.prune)?;
    if cmp.temps_removed > 0 && verbosity > Verbosity::Quiet {
        writeln!(
            out,
            "removed {} temporary files left by an interrupted run",
            cmp.temps_removed
        )?;
    }
    verify(cluster, &cmp, args.no_verify, verbosity, out)?;
    crate::timing::phase("verify");
    report(cluster, &cmp, args.diff, verbosity, out)?;
    if let Some(Finding::NotAFile { path, entry, .. }) = cmp
        .findings
        .iter()
        .find(|f| matches!(f, Finding::NotAFile { .. }))
    {
        bail!(
            "`{}` is {}, not a file; move it away so pxectl can write its file there",
            path.display(),
            entry.describe()
        );
    }
    let bar = progress_bar(cmp.changes.len(), verbosity, "rendering");
    let done = tree::apply(&cmp.changes, &bar)?;
    crate::timing::phase("apply");
    journal_links(&layout.state_dir, &done.node_links)?;
    if let Some(written) = &cmp.written {
        atomic::ensure_dir(&layout.state_dir)?;
        atomic::write_file(
            &layout.state_dir.join(tree::WRITTEN),
            written.as_bytes(),
            0o644,
        )?;
    }
    crate::timing::phase("journal");
    writeln!(
        out,
        "{}: {}",
        if reload { "apply" } else { "render" },
        applied_summary(&done, &cmp)
    )?;
    if reload {
        reload_needed(cluster, &cmp, out)?;
    }
    Ok(ExitCode::Success)
}

/// Journals the nodes' links render created (a new node) or pruned (an orphan).
fn journal_links(state: &std::path::Path, changes: &[tree::NodeLinkChange]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut journal = crate::journal::Writer::open(state)?;
    for c in changes {
        let command = if c.to.is_some() {
            "render"
        } else {
            "render --prune"
        };
        let node = c.node.as_deref().unwrap_or("(orphan)");
        journal.record(command, node, c.mac, c.from.clone(), c.to.clone())?;
    }
    journal.sync()
}

/// Tests every changed dnsmasq.conf and nginx.conf with the real program; any refusal stops
/// the run before anything is written.
fn verify(
    cluster: &Cluster,
    cmp: &Comparison,
    skip: bool,
    verbosity: Verbosity,
    out: &mut dyn Write,
) -> Result<()> {
    for change in &cmp.changes {
        let Change::WriteFile {
            path,
            contents,
            kind,
            ..
        } = change
        else {
            continue;
        };
        let (daemon, real) = match kind {
            FileKind::DnsmasqConf => (&cluster.daemons.dnsmasq, &cluster.paths.dnsmasq_conf),
            FileKind::NginxConf => (&cluster.daemons.nginx, &cluster.paths.nginx_conf),
            FileKind::DhcpHosts | FileKind::Profile => continue,
        };
        if skip {
            eprintln!(
                "warning: `{}` was not tested with {} (`--no-verify`)",
                path.display(),
                daemon.name
            );
            continue;
        }
        match daemons::verify(daemon, *kind, contents, real, path, cluster.daemons.timeout)? {
            Verified::Passed(how) => {
                if verbosity > Verbosity::Quiet {
                    writeln!(out, "verify {} (`{how}`: ok)", path.display())?;
                }
            }
                        Verified::NoPermission(why) => eprintln!(
                "warning: `{}` was not fully tested: nginx -t, run as this user, cannot open the files it names ({}); run as root to test it all",
                path.display(),
                why.lines().find(|l| l.contains("Permission denied")).unwrap_or_default().trim()
            ),
            Verified::NotInstalled => eprintln!(
                "warning: `{}` was not tested: `{}` is not installed here (set `daemons.{}.binary`)",
                path.display(),
                daemon.binary,
                daemon.name
            ),
        }
    }
    Ok(())
}

/// Reloads or restarts what the applied changes need; on failure restores the previous files,
/// tries to bring the daemon back on them, and reports both outcomes.
fn reload_needed(cluster: &Cluster, cmp: &Comparison, out: &mut dyn Write) -> Result<()> {
    let needs = daemons::needed(&cmp.changes);
    if needs.is_empty() {
        let why = if cmp.changes.is_empty() {
            "nothing changed"
        } else {
            "only pxelinux.cfg/ changed, and TFTP reads its files on every request"
        };
        writeln!(out, "reload: none needed ({why})")?;
        return Ok(());
    }
    let timeout = cluster.daemons.timeout;
    // Every daemon gets its reload even when another's fails; failures are reported together.
    let mut failures = Vec::new();
    for need in needs {
        let d = cluster
            .daemons
            .named(need.daemon)
            .with_context(|| format!("no daemon is named `{}`", need.daemon))?;
        match daemons::perform(d, need.action, timeout) {
            Ok(how) => writeln!(
                out,
                "{} {}: {how} ({})",
                need.action.verb(),
                need.daemon,
                need.why
            )?,
            Err(first) => {
                let restored = restore(&cmp.changes, &need.files);
                let again = match &restored {
                    Ok(()) => {
                        daemons::perform(d, need.action, timeout).map_err(|e| format!("{e:#}"))
                    }
                    Err(e) => Err(format!("not tried: {e:#}")),
                };
                let restored = match restored {
                    Ok(()) => "the previous files were restored".to_string(),
                    Err(e) => format!("restoring the previous files failed: {e:#}"),
                };
                let again = match again {
                    Ok(how) => format!(
                        "{} on the previous files succeeded ({how})",
                        need.action.verb()
                    ),
                    Err(e) => format!(
                        "{} on the previous files failed too: {e}",
                        need.action.verb()
                    ),
                };
                failures.push(format!(
                    "cannot {} {}: {first:#}; {restored}; {again}",
                    need.action.verb(),
                    need.daemon
                ));
            }
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

/// Puts back the files `files` had before `changes` (removing the new ones).
fn restore(changes: &[Change], files: &[PathBuf]) -> Result<()> {
    for change in changes {
        let Change::WriteFile {
            dest, old, mode, ..
        } = change
        else {
            continue;
        };
        if !files.contains(dest) {
            continue;
        }
        match old {
            Some(old) => atomic::write_file(dest, old.as_bytes(), *mode)?,
            None => std::fs::remove_file(dest)
                .with_context(|| format!("cannot remove `{}`", dest.display()))?,
        }
    }
    Ok(())
}

/// Runs `pxectl reload`.
pub fn reload(settings: &Settings, args: &ReloadArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let cluster = crate::description::from_file(&settings.config)?;
    let action = if args.restart {
        Action::Restart
    } else {
        Action::Reload
    };
    let all = cluster.daemons.all();
    let chosen: &[&crate::cluster::Daemon] = match args.daemon {
        Some(DaemonName::Dnsmasq) => &all[..1],
        Some(DaemonName::Nginx) => &all[1..],
        None => &all,
    };
    // Like `apply`: every daemon gets its turn even when another fails; failures come together.
    let mut failures = Vec::new();
    for d in chosen {
        match daemons::perform(d, action, cluster.daemons.timeout) {
            Ok(how) => writeln!(out, "{} {}: {how}", action.verb(), d.name)?,
            Err(e) => failures.push(format!("cannot {} {}: {e:#}", action.verb(), d.name)),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(ExitCode::Success)
}

fn check_summary(cmp: &Comparison, settings: &Settings, out: &mut dyn Write) -> Result<ExitCode> {
    if cmp.differs() {
        // What render would not change by itself: a missing link or profile file is a change.
        let problems = cmp.findings.len()
            + cmp
                .nodes
                .iter()
                .filter(|n| {
                    n.state.is_problem()
                        && !matches!(n.state, LinkState::Missing | LinkState::Dangling(_))
                })
                .count();
        writeln!(
            out,
            "check: the disk differs from `{}`: {}, {problems} {}",
            settings.config.display(),
            planned_summary(cmp),
            if problems == 1 { "problem" } else { "problems" }
        )?;
        Ok(ExitCode::Differs)
    } else {
        writeln!(
            out,
            "check: up to date ({} files, {} links)",
            cmp.unchanged_files, cmp.unchanged_links
        )?;
        Ok(ExitCode::Success)
    }
}

/// Prints every change (unless quiet), diffs when asked, and what render leaves alone: each
/// problem as a warning, switched nodes when verbose.
fn report(
    cluster: &Cluster,
    cmp: &Comparison,
    diff: bool,
    verbosity: Verbosity,
    out: &mut dyn Write,
) -> Result<()> {
    for change in &cmp.changes {
        if verbosity > Verbosity::Quiet {
            writeln!(out, "{}", describe(change))?;
        }
        if diff {
            write_diff(change, out)?;
        }
    }
    for (link, node) in cmp.nodes.iter().zip(cluster.nodes.iter().map(|n| &n.name)) {
        let path = link.path.display();
        match &link.state {
            LinkState::Switched(target) => {
                if verbosity == Verbosity::Verbose {
                    writeln!(out, "keep   {path} -> {target} (node `{node}` was switched; render never undoes a switch)")?;
                }
            }
            LinkState::Escapes(target) => eprintln!(
                "warning: `{path}` (node `{node}`) points outside pxelinux.cfg/ (dnsmasq would follow it): `{}`; `pxectl boot-normal {node}` replaces it",
                output::path(target)
            ),
            LinkState::Undescribed(target) => eprintln!(
                "warning: `{path}` (node `{node}`) points at a profile that is not described: `{}`; `pxectl boot-normal {node}` replaces it",
                output::escaped(target)
            ),
            LinkState::NotALink(entry) => eprintln!(
                "warning: `{path}` is {} where the link of node `{node}` belongs; `pxectl boot-normal` on the node replaces it (a folder is moved aside)",
                entry.describe()
            ),
            LinkState::Planned | LinkState::Missing | LinkState::Dangling(_) => {}
        }
    }
    for finding in &cmp.findings {
        match finding {
            Finding::Blocked { path, entry } => eprintln!(
                "warning: `{}` is {} where a link belongs; move it away so render can create the link",
                path.display(),
                entry.describe()
            ),
            Finding::NotAFile { path, entry, .. } => eprintln!(
                "warning: `{}` is {}, not a file; move it away so pxectl can write its file there",
                path.display(),
                entry.describe()
            ),
            Finding::Orphan { path, entry: tree::Entry::Link(_), .. } => eprintln!(
                "warning: `{}` is a link for a MAC that no node has; `pxectl render --prune` removes it",
                path.display()
            ),
            Finding::Orphan { path, entry, .. } => eprintln!(
                "warning: `{}` is {}, named like the link of a MAC that no node has; remove it by hand",
                path.display(),
                entry.describe()
            ),
            Finding::Leftover { path } => eprintln!(
                "warning: `{}` is a profile file pxectl wrote that is no longer described; `pxectl render --prune` removes it",
                path.display()
            ),
        }
    }
    Ok(())
}

fn describe(change: &Change) -> String {
    match change {
        Change::WriteFile { path, why, .. } => {
            let why = match why {
                Why::New => "new",
                Why::Content | Why::Link => "changed",
            };
            format!("write  {} ({why})", path.display())
        }
        Change::SetMode {
            path, mode, old, ..
        } => format!("chmod  {} ({old:o} -> {mode:o})", path.display()),
        Change::RemoveFile { path } => {
            format!("prune  {} (a profile no longer described)", path.display())
        }
        Change::CreateLink { path, target, .. } => format!("link   {} -> {target}", path.display()),
        Change::ReplaceLink { path, target, old } => {
            format!(
                "relink {} -> {target} (was {})",
                path.display(),
                old.describe()
            )
        }
        Change::RemoveLink { path, old, .. } => format!(
            "prune  {} (was a link to `{}`)",
            path.display(),
            output::path(old)
        ),
    }
}

fn write_diff(change: &Change, out: &mut dyn Write) -> Result<()> {
    let (path, old, new) = match change {
        Change::WriteFile {
            path,
            old,
            contents,
            ..
        } => (path, old.clone().unwrap_or_default(), contents.clone()),
        Change::CreateLink { path, target, .. } => (path, String::new(), format!("-> {target}\n")),
        Change::ReplaceLink { path, target, old } => (
            path,
            format!("{}\n", old.describe()),
            format!("-> {target}\n"),
        ),
        Change::RemoveLink { path, old, .. } => {
            (path, format!("-> {}\n", output::path(old)), String::new())
        }
        Change::SetMode { .. } | Change::RemoveFile { .. } => return Ok(()),
    };
    let shown = path.display().to_string();
    let diff = similar::TextDiff::from_lines(&old, &new);
    write!(
        out,
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&shown, &format!("{shown} (rendered)"))
    )?;
    Ok(())
}

/// What a comparison would do, for `--dry-run` and `--check`.
fn planned_summary(cmp: &Comparison) -> String {
    let (mut files, mut create, mut replace, mut prune) = (0, 0, 0, 0);
    for c in &cmp.changes {
        match c {
            Change::WriteFile { .. } | Change::SetMode { .. } => files += 1,
            Change::CreateLink { .. } => create += 1,
            Change::ReplaceLink { .. } => replace += 1,
            Change::RemoveLink { .. } | Change::RemoveFile { .. } => prune += 1,
        }
    }
    format!(
        "{} to write, {} unchanged; {} to create, {replace} to re-point, {prune} to prune",
        plural(files, "file", "files"),
        cmp.unchanged_files,
        plural(create, "link", "links"),
    )
}

fn applied_summary(done: &Applied, cmp: &Comparison) -> String {
    let switched = cmp.switched();
    let mut line = format!(
        "{} written, {} unchanged; {} created, {} re-pointed, {} pruned, {} unchanged",
        plural(done.files_written, "file", "files"),
        cmp.unchanged_files,
        plural(done.links_created, "link", "links"),
        done.links_replaced,
        done.links_pruned + done.files_removed,
        cmp.unchanged_links,
    );
    if switched > 0 {
        let _ = write!(
            line,
            " ({} left alone)",
            plural(switched, "switched node", "switched nodes")
        );
    }
    line
}
