//! Every exit status pxectl uses, in one place.

use crate::diagnostic::InvalidDescription;
use crate::targets::InvalidTargets;

/// A request that cannot be carried out as asked: exit status 2, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// pxectl's exit statuses (documented in docs/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done; with `--check`, the disk matches the description.
    Success = 0,
    /// `render --check` found differences, or `status` found a problem.
    Differs = 1,
    /// The description, a template, the command line or its targets are invalid; nothing was changed.
    Invalid = 2,
    /// Something failed while working (a file, the lock, a template).
    Failure = 3,
}

impl ExitCode {
    /// Every status, in order (for the man pages).
    pub const ALL: [Self; 4] = [Self::Success, Self::Differs, Self::Invalid, Self::Failure];

    /// What the status means, as the man pages say it.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Success => "Done; with `--check`, the disk matches the description.",
            Self::Differs => "`render --check` found differences, `status` found a problem, `reimage --wait` saw a node fail or not finish, or `import`'s round trip differs.",
            Self::Invalid => "The description, a template, the command line or a target is invalid; nothing was changed.",
            Self::Failure => "Something failed while working: a file, the lock, a daemon's config test, a reload, a daemon that is not running.",
        }
    }
}

/// What to print on stderr for the error that ended the run, and the exit status: the one
/// place errors are mapped. A closed stdout (`pxectl status | head`) is no failure.
pub fn for_error(err: &anyhow::Error) -> (String, ExitCode) {
    if is_broken_pipe(err) {
        return (String::new(), ExitCode::Success);
    }
    if let Some(invalid) = err.downcast_ref::<InvalidDescription>() {
        return (
            format!(
                "{}{} {err:#}\n",
                invalid.report(),
                crate::output::error_label()
            ),
            ExitCode::Invalid,
        );
    }
    if let Some(targets) = err.downcast_ref::<InvalidTargets>() {
        let mut text = String::new();
        for p in targets
            .problems
            .iter()
            .map(String::as_str)
            .chain(["nothing was changed"])
        {
            text.extend([&crate::output::error_label(), " ", p, "\n"]);
        }
        return (text, ExitCode::Invalid);
    }
    let code = if err.downcast_ref::<UsageError>().is_some()
        || err
            .downcast_ref::<crate::templates::TemplateError>()
            .is_some()
    {
        ExitCode::Invalid
    } else {
        ExitCode::Failure
    };
    (format!("{} {err:#}\n", crate::output::error_label()), code)
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code as u8)
    }
}

/// Whether the error is a closed stdout (`pxectl status | head`), which is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
