//! Who the client is, by address: the TCP peer, or, when that peer is a proxy the operator
//! trusts, the address the proxy reports in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! Headers are only believed from trusted peers: anyone else could claim any address and
//! slip past the failed-login brake. Behind several proxies the chain is read from the
//! right (the hop nearest to Tally) and the first address that is not a trusted proxy is
//! the client.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;

/// Addresses and networks (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`) whose forwarding
/// headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses addresses and CIDR networks; an empty list trusts no one.
    pub fn parse<I, T>(entries: I) -> Result<TrustedProxies, String>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut networks = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let (address, prefix) = match entry.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (entry, None),
            };
            let address: IpAddr =
                address.parse().map_err(|_| format!("{entry:?} is not an IP address or CIDR network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(text) => match text.parse::<u8>() {
                    Ok(bits) if bits <= max => bits,
                    _ => return Err(format!("{entry:?} has a bad prefix length (0 to {max})")),
                },
            };
            networks.push((address, prefix));
        }
        Ok(TrustedProxies { networks })
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks.iter().any(|&(network, prefix)| contains(canonical(network), prefix, address))
    }

    /// The client's address: the peer itself unless it is trusted; then the nearest
    /// untrusted address of the forwarding chain (`Forwarded` wins over
    /// `X-Forwarded-For`). An entry that is not an address (`unknown`, an obfuscated
    /// name) ends the walk at the hop that reported it.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(address) => {
                    client = *address;
                    if !self.trusts(*address) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as the IPv4 address they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn contains(network: IpAddr, prefix: u8, address: IpAddr) -> bool {
    match (network, address) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The forwarding chain, client first: every `for=` of every `Forwarded` header, or else
/// every entry of every `X-Forwarded-For` header. `None` stands for an entry that is not
/// an IP address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| node_address(value.trim().trim_matches('"')))
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| node_address(entry.trim()))
        .collect()
}

/// An address as forwarding headers write it: `192.0.2.60`, `192.0.2.60:4711`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(address, _)| address.parse().ok());
    }
    if let Ok(address) = node.parse() {
        return Some(address);
    }
    let (address, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_and_addresses_are_parsed_and_matched() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", ""]).unwrap();
        assert!(trusted.trusts(ip("10.200.3.4")));
        assert!(trusted.trusts(ip("::ffff:10.1.2.3")), "IPv4-mapped peers match IPv4 networks");
        assert!(trusted.trusts(ip("192.0.2.7")));
        assert!(!trusted.trusts(ip("192.0.2.8")));
        assert!(trusted.trusts(ip("2001:db8:1::5")));
        assert!(!trusted.trusts(ip("2001:db9::5")));
        assert!(TrustedProxies::parse(["0.0.0.0/0"]).unwrap().trusts(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "proxy.example.com", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted = TrustedProxies::parse(["10.0.0.1"]).unwrap();
        let h = headers(&[("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(trusted.client_address(Some(ip("198.51.100.2")), &h), Some(ip("198.51.100.2")));
        assert_eq!(TrustedProxies::default().client_address(Some(ip("10.0.0.1")), &h), Some(ip("10.0.0.1")));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let peer = Some(ip("10.0.0.1"));
        // A client-supplied (spoofed) first entry cannot win: the walk stops at 203.0.113.5.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.0.0.9")]);
        assert_eq!(trusted.client_address(peer, &h), Some(ip("203.0.113.5")));
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.6")]);
        assert_eq!(trusted.client_address(peer, &h), Some(ip("203.0.113.6")));
        let h = headers(&[
            ("forwarded", "for=192.0.2.43;proto=https, for=\"[2001:db8:cafe::17]:4711\""),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(trusted.client_address(peer, &h), Some(ip("2001:db8:cafe::17")));
        let h = headers(&[("forwarded", "for=\"192.0.2.60:8080\"")]);
        assert_eq!(trusted.client_address(peer, &h), Some(ip("192.0.2.60")));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(trusted.client_address(peer, &h), peer, "an unknown hop leaves the proxy");
        assert_eq!(trusted.client_address(peer, &HeaderMap::new()), peer);
        let h = headers(&[("x-forwarded-for", "10.0.0.7, 10.0.0.8")]);
        assert_eq!(trusted.client_address(peer, &h), Some(ip("10.0.0.7")), "all trusted: the farthest");
    }
}
