//! The fields of an X.509 certificate that access policies use, read with x509-parser.

use sha2::{Digest, Sha256};
use x509_parser::der_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::header::hex_lower;
use super::Reason;

/// Everything read from one certificate, computed once (the cache hands out shared copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub fingerprint_sha256: String,
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub serial: String,
    /// Unix seconds (UTC).
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    pub spiffe_id: Option<String>,
    /// 1 for a v1 certificate, 3 for v3.
    pub version: u32,
}

/// Parses one DER certificate; trailing bytes after it are an error.
pub fn parse(der: &[u8]) -> Result<Fields, Reason> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| Reason::NotCertificate)?;
    if !rest.is_empty() {
        return Err(Reason::TrailingData);
    }
    // Checked without error text: x509-parser's messages can quote input bytes.
    let mut dns_names = Vec::new();
    let mut uris = Vec::new();
    let mut emails = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|_| Reason::NotCertificate)?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) => dns_names.push((*s).to_owned()),
                GeneralName::URI(s) => uris.push((*s).to_owned()),
                GeneralName::RFC822Name(s) => emails.push((*s).to_owned()),
                _ => {}
            }
        }
    }
    let spiffe_id = uris
        .iter()
        .find(|u| u.len() > 9 && u[..9].eq_ignore_ascii_case("spiffe://"))
        .cloned();
    let common_name = cert
        .subject()
        .iter_common_name()
        // The last CN in DER order is the most specific one, and the first in RFC 4514 order.
        .last()
        .map(|a| attribute_text(a.attr_value()).unwrap_or_else(|| hex_value(a.attr_value())));
    let validity = cert.validity();
    Ok(Fields {
        fingerprint_sha256: hex_lower(&Sha256::digest(der)),
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
        common_name,
        serial: format!("{:x}", cert.serial),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        dns_names,
        uris,
        emails,
        spiffe_id,
        version: cert.version().0 + 1,
    })
}

/// RFC 4514 string of a name: RDNs in reverse order joined by ",", multi-valued RDNs joined by "+",
/// the short names of section 3 where one exists, dotted OIDs otherwise. Matches what Python's
/// `cryptography` prints, so policies written against either agree.
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = atv.attr_type().to_id_string();
            out.push_str(short_name(&oid).unwrap_or(&oid));
            out.push('=');
            match attribute_text(atv.attr_value()) {
                Some(text) => escape_into(&text, &mut out),
                None => out.push_str(&hex_value(atv.attr_value())),
            }
        }
    }
    out
}

/// RFC 4514 section 3 short names.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The text of a directory string, for the string types certificates use in practice.
fn attribute_text(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        // T61String is treated as Latin-1, as OpenSSL and cryptography do in practice.
        Tag::T61String => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// RFC 4514 section 2.4: a value that is not a string is written as "#" and the hex of its BER.
fn hex_value(value: &Any<'_>) -> String {
    match value.to_der_vec() {
        Ok(der) => format!("#{}", hex_lower(&der)),
        Err(_) => "#".to_owned(),
    }
}

/// RFC 4514 section 2.4 escaping, in the same form as Python's `cryptography`.
fn escape_into(value: &str, out: &mut String) {
    let n = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i + 1 == n => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cert::fuzzing::FIXTURE_PEM;
    use crate::core::cert::{header, Proxy};

    fn text(tag: Tag, data: &[u8]) -> Option<String> {
        attribute_text(&Any::from_tag_and_data(tag, data))
    }

    #[test]
    fn directory_strings_of_every_type() {
        assert_eq!(text(Tag::Utf8String, "héllo".as_bytes()).unwrap(), "héllo");
        assert_eq!(text(Tag::PrintableString, b"Acme Ltd").unwrap(), "Acme Ltd");
        assert_eq!(text(Tag::Ia5String, b"a@b.c").unwrap(), "a@b.c");
        assert_eq!(text(Tag::NumericString, b"0123").unwrap(), "0123");
        assert_eq!(text(Tag::VisibleString, b"v").unwrap(), "v");
        assert_eq!(text(Tag::Utf8String, b"\xff"), None);
        // T61 as Latin-1
        assert_eq!(text(Tag::T61String, b"caf\xe9").unwrap(), "café");
        // BMP: UTF-16 big-endian, whole units, no lone surrogates
        assert_eq!(text(Tag::BmpString, &[0, b'h', 0, 0xe9]).unwrap(), "hé");
        assert_eq!(text(Tag::BmpString, &[0, b'h', 0]), None);
        assert_eq!(text(Tag::BmpString, &[0xd8, 0x00]), None);
        // Universal: UTF-32 big-endian, whole units, valid scalar values only
        assert_eq!(
            text(Tag::UniversalString, &[0, 0, 0, b'h', 0, 1, 0xf6, 0x00]).unwrap(),
            "h\u{1f600}"
        );
        assert_eq!(text(Tag::UniversalString, &[0, 0, 0]), None);
        assert_eq!(text(Tag::UniversalString, &[0, 0x11, 0, 0]), None);
        assert_eq!(text(Tag::UniversalString, &[0, 0, 0xd8, 0]), None);
        // not a string type
        assert_eq!(text(Tag::Integer, &[1]), None);
        assert_eq!(
            hex_value(&Any::from_tag_and_data(Tag::Integer, &[1])),
            "#020101"
        );
    }

    #[test]
    fn rfc4514_escaping() {
        let esc = |s: &str| {
            let mut out = String::new();
            escape_into(s, &mut out);
            out
        };
        assert_eq!(esc(r#"a,b+c"d\e<f>g;h"#), r#"a\,b\+c\"d\\e\<f\>g\;h"#);
        assert_eq!(esc("nul\0"), "nul\\00");
        assert_eq!(esc("#lead"), "\\#lead");
        assert_eq!(esc("mid#dle"), "mid#dle");
        assert_eq!(esc(" lead"), "\\ lead");
        assert_eq!(esc("trail "), "trail\\ ");
        assert_eq!(esc("in side"), "in side");
        assert_eq!(esc(" "), "\\ ");
        assert_eq!(esc(""), "");
    }

    #[test]
    fn short_names_and_dotted_oids() {
        for (oid, short) in [
            ("2.5.4.3", "CN"),
            ("2.5.4.7", "L"),
            ("2.5.4.8", "ST"),
            ("2.5.4.10", "O"),
            ("2.5.4.11", "OU"),
            ("2.5.4.6", "C"),
            ("2.5.4.9", "STREET"),
            ("0.9.2342.19200300.100.1.25", "DC"),
            ("0.9.2342.19200300.100.1.1", "UID"),
        ] {
            assert_eq!(short_name(oid), Some(short));
        }
        assert_eq!(short_name("2.5.4.5"), None);
        assert_eq!(short_name("1.2.840.113549.1.9.1"), None);
    }

    /// A hand-encoded Name: RDNs are printed last first, a multi-valued RDN joined by '+', an
    /// OID without a short name dotted, a value that is not a string as '#' and its DER.
    #[test]
    fn rfc4514_of_a_hand_built_name() {
        let name_der: &[u8] = &[
            0x30, 0x2d, // Name
            0x31, 0x14, // RDN 1: CN=a + O=b
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'a', //
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'b', //
            0x31, 0x09, // RDN 2: 1.2.3=x
            0x30, 0x07, 0x06, 0x02, 0x2a, 0x03, 0x13, 0x01, b'x', //
            0x31, 0x0a, // RDN 3: CN=INTEGER 1
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x02, 0x01, 0x01,
        ];
        let (rest, name) = X509Name::from_der(name_der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(rfc4514(&name), "CN=#020101,1.2.3=x,CN=a+O=b");
    }

    #[test]
    fn the_fixture_and_its_refusals() {
        let der = header::pem_blocks(FIXTURE_PEM, Proxy::Nginx)
            .unwrap()
            .remove(0);
        let f = parse(&der).unwrap();
        assert_eq!(f.fingerprint_sha256, hex_lower(&Sha256::digest(&der)));
        assert_eq!(f.fingerprint_sha256.len(), 64);
        assert!(f.not_before < f.not_after);
        assert_eq!(f.version, 3);
        assert!(f.subject.contains("CN="), "{}", f.subject);
        assert!(f.serial.bytes().all(|b| b.is_ascii_hexdigit()));
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(matches!(parse(&trailing), Err(Reason::TrailingData)));
        assert!(matches!(
            parse(&der[..der.len() - 1]),
            Err(Reason::NotCertificate)
        ));
        assert!(matches!(parse(b""), Err(Reason::NotCertificate)));
    }
}
