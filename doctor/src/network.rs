//! The checks every identity's endpoint gets before its provider's own:
//! DNS, TCP and, for `https://`, TLS. They tell "the server is unreachable"
//! apart from "the server refused the login". Where a proxy applies, DNS and
//! TCP are the proxy's, and TLS goes through its tunnel (see [`super::proxy`]).

use std::net::SocketAddr;
use std::time::Duration;

use ci_secrets_provider_api::diagnostics::{Check, Identity};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use url::{Host, Url};

use super::proxy::{self, Proxies, Proxy};
use super::tls::{self, Trust};

/// DNS, TCP and TLS checks of the identity's endpoint, stopping at the
/// first failure (a later check could only fail for the same reason).
pub(crate) async fn endpoint_checks(
    identity: &Identity,
    endpoint: &Url,
    trust: &Trust,
    proxies: &Proxies,
    timeout: Duration,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let (Some(host), Some(port)) = (endpoint.host(), endpoint.port_or_known_default()) else {
        checks.push(Check::fail(
            "DNS",
            format!("{endpoint} names no host and port to connect to"),
        ));
        return checks;
    };
    let proxy = proxies.for_endpoint(endpoint);
    let (connect_host, connect_port) = match &proxy {
        None => (host.to_owned(), port),
        Some(Proxy::Http {
            host: proxy_host,
            port: proxy_port,
            ..
        }) => match Host::parse(proxy_host) {
            Ok(proxy_host) => {
                checks.push(Check::pass(
                    "proxy",
                    format!(
                        "requests go through {} (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY)",
                        proxy.as_ref().map(Proxy::shown).unwrap_or_default()
                    ),
                ));
                (proxy_host, *proxy_port)
            }
            Err(err) => {
                checks.push(Check::fail(
                    "proxy",
                    format!("the proxy host {proxy_host} is not valid: {err}"),
                ));
                return checks;
            }
        },
        Some(unchecked @ Proxy::Unusable(_)) => {
            checks.push(Check::pass(
                "proxy",
                format!(
                    "requests go through {}; the doctor checks the way through http:// proxies only",
                    unchecked.shown()
                ),
            ));
            return checks;
        }
    };
    let addresses = match resolve(&connect_host, connect_port, timeout).await {
        Ok(addresses) => {
            checks.push(Check::pass(
                "DNS",
                match &connect_host {
                    Host::Domain(name) => format!("{name} resolves to {}", join(&addresses)),
                    _ => "an IP address: nothing to resolve".to_string(),
                },
            ));
            addresses
        }
        Err(check) => {
            checks.push(check);
            return checks;
        }
    };
    let mut stream = match connect(&addresses, timeout).await {
        Ok((stream, address)) => {
            checks.push(Check::pass("TCP", format!("connected to {address}")));
            stream
        }
        Err(check) => {
            checks.push(check);
            return checks;
        }
    };
    if endpoint.scheme() != "https" {
        checks.push(Check::pass("TLS", "not used (http://)"));
        return checks;
    }
    if let Some(Proxy::Http { intercept, .. }) = &proxy {
        let authority = format!("{host}:{port}");
        let check = proxy::tunnel(&mut stream, intercept, &authority, timeout).await;
        let passed = check.passed;
        checks.push(check);
        if !passed {
            return checks;
        }
    }
    let trust = match identity.ca_pem.as_deref().map(|pem| trust.with_pem(pem)) {
        None => trust.clone(),
        Some(Ok(trust)) => trust,
        Some(Err(err)) => {
            let setting = identity.ca_setting.as_deref().unwrap_or("the CA setting");
            checks.push(
                Check::fail("TLS", format!("{setting}: {err}"))
                    .with_hint(format!("Set {setting} to a PEM certificate")),
            );
            return checks;
        }
    };
    let server_name = match &host {
        Host::Domain(name) => ServerName::try_from(name.to_string()),
        Host::Ipv4(ip) => Ok(ServerName::from(std::net::IpAddr::V4(*ip))),
        Host::Ipv6(ip) => Ok(ServerName::from(std::net::IpAddr::V6(*ip))),
    };
    match server_name {
        Ok(server_name) => checks.push(
            tls::check(
                stream,
                server_name,
                &trust,
                identity.ca_setting.as_deref(),
                timeout,
            )
            .await,
        ),
        Err(err) => checks.push(Check::fail(
            "TLS",
            format!("{host} is not a valid TLS server name: {err}"),
        )),
    }
    checks
}

async fn resolve(
    host: &Host<String>,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Check> {
    let name = match host {
        Host::Domain(name) => name.as_str(),
        Host::Ipv4(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
        Host::Ipv6(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
    };
    let hint = || format!("Check the host name {name} and this machine's DNS settings");
    match tokio::time::timeout(timeout, tokio::net::lookup_host((name, port))).await {
        Err(_) => Err(Check::fail(
            "DNS",
            format!("no answer for {name} within {} s", timeout.as_secs_f64()),
        )
        .with_hint(hint())),
        Ok(Err(err)) => {
            Err(Check::fail("DNS", format!("cannot resolve {name}: {err}")).with_hint(hint()))
        }
        Ok(Ok(addresses)) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            if addresses.is_empty() {
                Err(Check::fail("DNS", format!("{name} has no address")).with_hint(hint()))
            } else {
                Ok(addresses)
            }
        }
    }
}

/// Connects to the first address that answers, as an HTTP client does.
async fn connect(
    addresses: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), Check> {
    let mut failures = Vec::new();
    for &address in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok((stream, address)),
            Ok(Err(err)) => failures.push(format!("{address}: {err}")),
            Err(_) => failures.push(format!(
                "{address}: no answer within {} s",
                timeout.as_secs_f64()
            )),
        }
    }
    Err(Check::fail("TCP", format!("cannot connect: {}", failures.join("; "))).with_hint(
        "Check that the server (or the proxy that HTTP(S)_PROXY names) is up and that no firewall blocks the port",
    ))
}

fn join(addresses: &[SocketAddr]) -> String {
    addresses
        .iter()
        .map(|address| address.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
