//! `keyseal.Vault`: blocking methods release the GIL around all store I/O; `a`-prefixed twins
//! return awaitables driven by Rust futures on the shared tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString};
use pyo3::IntoPyObjectExt;

use super::aio::spawn;
use super::convert::{opt_duration, secret_arg, type_name, ConnectionArgs, TtlParam};
use super::keyring::Keyring;
use super::pylog::detach;
use super::secret::Secret;
use crate::core::secret::SecretBytes;
use crate::core::store::Ttl;
use crate::core::vault::{self as core_vault, RewrapStats, VaultConfig};
use crate::core::{CoreError, Result as CoreResult};

/// Progress reported to a `rewrap(progress=...)` callback after every batch.
#[pyclass(frozen, module = "keyseal._native", name = "RewrapProgress", get_all)]
#[derive(Clone)]
pub struct RewrapProgress {
    pub scanned: u64,
    pub rewrapped: u64,
    pub current: u64,
    pub raced: u64,
    pub failed: u64,
}

#[pymethods]
impl RewrapProgress {
    fn __repr__(&self) -> String {
        format!(
            "RewrapProgress(scanned={}, rewrapped={}, current={}, raced={}, failed={})",
            self.scanned, self.rewrapped, self.current, self.raced, self.failed
        )
    }
}

impl From<&RewrapStats> for RewrapProgress {
    fn from(s: &RewrapStats) -> Self {
        Self {
            scanned: s.scanned,
            rewrapped: s.rewrapped,
            current: s.current,
            raced: s.raced,
            failed: s.failed,
        }
    }
}

// Python signatures need literal defaults to show them; keep them equal to the core's constants.
const _: () = assert!(
    core_vault::DEFAULT_MAX_VALUE_SIZE == 1048576 && core_vault::DEFAULT_REWRAP_BATCH == 1000
);

#[pyclass(frozen, module = "keyseal._native", name = "Vault")]
pub struct Vault {
    inner: Arc<core_vault::Vault>,
    shown: String,
}

fn names_arg(names: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if names.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "names must be an iterable of str, not a single str",
        ));
    }
    names
        .try_iter()?
        .map(|n| {
            let n = n?;
            n.cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("every name must be str"))?
                .to_str()
                .map(str::to_owned)
        })
        .collect()
}

fn items_arg(mapping: &Bound<'_, PyAny>) -> PyResult<Vec<(String, SecretBytes)>> {
    let items = mapping
        .call_method0("items")
        .map_err(|_| PyTypeError::new_err("put_many takes a mapping of name to secret"))?;
    items
        .try_iter()?
        .map(|pair| {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
            let name = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("every name must be str"))?
                .to_str()?
                .to_owned();
            Ok((name, secret_arg(&v, "secret")?))
        })
        .collect()
}

fn ttl_seconds(t: Ttl) -> Option<f64> {
    match t {
        Ttl::Missing => None,
        Ttl::Forever => Some(f64::INFINITY),
        Ttl::Remaining(d) => Some(d.as_secs_f64()),
    }
}

fn secrets_dict(
    py: Python<'_>,
    names: &[String],
    found: Vec<Option<SecretBytes>>,
) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in names.iter().zip(found) {
        if let Some(v) = value {
            d.set_item(name, Secret::new(v))?;
        }
    }
    Ok(d.unbind())
}

/// Plaintext bytes for a cache: a plain `bytes`, deliberately not registered with the redactor.
fn plain_bytes(py: Python<'_>, value: Option<SecretBytes>) -> Py<PyAny> {
    match value {
        Some(v) => PyBytes::new(py, v.expose()).into_any().unbind(),
        None => py.None(),
    }
}

/// `{name: bytes}` for values found, `{name: None}` for values that failed to open (only asked
/// for with `skip_undecryptable`); missing names left out.
fn bytes_dict(
    py: Python<'_>,
    names: &[String],
    found: Vec<Option<Option<SecretBytes>>>,
) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    for (name, value) in names.iter().zip(found) {
        if let Some(v) = value {
            d.set_item(name, plain_bytes(py, v))?;
        }
    }
    Ok(d.into_any().unbind())
}

/// The `delta` of `incr`: an int that fits in an i64 (a ValueError, not OverflowError, past that).
pub struct Delta(i64);

impl<'a, 'py> FromPyObject<'a, 'py> for Delta {
    type Error = PyErr;
    fn extract(ob: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if !ob.is_instance_of::<PyInt>() || ob.is_instance_of::<pyo3::types::PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "delta must be int, not {}",
                type_name(&ob.to_owned())
            )));
        }
        ob.extract::<i64>()
            .map(Delta)
            .map_err(|_| PyValueError::new_err("delta must fit in a signed 64-bit integer"))
    }
}

/// An awaitable of a unit result resolves to `None` (not `()`, which would become an empty tuple).
fn resolved_none(py: Python<'_>, result: CoreResult<()>) -> PyResult<Py<PyAny>> {
    result?;
    Ok(py.None())
}

/// Turn a core result into the value an awaitable resolves to.
fn resolved<T>(py: Python<'_>, result: CoreResult<T>) -> PyResult<Py<PyAny>>
where
    T: for<'py> IntoPyObject<'py>,
{
    result?.into_py_any(py)
}

type Raised = Arc<std::sync::Mutex<Option<PyErr>>>;

/// Call the Python progress callback (re-taking the GIL). An exception there stops the rewrap and
/// is re-raised as it was, through the returned slot.
fn progress_caller(
    callback: Option<Py<PyAny>>,
) -> (impl FnMut(&RewrapStats) -> CoreResult<()> + Send, Raised) {
    let raised: Raised = Arc::default();
    let slot = raised.clone();
    let call = move |stats: &RewrapStats| {
        // Between batches: run pending signal handlers (Ctrl-C stops a long blocking rewrap here;
        // on a runtime worker this is a no-op, Python runs handlers on the main thread only), then
        // the callback. Off the runtime's books, since both may wait for the GIL and the callback
        // may call blocking methods.
        crate::core::runtime::blocking(|| {
            Python::attach(|py| {
                py.check_signals()?;
                match &callback {
                    Some(cb) => cb.call1(py, (RewrapProgress::from(stats),)).map(|_| ()),
                    None => Ok(()),
                }
            })
        })
        .map_err(|e| {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            CoreError::invalid("rewrap stopped by its progress callback")
        })
    };
    (call, raised)
}

/// Prefer the callback's own exception over the core's generic stop error.
fn rewrap_result(result: CoreResult<RewrapStats>, raised: &Raised) -> PyResult<u64> {
    if let Some(e) = raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    Ok(result?.rewrapped)
}

impl Vault {
    /// The core vault, shared with objects built on it (`ApiKeys`).
    pub(crate) fn core(&self) -> Arc<core_vault::Vault> {
        self.inner.clone()
    }
}

#[pymethods]
impl Vault {
    #[new]
    #[pyo3(signature = (
        url = "memory://", *, keyring, namespace = "default", default_ttl = None, key_prefix = "ks",
        max_value_size = 1048576, username = None, password = None,
        ssl_ca_certs = None, ssl_certfile = None, ssl_keyfile = None, ssl_check_hostname = None,
        ssl_cert_reqs = None, socket_timeout = None, socket_connect_timeout = None,
        allow_plaintext = false, max_idle_connections = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        url: &str,
        keyring: &Bound<'_, PyAny>,
        namespace: &str,
        default_ttl: Option<&Bound<'_, PyAny>>,
        key_prefix: &str,
        max_value_size: usize,
        username: Option<String>,
        password: Option<&Bound<'_, PyAny>>,
        ssl_ca_certs: Option<PathBuf>,
        ssl_certfile: Option<PathBuf>,
        ssl_keyfile: Option<PathBuf>,
        ssl_check_hostname: Option<bool>,
        ssl_cert_reqs: Option<String>,
        socket_timeout: Option<&Bound<'_, PyAny>>,
        socket_connect_timeout: Option<&Bound<'_, PyAny>>,
        allow_plaintext: bool,
        max_idle_connections: Option<usize>,
    ) -> PyResult<Self> {
        let keyring = keyring
            .cast::<Keyring>()
            .map_err(|_| PyTypeError::new_err("keyring must be a keyseal.Keyring"))?
            .get()
            .core()
            .clone();
        let options = ConnectionArgs {
            username,
            password,
            ssl_ca_certs,
            ssl_certfile,
            ssl_keyfile,
            ssl_check_hostname,
            ssl_cert_reqs,
            socket_timeout,
            socket_connect_timeout,
        }
        .options(
            allow_plaintext,
            max_idle_connections,
            PyTypeError::new_err::<&'static str>,
        )?;
        let config = VaultConfig {
            namespace: namespace.to_owned(),
            key_prefix: key_prefix.to_owned(),
            default_ttl: opt_duration(default_ttl, "default_ttl")?,
            max_value_size,
        };
        let inner = core_vault::Vault::open(url, &options, keyring, config)?;
        let shown = crate::core::store::url::display(url);
        Ok(Self {
            inner: Arc::new(inner),
            shown,
        })
    }

    #[getter]
    fn namespace(&self) -> &str {
        &self.inner.config().namespace
    }

    #[getter]
    fn default_ttl(&self) -> Option<f64> {
        self.inner.config().default_ttl.map(|d| d.as_secs_f64())
    }

    #[getter]
    fn max_value_size(&self) -> usize {
        self.inner.config().max_value_size
    }

    #[pyo3(signature = (name, secret, *, ttl = TtlParam::DEFAULT))]
    fn put(
        &self,
        py: Python<'_>,
        name: &str,
        secret: &Bound<'_, PyAny>,
        ttl: TtlParam,
    ) -> PyResult<()> {
        let secret = secret_arg(secret, "secret")?;
        Ok(detach(py, || {
            self.inner.put(name, secret.expose(), ttl.0)
        })??)
    }

    #[pyo3(signature = (name, secret, *, ttl = TtlParam::DEFAULT))]
    fn aput<'py>(
        &self,
        py: Python<'py>,
        name: String,
        secret: &Bound<'py, PyAny>,
        ttl: TtlParam,
    ) -> PyResult<Bound<'py, PyAny>> {
        let secret = secret_arg(secret, "secret")?;
        let v = self.inner.clone();
        spawn(
            py,
            async move { v.aput(&name, secret.expose(), ttl.0).await },
            resolved_none,
        )
    }

    #[pyo3(signature = (mapping, *, ttl = TtlParam::DEFAULT))]
    fn put_many(&self, py: Python<'_>, mapping: &Bound<'_, PyAny>, ttl: TtlParam) -> PyResult<()> {
        let items = items_arg(mapping)?;
        detach(py, || {
            let refs: Vec<(&str, &[u8])> = items
                .iter()
                .map(|(n, s)| (n.as_str(), s.expose()))
                .collect();
            self.inner.put_many(&refs, ttl.0)
        })??;
        Ok(())
    }

    #[pyo3(signature = (mapping, *, ttl = TtlParam::DEFAULT))]
    fn aput_many<'py>(
        &self,
        py: Python<'py>,
        mapping: &Bound<'py, PyAny>,
        ttl: TtlParam,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = items_arg(mapping)?;
        let v = self.inner.clone();
        let work = async move {
            let refs: Vec<(&str, &[u8])> = items
                .iter()
                .map(|(n, s)| (n.as_str(), s.expose()))
                .collect();
            v.aput_many(&refs, ttl.0).await
        };
        spawn(py, work, resolved_none)
    }

    fn get(&self, py: Python<'_>, name: &str) -> PyResult<Option<Secret>> {
        Ok(detach(py, || self.inner.get(name))??.map(Secret::new))
    }

    fn aget<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.aget(&name).await }, |py, r| {
            resolved(py, r.map(|s| s.map(Secret::new)))
        })
    }

    /// A dict of the names found; missing names are left out, as Django's `get_many` does.
    fn get_many(&self, py: Python<'_>, names: &Bound<'_, PyAny>) -> PyResult<Py<PyDict>> {
        let names = names_arg(names)?;
        let found = detach(py, || {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            self.inner.get_many(&refs)
        })??;
        secrets_dict(py, &names, found)
    }

    fn aget_many<'py>(
        &self,
        py: Python<'py>,
        names: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = names_arg(names)?;
        let v = self.inner.clone();
        let work = async move {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let found = v.aget_many(&refs).await;
            (names, found)
        };
        spawn(py, work, |py, (names, found)| {
            Ok(secrets_dict(py, &names, found?)?.into_any())
        })
    }

    /// The plaintext as `bytes` (not registered with the redactor), or None if missing.
    fn get_bytes(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let value = detach(py, || self.inner.get(name))??;
        Ok(plain_bytes(py, value))
    }

    fn aget_bytes<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.aget(&name).await }, |py, r| {
            Ok(plain_bytes(py, r?))
        })
    }

    /// `{name: bytes}` for the names found; see the stub for `skip_undecryptable`.
    #[pyo3(signature = (names, *, skip_undecryptable = false))]
    fn get_many_bytes(
        &self,
        py: Python<'_>,
        names: &Bound<'_, PyAny>,
        skip_undecryptable: bool,
    ) -> PyResult<Py<PyAny>> {
        let names = names_arg(names)?;
        let found = detach(py, || {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            self.inner.get_many_checked(&refs, skip_undecryptable)
        })??;
        bytes_dict(py, &names, found)
    }

    #[pyo3(signature = (names, *, skip_undecryptable = false))]
    fn aget_many_bytes<'py>(
        &self,
        py: Python<'py>,
        names: &Bound<'py, PyAny>,
        skip_undecryptable: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = names_arg(names)?;
        let v = self.inner.clone();
        let work = async move {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let found = v.aget_many_checked(&refs, skip_undecryptable).await;
            (names, found)
        };
        spawn(py, work, |py, (names, found)| {
            bytes_dict(py, &names, found?)
        })
    }

    /// Atomically add `delta` to a sealed decimal integer; the new value, or None if missing.
    #[pyo3(signature = (name, delta = Delta(1)), text_signature = "($self, name, delta=1)")]
    fn incr(&self, py: Python<'_>, name: &str, delta: Delta) -> PyResult<Option<i64>> {
        Ok(detach(py, || self.inner.incr(name, delta.0))??)
    }

    #[pyo3(signature = (name, delta = Delta(1)), text_signature = "($self, name, delta=1)")]
    fn aincr<'py>(
        &self,
        py: Python<'py>,
        name: String,
        delta: Delta,
    ) -> PyResult<Bound<'py, PyAny>> {
        let delta = delta.0;
        let v = self.inner.clone();
        spawn(py, async move { v.aincr(&name, delta).await }, resolved)
    }

    /// Delete several names; returns how many existed.
    fn delete_many(&self, py: Python<'_>, names: &Bound<'_, PyAny>) -> PyResult<u64> {
        let names = names_arg(names)?;
        Ok(detach(py, || {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            self.inner.delete_many(&refs)
        })??)
    }

    fn adelete_many<'py>(
        &self,
        py: Python<'py>,
        names: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = names_arg(names)?;
        let v = self.inner.clone();
        let work = async move {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            v.adelete_many(&refs).await
        };
        spawn(py, work, resolved)
    }

    /// Store only if `name` is absent (atomic on Redis); True if stored.
    #[pyo3(signature = (name, secret, *, ttl = TtlParam::DEFAULT))]
    fn add(
        &self,
        py: Python<'_>,
        name: &str,
        secret: &Bound<'_, PyAny>,
        ttl: TtlParam,
    ) -> PyResult<bool> {
        let secret = secret_arg(secret, "secret")?;
        Ok(detach(py, || {
            self.inner.add(name, secret.expose(), ttl.0)
        })??)
    }

    #[pyo3(signature = (name, secret, *, ttl = TtlParam::DEFAULT))]
    fn aadd<'py>(
        &self,
        py: Python<'py>,
        name: String,
        secret: &Bound<'py, PyAny>,
        ttl: TtlParam,
    ) -> PyResult<Bound<'py, PyAny>> {
        let secret = secret_arg(secret, "secret")?;
        let v = self.inner.clone();
        spawn(
            py,
            async move { v.aadd(&name, secret.expose(), ttl.0).await },
            resolved,
        )
    }

    /// Give `name` a new expiry (`ttl=None`: never expire); True if `name` exists.
    #[pyo3(signature = (name, *, ttl = TtlParam::DEFAULT))]
    fn touch(&self, py: Python<'_>, name: &str, ttl: TtlParam) -> PyResult<bool> {
        Ok(detach(py, || self.inner.touch(name, ttl.0))??)
    }

    #[pyo3(signature = (name, *, ttl = TtlParam::DEFAULT))]
    fn atouch<'py>(
        &self,
        py: Python<'py>,
        name: String,
        ttl: TtlParam,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.atouch(&name, ttl.0).await }, resolved)
    }

    /// Delete every secret of this namespace (SCAN + UNLINK; never FLUSHDB); returns how many.
    fn clear(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(detach(py, || self.inner.clear())??)
    }

    fn aclear<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.aclear().await }, resolved)
    }

    fn delete(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        Ok(detach(py, || self.inner.delete(name))??)
    }

    fn adelete<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.adelete(&name).await }, resolved)
    }

    fn exists(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        Ok(detach(py, || self.inner.exists(name))??)
    }

    fn aexists<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.aexists(&name).await }, resolved)
    }

    /// Seconds left before `name` expires; `math.inf` if it never does; `None` if it is missing.
    fn ttl(&self, py: Python<'_>, name: &str) -> PyResult<Option<f64>> {
        Ok(ttl_seconds(detach(py, || self.inner.ttl(name))??))
    }

    fn attl<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.attl(&name).await }, |py, r| {
            resolved(py, r.map(ttl_seconds))
        })
    }

    /// Re-seal every value of this namespace under the keyring's primary key; returns how many.
    #[pyo3(signature = (*, batch_size = 1000, progress = None))]
    fn rewrap(
        &self,
        py: Python<'_>,
        batch_size: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<u64> {
        let (mut report, raised) = progress_caller(progress);
        let result = detach(py, || self.inner.rewrap(batch_size, &mut report))?;
        rewrap_result(result, &raised)
    }

    #[pyo3(signature = (*, batch_size = 1000, progress = None))]
    fn arewrap<'py>(
        &self,
        py: Python<'py>,
        batch_size: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        let (mut report, raised) = progress_caller(progress);
        let work = async move { v.arewrap(batch_size, &mut report).await };
        spawn(py, work, move |py, result| {
            rewrap_result(result, &raised)?.into_py_any(py)
        })
    }

    /// Close the store's connections. Further calls raise `StoreConnectionError`.
    fn close(&self, py: Python<'_>) {
        let _ = detach(py, || self.inner.close());
    }

    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = self.inner.clone();
        spawn(py, async move { v.close() }, |py, ()| Ok(py.None()))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Vault('{}', namespace='{}')",
            self.shown,
            self.inner.config().namespace
        )
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "keyseal.Vault cannot be pickled: open one per process",
        ))
    }
}
