//! A lower CPU priority for the work nobody waits on: push evaluation between syncs, search
//! indexing, log checkpoints. On two cores a one-room send left them competing with the
//! request path (HTTP, room actors, the event writer) for every slice; the request path now
//! runs first and they fill what it leaves idle. Linux only (a thread's nice value is its own
//! there); elsewhere nothing changes.

use std::sync::atomic::{AtomicU8, Ordering};

/// The nice value background threads take; 0 leaves them as every other thread.
static BACKGROUND_NICE: AtomicU8 = AtomicU8::new(DEFAULT_NICE);

/// The default of the `background_nice` setting: background work gets about a tenth of a core's
/// share while the request path wants the cores, all of what it leaves.
pub const DEFAULT_NICE: u8 = 10;

/// The highest nice value Linux knows.
const MAX_NICE: u8 = 19;

/// Sets the nice value threads lowered from now on take (the server's `background_nice`).
pub fn set_background_nice(nice: u8) {
    BACKGROUND_NICE.store(nice.min(MAX_NICE), Ordering::Relaxed);
}

/// Lowers the calling thread's priority to the background's. One-way: without a privilege a
/// thread cannot raise its priority again, so only threads that do nothing else are lowered.
/// Threads it starts afterwards inherit the lower priority.
pub fn lower_this_thread() {
    let nice = i32::from(BACKGROUND_NICE.load(Ordering::Relaxed));
    // Already as low (the whole server started under `nice`): setting it would raise it.
    if nice <= this_threads_nice() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads its arguments only; the thread ID is the caller's own.
    unsafe {
        if libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) != 0 {
            log::debug!("could not lower a background thread's priority: {}", std::io::Error::last_os_error());
        }
    }
}

/// Runs `f` on a short-lived thread of background priority, so the threads `f` starts (a search
/// index writer's) inherit it, and answers what `f` returns.
pub fn started_in_background<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            lower_this_thread();
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// The calling thread's nice value (Linux; 0 elsewhere), for tests and diagnostics.
pub fn this_threads_nice() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: getpriority reads its arguments only. A nice value of -1 is also its error return;
    // threads here are never at -1, and a diagnostic needs nothing finer.
    unsafe {
        libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lowered_thread_and_the_threads_it_starts_run_at_the_background_nice_value() {
        let before = this_threads_nice();
        let (own, child) = started_in_background(|| (this_threads_nice(), std::thread::spawn(this_threads_nice).join().unwrap()));
        if cfg!(target_os = "linux") {
            let want = i32::from(BACKGROUND_NICE.load(Ordering::Relaxed)).max(before);
            assert_eq!((own, child), (want, want));
            assert!(want > 0, "the default lowers");
        }
        assert_eq!(this_threads_nice(), before, "the caller's own priority is untouched");
    }
}
