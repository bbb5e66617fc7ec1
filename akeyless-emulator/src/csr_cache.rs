//! Certificate signing requests already parsed and verified, by their exact encoding.
//!
//! Checking a CSR's signature is the most expensive step of `/get-pki-certificate`, and a
//! client that asks for several certificates commonly sends the same CSR each time (one key,
//! several issuers or renewals). The emulator shares the benchmark machine's cores with the
//! client it measures, so it does that check once per distinct CSR. The answer cannot differ:
//! the same bytes parse and verify the same way, and the certificate is still signed anew for
//! every request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rcgen::CertificateSigningRequestParams;

/// Distinct CSRs remembered; beyond it the cache starts over, so memory stays bounded
/// whatever the clients send.
const CAPACITY: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct VerifiedCsrs {
    by_encoding: Mutex<HashMap<String, CertificateSigningRequestParams>>,
}

impl VerifiedCsrs {
    /// The parsed CSR of `encoded`, from the cache or from `parse_and_verify`; only a CSR that
    /// verified is remembered.
    pub(crate) fn get_or_verify<E>(
        &self,
        encoded: &str,
        parse_and_verify: impl FnOnce(&str) -> Result<CertificateSigningRequestParams, E>,
    ) -> Result<CertificateSigningRequestParams, E> {
        if let Some(known) = self.lock().get(encoded) {
            return Ok(known.clone());
        }
        // Verified outside the lock: concurrent requests with different CSRs do not wait for
        // each other, and two racing on the same CSR only both verify it.
        let parsed = parse_and_verify(encoded)?;
        let mut cache = self.lock();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(encoded.to_owned(), parsed.clone());
        Ok(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CertificateSigningRequestParams>> {
        // The map is only read or replaced whole-entry, so a panic elsewhere cannot leave it
        // inconsistent.
        self.by_encoding
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn csr_pem(name: &str) -> String {
        let key = KeyPair::generate().expect("a P-256 key");
        CertificateParams::new(vec![name.to_owned()])
            .expect("a valid name")
            .serialize_request(&key)
            .expect("a CSR")
            .pem()
            .expect("PEM")
    }

    #[test]
    fn a_csr_is_verified_once_and_failures_are_not_remembered() {
        let cache = VerifiedCsrs::default();
        let pem = csr_pem("one.example.com");
        let mut verifications = 0;
        for _ in 0..3 {
            let parsed = cache
                .get_or_verify(&pem, |text| {
                    verifications += 1;
                    CertificateSigningRequestParams::from_pem(text)
                })
                .expect("a valid CSR");
            assert_eq!(
                parsed.params.subject_alt_names.len(),
                1,
                "the cached CSR is the parsed one"
            );
        }
        assert_eq!(verifications, 1);

        let mut attempts = 0;
        for _ in 0..2 {
            let outcome = cache.get_or_verify("not a csr", |text| {
                attempts += 1;
                CertificateSigningRequestParams::from_pem(text)
            });
            assert!(outcome.is_err());
        }
        assert_eq!(attempts, 2, "an invalid CSR is checked every time");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedCsrs::default();
        let pem = csr_pem("two.example.com");
        for index in 0..CAPACITY + 10 {
            // Distinct keys for one parsed CSR: only the bound is under test.
            let key = format!("{pem}{index}");
            cache
                .get_or_verify(&key, |_| CertificateSigningRequestParams::from_pem(&pem))
                .expect("a valid CSR");
        }
        assert!(cache.lock().len() <= CAPACITY);
    }
}
