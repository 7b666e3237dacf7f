//! Giving freed heap memory back to the kernel.
//!
//! glibc keeps what the actors free (a passivated room, the garbage of a burst of room
//! creations) inside its arenas, where it still counts as resident: 10-15% of the resident set
//! after 20,000 room creations (docs/performance.md). `malloc_trim` hands whole free pages back.
//! It walks every arena under that arena's lock, so the server calls it from a blocking thread
//! and only when the actor population changed (see `start`).

/// Returns free heap pages to the kernel. Answers whether this allocator can (glibc only).
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases pages that hold no live allocation.
        unsafe { libc::malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// The process's resident set in KiB (Linux; 0 elsewhere).
pub fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A KiB figure of `/proc/self/status` by its field name with the colon (`VmHWM:` is the peak
/// resident set); 0 where there is none.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn trim_hands_back_pages_freed_between_live_allocations() {
        // 256 MiB in 1 KiB blocks, every eighth kept: each freed run of 7 KiB lies below live
        // blocks, where freeing alone returns nothing.
        let blocks: Vec<Box<[u8]>> = (0..262_144).map(|i| vec![(i % 251) as u8; 1024].into_boxed_slice()).collect();
        let kept: Vec<Box<[u8]>> = blocks.into_iter().step_by(8).collect();
        let before = super::resident_kib();
        assert!(super::trim());
        let after = super::resident_kib();
        assert!(before.saturating_sub(after) >= 64 * 1024, "resident {before} KiB before the trim, {after} KiB after");
        assert!(kept.iter().enumerate().all(|(i, b)| b[0] == ((i * 8) % 251) as u8), "kept blocks intact");
    }
}
