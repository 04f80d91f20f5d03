//! The few operating-system calls hermod makes that the standard library
//! does not offer. This is the only crate allowed `unsafe` code, each use
//! a single system call with its safety argument beside it.
//!
//! - [`release_startup_code`]: once the gateway is ready, the pages of
//!   its executable that only start-up used (parsing the configuration,
//!   migrating the database, building every adapter) are handed back to
//!   the kernel. They are clean pages of a read-only file mapping, so
//!   nothing is lost: a page that is needed again is read back from the
//!   file (or the page cache) on its next use. An idle gateway's resident
//!   memory then holds the code it runs while idle, not the code it ran
//!   once.
//! - [`limit_malloc_arenas`]: glibc's allocator limited to two arenas,
//!   so idle threads do not each keep freed memory.

mod malloc;
mod pages;

pub use malloc::{MALLOC_ARENAS, limit_malloc_arenas};
pub use pages::{Released, release_startup_code};
