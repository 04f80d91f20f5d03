//! Sign-in tokens for the web page: `hermod-web.<expiry>.<mac>`, where
//! `<expiry>` is a Unix time in seconds and `<mac>` the lower-case hex
//! HMAC-SHA256 of `hermod-web.<expiry>` under the API key.
//!
//! `hermod web token` makes one from the key in the configuration, so a
//! person can sign in to the page without copying the key itself into a
//! browser, and the sign-in lapses on its own. The server keeps no list of
//! tokens: the key checks them, so they survive restarts, and changing the
//! key revokes every one at once. The MAC is compared in constant time.

use hermod_model::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// The first field of every token, and the start of the signed text.
pub(crate) const PREFIX: &str = "hermod-web";

/// Length of the MAC in hex.
const MAC_HEX_LEN: usize = 64;

/// The longest a token may live: `hermod web token --hours` goes up to 30
/// days. A token valid for longer was not made by hermod (whoever holds
/// the key could mint one for the year 9999), and is refused, so every
/// sign-in lapses within a month even if the key never changes.
pub(crate) const MAX_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// Leeway for a clock that runs a little ahead where the token was made.
const CLOCK_SKEW_SECS: u64 = 300;

/// Checks sign-in tokens against the API key.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginTokens {
    /// `None`: no key, so no token is accepted.
    key: Option<Arc<Secret>>,
}

impl LoginTokens {
    pub(crate) fn new(key: Option<&Secret>) -> Self {
        Self {
            key: key.filter(|k| !k.is_empty()).cloned().map(Arc::new),
        }
    }

    /// Whether `token` was made with the key and has not expired by `now`
    /// (Unix seconds).
    pub(crate) fn accepts_at(&self, token: &[u8], now: u64) -> bool {
        let Some(key) = &self.key else {
            return false;
        };
        let Ok(token) = std::str::from_utf8(token) else {
            return false;
        };
        let Some((signed, mac_hex)) = token.rsplit_once('.') else {
            return false;
        };
        let Some(expiry) = signed
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_prefix('.'))
        else {
            return false;
        };
        // Digits only: `u64::from_str` would also take a leading `+`, and
        // one expiry must have one spelling.
        if expiry.is_empty() || expiry.len() > 20 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(expiry) = expiry.parse::<u64>() else {
            return false;
        };
        if expiry <= now || expiry > now.saturating_add(MAX_LIFETIME_SECS + CLOCK_SKEW_SECS) {
            return false;
        }
        let Some(presented) = from_hex(mac_hex) else {
            return false;
        };
        // `verify_slice` compares in constant time.
        mac(key, signed).verify_slice(&presented).is_ok()
    }
}

/// A token made with `key`, valid until `expiry` (Unix seconds).
#[cfg(test)]
pub(crate) fn issue(key: &Secret, expiry: u64) -> String {
    let signed = format!("{PREFIX}.{expiry}");
    let tag = mac(key, &signed).finalize().into_bytes();
    format!("{signed}.{}", hermod_model::to_hex(&tag))
}

fn mac(key: &Secret, signed: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(signed.as_bytes());
    mac
}

/// Lower-case hex of exactly [`MAC_HEX_LEN`] digits, decoded.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != MAC_HEX_LEN {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn tokens() -> LoginTokens {
        LoginTokens::new(Some(&Secret::new("test-key-0123456789abcdef")))
    }

    fn token(expiry: u64) -> String {
        issue(&Secret::new("test-key-0123456789abcdef"), expiry)
    }

    #[test]
    fn a_token_is_accepted_until_it_expires() {
        let t = token(NOW + 3600);
        assert!(t.starts_with("hermod-web.1800003600."), "{t}");
        assert!(tokens().accepts_at(t.as_bytes(), NOW));
        assert!(tokens().accepts_at(t.as_bytes(), NOW + 3599));
        assert!(!tokens().accepts_at(t.as_bytes(), NOW + 3600));
        assert!(!tokens().accepts_at(t.as_bytes(), NOW + 7200));
    }

    #[test]
    fn a_token_living_longer_than_hermod_issues_is_refused() {
        let longest = token(NOW + MAX_LIFETIME_SECS);
        assert!(tokens().accepts_at(longest.as_bytes(), NOW));
        let forever = token(NOW + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS + 1);
        assert!(!tokens().accepts_at(forever.as_bytes(), NOW));
        assert!(!tokens().accepts_at(token(u64::MAX).as_bytes(), NOW));
    }

    #[test]
    fn another_keys_token_is_refused() {
        let other = issue(&Secret::new("other-key-0123456789abcdef"), NOW + 3600);
        assert!(!tokens().accepts_at(other.as_bytes(), NOW));
        assert!(!LoginTokens::new(None).accepts_at(token(NOW + 3600).as_bytes(), NOW));
        assert!(
            !LoginTokens::new(Some(&Secret::new("")))
                .accepts_at(issue(&Secret::new(""), NOW + 3600).as_bytes(), NOW),
            "no key, no tokens"
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let good = token(NOW + 3600);
        let (signed, mac) = good.rsplit_once('.').unwrap();
        let later = good.replace("1800003600", "1900003600");
        let flipped = format!(
            "{signed}.{}{}",
            &mac[..63],
            if mac.ends_with('0') { '1' } else { '0' }
        );
        let upper = format!("{signed}.{}", mac.to_ascii_uppercase());
        let plus = good.replace(".1800003600.", ".+1800003600.");
        for bad in [
            later.as_str(),
            flipped.as_str(),
            upper.as_str(),
            plus.as_str(),
            &good[..good.len() - 2],
            &format!("{good}00"),
            &good.replace("hermod-web", "hermod-api"),
            "hermod-web..",
            "hermod-web",
            "",
            signed,
            "test-key-0123456789abcdef",
        ] {
            assert!(!tokens().accepts_at(bad.as_bytes(), NOW), "{bad}");
        }
        assert!(!tokens().accepts_at(b"hermod-web.1\xff.00", NOW));
    }

    #[test]
    fn the_mac_is_hmac_sha256_of_the_prefix_and_expiry() {
        // Computed independently: printf 'hermod-web.1800003600' |
        // openssl dgst -sha256 -hmac test-key-0123456789abcdef
        let t = token(NOW + 3600);
        assert_eq!(
            t.rsplit_once('.').unwrap().1,
            "139d723a41fdc4b7fe476e7373fb075e1a01bd42994ee81ec20f62a7d45c6dba"
        );
    }
}
