//! Whether a mail's `From:` domain was authenticated by the receiving
//! server, read from its `Authentication-Results` header (RFC 8601).
//!
//! `From:` is whatever the sender typed; IMAP does not check it. An
//! allowlist of addresses is only worth something when the server that
//! took the mail in vouches for the domain: DMARC passed, or SPF or DKIM
//! passed for a domain aligned with the `From:` domain (equal, or one a
//! subdomain of the other — DMARC's relaxed alignment). The receiving
//! server prepends its header, so the first one is trusted, or the first
//! from `EMAIL_AUTHSERV_ID` when that is set (an attacker can put
//! headers of their own below it). As in Hermes (GHSA-rxqh-5572-8m77).

use mail_parser::Message;

/// The verdict on a mail's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub authenticated: bool,
    /// Why, for the log.
    pub reason: String,
}

impl Verdict {
    fn yes(reason: &str) -> Self {
        Self {
            authenticated: true,
            reason: reason.to_owned(),
        }
    }

    fn no(reason: impl Into<String>) -> Self {
        Self {
            authenticated: false,
            reason: reason.into(),
        }
    }
}

/// Checks `from` (an address) against `message`'s trusted
/// `Authentication-Results`; `authserv_id` pins the server.
pub fn verify(message: &Message<'_>, from: &str, authserv_id: Option<&str>) -> Verdict {
    let headers: Vec<String> = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    verify_values(&headers, from, authserv_id)
}

/// [`verify`] on the header values, first first.
pub fn verify_values(headers: &[String], from: &str, authserv_id: Option<&str>) -> Verdict {
    let Some(from_domain) = domain_of(from) else {
        return Verdict::no("the From address has no domain");
    };
    if headers.is_empty() {
        return Verdict::no("no Authentication-Results header");
    }
    let pinned = authserv_id.map(str::trim).filter(|s| !s.is_empty());
    let trusted = headers.iter().find(|value| {
        pinned.is_none_or(|id| {
            let server = value.split(';').next().unwrap_or_default().trim();
            // `server` may carry a version: `mx.example.org 1`.
            let server = server.split_whitespace().next().unwrap_or_default();
            aligned(server, id)
        })
    });
    let Some(trusted) = trusted else {
        return Verdict::no("no Authentication-Results from EMAIL_AUTHSERV_ID");
    };
    for clause in trusted.split(';').skip(1) {
        let mut words = clause.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        if !result.eq_ignore_ascii_case("pass") {
            continue;
        }
        let props: Vec<(String, &str)> = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"')))
            .collect();
        let prop = |names: &[&str]| {
            props
                .iter()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| domain_of(v).unwrap_or_else(|| v.to_ascii_lowercase()))
        };
        let aligned_with = |names: &[&str]| prop(names).is_some_and(|d| aligned(&d, &from_domain));
        match method.to_ascii_lowercase().as_str() {
            "dmarc" => return Verdict::yes("dmarc=pass"),
            "spf" if aligned_with(&["smtp.mailfrom", "smtp.from", "envelope-from"]) => {
                return Verdict::yes("spf=pass aligned");
            }
            "dkim" if aligned_with(&["header.d", "header.i", "header.from"]) => {
                return Verdict::yes("dkim=pass aligned");
            }
            _ => {}
        }
    }
    let shown: String = trusted.chars().take(120).collect();
    Verdict::no(format!("not authenticated ({shown})"))
}

/// The lower-case domain of an address (or `@domain`), if it has one.
fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// Equal, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim().trim_end_matches('.').to_ascii_lowercase();
    !a.is_empty()
        && !b.is_empty()
        && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[&str], from: &str, pinned: Option<&str>) -> Verdict {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        verify_values(&headers, from, pinned)
    }

    #[test]
    fn dmarc_or_aligned_spf_or_dkim_authenticates() {
        let dmarc = "mx.example.com; dmarc=pass header.from=example.org";
        assert!(check(&[dmarc], "jane@example.org", None).authenticated);
        let spf = "mx.example.com; spf=pass smtp.mailfrom=bounce@mail.example.org";
        assert!(check(&[spf], "jane@example.org", None).authenticated);
        let dkim = "mx.example.com; dkim=pass header.d=example.org header.s=s1";
        assert!(check(&[dkim], "jane@example.org", None).authenticated);
    }

    #[test]
    fn failures_and_unaligned_passes_do_not() {
        let none = check(&[], "jane@example.org", None);
        assert!(!none.authenticated);
        assert_eq!(none.reason, "no Authentication-Results header");
        let spoof = "mx.example.com; spf=pass smtp.mailfrom=evil@attacker.test; dkim=pass header.d=attacker.test; dmarc=fail";
        assert!(!check(&[spoof], "jane@example.org", None).authenticated);
        let softfail = "mx.example.com; spf=softfail smtp.mailfrom=jane@example.org";
        assert!(!check(&[softfail], "jane@example.org", None).authenticated);
        assert!(!aligned("notexample.org", "example.org"));
    }

    #[test]
    fn only_the_first_header_or_the_pinned_server_counts() {
        let ours = "mx.example.com; dmarc=fail";
        let injected = "mx.example.com; dmarc=pass";
        assert!(!check(&[ours, injected], "jane@example.org", None).authenticated);
        let forged = "evil.test; dmarc=pass";
        let real = "mx.example.com 1; dkim=pass header.d=example.org";
        assert!(check(&[forged, real], "jane@example.org", Some("example.com")).authenticated);
        assert!(!check(&[forged], "jane@example.org", Some("example.com")).authenticated);
    }
}
