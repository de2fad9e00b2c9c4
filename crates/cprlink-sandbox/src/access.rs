//! Who may call: registered certificates, IT-systems (client ids) with their data
//! access and shared secrets, the IP allowlist, and how long a new credential is inert.
//!
//! Owns the sandbox's stand-in for Datafordeler's registrations: a CER uploaded in
//! Self-Service or an OAuth certificate in Administration (a SHA-1 thumbprint with or
//! without CPR access), an IT-system with or without the data access
//! CustomPublicSectorPerson and the shared secrets created on it, and IP whitelisting.
//! New credentials are inert for a while (datafordeler.md 5.2: "credentials younger than
//! about 15-20 minutes" get 401 `DAF-AUTH-0005`): each remembers when it was registered.
//! It answers allowed, 401 or 403 ([`Verdict`]); the endpoints turn that into responses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http;

/// The outcome of an access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// IP not allowlisted or credential not registered: Datafordeler answers 401
    /// `DAF-AUTH-0005` ("no authentication method found") for both.
    Unauthorized,
    /// Registered, but younger than the inert period: 401 `DAF-AUTH-0005` as well.
    Inert,
    /// Authenticated, but without access to CPR (certificate) or without the data
    /// access CustomPublicSectorPerson (IT-system): 403 `DAF-AUTH-0001`.
    Forbidden,
}

/// A registered certificate.
#[derive(Debug, Clone, Copy)]
struct Cert {
    cpr_access: bool,
    registered: Instant,
}

/// A shared secret created on an IT-system.
#[derive(Debug, Clone)]
struct Secret {
    id: u64,
    value: String,
    created: Instant,
}

/// An IT-system in Datafordeler Administration.
#[derive(Debug, Clone)]
struct Client {
    data_access: bool,
    secrets: Vec<Secret>,
}

/// What the admin API shows of an IT-system (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub data_access: bool,
    pub shared_secrets: usize,
}

/// Registered certificates, IT-systems and allowed IPs.
#[derive(Debug, Default)]
pub(crate) struct Access {
    certs: RwLock<BTreeMap<String, Cert>>,
    clients: RwLock<BTreeMap<String, Client>>,
    ips: RwLock<BTreeSet<IpAddr>>,
    inert_ms: AtomicU64,
    next_secret: AtomicU64,
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
    /// How long a credential stays inert after it was registered (0: not at all).
    pub(crate) fn set_inert(&self, inert: Duration) {
        let ms = u64::try_from(inert.as_millis()).unwrap_or(u64::MAX);
        self.inert_ms.store(ms, Ordering::Relaxed);
    }

    fn inert(&self, since: Instant) -> bool {
        let ms = self.inert_ms.load(Ordering::Relaxed);
        ms > 0 && since.elapsed() < Duration::from_millis(ms)
    }

    /// Registers a certificate, or changes the CPR access of a registered one (which
    /// keeps its registration time: a grant is not a new upload).
    pub(crate) fn register(&self, thumbprint: &str, cpr_access: bool) -> Option<String> {
        let t = normalize_thumbprint(thumbprint)?;
        if let Ok(mut m) = self.certs.write() {
            m.entry(t.clone())
                .and_modify(|c| c.cpr_access = cpr_access)
                .or_insert(Cert {
                    cpr_access,
                    registered: Instant::now(),
                });
        }
        Some(t)
    }

    pub(crate) fn unregister(&self, thumbprint: &str) {
        if let (Some(t), Ok(mut m)) = (normalize_thumbprint(thumbprint), self.certs.write()) {
            m.remove(&t);
        }
    }

    /// Creates an IT-system, or changes the data access of an existing one (its shared
    /// secrets stay).
    pub(crate) fn register_client(&self, client_id: &str, data_access: bool) {
        if let Ok(mut m) = self.clients.write() {
            m.entry(client_id.to_owned())
                .and_modify(|c| c.data_access = data_access)
                .or_insert(Client {
                    data_access,
                    secrets: Vec::new(),
                });
        }
    }

    pub(crate) fn unregister_client(&self, client_id: &str) {
        if let Ok(mut m) = self.clients.write() {
            m.remove(client_id);
        }
    }

    pub(crate) fn client_known(&self, client_id: &str) -> bool {
        self.clients.read().is_ok_and(|m| m.contains_key(client_id))
    }

    /// Adds `secret` to the IT-system's shared secrets (created now, so inert for a
    /// while); `false` when the IT-system does not exist. Earlier secrets keep working,
    /// as during a rotation.
    pub(crate) fn add_secret(&self, client_id: &str, secret: String) -> bool {
        let id = self.next_secret.fetch_add(1, Ordering::Relaxed);
        let Ok(mut m) = self.clients.write() else {
            return false;
        };
        let Some(c) = m.get_mut(client_id) else {
            return false;
        };
        c.secrets.push(Secret {
            id,
            value: secret,
            created: Instant::now(),
        });
        true
    }

    /// The id of the IT-system's shared secret that equals `secret`, if any (compared
    /// in constant time).
    pub(crate) fn secret_id(&self, client_id: &str, secret: &str) -> Option<u64> {
        let m = self.clients.read().ok()?;
        m.get(client_id)?
            .secrets
            .iter()
            .find(|s| http::same_secret(&s.value, secret))
            .map(|s| s.id)
    }

    pub(crate) fn clients(&self) -> Vec<ClientView> {
        self.clients
            .read()
            .map(|m| {
                m.iter()
                    .map(|(id, c)| ClientView {
                        client_id: id.clone(),
                        data_access: c.data_access,
                        shared_secrets: c.secrets.len(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn allow_ip(&self, ip: IpAddr) {
        if let Ok(mut s) = self.ips.write() {
            s.insert(canonical(ip));
        }
    }

    pub(crate) fn deny_ip(&self, ip: IpAddr) {
        if let Ok(mut s) = self.ips.write() {
            s.remove(&canonical(ip));
        }
    }

    pub(crate) fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.ips.read().is_ok_and(|s| s.contains(&canonical(ip)))
    }

    /// CPR access of a registered certificate; `None` when it is not registered.
    pub(crate) fn certificate(&self, thumbprint: &str) -> Option<bool> {
        self.certs
            .read()
            .ok()?
            .get(thumbprint)
            .map(|c| c.cpr_access)
    }

    /// The verdict on a certificate alone (REST: no IT-system is involved).
    fn judge_certificate(&self, thumbprint: Option<&str>) -> Verdict {
        let cert = thumbprint.and_then(|t| self.certs.read().ok()?.get(t).copied());
        match cert {
            None => Verdict::Unauthorized,
            Some(c) if self.inert(c.registered) => Verdict::Inert,
            Some(c) if !c.cpr_access => Verdict::Forbidden,
            Some(_) => Verdict::Allowed,
        }
    }

    /// The data-access part of a GraphQL call by `client_id`.
    fn judge_client(&self, client_id: &str, secret: Option<u64>) -> Verdict {
        let Ok(m) = self.clients.read() else {
            return Verdict::Unauthorized;
        };
        let Some(c) = m.get(client_id) else {
            return Verdict::Unauthorized;
        };
        if let Some(id) = secret {
            match c.secrets.iter().find(|s| s.id == id) {
                None => return Verdict::Unauthorized,
                Some(s) if self.inert(s.created) => return Verdict::Inert,
                Some(_) => {}
            }
        }
        if c.data_access {
            Verdict::Allowed
        } else {
            Verdict::Forbidden
        }
    }

    /// The check in front of every REST answer: allowlisted IP, a registered
    /// certificate that is no longer inert, with CPR access.
    pub(crate) fn check(&self, ip: IpAddr, thumbprint: Option<&str>) -> Verdict {
        if !self.ip_allowed(ip) {
            return Verdict::Unauthorized;
        }
        self.judge_certificate(thumbprint)
    }

    /// The check in front of every GraphQL answer for a token issued to `client_id`,
    /// through a certificate (its thumbprint) or a shared secret (its id): the
    /// credential must still be registered and past its inert period, and both the
    /// certificate's CPR access and the IT-system's data access are needed.
    pub(crate) fn check_token(
        &self,
        ip: IpAddr,
        client_id: &str,
        thumbprint: Option<&str>,
        secret: Option<u64>,
    ) -> Verdict {
        if !self.ip_allowed(ip) {
            return Verdict::Unauthorized;
        }
        let by_cert = match thumbprint {
            Some(t) => self.judge_certificate(Some(t)),
            None => Verdict::Allowed,
        };
        let by_client = self.judge_client(client_id, secret);
        // Authentication problems first: a 401 says more than a 403 would.
        for v in [Verdict::Unauthorized, Verdict::Inert, Verdict::Forbidden] {
            if by_cert == v || by_client == v {
                return v;
            }
        }
        Verdict::Allowed
    }

    pub(crate) fn certificates(&self) -> Vec<(String, bool)> {
        self.certs
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.cpr_access)).collect())
            .unwrap_or_default()
    }

    pub(crate) fn ips(&self) -> Vec<IpAddr> {
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

    #[test]
    fn clients_secrets_and_the_inert_period() {
        let a = Access::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        a.allow_ip(ip);
        assert!(!a.add_secret("nobody", "s".into()));
        a.register_client("it", true);
        assert!(a.add_secret("it", "first".into()));
        let first = a.secret_id("it", "first").unwrap();
        assert_eq!(a.secret_id("it", "wrong"), None);
        assert_eq!(a.check_token(ip, "it", None, Some(first)), Verdict::Allowed);

        // Inert: a credential younger than the period is refused as unauthenticated.
        a.set_inert(Duration::from_secs(60));
        assert_eq!(a.check_token(ip, "it", None, Some(first)), Verdict::Inert);
        let t = a.register(&"AB".repeat(20), true).unwrap();
        assert_eq!(a.check(ip, Some(&t)), Verdict::Inert);
        a.set_inert(Duration::ZERO);
        assert_eq!(a.check(ip, Some(&t)), Verdict::Allowed);

        // Data access is the IT-system's; the certificate's CPR access counts too.
        a.register_client("it", false);
        assert_eq!(
            a.check_token(ip, "it", None, Some(first)),
            Verdict::Forbidden
        );
        assert_eq!(a.clients()[0].shared_secrets, 1, "secrets survive");
        a.register_client("it", true);
        a.register(&t, false);
        assert_eq!(a.check_token(ip, "it", Some(&t), None), Verdict::Forbidden);
        a.unregister(&t);
        assert_eq!(
            a.check_token(ip, "it", Some(&t), None),
            Verdict::Unauthorized
        );
        a.unregister_client("it");
        assert_eq!(
            a.check_token(ip, "it", None, Some(first)),
            Verdict::Unauthorized
        );
    }
}
