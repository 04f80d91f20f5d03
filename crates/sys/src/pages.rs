//! Handing the executable's resident read-only pages back to the kernel
//! (`MADV_PAGEOUT`, Linux 5.4 and later).

use std::fmt;

/// What [`release_startup_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// This many bytes of the executable's read-only mappings were handed
    /// back (resident or not; the kernel keeps what others share).
    Bytes(u64),
    /// The kernel or the platform does not offer it; nothing changed.
    Unsupported,
}

impl fmt::Display for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Released::Bytes(n) => write!(
                f,
                "{:.1} MiB of start-up code released",
                *n as f64 / 1_048_576.0
            ),
            Released::Unsupported => f.write_str("releasing start-up code is not supported here"),
        }
    }
}

/// A mapping of `/proc/self/maps`: its address range, whether it is
/// writable, and the inode of its file (0 for anonymous memory).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    writable: bool,
    inode: u64,
}

/// One line of `/proc/<pid>/maps`:
/// `start-end perms offset dev inode [path]`.
fn parse_mapping(line: &str) -> Option<Mapping> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let inode = fields.next()?.parse().ok()?;
    Some(Mapping {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        writable: perms.as_bytes().get(1) == Some(&b'w'),
        inode,
    })
}

/// The read-only mappings of the file with inode `inode` (the executable).
fn read_only_mappings_of(maps: &str, inode: u64) -> Vec<Mapping> {
    maps.lines()
        .filter_map(parse_mapping)
        .filter(|m| m.inode == inode && !m.writable && m.end > m.start)
        .collect()
}

/// Hands the executable's read-only pages (its code and constants) back
/// to the kernel; those still in use come back on their next access.
/// Call it once start-up is over. Errors say what could not be read.
#[cfg(target_os = "linux")]
pub fn release_startup_code() -> std::io::Result<Released> {
    use std::os::unix::fs::MetadataExt;

    let inode = std::fs::metadata("/proc/self/exe")?.ino();
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut released = 0u64;
    for mapping in read_only_mappings_of(&maps, inode) {
        let len = mapping.end - mapping.start;
        // SAFETY: the range is a whole mapping of this process, read from
        // /proc/self/maps, of the executable file and not writable.
        // MADV_PAGEOUT only reclaims pages: the contents of a private
        // read-only file mapping are read back from the file on the next
        // access, so no memory the program can observe changes. The
        // executable cannot be modified in place while it runs (ETXTBSY),
        // and a replaced file keeps its old inode alive for this mapping.
        #[allow(unsafe_code, reason = "madvise has no safe wrapper in std")]
        let result =
            unsafe { libc::madvise(mapping.start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if result != 0 {
            let error = std::io::Error::last_os_error();
            // Kernels before 5.4 do not know MADV_PAGEOUT.
            if error.raw_os_error() == Some(libc::EINVAL) {
                return Ok(Released::Unsupported);
            }
            return Err(error);
        }
        released += len as u64;
    }
    Ok(Released::Bytes(released))
}

/// Elsewhere there is nothing to release this way.
#[cfg(not(target_os = "linux"))]
pub fn release_startup_code() -> std::io::Result<Released> {
    Ok(Released::Unsupported)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0e33000 r--p 00000000 fe:00 12765472                   /opt/hermod/bin/hermod
55d0c0e33000-55d0c1975000 r-xp 00432000 fe:00 12765472                   /opt/hermod/bin/hermod
55d0c1975000-55d0c19eb000 r--p 00f73000 fe:00 12765472                   /opt/hermod/bin/hermod
55d0c19eb000-55d0c19f4000 rw-p 00fe8000 fe:00 12765472                   /opt/hermod/bin/hermod
55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0                          [heap]
7f01c9f41000-7f01c9f49000 rw-s 00000000 fe:00 10701126                   /home/u/.hermod/hermod.db-shm
7f01ca000000-7f01ca1c0000 r-xp 00028000 fe:00 393222                     /usr/lib/x86_64-linux-gnu/libc.so.6
7fff00000000-7fff00021000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn only_the_executables_read_only_mappings_are_chosen() {
        let chosen = read_only_mappings_of(MAPS, 12_765_472);
        assert_eq!(
            chosen.iter().map(|m| m.start).collect::<Vec<_>>(),
            [0x55d0_c0a0_0000, 0x55d0_c0e3_3000, 0x55d0_c197_5000],
            "its code and constants, not its writable data, the heap, the database or libc"
        );
        assert_eq!(chosen[1].end, 0x55d0_c197_5000);
    }

    #[test]
    fn a_deleted_executable_is_still_matched_by_inode() {
        let maps = "5600-5700 r-xp 00000000 fe:00 42 /opt/hermod (deleted)\n";
        assert_eq!(read_only_mappings_of(maps, 42).len(), 1);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let maps = "garbage\n5600-zz r-xp 0 fe:00 42 /x\n5600-5700 r-xp 0 fe:00\n";
        assert!(read_only_mappings_of(maps, 42).is_empty());
    }

    /// The resident kilobytes of the executable's read-only mappings,
    /// from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn resident_code_kib() -> u64 {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata("/proc/self/exe").unwrap().ino();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut counting = false;
        let mut total = 0;
        for line in smaps.lines() {
            if let Some(mapping) = parse_mapping(line) {
                counting = mapping.inode == inode && !mapping.writable;
            } else if let Some(rest) = line.strip_prefix("Rss:")
                && counting
            {
                let kib = rest.trim().trim_end_matches("kB").trim();
                total += kib.parse::<u64>().unwrap();
            }
        }
        total
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_code_of_a_running_program_is_released_and_still_runs() {
        let before = resident_code_kib();
        let released = release_startup_code().unwrap();
        let after = resident_code_kib();
        match released {
            Released::Bytes(n) => {
                assert!(n > 0, "the test binary has code");
                assert!(
                    after < before,
                    "resident code {before} KiB before, {after} KiB after"
                );
            }
            Released::Unsupported => assert!(after > 0),
        }
        // Code runs after its pages were handed back: they fault in again.
        assert_eq!(parse_mapping("1-2 r-xp 0 0:0 7").unwrap().inode, 7);
        assert_eq!(
            Released::Bytes(1_048_576).to_string(),
            "1.0 MiB of start-up code released"
        );
    }
}
