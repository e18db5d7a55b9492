//! The resource every record is attributed to.

use crate::diag;
use crate::record::ValueRef;

/// A typed resource attribute value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// A string.
    String(String),
    /// A signed 64-bit integer.
    Int(i64),
    /// A double-precision float.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

impl AttributeValue {
    pub(crate) fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            AttributeValue::String(s) => ValueRef::Str(s),
            AttributeValue::Int(i) => ValueRef::Int(*i),
            AttributeValue::Double(f) => ValueRef::Double(*f),
            AttributeValue::Bool(b) => ValueRef::Bool(*b),
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(value: &str) -> Self {
        AttributeValue::String(value.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        AttributeValue::String(value)
    }
}

impl From<i64> for AttributeValue {
    fn from(value: i64) -> Self {
        AttributeValue::Int(value)
    }
}

impl From<f64> for AttributeValue {
    fn from(value: f64) -> Self {
        AttributeValue::Double(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        AttributeValue::Bool(value)
    }
}

/// An ordered set of resource attributes with unique keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Resource {
    attributes: Vec<(String, AttributeValue)>,
}

impl Resource {
    pub(crate) fn attributes(&self) -> &[(String, AttributeValue)] {
        &self.attributes
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    /// Sets `key`, replacing an earlier value: later sources win.
    pub(crate) fn set(&mut self, key: impl Into<String>, value: AttributeValue) {
        let key = key.into();
        match self
            .attributes
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }
}

/// The inputs the resource is built from, weakest first in [`build`].
#[derive(Debug, Default)]
pub(crate) struct ResourceInputs<'a> {
    pub(crate) env_attributes: Option<&'a str>,
    pub(crate) env_service_name: Option<&'a str>,
    pub(crate) code_attributes: &'a [(String, AttributeValue)],
    pub(crate) code_service_name: Option<&'a str>,
}

/// Builds the resource. Each source overrides the ones before it:
/// detected defaults, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`,
/// builder attributes, the builder's service name.
pub(crate) fn build(inputs: &ResourceInputs<'_>) -> Resource {
    let mut resource = Resource::default();
    resource.set(
        "service.name",
        AttributeValue::String(format!("unknown_service:{}", executable_name())),
    );
    resource.set("telemetry.sdk.name", "otel-log-bridge".into());
    resource.set("telemetry.sdk.language", "rust".into());
    resource.set("telemetry.sdk.version", env!("CARGO_PKG_VERSION").into());
    resource.set("process.pid", i64::from(std::process::id()).into());
    if let Some(host) = gethostname::gethostname().to_str() {
        resource.set("host.name", host.into());
    }
    if let Some(list) = inputs.env_attributes {
        for (key, value) in parse_resource_attributes(list) {
            resource.set(key, AttributeValue::String(value));
        }
    }
    if let Some(name) = inputs.env_service_name.filter(|name| !name.is_empty()) {
        resource.set("service.name", name.into());
    }
    for (key, value) in inputs.code_attributes {
        resource.set(key.clone(), value.clone());
    }
    if let Some(name) = inputs.code_service_name {
        resource.set("service.name", name.into());
    }
    resource
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES`; see [`parse_key_value_list`].
pub(crate) fn parse_resource_attributes(list: &str) -> Vec<(String, String)> {
    parse_key_value_list(list, "OTEL_RESOURCE_ATTRIBUTES")
}

/// Parses `key1=value1,key2=value2` (W3C Baggage style, keys and values
/// percent-encoded), as `OTEL_RESOURCE_ATTRIBUTES` uses it. A malformed pair
/// is reported once, naming `variable`, and skipped; the rest are kept.
pub(crate) fn parse_key_value_list(list: &str, variable: &str) -> Vec<(String, String)> {
    parse_pairs(list, variable, Quote::Pair)
}

/// Parses the OTLP headers variables, as [`parse_key_value_list`] does, but
/// a malformed pair is reported by its key only: a header's value is often
/// a credential.
#[cfg(feature = "otlp")]
pub(crate) fn parse_header_list(list: &str, variable: &str) -> Vec<(String, String)> {
    parse_pairs(list, variable, Quote::KeyOnly)
}

/// How much of a malformed pair its report shows.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
enum Quote {
    Pair,
    KeyOnly,
}

impl Quote {
    fn show(self, pair: &str) -> String {
        match (self, pair.split_once('=')) {
            (Quote::Pair, _) => format!("{pair:?}"),
            (Quote::KeyOnly, Some((key, _))) => format!("{:?}", format!("{key}=…")),
            (Quote::KeyOnly, None) => "(not shown: it may be a secret)".to_owned(),
        }
    }
}

fn parse_pairs(list: &str, variable: &str, quote: Quote) -> Vec<(String, String)> {
    let report_malformed = |pair: &str, why: &str| {
        diag::warn(format_args!(
            "{variable}: skipped the pair {} because {why}; expected key=value pairs separated by ','",
            quote.show(pair)
        ));
    };
    let mut attributes = Vec::new();
    for pair in list.split(',') {
        if pair.trim().is_empty() {
            continue;
        }
        // Values may contain `=`: only the first one separates the key.
        let Some((key, value)) = pair.split_once('=') else {
            report_malformed(pair, "it has no '='");
            continue;
        };
        // The specification asks for `,` and `=` to be percent-encoded in
        // keys as well as in values, so both are decoded.
        let Some(key) = percent_decode(key) else {
            report_malformed(pair, "its key is not percent-encoded UTF-8");
            continue;
        };
        // Trimmed after decoding, so that an encoded space cannot make a
        // key that differs from another only by its padding.
        let key = key.trim();
        if key.is_empty() {
            report_malformed(pair, "its key is empty");
            continue;
        }
        match percent_decode(value.trim()) {
            Some(value) => attributes.push((key.to_owned(), value)),
            None => report_malformed(pair, "its value is not percent-encoded UTF-8"),
        }
    }
    attributes
}

/// Decodes `%XX` escapes. `None` when a `%` does not start an escape of two
/// hex digits, or the bytes are not UTF-8: keeping such text as it is would
/// store something other than what was meant without a word.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let escapes_valid = bytes.iter().enumerate().all(|(at, &byte)| {
        byte != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_valid {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_skips_malformed_ones() {
        let parsed = parse_resource_attributes(
            " deployment.environment = prod ,broken,=nokey,url=a%3Db%2Cc, bad=%FF,team=core",
        );
        assert_eq!(
            parsed,
            vec![
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("url".to_owned(), "a=b,c".to_owned()),
                ("team".to_owned(), "core".to_owned()),
            ]
        );
    }

    #[test]
    fn keys_are_percent_decoded_like_values() {
        let parsed = parse_resource_attributes("a%3Db%2Cc=v,%20padded%20=x");
        assert_eq!(
            parsed,
            vec![
                ("a=b,c".to_owned(), "v".to_owned()),
                ("padded".to_owned(), "x".to_owned()),
            ]
        );
    }

    /// Regression: a malformed header pair was reported whole on stderr,
    /// credential included.
    #[cfg(feature = "otlp")]
    #[test]
    fn a_malformed_header_is_reported_without_its_value() {
        assert_eq!(
            Quote::KeyOnly.show("Authorization=Bearer abc%zz"),
            r#""Authorization=…""#
        );
        assert_eq!(
            Quote::KeyOnly.show("Bearer abc"),
            "(not shown: it may be a secret)"
        );
        assert_eq!(Quote::Pair.show("a=%zz"), r#""a=%zz""#);
        let headers = parse_header_list("api-key=a%20b,x=%zz", "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(headers, [("api-key".to_owned(), "a b".to_owned())]);
    }

    #[test]
    fn a_pair_with_an_invalid_percent_escape_is_skipped() {
        let parsed = parse_resource_attributes("k=%ZZ,%G1=v,cut=50%,ok=100%25,tail=%4");
        assert_eq!(parsed, vec![("ok".to_owned(), "100%".to_owned())]);
    }

    #[test]
    fn later_sources_win() {
        let code = [("team".to_owned(), AttributeValue::from("code"))];
        let resource = build(&ResourceInputs {
            env_attributes: Some("service.name=from-attrs,team=env"),
            env_service_name: Some("from-env"),
            code_attributes: &code,
            code_service_name: None,
        });
        assert_eq!(resource.get("service.name"), Some(&"from-env".into()));
        assert_eq!(resource.get("team"), Some(&"code".into()));
        let resource = build(&ResourceInputs {
            env_service_name: Some("from-env"),
            code_service_name: Some("from-code"),
            ..ResourceInputs::default()
        });
        assert_eq!(resource.get("service.name"), Some(&"from-code".into()));
    }

    #[test]
    fn defaults_follow_the_spec() {
        let resource = build(&ResourceInputs::default());
        match resource.get("service.name") {
            Some(AttributeValue::String(name)) => assert!(name.starts_with("unknown_service:")),
            other => panic!("unexpected service.name {other:?}"),
        }
        assert_eq!(resource.get("telemetry.sdk.language"), Some(&"rust".into()));
        assert_eq!(
            resource.get("process.pid"),
            Some(&AttributeValue::Int(i64::from(std::process::id())))
        );
    }
}
