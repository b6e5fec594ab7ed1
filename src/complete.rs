//! Shell completion: the scripts (`clap_complete`'s dynamic ones, which call pxectl back at each
//! Tab) and the described node, group and profile names they offer.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap_complete::env::Shells;
use clap_complete::{CompleteEnv, CompletionCandidate};

use crate::cluster::Cluster;

/// The variable the scripts set when they call pxectl back for completions.
const VAR: &str = "COMPLETE";

/// Writes `shell`'s completion script: the one the package installs.
pub fn script(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells.completer(&name).ok_or_else(|| {
        anyhow::anyhow!(
            "no dynamic completions for `{name}`; use bash, zsh, fish, elvish or powershell"
        )
    })?;
    completer.write_registration(VAR, "pxectl", "pxectl", "pxectl", out)?;
    Ok(())
}

/// When a completion script called (`COMPLETE=bash pxectl -- pxectl reimage no`), prints
/// the candidates and returns true; otherwise returns false and pxectl runs as usual.
pub fn answer() -> Result<bool, clap::Error> {
    CompleteEnv::with_factory(crate::cli::command)
        .var(VAR)
        .bin("pxectl")
        .completer("pxectl")
        .try_complete(std::env::args_os(), std::env::current_dir().ok().as_deref())
}

/// Every described node's name.
pub fn nodes() -> Vec<CompletionCandidate> {
    candidates(|c| c.nodes.iter().map(|n| n.name.clone()).collect())
}

/// Every group a described node is in.
pub fn groups() -> Vec<CompletionCandidate> {
    candidates(|c| {
        c.nodes
            .iter()
            .flat_map(|n| n.groups.iter().cloned())
            .collect()
    })
}

/// Every described profile.
pub fn profiles() -> Vec<CompletionCandidate> {
    candidates(|c| c.profiles.keys().cloned().collect())
}

/// The names `of` takes from the description the command line being completed names; none
/// when it cannot be read (a completion never prints an error).
fn candidates(of: impl Fn(&Cluster) -> Vec<String>) -> Vec<CompletionCandidate> {
    let Ok(cluster) = crate::description::from_file(&config()) else {
        return Vec::new();
    };
    let mut names = of(&cluster);
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// The description of the words being completed (after `--`): their `--config`, else
/// `PXECTL_CONFIG`, else the default, as a real run would take.
fn config() -> PathBuf {
    let words: Vec<OsString> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .collect();
    crate::cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()
        .and_then(|m| m.get_one::<PathBuf>("config").cloned())
        .unwrap_or_else(|| PathBuf::from(crate::cli::DEFAULT_CONFIG))
}
