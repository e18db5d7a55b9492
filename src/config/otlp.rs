//! OTLP exporter settings: builder values, then the `OTEL_EXPORTER_OTLP_*`
//! and `OTEL_BLRP_*` variables (the `_LOGS_` form beating the generic one),
//! then the specification's defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::env::{boolean, report_invalid, whole_number, Env};
use crate::config::resource::{header_name_part, parse_header_list};
use crate::diag;
use crate::error::InitError;

/// The OTLP transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// Protobuf over HTTP (`http/protobuf`), the default.
    HttpProtobuf,
    /// OTLP/JSON over HTTP (`http/json`).
    HttpJson,
    /// gRPC (`grpc`); needs the `grpc` feature.
    #[cfg(feature = "grpc")]
    Grpc,
}

impl Protocol {
    #[cfg(feature = "grpc")]
    const ACCEPTED: &'static str = "http/protobuf, http/json, grpc";
    #[cfg(not(feature = "grpc"))]
    const ACCEPTED: &'static str = "http/protobuf, http/json (grpc needs the `grpc` feature)";

    /// Enum values are matched ignoring case, as the specification
    /// recommends for environment variables.
    fn parse(value: &str) -> Option<Protocol> {
        match value.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            #[cfg(feature = "grpc")]
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    fn is_grpc(self) -> bool {
        #[cfg(feature = "grpc")]
        if self == Protocol::Grpc {
            return true;
        }
        false
    }
}

/// Request body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (the default).
    None,
    /// gzip.
    Gzip,
}

impl Compression {
    /// Matched ignoring case, like [`Protocol::parse`].
    fn parse(value: &str) -> Option<Compression> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

/// What the builder said about OTLP; `None` leaves the choice to the
/// environment and the defaults.
#[derive(Clone, Debug, Default)]
pub(crate) struct OtlpOptions {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) certificate: Option<PathBuf>,
    /// The client certificate and its key, PEM files.
    pub(crate) client_identity: Option<(PathBuf, PathBuf)>,
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) max_export_batch_size: Option<u64>,
    pub(crate) max_queue_size: Option<u64>,
    /// Plaintext for a gRPC endpoint given without a scheme.
    pub(crate) insecure: Option<bool>,
    /// `Some(None)`: turned off in code, whatever the environment says.
    #[cfg(feature = "spool")]
    pub(crate) spool_dir: Option<Option<std::path::PathBuf>>,
    #[cfg(feature = "spool")]
    pub(crate) spool_budget: Option<u64>,
}

impl OtlpOptions {
    /// Whether any OTLP setting was given in code: they only apply when
    /// something selects the OTLP exporter.
    pub(crate) fn any_given(&self) -> bool {
        let OtlpOptions {
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
            certificate,
            client_identity,
            schedule_delay,
            export_timeout,
            max_export_batch_size,
            max_queue_size,
            insecure,
            #[cfg(feature = "spool")]
            spool_dir,
            #[cfg(feature = "spool")]
            spool_budget,
        } = self;
        #[cfg(feature = "spool")]
        let spool_given = spool_dir.is_some() || spool_budget.is_some();
        #[cfg(not(feature = "spool"))]
        let spool_given = false;
        endpoint.is_some()
            || protocol.is_some()
            || !headers.is_empty()
            || timeout.is_some()
            || compression.is_some()
            || certificate.is_some()
            || client_identity.is_some()
            || schedule_delay.is_some()
            || export_timeout.is_some()
            || max_export_batch_size.is_some()
            || max_queue_size.is_some()
            || insecure.is_some()
            || spool_given
    }

    /// The mistakes in these settings that make [`OtlpSettings::resolve`]
    /// fail in every environment, found without reading one: a program
    /// whose OTLP exporter is off where it starts (the SDK disabled, no
    /// endpoint set) must not start there and then fail where the
    /// exporter is on. What the environment decides is left to `resolve`:
    /// without a protocol given in code, an endpoint without a scheme may
    /// be a gRPC one's, and without `insecure` given in code, whether such
    /// an endpoint uses TLS.
    pub(crate) fn check_without_env(&self) -> Result<(), InitError> {
        // In `resolve`'s order, so that the same mistake is named.
        let grpc = self.protocol.map(Protocol::is_grpc);
        if let Some(url) = &self.endpoint {
            self.check_endpoint_without_env(url, grpc)?;
        }
        for (key, value) in &self.headers {
            check_header_from_code(key, value, grpc == Some(true))?;
        }
        Ok(())
    }

    /// [`OtlpOptions::check_without_env`] for the endpoint given in code,
    /// `url`, and the TLS files given with it.
    fn check_endpoint_without_env(&self, url: &str, grpc: Option<bool>) -> Result<(), InitError> {
        // Without a scheme, only gRPC takes an endpoint, and the insecure
        // variable may give it either scheme: what fails under both does.
        let grpc_without_scheme = !url.contains("://")
            && (grpc == Some(true) || (grpc.is_none() && cfg!(feature = "grpc")));
        let url = match self.insecure {
            Some(insecure) if grpc_without_scheme => with_grpc_scheme(url, insecure),
            None if grpc_without_scheme => {
                check_url(ENDPOINT_FROM_CODE, &with_grpc_scheme(url, false))?;
                return Ok(());
            }
            _ => url.to_owned(),
        };
        let url = check_url(ENDPOINT_FROM_CODE, &url)?;
        if !url.starts_with("https://") {
            let files = [
                self.certificate
                    .as_ref()
                    .map(|path| TlsFile::new(path.clone(), "Builder::with_otlp_certificate")),
                self.client_identity.as_ref().map(|(certificate, _)| {
                    TlsFile::new(certificate.clone(), "Builder::with_otlp_client_certificate")
                }),
            ];
            if let Some(file) = files.into_iter().flatten().next() {
                return Err(
                    file.invalid(format!("{}; give an https:// endpoint", unencrypted(&url)))
                );
            }
        }
        Ok(())
    }
}

/// What [`Builder::with_otlp_endpoint`](crate::Builder::with_otlp_endpoint)
/// is called in errors.
const ENDPOINT_FROM_CODE: &str = "Builder::with_otlp_endpoint";

/// A header given in code that the protocol cannot carry is a mistake in
/// the program, reported at start rather than failing every request.
fn check_header_from_code(key: &str, value: &str, grpc: bool) -> Result<(), InitError> {
    match unusable_header(key, value, grpc) {
        Some(why) => Err(InitError::invalid(
            "Builder::with_otlp_header",
            format!("the header {key:?} cannot be sent because {why}"),
        )),
        None => Ok(()),
    }
}

/// Why a TLS file is not used with `endpoint`, which is not `https://`.
fn unencrypted(endpoint: &str) -> String {
    format!(
        "the endpoint {} is not https://, so the file is not used and the logs are sent unencrypted",
        endpoint_for_reports(endpoint)
    )
}

/// Resolved OTLP settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OtlpSettings {
    pub(crate) protocol: Protocol,
    /// The full URL requests go to.
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    /// `None` when there is no timeout: the specification reads a timeout
    /// of 0 as "wait indefinitely".
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Compression,
    pub(crate) tls: TlsFiles,
    pub(crate) batch: BatchSettings,
    #[cfg(feature = "spool")]
    pub(crate) spool: Option<SpoolSettings>,
}

/// Where and how much to spool.
#[cfg(feature = "spool")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpoolSettings {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) budget: u64,
}

/// PEM files for TLS, from `…_CERTIFICATE`, `…_CLIENT_KEY`,
/// `…_CLIENT_CERTIFICATE`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TlsFiles {
    pub(crate) certificate: Option<TlsFile>,
    pub(crate) client_key: Option<TlsFile>,
    pub(crate) client_certificate: Option<TlsFile>,
}

/// A PEM file the TLS settings name, and the setting that named it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TlsFile {
    pub(crate) path: PathBuf,
    /// The variable or builder method, which a bad file's error names.
    pub(crate) setting: String,
}

impl TlsFile {
    pub(crate) fn new(path: impl Into<PathBuf>, setting: impl Into<String>) -> TlsFile {
        TlsFile {
            path: path.into(),
            setting: setting.into(),
        }
    }

    /// The file's contents.
    pub(crate) fn read(&self) -> Result<Vec<u8>, InitError> {
        std::fs::read(&self.path)
            .map_err(|error| self.invalid(format!("reading {}: {error}", self.path.display())))
    }

    /// An error about this file, naming the setting it came from.
    pub(crate) fn invalid(&self, message: impl Into<String>) -> InitError {
        InitError::invalid(self.setting.clone(), message)
    }

    /// The file's contents and the certificates in them: an error when it
    /// holds none, which would leave nothing to trust and every handshake
    /// failing.
    pub(crate) fn certificates(
        &self,
    ) -> Result<(Vec<u8>, Vec<ureq::tls::Certificate<'static>>), InitError> {
        let pem = self.read()?;
        let path = self.path.display();
        let certificates: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(Ok(certificate)),
                Ok(_) => None,
                Err(error) => Some(Err(self.invalid(format!("{path}: {error}")))),
            })
            .collect::<Result<_, _>>()?;
        if certificates.is_empty() {
            return Err(self.invalid(format!("{path} holds no PEM certificate")));
        }
        Ok((pem, certificates))
    }

    /// The file's CA certificates, each checked as rustls takes it at the
    /// first handshake. `ureq` and `tonic` skip one they cannot use without
    /// a word: each skipped one is reported, and a file none of whose
    /// certificates can be used, which would leave nothing to trust and
    /// every handshake failing, is an error.
    pub(crate) fn trust_anchors(
        &self,
    ) -> Result<(Vec<u8>, Vec<ureq::tls::Certificate<'static>>), InitError> {
        let (pem, certificates) = self.certificates()?;
        let path = self.path.display();
        let mut usable = 0;
        let mut first_error = None;
        for (index, certificate) in certificates.iter().enumerate() {
            match rustls::RootCertStore::empty().add(CertificateDer::from(certificate.der())) {
                Ok(()) => usable += 1,
                Err(error) => {
                    let why = format!(
                        "{path}: certificate {} cannot be trusted: {error}",
                        index + 1
                    );
                    diag::warn(format_args!("{}: {why}; skipping it", self.setting));
                    first_error.get_or_insert(why);
                }
            }
        }
        match first_error {
            Some(why) if usable == 0 => Err(self.invalid(why)),
            _ => Ok((pem, certificates)),
        }
    }

    /// The file's contents and the private key in them.
    pub(crate) fn private_key(
        &self,
    ) -> Result<(Vec<u8>, ureq::tls::PrivateKey<'static>), InitError> {
        let pem = self.read()?;
        let key = ureq::tls::PrivateKey::from_pem(&pem)
            .map_err(|error| self.invalid(format!("{}: {error}", self.path.display())))?;
        Ok((pem, key))
    }
}

impl TlsFiles {
    /// The client certificate and key, which go together: an error names
    /// the setting of the one given alone.
    pub(crate) fn client_identity(&self) -> Result<Option<(&TlsFile, &TlsFile)>, InitError> {
        match (&self.client_certificate, &self.client_key) {
            (Some(certificate), Some(key)) => Ok(Some((certificate, key))),
            (None, None) => Ok(None),
            (Some(alone), None) | (None, Some(alone)) => {
                Err(alone.invalid("a client certificate and a client key must be given together"))
            }
        }
    }

    /// The client certificate chain and its key, checked as rustls takes
    /// them at the first handshake, where `ureq` panics on a pair it cannot
    /// use and `tonic` fails without naming the setting: the key must load
    /// (in a form and of a type the TLS stack supports) and be the one the
    /// certificate names.
    pub(crate) fn checked_client_identity(&self) -> Result<Option<ClientIdentity>, InitError> {
        let Some((certificate, key)) = self.client_identity()? else {
            return Ok(None);
        };
        let (certificate_pem, chain) = certificate.certificates()?;
        let (key_pem, parsed_key) = key.private_key()?;
        // Each file falls back to the generic variable on its own, as the
        // specification reads them: a pair taken from two levels is named
        // as such, since that is the likely mistake.
        let logs_specific = |file: &TlsFile| file.setting.starts_with("OTEL_EXPORTER_OTLP_LOGS_");
        let other_setting = if logs_specific(certificate) == logs_specific(key) {
            String::new()
        } else {
            format!(" (given by {})", certificate.setting)
        };
        let unusable = |error: &dyn std::fmt::Display| {
            key.invalid(format!(
                "{} cannot be used with the client certificate {}{other_setting}: {error}",
                key.path.display(),
                certificate.path.display()
            ))
        };
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| unusable(&error))?;
        let chain_der = chain
            .iter()
            .map(|certificate| CertificateDer::from(certificate.der()).into_owned())
            .collect();
        // The provider `ureq` picks: the process default, else ring.
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        rustls::sign::CertifiedKey::from_der(chain_der, key_der, &provider)
            .map_err(|error| unusable(&error))?;
        #[cfg(not(feature = "grpc"))]
        let _ = certificate_pem;
        Ok(Some(ClientIdentity {
            #[cfg(feature = "grpc")]
            certificate_pem,
            chain,
            #[cfg(feature = "grpc")]
            key_pem,
            key: parsed_key,
        }))
    }
}

/// A client certificate and its key, checked by
/// [`TlsFiles::checked_client_identity`]: their PEM text (which `tonic`
/// takes) and their parsed form (which `ureq` takes).
pub(crate) struct ClientIdentity {
    #[cfg(feature = "grpc")]
    pub(crate) certificate_pem: Vec<u8>,
    pub(crate) chain: Vec<ureq::tls::Certificate<'static>>,
    #[cfg(feature = "grpc")]
    pub(crate) key_pem: Vec<u8>,
    pub(crate) key: ureq::tls::PrivateKey<'static>,
}

/// Batching, from `OTEL_BLRP_*`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BatchSettings {
    pub(crate) schedule_delay: Duration,
    pub(crate) max_export_batch_size: u64,
    /// `None` when there is no timeout, as for [`OtlpSettings::timeout`].
    pub(crate) export_timeout: Option<Duration>,
    /// A record-count bound on the queue; by default only the byte budget
    /// bounds it, so that a burst is absorbed instead of dropped.
    pub(crate) max_queue_size: Option<u64>,
}

const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
const HTTP_LOGS_PATH: &str = "v1/logs";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_EXPORT_BATCH_SIZE: u64 = 512;
/// The longest finite timeout kept: the HTTP and gRPC clients add a timeout
/// to an `Instant`, which panics on overflow, and no export waits this long
/// anyway.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
/// The disk the spool may take unless the builder says otherwise.
#[cfg(feature = "spool")]
const DEFAULT_SPOOL_BUDGET: u64 = 256 * 1024 * 1024;

/// The generic and the logs-specific name of one exporter variable.
fn names(suffix: &str) -> (String, String) {
    (
        format!("OTEL_EXPORTER_OTLP_{suffix}"),
        format!("OTEL_EXPORTER_OTLP_LOGS_{suffix}"),
    )
}

/// The logs-specific variable if set, else the generic one, with the name
/// of the variable the value came from.
fn lookup(env: &Env, suffix: &str) -> Option<(String, String)> {
    let (generic, specific) = names(suffix);
    env.get(&specific)
        .map(|value| (specific, value))
        .or_else(|| env.get(&generic).map(|value| (generic, value)))
}

/// The value of the logs-specific variable if `parse` accepts it, else that
/// of the generic one. The specification treats a malformed value as not
/// set, so a bad logs-specific value is reported and the generic variable
/// still applies, as [`Env::limit`] does for the limits; a bad generic
/// value is reported and leaves `default` (a description) in force.
fn lookup_valid<T>(
    env: &Env,
    suffix: &str,
    accepted: &str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let (generic, specific) = names(suffix);
    if let Some(value) = env.get(&specific) {
        match parse(&value) {
            Some(parsed) => return Some(parsed),
            None => {
                let fallback = fallback_for_specific(env, &generic, default, &parse);
                report_invalid(&specific, &value, accepted, fallback);
            }
        }
    }
    let value = env.get(&generic)?;
    let parsed = parse(&value);
    if parsed.is_none() {
        report_invalid(&generic, &value, accepted, default);
    }
    parsed
}

/// What applies when the logs-specific variable is rejected: the generic
/// one when it is set and valid, else `default`. A malformed generic value
/// is rejected in turn, so naming it would promise what does not happen.
fn fallback_for_specific<'a, T>(
    env: &Env,
    generic: &'a str,
    default: &'a str,
    parse: &impl Fn(&str) -> Option<T>,
) -> &'a str {
    match env.get(generic) {
        Some(value) if parse(&value).is_some() => generic,
        _ => default,
    }
}

/// Fails when the protocol variable in force asks for gRPC, which this
/// build leaves out. The value is not unknown, only unbuilt: ignoring it
/// would send OTLP/HTTP to what is most likely a gRPC port, failing every
/// request, where the fix is a feature of the build.
#[cfg(not(feature = "grpc"))]
fn check_no_unbuilt_grpc(env: &Env) -> Result<(), InitError> {
    let is_grpc = |value: &str| value.trim().eq_ignore_ascii_case("grpc");
    let (generic, specific) = names("PROTOCOL");
    let in_force = match env.get(&specific) {
        Some(value) if is_grpc(&value) => Some(specific),
        Some(value) if Protocol::parse(&value).is_some() => None,
        // Unset or malformed: the generic variable is in force.
        _ => env
            .get(&generic)
            .filter(|value| is_grpc(value))
            .map(|_| generic),
    };
    match in_force {
        Some(name) => Err(InitError::invalid(
            name,
            "\"grpc\" needs the crate's `grpc` feature, which this build leaves out",
        )),
        None => Ok(()),
    }
}

/// A timeout as the exporters take it: `None` for zero, which the
/// specification reads as "no timeout", and at most [`LONGEST_TIMEOUT`].
fn timeout_bound(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then(|| timeout.min(LONGEST_TIMEOUT))
}

/// A timeout variable's value: whole milliseconds, 0 for none.
fn parse_timeout(value: &str) -> Option<Option<Duration>> {
    let ms = whole_number(value)?;
    Some(timeout_bound(Duration::from_millis(ms)))
}

/// `…_INSECURE`, a boolean: the logs-specific variable when set, else the
/// generic one. As the specification's booleans are, any value but `true`
/// (in any case) is false, a value other than `false` with a warning; a
/// malformed logs-specific value does not fall back to the generic one,
/// which could turn TLS off.
fn insecure(env: &Env) -> bool {
    lookup(env, "INSECURE").is_some_and(|(name, value)| boolean(&name, &value))
}

/// Whether any OTLP endpoint variable is set: then `otlp` is the default
/// exporter.
pub(crate) fn endpoint_configured(env: &Env) -> bool {
    lookup(env, "ENDPOINT").is_some()
}

fn millis(env: &Env, name: &str, default: Duration) -> Duration {
    match env.get(name) {
        None => default,
        Some(value) => match whole_number(&value) {
            Some(ms) => Duration::from_millis(ms),
            None => {
                report_invalid(
                    name,
                    &value,
                    "a whole number of milliseconds",
                    &format!("{}", default.as_millis()),
                );
                default
            }
        },
    }
}

/// A timeout in whole milliseconds from `name`, 0 meaning none; a
/// malformed value is reported and `default` used.
fn timeout_millis(env: &Env, name: &str, default: Duration) -> Option<Duration> {
    let Some(value) = env.get(name) else {
        return Some(default);
    };
    parse_timeout(&value).unwrap_or_else(|| {
        report_invalid(
            name,
            &value,
            "a whole number of milliseconds (0 for no timeout)",
            &format!("{}", default.as_millis()),
        );
        Some(default)
    })
}

fn count(env: &Env, name: &str) -> Option<u64> {
    let value = env.get(name)?;
    match whole_number(&value) {
        Some(n) if n > 0 => Some(n),
        _ => {
            report_invalid(name, &value, "a positive whole number", "the default");
            None
        }
    }
}

impl OtlpSettings {
    /// Applies code > environment > defaults.
    pub(crate) fn resolve(options: &OtlpOptions, env: &Env) -> Result<OtlpSettings, InitError> {
        #[cfg(not(feature = "grpc"))]
        if options.protocol.is_none() {
            check_no_unbuilt_grpc(env)?;
        }
        let protocol = match options.protocol {
            Some(protocol) => protocol,
            None => lookup_valid(
                env,
                "PROTOCOL",
                Protocol::ACCEPTED,
                "http/protobuf",
                Protocol::parse,
            )
            .unwrap_or(Protocol::HttpProtobuf),
        };
        let grpc = protocol.is_grpc();
        // Read only for an endpoint without a scheme, which the variable
        // gives one: where the endpoint's scheme decides, a value nothing
        // uses is not reported as if it mattered.
        let check = |setting: &str, url: &str| {
            let url = if grpc && !url.contains("://") {
                with_grpc_scheme(url, options.insecure.unwrap_or_else(|| insecure(env)))
            } else {
                url.to_owned()
            };
            check_url(setting, &url)
        };
        let endpoint = match &options.endpoint {
            Some(url) => {
                let setting = ENDPOINT_FROM_CODE;
                let url = check(setting, url)?;
                if grpc {
                    warn_if_grpc_path(setting, &url);
                } else {
                    warn_if_no_path(setting, &url);
                }
                url
            }
            None => {
                let (generic, specific) = names("ENDPOINT");
                match (env.get(&specific), env.get(&generic)) {
                    (Some(url), _) if grpc => {
                        let url = check(&specific, &url)?;
                        warn_if_grpc_path(&specific, &url);
                        url
                    }
                    (Some(url), _) => {
                        let url = check(&specific, &url)?;
                        warn_if_no_path(&specific, &url);
                        url
                    }
                    // gRPC has no per-signal path: the service name routes.
                    (None, Some(base)) if grpc => {
                        let url = check(&generic, &base)?;
                        warn_if_grpc_path(&generic, &url);
                        url
                    }
                    (None, Some(base)) => append_logs_path(&check(&generic, &base)?),
                    (None, None) if grpc => DEFAULT_GRPC_ENDPOINT.to_owned(),
                    (None, None) => append_logs_path(DEFAULT_HTTP_ENDPOINT),
                }
            }
        };
        let mut headers = headers_from_env(env, grpc);
        for (key, value) in &options.headers {
            check_header_from_code(key, value, grpc)?;
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(key));
            headers.push((key.clone(), value.clone()));
        }
        let timeout = match options.timeout {
            Some(timeout) => timeout_bound(timeout),
            None => lookup_valid(
                env,
                "TIMEOUT",
                "a whole number of milliseconds (0 for no timeout)",
                &format!("{}", DEFAULT_TIMEOUT.as_millis()),
                parse_timeout,
            )
            .unwrap_or(Some(DEFAULT_TIMEOUT)),
        };
        let compression = match options.compression {
            Some(compression) => compression,
            None => lookup_valid(env, "COMPRESSION", "gzip, none", "none", Compression::parse)
                .unwrap_or(Compression::None),
        };
        // A client identity given in code replaces both files of the
        // variables: a certificate from one place and a key from another
        // would not match.
        let from_env = |suffix: &str| {
            let (generic, specific) = names(suffix);
            env.path(&specific)
                .map(|path| TlsFile::new(path, specific))
                .or_else(|| env.path(&generic).map(|path| TlsFile::new(path, generic)))
        };
        let (client_certificate, client_key) = match &options.client_identity {
            Some((certificate, key)) => {
                let setting = "Builder::with_otlp_client_certificate";
                (
                    Some(TlsFile::new(certificate.clone(), setting)),
                    Some(TlsFile::new(key.clone(), setting)),
                )
            }
            None => (from_env("CLIENT_CERTIFICATE"), from_env("CLIENT_KEY")),
        };
        let tls = TlsFiles {
            certificate: match &options.certificate {
                Some(path) => Some(TlsFile::new(path.clone(), "Builder::with_otlp_certificate")),
                None => from_env("CERTIFICATE"),
            },
            client_key,
            client_certificate,
        };
        // TLS files apply to an https:// endpoint only. Given in code with
        // another endpoint given in code, they would be read by nothing and
        // the logs sent in clear, where the program asked for TLS: an
        // error. Otherwise one of the two comes from the variables (set
        // for other signals' exporters too, or a developer's local
        // collector): a warning.
        if !endpoint.starts_with("https://") {
            let unused = [&tls.certificate, &tls.client_certificate, &tls.client_key];
            for file in unused.into_iter().flatten() {
                let reason = unencrypted(&endpoint);
                if file.setting.starts_with("Builder::") && options.endpoint.is_some() {
                    return Err(file.invalid(format!("{reason}; give an https:// endpoint")));
                }
                diag::warn(format_args!("{} is set, but {reason}", file.setting));
            }
        }
        let max_queue_size = options
            .max_queue_size
            .or_else(|| count(env, "OTEL_BLRP_MAX_QUEUE_SIZE"));
        let mut max_export_batch_size = options
            .max_export_batch_size
            .or_else(|| count(env, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"));
        // The specification requires a batch to fit in the queue; a batch
        // size over the queue size could never be filled.
        if let (Some(batch), Some(queue)) = (max_export_batch_size, max_queue_size) {
            if batch > queue {
                diag::warn(format_args!(
                    "the export batch size ({batch}, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE or Builder::with_otlp_batch_size) is larger than the queue size ({queue}, OTEL_BLRP_MAX_QUEUE_SIZE or Builder::with_otlp_max_queue_size); using {queue}"
                ));
                max_export_batch_size = Some(queue);
            }
        }
        let batch = BatchSettings {
            schedule_delay: options.schedule_delay.unwrap_or_else(|| {
                millis(env, "OTEL_BLRP_SCHEDULE_DELAY", Duration::from_millis(1000))
            }),
            // The default batch size shrinks to a smaller queue size too;
            // nothing was misconfigured then, so nothing is reported.
            max_export_batch_size: max_export_batch_size
                .unwrap_or(DEFAULT_MAX_EXPORT_BATCH_SIZE)
                .min(max_queue_size.unwrap_or(u64::MAX)),
            export_timeout: match options.export_timeout {
                Some(timeout) => timeout_bound(timeout),
                None => timeout_millis(env, "OTEL_BLRP_EXPORT_TIMEOUT", DEFAULT_EXPORT_TIMEOUT),
            },
            max_queue_size,
        };
        #[cfg(feature = "spool")]
        let spool = options
            .spool_dir
            .clone()
            .unwrap_or_else(|| env.path(super::env::SPOOL_DIR))
            .map(|dir| SpoolSettings {
                dir,
                budget: options.spool_budget.unwrap_or(DEFAULT_SPOOL_BUDGET),
            });
        #[cfg(feature = "spool")]
        if spool.is_none() && options.spool_budget.is_some() {
            diag::warn(format_args!(
                "Builder::with_spool_budget is not used: no spool directory is given (Builder::with_spool_dir or {})",
                super::env::SPOOL_DIR
            ));
        }
        Ok(OtlpSettings {
            protocol,
            endpoint,
            headers,
            timeout,
            compression,
            tls,
            batch,
            #[cfg(feature = "spool")]
            spool,
        })
    }
}

impl OtlpSettings {
    /// What bounds one request: the smaller of the OTLP timeout and the
    /// batch export timeout, `None` when neither does.
    pub(crate) fn request_timeout(&self) -> Option<Duration> {
        match (self.timeout, self.batch.export_timeout) {
            (Some(timeout), Some(export)) => Some(timeout.min(export)),
            (timeout, export) => timeout.or(export),
        }
    }
}

/// The headers of the logs-specific variable, or of the generic one when the
/// logs-specific one is unset or holds no header that can be sent (only
/// blank or malformed pairs): the specification treats a malformed value as
/// not set, and a credential in the generic variable must not be lost to a
/// typo in the other.
fn headers_from_env(env: &Env, grpc: bool) -> Vec<(String, String)> {
    let (generic, specific) = names("HEADERS");
    let read = |variable: &str| {
        env.get(variable)
            .map(|list| valid_headers(parse_header_list(&list, variable), variable, grpc))
    };
    match read(&specific) {
        Some(headers) if !headers.is_empty() => headers,
        specific_read => {
            let fallback = read(&generic).unwrap_or_default();
            if specific_read.is_some() && !fallback.is_empty() {
                diag::warn(format_args!(
                    "{specific} holds no header that can be sent, so those of {generic} are sent"
                ));
            }
            fallback
        }
    }
}

/// Keeps the headers that the protocol can carry. A name that is not a
/// header name or a value with control characters (a CR or LF, say) would
/// make every request fail, and be retried without end, so such a pair is
/// reported, naming `variable`, and skipped here instead.
fn valid_headers(
    headers: Vec<(String, String)>,
    variable: &str,
    grpc: bool,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, value)| match unusable_header(name, value, grpc) {
            None => true,
            Some(why) => {
                // The value may be a secret, so only the name is shown,
                // and only as far as it is a name: see `header_name_part`.
                let hint = if name.contains(':') {
                    " (headers are written name=value, not name: value)"
                } else {
                    ""
                };
                diag::warn(format_args!(
                    "{variable}: skipped the header {:?} because {why}{hint}",
                    header_name_part(name)
                ));
                false
            }
        })
        .collect()
}

/// Why the protocol cannot carry this header, if it cannot. gRPC metadata
/// are HTTP/2 headers, except that a name ending in `-bin` holds binary
/// data, which a text value cannot give.
fn unusable_header(name: &str, value: &str, grpc: bool) -> Option<&'static str> {
    use ureq::http::{HeaderName, HeaderValue};
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        Some("its name is not a valid HTTP header name")
    } else if HeaderValue::from_str(value).is_err() {
        Some("its value is not a valid HTTP header value")
    } else if grpc && name.to_ascii_lowercase().ends_with("-bin") {
        Some("gRPC reads a name ending in -bin as binary metadata")
    } else {
        None
    }
}

/// Accepts an `http://` or `https://` URL with a host and, if any, a port
/// from 1 to 65535, as `http::Uri` parses it, and returns it with its scheme
/// in lower case (schemes are case-insensitive; the transports compare them
/// as written). The rest is kept as given: `Uri` would write an empty path
/// as `/`.
///
/// A user name or password in the URL is refused: the endpoint appears in
/// reports on stderr, and credentials belong in the headers variable.
fn check_url(setting: &str, url: &str) -> Result<String, InitError> {
    let url = url.trim();
    let invalid = |why: &str| {
        InitError::invalid(
            setting,
            format!(
                "{:?} is not an http:// or https:// URL with a host ({why})",
                endpoint_for_reports(url)
            ),
        )
    };
    let uri: ureq::http::Uri = url.parse().map_err(|error| invalid(&format!("{error}")))?;
    let scheme = match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => "http",
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
        Some(_) => return Err(invalid("another scheme")),
        None => return Err(invalid("no scheme")),
    };
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
    if authority.as_str().contains('@') {
        return Err(InitError::invalid(
            setting,
            "the URL carries a user name or password, which reports would show; \
             give credentials in OTEL_EXPORTER_OTLP_HEADERS instead",
        ));
    }
    let host = authority.host();
    if host.is_empty() || host == "[]" {
        return Err(invalid("no host"));
    }
    // `Uri` takes any text after the host's `:` as the port; a port that
    // is not a number would make the transport use the scheme's default.
    // An empty one is the scheme's default, as the specification says.
    let after_host = authority.as_str().get(host.len()..).unwrap_or_default();
    if let Some(port) = after_host.strip_prefix(':').filter(|port| !port.is_empty()) {
        if !port.parse::<u16>().is_ok_and(|port| port != 0) {
            return Err(invalid("the port is not a number from 1 to 65535"));
        }
    }
    let rest = url
        .get(scheme.len()..)
        .ok_or_else(|| invalid("no scheme"))?;
    Ok(format!("{scheme}{rest}"))
}

/// `url` as reports show it, without what may be a credential: the query
/// (`?api_key=…`) is shown as `?…`, and the fragment is left out. A URL
/// with an `@` anywhere is shown as its scheme only: the endpoints the
/// crate accepts have no user name or password, but a refused one may,
/// and its password may hold a `?`, a `#` or a `/`, so that where it ends
/// cannot be told.
pub(crate) fn endpoint_for_reports(url: &str) -> String {
    if url.contains('@') {
        return match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "…".to_owned(),
        };
    }
    let url = url.split('#').next().unwrap_or_default();
    match url.split_once('?') {
        Some((url, _)) => format!("{url}?…"),
        None => url.to_owned(),
    }
}

/// A gRPC endpoint may be given as `host:port`; `…_INSECURE` then decides
/// between plaintext and TLS, as the specification says. A URL with a
/// scheme is left for [`check_url`] to accept or refuse.
fn with_grpc_scheme(url: &str, insecure: bool) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else if insecure {
        format!("http://{url}")
    } else {
        format!("https://{url}")
    }
}

/// Warns when an HTTP endpoint used as the full URL (given in code, or by
/// the logs-specific variable) has no path: requests would go to `/`,
/// where a collector answers 404, and every record would fail. A base URL
/// (`http://collector:4318`, as the generic variable takes) is the likely
/// mistake.
fn warn_if_no_path(setting: &str, url: &str) {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return;
    };
    if matches!(uri.path(), "" | "/") {
        diag::warn(format_args!(
            "{setting} is used as the full URL, and {} has no path: requests go to /, not to the collector's /{HTTP_LOGS_PATH}; give the full URL ({})",
            endpoint_for_reports(url),
            endpoint_for_reports(&append_logs_path(url))
        ));
    }
}

/// Says that a gRPC endpoint's path is not used: requests go to the logs
/// service's own path on the endpoint's host, so a gateway that routes by
/// a path prefix is not reached through it.
fn warn_if_grpc_path(setting: &str, url: &str) {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return;
    };
    if !matches!(uri.path(), "" | "/") {
        diag::warn(format_args!(
            "{setting}: the path {:?} of the gRPC endpoint {} is not used: gRPC requests go to the logs service's own path on that host",
            uri.path(),
            endpoint_for_reports(url)
        ));
    }
}

/// The signal path the specification appends to the generic endpoint's
/// path: before a query, which stays; a fragment is never sent, so it goes.
fn append_logs_path(base: &str) -> String {
    let base = base.split_once('#').map_or(base, |(url, _)| url);
    let (path, query) = match base.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (base, None),
    };
    let separator = if path.ends_with('/') { "" } else { "/" };
    match query {
        Some(query) => format!("{path}{separator}{HTTP_LOGS_PATH}?{query}"),
        None => format!("{path}{separator}{HTTP_LOGS_PATH}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(options: &OtlpOptions, vars: &[(&str, &str)]) -> Result<OtlpSettings, InitError> {
        OtlpSettings::resolve(options, &Env::from_pairs(vars))
    }

    /// Regression: reports showed the endpoint as given, a token in its
    /// query included, and an endpoint refused as malformed was shown with
    /// the password in it.
    #[test]
    fn reports_show_the_endpoint_without_what_may_be_a_credential() {
        assert_eq!(
            endpoint_for_reports("https://collector:4318/v1/logs?api_key=SECRET#part"),
            "https://collector:4318/v1/logs?…"
        );
        assert_eq!(
            endpoint_for_reports("https://user:hunter2@collector/v1/logs"),
            "https://…"
        );
        // An `@` in the query does not open the rest of it.
        assert_eq!(
            endpoint_for_reports("https://collector/v1/logs?user=me@example.com&key=SECRET"),
            "https://…"
        );
        assert_eq!(
            endpoint_for_reports("http://collector:4318"),
            "http://collector:4318"
        );
        for url in [
            "htps://user:hunter2@collector/",
            "https://user:hun\"ter2@collector/",
            "https://user:hun/ter2@collector/",
            "https://user:hunter2@collector:99999/",
            "https://user:hun?ter2@collector/",
            "https://user:hun#ter2@collector/",
        ] {
            let error = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", url).expect_err(url);
            assert!(!error.to_string().contains("hun"), "{error}");
        }
    }

    #[test]
    fn endpoint_resolution_follows_the_spec() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "http://localhost:4318/v1/logs"),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")],
                "http://collector:4318/v1/logs",
            ),
            (
                &[(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "https://collector:4318/base/",
                )],
                "https://collector:4318/base/v1/logs",
            ),
            (
                &[(
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "http://logs:1234/custom",
                )],
                "http://logs:1234/custom",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
                    (
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                        "http://specific:4318/v1/logs",
                    ),
                ],
                "http://specific:4318/v1/logs",
            ),
        ];
        for (vars, expected) in cases {
            let settings = resolve(&OtlpOptions::default(), vars).expect("valid");
            assert_eq!(settings.endpoint, *expected, "{vars:?}");
        }
        let code = OtlpOptions {
            endpoint: Some("http://code:9/v1/logs".into()),
            ..OtlpOptions::default()
        };
        let settings = resolve(
            &code,
            &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://env:1")],
        )
        .expect("valid");
        assert_eq!(settings.endpoint, "http://code:9/v1/logs", "code beats env");
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_endpoints_get_no_path_and_insecure_picks_the_scheme() {
        let grpc = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        let settings = resolve(&OtlpOptions::default(), &grpc).expect("valid");
        assert_eq!(settings.endpoint, "http://localhost:4317");
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "https://collector:4317");
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "http://collector:4317");
        // Regression: the variable decided for an endpoint given in code,
        // with no way for code to say otherwise. Code beats it both ways.
        for insecure in [false, true] {
            let code = OtlpOptions {
                protocol: Some(Protocol::Grpc),
                endpoint: Some("collector:4317".into()),
                insecure: Some(insecure),
                ..OtlpOptions::default()
            };
            let env = [(
                "OTEL_EXPORTER_OTLP_INSECURE",
                if insecure { "false" } else { "true" },
            )];
            let settings = resolve(&code, &env).expect("valid");
            let scheme = if insecure { "http" } else { "https" };
            assert_eq!(settings.endpoint, format!("{scheme}://collector:4317"));
        }
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn an_invalid_logs_insecure_reads_as_false_not_as_the_generic_variable() {
        // A boolean that is not `true` is false: a typo in the logs-specific
        // variable must not hand the decision to a generic `true`, which
        // would send the logs in plaintext.
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
                    ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "yes"),
                ],
                "https://collector:4317",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_INSECURE", "1")],
                "https://collector:4317",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "TRUE")],
                "http://collector:4317",
            ),
        ];
        for (insecure, expected) in cases {
            let vars = [
                &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ],
                *insecure,
            ]
            .concat();
            let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
            assert_eq!(settings.endpoint, *expected, "{insecure:?}");
        }
    }

    #[test]
    fn endpoint_schemes_are_read_in_any_case() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTPS://collector:4318")];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "https://collector:4318/v1/logs");
        let vars = [(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "Http://collector:4318/logs",
        )];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "http://collector:4318/logs");
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn a_grpc_endpoint_with_another_scheme_is_an_error() {
        for endpoint in ["grpc://collector:4317", "dns:///collector:4317"] {
            let vars = [
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ];
            let error = resolve(&OtlpOptions::default(), &vars).expect_err(endpoint);
            assert!(
                error.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_logs_path_goes_before_the_query() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base?x=1#top")];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "http://c:4318/base/v1/logs?x=1");
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/?x=1")];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.endpoint, "http://c:4318/v1/logs?x=1");
    }

    #[test]
    fn invalid_endpoints_are_errors() {
        let error = resolve(
            &OtlpOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
        )
        .expect_err("no scheme");
        assert_eq!(
            error.to_string(),
            "invalid OTEL_EXPORTER_OTLP_ENDPOINT: \"collector:4318\" is not an http:// or https:// URL with a host (no scheme)"
        );
        // Regression: a port that is not a number passed, and the
        // transport then used the scheme's default port.
        let cases = [
            ("http://collector:43l8", "the port is not a number"),
            ("http://collector:99999", "the port is not a number"),
            ("http://collector:0", "the port is not a number"),
            ("http://[]:4318", "no host"),
            ("ftp://collector", "another scheme"),
            ("http://coll ector:4318", "invalid"),
        ];
        for (endpoint, why) in cases {
            let error = resolve(
                &OtlpOptions::default(),
                &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", endpoint)],
            )
            .expect_err(endpoint);
            assert!(error.to_string().contains(why), "{endpoint}: {error}");
        }
    }

    /// Regression: an endpoint with an empty port (`http://collector:/`)
    /// was refused, and `init()` panicked on it; the specification makes
    /// it the scheme's default port, and the URL is kept as given.
    #[test]
    fn an_empty_port_is_the_schemes_default() {
        let settings = resolve(
            &OtlpOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:/")],
        )
        .expect("an empty port");
        assert_eq!(settings.endpoint, "http://collector:/v1/logs");
        let uri: ureq::http::Uri = settings.endpoint.parse().expect("uri");
        assert_eq!(uri.port_u16(), None);
    }

    /// Regression: a password in the endpoint was kept, and printed with
    /// the endpoint in every failure report.
    #[test]
    fn credentials_in_an_endpoint_are_refused_without_being_shown() {
        let error = resolve(
            &OtlpOptions::default(),
            &[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://user:s3cret@collector:4318",
            )],
        )
        .expect_err("credentials");
        let text = error.to_string();
        assert!(text.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn ipv6_hosts_and_ports_are_accepted() {
        let cases = [
            ("http://[::1]:4318", "http://[::1]:4318/v1/logs"),
            ("http://[::1]", "http://[::1]/v1/logs"),
            (
                "https://collector:65535/",
                "https://collector:65535/v1/logs",
            ),
        ];
        for (endpoint, expected) in cases {
            let settings = resolve(
                &OtlpOptions::default(),
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)],
            )
            .expect(endpoint);
            assert_eq!(settings.endpoint, expected);
        }
    }

    #[test]
    fn protocol_precedence_and_errors() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
        ];
        assert_eq!(
            resolve(&OtlpOptions::default(), &vars)
                .expect("valid")
                .protocol,
            Protocol::HttpJson
        );
        let code = OtlpOptions {
            protocol: Some(Protocol::HttpProtobuf),
            ..OtlpOptions::default()
        };
        assert_eq!(
            resolve(&code, &vars).expect("valid").protocol,
            Protocol::HttpProtobuf
        );
    }

    #[test]
    fn an_unknown_protocol_is_ignored_as_the_specification_requires() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuff"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("a warning, not an error");
        assert_eq!(
            settings.protocol,
            Protocol::HttpJson,
            "then the generic one"
        );
        let settings = resolve(&OtlpOptions::default(), &vars[..1]).expect("valid");
        assert_eq!(
            settings.protocol,
            Protocol::HttpProtobuf,
            "then the default"
        );
        assert_eq!(settings.endpoint, "http://localhost:4318/v1/logs");
    }

    #[test]
    fn headers_are_decoded_and_specific_beats_generic_and_code_beats_both() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "generic=1"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                "api-key=a%20b,broken,tenant=t1",
            ),
        ];
        let code = OtlpOptions {
            headers: vec![("Tenant".into(), "code".into())],
            ..OtlpOptions::default()
        };
        let settings = resolve(&code, &vars).expect("valid");
        assert_eq!(
            settings.headers,
            vec![
                ("api-key".to_owned(), "a b".to_owned()),
                ("Tenant".to_owned(), "code".to_owned()),
            ]
        );
    }

    /// Regression: a logs-specific headers variable that held no usable
    /// header (a lone comma, a malformed pair) still replaced the generic
    /// one, so a credential there was not sent, with no word for a comma.
    #[test]
    fn a_logs_headers_variable_without_a_usable_header_leaves_the_generic_one() {
        for specific in [",", "broken", " , broken ,", "bad name=1"] {
            let vars = [
                ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t"),
                ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", specific),
            ];
            let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
            assert_eq!(
                settings.headers,
                vec![("authorization".to_owned(), "Bearer t".to_owned())],
                "{specific:?}"
            );
        }
    }

    /// Regression: a certificate path that is not UTF-8, which a Unix
    /// path may be, was ignored with a warning: `init` then succeeded
    /// without the private CA, and every handshake with the collector
    /// failed.
    #[cfg(unix)]
    #[test]
    fn a_path_variable_need_not_be_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt as _;
        let path = OsStr::from_bytes(b"/etc/ca-\xe9.pem");
        let env = Env::from_os_pairs(&[
            ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", path.to_owned()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic/ca.pem".into()),
        ]);
        let settings = OtlpSettings::resolve(&OtlpOptions::default(), &env).expect("valid");
        assert_eq!(
            settings.tls.certificate,
            Some(TlsFile::new(path, "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"))
        );
    }

    #[test]
    fn tls_files_take_the_logs_specific_variable_first() {
        let settings = resolve(
            &OtlpOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic/ca.pem"),
                // Regression: paths were not trimmed, so a line break
                // named a file that does not exist.
                ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", " /logs/ca.pem\n"),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/generic/key.pem"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
                    "/logs/cert.pem",
                ),
            ],
        )
        .expect("valid");
        assert_eq!(
            settings.tls,
            TlsFiles {
                certificate: Some(TlsFile::new(
                    "/logs/ca.pem",
                    "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"
                )),
                client_key: Some(TlsFile::new(
                    "/generic/key.pem",
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY"
                )),
                client_certificate: Some(TlsFile::new(
                    "/logs/cert.pem",
                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE"
                )),
            }
        );
    }

    #[test]
    fn numbers_fall_back_to_defaults_when_malformed() {
        let settings = resolve(
            &OtlpOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
                ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "0"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
            ],
        )
        .expect("valid");
        assert_eq!(settings.timeout, Some(Duration::from_secs(10)));
        assert_eq!(settings.compression, Compression::None);
        assert_eq!(settings.batch.max_export_batch_size, 512);
        assert_eq!(settings.batch.schedule_delay, Duration::from_millis(250));
    }

    #[test]
    fn tls_files_and_batching_given_in_code_beat_the_variables() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "env-ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "env-client.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "env-client.key"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "7000"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "100"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000"),
        ];
        let from_env = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(
            from_env.tls.certificate.map(|file| file.path),
            Some("env-ca.pem".into())
        );
        assert_eq!(
            from_env.tls.client_key.map(|file| file.path),
            Some("env-client.key".into())
        );
        assert_eq!(from_env.batch.max_export_batch_size, 100);
        assert_eq!(from_env.batch.export_timeout, Some(Duration::from_secs(7)));
        let options = OtlpOptions {
            endpoint: Some("https://collector:4318/v1/logs".to_owned()),
            certificate: Some("ca.pem".into()),
            client_identity: Some(("client.pem".into(), "client.key".into())),
            schedule_delay: Some(Duration::from_millis(50)),
            export_timeout: Some(Duration::from_secs(3)),
            max_export_batch_size: Some(20),
            max_queue_size: Some(40),
            ..OtlpOptions::default()
        };
        let settings = resolve(&options, &vars).expect("valid");
        assert_eq!(
            settings.tls,
            TlsFiles {
                certificate: Some(TlsFile::new("ca.pem", "Builder::with_otlp_certificate")),
                client_key: Some(TlsFile::new(
                    "client.key",
                    "Builder::with_otlp_client_certificate"
                )),
                client_certificate: Some(TlsFile::new(
                    "client.pem",
                    "Builder::with_otlp_client_certificate"
                )),
            }
        );
        assert_eq!(settings.batch.schedule_delay, Duration::from_millis(50));
        assert_eq!(settings.batch.export_timeout, Some(Duration::from_secs(3)));
        assert_eq!(settings.batch.max_export_batch_size, 20);
        assert_eq!(settings.batch.max_queue_size, Some(40));
        // A batch over the queue size given in code is cut to it too.
        let options = OtlpOptions {
            max_export_batch_size: Some(500),
            ..options
        };
        let settings = resolve(&options, &vars).expect("valid");
        assert_eq!(settings.batch.max_export_batch_size, 40);
    }

    /// Regression: TLS files given in code with an http:// endpoint were
    /// read by nothing, and the logs went out unencrypted without a word.
    #[test]
    fn tls_files_given_in_code_for_an_endpoint_without_tls_are_an_error() {
        for (protocol, endpoint) in [
            (Protocol::HttpProtobuf, "http://collector:4318/v1/logs"),
            (Protocol::HttpJson, "http://collector:4318/v1/logs"),
        ] {
            for options in [
                OtlpOptions {
                    certificate: Some("ca.pem".into()),
                    ..OtlpOptions::default()
                },
                OtlpOptions {
                    client_identity: Some(("client.pem".into(), "client.key".into())),
                    ..OtlpOptions::default()
                },
            ] {
                let options = OtlpOptions {
                    protocol: Some(protocol),
                    endpoint: Some(endpoint.to_owned()),
                    ..options
                };
                let error = resolve(&options, &[]).expect_err("no TLS to use the files");
                let text = error.to_string();
                assert!(
                    text.contains("is not https://, so the file is not used and the logs are sent unencrypted"),
                    "{text}"
                );
            }
        }
        // With the endpoint from the variables (a developer's local
        // collector, say), it is a warning.
        let options = OtlpOptions {
            certificate: Some("ca.pem".into()),
            ..OtlpOptions::default()
        };
        let settings = resolve(
            &options,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")],
        )
        .expect("a warning, not an error");
        assert_eq!(settings.endpoint, "http://localhost:4318/v1/logs");
        // So is a file from the variables, which other signals' exporters
        // read too.
        let settings = resolve(
            &OtlpOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "ca.pem"),
            ],
        )
        .expect("a warning, not an error");
        assert_eq!(settings.endpoint, "http://collector:4318/v1/logs");
    }

    #[test]
    fn a_malformed_logs_timeout_falls_back_to_the_generic_one() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "5s"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.timeout, Some(Duration::from_millis(2500)));
        let settings = resolve(&OtlpOptions::default(), &vars[..1]).expect("valid");
        assert_eq!(settings.timeout, Some(DEFAULT_TIMEOUT), "then the default");
    }

    #[test]
    fn a_malformed_logs_compression_falls_back_to_the_generic_one() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        assert_eq!(settings.compression, Compression::Gzip);
    }

    /// Regression: the spool directory's variable was not trimmed, so a
    /// line break named a directory of its own, made beside the one meant.
    #[cfg(feature = "spool")]
    #[test]
    fn the_spool_directory_from_the_variable_is_trimmed() {
        let vars = [("OTEL_LOG_BRIDGE_SPOOL_DIR", " /var/spool/logs\n")];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
        let spool = settings.spool.expect("a spool");
        assert_eq!(spool.dir, std::path::Path::new("/var/spool/logs"));
    }

    /// Regression: a rejected logs-specific value was reported as "using
    /// OTEL_EXPORTER_OTLP_COMPRESSION" whenever that was set, even when it
    /// was malformed too and the default applied.
    #[test]
    fn a_rejected_logs_value_names_the_generic_one_only_when_it_applies() {
        let generic = "OTEL_EXPORTER_OTLP_COMPRESSION";
        let fallback = |value: &str| {
            let env = Env::from_pairs(&[(generic, value)]);
            fallback_for_specific(&env, generic, "none", &Compression::parse)
        };
        assert_eq!(fallback("gzip"), generic);
        assert_eq!(fallback("brotli"), "none");
        let env = Env::from_pairs(&[]);
        assert_eq!(
            fallback_for_specific(&env, generic, "none", &Compression::parse),
            "none"
        );
    }

    #[test]
    fn a_zero_timeout_means_no_timeout() {
        for name in [
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
        ] {
            let settings = resolve(&OtlpOptions::default(), &[(name, "0")]).expect("valid");
            assert_eq!(settings.timeout, None, "{name}");
            assert_eq!(settings.request_timeout(), Some(DEFAULT_EXPORT_TIMEOUT));
        }
        let settings = resolve(
            &OtlpOptions::default(),
            &[("OTEL_BLRP_EXPORT_TIMEOUT", "0")],
        )
        .expect("valid");
        assert_eq!(settings.batch.export_timeout, None);
        assert_eq!(settings.request_timeout(), Some(DEFAULT_TIMEOUT));
        let settings = resolve(
            &OtlpOptions {
                timeout: Some(Duration::ZERO),
                ..OtlpOptions::default()
            },
            &[("OTEL_BLRP_EXPORT_TIMEOUT", "0")],
        )
        .expect("valid");
        assert_eq!(settings.request_timeout(), None);
    }

    /// Regression: a number too large for 64 bits was reported as not a
    /// whole number, and the default (10 s, or a queue of 2048) used.
    #[test]
    fn numbers_too_large_read_as_the_largest() {
        let huge = "99999999999999999999";
        let settings = resolve(
            &OtlpOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", huge),
                ("OTEL_BLRP_SCHEDULE_DELAY", huge),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", huge),
            ],
        )
        .expect("valid");
        assert_eq!(settings.timeout, Some(LONGEST_TIMEOUT));
        assert_eq!(
            settings.batch.schedule_delay,
            Duration::from_millis(u64::MAX)
        );
        assert_eq!(settings.batch.max_queue_size, Some(u64::MAX));
    }

    #[test]
    fn a_huge_timeout_is_capped_so_that_deadlines_cannot_overflow() {
        let settings = resolve(
            &OtlpOptions {
                timeout: Some(Duration::MAX),
                ..OtlpOptions::default()
            },
            &[("OTEL_BLRP_EXPORT_TIMEOUT", &u64::MAX.to_string())],
        )
        .expect("valid");
        assert_eq!(settings.timeout, Some(LONGEST_TIMEOUT));
        assert_eq!(settings.request_timeout(), Some(LONGEST_TIMEOUT));
        assert!(std::time::Instant::now()
            .checked_add(LONGEST_TIMEOUT)
            .is_some());
    }

    #[test]
    fn a_batch_size_over_the_queue_size_is_clamped_to_it() {
        // (batch size variable, queue size variable) → (batch, queue).
        let cases = [
            (Some("1000"), "200", 200),
            // The default batch size is cut too.
            (None, "100", 100),
            (Some("50"), "200", 50),
        ];
        for (batch, queue, expected) in cases {
            let mut vars = vec![("OTEL_BLRP_MAX_QUEUE_SIZE", queue)];
            vars.extend(batch.map(|batch| ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", batch)));
            let settings = resolve(&OtlpOptions::default(), &vars).expect("valid");
            assert_eq!(settings.batch.max_export_batch_size, expected, "{vars:?}");
            assert_eq!(
                settings.batch.max_queue_size,
                queue.parse().ok(),
                "{vars:?}"
            );
        }
    }

    #[test]
    fn protocol_and_compression_values_ignore_case() {
        let settings = resolve(
            &OtlpOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/Protobuf"),
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "HTTP/JSON"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
            ],
        )
        .expect("valid");
        assert_eq!(settings.protocol, Protocol::HttpJson);
        assert_eq!(settings.compression, Compression::Gzip);
        let settings = resolve(
            &OtlpOptions::default(),
            &[("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "None")],
        )
        .expect("valid");
        assert_eq!(settings.compression, Compression::None);
    }

    #[test]
    fn a_header_in_code_that_http_cannot_carry_is_an_error() {
        let options = OtlpOptions {
            headers: vec![("x-tenant".into(), "a\r\nInjected: x".into())],
            ..OtlpOptions::default()
        };
        let error = resolve(&options, &[]).expect_err("invalid header");
        assert!(
            error.to_string().contains("Builder::with_otlp_header")
                && error.to_string().contains("\"x-tenant\""),
            "{error}"
        );
    }

    #[test]
    fn headers_http_cannot_carry_are_skipped() {
        let settings = resolve(
            &OtlpOptions::default(),
            &[(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "bad%20name=1,split=a%0D%0AInjected: x,ok=fine,caf%C3%A9=2,tab=a%09b",
            )],
        )
        .expect("valid");
        assert_eq!(
            settings.headers,
            vec![
                ("ok".to_owned(), "fine".to_owned()),
                ("tab".to_owned(), "a\tb".to_owned()),
            ]
        );
    }

    #[cfg(not(feature = "grpc"))]
    #[test]
    fn grpc_in_a_build_without_it_is_an_error() {
        for vars in [
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")][..],
            &[("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "GRPC")],
            &[
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "nonsense"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ],
        ] {
            let error = resolve(&OtlpOptions::default(), vars).expect_err("unbuilt");
            assert!(error.to_string().contains("`grpc` feature"), "{error}");
        }
        let vars = [
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ];
        let settings = resolve(&OtlpOptions::default(), &vars).expect("the logs one wins");
        assert_eq!(settings.protocol, Protocol::HttpJson);
    }

    /// Regression: tonic refuses a text value for a `-bin` key, so such a
    /// header from the environment made the gRPC exporter fail at start.
    #[cfg(feature = "grpc")]
    #[test]
    fn a_binary_metadata_header_is_skipped_over_grpc_only() {
        let headers = [("OTEL_EXPORTER_OTLP_HEADERS", "x-trace-bin=abc,ok=1")];
        let grpc = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        let settings = resolve(&OtlpOptions::default(), &[headers, grpc].concat()).expect("valid");
        assert_eq!(settings.headers, [("ok".to_owned(), "1".to_owned())]);
        let settings = resolve(&OtlpOptions::default(), &headers).expect("valid");
        assert_eq!(settings.headers.len(), 2, "HTTP sends it as it is");
    }
}
