//! Wall-clock timestamps and new session ids. Timers use tokio's clock;
//! only timestamps that are stored come from here.

use hermod_model::SessionId;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A fresh gateway session id, `YYYYmmdd_HHMMSS_<8 hex>` in UTC.
pub fn new_session_id() -> SessionId {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d_%H%M%S").to_string();
    let mut bytes = [0u8; 4];
    // The OS RNG failing is not recoverable in any useful way; fall back to
    // the clock's nanoseconds so ids stay unique enough to make progress.
    let random = match getrandom::fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => jiff::Timestamp::now().subsec_nanosecond().unsigned_abs(),
    };
    SessionId::from_parts(&stamp, random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_have_the_gateway_format_and_differ() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        let s = a.as_str();
        assert_eq!(s.len(), "20261121_045332_ed0abc54".len());
        assert_eq!(&s[8..9], "_");
        assert!(SessionId::parse(s).is_ok());
    }
}
