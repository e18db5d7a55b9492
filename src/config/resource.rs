//! The resource every record is attributed to.

use std::collections::HashMap;

use crate::config::env;
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

/// The integer types whose every value an `i64` holds: `u64` and `usize`
/// are left out, as their largest values would not fit (convert with
/// `i64::try_from`, or give the value as a string).
macro_rules! from_lossless_integer {
    ($($integer:ty),*) => {$(
        impl From<$integer> for AttributeValue {
            fn from(value: $integer) -> Self {
                AttributeValue::Int(i64::from(value))
            }
        }
    )*};
}

from_lossless_integer!(i8, i16, i32, u8, u16, u32);

impl From<f64> for AttributeValue {
    fn from(value: f64) -> Self {
        AttributeValue::Double(value)
    }
}

impl From<f32> for AttributeValue {
    fn from(value: f32) -> Self {
        AttributeValue::Double(f64::from(value))
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
        default_service_name(executable_name().as_deref()).into(),
    );
    resource.set("telemetry.sdk.name", "otel-log-bridge".into());
    resource.set("telemetry.sdk.language", "rust".into());
    resource.set("telemetry.sdk.version", env!("CARGO_PKG_VERSION").into());
    resource.set("process.pid", i64::from(std::process::id()).into());
    if let Some(host) = gethostname::gethostname().to_str() {
        resource.set("host.name", host.into());
    }
    if let Some(list) = inputs.env_attributes {
        let pairs: Vec<(String, String)> = parse_resource_attributes(list)
            .into_iter()
            .filter(|(key, value)| {
                // A blank name would merge the service with every other
                // one that has none, as a blank `OTEL_SERVICE_NAME` would.
                let blank_service = key == "service.name" && value.trim().is_empty();
                if blank_service {
                    diag::warn(format_args!(
                        "{}: `service.name` is blank, so it is ignored",
                        env::RESOURCE_ATTRIBUTES
                    ));
                }
                !blank_service
            })
            .collect();
        // The specification says nothing of a key given twice; the last
        // value counts, as a map keeps it, and that is said, since one of
        // the two was likely meant for another key.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (key, _) in &pairs {
            *seen.entry(key.as_str()).or_default() += 1;
        }
        let mut repeated: Vec<&str> = seen
            .into_iter()
            .filter(|(_, times)| *times > 1)
            .map(|(key, _)| key)
            .collect();
        repeated.sort_unstable();
        for key in repeated {
            diag::warn(format_args!(
                "{}: the key {key:?} is given more than once; only its last value counts",
                env::RESOURCE_ATTRIBUTES
            ));
        }
        for (key, value) in pairs {
            resource.set(key, AttributeValue::String(value));
        }
    }
    // Trimmed like the values of `OTEL_RESOURCE_ATTRIBUTES`: a newline left
    // by a file or a template would make another service of it.
    if let Some(name) = inputs
        .env_service_name
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
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

/// `service.name` when nothing configures it. The semantic conventions ask
/// for `unknown_service:` followed by the executable's name, and for
/// `unknown_service` alone when that name is not available.
fn default_service_name(executable_name: Option<&str>) -> String {
    match executable_name {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

/// The file name of the running executable, when the platform tells it.
fn executable_name() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    Some(path.file_name()?.to_string_lossy().into_owned())
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES`, `key1=value1,key2=value2` (W3C
/// Baggage style, keys and values percent-encoded). The specification asks
/// for the entire value to be discarded on any error, so the first
/// malformed pair is reported and no attribute of the variable is kept.
pub(crate) fn parse_resource_attributes(list: &str) -> Vec<(String, String)> {
    non_blank_pairs(list)
        .map(|pair| parse_pair(pair).map_err(|why| (pair, why)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|(pair, why)| {
            diag::warn(format_args!(
                "{}: the pair {} is malformed because {why}, so the whole variable is ignored; \
                 expected key=value pairs separated by ','",
                env::RESOURCE_ATTRIBUTES,
                Quote::Pair.show(pair)
            ));
            Vec::new()
        })
}

/// Parses the OTLP headers variables, written as `OTEL_RESOURCE_ATTRIBUTES`
/// is. Unlike there, the specification asks for no discarding, so a
/// malformed pair is skipped and the rest are kept. It is reported by its
/// key only: a header's value is often a credential.
#[cfg(feature = "otlp")]
pub(crate) fn parse_header_list(list: &str, variable: &str) -> Vec<(String, String)> {
    non_blank_pairs(list)
        .filter_map(|pair| {
            parse_pair(pair)
                .inspect_err(|why| {
                    diag::warn(format_args!(
                        "{variable}: skipped the pair {} because {why}; \
                         expected key=value pairs separated by ','",
                        Quote::KeyOnly.show(pair)
                    ));
                })
                .ok()
        })
        .collect()
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
            (Quote::KeyOnly, Some((key, _))) => {
                format!("{:?}", format!("{}=…", header_name_part(key)))
            }
            (Quote::KeyOnly, None) => "(not shown: it may be a secret)".to_owned(),
        }
    }
}

/// A header's name as a report may show it: up to its first character
/// that no header name has, and `…` in place of the rest. A header written
/// the HTTP way, `Authorization: Basic dXNlcjpwYXNz==`, is split at the
/// first `=`, inside the credential, so all before that `=` is taken for
/// its name; shown whole, it would put the credential on stderr.
pub(crate) fn header_name_part(name: &str) -> String {
    // The characters of an HTTP token (RFC 9110, section 5.6.2).
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    match name.find(|c: char| !is_token(c)) {
        Some(end) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

/// The pairs of a `key=value,…` list. Blank ones, as a trailing comma
/// leaves, are not errors: they carry nothing to lose.
fn non_blank_pairs(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|pair| !pair.trim().is_empty())
}

/// Decodes one `key=value` pair, or says why it is malformed.
fn parse_pair(pair: &str) -> Result<(String, String), &'static str> {
    // Values may contain `=`: only the first one separates the key.
    let (key, value) = pair.split_once('=').ok_or("it has no '='")?;
    // The specification asks for `,` and `=` to be percent-encoded in
    // keys as well as in values, so both are decoded.
    let key = percent_decode(key).ok_or("its key is not percent-encoded UTF-8")?;
    // Trimmed after decoding, so that an encoded space cannot make a
    // key that differs from another only by its padding.
    let key = key.trim();
    if key.is_empty() {
        return Err("its key is empty");
    }
    let value = percent_decode(value.trim()).ok_or("its value is not percent-encoded UTF-8")?;
    Ok((key.to_owned(), value))
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

    /// Regression: only `i64` among the integers converted, so a process
    /// id (`u32`) or a port (`u16`) given as is did not compile.
    #[test]
    fn integers_an_i64_holds_and_floats_convert() {
        assert_eq!(
            AttributeValue::from(std::process::id()),
            AttributeValue::Int(i64::from(std::process::id()))
        );
        assert_eq!(AttributeValue::from(8080_u16), AttributeValue::Int(8080));
        assert_eq!(AttributeValue::from(-3_i8), AttributeValue::Int(-3));
        assert_eq!(
            AttributeValue::from(u32::MAX),
            AttributeValue::Int(4_294_967_295)
        );
        assert_eq!(AttributeValue::from(0.5_f32), AttributeValue::Double(0.5));
        // A literal still converts without a suffix.
        let _ = crate::builder().with_resource_attribute("shard", 3);
        let _ = crate::builder().with_resource_attribute("ratio", 0.25);
    }

    #[test]
    fn parses_trimmed_percent_decoded_pairs() {
        let parsed =
            parse_resource_attributes(" deployment.environment = prod ,url=a%3Db%2Cc,,team=core,");
        assert_eq!(
            parsed,
            vec![
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("url".to_owned(), "a=b,c".to_owned()),
                ("team".to_owned(), "core".to_owned()),
            ]
        );
    }

    /// Regression: a malformed pair was skipped and the other pairs kept,
    /// where the specification asks for the entire value to be discarded.
    #[test]
    fn malformed_resource_attributes_discard_the_whole_variable() {
        let malformed_pairs = [
            "broken",
            "=nokey",
            "%20=blank-key",
            "bad=%FF",
            "k=%ZZ",
            "%G1=v",
            "cut=50%",
            "tail=%4",
        ];
        for malformed in malformed_pairs {
            let list = format!("team=core,{malformed},region=eu");
            assert_eq!(parse_resource_attributes(&list), [], "{list}");
        }
        let resource = build(&ResourceInputs {
            env_attributes: Some("team=core,broken,service.name=from-attrs"),
            ..ResourceInputs::default()
        });
        assert_eq!(resource.get("team"), None);
        assert_eq!(
            resource.get("service.name"),
            Some(&default_service_name(executable_name().as_deref()).into())
        );
        assert_eq!(resource.get("telemetry.sdk.language"), Some(&"rust".into()));
    }

    /// Regression: the fallback was `unknown_service:unknown`, where the
    /// semantic conventions ask for `unknown_service` alone.
    #[test]
    fn service_name_without_an_executable_is_unknown_service() {
        assert_eq!(default_service_name(None), "unknown_service");
        assert_eq!(default_service_name(Some("app")), "unknown_service:app");
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
    }

    /// Regression: a header written the HTTP way, `name: value`, with a
    /// `=` in its value (base64 padding) was reported with all before that
    /// `=` as its name, credential included.
    #[cfg(feature = "otlp")]
    #[test]
    fn a_header_written_with_a_colon_is_reported_by_its_name_alone() {
        let pair = "Authorization: Basic dXNlcjpwYXNzd29yZA==";
        let (key, _) = pair.split_once('=').expect("a pair");
        assert_eq!(header_name_part(key), "Authorization…");
        assert_eq!(
            Quote::KeyOnly.show("Authorization: Bearer abc%zz=x"),
            r#""Authorization…=…""#
        );
        assert_eq!(header_name_part("x-api-key"), "x-api-key");
    }

    /// Headers keep skipping only the malformed pair: the rule to discard
    /// the entire value is the resource variable's alone.
    #[cfg(feature = "otlp")]
    #[test]
    fn a_malformed_header_pair_is_skipped_and_the_rest_kept() {
        let headers = parse_header_list(
            "api-key=a%20b,x=%zz,broken,tenant=100%25",
            "OTEL_EXPORTER_OTLP_HEADERS",
        );
        assert_eq!(
            headers,
            [
                ("api-key".to_owned(), "a b".to_owned()),
                ("tenant".to_owned(), "100%".to_owned()),
            ]
        );
    }

    #[test]
    fn a_valid_percent_escape_decodes_in_a_resource_value() {
        let parsed = parse_resource_attributes("ok=100%25,space=a%20b");
        assert_eq!(
            parsed,
            [
                ("ok".to_owned(), "100%".to_owned()),
                ("space".to_owned(), "a b".to_owned()),
            ]
        );
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

    /// Regression: `OTEL_SERVICE_NAME` was taken as it was, so a trailing
    /// newline (from a secret file, say) named another service.
    #[test]
    fn the_service_name_variable_is_trimmed() {
        let resource = build(&ResourceInputs {
            env_service_name: Some(" checkout\n"),
            ..ResourceInputs::default()
        });
        assert_eq!(resource.get("service.name"), Some(&"checkout".into()));
    }

    /// Regression: a blank `service.name` in `OTEL_RESOURCE_ATTRIBUTES` was
    /// exported as it was, where a blank `OTEL_SERVICE_NAME` or one given
    /// in code is refused.
    #[test]
    fn a_blank_service_name_in_the_attributes_variable_is_ignored() {
        for list in ["service.name=,team=core", "service.name=%20,team=core"] {
            let resource = build(&ResourceInputs {
                env_attributes: Some(list),
                ..ResourceInputs::default()
            });
            match resource.get("service.name") {
                Some(AttributeValue::String(name)) => {
                    assert!(name.starts_with("unknown_service"), "{list}: {name:?}");
                }
                other => panic!("{list}: unexpected service.name {other:?}"),
            }
            assert_eq!(resource.get("team"), Some(&"core".into()), "{list}");
        }
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
