//! Every exit status pxectl uses, in one place.

use crate::diagnostic::InvalidDescription;

/// pxectl's exit statuses (documented in docs/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done; with `--check`, the disk matches the description.
    Success = 0,
    /// `--check` found differences.
    Differs = 1,
    /// The description or the command line is invalid; nothing was changed.
    Invalid = 2,
    /// Something failed while working (a file, the lock, a template).
    Failure = 3,
}

impl ExitCode {
    /// The status for an error that ended the run.
    pub fn for_error(err: &anyhow::Error) -> Self {
        if err.downcast_ref::<InvalidDescription>().is_some() {
            Self::Invalid
        } else {
            Self::Failure
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code as u8)
    }
}

/// Whether the error is a closed stdout (`pxectl status | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
