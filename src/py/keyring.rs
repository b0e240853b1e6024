//! `keyseal.Keyring`: the Python face of the core keyring. Key bytes never leave Rust except
//! through `export()`.

use std::borrow::Cow;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::convert::{bytes_arg, secret_arg, DETACH_THRESHOLD};
use crate::core::envelope;
use crate::core::keyring::{self as core_keyring, key_id_hex, PassphraseParams};
use crate::core::CoreError;

// Literal defaults in the Python signature below; keep them equal to RFC 9106's constants.
const _: () = assert!(
    core_keyring::RFC9106_MEMORY_KIB == 65536
        && core_keyring::RFC9106_TIME_COST == 3
        && core_keyring::RFC9106_PARALLELISM == 4
);

/// The optional `context=` argument of `seal`/`open`: empty when left out.
fn context_arg<'a>(context: Option<&'a Bound<'_, PyAny>>) -> PyResult<Cow<'a, [u8]>> {
    let ctx = match context {
        Some(c) => bytes_arg(c, "context")?,
        None => Cow::Borrowed(&[][..]),
    };
    // Domain separation: the Vault's contexts are its own (src/core/vault.rs).
    if crate::core::vault::is_reserved_context(&ctx) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "contexts starting with \"keyseal vault\\0\" are reserved for the Vault",
        ));
    }
    Ok(ctx)
}

#[pyclass(frozen, module = "keyseal._native", name = "Keyring")]
pub struct Keyring {
    inner: core_keyring::Keyring,
}

impl Keyring {
    pub fn core(&self) -> &core_keyring::Keyring {
        &self.inner
    }
    fn wrap(inner: core_keyring::Keyring) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl Keyring {
    #[new]
    fn py_new() -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "use Keyring.generate(), Keyring.from_string(), Keyring.from_env() or Keyring.from_passphrase()",
        ))
    }

    /// A new keyring with one random key.
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        Ok(Self::wrap(core_keyring::Keyring::generate()?))
    }

    /// Parse the text written by `export()`.
    #[staticmethod]
    fn from_string(text: &Bound<'_, PyAny>) -> PyResult<Self> {
        // Borrowed from the Python str: no copy of the keys to wipe. The strict conversion's
        // error would carry the whole text, so it is replaced by a fixed one.
        let text = text
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("keyring text must be str"))?
            .to_str()
            .map_err(|_| CoreError::config("invalid keyring text: it is not valid Unicode text"))?;
        Ok(Self::wrap(core_keyring::Keyring::from_text(text)?))
    }

    /// Read the keyring from an environment variable (`KEYSEAL_KEYS` by default).
    #[staticmethod]
    #[pyo3(signature = (var = "KEYSEAL_KEYS"))]
    fn from_env(py: Python<'_>, var: &str) -> PyResult<Self> {
        let environ = py.import("os")?.getattr("environ")?;
        let value = environ.call_method1("get", (var,))?;
        if value.is_none() {
            return Err(CoreError::config(format!(
                "environment variable {var} is not set: create a keyring with `keyseal keygen` and put its text there"
            ))
            .into());
        }
        Self::from_string(&value)
    }

    /// Derive a keyring from a passphrase with Argon2id (RFC 9106; 64 MiB, 3 passes, 4 lanes by default).
    #[staticmethod]
    #[pyo3(signature = (passphrase, *, salt, memory_cost = 65536, time_cost = 3, parallelism = 4, allow_weak_parameters = false))]
    fn from_passphrase(
        py: Python<'_>,
        passphrase: &Bound<'_, PyAny>,
        salt: &Bound<'_, PyAny>,
        memory_cost: u32,
        time_cost: u32,
        parallelism: u32,
        allow_weak_parameters: bool,
    ) -> PyResult<Self> {
        let pass = secret_arg(passphrase, "passphrase")?;
        // Borrowed from the zeroizing copy: no second copy to wipe.
        let pass = std::str::from_utf8(pass.expose())
            .map_err(|_| PyValueError::new_err("passphrase must be UTF-8 text"))?;
        let salt = bytes_arg(salt, "salt")?.into_owned();
        let params = PassphraseParams {
            memory_kib: memory_cost,
            time_cost,
            parallelism,
            allow_weak: allow_weak_parameters,
        };
        let ring = py.detach(|| core_keyring::Keyring::from_passphrase(pass, &salt, params))?;
        Ok(Self::wrap(ring))
    }

    /// The text form, for an environment variable or a secrets manager. It holds every key.
    fn export<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        // Straight from the zeroizing buffer into the Python str (which cannot be wiped).
        PyString::new(py, &self.inner.export())
    }

    /// A new keyring with a fresh primary key; the old keys stay to open old envelopes.
    fn rotated(&self) -> PyResult<Self> {
        Ok(Self::wrap(self.inner.rotated()?))
    }

    /// A new keyring without `key_id` (not the primary).
    fn without(&self, key_id: &str) -> PyResult<Self> {
        Ok(Self::wrap(self.inner.without(key_id)?))
    }

    /// A new keyring of `key_id` alone (same naming key): opens only what that key sealed.
    fn only(&self, key_id: &str) -> PyResult<Self> {
        Ok(Self::wrap(self.inner.only(key_id)?))
    }

    #[getter]
    fn primary_id(&self) -> String {
        key_id_hex(&self.inner.primary_id())
    }

    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner.key_ids().iter().map(key_id_hex).collect()
    }

    /// Seal `plaintext` under the primary key, bound to `context`.
    #[pyo3(signature = (plaintext, *, context = None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        plaintext: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ctx = context_arg(context)?;
        if let Ok(b) = plaintext.cast::<PyBytes>() {
            let data = b.as_bytes();
            if data.len() <= DETACH_THRESHOLD {
                // The common case, a small secret: sealed straight into the new bytes object.
                return PyBytes::new_with(py, envelope::sealed_len(data.len()), |out| {
                    Ok(self.inner.seal_into(data, &ctx, out)?)
                });
            }
            // Borrowed, not copied: a `bytes` object is immutable and stays alive through
            // `b`, so no unwiped copy of a large plaintext is made.
            let out = py.detach(|| self.inner.seal(data, &ctx))?;
            return Ok(PyBytes::new(py, &out));
        }
        let data = secret_arg(plaintext, "plaintext")?;
        let out = py.detach(|| self.inner.seal(data.expose(), &ctx))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Open an envelope; any failure raises `DecryptionError` with a fixed message.
    #[pyo3(signature = (envelope, *, context = None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        envelope: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let env = envelope
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("envelope must be bytes"))?
            .as_bytes();
        let ctx = context_arg(context)?;
        if env.len() > DETACH_THRESHOLD {
            let plain = py.detach(|| self.inner.open(env, &ctx))?;
            return Ok(PyBytes::new(py, plain.expose()));
        }
        let len = envelope::opened_len(env).ok_or(CoreError::Decryption)?;
        // Opened straight into the bytes object: no intermediate plaintext copy to wipe.
        PyBytes::new_with(py, len, |out| Ok(self.inner.open_into(env, &ctx, out)?))
    }

    fn __repr__(&self) -> String {
        format!(
            "Keyring(primary_id='{}', keys={})",
            self.primary_id(),
            self.inner.key_ids().len()
        )
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "keyseal.Keyring refuses to be pickled: use export() deliberately",
        ))
    }
}
