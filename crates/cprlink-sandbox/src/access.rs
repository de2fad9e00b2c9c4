//! Who may call: registered certificate thumbprints and the IP allowlist.
//!
//! Owns the sandbox's stand-in for Datafordeler's registration (a CER uploaded in
//! Self-Service, or an OAuth certificate in Administration) and its IP whitelisting.
//! It answers "allowed, 401 or 403"; the endpoints turn that into responses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::RwLock;

/// The outcome of an access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// IP not allowlisted or certificate not registered: Datafordeler answers 401
    /// `DAF-AUTH-0005` ("no authentication method found") for both.
    Unauthorized,
    /// Registered, but without access to CPR: 403.
    Forbidden,
}

/// Registered certificates (SHA-1 thumbprint -> CPR access) and allowed IPs.
#[derive(Debug, Default)]
pub struct Access {
    certs: RwLock<BTreeMap<String, bool>>,
    ips: RwLock<BTreeSet<IpAddr>>,
}

/// A SHA-1 thumbprint in the SPEC's form (upper-case hex, no separators), from any
/// common spelling (lower case, colons or spaces between bytes).
pub fn normalize_thumbprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

fn canonical(ip: IpAddr) -> IpAddr {
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    ip.to_canonical()
}

impl Access {
    pub fn register(&self, thumbprint: &str, cpr_access: bool) -> Option<String> {
        let t = normalize_thumbprint(thumbprint)?;
        if let Ok(mut m) = self.certs.write() {
            m.insert(t.clone(), cpr_access);
        }
        Some(t)
    }

    pub fn unregister(&self, thumbprint: &str) {
        if let (Some(t), Ok(mut m)) = (normalize_thumbprint(thumbprint), self.certs.write()) {
            m.remove(&t);
        }
    }

    pub fn allow_ip(&self, ip: IpAddr) {
        if let Ok(mut s) = self.ips.write() {
            s.insert(canonical(ip));
        }
    }

    pub fn deny_ip(&self, ip: IpAddr) {
        if let Ok(mut s) = self.ips.write() {
            s.remove(&canonical(ip));
        }
    }

    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.ips.read().is_ok_and(|s| s.contains(&canonical(ip)))
    }

    /// CPR access of a registered certificate; `None` when it is not registered.
    pub fn certificate(&self, thumbprint: &str) -> Option<bool> {
        self.certs.read().ok()?.get(thumbprint).copied()
    }

    /// The check in front of every CPR answer.
    pub fn check(&self, ip: IpAddr, thumbprint: Option<&str>) -> Verdict {
        if !self.ip_allowed(ip) {
            return Verdict::Unauthorized;
        }
        match thumbprint.and_then(|t| self.certificate(t)) {
            None => Verdict::Unauthorized,
            Some(false) => Verdict::Forbidden,
            Some(true) => Verdict::Allowed,
        }
    }

    pub fn certificates(&self) -> Vec<(String, bool)> {
        self.certs
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    pub fn ips(&self) -> Vec<IpAddr> {
        self.ips
            .read()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_and_verdicts() {
        let a = Access::default();
        let t = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01";
        let norm = a.register(t, false).unwrap();
        assert_eq!(norm, "ABCDEF0123456789ABCDEF0123456789ABCDEF01");
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(a.check(ip, Some(&norm)), Verdict::Unauthorized);
        a.allow_ip("::ffff:127.0.0.1".parse().unwrap());
        assert_eq!(a.check(ip, Some(&norm)), Verdict::Forbidden);
        a.register(&norm, true);
        assert_eq!(a.check(ip, Some(&norm)), Verdict::Allowed);
        assert_eq!(a.check(ip, None), Verdict::Unauthorized);
        a.unregister(&norm.to_lowercase());
        assert_eq!(a.check(ip, Some(&norm)), Verdict::Unauthorized);
        assert!(a.register("nothex", true).is_none());
    }
}
