//! `keyseal.ApiKeys`, `ApiKey` and `IssuedKey`: argument checks, GIL release and conversion
//! around `core::apikey`. Blocking methods release the GIL; `a`-prefixed twins are Rust futures.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFrozenSet, PyList, PyString};
use pyo3::IntoPyObjectExt;

use super::aio::spawn;
use super::convert::{duration_arg, secret_arg, type_name};
use super::secret::Secret;
use super::vault::Vault;
use crate::core::apikey::{self as core, IssueArgs, Issued, KeyInfo, Presented};
use crate::core::Result as CoreResult;

/// What `verify` knows about a key; read-only.
#[pyclass(frozen, module = "keyseal._native", name = "ApiKey")]
pub struct ApiKey {
    info: KeyInfo,
    /// Whether it was revoked when this object was made.
    revoked: bool,
}

impl ApiKey {
    fn new(info: KeyInfo) -> Self {
        let revoked = info.revoked_at(core::now_ms());
        Self { info, revoked }
    }
}

/// A timezone-aware UTC datetime from Unix milliseconds.
fn utc(py: Python<'_>, ms: Option<i64>) -> PyResult<Py<PyAny>> {
    static FROM_TS: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    let Some(ms) = ms else { return Ok(py.None()) };
    let (from_ts, tz) = FROM_TS.get_or_try_init(py, || -> PyResult<_> {
        let dt = py.import("datetime")?;
        Ok((
            dt.getattr("datetime")?.getattr("fromtimestamp")?.unbind(),
            dt.getattr("timezone")?.getattr("utc")?.unbind(),
        ))
    })?;
    Ok(from_ts
        .bind(py)
        .call1((ms as f64 / 1000.0, tz.bind(py)))?
        .unbind())
}

#[pymethods]
impl ApiKey {
    #[new]
    fn py_new() -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "ApiKey objects come from ApiKeys.issue(), verify(), get() and list()",
        ))
    }
    #[getter]
    fn key_id(&self) -> &str {
        &self.info.key_id
    }
    #[getter]
    fn owner(&self) -> &str {
        &self.info.owner
    }
    #[getter]
    fn scopes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        PyFrozenSet::new(py, &self.info.scopes)
    }
    #[getter]
    fn label(&self) -> Option<&str> {
        self.info.label.as_deref()
    }
    #[getter]
    fn created_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        utc(py, Some(self.info.created_ms))
    }
    #[getter]
    fn expires_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        utc(py, self.info.expires_ms)
    }
    #[getter]
    fn last_used_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        utc(py, self.info.last_used_ms)
    }
    #[getter]
    fn revoked(&self) -> bool {
        self.revoked
    }
    #[getter]
    fn client_cert(&self) -> Option<&str> {
        self.info.client_cert.as_deref()
    }
    fn __repr__(&self) -> String {
        format!(
            "ApiKey(key_id={:?}, owner={:?}, scopes={:?}, revoked={})",
            self.info.key_id,
            self.info.owner,
            self.info.scopes,
            if self.revoked { "True" } else { "False" }
        )
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<ApiKey>() {
            Ok(o) => (o.get().info == self.info && o.get().revoked == self.revoked).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }
    fn __hash__(&self) -> isize {
        // Key ids are unique per store; equal keys have equal ids.
        let mut h: isize = 0;
        for b in self.info.key_id.bytes() {
            h = h.wrapping_mul(131).wrapping_add(b as isize);
        }
        h
    }
}

/// What `issue` and `rotate` return: the token, shown this once, and the key.
#[pyclass(frozen, module = "keyseal._native", name = "IssuedKey")]
pub struct IssuedKey {
    token: Py<Secret>,
    key: Py<ApiKey>,
}

#[pymethods]
impl IssuedKey {
    #[new]
    fn py_new() -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "IssuedKey objects come from ApiKeys.issue() and rotate()",
        ))
    }
    /// The full token as a `keyseal.Secret`; revealing it registers it with the redactor.
    #[getter]
    fn token(&self, py: Python<'_>) -> Py<Secret> {
        self.token.clone_ref(py)
    }
    #[getter]
    fn key(&self, py: Python<'_>) -> Py<ApiKey> {
        self.key.clone_ref(py)
    }
    fn __repr__(&self) -> String {
        format!(
            "IssuedKey(token=Secret('**********'), key={})",
            self.key.get().__repr__()
        )
    }
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "keyseal.IssuedKey refuses to be pickled: it holds a token",
        ))
    }
}

fn issued(py: Python<'_>, i: Issued) -> PyResult<IssuedKey> {
    Ok(IssuedKey {
        token: Py::new(py, Secret::new(i.token))?,
        key: Py::new(py, ApiKey::new(i.info))?,
    })
}

fn strings_arg(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.is_none() {
        return Ok(Vec::new());
    }
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of str, not a single str"
        )));
    }
    value
        .try_iter()
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be an iterable of str, not {}",
                type_name(value)
            ))
        })?
        .map(|s| {
            let s = s?;
            Ok(s.cast::<PyString>()
                .map_err(|_| PyTypeError::new_err(format!("every item of {what} must be str")))?
                .to_str()?
                .to_owned())
        })
        .collect()
}

/// `client_cert=` of `verify`: a fingerprint string or an object with `fingerprint_sha256`
/// (`keyseal.ClientCertificate`).
fn presented_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Some(s.to_str()?.to_owned()));
    }
    match value.getattr("fingerprint_sha256") {
        Ok(fp) => Ok(Some(fp.extract::<String>().map_err(|_| {
            PyTypeError::new_err("client_cert.fingerprint_sha256 must be str")
        })?)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "client_cert must be a keyseal.ClientCertificate, a fingerprint str or None, not {}",
            type_name(value)
        ))),
    }
}

fn presented(fp: &Option<String>) -> Presented<'_> {
    fp.as_deref()
        .map_or(Presented::None, Presented::Fingerprint)
}

fn token_arg(value: &Bound<'_, PyAny>) -> PyResult<crate::core::secret::SecretBytes> {
    if value.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(PyTypeError::new_err(
            "token must be str or keyseal.Secret, not bytes",
        ));
    }
    secret_arg(value, "token")
}

fn opt_ttl(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => duration_arg(v, "ttl").map(Some),
    }
}

fn grace_arg(secs: f64) -> PyResult<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(PyValueError::new_err(
            "grace must be a finite number of seconds, zero or more",
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| PyValueError::new_err("grace is out of range"))
}

fn key_list(py: Python<'_>, infos: Vec<KeyInfo>) -> PyResult<Py<PyAny>> {
    let items = infos
        .into_iter()
        .map(|i| Py::new(py, ApiKey::new(i)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

fn opt_key(py: Python<'_>, r: CoreResult<Option<KeyInfo>>) -> PyResult<Py<PyAny>> {
    match r? {
        None => Ok(py.None()),
        Some(i) => Ok(Py::new(py, ApiKey::new(i))?.into_any()),
    }
}

/// Issue, verify, list, revoke and rotate API keys kept in a Vault's store.
#[pyclass(frozen, module = "keyseal._native", name = "ApiKeys")]
pub struct ApiKeys {
    inner: Arc<core::ApiKeys>,
}

#[pymethods]
impl ApiKeys {
    #[new]
    #[pyo3(signature = (vault, *, prefix = "ks", namespace = "apikeys"))]
    fn py_new(vault: &Bound<'_, PyAny>, prefix: &str, namespace: &str) -> PyResult<Self> {
        let vault = vault
            .cast::<Vault>()
            .map_err(|_| PyTypeError::new_err("vault must be a keyseal.Vault"))?;
        let inner = core::ApiKeys::new(vault.get().core(), prefix, namespace)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn prefix(&self) -> &str {
        self.inner.prefix()
    }
    #[getter]
    fn namespace(&self) -> &str {
        self.inner.namespace()
    }

    fn __repr__(&self) -> String {
        format!(
            "ApiKeys(prefix={:?}, namespace={:?})",
            self.inner.prefix(),
            self.inner.namespace()
        )
    }

    #[pyo3(signature = (owner, *, scopes = None, ttl = None, label = None, client_cert = None))]
    #[pyo3(
        text_signature = "(self, /, owner, *, scopes=(), ttl=None, label=None, client_cert=None)"
    )]
    fn issue(
        &self,
        py: Python<'_>,
        owner: String,
        scopes: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        label: Option<String>,
        client_cert: Option<String>,
    ) -> PyResult<IssuedKey> {
        let args = IssueArgs {
            owner,
            scopes: strings_arg(scopes, "scopes")?,
            ttl: opt_ttl(ttl)?,
            label,
            client_cert,
        };
        let i = py.detach(|| self.inner.issue(args))?;
        issued(py, i)
    }

    #[pyo3(signature = (owner, *, scopes = None, ttl = None, label = None, client_cert = None))]
    #[pyo3(
        text_signature = "(self, /, owner, *, scopes=(), ttl=None, label=None, client_cert=None)"
    )]
    fn aissue<'py>(
        &self,
        py: Python<'py>,
        owner: String,
        scopes: Option<&Bound<'py, PyAny>>,
        ttl: Option<&Bound<'py, PyAny>>,
        label: Option<String>,
        client_cert: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = IssueArgs {
            owner,
            scopes: strings_arg(scopes, "scopes")?,
            ttl: opt_ttl(ttl)?,
            label,
            client_cert,
        };
        let inner = self.inner.clone();
        spawn(py, async move { inner.aissue(args).await }, |py, r| {
            Ok(Py::new(py, issued(py, r?)?)?.into_any())
        })
    }

    /// The key `token` belongs to, if it is valid, live, bound to `client_cert` (when bound)
    /// and holds every scope in `scopes`.
    #[pyo3(signature = (token, *, scopes = None, client_cert = None))]
    #[pyo3(text_signature = "(self, /, token, *, scopes=(), client_cert=None)")]
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        scopes: Option<&Bound<'_, PyAny>>,
        client_cert: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ApiKey> {
        let scopes = strings_arg(scopes, "scopes")?;
        let cert = presented_arg(client_cert)?;
        // A malformed token or a failing checksum is refused before the token is copied, with
        // no I/O and the GIL kept: this path is what a scanner guessing tokens costs.
        if let Ok(text) = token.cast::<PyString>() {
            if core::parse(text.to_str()?.as_bytes(), self.inner.prefix()).is_none() {
                return Err(crate::core::CoreError::InvalidApiKey { certificate: false }.into());
            }
        }
        let token = token_arg(token)?;
        let info = py.detach(|| self.inner.verify(token.expose(), &scopes, presented(&cert)))?;
        Ok(ApiKey::new(info))
    }

    #[pyo3(signature = (token, *, scopes = None, client_cert = None))]
    #[pyo3(text_signature = "(self, /, token, *, scopes=(), client_cert=None)")]
    fn averify<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        scopes: Option<&Bound<'py, PyAny>>,
        client_cert: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = token_arg(token)?;
        let scopes = strings_arg(scopes, "scopes")?;
        let cert = presented_arg(client_cert)?;
        let inner = self.inner.clone();
        let work = async move {
            inner
                .averify(token.expose(), &scopes, presented(&cert))
                .await
        };
        spawn(py, work, |py, r| {
            Ok(Py::new(py, ApiKey::new(r?))?.into_any())
        })
    }

    fn get(&self, py: Python<'_>, key_id: &str) -> PyResult<Py<PyAny>> {
        let r = py.detach(|| self.inner.get(key_id));
        opt_key(py, r)
    }

    fn aget<'py>(&self, py: Python<'py>, key_id: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(py, async move { inner.aget(&key_id).await }, opt_key)
    }

    #[pyo3(signature = (owner, *, include_revoked = false))]
    fn list(&self, py: Python<'_>, owner: &str, include_revoked: bool) -> PyResult<Py<PyAny>> {
        let infos = py.detach(|| self.inner.list(owner, include_revoked))?;
        key_list(py, infos)
    }

    #[pyo3(signature = (owner, *, include_revoked = false))]
    fn alist<'py>(
        &self,
        py: Python<'py>,
        owner: String,
        include_revoked: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(
            py,
            async move { inner.alist(&owner, include_revoked).await },
            |py, r| key_list(py, r?),
        )
    }

    fn revoke(&self, py: Python<'_>, key_id: &str) -> PyResult<bool> {
        Ok(py.detach(|| self.inner.revoke(key_id))?)
    }

    fn arevoke<'py>(&self, py: Python<'py>, key_id: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        spawn(py, async move { inner.arevoke(&key_id).await }, |py, r| {
            r?.into_py_any(py)
        })
    }

    #[pyo3(signature = (key_id, *, grace = 0.0))]
    #[pyo3(text_signature = "(self, /, key_id, *, grace=0)")]
    fn rotate(&self, py: Python<'_>, key_id: &str, grace: f64) -> PyResult<IssuedKey> {
        let grace = grace_arg(grace)?;
        let i = py.detach(|| self.inner.rotate(key_id, grace))?;
        issued(py, i)
    }

    #[pyo3(signature = (key_id, *, grace = 0.0))]
    #[pyo3(text_signature = "(self, /, key_id, *, grace=0)")]
    fn arotate<'py>(
        &self,
        py: Python<'py>,
        key_id: String,
        grace: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let grace = grace_arg(grace)?;
        let inner = self.inner.clone();
        spawn(
            py,
            async move { inner.arotate(&key_id, grace).await },
            |py, r| Ok(Py::new(py, issued(py, r?)?)?.into_any()),
        )
    }
}
