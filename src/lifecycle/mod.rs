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
        eprintln!(
            "warning: skipped {} longer than {} bytes",
            crate::output::plural(n, "callback log line", "callback log lines"),
            follow::MAX_LINE
        );
    }
}
