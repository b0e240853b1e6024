//! `keyseal.Secret`: a value that prints as a mask, compares in constant time and refuses pickling.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::convert::secret_arg;
use crate::core::redact::add_known_secret;
use crate::core::secret::SecretBytes;

const MASK: &str = "**********";

#[pyclass(frozen, module = "keyseal._native", name = "Secret")]
pub struct Secret {
    inner: SecretBytes,
}

impl Secret {
    pub fn new(inner: SecretBytes) -> Self {
        Self { inner }
    }
    pub fn inner(&self) -> &SecretBytes {
        &self.inner
    }
    /// Everything revealed becomes known to the process-wide redactor, in both forms.
    fn register(&self) {
        add_known_secret(self.inner.expose());
    }
}

#[pymethods]
impl Secret {
    #[new]
    fn py_new(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            inner: secret_arg(value, "value")?,
        })
    }

    /// The secret as text. The returned `str` is an ordinary Python object: it cannot be wiped.
    fn reveal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        let text = std::str::from_utf8(self.inner.expose()).map_err(|_| {
            PyValueError::new_err("this secret is not UTF-8 text: use reveal_bytes()")
        })?;
        self.register();
        Ok(PyString::new(py, text))
    }

    /// The secret as bytes. The returned `bytes` cannot be wiped either.
    fn reveal_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.register();
        PyBytes::new(py, self.inner.expose())
    }

    fn __repr__(&self) -> String {
        format!("Secret('{MASK}')")
    }
    fn __str__(&self) -> &'static str {
        MASK
    }
    fn __format__(&self, _spec: &str) -> &'static str {
        MASK
    }
    fn __bool__(&self) -> bool {
        !self.inner.is_empty()
    }

    /// Constant-time comparison with another `Secret`, `str` or `bytes`.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(theirs) = secret_arg(other, "other") else {
            return Ok(py.NotImplemented());
        };
        Ok(
            pyo3::types::PyBool::new(py, self.inner.ct_eq(theirs.expose()))
                .to_owned()
                .into_any()
                .unbind(),
        )
    }

    fn __hash__(&self) -> PyResult<isize> {
        Err(PyTypeError::new_err(
            "keyseal.Secret is unhashable: a hash would leak information about the value",
        ))
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "keyseal.Secret refuses to be pickled: store it with Vault.put(), or reveal() it deliberately",
        ))
    }
}
