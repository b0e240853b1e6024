//! The header parsers' invariants, checked on one input: shared by the cargo-fuzz target
//! (nightly, libFuzzer) and by a bounded stable-Rust smoke run inside `cargo test`, as for the
//! redaction engine, so CI exercises them on every change.

use super::{header, parse, ClientCert, Proxy, Stage};

/// Panics when an invariant fails: no format panics on any input; a success decodes to DER no
/// longer than the input, parses again to the same fields, and has a 64-hex fingerprint; an
/// error message is one of the fixed texts (so it cannot carry input bytes); verify never panics.
pub fn check(data: &[u8]) {
    // The last 0xff byte, if any, splits a value from an RFC 9440 chain header.
    let (value, chain) = match data.iter().rposition(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let value = String::from_utf8_lossy(value);
    let chain = chain.map(String::from_utf8_lossy);
    for proxy in Proxy::ALL {
        match ClientCert::parse_header(&value, chain.as_deref(), proxy) {
            Ok(cert) => {
                assert!(cert.der.len() <= value.len(), "DER longer than its header");
                assert_eq!(
                    cert.fields.fingerprint_sha256.len(),
                    64,
                    "fingerprint length"
                );
                assert_eq!(
                    parse::parse(&cert.der).expect("reparses"),
                    cert.fields,
                    "fields differ on a second parse"
                );
                let bundle = format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &cert.der)
                );
                if let Err(e) = cert.verify(&bundle, 1_800_000_000) {
                    assert_ne!(e.stage, Stage::Header, "verify reported a header error");
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let fixed = format!(
                    "invalid client certificate header ({} format): {}",
                    proxy.name(),
                    e.reason.text()
                );
                assert_eq!(msg, fixed, "error text is not the fixed one");
            }
        }
    }
    // The CA-bundle reader takes files, not headers, but it sees the same kind of text.
    let _ = header::pem_bundle(&value);
}

/// A self-signed P-256 certificate (O=Fuzz, CN=fuzz-leaf; DNS, SPIFFE URI and e-mail SANs), to
/// build well-formed headers of every format as seeds.
pub const FIXTURE_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIB4TCCAYigAwIBAgIUBGHwtEwzO3acM5ElKs+Uo5Sg9wUwCgYIKoZIzj0EAwIw\n\
IzENMAsGA1UECgwERnV6ejESMBAGA1UEAwwJZnV6ei1sZWFmMCAXDTI2MTIwMjA1\n\
MjAxMFoYDzIxMjYxMTA4MDUyMDEwWjAjMQ0wCwYDVQQKDARGdXp6MRIwEAYDVQQD\n\
DAlmdXp6LWxlYWYwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT8SK0gY31MY49s\n\
vVWPzqLZHbqll0cGH82rCPfN1T4u43b5bmKNa4g6eAnLfaz06Xt2zL3LnQwUxOQZ\n\
CZCHW8Mro4GXMIGUMB0GA1UdDgQWBBTZ8xsqA/icS4THHqVNsptWFA0+HzAfBgNV\n\
HSMEGDAWgBTZ8xsqA/icS4THHqVNsptWFA0+HzAPBgNVHRMBAf8EBTADAQH/MEEG\n\
A1UdEQQ6MDiCDGZ1enouZXhhbXBsZYYZc3BpZmZlOi8vZXhhbXBsZS5vcmcvZnV6\n\
eoENZkBleGFtcGxlLm9yZzAKBggqhkjOPQQDAgNHADBEAiBieq7hVKK7ZSckHahu\n\
6wzRV2vMCsPd0IuX3VPxo4Vx9gIgaFQl+iXr7j7HCCQ/ib0SepSXd3Uzqai0LPzI\n\
XfA1IfE=\n\
-----END CERTIFICATE-----\n\
";

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    use std::time::{Duration, Instant};

    /// nginx's $ssl_client_escaped_cert escapes everything but unreserved characters.
    const NGINX: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    /// ALB leaves "+=/" as they are.
    const ALB: &AsciiSet = &NGINX.remove(b'+').remove(b'=').remove(b'/');

    fn der() -> Vec<u8> {
        header::pem_blocks(FIXTURE_PEM, Proxy::Nginx)
            .unwrap()
            .remove(0)
    }

    /// One well-formed header per format (and a second Traefik and Envoy form).
    fn seeds() -> Vec<(Proxy, String, Option<String>)> {
        let der = der();
        let b64 = STANDARD.encode(&der);
        let fp = header::hex_lower(&sha2::Sha256::digest(&der));
        let nginx = utf8_percent_encode(FIXTURE_PEM, NGINX).to_string();
        vec![
            (Proxy::Nginx, nginx.clone(), None),
            (Proxy::Apache, FIXTURE_PEM.trim_end().replace('\n', " "), None),
            (Proxy::Traefik, format!("{b64},{b64}"), None),
            (
                Proxy::Traefik,
                utf8_percent_encode(&format!("{b64},{b64}"), NON_ALPHANUMERIC).to_string(),
                None,
            ),
            (Proxy::Alb, utf8_percent_encode(FIXTURE_PEM, ALB).to_string(), None),
            (Proxy::Rfc9440, format!(":{b64}:"), Some(format!(":{b64}:, :{b64}:"))),
            (
                Proxy::Envoy,
                format!(
                    "By=spiffe://a/b;Hash=00;Cert=\"x\",By=spiffe://c/d;Hash={fp};Cert=\"{nginx}\";Chain=\"{nginx}\";Subject=\"O=Fuzz,CN=fuzz-leaf\";URI=spiffe://example.org/fuzz;DNS=fuzz.example"
                ),
                None,
            ),
        ]
    }

    use sha2::Digest;

    #[test]
    fn every_seed_decodes_to_the_fixture() {
        let der = der();
        for (proxy, value, chain) in seeds() {
            let cert = ClientCert::parse_header(&value, chain.as_deref(), proxy)
                .unwrap_or_else(|e| panic!("{proxy:?}: {e}"));
            assert_eq!(cert.der, der, "{proxy:?}");
            assert_eq!(cert.fields.subject, "CN=fuzz-leaf,O=Fuzz");
            assert_eq!(cert.fields.common_name.as_deref(), Some("fuzz-leaf"));
            assert_eq!(
                cert.fields.spiffe_id.as_deref(),
                Some("spiffe://example.org/fuzz")
            );
            check(value.as_bytes());
        }
    }

    const PIECES: &[&str] = &[
        "%",
        "%2",
        "%0A",
        "%2C",
        ",",
        ";",
        "\"",
        "\\",
        "=",
        ":",
        " ",
        "+",
        "/",
        "(null)",
        "-----BEGIN CERTIFICATE-----",
        "-----END CERTIFICATE-----",
        "Cert=",
        "Hash=",
        "Chain=",
        "MII",
        "AAAA",
        "====",
        "\u{e9}",
        "\u{0}",
    ];

    #[test]
    fn invariants_hold_on_mutated_headers() {
        let seeds = seeds();
        // xorshift64*: deterministic, so a failure reproduces from the printed case number.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let deadline = Instant::now() + Duration::from_secs(6);
        let mut cases = 0u64;
        while Instant::now() < deadline && cases < 50_000 {
            let (_, value, chain) = &seeds[next() as usize % seeds.len()];
            let mut input = value.as_bytes().to_vec();
            for _ in 0..(1 + next() % 4) {
                let roll = next();
                let at = (roll >> 16) as usize % (input.len() + 1);
                match roll % 5 {
                    0 => input.truncate(at),
                    1 if at < input.len() => input[at] = (roll >> 40) as u8,
                    2 if at < input.len() => {
                        input.remove(at);
                    }
                    _ => {
                        let piece = PIECES[(roll >> 8) as usize % PIECES.len()];
                        input.splice(at..at, piece.bytes());
                    }
                }
            }
            if let Some(c) = chain {
                input.push(0xff);
                input.extend_from_slice(c.as_bytes());
            }
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| check(&input));
            assert!(
                outcome.is_ok(),
                "case {cases} failed: {:?}",
                String::from_utf8_lossy(&input)
            );
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "case {cases} too slow"
            );
            cases += 1;
        }
        assert!(cases > 500, "only {cases} cases ran");
    }
}
