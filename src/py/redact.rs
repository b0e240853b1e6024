//! `keyseal.Redactor`, `keyseal.redactor()` and `Finding`: the binding of the redaction engine.

use std::borrow::Cow;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple};
use zeroize::Zeroizing;

use super::convert::{secret_arg, type_name, DETACH_THRESHOLD};
use crate::core::redact::{self as core, Config, CustomRule, Mode};

/// The rule id in masks that replace the whole value of a sensitive field.
const FIELD_RULE: &str = "sensitive_field";
/// Nesting deeper than this is replaced by a mask rather than walked (or returned as is):
/// Rust recursion must stay well inside a thread's stack.
const MAX_DEPTH: usize = 200;

enum Handle {
    Global,
    Own(Arc<core::Redactor>),
}

#[pyclass(frozen, module = "keyseal._native", name = "Redactor")]
pub struct Redactor {
    inner: Handle,
}

/// One secret found by `scan`: rule id and span. It never holds the secret itself.
#[pyclass(frozen, eq, hash, module = "keyseal._native", name = "Finding")]
#[derive(PartialEq, Eq, Hash, Clone)]
pub struct Finding {
    #[pyo3(get)]
    kind: String,
    #[pyo3(get)]
    start: usize,
    #[pyo3(get)]
    end: usize,
}

#[pymethods]
impl Finding {
    #[new]
    fn py_new(kind: String, start: usize, end: usize) -> Self {
        Self { kind, start, end }
    }
    fn __repr__(&self) -> String {
        format!(
            "Finding(kind={:?}, start={}, end={})",
            self.kind, self.start, self.end
        )
    }
    fn __iter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        let f = slf.get();
        let t = (f.kind.clone(), f.start, f.end).into_pyobject(slf.py())?;
        t.try_iter().map(|i| i.into_any())
    }
}

impl Redactor {
    fn core(&self) -> &core::Redactor {
        match &self.inner {
            Handle::Global => core::global(),
            Handle::Own(r) => r,
        }
    }

    fn findings(&self, list: Vec<core::Finding>, text: Option<&[u8]>) -> Vec<Finding> {
        // Python indexes str by code point, the engine by byte: convert in one forward walk.
        // Code points are counted as bytes that are not UTF-8 continuation bytes, which also
        // holds for lone surrogates encoded with "surrogatepass".
        let count = |t: &[u8]| t.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        let mut out = Vec::with_capacity(list.len());
        let mut walker = text.filter(|t| !t.is_ascii()).map(|t| (t, 0usize, 0usize));
        let mut to_chars = |byte: usize| -> usize {
            match &mut walker {
                None => byte,
                Some((t, b, c)) => {
                    if byte < *b {
                        return count(&t[..byte]);
                    }
                    *c += count(&t[*b..byte]);
                    *b = byte;
                    *c
                }
            }
        };
        for f in list {
            let start = to_chars(f.start);
            let end = to_chars(f.end);
            out.push(Finding {
                kind: f.rule.to_string(),
                start,
                end,
            });
        }
        out
    }

    fn redact_value<'py>(
        &self,
        obj: &Bound<'py, PyAny>,
        depth: usize,
        path: &mut Vec<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = obj.py();
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(self.redact_pystr(s)?.into_any());
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(self.redact_pybytes(b)?.into_any());
        }
        let is_container = obj.is_instance_of::<PyDict>()
            || obj.is_instance_of::<PyList>()
            || obj.is_instance_of::<PyTuple>()
            || obj.is_instance_of::<PySet>()
            || obj.is_instance_of::<PyFrozenSet>();
        if !is_container {
            return Ok(obj.clone());
        }
        if depth >= MAX_DEPTH {
            return Ok(PyString::new(py, "[REDACTED:too_deep]").into_any());
        }
        let id = obj.as_ptr() as usize;
        if path.contains(&id) {
            // A reference cycle: Python's own repr shows these as `[...]`.
            return Ok(PyString::new(py, "[...]").into_any());
        }
        path.push(id);
        let result = self.redact_container(obj, depth, path);
        path.pop();
        result
    }

    fn redact_container<'py>(
        &self,
        obj: &Bound<'py, PyAny>,
        depth: usize,
        path: &mut Vec<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = obj.py();
        if let Ok(d) = obj.cast::<PyDict>() {
            let out = PyDict::new(py);
            for (k, v) in d.iter() {
                let sensitive = k
                    .cast::<PyString>()
                    .ok()
                    .and_then(|s| s.to_str().ok().map(core::is_sensitive_key))
                    .unwrap_or(false);
                let key = self.redact_value(&k, depth + 1, path)?;
                let value = if sensitive && !v.is_none() && !v.is_instance_of::<PyBool>() {
                    self.field_mask(&v)?
                } else {
                    self.redact_value(&v, depth + 1, path)?
                };
                out.set_item(key, value)?;
            }
            return Ok(out.into_any());
        }
        let mut items = Vec::new();
        for item in obj.try_iter()? {
            items.push(self.redact_value(&item?, depth + 1, path)?);
        }
        if obj.is_exact_instance_of::<PyList>() || obj.is_instance_of::<PyList>() {
            return Ok(PyList::new(py, items)?.into_any());
        }
        if obj.is_instance_of::<PyTuple>() {
            let tuple = PyTuple::new(py, items)?;
            // Named tuples keep their type (and field names) through `_make`.
            if !obj.is_exact_instance_of::<PyTuple>() {
                if let Ok(make) = obj.get_type().getattr("_make") {
                    return make.call1((tuple,));
                }
            }
            return Ok(tuple.into_any());
        }
        if obj.is_instance_of::<PyFrozenSet>() {
            return Ok(PyFrozenSet::new(py, &items)?.into_any());
        }
        Ok(PySet::new(py, &items)?.into_any())
    }

    /// The whole value of a field whose name marks it secret (`password`, `api_token`, ...).
    fn field_mask<'py>(&self, v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = v.py();
        if let Ok(b) = v.cast::<PyBytes>() {
            return Ok(PyBytes::new(py, &self.core().mask(FIELD_RULE, b.as_bytes())).into_any());
        }
        let text = match v.cast::<PyString>() {
            Ok(s) => Zeroizing::new(str_bytes(s)?.as_bytes().to_vec()),
            // Containers and numbers are masked whole; their repr only feeds the fingerprint.
            Err(_) => Zeroizing::new(str_bytes(&v.repr()?)?.as_bytes().to_vec()),
        };
        let mask = self.core().mask(FIELD_RULE, &text);
        Ok(PyString::new(py, &String::from_utf8_lossy(&mask)).into_any())
    }

    fn redact_pystr<'py>(&self, s: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
        let Ok(text) = s.to_str() else {
            return self.redact_surrogates(s);
        };
        let core = self.core();
        let work = || match core.redact_str(text) {
            Cow::Borrowed(_) => None,
            Cow::Owned(o) => Some(o),
        };
        let out = if text.len() >= DETACH_THRESHOLD {
            s.py().detach(work)
        } else {
            work()
        };
        Ok(match out {
            // Unchanged text returns the caller's own object: no copy on the common path.
            None => s.clone(),
            Some(o) => PyString::new(s.py(), &o),
        })
    }

    /// A str that is not valid UTF-8 (lone surrogates): redacted as its "surrogatepass"
    /// encoding and decoded back the same way. Spans are widened to whole characters, so
    /// every surrogate's three bytes stay together.
    fn redact_surrogates<'py>(&self, s: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
        let py = s.py();
        let encoded = surrogate_bytes(s)?;
        let data = encoded.as_bytes();
        let core = self.core();
        let plan = if data.len() >= DETACH_THRESHOLD {
            py.detach(|| core.plan(data))
        } else {
            core.plan(data)
        };
        if plan.is_empty() {
            return Ok(s.clone());
        }
        let out = PyBytes::new_with(py, plan.out_len(), |out| {
            plan.write(data, out);
            Ok(())
        })?;
        let back = out
            .call_method1(intern!(py, "decode"), ("utf-8", "surrogatepass"))
            .or_else(|_| out.call_method1(intern!(py, "decode"), ("utf-8", "replace")))?;
        Ok(back.cast_into::<PyString>()?)
    }

    fn redact_pybytes<'py>(&self, b: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyBytes>> {
        let data = b.as_bytes();
        let core = self.core();
        let plan = if data.len() >= DETACH_THRESHOLD {
            b.py().detach(|| core.plan(data))
        } else {
            core.plan(data)
        };
        if plan.is_empty() {
            return Ok(b.clone());
        }
        // Written straight into the new bytes object: one copy of a large payload, not two.
        PyBytes::new_with(b.py(), plan.out_len(), |out| {
            plan.write(data, out);
            Ok(())
        })
    }
}

/// `s` as UTF-8 bytes; lone surrogates encoded with "surrogatepass" (see `redact_surrogates`).
fn surrogate_bytes<'py>(s: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyBytes>> {
    let py = s.py();
    Ok(
        s.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass"))?
            .cast_into::<PyBytes>()?,
    )
}

/// The bytes of a str, borrowed when it is valid UTF-8. The strict conversion's error is
/// dropped unseen: its exception object would hold the whole text.
enum StrBytes<'a, 'py> {
    Utf8(&'a str),
    Surrogates(Bound<'py, PyBytes>),
}

impl StrBytes<'_, '_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            StrBytes::Utf8(s) => s.as_bytes(),
            StrBytes::Surrogates(b) => b.as_bytes(),
        }
    }
}

fn str_bytes<'a, 'py>(s: &'a Bound<'py, PyString>) -> PyResult<StrBytes<'a, 'py>> {
    match s.to_str() {
        Ok(t) => Ok(StrBytes::Utf8(t)),
        Err(_) => Ok(StrBytes::Surrogates(surrogate_bytes(s)?)),
    }
}

fn custom_rule(item: &Bound<'_, PyAny>) -> PyResult<CustomRule> {
    let tuple = item.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err(format!(
            "custom_rules items must be (id, pattern) or (id, pattern, anchors) tuples, not {}",
            type_name(item)
        ))
    })?;
    if !(2..=3).contains(&tuple.len()) {
        return Err(PyValueError::new_err(
            "custom_rules items must be (id, pattern) or (id, pattern, anchors) tuples",
        ));
    }
    let id: String = tuple.get_item(0)?.extract()?;
    let pattern: String = tuple.get_item(1)?.extract()?;
    let anchors: Vec<String> = if tuple.len() == 3 {
        let a = tuple.get_item(2)?;
        if a.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "custom rule anchors must be a list of str, not a str",
            ));
        }
        a.extract()?
    } else {
        Vec::new()
    };
    Ok(CustomRule {
        id,
        pattern,
        anchors,
    })
}

#[pymethods]
impl Redactor {
    #[new]
    #[pyo3(signature = (*, mode = "mask", partial_tail = 4, fingerprint_key = None, disable = None, custom_rules = None, use_known = true))]
    fn py_new(
        py: Python<'_>,
        mode: &str,
        partial_tail: usize,
        fingerprint_key: Option<&Bound<'_, PyAny>>,
        disable: Option<&Bound<'_, PyAny>>,
        custom_rules: Option<&Bound<'_, PyAny>>,
        use_known: bool,
    ) -> PyResult<Self> {
        let key = match fingerprint_key {
            None => None,
            Some(k) => Some(Zeroizing::new(
                k.cast::<PyBytes>()
                    .map_err(|_| {
                        PyTypeError::new_err(format!(
                            "fingerprint_key must be bytes, not {}",
                            type_name(k)
                        ))
                    })?
                    .as_bytes()
                    .to_vec(),
            )),
        };
        let mode = match (mode, key) {
            ("mask", None) => Mode::Mask,
            ("partial", None) => {
                if partial_tail == 0 || partial_tail > 8 {
                    return Err(PyValueError::new_err(
                        "partial_tail must be between 1 and 8",
                    ));
                }
                Mode::Partial { tail: partial_tail }
            }
            ("fingerprint", Some(key)) => Mode::Fingerprint { key },
            ("fingerprint", None) => {
                return Err(PyValueError::new_err(
                    "mode='fingerprint' needs fingerprint_key (bytes)",
                ))
            }
            ("mask" | "partial", Some(_)) => {
                return Err(PyValueError::new_err(
                    "fingerprint_key is only used with mode='fingerprint'",
                ))
            }
            _ => {
                return Err(PyValueError::new_err(
                    "mode must be 'mask', 'partial' or 'fingerprint'",
                ))
            }
        };
        let disabled: Vec<String> = match disable {
            None => Vec::new(),
            Some(d) if d.is_instance_of::<PyString>() => {
                return Err(PyTypeError::new_err(
                    "disable must be a list of rule ids, not a str",
                ))
            }
            Some(d) => d.extract()?,
        };
        let mut custom = Vec::new();
        if let Some(c) = custom_rules {
            for item in c.try_iter()? {
                custom.push(custom_rule(&item?)?);
            }
        }
        let config = Config {
            mode,
            disabled,
            custom,
            use_global_known: use_known,
        };
        // Compiling the catalogue takes a few milliseconds: no Python objects are involved.
        let built = py.detach(|| core::Redactor::new(config));
        let inner = built.map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            inner: Handle::Own(Arc::new(inner)),
        })
    }

    /// `text` with every secret replaced; the same object when there is none.
    fn redact<'py>(&self, text: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        let s = text.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "redact() takes str (use redact_bytes for bytes), not {}",
                type_name(text)
            ))
        })?;
        self.redact_pystr(s)
    }

    fn redact_bytes<'py>(&self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let b = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "redact_bytes() takes bytes, not {}",
                type_name(data)
            ))
        })?;
        self.redact_pybytes(b)
    }

    /// A redacted copy of nested dicts, lists, tuples and sets; the input is never changed.
    fn redact_obj<'py>(&self, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let mut path = Vec::new();
        self.redact_value(obj, 0, &mut path)
    }

    /// Findings in `text` (str: offsets in code points; bytes: in bytes).
    fn scan(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Vec<Finding>> {
        if let Ok(s) = text.cast::<PyString>() {
            let t = str_bytes(s)?;
            let t = t.as_bytes();
            let core = self.core();
            let list = if t.len() >= DETACH_THRESHOLD {
                py.detach(|| core.scan(t))
            } else {
                core.scan(t)
            };
            return Ok(self.findings(list, Some(t)));
        }
        if let Ok(b) = text.cast::<PyBytes>() {
            let data = b.as_bytes();
            let core = self.core();
            let list = if data.len() >= DETACH_THRESHOLD {
                py.detach(|| core.scan(data))
            } else {
                core.scan(data)
            };
            return Ok(self.findings(list, None));
        }
        Err(PyTypeError::new_err(format!(
            "scan() takes str or bytes, not {}",
            type_name(text)
        )))
    }

    /// Register an exact secret (str, bytes or Secret). False when it is too short (< 6 bytes)
    /// to match without false positives.
    fn add_secret(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = secret_arg(value, "value")?;
        Ok(self.core().add_secret(v.expose()))
    }

    fn remove_secret(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = secret_arg(value, "value")?;
        Ok(self.core().remove_secret(v.expose()))
    }

    #[getter]
    fn rule_ids(&self) -> Vec<String> {
        self.core()
            .rule_ids()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[getter]
    fn known_count(&self) -> usize {
        self.core().known_count()
    }

    /// Streaming helper for the CLI: see `keyseal._redact_cli`.
    fn redact_window<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyBytes>,
        emit_from: usize,
        emit_to: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        let buf = data.as_bytes();
        let core = self.core();
        let (plan, end) = py.detach(|| core.plan_window(buf, emit_from, emit_to));
        let out = PyBytes::new_with(py, plan.out_len(), |out| {
            plan.write(buf, out);
            Ok(())
        })?;
        Ok((out, end))
    }

    fn scan_window(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        emit_from: usize,
        emit_to: usize,
    ) -> (Vec<Finding>, usize) {
        let buf = data.as_bytes();
        let core = self.core();
        let (list, end) = py.detach(|| core.scan_window(buf, emit_from, emit_to));
        (self.findings(list, None), end)
    }

    /// Whether a field named `name` holds a secret (normalized compound names).
    #[staticmethod]
    fn is_sensitive_key(name: &str) -> bool {
        core::is_sensitive_key(name)
    }

    /// The built-in rules as (id, anchors, pattern), e.g. for comparisons with `re`. The last,
    /// `keyseal_api_key`, lists the API key prefixes registered so far.
    #[staticmethod]
    fn catalogue() -> Vec<(String, Vec<String>, String)> {
        core::catalogue()
            .into_iter()
            .map(|r| (r.id, r.anchors, r.pattern))
            .collect()
    }

    fn __repr__(&self) -> String {
        let which = match self.inner {
            Handle::Global => " (process-wide)",
            Handle::Own(_) => "",
        };
        format!(
            "<keyseal.Redactor{which}: {} rules, {} known values>",
            self.core().rule_ids().len(),
            self.core().known_count()
        )
    }
}

/// The process-wide redactor: every revealed `Secret` is registered with it.
#[pyfunction]
pub fn redactor() -> Redactor {
    Redactor {
        inner: Handle::Global,
    }
}
