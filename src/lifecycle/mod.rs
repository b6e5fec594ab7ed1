//! The install lifecycle (docs/lifecycle.md): following the callback log, deciding what a
//! callback may change and acting on it (`pxectl watch`), and waiting for nodes
//! (`reimage --wait`).

mod act;
mod callback;
pub(crate) mod follow;
mod wait;
mod watch;

pub use act::Event;
pub use wait::Waiter;
pub use watch::{WatchRequest, Watcher, POSITION_FILE, PRESENCE_FILE};

use crate::cluster::Cluster;
use crate::exit_codes::UsageError;

/// A flag SIGTERM and SIGINT set: long-running commands (`watch`, `log -f`) stop at it.
pub fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use anyhow::Context as _;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("cannot install a signal handler")?;
    }
    Ok(stop)
}

/// Fails unless the description has callbacks on.
pub fn require_callbacks(cluster: &Cluster) -> Result<(), UsageError> {
    if cluster.lifecycle.callbacks {
        Ok(())
    } else {
        Err(UsageError(
            "`lifecycle.callbacks` is off, so nginx answers and logs no callbacks; turn it on and run `pxectl apply` (docs/lifecycle.md)".into(),
        ))
    }
}

/// The `N` words of `line`, separated by single spaces; none when there are more or fewer.
fn words<const N: usize>(line: &str) -> Option<[&str; N]> {
    let mut words = line.split(' ');
    let out = std::array::from_fn(|_| words.next());
    if words.next().is_some() || out.iter().any(Option::is_none) {
        return None;
    }
    Some(out.map(Option::unwrap_or_default))
}

fn warn_too_long(n: usize) {
    if n > 0 {
        crate::output::warn(&format!(
            "skipped {} longer than {} bytes",
            crate::output::plural(n, "callback log line", "callback log lines"),
            follow::MAX_LINE
        ));
    }
}
