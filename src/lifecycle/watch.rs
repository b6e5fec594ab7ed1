//! The watcher (`pxectl watch`): one per state folder, acting on callbacks as they are
//! logged, resuming where the last one stopped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use nix::fcntl::{Flock, FlockArg};

use super::act::{Actor, Event};
use super::follow::{Follower, Position};
use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::lock;

/// The file a running watcher holds a lock on, so that `--wait` knows it is there.
pub const PRESENCE_FILE: &str = "watch.lock";

/// Where the watcher saves how far it read ([`Position`]), to resume after a restart.
pub const POSITION_FILE: &str = "watch.pos";

/// The temporary [`POSITION_FILE`] is written to, then renamed over it. The watcher writes it
/// without the tree's lock, so it is not named like pxectl's other temporaries, which render
/// sweeps from the state folder under the lock; one watcher per state folder, one name.
const POSITION_TEMP: &str = "watch.pos.tmp";

/// How often the logs are polled when there is nothing left to read.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// How often the position is saved while nothing is acted on.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// What `pxectl watch` asks for.
pub struct WatchRequest<'c> {
    pub cluster: &'c Cluster,
    pub layout: &'c Layout,
    /// How long to wait for the tree's lock before warning that a callback waits for it.
    pub lock_timeout: Duration,
    /// Read the log from its start, not where the last watcher stopped or its end.
    pub from_start: bool,
}

/// A started watcher.
pub struct Watcher<'c> {
    actor: Actor<'c>,
    follower: Follower,
    position_file: PathBuf,
    lock_timeout: Duration,
    stop: Arc<AtomicBool>,
    _presence: Flock<File>,
}

impl<'c> Watcher<'c> {
    /// Takes the watcher's place (refused when another watcher has it), removes the
    /// temporaries a killed watcher left, and finds where to start reading.
    pub fn start(req: &WatchRequest<'c>) -> Result<Self> {
        super::require_callbacks(req.cluster)?;
        let actor = Actor::new(req.cluster, req.layout, "watch");
        let state = actor.state().to_path_buf();
        let presence = hold_presence(&state)?;
        let stop = super::stop_on_signals()?;
        // Every writer of pxectl temporaries in the state folder holds the tree's lock while
        // it writes (the watcher's own position has a temporary of its own).
        if let Err(e) =
            lock::acquire(&state, req.lock_timeout).and_then(|_lock| crate::tree::sweep(&state))
        {
            crate::output::warn(&format!(
                "cannot remove the temporaries a killed run left: {e:#}"
            ));
        }
        let mut follower = Follower::new(&req.cluster.lifecycle.log, req.from_start);
        let position_file = state.join(POSITION_FILE);
        if !req.from_start {
            if let Some(saved) = std::fs::read_to_string(&position_file)
                .ok()
                .and_then(|t| Position::parse(&t))
            {
                if let Some(warning) = follower.resume(&saved)? {
                    crate::output::warn(&warning);
                }
            }
        }
        // Before `watch: following` is printed: a callback logged after it is never skipped.
        follower.begin()?;
        Ok(Self {
            actor,
            follower,
            position_file,
            lock_timeout: req.lock_timeout,
            stop,
            _presence: presence,
        })
    }

    /// The callback log it follows.
    pub fn log(&self) -> &Path {
        self.follower.path()
    }

    /// Acts on callbacks until SIGTERM or SIGINT, telling `report` what each did.
    pub fn run(mut self, report: &mut dyn FnMut(&Event) -> Result<()>) -> Result<()> {
        let mut saved = Instant::now();
        while !self.stopped() {
            let before = self.follower.position().ok().flatten();
            let polled = match self.follower.poll() {
                Ok(p) => p,
                Err(e) => {
                    crate::output::warn(&format!("{e:#}; trying again"));
                    self.pause(Duration::from_secs(1));
                    continue;
                }
            };
            super::warn_too_long(polled.too_long);
            let mut acted = false;
            for line in &polled.lines {
                if self.stopped() {
                    // Stopped halfway: the next watcher reads this piece again.
                    self.save(before.as_ref());
                    return Ok(());
                }
                match self
                    .actor
                    .handle_patiently(line, self.lock_timeout, &|| self.stopped())
                {
                    Ok(Some(event)) => {
                        report(&event)?;
                        acted = true;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        crate::output::warn(&format!("stopping before acting on a callback: {e:#}; the next watcher reads it again"));
                        self.save(before.as_ref());
                        return Ok(());
                    }
                }
            }
            if acted || (!polled.lines.is_empty() && saved.elapsed() >= SAVE_EVERY) {
                self.save_current();
                saved = Instant::now();
            }
            if !polled.more {
                self.pause(POLL);
            }
        }
        self.save_current();
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps `d`, or less when told to stop.
    fn pause(&self, d: Duration) {
        super::act::pause(d, &|| self.stopped());
    }

    fn save_current(&self) {
        match self.follower.position() {
            Ok(p) => self.save(p.as_ref()),
            Err(e) => crate::output::warn(&format!("cannot save the watcher's position: {e:#}")),
        }
    }

    fn save(&self, position: Option<&Position>) {
        let Some(position) = position else { return };
        if let Err(e) = write_position(&self.position_file, position) {
            crate::output::warn(&format!("cannot save the watcher's position: {e:#}"));
        }
    }
}

/// Writes `position` to `path` through [`POSITION_TEMP`] next to it: a reader (the next
/// watcher) sees the old position or the new one, never a part.
fn write_position(path: &Path, position: &Position) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let temp = path.with_file_name(POSITION_TEMP);
    // Whatever a killed watcher left there, even a link, is replaced, never written through.
    crate::atomic::remove_stale_temp(&temp)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&temp)
        .and_then(|mut f| {
            f.write_all(position.to_line().as_bytes())?;
            f.sync_all()
        })
        .with_context(|| format!("cannot write `{}`", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| {
        format!(
            "cannot rename `{}` over `{}`",
            temp.display(),
            path.display()
        )
    })
}

/// Takes the presence lock of a running watcher; fails when another watcher has it.
fn hold_presence(state: &Path) -> Result<Flock<File>> {
    std::fs::create_dir_all(state)
        .with_context(|| format!("cannot create the state folder `{}`", state.display()))?;
    let path = state.join(PRESENCE_FILE);
    let file = crate::lock::open(&path)?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another `pxectl watch` is running (it holds `{}`); one is enough",
            path.display()
        )
    })
}

/// Whether a watcher is running for the state folder `state`.
pub(crate) fn watcher_running(state: &Path) -> bool {
    let Ok(file) = File::open(state.join(PRESENCE_FILE)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}
