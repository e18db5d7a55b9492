//! Whether OTLP/HTTP requests go through the proxy the environment names.
//!
//! The HTTP client can read `ALL_PROXY`, `HTTPS_PROXY` and `HTTP_PROXY`
//! itself, but matches `NO_PROXY` otherwise than `curl` and Go do: more
//! narrowly (no blanks around entries, no suffix for a bare domain, no
//! address ranges), so a collector listed there was still reached through
//! the proxy, which often cannot reach it, and more loosely elsewhere
//! (prefixes, suffixes without a dot). The exporter talks to one endpoint
//! only, so the decision is made once, here, by the rules those tools
//! share, and the proxy is made from its variable alone.

use std::net::IpAddr;

/// The variables that name the proxy, in the order the HTTP client reads
/// them: the first that holds a proxy URL is used, whatever the endpoint's
/// scheme.
const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// The proxy for requests to `endpoint`: the one the environment names,
/// unless the endpoint's host goes around it (see [`bypasses_proxy`]).
pub(crate) fn proxy_for(endpoint: &str) -> Option<ureq::Proxy> {
    proxy_from(endpoint, |name| std::env::var(name).ok())
}

/// [`proxy_for`] with the environment's variables read by `variable`.
fn proxy_from(endpoint: &str, variable: impl Fn(&str) -> Option<String>) -> Option<ureq::Proxy> {
    // Made from the variable's value, not by the client's own reading of
    // the environment, which carries its `NO_PROXY` matching along and
    // applies it on every connection, on top of the decision made here: a
    // host that either matched went around the proxy (`10.` or `192.168.*`
    // as prefixes, `*example.com` matching `badexample.com`).
    let proxy = PROXY_VARIABLES
        .iter()
        .find_map(|name| ureq::Proxy::new(&variable(name)?).ok())?;
    let uri = endpoint.parse::<ureq::http::Uri>().ok()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    // The lower-case name first, as `curl` reads it; one left empty (by a
    // template, say) leaves the other in force, as in Go.
    let no_proxy = ["no_proxy", "NO_PROXY"]
        .iter()
        .find_map(|name| variable(name).filter(|value| !value.trim().is_empty()))
        .unwrap_or_default();
    (!bypasses_proxy(host, port, &no_proxy)).then_some(proxy)
}

/// Whether requests to `host` on `port` go around the proxy. A loopback
/// host always does, as Go's HTTP client decides: a proxy cannot reach this
/// machine's own collector. Otherwise `no_proxy`, a comma-separated list,
/// decides: `*` matches every host; an entry `example.com`, `.example.com`
/// or `*.example.com` matches that domain and the names under it; an
/// address matches itself, and `10.0.0.0/8` the addresses in the range;
/// an entry with a port (`collector:4318`, `[::1]:4318`) matches only that
/// port. Blanks around entries and letter case do not matter.
pub(crate) fn bypasses_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let host = unbracketed(host).to_ascii_lowercase();
    let address = host.parse::<IpAddr>().ok();
    if host == "localhost"
        || host.ends_with(".localhost")
        || address.is_some_and(|address| address.is_loopback())
    {
        return true;
    }
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((network, bits)) = entry.split_once('/') {
                return address.is_some_and(|address| in_range(address, network, bits));
            }
            let (name, entry_port) = split_port(entry);
            if entry_port.is_some_and(|entry_port| entry_port != port) {
                return false;
            }
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .to_ascii_lowercase();
            match (address, name.parse::<IpAddr>()) {
                (Some(address), Ok(listed)) => address == listed,
                _ => {
                    !name.is_empty()
                        && (host == name
                            || host
                                .strip_suffix(&name)
                                .is_some_and(|rest| rest.ends_with('.')))
                }
            }
        })
}

fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

/// An entry's host and port: `[::1]:4318`, `collector:4318`, or a host
/// alone, an IPv6 address without brackets among them.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((address, after)) => (
                address,
                after.strip_prefix(':').and_then(|port| port.parse().ok()),
            ),
            None => (entry, None),
        };
    }
    match entry.split_once(':') {
        Some((name, port)) if !port.contains(':') => (name, port.parse().ok()),
        _ => (entry, None),
    }
}

/// Whether `address` is in the range `network`/`bits`.
fn in_range(address: IpAddr, network: &str, bits: &str) -> bool {
    let (Ok(network), Ok(bits)) = (unbracketed(network).parse::<IpAddr>(), bits.parse::<u32>())
    else {
        return false;
    };
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `NO_PROXY` entries with blanks around them, domains
    /// that should match the names under them, address ranges and
    /// bracketed addresses did not match, nor did a collector on this
    /// machine without an entry, so requests went to a proxy that could
    /// not reach the collector.
    #[test]
    fn no_proxy_is_read_as_curl_and_go_read_it() {
        let goes_around = [
            ("localhost", 4318, ""),
            ("127.0.0.1", 4318, ""),
            ("[::1]", 4318, ""),
            ("api.localhost", 4318, ""),
            ("collector", 4318, "example.com, collector"),
            ("otel.ns.svc.cluster.local", 4318, "cluster.local"),
            ("otel.example.com", 4318, ".example.com"),
            ("otel.example.com", 4318, "*.example.com"),
            ("example.com", 4318, ".example.com"),
            ("OTEL.Example.COM", 4318, "example.com"),
            ("10.1.2.3", 4318, "10.0.0.0/8"),
            ("[fd00::5]", 4318, "fd00::/8"),
            ("[fd00::5]", 4318, "fd00::5"),
            ("[fd00::5]", 4318, "[fd00::5]:4318"),
            ("collector", 4318, "collector:4318"),
            ("anything", 80, "*"),
        ];
        for (host, port, no_proxy) in goes_around {
            assert!(
                bypasses_proxy(host, port, no_proxy),
                "{host}:{port} {no_proxy:?}"
            );
        }
        let proxied = [
            ("collector", 4318, ""),
            ("collector", 4318, "collector:4317"),
            ("notexample.com", 4318, "example.com"),
            ("example.com.evil.net", 4318, "example.com"),
            ("11.1.2.3", 4318, "10.0.0.0/8"),
            ("10.1.2.3", 4318, "10.0.0.0/40"),
            ("collector", 4318, " , ."),
            ("10.1.2.3", 4318, "10.1.2.4"),
        ];
        for (host, port, no_proxy) in proxied {
            assert!(
                !bypasses_proxy(host, port, no_proxy),
                "{host}:{port} {no_proxy:?}"
            );
        }
    }

    /// Regression: the proxy was the HTTP client's own reading of the
    /// environment, which brought the client's `NO_PROXY` matching with
    /// it: hosts that `curl` and Go send through the proxy went around it
    /// when the client's looser rules matched them, straight to a collector
    /// that only the proxy can reach.
    #[test]
    fn only_this_modules_reading_of_no_proxy_decides() {
        let environment = |no_proxy: &'static str| {
            move |name: &str| match name {
                "HTTPS_PROXY" => Some("http://proxy.internal:3128".to_owned()),
                "NO_PROXY" => Some(no_proxy.to_owned()),
                _ => None,
            }
        };
        for (endpoint, no_proxy) in [
            ("http://192.0.2.1:4318/v1/logs", "192.0.*"),
            ("http://10.1.2.3:4318/v1/logs", "10."),
            ("https://badexample.com/v1/logs", "*example.com"),
        ] {
            let proxy = proxy_from(endpoint, environment(no_proxy)).expect("a proxy");
            let uri = endpoint.parse().expect("a URI");
            assert!(!proxy.is_no_proxy(&uri), "{endpoint} {no_proxy:?}");
            assert_eq!(proxy.host(), "proxy.internal");
        }
        // What this module's rules match still goes around the proxy.
        let around = proxy_from(
            "https://otel.example.com/v1/logs",
            environment("example.com"),
        );
        assert!(around.is_none());
        // A variable that names no proxy URL is passed over.
        let proxy = proxy_from("http://collector:4318", |name: &str| match name {
            "ALL_PROXY" => Some("http://[".to_owned()),
            "HTTP_PROXY" => Some("socks5://socks.internal:1080".to_owned()),
            _ => None,
        })
        .expect("a proxy");
        assert_eq!(proxy.host(), "socks.internal");
    }
}
