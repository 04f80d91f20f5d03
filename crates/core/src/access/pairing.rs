//! DM pairing: an unknown user gets a one-time code; the owner approves it
//! from the shell (`hermod pairing approve <platform> <code>`).
//!
//! Codes are 8 characters from an alphabet without look-alikes (no 0/O/1/I),
//! drawn from the OS CSPRNG and valid for an hour. Only a salted SHA-256 of
//! each code is stored. At most 3 codes are pending per platform, a user
//! gets at most one code per 10 minutes, and 5 failed approvals lock
//! approvals for the platform for an hour.

use hermod_model::PlatformId;
use hermod_store::{ApprovedUser, PendingPairing, Store, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub(crate) const CODE_LEN: usize = 8;
const CODE_TTL_MS: i64 = 60 * 60 * 1000;
const MAX_PENDING: usize = 3;
const REQUEST_INTERVAL_MS: i64 = 10 * 60 * 1000;
const MAX_FAILURES: u32 = 5;
const LOCKOUT_MS: i64 = 60 * 60 * 1000;

/// The answer to an unknown user's DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingRequest {
    /// A new code to show the user.
    Code(String),
    /// Too many codes are pending; tell the user once, then stay quiet.
    TooMany,
    /// This user asked recently; say nothing.
    Quiet,
}

/// The result of an approval attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproveOutcome {
    Approved {
        user_id: String,
        user_name: Option<String>,
    },
    /// No pending code matches (wrong, expired or already used).
    NoMatch { failures_left: u32 },
    /// Too many failed attempts; approvals are locked until then (Unix ms).
    LockedOut { until_ms: i64 },
}

/// Pairing rules over a [`Store`].
#[derive(Clone, Copy)]
pub struct Pairing<'a> {
    store: &'a dyn Store,
}

impl std::fmt::Debug for Pairing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pairing")
    }
}

fn last_request_key(platform: &PlatformId, user: &str) -> String {
    format!("pairing.last_request:{platform}:{user}")
}

fn failures_key(platform: &PlatformId) -> String {
    format!("pairing.failures:{platform}")
}

fn lockout_key(platform: &PlatformId) -> String {
    format!("pairing.lockout:{platform}")
}

fn hash(salt: &str, code: &str) -> String {
    let digest = Sha256::digest(format!("{salt}{code}").as_bytes());
    hermod_model::to_hex(&digest)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Other(format!("the OS random number generator failed: {e}")))?;
    Ok(bytes)
}

/// A code from the unambiguous alphabet. 32 symbols divide 256 evenly, so
/// taking each byte modulo 32 is unbiased.
fn new_code() -> Result<String, StoreError> {
    let bytes: [u8; CODE_LEN] = random_bytes()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// Upper-cases a typed code and drops spaces and dashes.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase()
}

impl<'a> Pairing<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// An unknown user DMed the bot.
    pub async fn request(
        &self,
        platform: &PlatformId,
        user_id: &str,
        user_name: Option<&str>,
        now_ms: i64,
    ) -> Result<PairingRequest, StoreError> {
        let stamp_key = last_request_key(platform, user_id);
        if let Some(last) = self
            .store
            .setting(&stamp_key)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            && now_ms.saturating_sub(last) < REQUEST_INTERVAL_MS
        {
            return Ok(PairingRequest::Quiet);
        }
        self.store
            .set_setting(&stamp_key, &now_ms.to_string(), now_ms)
            .await?;
        self.store.purge_expired_pairings(now_ms).await?;
        let pending = self.store.pending_pairings(Some(platform), now_ms).await?;
        for old in pending.iter().filter(|p| p.user_id == user_id) {
            self.store.remove_pending_pairing(old.id).await?;
        }
        if pending.iter().filter(|p| p.user_id != user_id).count() >= MAX_PENDING {
            return Ok(PairingRequest::TooMany);
        }
        let code = new_code()?;
        let salt = hermod_model::to_hex(&random_bytes::<16>()?);
        self.store
            .add_pending_pairing(PendingPairing {
                id: 0,
                platform: platform.clone(),
                user_id: user_id.to_owned(),
                user_name: user_name.map(str::to_owned),
                code_hash: hash(&salt, &code),
                salt,
                created_at_ms: now_ms,
                expires_at_ms: now_ms + CODE_TTL_MS,
            })
            .await?;
        Ok(PairingRequest::Code(code))
    }

    /// The owner typed a code.
    pub async fn approve(
        &self,
        platform: &PlatformId,
        code: &str,
        now_ms: i64,
    ) -> Result<ApproveOutcome, StoreError> {
        let lock_key = lockout_key(platform);
        if let Some(until) = self
            .store
            .setting(&lock_key)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            && now_ms < until
        {
            return Ok(ApproveOutcome::LockedOut { until_ms: until });
        }
        let matched = self.pending_with_code(platform, code, now_ms).await?;
        let fail_key = failures_key(platform);
        // A request refused while its code was checked no longer matches.
        if let Some(p) = matched
            && self.grant(&p, now_ms).await?
        {
            self.store.delete_setting(&fail_key).await?;
            return Ok(ApproveOutcome::Approved {
                user_id: p.user_id,
                user_name: p.user_name,
            });
        }
        let failures = self
            .store
            .setting(&fail_key)
            .await?
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        if failures >= MAX_FAILURES {
            let until = now_ms + LOCKOUT_MS;
            self.store
                .set_setting(&lock_key, &until.to_string(), now_ms)
                .await?;
            self.store.delete_setting(&fail_key).await?;
            return Ok(ApproveOutcome::LockedOut { until_ms: until });
        }
        self.store
            .set_setting(&fail_key, &failures.to_string(), now_ms)
            .await?;
        Ok(ApproveOutcome::NoMatch {
            failures_left: MAX_FAILURES - failures,
        })
    }

    /// The pending request on `platform` whose code is `code` (as typed:
    /// case, spaces and dashes do not matter). A miss is not counted
    /// towards the lockout; [`Pairing::approve`] counts its own.
    pub async fn pending_with_code(
        &self,
        platform: &PlatformId,
        code: &str,
        now_ms: i64,
    ) -> Result<Option<PendingPairing>, StoreError> {
        let code = normalize(code);
        let pending = self.store.pending_pairings(Some(platform), now_ms).await?;
        Ok(pending.into_iter().find(|p| {
            let candidate = hash(&p.salt, &code);
            bool::from(candidate.as_bytes().ct_eq(p.code_hash.as_bytes()))
        }))
    }

    /// Approves the user of a pending request the owner chose (by its code,
    /// or from a list of requests): the request is claimed first (taken
    /// out of the pending list), then the user becomes approved and their
    /// other requests on that platform go. `false` when the request was
    /// gone already — refused, approved or expired by someone else in the
    /// meantime — and nobody was approved.
    pub async fn grant(&self, request: &PendingPairing, now_ms: i64) -> Result<bool, StoreError> {
        if !self.store.remove_pending_pairing(request.id).await? {
            return Ok(false);
        }
        self.store
            .approve_user(ApprovedUser {
                platform: request.platform.clone(),
                user_id: request.user_id.clone(),
                user_name: request.user_name.clone(),
                approved_at_ms: now_ms,
            })
            .await?;
        Ok(true)
    }

    /// Refuses a pending request: it goes, and its user stays unknown (a
    /// later message asks for a new code, after the usual wait). Returns
    /// whether the request existed.
    pub async fn deny(&self, request: &PendingPairing) -> Result<bool, StoreError> {
        self.store.remove_pending_pairing(request.id).await
    }

    /// Pending requests (without their codes) and approved users.
    pub async fn list(
        &self,
        platform: Option<&PlatformId>,
        now_ms: i64,
    ) -> Result<(Vec<PendingPairing>, Vec<ApprovedUser>), StoreError> {
        let pending = self.store.pending_pairings(platform, now_ms).await?;
        let approved = self.store.approved_users(platform).await?;
        Ok((pending, approved))
    }

    pub async fn revoke(&self, platform: &PlatformId, user_id: &str) -> Result<bool, StoreError> {
        self.store.revoke_user(platform, user_id).await
    }
}

/// The message an unknown user gets with their code.
pub(crate) fn code_message(platform: &PlatformId, code: &str) -> String {
    format!(
        "Hi! I don't recognize you yet.\n\nHere's your pairing code: `{code}` (valid for one hour)\n\n\
         Ask the bot owner to run:\n`hermod pairing approve {platform} {code}`"
    )
}

pub(crate) const TOO_MANY_MESSAGE: &str =
    "Too many pairing requests right now. Please try again later.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(
                code.chars().all(|c| ALPHABET.contains(&(c as u8))),
                "{code}"
            );
            assert!(!code.contains(['0', 'O', '1', 'I']));
        }
        assert_ne!(new_code().unwrap(), new_code().unwrap());
    }

    #[tokio::test]
    async fn a_request_refused_meanwhile_is_not_granted() {
        let store = hermod_store::SqliteStore::open_in_memory().unwrap();
        let pairing = Pairing::new(&store);
        let platform = PlatformId::from_static("chat");
        let PairingRequest::Code(code) = pairing.request(&platform, "u1", None, 1).await.unwrap()
        else {
            panic!("a first request gets a code");
        };
        let request = pairing
            .pending_with_code(&platform, &code, 2)
            .await
            .unwrap()
            .unwrap();
        // Listed by one owner, refused by another before the first approves.
        assert!(pairing.deny(&request).await.unwrap());
        assert!(!pairing.grant(&request, 3).await.unwrap());
        assert!(!store.is_approved(&platform, "u1").await.unwrap());

        let PairingRequest::Code(code) = pairing.request(&platform, "u2", None, 4).await.unwrap()
        else {
            panic!("a first request gets a code");
        };
        let request = pairing
            .pending_with_code(&platform, &code, 5)
            .await
            .unwrap()
            .unwrap();
        assert!(pairing.grant(&request, 6).await.unwrap());
        assert!(store.is_approved(&platform, "u2").await.unwrap());
        assert!(
            !pairing.deny(&request).await.unwrap(),
            "granted: nothing left to refuse"
        );
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(normalize(" abcd-efgh "), "ABCDEFGH");
        assert_eq!(hash("s", "X"), hash("s", &normalize("x")));
        assert_ne!(hash("s1", "X"), hash("s2", "X"));
    }
}
