//! `aws_iam` cloud-ids: a SigV4-signed but unsent `sts:GetCallerIdentity` request, base64-encoded
//! (reference §3.1). The emulator cannot replay it to STS, so it recomputes the signature with the
//! seed's secret key through `aws-sigv4`, the signer the AWS SDK itself uses.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::macros::format_description;

/// The only body a GetCallerIdentity cloud-id may carry.
pub(crate) const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// How far the signing time may be from now, as for real STS requests.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The decoded JSON inside a cloud-id. Every field but the method is itself base64.
#[derive(Serialize, Deserialize)]
pub(crate) struct CloudIdDocument {
    pub(crate) sts_request_method: String,
    pub(crate) sts_request_url: String,
    /// Optional: one revision of the Go library omitted it (reference §3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sts_request_body: Option<String>,
    pub(crate) sts_request_headers: String,
}

/// Header values are arrays (Go `http.Header`); a plain string is accepted too.
#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    Many(Vec<String>),
    One(String),
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or("the Authorization header is not AWS4-HMAC-SHA256")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    // Tolerant of spacing: the Python library writes a double space before SignedHeaders.
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or("the Authorization header has no Credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, "sts", "aws4_request"] = scope.as_slice() else {
        return Err(
            "the credential scope is not <key>/<date>/<region>/sts/aws4_request".to_owned(),
        );
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        signed_headers: signed
            .ok_or("the Authorization header has no SignedHeaders")?
            .split(';')
            .collect(),
        signature: signature.ok_or("the Authorization header has no Signature")?,
    })
}

/// A decoded, not yet verified cloud-id.
pub(crate) struct AwsCloudId {
    url: String,
    body: String,
    headers: BTreeMap<String, String>,
}

impl AwsCloudId {
    /// Decodes the cloud-id and checks the request is a GetCallerIdentity POST to a real STS host.
    pub(crate) fn decode(cloud_id: &str) -> Result<Self, String> {
        let decode = |what: &str, b64: &str| {
            B64.decode(b64.trim())
                .map_err(|_| format!("{what} is not base64"))
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
                })
        };
        let document: CloudIdDocument = serde_json::from_str(&decode("the cloud-id", cloud_id)?)
            .map_err(|_| "the cloud-id is not an STS request document".to_owned())?;
        if document.sts_request_method != "POST" {
            return Err("the STS request method is not POST".to_owned());
        }
        let url = decode("sts_request_url", &document.sts_request_url)?;
        check_sts_url(&url)?;
        let body = match &document.sts_request_body {
            Some(b) => decode("sts_request_body", b)?,
            None => STS_BODY.to_owned(),
        };
        if body != STS_BODY {
            return Err("the STS request is not GetCallerIdentity".to_owned());
        }
        let raw: BTreeMap<String, HeaderValues> = serde_json::from_str(&decode(
            "sts_request_headers",
            &document.sts_request_headers,
        )?)
        .map_err(|_| "sts_request_headers is not a JSON header map".to_owned())?;
        let headers = raw
            .into_iter()
            .map(|(name, values)| {
                let value = match values {
                    HeaderValues::Many(v) => v.join(","),
                    HeaderValues::One(v) => v,
                };
                (name.to_ascii_lowercase(), value)
            })
            .collect();
        Ok(Self { url, body, headers })
    }

    /// The AWS access key id the request claims to be signed with.
    pub(crate) fn access_key_id(&self) -> Result<&str, String> {
        Ok(parse_authorization(self.authorization()?)?.access_key_id)
    }

    fn authorization(&self) -> Result<&str, String> {
        self.headers
            .get("authorization")
            .map(String::as_str)
            .ok_or_else(|| "the STS request has no Authorization header".to_owned())
    }

    /// Recomputes the SigV4 signature with `secret_access_key` and compares; checks the time window.
    pub(crate) fn verify(&self, secret_access_key: &str, now: SystemTime) -> Result<(), String> {
        let auth = parse_authorization(self.authorization()?)?;
        let amz_date = self
            .headers
            .get("x-amz-date")
            .ok_or("the STS request has no X-Amz-Date header")?;
        let signed_at = parse_amz_date(amz_date)?;
        if !amz_date.starts_with(auth.date) {
            return Err("X-Amz-Date does not match the credential scope date".to_owned());
        }
        let skew = now
            .duration_since(signed_at)
            .unwrap_or_else(|e| e.duration());
        if skew > MAX_SKEW {
            return Err("the STS request was signed more than 15 minutes away from now".to_owned());
        }
        let session_token = self.headers.get("x-amz-security-token").cloned();
        // Pass exactly the headers the client signed; the signer adds host (from the URL),
        // x-amz-date (from the time) and x-amz-security-token (from the credentials) itself.
        let mut headers = Vec::new();
        for name in &auth.signed_headers {
            if matches!(*name, "x-amz-date" | "x-amz-security-token") {
                continue;
            }
            match (self.headers.get(*name), *name) {
                (Some(value), _) => headers.push((name.to_string(), value.clone())),
                (None, "host") => {}
                // Go's http.Header never holds Content-Length: the transport derives it.
                (None, "content-length") => {
                    headers.push(("content-length".to_owned(), self.body.len().to_string()));
                }
                (None, other) => return Err(format!("signed header {other} is missing")),
            }
        }
        let expected = sigv4_signature(&SigningInput {
            access_key_id: auth.access_key_id,
            secret_access_key,
            session_token: session_token.as_deref(),
            region: auth.region,
            url: &self.url,
            headers: &headers,
            body: &self.body,
            time: signed_at,
        })?;
        if expected.as_bytes().ct_eq(auth.signature.as_bytes()).into() {
            Ok(())
        } else {
            Err("the SigV4 signature does not match the access key's secret".to_owned())
        }
    }
}

/// `sts.amazonaws.com`, `sts.<region>.amazonaws.com` or `sts.<region>.amazonaws.com.cn`, path `/`.
fn check_sts_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "sts_request_url is not a URL".to_owned())?;
    let host = uri.host().unwrap_or_default();
    let region_ok = |region: &str| {
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let host_ok = host == "sts.amazonaws.com"
        || host
            .strip_prefix("sts.")
            .and_then(|h| {
                h.strip_suffix(".amazonaws.com")
                    .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
            })
            .is_some_and(region_ok);
    if uri.scheme_str() != Some("https") || !host_ok || !matches!(uri.path(), "" | "/") {
        return Err("sts_request_url is not an AWS STS endpoint".to_owned());
    }
    Ok(())
}

fn parse_amz_date(value: &str) -> Result<SystemTime, String> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value, &format)
        .map(|t| SystemTime::from(t.assume_utc()))
        .map_err(|_| "X-Amz-Date is not yyyymmddThhmmssZ".to_owned())
}

pub(crate) struct SigningInput<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) secret_access_key: &'a str,
    pub(crate) session_token: Option<&'a str>,
    pub(crate) region: &'a str,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a str,
    pub(crate) time: SystemTime,
}

/// Signs the request as the AWS SDK would and returns the headers it adds plus the signature.
pub(crate) fn sigv4_sign(
    input: &SigningInput<'_>,
) -> Result<(Vec<(String, String)>, String), String> {
    let identity: Identity = Credentials::new(
        input.access_key_id,
        input.secret_access_key,
        input.session_token.map(str::to_owned),
        None,
        "akeyless-emulator",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name("sts")
        .time(input.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot build SigV4 parameters: {e}"))?
        .into();
    let request = SignableRequest::new(
        "POST",
        input.url,
        input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(input.body.as_bytes()),
    )
    .map_err(|e| format!("cannot build the request to sign: {e}"))?;
    let (instructions, signature) = sign(request, &params)
        .map_err(|e| format!("cannot sign: {e}"))?
        .into_parts();
    let added = instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    Ok((added, signature))
}

fn sigv4_signature(input: &SigningInput<'_>) -> Result<String, String> {
    sigv4_sign(input).map(|(_, signature)| signature)
}
