//! `pxectl watch`: acting on install callbacks until stopped.

use std::io::Write;

use anyhow::Result;

use crate::cli::{Settings, WatchArgs};
use crate::exit_codes::ExitCode;
use crate::lifecycle::{WatchRequest, Watcher};

/// Runs `pxectl watch` until SIGTERM or SIGINT.
pub fn watch(settings: &Settings, args: &WatchArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let super::Loaded { cluster, layout } = super::load(settings)?;
    let watcher = Watcher::start(&WatchRequest {
        cluster: &cluster,
        layout: &layout,
        lock_timeout: settings.lock_timeout,
        from_start: args.from_start,
    })?;
    writeln!(out, "watch: following `{}`", watcher.log().display())?;
    out.flush()?;
    watcher.run(&mut |event| {
        writeln!(out, "{event}")?;
        out.flush()?;
        Ok(())
    })?;
    writeln!(out, "watch: stopped")?;
    Ok(ExitCode::Success)
}
