//! Whether OTLP/HTTP requests go through the proxy the environment names.
//!
//! The HTTP client reads `ALL_PROXY`, `HTTPS_PROXY` and `HTTP_PROXY` itself,
//! but matches `NO_PROXY` more narrowly than `curl` and Go do (no blanks
//! around entries, no suffix for a bare domain, no address ranges), so a
//! collector listed there was still reached through the proxy, which often
//! cannot reach it. The exporter talks to one endpoint only, so the
//! decision is made once, here, by the rules those tools share.

use std::net::IpAddr;

/// The proxy for requests to `endpoint`: the one the environment names,
/// unless the endpoint's host goes around it (see [`bypasses_proxy`]).
pub(crate) fn proxy_for(endpoint: &str) -> Option<ureq::Proxy> {
    let proxy = ureq::Proxy::try_from_env()?;
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
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
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
}
