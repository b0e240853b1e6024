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
