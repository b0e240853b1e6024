//! Argument conversions shared by the bindings: secret-ish values, durations, TTL arguments, the
//! Redis connection keywords.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::secret::Secret;
use crate::core::secret::SecretBytes;
use crate::core::store::url::Options;
use crate::core::vault::TtlArg;

/// Inputs above this size are sealed with the GIL released; below it, releasing costs more than
/// the work.
pub const DETACH_THRESHOLD: usize = 16 * 1024;

/// Copy a `str`, `bytes` or `Secret` argument into zeroizing memory.
pub fn secret_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<SecretBytes> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(SecretBytes::from_slice(b.as_bytes()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        // The strict conversion's UnicodeEncodeError would carry the whole secret in `.object`:
        // drop it unseen and raise a fixed message instead.
        let text = s.to_str().map_err(|_| {
            PyValueError::new_err(format!(
                "{what} holds lone surrogates (not valid Unicode text): pass bytes instead"
            ))
        })?;
        return Ok(SecretBytes::from_slice(text.as_bytes()));
    }
    if let Ok(s) = value.cast::<Secret>() {
        return Ok(s.get().inner().clone());
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be str, bytes or keyseal.Secret, not {}",
        type_name(value)
    )))
}

/// A `bytes` or `str` argument that is not secret (an envelope, a context).
pub fn bytes_arg<'a>(
    value: &'a Bound<'_, PyAny>,
    what: &str,
) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(std::borrow::Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(std::borrow::Cow::Owned(s.to_str()?.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes or str, not {}",
        type_name(value)
    )))
}

pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Seconds as int, float or `datetime.timedelta`.
pub fn duration_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    let secs: f64 = if value.hasattr("total_seconds")? {
        value.call_method0("total_seconds")?.extract()?
    } else if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a number of seconds or a timedelta, not bool"
        )));
    } else {
        value.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a number of seconds or a timedelta, not {}",
                type_name(value)
            ))
        })?
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "{what} must be a positive, finite number of seconds"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| PyValueError::new_err(format!("{what} is out of range")))
}

pub fn opt_duration(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => duration_arg(v, what).map(Some),
    }
}

/// The connection keywords `Vault(...)` and `audit_probe(...)` both take: credentials, TLS files
/// and switches, timeouts.
pub struct ConnectionArgs<'a, 'py> {
    pub username: Option<String>,
    pub password: Option<&'a Bound<'py, PyAny>>,
    pub ssl_ca_certs: Option<PathBuf>,
    pub ssl_certfile: Option<PathBuf>,
    pub ssl_keyfile: Option<PathBuf>,
    pub ssl_check_hostname: Option<bool>,
    pub ssl_cert_reqs: Option<String>,
    pub socket_timeout: Option<&'a Bound<'py, PyAny>>,
    pub socket_connect_timeout: Option<&'a Bound<'py, PyAny>>,
}

impl ConnectionArgs<'_, '_> {
    /// The store options. A password that is not UTF-8 is refused with `not_utf8("password must
    /// be UTF-8 text")` (each caller keeps its own exception type), checked before the bytes are
    /// copied: a failed `String::from_utf8` would drop an unwiped copy.
    pub fn options(
        self,
        allow_plaintext: bool,
        max_idle_connections: Option<usize>,
        not_utf8: fn(&'static str) -> PyErr,
    ) -> PyResult<Options> {
        let password = match self.password {
            Some(p) if !p.is_none() => {
                let raw = secret_arg(p, "password")?;
                let text = std::str::from_utf8(raw.expose())
                    .map_err(|_| not_utf8("password must be UTF-8 text"))?;
                Some(zeroize::Zeroizing::new(text.to_owned()))
            }
            _ => None,
        };
        Ok(Options {
            username: self.username,
            password,
            ssl_ca_certs: self.ssl_ca_certs,
            ssl_certfile: self.ssl_certfile,
            ssl_keyfile: self.ssl_keyfile,
            ssl_check_hostname: self.ssl_check_hostname,
            ssl_cert_reqs: self.ssl_cert_reqs,
            socket_timeout: opt_duration(self.socket_timeout, "socket_timeout")?,
            socket_connect_timeout: opt_duration(
                self.socket_connect_timeout,
                "socket_connect_timeout",
            )?,
            allow_plaintext,
            max_idle_connections,
        })
    }
}

/// The `ttl=` keyword: left out means the vault's default, `None` means never expire.
pub struct TtlParam(pub TtlArg);

impl TtlParam {
    pub const DEFAULT: TtlParam = TtlParam(TtlArg::Default);
}

impl<'a, 'py> FromPyObject<'a, 'py> for TtlParam {
    type Error = PyErr;
    fn extract(ob: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if ob.is_none() {
            return Ok(TtlParam(TtlArg::Never));
        }
        Ok(TtlParam(TtlArg::After(duration_arg(
            &ob.to_owned(),
            "ttl",
        )?)))
    }
}
