//! `keyseal.ClientCertificate`: a client certificate read from a proxy header (core: `core::cert`).

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyString, PyTzInfo};

use crate::core::cert::{self, CertError, ClientCert, Proxy};

pyo3::import_exception!(keyseal.exceptions, CertificateError);

/// Every certificate failure becomes `keyseal.CertificateError`, with the core's fixed text.
fn cert_err(e: CertError) -> PyErr {
    CertificateError::new_err(e.to_string())
}

fn proxy_arg(name: &str) -> PyResult<Proxy> {
    Proxy::from_name(name).ok_or_else(|| {
        PyValueError::new_err(
            "unknown proxy format: expected one of nginx, envoy, traefik, alb, apache, rfc9440",
        )
    })
}

fn utc_datetime<'py>(py: Python<'py>, ts: i64) -> PyResult<Bound<'py, PyDateTime>> {
    let utc = PyTzInfo::utc(py)?.to_owned();
    PyDateTime::from_timestamp(py, ts as f64, Some(&utc))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[pyclass(frozen, module = "keyseal._native", name = "ClientCertificate")]
pub struct ClientCertificate {
    inner: Arc<ClientCert>,
}

#[pymethods]
impl ClientCertificate {
    /// Decodes a header value written by `proxy`; cached by the SHA-256 of the value.
    #[staticmethod]
    #[pyo3(signature = (value, proxy, *, chain=None))]
    fn from_header(
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        proxy: &str,
        chain: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let proxy = proxy_arg(proxy)?;
        let value = value
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("value must be str"))?
            .to_str()?;
        let chain = match chain {
            None => None,
            Some(c) if c.is_none() => None,
            Some(c) => Some(
                c.cast::<PyString>()
                    .map_err(|_| PyTypeError::new_err("chain must be str or None"))?
                    .to_str()?,
            ),
        };
        // A hit takes a microsecond: answer it with the GIL held; parse a miss without it.
        let inner = match cert::cached(value, chain, proxy) {
            Some(hit) => hit,
            None => py
                .detach(|| cert::from_header(value, chain, proxy))
                .map_err(cert_err)?,
        };
        Ok(Self { inner })
    }

    /// Empties the process-wide parse cache (for tests and benchmarks).
    #[staticmethod]
    fn cache_clear() {
        cert::cache_clear();
    }

    /// How many parsed certificates the cache holds.
    #[staticmethod]
    fn cache_size() -> usize {
        cert::cache_len()
    }

    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.der)
    }
    #[getter]
    fn chain<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .chain
            .iter()
            .map(|c| PyBytes::new(py, c))
            .collect()
    }
    #[getter]
    fn proxy(&self) -> &'static str {
        self.inner.proxy.name()
    }
    #[getter]
    fn fingerprint_sha256(&self) -> &str {
        &self.inner.fields.fingerprint_sha256
    }
    #[getter]
    fn subject(&self) -> &str {
        &self.inner.fields.subject
    }
    #[getter]
    fn issuer(&self) -> &str {
        &self.inner.fields.issuer
    }
    #[getter]
    fn common_name(&self) -> Option<&str> {
        self.inner.fields.common_name.as_deref()
    }
    #[getter]
    fn serial(&self) -> &str {
        &self.inner.fields.serial
    }
    #[getter]
    fn version(&self) -> u32 {
        self.inner.fields.version
    }
    #[getter]
    fn not_before<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDateTime>> {
        utc_datetime(py, self.inner.fields.not_before)
    }
    #[getter]
    fn not_after<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDateTime>> {
        utc_datetime(py, self.inner.fields.not_after)
    }
    #[getter]
    fn dns_names(&self) -> Vec<String> {
        self.inner.fields.dns_names.clone()
    }
    #[getter]
    fn uris(&self) -> Vec<String> {
        self.inner.fields.uris.clone()
    }
    #[getter]
    fn emails(&self) -> Vec<String> {
        self.inner.fields.emails.clone()
    }
    #[getter]
    fn spiffe_id(&self) -> Option<&str> {
        self.inner.fields.spiffe_id.as_deref()
    }

    /// True when the current time is inside notBefore..notAfter (no chain check: see verify()).
    fn is_valid_now(&self) -> bool {
        self.inner.is_valid_at(now_unix())
    }

    /// Checks the chain (with the intermediates the header carried) up to a root in the PEM bundle,
    /// and validity at `at` (an aware datetime; now when None).
    #[pyo3(signature = (ca_bundle_pem, at=None))]
    fn verify(
        &self,
        py: Python<'_>,
        ca_bundle_pem: &Bound<'_, PyAny>,
        at: Option<&Bound<'_, PyDateTime>>,
    ) -> PyResult<()> {
        let bundle: String = if let Ok(b) = ca_bundle_pem.cast::<PyBytes>() {
            String::from_utf8_lossy(b.as_bytes()).into_owned()
        } else if let Ok(s) = ca_bundle_pem.cast::<PyString>() {
            s.to_str()?.to_owned()
        } else {
            return Err(PyTypeError::new_err("ca_bundle_pem must be bytes or str"));
        };
        let at = match at {
            None => now_unix(),
            Some(dt) => {
                if dt.getattr("tzinfo")?.is_none() {
                    return Err(PyValueError::new_err(
                        "at must be a timezone-aware datetime",
                    ));
                }
                dt.call_method0("timestamp")?.extract::<f64>()?.floor() as i64
            }
        };
        // Before the epoch nothing we accept is valid; webpki takes unsigned seconds.
        let at = u64::try_from(at).unwrap_or(0);
        let inner = Arc::clone(&self.inner);
        py.detach(move || inner.verify(&bundle, at))
            .map_err(cert_err)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<ClientCertificate>()
            .is_ok_and(|o| o.get().inner.der == self.inner.der)
    }

    fn __hash__(&self) -> u64 {
        let fp = self.inner.fields.fingerprint_sha256.as_bytes();
        u64::from_str_radix(std::str::from_utf8(&fp[..16]).unwrap_or("0"), 16).unwrap_or(0)
    }

    fn __repr__(&self) -> String {
        format!(
            "<ClientCertificate subject={:?} fingerprint_sha256={:?}>",
            self.inner.fields.subject, self.inner.fields.fingerprint_sha256
        )
    }
}
