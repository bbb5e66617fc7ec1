//! Whether and how to export traces, from the standard OpenTelemetry
//! environment variables plus one of ours for the exit flush.

use std::time::Duration;

use super::error::TelemetryError;

/// Reads one environment variable; empty counts as unset, as the
/// OpenTelemetry specification asks.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as an [`Env`].
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The variable that bounds the flush at exit, in milliseconds.
pub const FLUSH_TIMEOUT_VARIABLE: &str = "CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS";

/// The flush budget when [`FLUSH_TIMEOUT_VARIABLE`] is unset.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The per-request budget when `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` is
/// unset (the specification's default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The one protocol this build speaks.
const HTTP_PROTOBUF: &str = "http/protobuf";

/// How traces are exported, when they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// The most the exit flush may take.
    pub flush_timeout: Duration,
    /// The most one export request may take.
    pub request_timeout: Duration,
}

impl ExportSettings {
    /// Reads the process environment. `Ok(None)` means "do not export":
    /// no endpoint is set, `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`.
    ///
    /// ```
    /// use ci_secrets_telemetry::ExportSettings;
    ///
    /// match ExportSettings::from_env() {
    ///     Ok(Some(settings)) => println!("exporting, flush within {:?}", settings.flush_timeout),
    ///     Ok(None) => println!("not exporting"),
    ///     Err(err) => eprintln!("warning: traces are not exported: {err}"),
    /// }
    /// ```
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        Self::from(&process_env)
    }

    /// [`from_env`](Self::from_env) over any variable source.
    pub(crate) fn from(env: Env<'_>) -> Result<Option<Self>, TelemetryError> {
        if env("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if let Some(exporter) = env("OTEL_TRACES_EXPORTER") {
            match exporter.trim() {
                "none" => return Ok(None),
                "otlp" => {}
                _ => {
                    return Err(TelemetryError::UnsupportedExporter {
                        variable: "OTEL_TRACES_EXPORTER",
                        value: exporter,
                    });
                }
            }
        }
        let endpoint_set = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
            || env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        if !endpoint_set {
            return Ok(None);
        }
        if let Some((variable, value)) = first_set(
            env,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
        ) && value.trim() != HTTP_PROTOBUF
        {
            return Err(TelemetryError::UnsupportedProtocol { variable, value });
        }
        let request_timeout = match first_set(
            env,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ],
        ) {
            Some((variable, value)) => milliseconds(variable, value)?,
            None => DEFAULT_REQUEST_TIMEOUT,
        };
        let flush_timeout = match env(FLUSH_TIMEOUT_VARIABLE) {
            Some(value) => milliseconds(FLUSH_TIMEOUT_VARIABLE, value)?,
            None => DEFAULT_FLUSH_TIMEOUT,
        };
        Ok(Some(Self {
            flush_timeout,
            request_timeout,
        }))
    }
}

/// The first of `names` that is set, signal-specific names first.
fn first_set(env: Env<'_>, names: &[&'static str]) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|&name| env(name).map(|value| (name, value)))
}

fn milliseconds(variable: &'static str, value: String) -> Result<Duration, TelemetryError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| TelemetryError::InvalidMilliseconds { variable, value })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<ExportSettings>, TelemetryError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        ExportSettings::from(&|name: &str| map.get(name).cloned().filter(|v| !v.is_empty()))
    }

    #[test]
    fn no_endpoint_means_no_export() {
        assert_eq!(settings(&[]).unwrap(), None);
        assert_eq!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]).unwrap(),
            None
        );
        assert_eq!(settings(&[("OTEL_SERVICE_NAME", "x")]).unwrap(), None);
    }

    #[test]
    fn either_endpoint_variable_enables_export_with_defaults() {
        for name in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ] {
            let found = settings(&[(name, "http://collector:4318")])
                .unwrap()
                .unwrap();
            assert_eq!(found.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
            assert_eq!(found.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        }
    }

    #[test]
    fn disabled_sdk_or_none_exporter_wins_over_an_endpoint() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(
            settings(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap(),
            None
        );
        assert_eq!(
            settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]).unwrap(),
            None
        );
        assert!(
            settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "otlp")])
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]),
            Err(TelemetryError::UnsupportedExporter { .. })
        ));
    }

    #[test]
    fn only_http_protobuf_is_accepted_and_the_signal_variable_wins() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert!(
            settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])
                .unwrap()
                .is_some()
        );
        let err = settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; only http/protobuf is"
        );
        let signal_wins = settings(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ]);
        assert!(signal_wins.unwrap().is_some());
    }

    #[test]
    fn timeouts_are_milliseconds_and_bad_ones_are_named() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let found = settings(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            (FLUSH_TIMEOUT_VARIABLE, "250"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(found.request_timeout, Duration::from_millis(700));
        assert_eq!(found.flush_timeout, Duration::from_millis(250));
        let err = settings(&[endpoint, (FLUSH_TIMEOUT_VARIABLE, "2s")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS=\"2s\" is not a whole number of milliseconds"
        );
    }
}
