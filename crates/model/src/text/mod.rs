//! Pure text algorithms applied to agent replies on their way to a chat:
//! hiding reasoning blocks ([`think`]), recognising replies that ask for no
//! message ([`silence`]) and splitting long replies to fit a platform's
//! message limit ([`split`]). The main items are re-exported here.

mod fence;
pub mod silence;
pub mod split;
pub mod think;

pub use silence::{MAX_SILENCE_CHARS, is_silence, may_become_silence};
pub use split::{Cut, MIN_SPLIT_LIMIT, cut, reassemble, split_message};
pub use think::{ThinkFilter, strip_think};

/// `20 MB`, `1.5 MB`, `512 KB`, `100 bytes`.
pub fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= KB {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}
