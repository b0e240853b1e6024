//! keyseal: sealed secrets in Redis for Python web apps. This file is only the module tree.

pub mod core;
mod py;

/// The compiled half of the `keyseal` package; import `keyseal`, not this.
#[pyo3::pymodule]
mod _native {
    #[pymodule_export]
    use crate::py::aio::LoopBridge;
    #[pymodule_export]
    use crate::py::apikeys::{ApiKey, ApiKeys, IssuedKey};
    #[pymodule_export]
    use crate::py::audit::audit_probe;
    #[pymodule_export]
    use crate::py::cert::ClientCertificate;
    #[pymodule_export]
    use crate::py::keyring::Keyring;
    #[pymodule_export]
    use crate::py::redact::{redactor, Finding, Redactor};
    #[pymodule_export]
    use crate::py::secret::Secret;
    #[pymodule_export]
    use crate::py::vault::{RewrapProgress, Vault};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        crate::py::init(m)
    }
}
