//! Chain and validity checks with rustls-webpki, the verifier rustls itself uses for TLS.

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{anchor_from_trusted_cert, EndEntityCert, KeyUsage, ALL_VERIFICATION_ALGS};

use super::Reason;

/// Verifies `leaf` up to one of `roots` (DER), with `intermediates` as path candidates, at `at`
/// (Unix seconds), for client authentication (an EKU, when present, must allow it).
pub fn verify(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &[Vec<u8>],
    at: u64,
) -> Result<(), Reason> {
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors: Vec<_> = root_ders
        .iter()
        .filter_map(|r| anchor_from_trusted_cert(r).ok())
        .collect();
    if anchors.is_empty() {
        return Err(Reason::BundleUnusable);
    }
    let leaf_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf_der).map_err(map_error)?;
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    ee.verify_for_usage(
        ALL_VERIFICATION_ALGS,
        &anchors,
        &inter,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(at)),
        KeyUsage::client_auth(),
        None,
        None,
    )
    .map(|_| ())
    .map_err(map_error)
}

/// webpki's verdict as one of our fixed reasons (its own values can carry times and names).
fn map_error(e: webpki::Error) -> Reason {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => Reason::Expired,
        E::CertNotValidYet { .. } => Reason::NotYetValid,
        E::UnknownIssuer => Reason::UnknownIssuer,
        E::UnsupportedCertVersion => Reason::UnsupportedVersion,
        E::RequiredEkuNotFoundContext(_) => Reason::NotForClientAuth,
        E::InvalidSignatureForPublicKey => Reason::BadSignature,
        E::CaUsedAsEndEntity => Reason::CaAsLeaf,
        _ => Reason::ChainInvalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cert::{header, parse};

    /// A P-256 CA and a client certificate it signed (clientAuth EKU, CA:FALSE), both valid
    /// from 2026-12-02 for 100 years; made with openssl for these tests.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBujCCAWGgAwIBAgIUatlk2MhAt7UAWdDDjSgUsEU3Z3QwCgYIKoZIzj0EAwIw
KjEUMBIGA1UECgwLVmVyaWZ5IFRlc3QxEjAQBgNVBAMMCXZlcmlmeS1jYTAgFw0y
NjEyMDIxMDIyMTNaGA8yMTI2MTEwODEwMjIxM1owKjEUMBIGA1UECgwLVmVyaWZ5
IFRlc3QxEjAQBgNVBAMMCXZlcmlmeS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABMGR7ujSpoEAIit6s+yKAML5TGycnVUnSZ0QiAqZzs16lzNGJFlJZv1SvQpJ
eVe0333EhM6+0VN+P9kWZtvA+vmjYzBhMB0GA1UdDgQWBBRjgAGwaTB8CB4Yg1Og
1oK1aWZsTTAfBgNVHSMEGDAWgBRjgAGwaTB8CB4Yg1Og1oK1aWZsTTAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNHADBEAiB74GQ5
b6cX7xBjv4PHDB6yCypyHmc8OSN0vDP3DAubqwIgQAll4z5lWqdOFGT8EXWfgb5C
CRi+6SU2XrZmUk9wZTg=
-----END CERTIFICATE-----";
    const LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBzjCCAXWgAwIBAgIUAhYfb1/MsThLm7CUNHR0mtdDg9kwCgYIKoZIzj0EAwIw
KjEUMBIGA1UECgwLVmVyaWZ5IFRlc3QxEjAQBgNVBAMMCXZlcmlmeS1jYTAgFw0y
NjEyMDIxMDIyMTNaGA8yMTI2MTEwODEwMjIxM1owLDEUMBIGA1UECgwLVmVyaWZ5
IFRlc3QxFDASBgNVBAMMC3ZlcmlmeS1sZWFmMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEHO2wtee8Z5QD8hVqpzKHqQq/IFczzSdMK1hqz8Ba1iYp7tNfEUtpQvg/
crCSy0KunG8rTMkRGB95nNyocjLFaaN1MHMwDAYDVR0TAQH/BAIwADAOBgNVHQ8B
Af8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFGE6t8PSZyvU
Xr63SED+o2D6+T75MB8GA1UdIwQYMBaAFGOAAbBpMHwIHhiDU6DWgrVpZmxNMAoG
CCqGSM49BAMCA0cAMEQCIEK5+BlDYSAULU5G3TvBNqlXtL4FlkbhlKZJ8e9qHw9W
AiAXASKd2FBCOd8ijUSHoqr1XA15RWockCRuqQEPCyrjNw==
-----END CERTIFICATE-----";

    fn der(pem: &str) -> Vec<u8> {
        header::pem_bundle(pem).unwrap().remove(0)
    }

    #[test]
    fn each_verdict_maps_to_its_reason() {
        let (ca, leaf) = (der(CA_PEM), der(LEAF_PEM));
        let fields = parse::parse(&leaf).unwrap();
        let at = fields.not_before as u64 + 60;
        let roots = vec![ca.clone()];
        assert_eq!(verify(&leaf, &[], &roots, at), Ok(()));
        // the chain may also carry the root itself as an intermediate
        assert_eq!(verify(&leaf, std::slice::from_ref(&ca), &roots, at), Ok(()));
        // one bit of the signature (the DER ends inside it)
        let mut bad = leaf.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(verify(&bad, &[], &roots, at), Err(Reason::BadSignature));
        // outside the validity period
        assert_eq!(
            verify(&leaf, &[], &roots, fields.not_before as u64 - 60),
            Err(Reason::NotYetValid)
        );
        assert_eq!(
            verify(&leaf, &[], &roots, fields.not_after as u64 + 60),
            Err(Reason::Expired)
        );
        // another CA, the CA itself as the client certificate, no usable root, no certificate
        let other = header::pem_bundle(crate::core::cert::fuzzing::FIXTURE_PEM)
            .unwrap()
            .remove(0);
        assert_eq!(verify(&leaf, &[], &[other], at), Err(Reason::UnknownIssuer));
        assert_eq!(verify(&ca, &[], &roots, at), Err(Reason::CaAsLeaf));
        assert_eq!(
            verify(&leaf, &[], &[b"not a certificate".to_vec()], at),
            Err(Reason::BundleUnusable)
        );
        assert_eq!(verify(&leaf, &[], &[], at), Err(Reason::BundleUnusable));
        assert_eq!(
            verify(b"not a certificate", &[], &roots, at),
            Err(Reason::ChainInvalid)
        );
        // the fixed texts of the two reasons only this test produces
        assert_eq!(
            Reason::BadSignature.text(),
            "a signature in the chain is invalid"
        );
        assert!(Reason::CaAsLeaf.text().contains("CA certificate"));
    }
}
