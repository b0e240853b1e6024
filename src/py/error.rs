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
        }
    }
}
