//! The watcher (`pxectl watch`): one per state folder, acting on callbacks as they are
//! logged, resuming where the last one stopped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::fcntl::{Flock, FlockArg};

use super::act::{Actor, Event};
use super::follow::{Follower, Position};
use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::lock::{self, Lock, LockBusy};

/// The file a running watcher holds a lock on, so that `--wait` knows it is there.
pub const PRESENCE_FILE: &str = "watch.lock";

/// Where the watcher saves how far it read ([`Position`]), to resume after a restart.
pub const POSITION_FILE: &str = "watch.pos";

/// How often the logs are polled when there is nothing left to read.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// The longest the watcher waits for the tree's lock at a time, between looks at whether it
/// was told to stop.
const LOCK_SLICE: Duration = Duration::from_millis(100);

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
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .context("cannot install a signal handler")?;
        }
        // Every other writer in the state folder holds the tree's lock while it writes.
        if let Err(e) =
            lock::acquire(&state, req.lock_timeout).and_then(|_lock| crate::tree::sweep(&state))
        {
            eprintln!("warning: cannot remove the temporaries a killed run left: {e:#}");
        }
        let mut follower = Follower::new(&req.cluster.lifecycle.log, req.from_start);
        let position_file = state.join(POSITION_FILE);
        if !req.from_start {
            if let Some(saved) = std::fs::read_to_string(&position_file)
                .ok()
                .and_then(|t| Position::parse(&t))
            {
                if let Some(warning) = follower.resume(&saved)? {
                    eprintln!("warning: {warning}");
                }
            }
        }
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
                    eprintln!("warning: {e:#}; trying again");
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
                if let Some(event) = self.act_patiently(line) {
                    report(&event)?;
                    acted = true;
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
        let end = Instant::now() + d;
        while !self.stopped() && Instant::now() < end {
            std::thread::sleep(POLL.min(end - Instant::now()));
        }
    }

    fn save_current(&self) {
        match self.follower.position() {
            Ok(p) => self.save(p.as_ref()),
            Err(e) => eprintln!("warning: cannot save the watcher's position: {e:#}"),
        }
    }

    fn save(&self, position: Option<&Position>) {
        let Some(position) = position else { return };
        if let Err(e) =
            crate::atomic::write_file(&self.position_file, position.to_line().as_bytes(), 0o644)
        {
            eprintln!("warning: cannot save the watcher's position: {e:#}");
        }
    }

    /// Acts on a callback, waiting out a busy lock for as long as it takes (until stopped)
    /// and trying other failures three times; a callback is never dropped silently.
    fn act_patiently(&self, line: &[u8]) -> Option<Event> {
        let mut failures = 0;
        loop {
            match self.actor.handle(line, |state| self.lock(state)) {
                Ok(event) => return event,
                Err(e) if self.stopped() => {
                    eprintln!("warning: stopping before acting on a callback: {e:#}");
                    return None;
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 3 {
                        eprintln!(
                            "warning: could not act on a callback ({}): {e:#}; skipped",
                            String::from_utf8_lossy(line)
                        );
                        return None;
                    }
                    eprintln!("warning: could not act on a callback: {e:#}; trying again");
                }
            }
            self.pause(Duration::from_secs(1));
        }
    }

    /// The tree's lock, waited for as long as it takes, until told to stop.
    fn lock(&self, state: &Path) -> Result<Lock> {
        let start = Instant::now();
        let mut warned = false;
        loop {
            match lock::acquire(state, LOCK_SLICE.min(self.lock_timeout)) {
                Err(e) if e.is::<LockBusy>() => {
                    if self.stopped() {
                        bail!("the lock `{}` is busy", state.join(lock::FILE).display());
                    }
                    if !warned && start.elapsed() >= self.lock_timeout {
                        eprintln!(
                            "warning: another pxectl has held the lock `{}` for {}; the callback waits for it",
                            state.join(lock::FILE).display(),
                            humantime::format_duration(self.lock_timeout)
                        );
                        warned = true;
                    }
                }
                other => return other,
            }
        }
    }
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
