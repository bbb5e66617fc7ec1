//! `/get-ssh-certificate` and `/get-pki-certificate`: real certificates signed by the emulator's
//! SSH CA and X.509 CA, within the issuer's allowed names and TTL.

use std::time::Duration;

use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DnType, DnValue, ExtendedKeyUsagePurpose,
    SanType, SubjectPublicKeyInfo,
};
use serde::Deserialize;
use serde_json::json;

use super::errors::{GET_PKI_CERTIFICATE, GET_SSH_CERTIFICATE};
use super::items::readable;
use super::{ApiError, Credentials, Seconds, caller, json_response, parse, required};
use crate::seed::ItemSpec;
use crate::state::State;

#[derive(Deserialize)]
struct SshRequest {
    #[serde(rename = "cert-issuer-name")]
    cert_issuer_name: Option<String>,
    #[serde(rename = "cert-username")]
    cert_username: Option<String>,
    #[serde(rename = "public-key-data")]
    public_key_data: Option<String>,
    ttl: Option<Seconds>,
    #[serde(flatten)]
    credentials: Credentials,
}

pub(super) fn get_ssh_certificate(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: SshRequest = parse(body)?;
    let context = &GET_SSH_CERTIFICATE;
    let access = caller(state, &request.credentials, context)?;
    let issuer = required(&request.cert_issuer_name, "cert-issuer-name")?;
    let username = required(&request.cert_username, "cert-username")?;
    let (name, item) = readable(state, access, issuer, context)?;
    let ItemSpec::SshCertIssuer { allowed_users, ttl } = &item.spec else {
        return Err(context.bad_request(&format!(
            "item {name} is of type {}, not SSH_CERT_ISSUER",
            item.spec.item_type()
        )));
    };
    if !allowed_users.iter().any(|u| u == username || u == "*") {
        return Err(context.bad_request(&format!(
            "user {username:?} is not allowed by certificate issuer {name}"
        )));
    }
    // Without a key the real CLI writes a file; over REST there is nothing to sign.
    let public_key = required(&request.public_key_data, "public-key-data")?;
    let requested = request.ttl.as_ref().map_or(Ok(None), Seconds::value);
    let ttl = requested
        .and_then(|requested| requested_ttl(requested, *ttl))
        .map_err(|e| context.bad_request(&e))?;
    let key_id = format!("{}:{name}:{username}", access.id);
    let certificate = state
        .ssh_ca
        .sign_user_key(public_key, username, &key_id, ttl)
        .map_err(|e| context.bad_request(&e))?;
    Ok(json_response(&json!({ "data": certificate })))
}

/// The TTL to issue with: the issuer's maximum unless the request asks for less.
fn requested_ttl(requested: Option<i64>, max: Duration) -> Result<Duration, String> {
    match requested {
        None | Some(0) => Ok(max),
        Some(secs) if secs < 0 => Err(format!("ttl {secs} is negative")),
        Some(secs) => {
            let ttl = Duration::from_secs(secs.unsigned_abs());
            if ttl > max {
                Err(format!(
                    "ttl {secs}s exceeds the issuer's maximum of {}s",
                    max.as_secs()
                ))
            } else {
                Ok(ttl)
            }
        }
    }
}

#[derive(Deserialize)]
struct PkiRequest {
    #[serde(rename = "cert-issuer-name")]
    cert_issuer_name: Option<String>,
    #[serde(rename = "csr-data-base64")]
    csr_data_base64: Option<String>,
    #[serde(rename = "key-data-base64")]
    key_data_base64: Option<String>,
    #[serde(rename = "common-name")]
    common_name: Option<String>,
    #[serde(rename = "alt-names")]
    alt_names: Option<String>,
    #[serde(rename = "uri-sans")]
    uri_sans: Option<String>,
    /// Seconds, a string in the spec.
    ttl: Option<Seconds>,
    #[serde(rename = "extended-key-usage")]
    extended_key_usage: Option<String>,
    #[serde(flatten)]
    credentials: Credentials,
}

pub(super) fn get_pki_certificate(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: PkiRequest = parse(body)?;
    let context = &GET_PKI_CERTIFICATE;
    let access = caller(state, &request.credentials, context)?;
    let issuer = required(&request.cert_issuer_name, "cert-issuer-name")?;
    let (name, item) = readable(state, access, issuer, context)?;
    let ItemSpec::PkiCertIssuer {
        allowed_domains,
        ttl,
    } = &item.spec
    else {
        return Err(context.bad_request(&format!(
            "item {name} is of type {}, not PKI_CERT_ISSUER",
            item.spec.item_type()
        )));
    };
    let requested = request.ttl.as_ref().map_or(Ok(None), Seconds::value);
    let ttl = requested
        .and_then(|requested| requested_ttl(requested, *ttl))
        .map_err(|e| context.bad_request(&e))?;
    let eku = extended_key_usages(request.extended_key_usage.as_deref())
        .map_err(|e| context.bad_request(&e))?;

    let issued = match (
        non_empty(&request.csr_data_base64),
        non_empty(&request.key_data_base64),
    ) {
        (Some(csr), _) => {
            let mut csr = state
                .verified_csrs
                .get_or_verify(csr, parse_csr)
                .map_err(|e| context.bad_request(&e))?;
            check_names(&csr.params, allowed_domains).map_err(|e| context.bad_request(&e))?;
            if !eku.is_empty() {
                csr.params.extended_key_usages = eku;
            }
            state.ca.sign(csr.params, &csr.public_key, ttl)
        }
        (None, Some(key)) => {
            let public_key = parse_public_key(key).map_err(|e| context.bad_request(&e))?;
            if request
                .uri_sans
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty())
            {
                return Err(context.bad_request("uri-sans are not allowed by this issuer"));
            }
            let common_name = required(&request.common_name, "common-name")?;
            let mut names = vec![common_name.to_owned()];
            names.extend(
                request
                    .alt_names
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            );
            let mut params = CertificateParams::new(names)
                .map_err(|e| context.bad_request(&format!("invalid name: {e}")))?;
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            check_names(&params, allowed_domains).map_err(|e| context.bad_request(&e))?;
            params.extended_key_usages = if eku.is_empty() {
                vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ]
            } else {
                eku
            };
            state.ca.sign(params, &public_key, ttl)
        }
        (None, None) => {
            return Err(
                context.bad_request("either csr-data-base64 or key-data-base64 is required")
            );
        }
    }
    .map_err(|e| ApiError::internal(format!("cannot issue the certificate: {e}")))?;

    Ok(json_response(&json!({
        "data": issued.pem(),
        "parent_cert": state.ca.pem(),
        "reading_token": "",
        "cert_display_id": format!("{}-{:016x}", item.display_id, rand::random::<u64>()),
        "cert_item_id": item.item_id,
        "path": "",
    })))
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// base64 of a PEM (or of DER) certificate signing request; the CSR's signature is verified.
fn parse_csr(base64: &str) -> Result<CertificateSigningRequestParams, String> {
    let bytes = B64
        .decode(base64)
        .map_err(|_| "csr-data-base64 is not base64".to_owned())?;
    let parsed = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => CertificateSigningRequestParams::from_pem(text),
        _ => CertificateSigningRequestParams::from_der(&bytes.into()),
    };
    parsed.map_err(|e| format!("csr-data-base64 is not a valid certificate signing request: {e}"))
}

/// base64 of a public key PEM (SubjectPublicKeyInfo) or of its DER.
fn parse_public_key(base64: &str) -> Result<SubjectPublicKeyInfo, String> {
    let bytes = B64
        .decode(base64)
        .map_err(|_| "key-data-base64 is not base64".to_owned())?;
    let parsed = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN") => SubjectPublicKeyInfo::from_pem(text),
        _ => SubjectPublicKeyInfo::from_der(&bytes),
    };
    parsed.map_err(|_| {
        "key-data-base64 is not a supported public key (RSA, P-256, P-384, Ed25519)".to_owned()
    })
}

/// The common name and every DNS name must be an allowed domain or a subdomain of one; IP and URI
/// SANs are not allowed (the seed cannot allow them).
fn check_names(params: &CertificateParams, allowed_domains: &[String]) -> Result<(), String> {
    let allowed = |name: &str| {
        allowed_domains.iter().any(|domain| {
            name == domain
                || name
                    .strip_suffix(domain.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.'))
        })
    };
    let mut names = Vec::new();
    if let Some(cn) = params.distinguished_name.get(&DnType::CommonName) {
        let cn = match cn {
            DnValue::Utf8String(s) => s.clone(),
            DnValue::PrintableString(s) => s.as_str().to_owned(),
            DnValue::Ia5String(s) => s.as_str().to_owned(),
            _ => return Err("the common name has an unsupported string type".to_owned()),
        };
        names.push(cn);
    }
    for san in &params.subject_alt_names {
        match san {
            SanType::DnsName(name) => names.push(name.as_str().to_owned()),
            _ => return Err("only DNS subject alternative names are allowed".to_owned()),
        }
    }
    if names.is_empty() {
        return Err("the request names no common name or DNS name".to_owned());
    }
    match names.iter().find(|n| !allowed(n)) {
        Some(name) => Err(format!("{name:?} is not an allowed domain of this issuer")),
        None => Ok(()),
    }
}

/// `extended-key-usage`: comma-separated `serverauth`, `clientauth`, `codesigning`.
fn extended_key_usages(value: Option<&str>) -> Result<Vec<ExtendedKeyUsagePurpose>, String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "critical")
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "serverauth" => Ok(ExtendedKeyUsagePurpose::ServerAuth),
            "clientauth" => Ok(ExtendedKeyUsagePurpose::ClientAuth),
            "codesigning" => Ok(ExtendedKeyUsagePurpose::CodeSigning),
            other => Err(format!("extended-key-usage {other:?} is not supported")),
        })
        .collect()
}
