//! Problems found in a cluster description, each tied to a place in the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// A line and column in a file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One problem in a description: what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, naming the offending value in backticks.
    pub message: String,
    /// The key path of the offending value, like `nodes[2].mac`.
    pub path: String,
    /// Where the value is in the file, once resolved.
    pub position: Option<Position>,
    /// How to fix it.
    pub hint: Option<String>,
    /// A related place, such as the first occurrence of a duplicate.
    pub note: Option<String>,
    /// Whether the problem is the mapping key itself (a profile's name), not its value.
    pub on_key: bool,
}

impl Diagnostic {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            path: path.into(),
            position: None,
            hint: None,
            note: None,
            on_key: false,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    #[must_use]
    pub fn on_key(mut self) -> Self {
        self.on_key = true;
        self
    }

    #[must_use]
    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    /// Formats the diagnostic for a terminal, naming `file`.
    pub fn display<'a>(&'a self, file: &'a Path) -> impl fmt::Display + 'a {
        DisplayDiagnostic { diag: self, file }
    }
}

struct DisplayDiagnostic<'a> {
    diag: &'a Diagnostic,
    file: &'a Path,
}

impl fmt::Display for DisplayDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::output::{paint, style};
        let d = self.diag;
        writeln!(f, "{} {}", crate::output::error_label(), d.message)?;
        write!(f, "  {} {}", paint(style::NOTE, "-->"), self.file.display())?;
        if let Some(pos) = d.position {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        if !d.path.is_empty() {
            write!(f, " (`{}`)", d.path)?;
        }
        if let Some(note) = &d.note {
            write!(f, "\n   {} {note}", paint(style::NOTE, "= note:"))?;
        }
        if let Some(hint) = &d.hint {
            write!(f, "\n   {} {hint}", paint(style::NOTE, "= help:"))?;
        }
        Ok(())
    }
}

/// A description that cannot be used: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
#[error("{} has {} {}; nothing was written", file.display(), diagnostics.len(), if diagnostics.len() == 1 { "problem" } else { "problems" })]
pub struct InvalidDescription {
    pub file: PathBuf,
    /// The text that was checked (what `validate --json` reads the offending values from).
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl InvalidDescription {
    /// Every diagnostic, formatted, one blank line apart.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.display(&self.file).to_string());
            out.push_str("\n\n");
        }
        out
    }
}
