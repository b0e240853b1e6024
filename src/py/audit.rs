//! `keyseal._native.audit_probe`: runs the core's read-only Redis probes with the GIL released
//! and hands their observations to Python (`keyseal/audit.py` judges them) as plain dicts.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::convert::ConnectionArgs;
use crate::core::audit::{self, Limits, NodeReport, Outcome, Report};
use crate::core::{CoreError, Result as CoreResult};

fn outcome<'py>(py: Python<'py>, o: &Option<Outcome>) -> PyResult<Bound<'py, PyAny>> {
    match o {
        None => Ok(py.None().into_bound(py)),
        Some(o) => Ok(o.label().into_pyobject(py)?.into_any()),
    }
}

fn node_dict<'py>(py: Python<'py>, n: &NodeReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("addr", &n.addr)?;
    d.set_item("error", &n.error)?;
    d.set_item("unauthenticated", outcome(py, &n.unauthenticated)?)?;
    d.set_item(
        "weak_password",
        n.weak_password.as_ref().map(|(user, index)| {
            // Which entry of the public list worked, never the text of a real password.
            (user.clone(), *index)
        }),
    )?;
    d.set_item("server_version", &n.server_version)?;
    d.set_item("whoami", &n.whoami)?;
    d.set_item("user", n.user.clone())?;
    d.set_item("user_error", &n.user_error)?;
    d.set_item("default_flags", &n.default_flags)?;
    d.set_item("users", &n.users)?;
    d.set_item("config", n.config.clone())?;
    d.set_item("config_denied", n.config_denied.clone())?;
    let cmds = PyDict::new(py);
    for (name, o) in &n.commands {
        cmds.set_item(name, o.label())?;
    }
    d.set_item("commands", cmds)?;
    d.set_item("command_method", &n.command_method)?;
    let s = PyDict::new(py);
    s.set_item("scanned", n.sample.scanned)?;
    s.set_item("complete", n.sample.complete)?;
    s.set_item("envelopes", n.sample.envelopes.clone())?;
    let plain = PyList::empty(py);
    for ((pattern, kind), count) in &n.sample.plaintext {
        plain.append((pattern, kind, *count))?;
    }
    s.set_item("plaintext", plain)?;
    s.set_item("names", n.sample.names.clone())?;
    s.set_item("error", &n.sample.error)?;
    d.set_item("sample", s)?;
    Ok(d)
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("target", &r.target)?;
    d.set_item("tls", r.tls)?;
    d.set_item("cluster", r.cluster)?;
    d.set_item("cert_verified", r.cert_verified)?;
    d.set_item("hostname_verified", r.hostname_verified)?;
    d.set_item("client_cert", r.client_cert)?;
    d.set_item("ops", r.ops)?;
    d.set_item("elapsed", r.elapsed.as_secs_f64())?;
    d.set_item("weak_passwords_tried", audit::WEAK_PASSWORDS.len())?;
    let nodes = PyList::empty(py);
    for n in &r.nodes {
        nodes.append(node_dict(py, n)?)?;
    }
    d.set_item("nodes", nodes)?;
    Ok(d)
}

/// Probe a Redis deployment read-only and return what was observed (no secret in it).
#[pyfunction]
#[pyo3(signature = (
    url, *, username = None, password = None, ssl_ca_certs = None, ssl_certfile = None,
    ssl_keyfile = None, ssl_check_hostname = None, ssl_cert_reqs = None, socket_timeout = None,
    socket_connect_timeout = None, sample = 10000, rate = 1000.0, progress = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn audit_probe<'py>(
    py: Python<'py>,
    url: &str,
    username: Option<String>,
    password: Option<&Bound<'py, PyAny>>,
    ssl_ca_certs: Option<PathBuf>,
    ssl_certfile: Option<PathBuf>,
    ssl_keyfile: Option<PathBuf>,
    ssl_check_hostname: Option<bool>,
    ssl_cert_reqs: Option<String>,
    socket_timeout: Option<&Bound<'py, PyAny>>,
    socket_connect_timeout: Option<&Bound<'py, PyAny>>,
    sample: u64,
    rate: f64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    if !rate.is_finite() || rate < 0.0 {
        return Err(PyValueError::new_err("rate must be a finite number >= 0"));
    }
    // A plaintext connection to a remote host is a finding of the audit, not a refusal.
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
    .options(true, None, PyValueError::new_err::<&'static str>)?;
    let limits = Limits { sample, rate };
    let url = url.to_owned();
    // The callback (a progress bar) runs with the GIL re-taken; whatever it raises, Ctrl-C's
    // KeyboardInterrupt included, stops the audit and is re-raised as itself.
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let slot = raised.clone();
    let mut report_progress = move |scanned: u64| -> CoreResult<()> {
        let Some(cb) = &progress else { return Ok(()) };
        Python::attach(|py| cb.call1(py, (scanned,)).map(|_| ())).map_err(|e| {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            CoreError::invalid("audit stopped by its progress callback")
        })
    };
    let result = py.detach(move || audit::audit(&url, &options, &limits, &mut report_progress));
    if let Some(e) = raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    report_dict(py, &result?)
}
