//! `pxectl status`: who boots what, since when, and every problem.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;

use crate::cli::{Settings, StatusArgs};
use crate::exit_codes::ExitCode;
use crate::status::{self, Report};
use crate::targets;
use crate::tree;

/// Prints the status table (or JSON); exits 1 when there is any problem.
pub fn status(settings: &Settings, args: &StatusArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let loaded = super::load(settings)?;
    let cluster = &loaded.cluster;
    let sel = args.targets.selection();
    let all = sel.is_empty() || sel.all;
    let nodes: Vec<usize> = if all {
        (0..cluster.nodes.len()).collect()
    } else {
        // MACs are unique among nodes.
        let at: std::collections::HashMap<_, usize> = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.mac, i))
            .collect();
        targets::resolve(cluster, &sel)?
            .iter()
            .map(|n| at[&n.mac])
            .collect()
    };
    let plan = loaded.plan(settings)?;
    crate::timing::phase("templates");
    let cmp = tree::compare(&plan, &loaded.layout, false, false)?;
    let report = status::report(cluster, &cmp, &nodes, all);
    crate::timing::phase("report");
    if args.json {
        // Through a string, so a closed pipe surfaces as the io::Error main knows to ignore.
        let mut json = serde_json::to_string_pretty(&report)?;
        json.push('\n');
        out.write_all(json.as_bytes())?;
    } else {
        table(
            &report,
            settings.verbosity == crate::output::Verbosity::Quiet,
            out,
        )?;
    }
    crate::timing::phase("output");
    Ok(if report.problem_count == 0 {
        ExitCode::Success
    } else {
        ExitCode::Differs
    })
}

/// The table, each problem, and a summary; `quiet` leaves the table out (and does not build it).
fn table(report: &Report, quiet: bool, out: &mut dyn Write) -> Result<()> {
    if !quiet {
        print_rows(report, out)?;
    }
    for node in &report.nodes {
        for p in &node.problems {
            writeln!(out, "problem: {}: {}", node.name, p.message)?;
        }
    }
    for o in &report.orphans {
        let why = o.unused_loader.map_or_else(
            || "no node has this MAC".to_string(),
            |l| format!("`{l}` is no longer in use"),
        );
        writeln!(
            out,
            "problem: orphan `{}` ({}) -> {}: {why}; `pxectl render --prune` removes it",
            crate::output::escaped(&o.name),
            o.mac,
            crate::output::escaped(&o.target)
        )?;
    }
    for p in &report.profiles {
        writeln!(out, "problem: {}", p.message)?;
    }
    for f in &report.files {
        writeln!(out, "problem: {}", f.message)?;
    }
    let switched = report.nodes.iter().filter(|n| n.switched).count();
    writeln!(
        out,
        "{}, {switched} switched (*), {} {}",
        crate::output::plural(report.nodes.len(), "node", "nodes"),
        report.problem_count,
        if report.problem_count == 1 {
            "problem"
        } else {
            "problems"
        }
    )?;
    Ok(())
}

/// The table of nodes, aligned in columns.
fn print_rows(report: &Report, out: &mut dyn Write) -> Result<()> {
    let rows: Vec<[String; 9]> = report
        .nodes
        .iter()
        .map(|n| {
            // Read from disk when the node boots `default`: escaped for the terminal.
            let boots = match (n.profile.as_deref().map(crate::output::escaped), n.switched) {
                (Some(p), true) => format!("{p} *"),
                (Some(p), false) => p.into_owned(),
                (None, _) => "?".into(),
            };
            let problems: Vec<&str> = n.problems.iter().map(|p| p.kind).collect();
            [
                n.name.clone(),
                n.mac.clone(),
                n.ip.clone().unwrap_or_else(|| "-".into()),
                boots,
                n.since.clone().unwrap_or_else(|| "-".into()),
                n.normal_profile.clone(),
                if n.groups.is_empty() {
                    "-".into()
                } else {
                    n.groups.join(",")
                },
                format!("{}{}", n.loader, if n.secure_boot { "+sb" } else { "" }),
                problems.join(","),
            ]
        })
        .collect();
    let header = [
        "NODE", "MAC", "IP", "BOOTS", "SINCE", "NORMAL", "GROUPS", "LOADER", "PROBLEMS",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:w$}  ");
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        writeln!(out, "{}", line(&row.each_ref().map(String::as_str)))?;
    }
    Ok(())
}
