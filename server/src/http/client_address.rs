//! Where a request comes from: the socket's peer, unless that peer is a proxy the server
//! was told to trust (`--trusted-proxy`). Anyone can send `X-Forwarded-For`, so the header
//! counts only when a trusted proxy passed it on, and only as far as trusted proxies wrote
//! it: each proxy appends the address it received the request from, so reading from the
//! right, the first address that is not one of our proxies is the client. Everything left
//! of it the client may have made up.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header proxies append the address they received a request from to.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: `peer`, or when `peer` is in `trusted`, the rightmost address of
/// `X-Forwarded-For` that is not in `trusted` (if every one is, or one cannot be read, the
/// last trusted one reached).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // Split bytes, not text: a client may put anything left of the address our proxy
    // appends, and that must not hide the address.
    let hops: Vec<&[u8]> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(address) if is_trusted(address, trusted) => client = address,
            Some(address) => return address,
            None => return client,
        }
    }
    client
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&address))
}

/// One entry of `X-Forwarded-For`: an address, perhaps with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) or in brackets.
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?.trim();
    let address = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("network")).collect()
    }

    fn forwarded(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                X_FORWARDED_FOR,
                HeaderValue::from_bytes(value).expect("header value"),
            );
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&[b"203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &[]),
            ip("198.51.100.1")
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1"),
            "a spoofed header from a peer that is not our proxy is ignored"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let proxy = ip("127.0.0.1");
        // The client made up the left entry; our proxy appended the real one.
        let headers = forwarded(&[b"198.51.100.99, 203.0.113.7"]);
        assert_eq!(client_address(proxy, &headers, &trusted), ip("203.0.113.7"));
        // Two proxies of ours, in two headers.
        let headers = forwarded(&[b"198.51.100.99, 203.0.113.7", b"10.1.2.3"]);
        assert_eq!(client_address(proxy, &headers, &trusted), ip("203.0.113.7"));
        // Ports, brackets and IPv4 written as IPv6.
        for (value, client) in [
            (&b"203.0.113.7:4711"[..], "203.0.113.7"),
            (b"[2001:db8::1]:4711", "2001:db8::1"),
            (b"[2001:db8::1]", "2001:db8::1"),
            (b"::ffff:203.0.113.7", "203.0.113.7"),
        ] {
            assert_eq!(client_address(proxy, &forwarded(&[value]), &trusted), ip(client));
        }
        // A peer written as IPv6 is matched as IPv4.
        let headers = forwarded(&[b"203.0.113.7"]);
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &headers, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn what_cannot_be_read_trusts_nothing_further_left() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let proxy = ip("127.0.0.1");
        assert_eq!(
            client_address(proxy, &HeaderMap::new(), &trusted),
            proxy,
            "no header"
        );
        let headers = forwarded(&[b"203.0.113.7, unknown, 10.0.0.2"]);
        assert_eq!(client_address(proxy, &headers, &trusted), ip("10.0.0.2"));
        let headers = forwarded(&[b"10.0.0.3, 10.0.0.2"]);
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            ip("10.0.0.3"),
            "all ours: the first"
        );
        // Bytes that are not text left of the real address do not hide it.
        let headers = forwarded(&[b"\xff\xfe, 203.0.113.7"]);
        assert_eq!(client_address(proxy, &headers, &trusted), ip("203.0.113.7"));
    }
}
