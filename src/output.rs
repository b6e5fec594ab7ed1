//! How pxectl talks to the terminal: verbosity and progress bars.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The bar of `reimage --wait`: nodes finished out of `len`, with a message; hidden when
/// stderr is not a terminal or output is quiet (then events are printed as plain lines).
pub fn wait_bar(len: usize, verbosity: Verbosity) -> ProgressBar {
    if verbosity == Verbosity::Quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{spinner} [{bar:30}] {pos}/{len} nodes finished  {msg}  ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX)).with_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// A progress bar for `len` steps; hidden when stderr is not a terminal, output is quiet,
/// or the work is too small to be worth one.
pub fn progress_bar(len: usize, verbosity: Verbosity, what: &str) -> ProgressBar {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    if verbosity == Verbosity::Quiet || len < 1000 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_message(what.to_string())
}
