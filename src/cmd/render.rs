//! `pxectl render`: bring the disk in line with the description, changing only what differs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::atomic;
use crate::cli::{DaemonName, ReloadArgs, RenderArgs, Settings};
use crate::cluster::Cluster;
use crate::daemons::{self, Action, Need, Outcome, Reach, Reloads, Verified};
use crate::exit_codes::ExitCode;
use crate::lock;
use crate::output::{progress_bar, Verbosity};
use crate::plan;
use crate::tree::{self, Applied, Change, Comparison, Finding, Why};

/// Runs `pxectl render` (`reload` none) or `pxectl apply` (`reload` some: which daemons it
/// may act on) with `args`.
pub fn render(
    settings: &Settings,
    args: &RenderArgs,
    reload: Option<Reach>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let (text, cluster) = crate::description::read_and_check(&settings.config)?;
    let templates = super::templates_for(settings, &cluster)?;
    let root = settings.host_root();
    let trusted = [
        cluster.paths.web_root.clone(),
        cluster.paths.tftp_root.clone(),
        cluster.paths.state_dir.clone(),
    ];
    let verbosity = settings.verbosity;

    if args.check || args.dry_run {
        let plan = plan::build(&cluster, &templates)?;
        let cmp = tree::compare(&plan, &root, &trusted, args.prune)?;
        if !args.check {
            verify(&cluster, &cmp, args.no_verify, settings, out)?;
        }
        report(&cmp, args.diff, verbosity, out)?;
        if args.check {
            return check_summary(&cmp, settings, out);
        }
        if let Some(reach) = reload {
            let needs = daemons::needed(&cmp.changes);
            for need in &needs {
                print_would(need, out)?;
            }
            if reach == Reach::Staged && !needs.is_empty() {
                writeln!(out, "{SKIPPED}")?;
            }
        }
        writeln!(
            out,
            "dry run: {}; nothing was written",
            planned_summary(&cmp)
        )?;
        return Ok(ExitCode::Success);
    }

    // Planned (no disk access) before the lock is taken: a template error must leave the disk
    // untouched.
    let plan = plan::build(&cluster, &templates)?;
    let _lock = lock::acquire(&root.host(&cluster.paths.state_dir), settings.lock_timeout)?;
    // One read of each link folder, removing a killed run's temporaries on the way.
    let (scans, mut stale) = tree::scan_link_dirs(&plan.link_dirs, &root, true)?;
    let mut dirs: Vec<PathBuf> = plan
        .files
        .iter()
        .filter_map(|f| f.path.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        if !plan.link_dirs.iter().any(|d| &d.dir == dir) {
            stale += atomic::remove_stale_temps(&root.host(dir))?;
        }
    }
    if stale > 0 && verbosity > Verbosity::Quiet {
        writeln!(
            out,
            "removed {stale} temporary files left by an interrupted run"
        )?;
    }
    crate::timing::phase("lock+scan");
    let cmp = tree::compare_scanned(&plan, &root, &trusted, args.prune, &scans)?;
    crate::timing::phase("compare");
    verify(&cluster, &cmp, args.no_verify, settings, out)?;
    crate::timing::phase("verify");
    report(&cmp, args.diff, verbosity, out)?;
    let bar = progress_bar(cmp.changes.len(), verbosity, "rendering");
    let done = tree::apply(&cmp.changes, &bar)?;
    crate::timing::phase("apply");
    journal_links(&root.host(&cluster.paths.state_dir), &done.node_links)?;
    crate::timing::phase("journal");
    // For `status` and the switches (description::cache). Best effort: without it they read
    // the YAML, as they would anyway after an edit.
    let _ = crate::description::cache::store(&root, &settings.config, &text, &cluster);
    crate::timing::phase("cache");
    writeln!(
        out,
        "{}: {}",
        if reload.is_some() { "apply" } else { "render" },
        applied_summary(&done, &cmp)
    )?;
    if let Some(reach) = reload {
        print_reloads(
            &daemons::reload_after(&cluster.daemons, &cmp.changes, reach)?,
            out,
        )?;
    }
    Ok(ExitCode::Success)
}

/// Journals the nodes' links render created (a new node) or pruned (an orphan).
fn journal_links(state: &std::path::Path, changes: &[tree::NodeLinkChange]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut journal = crate::journal::Writer::open(state)?;
    let (time, user) = (crate::journal::now(), crate::journal::current_user());
    for c in changes {
        journal.append(&crate::journal::Entry {
            time: time.clone(),
            user: user.clone(),
            command: if c.to.is_some() {
                "render"
            } else {
                "render --prune"
            }
            .to_string(),
            node: c.node.clone().unwrap_or_else(|| "(orphan)".to_string()),
            mac: c.mac.colon(),
            from: c.from.clone(),
            to: c.to.clone(),
        })?;
    }
    journal.sync()
}

/// Tests every changed dnsmasq.conf and nginx.conf with the real program; any refusal stops
/// the run before anything is written.
fn verify(
    cluster: &Cluster,
    cmp: &Comparison,
    skip: bool,
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<()> {
    let staged = settings.root.is_some();
    for checked in daemons::verify_changes(cluster, &cmp.changes, skip, staged)? {
        let (path, daemon) = (checked.path.display(), checked.daemon);
        match checked.verified {
            Verified::Passed(how) => {
                if settings.verbosity > Verbosity::Quiet {
                    writeln!(out, "verify {path} (`{how}`: ok)")?;
                }
            }
            Verified::Skipped => eprintln!(
                "warning: `{path}` was not tested with {} (`--no-verify`)",
                daemon.name
            ),
            Verified::NoPermission(why) => eprintln!(
                "warning: `{path}` was not fully tested: nginx -t, run as this user, cannot open the files it names ({}); run as root to test it all",
                why.lines().find(|l| l.contains("Permission denied")).unwrap_or_default().trim()
            ),
            Verified::NotInstalled => eprintln!(
                "warning: `{path}` was not tested: `{}` is not installed here (set `daemons.{}.binary`)",
                daemon.binary,
                daemon.name
            ),
        }
    }
    Ok(())
}

/// Prints what became of each daemon; every failure is the error.
fn print_reloads(reloads: &Reloads, out: &mut dyn Write) -> Result<()> {
    if let Some(why) = reloads.none_needed {
        writeln!(out, "reload: none needed ({why})")?;
    }
    for (need, outcome) in &reloads.each {
        let (verb, daemon) = (need.action.verb(), need.daemon);
        match (outcome, need.why) {
            (Outcome::Done(how), Some(why)) => writeln!(out, "{verb} {daemon}: {how} ({why})")?,
            (Outcome::Done(how), None) => writeln!(out, "{verb} {daemon}: {how}")?,
            (Outcome::Skipped, _) => print_would(need, out)?,
            (Outcome::Failed(_), _) => {}
        }
    }
    if reloads.skipped() {
        writeln!(out, "{SKIPPED}")?;
    }
    reloads.result()
}

/// Says that daemons were left alone, after the lines saying what each would have needed.
const SKIPPED: &str =
    "reload: skipped (`--root` stages files; `--live-daemons` acts on this machine's daemons)";

fn print_would(need: &Need, out: &mut dyn Write) -> Result<()> {
    let (verb, daemon) = (need.action.verb(), need.daemon);
    match need.why {
        Some(why) => writeln!(out, "would {verb} {daemon}: {why}")?,
        None => writeln!(out, "would {verb} {daemon}")?,
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
    let name = args.daemon.map(|d| match d {
        DaemonName::Dnsmasq => "dnsmasq",
        DaemonName::Nginx => "nginx",
    });
    let reach = settings.reach(args.live_daemons);
    print_reloads(
        &daemons::reload_asked(&cluster.daemons, name, action, reach)?,
        out,
    )?;
    Ok(ExitCode::Success)
}

fn check_summary(cmp: &Comparison, settings: &Settings, out: &mut dyn Write) -> Result<ExitCode> {
    if cmp.differs() {
        let problems = cmp.findings.iter().filter(|f| f.is_drift()).count();
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

/// Prints every change (unless quiet), diffs when asked, and every finding as a warning.
fn report(cmp: &Comparison, diff: bool, verbosity: Verbosity, out: &mut dyn Write) -> Result<()> {
    for change in &cmp.changes {
        if verbosity > Verbosity::Quiet {
            writeln!(out, "{}", describe(change))?;
        }
        if diff {
            write_diff(change, out)?;
        }
    }
    for finding in &cmp.findings {
        match finding {
            Finding::Switched { path, node, target } => {
                if verbosity == Verbosity::Verbose {
                    writeln!(out, "keep   {} -> {target} (node `{node}` was switched; render never undoes a switch)", path.display())?;
                }
            }
            Finding::BadLink { path, node, target, escapes } => {
                let what = if *escapes {
                    "outside pxelinux.cfg/ (dnsmasq would follow it)".to_string()
                } else {
                    "at a profile that is not described".to_string()
                };
                eprintln!(
                    "warning: `{}` (node `{node}`) points {what}: `{}`; `pxectl boot-normal {node}` replaces it",
                    path.display(),
                    target.display()
                );
            }
            Finding::Blocked { path, node, entry } => {
                let whose = node.as_ref().map_or_else(|| "a link".to_string(), |n| format!("the link of node `{n}`"));
                eprintln!(
                    "warning: `{}` is {} where {whose} belongs; `pxectl boot-normal` on the node replaces it (a folder is moved aside)",
                    path.display(),
                    entry.describe()
                );
            }
            Finding::Orphan { path, entry } => match entry {
                tree::Entry::Link(_) => eprintln!(
                    "warning: `{}` is a link for a MAC that no node has; `pxectl render --prune` removes it",
                    path.display()
                ),
                other => eprintln!(
                    "warning: `{}` is {}, named like the link of a MAC that no node has; remove it by hand",
                    path.display(),
                    other.describe()
                ),
            },
        }
    }
    Ok(())
}

fn describe(change: &Change) -> String {
    match change {
        Change::WriteFile { path, why, .. } => {
            let why = match why {
                Why::New => "new",
                Why::Content => "changed",
            };
            format!("write  {} ({why})", path.display())
        }
        Change::SetMode { path, mode, old } => {
            format!("chmod  {} ({old:o} -> {mode:o})", path.display())
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
            old.display()
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
            (path, format!("-> {}\n", old.display()), String::new())
        }
        Change::SetMode { .. } => return Ok(()),
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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a comparison would do, for `--dry-run` and `--check`.
fn planned_summary(cmp: &Comparison) -> String {
    let (mut files, mut create, mut replace, mut prune) = (0, 0, 0, 0);
    for c in &cmp.changes {
        match c {
            Change::WriteFile { .. } | Change::SetMode { .. } => files += 1,
            Change::CreateLink { .. } => create += 1,
            Change::ReplaceLink { .. } => replace += 1,
            Change::RemoveLink { .. } => prune += 1,
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
    let switched = cmp
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::Switched { .. }))
        .count();
    let mut line = format!(
        "{} written, {} unchanged; {} created, {} re-pointed, {} pruned, {} unchanged",
        plural(done.files_written, "file", "files"),
        cmp.unchanged_files,
        plural(done.links_created, "link", "links"),
        done.links_replaced,
        done.links_pruned,
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
