//! `pxectl render`: bring the disk in line with the description, changing only what differs.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;

use crate::cli::{ApplyArgs, DaemonName, ReloadArgs, RenderArgs, Settings};
use crate::cluster::Cluster;
use crate::daemons::{self, Action, Need, Outcome, Reach, Reloads, Verified};
use crate::exit_codes::{ExitCode, UsageError};
use crate::layout::Layout;
use crate::lock;
use crate::output::{self, plural, progress_bar, Verbosity};
use crate::tree::{self, Applied, Change, Comparison, Finding, LinkState, Old};

/// Runs `pxectl render`.
pub fn render(settings: &Settings, args: &RenderArgs, out: &mut dyn Write) -> Result<ExitCode> {
    run(settings, args, None, out)
}

/// Runs `pxectl apply`: render, then reload what the change needs, on the daemons it may
/// act on (under `--root`, only with `--live-daemons`).
pub fn apply(settings: &Settings, args: &ApplyArgs, out: &mut dyn Write) -> Result<ExitCode> {
    run(settings, &args.render, Some(args.live_daemons), out)
}

fn run(
    settings: &Settings,
    args: &RenderArgs,
    // `apply`: whether `--live-daemons` was given.
    reload: Option<bool>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    if args.json && !(args.check || args.dry_run) {
        return Err(UsageError(
            "`--json` reports what would change: give it with `--check` or `--dry-run`".into(),
        )
        .into());
    }
    let loaded = super::load(settings)?;
    let (cluster, layout) = (&loaded.cluster, &loaded.layout);
    let reload = reload.map(|live| Reach::new(layout, live));
    // Planned (no disk access) before the lock is taken: a template error must leave the disk
    // untouched.
    let plan = loaded.plan(settings)?;
    let verbosity = settings.verbosity;

    if args.check || args.dry_run {
        let cmp = tree::compare(&plan, layout, false, args.prune)?;
        if !args.check {
            // In JSON the verdicts are not printed: a refusal is still the error.
            let verdicts: &mut dyn Write = if args.json { &mut std::io::sink() } else { out };
            verify(cluster, layout, &cmp, args.no_verify, settings, verdicts)?;
        }
        if args.json {
            let needs = match reload {
                Some(_) if !args.check => daemons::needed(&cmp.changes),
                _ => Vec::new(),
            };
            return print_json(cluster, &cmp, &needs, args.check, out);
        }
        report(cluster, &cmp, args.diff, settings, out)?;
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

    let _lock = lock::acquire(&layout.state_dir, settings.lock_timeout)?;
    crate::timing::phase("lock");
    // Under the lock, the one read of each folder removes a killed run's temporaries.
    let cmp = tree::compare(&plan, layout, true, args.prune)?;
    if cmp.temps_removed > 0 && verbosity > Verbosity::Quiet {
        writeln!(
            out,
            "removed {} left by an interrupted run",
            plural(cmp.temps_removed, "temporary file", "temporary files")
        )?;
    }
    verify(cluster, layout, &cmp, args.no_verify, settings, out)?;
    crate::timing::phase("verify");
    report(cluster, &cmp, args.diff, settings, out)?;
    let bar = progress_bar(cmp.changes.len(), verbosity, "rendering");
    let done = tree::apply(&cmp, &bar)?;
    crate::timing::phase("apply");
    journal_links(&layout.state_dir, &done.node_links)?;
    crate::timing::phase("journal");
    writeln!(
        out,
        "{}: {}",
        if reload.is_some() { "apply" } else { "render" },
        applied_summary(&done, &cmp, cluster)
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
    layout: &Layout,
    cmp: &Comparison,
    skip: bool,
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<()> {
    for checked in daemons::verify_changes(cluster, &cmp.changes, skip, layout.staging())? {
        let (path, daemon) = (output::path(checked.path), checked.daemon);
        match checked.verified {
            Verified::Passed(how) => {
                if settings.verbosity > Verbosity::Quiet {
                    writeln!(out, "verify {path} (`{how}`: ok)")?;
                }
            }
            Verified::Skipped => output::warn(&format!(
                "`{path}` was not tested with {} (`--no-verify`)",
                daemon.name
            )),
            Verified::NoPermission(why) => output::warn(&format!(
                "`{path}` was not fully tested: nginx -t, run as this user, cannot open the files it names ({}); run as root to test it all",
                why.lines().find(|l| l.contains("Permission denied")).unwrap_or_default().trim()
            )),
            Verified::NotInstalled => output::warn(&format!(
                "`{path}` was not tested: `{}` is not installed here (set `daemons.{}.binary`)",
                daemon.binary,
                daemon.name
            )),
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
    let super::Loaded { cluster, layout } = super::load(settings)?;
    let action = if args.restart {
        Action::Restart
    } else {
        Action::Reload
    };
    let name = match args.daemon {
        Some(DaemonName::Dnsmasq) => Some("dnsmasq"),
        Some(DaemonName::Nginx) if !cluster.http.managed => {
            return Err(UsageError(
                "nginx.conf is not managed by pxectl (`http.managed: false`): reload nginx yourself, or set `http.managed: true`".into(),
            )
            .into())
        }
        Some(DaemonName::Nginx) => Some("nginx"),
        None if !cluster.http.managed => Some("dnsmasq"),
        None => None,
    };
    let reach = Reach::new(&layout, args.live_daemons);
    print_reloads(
        &daemons::reload_asked(&cluster.daemons, name, action, reach)?,
        out,
    )?;
    Ok(ExitCode::Success)
}

fn check_summary(cmp: &Comparison, settings: &Settings, out: &mut dyn Write) -> Result<ExitCode> {
    if cmp.differs() {
        let problems = cmp.problems();
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
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<()> {
    let verbosity = settings.verbosity;
    for change in &cmp.changes {
        if verbosity > Verbosity::Quiet {
            writeln!(out, "{}", describe(change).line(settings.colour))?;
        }
        if diff {
            write_diff(change, out)?;
        }
    }
    if verbosity == Verbosity::Verbose {
        for (link, node) in cmp.nodes.iter().zip(cluster.nodes.iter().map(|n| &n.name)) {
            if let LinkState::Switched(target) = &link.state {
                let path = output::path(&link.path);
                writeln!(out, "keep   {path} -> {target} (node `{node}` was switched; render never undoes a switch)")?;
            }
        }
    }
    for problem in problems(cluster, cmp) {
        output::warn(&problem.message);
    }
    Ok(())
}

/// `render --check --json`, `render --dry-run --json`, `apply --dry-run --json`: each change,
/// each problem, each reload it would need (docs/cli.md); exit 1 when `--check` finds the disk
/// differs.
fn print_json(
    cluster: &Cluster,
    cmp: &Comparison,
    needs: &[Need],
    check: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    #[derive(serde::Serialize)]
    struct Reload {
        action: &'static str,
        daemon: &'static str,
        why: Option<&'static str>,
    }
    #[derive(serde::Serialize)]
    struct Report {
        changes: Vec<Shown>,
        problems: Vec<Problem>,
        reloads: Vec<Reload>,
        unchanged_files: usize,
        unchanged_links: usize,
        differs: bool,
    }
    let report = Report {
        changes: cmp.changes.iter().map(describe).collect(),
        problems: problems(cluster, cmp),
        reloads: needs
            .iter()
            .map(|n| Reload {
                action: n.action.verb(),
                daemon: n.daemon,
                why: n.why,
            })
            .collect(),
        unchanged_files: cmp.unchanged_files,
        unchanged_links: cmp.unchanged_links,
        differs: cmp.differs(),
    };
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(if check && cmp.differs() {
        ExitCode::Differs
    } else {
        ExitCode::Success
    })
}

/// Something render reports and leaves alone: where, and what is wrong with how to fix it.
#[derive(Debug, serde::Serialize)]
struct Problem {
    path: String,
    message: String,
}

/// Every problem of the comparison render leaves alone: hostile or undescribed node links,
/// what stands where a file or link belongs, orphans and leftovers.
fn problems(cluster: &Cluster, cmp: &Comparison) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut add = |path: &std::path::Path, message: String| {
        found.push(Problem {
            path: output::path(path),
            message,
        });
    };
    for (link, node) in cmp.nodes.iter().zip(cluster.nodes.iter().map(|n| &n.name)) {
        let (at, path) = (&link.path, output::path(&link.path));
        match &link.state {
            LinkState::Escapes(target) => add(at, format!(
                "`{path}` (node `{node}`) points outside pxelinux.cfg/ (dnsmasq would follow it): `{}`; `pxectl boot-normal {node}` replaces it",
                output::path(target)
            )),
            LinkState::Undescribed(target) => add(at, format!(
                "`{path}` (node `{node}`) points at a profile that is not described: `{}`; `pxectl boot-normal {node}` replaces it",
                output::escaped(target)
            )),
            LinkState::NotALink(entry) => add(at, format!(
                "`{path}` is {} where the link of node `{node}` belongs; `pxectl boot-normal` on the node replaces it (a folder is moved aside)",
                entry.describe()
            )),
            LinkState::Switched(_)
            | LinkState::Planned
            | LinkState::Missing
            | LinkState::Dangling(_)
            | LinkState::Mixed => {}
        }
    }
    for finding in &cmp.findings {
        match finding {
            Finding::Blocked { path, entry } => add(path, format!(
                "`{}` is {} where a link belongs; move it away so render can create the link",
                output::path(path),
                entry.describe()
            )),
            Finding::NotAFile { path, entry, .. } => add(path, format!(
                "`{}` is {}, not a file; move it away so pxectl can write its file there",
                output::path(path),
                entry.describe()
            )),
            Finding::Orphan { path, entry: tree::Entry::Link(_), unused: Some(loader), .. } => add(path, format!(
                "`{}` is a link of `{}`, which is no longer in use; `pxectl render --prune` removes it",
                output::path(path),
                loader.key()
            )),
            Finding::Orphan { path, entry: tree::Entry::Link(_), .. } => add(path, format!(
                "`{}` is a link for a MAC that no node has; `pxectl render --prune` removes it",
                output::path(path)
            )),
            Finding::Orphan { path, entry, .. } => add(path, format!(
                "`{}` is {}, named like the link of a MAC that no node has; remove it by hand",
                output::path(path),
                entry.describe()
            )),
            Finding::Leftover { path } => add(path, format!(
                "`{}` is a profile file pxectl wrote that is no longer described; `pxectl render --prune` removes it",
                output::path(path)
            )),
        }
    }
    found
}

/// One change as reported: `write  <path> (new)`, `link   <path> -> <target>`.
#[derive(Debug, serde::Serialize)]
struct Shown {
    /// `write`, `chmod`, `link`, `relink` or `prune`.
    action: &'static str,
    path: String,
    /// The link's new target (`link`, `relink`).
    target: Option<String>,
    /// What the line says in parentheses: why, or what was there.
    detail: Option<String>,
}

impl Shown {
    /// The line of the text output, its action coloured when `colour`.
    fn line(&self, colour: bool) -> String {
        let style = match self.action {
            "write" | "link" => output::style::NEW,
            "prune" => output::style::REMOVED,
            _ => output::style::CHANGED,
        };
        let pad = 6usize.saturating_sub(self.action.len());
        let mut line = if colour {
            output::paint(style, self.action)
        } else {
            self.action.to_string()
        };
        let _ = write!(line, "{:pad$} {}", "", self.path);
        if let Some(target) = &self.target {
            let _ = write!(line, " -> {target}");
        }
        if let Some(detail) = &self.detail {
            let _ = write!(line, " ({detail})");
        }
        line
    }
}

fn describe(change: &Change) -> Shown {
    let shown = |action, path: &std::path::Path, target: Option<&String>, detail: String| Shown {
        action,
        path: output::path(path),
        target: target.cloned(),
        detail: Some(detail),
    };
    match change {
        Change::WriteFile { path, old, .. } => {
            let why = match old {
                Old::Nothing => "new",
                Old::File { .. } | Old::Link(_) => "changed",
            };
            shown("write", path, None, why.into())
        }
        Change::SetMode {
            path, mode, old, ..
        } => shown("chmod", path, None, format!("{old:o} -> {mode:o}")),
        Change::RemoveFile { path } => {
            shown("prune", path, None, "a profile no longer described".into())
        }
        Change::CreateLink { path, target, .. } => Shown {
            detail: None,
            ..shown("link", path, Some(target), String::new())
        },
        Change::ReplaceLink {
            path, target, old, ..
        } => shown(
            "relink",
            path,
            Some(target),
            format!("was {}", old.describe()),
        ),
        Change::RemoveLink { path, old, .. } => shown(
            "prune",
            path,
            None,
            format!("was a link to `{}`", output::path(old)),
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
        } => (path, old.text(), contents.clone()),
        Change::CreateLink { path, target, .. } => (path, String::new(), format!("-> {target}\n")),
        Change::ReplaceLink {
            path, target, old, ..
        } => (
            path,
            format!("{}\n", old.describe()),
            format!("-> {target}\n"),
        ),
        Change::RemoveLink { path, old, .. } => {
            (path, format!("-> {}\n", output::path(old)), String::new())
        }
        Change::SetMode { .. } | Change::RemoveFile { .. } => return Ok(()),
    };
    let shown = output::path(path);
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

fn applied_summary(done: &Applied, cmp: &Comparison, cluster: &Cluster) -> String {
    let switched = cmp.switched(&cluster.nodes);
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
