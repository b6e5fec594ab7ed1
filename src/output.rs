//! How pxectl talks to the terminal: verbosity, progress bars, and text from disk made safe to print.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};

/// The styles of what pxectl colours. Text is written with them always; the streams
/// (anstream) drop them when colour is off (`--color`, `NO_COLOR`, not a terminal).
pub mod style {
    use anstyle::{AnsiColor, Style};

    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    /// Where a problem is, and the help and notes under it.
    pub const NOTE: Style = AnsiColor::Cyan.on_default().bold();
    /// A file written or a link created.
    pub const NEW: Style = AnsiColor::Green.on_default();
    /// A link re-pointed or a mode changed.
    pub const CHANGED: Style = AnsiColor::Yellow.on_default();
    /// Something removed.
    pub const REMOVED: Style = AnsiColor::Red.on_default();
}

/// `text` in `style`.
pub fn paint(style: anstyle::Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// `error:`, styled, as every error line starts.
pub fn error_label() -> String {
    paint(style::ERROR, "error:")
}

/// Prints `warning: <message>` on stderr.
pub fn warn(message: &str) {
    anstream::eprintln!("{} {message}", paint(style::WARNING, "warning:"));
}

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

/// `n` and the noun that goes with it: `1 node`, `2 nodes`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` read from disk or a log, safe for a terminal: control characters (ESC, BEL, a line
/// break...) are shown escaped (`\u{1b}`, `\n`), so a hostile link target or log line can
/// neither send terminal escapes nor fake a line of output. JSON output does not need this.
pub fn escaped(text: &str) -> std::borrow::Cow<'_, str> {
    // Control characters, and the invisible ones that reorder or break what follows.
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// [`escaped`] for a path.
pub fn path(p: &std::path::Path) -> String {
    escaped(&p.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escaped("installer"), "installer");
        assert_eq!(
            super::escaped("a\x1b[31mb\x07\nc\u{85}"),
            "a\\u{1b}[31mb\\u{7}\\nc\\u{85}"
        );
        assert_eq!(super::escaped("é"), "é");
        assert_eq!(super::escaped("a\u{202e}b"), "a\\u{202e}b");
    }
}
