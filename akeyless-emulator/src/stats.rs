//! Per-operation request counters and login counts (`GET /__emulator/stats`). Lock-free: one atomic
//! per counter, so counting costs nothing measurable under benchmark load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// An Akeyless operation the emulator serves (`POST <prefix>/<name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `/auth`
    Auth,
    /// `/describe-item`
    DescribeItem,
    /// `/get-secret-value`
    GetSecretValue,
    /// `/get-dynamic-secret-value`
    GetDynamicSecretValue,
    /// `/get-rotated-secret-value`
    GetRotatedSecretValue,
    /// `/get-ssh-certificate`
    #[serde(rename = "get-ssh-certificate")]
    GetSshCertificate,
    /// `/get-pki-certificate`
    #[serde(rename = "get-pki-certificate")]
    GetPkiCertificate,
    /// `/get-certificate-value`
    GetCertificateValue,
    /// `/validate-token`
    ValidateToken,
    /// `/list-items`
    ListItems,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 10] = [
        Self::Auth,
        Self::DescribeItem,
        Self::GetSecretValue,
        Self::GetDynamicSecretValue,
        Self::GetRotatedSecretValue,
        Self::GetSshCertificate,
        Self::GetPkiCertificate,
        Self::GetCertificateValue,
        Self::ValidateToken,
        Self::ListItems,
    ];

    /// The path segment, e.g. `get-secret-value`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::DescribeItem => "describe-item",
            Self::GetSecretValue => "get-secret-value",
            Self::GetDynamicSecretValue => "get-dynamic-secret-value",
            Self::GetRotatedSecretValue => "get-rotated-secret-value",
            Self::GetSshCertificate => "get-ssh-certificate",
            Self::GetPkiCertificate => "get-pki-certificate",
            Self::GetCertificateValue => "get-certificate-value",
            Self::ValidateToken => "validate-token",
            Self::ListItems => "list-items",
        }
    }

    /// The operation a path segment names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A snapshot of the counters, as served by `GET /__emulator/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received per operation, including rejected and fault-injected ones.
    pub requests: BTreeMap<Operation, u64>,
    /// Successful `/auth` calls.
    pub logins: u64,
    /// `/auth` calls rejected with 401.
    pub failed_logins: u64,
    /// Requests answered by fault injection instead of the operation.
    pub faults_injected: u64,
    /// TCP connections accepted: what a client paid in handshakes.
    #[serde(default)]
    pub connections: u64,
    /// Of those, TLS connections that negotiated HTTP/2 (ALPN `h2`).
    #[serde(default)]
    pub h2_connections: u64,
    /// Items returned by `/list-items`, all answers together: what listings
    /// cost the server.
    #[serde(default)]
    pub listed_items: u64,
}

impl Stats {
    /// Requests received for `operation`.
    pub fn requests(&self, operation: Operation) -> u64 {
        self.requests.get(&operation).copied().unwrap_or(0)
    }

    /// Requests received for all operations together.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: [AtomicU64; Operation::ALL.len()],
    logins: AtomicU64,
    failed_logins: AtomicU64,
    faults_injected: AtomicU64,
    connections: AtomicU64,
    h2_connections: AtomicU64,
    listed_items: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self, op: Operation) {
        self.requests[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failed_login(&self) {
        self.failed_logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fault(&self) {
        self.faults_injected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn h2_connection(&self) {
        self.h2_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn listed(&self, items: usize) {
        self.listed_items.fetch_add(items as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests: Operation::ALL
                .into_iter()
                .map(|op| (op, self.requests[op.index()].load(Ordering::Relaxed)))
                .collect(),
            logins: self.logins.load(Ordering::Relaxed),
            failed_logins: self.failed_logins.load(Ordering::Relaxed),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            h2_connections: self.h2_connections.load(Ordering::Relaxed),
            listed_items: self.listed_items.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), op.name());
        }
    }
}
