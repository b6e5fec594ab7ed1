//! Phase timings on stderr when `PXECTL_TIMINGS` is set: where a run spends its time, for
//! docs/performance.md and for operators who wonder why a run is slow.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

struct Clock {
    start: Instant,
    last: Instant,
}

fn clock() -> Option<&'static Mutex<Clock>> {
    static CLOCK: OnceLock<Option<Mutex<Clock>>> = OnceLock::new();
    CLOCK
        .get_or_init(|| {
            std::env::var_os("PXECTL_TIMINGS").map(|_| {
                let now = Instant::now();
                Mutex::new(Clock {
                    start: now,
                    last: now,
                })
            })
        })
        .as_ref()
}

/// Starts the clock (call first thing in `main`), so the first phase includes start-up.
pub fn start() {
    let _ = clock();
}

/// Ends the phase `name`: prints its duration and the time since start, when timings are on.
pub fn phase(name: &str) {
    let Some(clock) = clock() else { return };
    let mut c = clock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = Instant::now();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    eprintln!(
        "timing: {name:<12} {:>9.2} ms  (total {:>9.2} ms)  rss {:>6} MB  peak {:>6} MB",
        (now - c.last).as_secs_f64() * 1e3,
        (now - c.start).as_secs_f64() * 1e3,
        memory(&status, "VmRSS:"),
        memory(&status, "VmHWM:"),
    );
    c.last = now;
}

/// A memory figure of `/proc/self/status`, in MB (`?` where there is none).
fn memory(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or_else(|| "?".into(), |kb| (kb / 1024).to_string())
}
