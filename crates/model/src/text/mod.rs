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
