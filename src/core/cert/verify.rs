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
