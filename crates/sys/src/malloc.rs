//! glibc's allocator keeps a separate arena for each thread that ever
//! contends for the heap, up to eight per core, and each holds on to the
//! memory freed in it. A gateway's threads are mostly idle (tokio's
//! blocking pool, the database's), so those arenas are kept memory and
//! little else: two arenas take about 1 MiB off an idle gateway's
//! resident memory (BENCHMARKS.md) at no cost to throughput.

/// The arenas glibc's allocator may create, unless `MALLOC_ARENA_MAX`
/// says otherwise.
pub const MALLOC_ARENAS: i32 = 2;

/// Limits glibc's allocator to [`MALLOC_ARENAS`] arenas, unless the
/// operator set `MALLOC_ARENA_MAX` (glibc reads it itself). Call it first
/// thing in `main`, before any thread starts. Returns whether the limit
/// was set; elsewhere than glibc it does nothing.
pub fn limit_malloc_arenas() -> bool {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return false;
    }
    set_arena_max(MALLOC_ARENAS)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: i32) -> bool {
    // SAFETY: mallopt only sets a tunable of the allocator; M_ARENA_MAX
    // with a positive value is documented as safe to set at any time and
    // affects only arenas created afterwards.
    #[allow(unsafe_code, reason = "mallopt has no safe wrapper")]
    let set = unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    set == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn glibc_takes_the_limit() {
        assert!(set_arena_max(MALLOC_ARENAS), "mallopt accepts M_ARENA_MAX");
    }

    #[test]
    fn a_limit_set_by_the_operator_is_left_to_glibc() {
        // Only read here; glibc read the real value at start.
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            assert!(!limit_malloc_arenas());
        } else {
            assert!(limit_malloc_arenas());
        }
    }
}
