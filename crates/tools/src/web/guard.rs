//! What `web_fetch` may connect to: public addresses only, unless the
//! config allows private ones or names the host.
//!
//! The check sits where it cannot be bypassed. Host names are resolved by
//! [`GuardedResolver`], which drops forbidden addresses, so the address
//! checked is the address connected to and a name that resolves to a
//! public address once and to 127.0.0.1 the next time (DNS rebinding) is
//! still refused. IP-literal hosts skip the resolver, so
//! [`Policy::check_url`] checks them before the first request and on every
//! redirect hop.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Blocked {
    #[error("only http and https URLs can be fetched, not {0}:")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error(
        "{host} is {ip}, a {kind} address; web_fetch reaches public addresses only (an operator can allow this host with web_fetch.allow_hosts)"
    )]
    Address {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
    #[error("{host} has no addresses")]
    Unresolved { host: String },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
}

/// Who may be reached.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) allow_private: bool,
    /// Lower-case, without a trailing dot.
    pub(crate) allow_hosts: HashSet<String>,
    pub(crate) max_redirects: usize,
}

impl Policy {
    pub(crate) fn new(allow_private: bool, allow_hosts: &[String], max_redirects: usize) -> Self {
        Self {
            allow_private,
            allow_hosts: allow_hosts.iter().map(|h| canonical_host(h)).collect(),
            max_redirects,
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.allow_private || self.allow_hosts.contains(&canonical_host(host))
    }

    /// The scheme, and the host when it is an IP literal (names are checked
    /// when they are resolved).
    pub(crate) fn check_url(&self, url: &reqwest::Url) -> Result<(), Blocked> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(Blocked::Scheme(other.to_owned())),
        }
        let host = url.host_str().ok_or(Blocked::NoHost)?;
        if self.host_allowed(host) {
            return Ok(());
        }
        // The URL parser has already turned every IPv4 spelling (decimal,
        // octal, hex, short forms) into dotted quads.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && let Some(kind) = forbidden_kind(ip)
        {
            return Err(Blocked::Address {
                host: host.to_owned(),
                ip,
                kind,
            });
        }
        Ok(())
    }

    /// The redirect policy: at most `max_redirects` hops, each checked.
    pub(crate) fn redirects(self: &Arc<Self>) -> reqwest::redirect::Policy {
        let policy = Arc::clone(self);
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > policy.max_redirects {
                let max = policy.max_redirects;
                return attempt.error(Blocked::TooManyRedirects(max));
            }
            match policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(blocked) => attempt.error(blocked),
            }
        })
    }
}

fn canonical_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Resolves names with the system resolver and keeps only the addresses
/// the [`Policy`] allows.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.host_allowed(&host) {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match forbidden_kind(addr.ip()) {
                    None => true,
                    Some(kind) => {
                        refused.get_or_insert((addr.ip(), kind));
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let blocked = match refused {
                    Some((ip, kind)) => Blocked::Address { host, ip, kind },
                    None => Blocked::Unresolved { host },
                };
                return Err(blocked.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Whether `web_fetch` refuses `ip` by default: every address that is not
/// a public unicast address, in IPv4 and IPv6, including IPv4 addresses
/// embedded in IPv6 (mapped, compatible, NAT64, 6to4).
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    forbidden_kind(ip).is_some()
}

/// What kind of non-public address `ip` is, or `None` when it is public.
pub(crate) fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (\"this network\")"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT (shared)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "protocol-assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4-relay"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4 inside IPv6: judged as the IPv4 address it carries.
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) // mapped
        || in_v6(ip, [0; 8], 96) // compatible (deprecated)
        || in_v6(ip, [0, 0, 0, 0, 0xffff, 0, 0, 0], 96) // translated (SIIT)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    // NAT64
    {
        return forbidden_v4(low_v4);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return forbidden_v4(v4);
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local NAT64"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48, "benchmarking"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local (private)"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(ip: &str) -> bool {
        is_forbidden_ip(ip.parse().unwrap())
    }

    #[test]
    fn every_non_public_v4_range_is_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn public_v4_is_allowed_including_range_edges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn every_non_public_v6_range_is_forbidden() {
        for ip in [
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00:ec2::254",
            "fdff:ffff::1",
            "ff02::1",
            "ff05::2",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "2001::1",
            "fec0::1",
            "64:ff9b:1::1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_by_its_ipv4() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn public_v6_is_allowed() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2001:4860::1",
        ] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn ip_literal_urls_are_checked_in_every_spelling() {
        let policy = Policy::new(false, &[], 5);
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:80/",
            "http://[fd00:ec2::254]/",
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert!(
                matches!(policy.check_url(&parsed), Err(Blocked::Address { .. })),
                "{url} should be refused"
            );
        }
        let ok = reqwest::Url::parse("https://93.184.215.14/").unwrap();
        assert_eq!(policy.check_url(&ok), Ok(()));
        let named = reqwest::Url::parse("https://example.com/").unwrap();
        assert_eq!(
            policy.check_url(&named),
            Ok(()),
            "names are checked when resolved"
        );
        for url in ["file:///etc/passwd", "ftp://example.com/", "gopher://x/"] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert!(
                matches!(policy.check_url(&parsed), Err(Blocked::Scheme(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn allowed_hosts_and_allow_private_open_the_gate() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/").unwrap();
        assert!(Policy::new(true, &[], 5).check_url(&url).is_ok());
        assert!(
            Policy::new(false, &["127.0.0.1".into()], 5)
                .check_url(&url)
                .is_ok()
        );
        assert!(
            Policy::new(false, &["127.0.0.2".into()], 5)
                .check_url(&url)
                .is_err()
        );
        let policy = Policy::new(false, &["Wiki.LAN.".into()], 5);
        assert!(policy.host_allowed("wiki.lan"));
        assert!(!policy.host_allowed("other.lan"));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let resolver = GuardedResolver {
            policy: Arc::new(Policy::new(false, &[], 5)),
        };
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        let blocked = err
            .downcast_ref::<Blocked>()
            .unwrap_or_else(|| panic!("a Blocked error, not {err:?}"));
        assert!(
            matches!(
                blocked,
                Blocked::Address {
                    kind: "loopback",
                    ..
                }
            ),
            "{blocked:?}"
        );

        let open = GuardedResolver {
            policy: Arc::new(Policy::new(false, &["localhost".into()], 5)),
        };
        let addrs: Vec<_> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
