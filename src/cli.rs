//! The command line as clap sees it, and the checked settings made from it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clap_complete::ArgValueCandidates;

use crate::output::Verbosity;

/// The description read when neither `--config` nor `PXECTL_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = "/etc/pxectl/cluster.yaml";

/// Describe a PXE boot service (dnsmasq, nginx, pxelinux) in one YAML file and manage it.
#[derive(Debug, Parser)]
#[command(
    name = "pxectl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Cluster description to use
    #[arg(
        short,
        long,
        global = true,
        env = "PXECTL_CONFIG",
        value_name = "PATH",
        default_value = DEFAULT_CONFIG
    )]
    pub config: PathBuf,

    /// Prefix every output path with DIR, like DESTDIR (file contents still name the real paths)
    #[arg(long, global = true, env = "PXECTL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Take templates from DIR, replacing the built-in ones of the same name
    #[arg(long, global = true, env = "PXECTL_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// How long to wait for another pxectl that holds the lock, like `10s` or `1m`
    #[arg(long, global = true, env = "PXECTL_LOCK_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub lock_timeout: Duration,

    /// Print only warnings, errors and the summary
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also list what is left alone (switched links, in `render`)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Colour problems and changes: `auto` on a terminal unless `NO_COLOR` is set
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set (or `TERM` is `dumb`)
    Auto,
    /// Always, even piped or with `NO_COLOR`
    Always,
    /// Never
    Never,
}

impl From<ColorWhen> for anstream::ColorChoice {
    fn from(when: ColorWhen) -> Self {
        match when {
            ColorWhen::Auto => Self::Auto,
            ColorWhen::Always => Self::Always,
            ColorWhen::Never => Self::Never,
        }
    }
}

/// The commands each global flag applies to, by the flag's id. Every other command hides it
/// from its help and man page; it still accepts it, so that the flags can go before or after
/// any command (`PXECTL_*` set in a unit's environment must not break another command).
#[rustfmt::skip]
const SCOPES: &[(&str, &[&[&str]])] = &[
    ("config", &[RENDER, SWITCH, &["reload", "validate", "status", "log", "watch"]]),
    ("color", &[RENDER, SWITCH, &["reload", "validate", "status", "log", "watch", "import"]]),
    ("root", &[RENDER, SWITCH, &["reload", "status", "log", "watch", "import"]]),
    ("templates", &[RENDER, &["validate", "status"]]),
    ("lock_timeout", &[RENDER, SWITCH, &["watch"]]),
    ("quiet", &[RENDER, SWITCH, &["validate", "status", "import"]]),
    ("verbose", &[RENDER, &["reset"]]),
];

/// `render` and `apply`.
const RENDER: &[&str] = &["render", "apply"];
/// The commands that switch what nodes boot.
const SWITCH: &[&str] = &["reimage", "boot-normal", "rescue", "boot", "reset"];

/// The command line as clap parses it, helps with it and documents it: [`Cli`] with each
/// global flag shown only on the commands it applies to ([`SCOPES`]).
pub fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let hidden: Vec<(clap::Arg, Vec<&str>)> = SCOPES
        .iter()
        .map(|(id, applies)| {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == *id)
                .unwrap_or_else(|| panic!("no global flag `{id}`"));
            (arg.clone().hide(true), applies.concat())
        })
        .collect();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    // Each command in turn (each is moved to the end: the order stays): a command that has
    // the flag already is not given the global one.
    for name in names {
        cmd = cmd.mut_subcommand(&name, |mut c| {
            for (arg, applies) in &hidden {
                if !applies.contains(&name.as_str()) {
                    c = c.arg(arg.clone());
                }
            }
            c
        });
    }
    cmd
}

impl Cli {
    /// Parses the process's arguments, exiting with clap's message when they are wrong.
    pub fn parse_args() -> Self {
        let matches = command().get_matches();
        <Self as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// pxectl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render dnsmasq.conf, nginx.conf and pxelinux.cfg/ from the description, writing only what changed
    Render(RenderArgs),
    /// Render, verify, and reload or restart exactly the daemons the change needs
    Apply(ApplyArgs),
    /// Reload (or `--restart`) dnsmasq, nginx, or both
    Reload(ReloadArgs),
    /// Check the description and exit: 0 when valid, 2 when not
    Validate(ValidateArgs),
    /// Boot nodes into the reimage profile (`roles.reimage`) from their next PXE boot on
    Reimage(ReimageArgs),
    /// Boot nodes into their normal profile again
    BootNormal(SwitchArgs),
    /// Boot nodes into the rescue profile (`roles.rescue`)
    Rescue(SwitchArgs),
    /// Boot nodes into any described profile
    Boot(BootArgs),
    /// Put switched nodes back on their normal profile, e.g. `--all --older-than 2h` from cron
    Reset(ResetArgs),
    /// Show what each node boots next, since when, and every problem; exit 1 when there is one
    Status(StatusArgs),
    /// Print the journal of switches, oldest first
    Log(LogArgs),
    /// Follow the install callback log and flip finished nodes back (run it as a service)
    Watch(WatchArgs),
    /// Describe a hand-made setup (dnsmasq.conf, nginx.conf, the loaders' folders), proved by rendering it back
    Import(ImportArgs),
    /// Print a shell's completion script, e.g. `pxectl completions bash > /etc/bash_completion.d/pxectl`
    Completions(CompletionsArgs),
    /// Print a man page (roff), e.g. `pxectl man reimage | man -l -`; `--dir` writes them all
    Man(ManArgs),
}

/// Options of `pxectl validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print one JSON object with every problem (shape in docs/cli.md) instead of text
    #[arg(long)]
    pub json: bool,
}

/// Options of `pxectl import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// dnsmasq's configuration, as the boot server names it (read under `--root`)
    #[arg(long, value_name = "PATH", default_value = "/etc/dnsmasq.conf")]
    pub dnsmasq_conf: PathBuf,

    /// nginx's configuration, as the boot server names it (read under `--root`)
    #[arg(long, value_name = "PATH", default_value = "/etc/nginx/nginx.conf")]
    pub nginx_conf: PathBuf,

    /// Write the description to FILE instead of stdout
    #[arg(short, long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace FILE when it exists
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// Options of `pxectl completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `pxectl man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page: `pxectl`, a command such as `render`, or `cluster` for pxectl-cluster(5)
    #[arg(value_name = "PAGE", default_value = "pxectl", conflicts_with = "dir")]
    pub page: String,

    /// Write every page into DIR instead: pxectl.1, pxectl-render.1, ..., pxectl-cluster.5
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Options of `pxectl reimage`.
#[derive(Debug, Args)]
pub struct ReimageArgs {
    #[command(flatten)]
    pub switch: SwitchArgs,

    /// Then wait for the installs to call back, showing progress; flip them back unless `pxectl watch` runs
    #[arg(short, long)]
    pub wait: bool,

    /// How long `--wait` waits before giving up (exit 1, listing the unfinished nodes)
    #[arg(long, value_name = "DURATION", default_value = "45m", value_parser = parse_duration, requires = "wait")]
    pub timeout: Duration,
}

/// Options of `pxectl watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Read the callback log from its start, instead of its end or where the last watcher stopped
    #[arg(long)]
    pub from_start: bool,
}

/// Which nodes a command acts on.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Nodes: names, MAC addresses (any spelling), or hostlist ranges like `node[1-3,5]`
    #[arg(value_name = "TARGETS", add = ArgValueCandidates::new(crate::complete::nodes))]
    pub targets: Vec<String>,

    /// Every node in group NAME (may be repeated)
    #[arg(short, long = "group", value_name = "NAME", add = ArgValueCandidates::new(crate::complete::groups))]
    pub groups: Vec<String>,

    /// Every described node
    #[arg(short, long, conflicts_with_all = ["targets", "groups"])]
    pub all: bool,
}

impl TargetArgs {
    /// The selection these arguments make.
    pub fn selection(&self) -> crate::targets::Selection<'_> {
        crate::targets::Selection {
            names: &self.targets,
            groups: &self.groups,
            all: self.all,
        }
    }
}

/// Options of the switching commands.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// Options of `pxectl boot`.
#[derive(Debug, Args)]
pub struct BootArgs {
    #[command(flatten)]
    pub switch: SwitchArgs,

    /// The described profile to boot
    #[arg(short, long, value_name = "NAME", add = ArgValueCandidates::new(crate::complete::profiles))]
    pub profile: String,
}

/// Options of `pxectl reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub switch: SwitchArgs,

    /// Only nodes switched longer ago than DURATION (like `2h`), by the link's own mtime
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<Duration>,
}

/// Options of `pxectl status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Nodes to show (default: every node, and orphan links)
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Print JSON (shape in docs/cli.md) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Options of `pxectl log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Nodes whose entries to show (default: all); names need not be described any more
    #[command(flatten)]
    pub targets: TargetArgs,

    /// Only entries since WHEN: a duration back from now (`2h`, `7d`) or a time (`2026-11-25T10:00:00Z`)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Print the entries as JSON lines, as stored
    #[arg(long)]
    pub json: bool,

    /// Then print entries as they are appended, until SIGINT or SIGTERM (like `tail -f`)
    #[arg(short, long)]
    pub follow: bool,
}

/// Options of `pxectl render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print unified diffs of changed files and links
    #[arg(short, long)]
    pub diff: bool,

    /// Change nothing; exit 1 when the disk differs from the description (for CI and monitoring)
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,

    /// Remove orphan per-MAC links (MAC no longer described, or loader no longer in use) and profile files pxectl wrote that are no longer described
    #[arg(long)]
    pub prune: bool,

    /// Do not test dnsmasq.conf and nginx.conf with the real programs before installing them
    #[arg(long)]
    pub no_verify: bool,

    /// With `--check` or `--dry-run`: print one JSON object of every change (shape in docs/cli.md)
    #[arg(long, conflicts_with = "diff")]
    pub json: bool,
}

/// Options of `pxectl apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    /// Under `--root`, still reload or restart this machine's running daemons
    #[arg(long)]
    pub live_daemons: bool,
}

/// Options of `pxectl reload`.
#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// The daemon; both when left out
    #[arg(value_enum)]
    pub daemon: Option<DaemonName>,

    /// Restart instead of reload (dnsmasq re-reads dnsmasq.conf only on a restart)
    #[arg(long)]
    pub restart: bool,

    /// Under `--root`, still reload or restart this machine's running daemons
    #[arg(long)]
    pub live_daemons: bool,
}

/// A daemon pxectl manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DaemonName {
    /// DHCP and TFTP: a reload (SIGHUP) re-reads the hosts file and /etc/ethers
    Dnsmasq,
    /// HTTP: a reload (SIGHUP) re-reads nginx.conf, keeping the old one if the new is bad
    Nginx,
}

/// The longest duration a flag takes: a deadline this far ahead still fits the clock.
const LONGEST: Duration = Duration::from_secs(100 * 31_557_600);

/// Parses `10s`, `500ms`, `2m`, `1h30m`, up to 100 years.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| {
        format!("`{s}` is not a duration ({e}); write it like `10s`, `2m` or `1h30m`")
    })?;
    if d > LONGEST {
        return Err(format!(
            "`{s}` is longer than 100 years; write a shorter duration, like `45m` or `7d`"
        ));
    }
    Ok(d)
}

/// The settings every command works from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: PathBuf,
    pub root: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub lock_timeout: Duration,
    pub verbosity: Verbosity,
    /// Whether what commands print on stdout is coloured (`--color`, `NO_COLOR`, a terminal).
    pub colour: bool,
}

impl From<&Cli> for Settings {
    fn from(cli: &Cli) -> Self {
        let verbosity = if cli.quiet {
            Verbosity::Quiet
        } else if cli.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let colour = match cli.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        };
        Self {
            colour,
            config: cli.config.clone(),
            root: cli.root.clone(),
            templates: cli.templates.clone(),
            lock_timeout: cli.lock_timeout,
            verbosity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn scopes_name_real_commands() {
        let cmd = command();
        for (_, applies) in SCOPES {
            for name in applies.concat() {
                assert!(cmd.find_subcommand(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let a = Cli::parse_from(["pxectl", "--config", "c.yaml", "--root", "out", "render"]);
        let b = Cli::parse_from(["pxectl", "render", "--config", "c.yaml", "--root", "out"]);
        assert_eq!(a.config, b.config);
        assert_eq!(a.root, b.root);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("100y"), Ok(LONGEST));
        assert_eq!(
            parse_duration("300000000000y"),
            Err("`300000000000y` is longer than 100 years; write a shorter duration, like `45m` or `7d`".into())
        );
    }
}
