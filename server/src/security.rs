//! What every response carries and every request must name: the security headers (on the
//! app's pages, API answers and errors alike) and the `Host` allowlist.
//!
//! The allowlist stops DNS rebinding: a page on `evil.example` whose name the attacker then
//! points at 127.0.0.1 is same-origin with the attacker's page as far as the browser knows,
//! so the loopback-only demo (and every other server the browser can reach) would answer
//! its requests. The browser still sends `Host: evil.example`, and that is refused here.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{ConfigError, ServeConfig};
use crate::error::AppError;

/// Marks a response as a page or asset of the web app, which gets the app's policy
/// (scripts, styles and images from this origin, WebSockets to it) instead of the API's.
#[derive(Debug, Clone, Copy)]
pub struct AppPage;

/// The policy of everything that is not the app: nothing may load, run or frame it.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A `Host` value split into its parts: a host name in lower case (without a trailing
/// dot) or an IP literal (`[…]` for IPv6), and the port if one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// The name or IP literal, lower case, IPv6 in brackets.
    pub host: String,
    /// The port, if the value had one.
    pub port: Option<u16>,
}

impl HostName {
    /// Parses a `Host` value (`name`, `name:port`, `1.2.3.4:port`, `[::1]:port`). Only
    /// letters, digits, dots and hyphens make a name: the value ends up in the CSP, where a
    /// `;` or a space would start a directive of its own.
    pub fn parse(value: &str) -> Option<HostName> {
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            inside.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (format!("[{}]", inside.to_ascii_lowercase()), port)
        } else {
            let (name, port) = match value.rsplit_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (value, None),
            };
            let name = name.strip_suffix('.').unwrap_or(name);
            let valid = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid {
                return None;
            }
            (name.to_ascii_lowercase(), port)
        };
        let port = match port {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
            Some(_) => return None,
            None => None,
        };
        Some(HostName { host, port })
    }

    /// The IP address, if the host is an IP literal.
    fn ip(&self) -> Option<IpAddr> {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
            .parse()
            .ok()
    }

    /// `host` or `host:port`, as it was asked for.
    fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// The public origin's scheme (`https` or `http`) and host.
fn parse_origin(origin: &str) -> Option<(&'static str, HostName)> {
    let origin = origin.trim_end_matches('/');
    let (scheme, rest) = if let Some(rest) = origin.strip_prefix("https://") {
        ("https", rest)
    } else {
        ("http", origin.strip_prefix("http://")?)
    };
    Some((scheme, HostName::parse(rest)?))
}

/// The host names one listening address answers for, and the headers it adds.
#[derive(Debug)]
pub struct Security {
    /// The address it listens on (its IP is an allowed host).
    listen: IpAddr,
    /// `--allowed-host` entries and the public origin's host.
    names: Vec<String>,
    /// The public origin's scheme and host (for the CSP's `connect-src`).
    public: Option<(&'static str, HostName)>,
}

impl Security {
    /// The policy of a server listening on `listen` with this configuration.
    pub fn new(listen: SocketAddr, config: &ServeConfig) -> Result<Arc<Security>, ConfigError> {
        let mut names = Vec::new();
        for entry in &config.allowed_hosts {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let name = HostName::parse(entry).ok_or_else(|| ConfigError::AllowedHost(entry.to_owned()))?;
            names.push(name.host);
        }
        let public = match config.public_origin.as_deref() {
            Some(origin) => {
                let parsed =
                    parse_origin(origin).ok_or_else(|| ConfigError::PublicOrigin(origin.to_owned()))?;
                names.push(parsed.1.host.clone());
                Some(parsed)
            }
            None => None,
        };
        Ok(Arc::new(Security {
            listen: listen.ip(),
            names,
            public,
        }))
    }

    /// Whether requests may name this host. IP literals pass when they are the listen
    /// address (any address when listening on all of them): DNS rebinding needs a name,
    /// so an IP is never the attacker's. `localhost` and `*.localhost` pass on a loopback
    /// (or every) address: browsers resolve them to loopback themselves, without DNS.
    pub fn allows(&self, host: &HostName) -> bool {
        if let Some(ip) = host.ip() {
            return ip == self.listen || self.listen.is_unspecified();
        }
        let local = self.listen.is_loopback() || self.listen.is_unspecified();
        if local && (host.host == "localhost" || host.host.ends_with(".localhost")) {
            return true;
        }
        self.names.contains(&host.host)
    }

    /// The app's policy for a page asked for under `host`. Scripts only from this origin, so
    /// user text can never run as code; `connect-src` is this origin and its WebSocket
    /// twin. CSP 3 lets `'self'` match `ws:`/`wss:` of the same host, but Safari before
    /// 15.4 did not, so the WebSocket origins are also named: `ws://` and `wss://` (behind
    /// a TLS proxy the page is `https:` while the request here is plain HTTP), and the
    /// public origin's.
    fn app_csp(&self, host: Option<&HostName>) -> String {
        let mut sources = vec!["'self'".to_owned()];
        if let Some(host) = host {
            let authority = host.authority();
            sources.push(format!("ws://{authority}"));
            sources.push(format!("wss://{authority}"));
        }
        if let Some((scheme, public)) = &self.public {
            let ws = if *scheme == "https" { "wss" } else { "ws" };
            let origin = format!("{ws}://{}", public.authority());
            if !sources.contains(&origin) {
                sources.push(origin);
            }
        }
        let connect = sources.join(" ");
        format!(
            "default-src 'self'; script-src 'self'; connect-src {connect}; img-src 'self' data:; \
             style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; \
             form-action 'self'"
        )
    }

    /// Adds the security headers to a response (keeping a `Cache-Control` or a
    /// `Content-Security-Policy` the handler set).
    fn add_headers(&self, response: &mut Response, host: Option<&HostName>) {
        let csp = if response.extensions().get::<AppPage>().is_some() {
            HeaderValue::from_str(&self.app_csp(host)).unwrap_or(HeaderValue::from_static(API_CSP))
        } else {
            HeaderValue::from_static(API_CSP)
        };
        let https = self.public.as_ref().is_some_and(|(scheme, _)| *scheme == "https");
        let headers = response.headers_mut();
        // A handler's own policy is stricter than these (a download's `sandbox`): kept.
        headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // The legacy twin of `frame-ancestors 'none'`, for browsers that predate it.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        // No other site's window keeps a handle on ours, and no other site may embed our
        // answers (`<script src>`, `<img src>` of a JSON URL) to read them side-channel.
        headers.insert(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        // API answers hold pupils' dossiers: no cache (browser or proxy) keeps them.
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
    }
}

/// The host a request names: its URI's authority (an absolute-form request line) or else
/// its `Host` header. `Err` when neither is there or it is not a host name.
fn requested_host(request: &Request) -> Result<HostName, AppError> {
    let value = match request.uri().authority() {
        Some(authority) => Some(authority.as_str()),
        None => host_header(request.headers()),
    };
    let value = value.ok_or_else(|| AppError::BadRequest("The request has no Host header.".into()))?;
    HostName::parse(value).ok_or_else(|| AppError::BadRequest("The Host header is not a host name.".into()))
}

fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// Middleware around the whole router: refuses requests for other hosts (400 without a
/// usable `Host`, 421 for a host not on the list) and adds the security headers to every
/// response, refusals included.
pub async fn guard(State(security): State<Arc<Security>>, request: Request, next: Next) -> Response {
    let refused = match requested_host(&request) {
        Ok(host) if security.allows(&host) => {
            let mut response = next.run(request).await;
            security.add_headers(&mut response, Some(&host));
            return response;
        }
        Ok(host) => {
            tracing::info!(host = %host.host, "refused a request for another host");
            AppError::MisdirectedHost(host.host)
        }
        Err(err) => err,
    };
    let mut response = refused.into_response();
    security.add_headers(&mut response, None);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(listen: &str, args: &[&str]) -> Arc<Security> {
        let config = crate::config::parse_for_tests(args).unwrap();
        Security::new(listen.parse().unwrap(), &config).unwrap()
    }

    fn allows(security: &Security, host: &str) -> bool {
        HostName::parse(host).is_some_and(|h| security.allows(&h))
    }

    #[test]
    fn host_values_parse_into_name_and_port_and_nothing_else_passes() {
        let h = HostName::parse("Samen.Example.BE.:8080").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("samen.example.be", Some(8080)));
        let h = HostName::parse("[::1]:80").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("[::1]", Some(80)));
        for bad in [
            "",
            ":80",
            "a b",
            "a;script-src *",
            "user@host",
            "host:",
            "host:80x",
            "host:99999",
            "[::1",
            "[nope]",
            "[::1]x",
            "é.be",
        ] {
            assert_eq!(HostName::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_loopback_server_answers_its_ip_and_localhost_only() {
        let s = security("127.0.0.1:8080", &["--demo"]);
        for ok in ["127.0.0.1:8080", "127.0.0.1", "localhost:8080", "app.localhost"] {
            assert!(allows(&s, ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:8080",
            "[::1]:8080",
            "localhost.evil.example",
        ] {
            assert!(!allows(&s, refused), "{refused}");
        }
    }

    #[test]
    fn public_origin_and_allowed_hosts_are_added_and_localhost_needs_a_local_address() {
        let s = security(
            "10.0.0.5:8080",
            &[
                "--public-origin",
                "https://samen.example.be/",
                "--allowed-host",
                "intern.example.be,Other.example.be:443",
            ],
        );
        for ok in [
            "samen.example.be",
            "intern.example.be:8080",
            "other.example.be",
            "10.0.0.5",
        ] {
            assert!(allows(&s, ok), "{ok}");
        }
        for refused in ["localhost", "example.be", "10.0.0.6"] {
            assert!(!allows(&s, refused), "{refused}");
        }
        let any = security("0.0.0.0:8080", &[]);
        assert!(allows(&any, "192.168.1.20:8080") && allows(&any, "localhost"));
        assert!(!allows(&any, "evil.example"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let args = |a: &[&str]| crate::config::parse_for_tests(a).unwrap();
        let listen = "127.0.0.1:1".parse().unwrap();
        assert!(Security::new(listen, &args(&["--allowed-host", "a;b"])).is_err());
        assert!(Security::new(listen, &args(&["--public-origin", "samen.example.be"])).is_err());
        assert!(Security::new(listen, &args(&["--public-origin", "https://x.be/app"])).is_err());
    }

    #[test]
    fn the_app_policy_connects_to_its_own_origin_only() {
        let s = security("127.0.0.1:8080", &[]);
        let host = HostName::parse("127.0.0.1:8080");
        let csp = s.app_csp(host.as_ref());
        assert!(
            csp.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"),
            "{csp}"
        );
        let s = security("127.0.0.1:8080", &["--public-origin", "https://samen.example.be"]);
        let csp = s.app_csp(host.as_ref());
        assert!(
            csp.contains(
                "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080 wss://samen.example.be;"
            ),
            "{csp}"
        );
        let public = HostName::parse("samen.example.be");
        let csp = s.app_csp(public.as_ref());
        assert!(
            csp.contains("connect-src 'self' ws://samen.example.be wss://samen.example.be;"),
            "{csp}"
        );
    }
}
