//! The MAC address type: parses every common spelling, prints each form a consumer wants.

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr([u8; 6]);

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected six pairs of hex digits separated by `:` or `-`, three groups of four separated by `.`, or twelve hex digits")]
pub struct ParseMacError;

impl MacAddr {
    /// Builds an address from its six octets.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// The lowercase colon form dnsmasq and `/etc/ethers` use: `c0:3f:d5:60:e5:a1`.
    pub fn colon(self) -> String {
        self.joined(':')
    }

    /// The name pxelinux looks up for this address: `01-c0-3f-d5-60-e5-a1` (ARP type 1, Ethernet).
    pub fn pxelinux_name(self) -> String {
        format!("01-{}", self.joined('-'))
    }

    /// Parses a pxelinux per-MAC config name (`01-aa-bb-cc-dd-ee-ff`, lowercase only, as pxelinux asks for it).
    pub fn from_pxelinux_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("01-")?;
        if rest.len() != 17 || rest.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        parse_separated(rest, b'-')
    }

    fn joined(self, sep: char) -> String {
        let mut out = String::with_capacity(17);
        for (i, octet) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            out.push(hex_digit(octet >> 4));
            out.push(hex_digit(octet & 0xf));
        }
        out
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble)])
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Parses `n` hex digits into octets, two digits per octet.
fn parse_hex_run(digits: &[u8], out: &mut [u8]) -> Option<()> {
    if digits.len() != out.len() * 2 {
        return None;
    }
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *slot = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(())
}

fn parse_separated(s: &str, sep: u8) -> Option<MacAddr> {
    let mut octets = [0u8; 6];
    let mut parts = s.as_bytes().split(|&b| b == sep);
    for slot in &mut octets {
        parse_hex_run(parts.next()?, std::slice::from_mut(slot))?;
    }
    parts.next().is_none().then_some(MacAddr(octets))
}

fn parse_dotted(s: &str) -> Option<MacAddr> {
    let mut octets = [0u8; 6];
    let mut parts = s.as_bytes().split(|&b| b == b'.');
    for chunk in octets.chunks_exact_mut(2) {
        parse_hex_run(parts.next()?, chunk)?;
    }
    parts.next().is_none().then_some(MacAddr(octets))
}

impl FromStr for MacAddr {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = match s.len() {
            17 if s.as_bytes()[2] == b':' => parse_separated(s, b':'),
            17 if s.as_bytes()[2] == b'-' => parse_separated(s, b'-'),
            14 => parse_dotted(s),
            12 => {
                let mut octets = [0u8; 6];
                parse_hex_run(s.as_bytes(), &mut octets).map(|()| MacAddr(octets))
            }
            _ => None,
        };
        parsed.ok_or(ParseMacError)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.colon())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A1: MacAddr = MacAddr([0xc0, 0x3f, 0xd5, 0x60, 0xe5, 0xa1]);

    #[test]
    fn parses_every_common_spelling() {
        for spelling in [
            "c0:3f:d5:60:e5:a1",
            "C0:3F:D5:60:E5:A1",
            "c0-3f-d5-60-e5-a1",
            "C0-3F-D5-60-E5-A1",
            "c03f.d560.e5a1",
            "C03F.D560.E5A1",
            "c03fd560e5a1",
        ] {
            assert_eq!(spelling.parse::<MacAddr>(), Ok(A1), "{spelling}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "c0:3f:d5:60:e5",
            "c0:3f:d5:60:e5:a1:00",
            "c0:3f:d5:60:e5:g1",
            "c0:3f-d5:60:e5:a1",
            "c0:3f:d5:60:e5:a",
            "c0:3f:d5:60:e5a1:",
            "c03f.d560.e5a",
            "c03f:d560:e5a1",
            "+c:3f:d5:60:e5:a1",
            "c0:3f:d5:60:e5:é",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(ParseMacError), "{bad:?}");
        }
    }

    #[test]
    fn prints_consumer_forms() {
        assert_eq!(A1.colon(), "c0:3f:d5:60:e5:a1");
        assert_eq!(A1.pxelinux_name(), "01-c0-3f-d5-60-e5-a1");
        assert_eq!(A1.to_string(), "c0:3f:d5:60:e5:a1");
    }

    #[test]
    fn pxelinux_name_round_trips_and_is_strict() {
        assert_eq!(
            MacAddr::from_pxelinux_name("01-c0-3f-d5-60-e5-a1"),
            Some(A1)
        );
        assert_eq!(MacAddr::from_pxelinux_name("01-C0-3F-D5-60-E5-A1"), None);
        assert_eq!(MacAddr::from_pxelinux_name("02-c0-3f-d5-60-e5-a1"), None);
        assert_eq!(MacAddr::from_pxelinux_name("01-c0:3f:d5:60:e5:a1"), None);
        assert_eq!(MacAddr::from_pxelinux_name("arch-linux"), None);
    }
}
