//! The one place core errors become Python exceptions (classes defined in `keyseal/exceptions.py`).

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

use crate::core::{CoreError, StoreErrorKind};

pyo3::import_exception!(keyseal.exceptions, DecryptionError);
pyo3::import_exception!(keyseal.exceptions, ConfigurationError);
pyo3::import_exception!(keyseal.exceptions, StoreError);
pyo3::import_exception!(keyseal.exceptions, StoreConnectionError);
pyo3::import_exception!(keyseal.exceptions, StoreAuthError);
pyo3::import_exception!(keyseal.exceptions, StoreTimeoutError);
pyo3::import_exception!(keyseal.exceptions, InvalidApiKey);
pyo3::import_exception!(keyseal.exceptions, InsufficientScope);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let text = err.to_string();
        match err {
            CoreError::Decryption => DecryptionError::new_err(text),
            CoreError::Config(_) => ConfigurationError::new_err(text),
            CoreError::Invalid(_) => PyValueError::new_err(text),
            CoreError::Store { kind, .. } => match kind {
                StoreErrorKind::Connection => StoreConnectionError::new_err(text),
                StoreErrorKind::Auth => StoreAuthError::new_err(text),
                StoreErrorKind::Timeout => StoreTimeoutError::new_err(text),
                StoreErrorKind::Server => StoreError::new_err(text),
            },
            CoreError::InvalidApiKey { certificate } => {
                let e = InvalidApiKey::new_err(text);
                if certificate {
                    // Not in the message: frameworks read it to answer 403 instead of 401.
                    pyo3::Python::attach(|py| {
                        let _ = pyo3::types::PyAnyMethods::setattr(
                            e.value(py).as_any(),
                            "_certificate_mismatch",
                            true,
                        );
                    });
                }
                e
            }
            CoreError::InsufficientScope(missing) => {
                let e = InsufficientScope::new_err(text);
                pyo3::Python::attach(|py| {
                    let _ = pyo3::types::PyTuple::new(py, &missing).and_then(|t| {
                        pyo3::types::PyAnyMethods::setattr(
                            e.value(py).as_any(),
                            "missing_scopes",
                            t,
                        )
                    });
                });
                e
            }
        }
    }
}
