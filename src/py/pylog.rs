//! Rust `log` records into Python `logging` (through pyo3-log), with exceptions that Python
//! handlers and filters raise carried back to the caller instead of being left set.
//!
//! pyo3-log cannot return an error from `Log::log`, so it leaves a handler's exception as the
//! thread's current one; a method that then returns a value with an exception set surfaces as a
//! `SystemError`. Here the exception is taken right after the record is handled: on a thread
//! inside [`detach`] it is kept and raised as itself (KeyboardInterrupt included) when the call
//! returns, as Python's own `logger.info()` would; elsewhere (runtime workers, where no caller
//! waits) it goes to `sys.unraisablehook`.

use std::cell::{Cell, RefCell};

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::marker::Ungil;
use pyo3::prelude::*;

thread_local! {
    /// Whether this thread is inside [`detach`], which will collect a handler's exception.
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
    /// The first exception a handler raised during the current [`detach`].
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

struct Catching(pyo3_log::Logger);

impl Log for Catching {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.0.enabled(record.metadata()) {
            return;
        }
        Python::attach(|py| {
            let prior = PyErr::take(py);
            self.0.log(record);
            if let Some(raised) = PyErr::take(py) {
                if COLLECTING.get() {
                    PENDING.with_borrow_mut(|p| {
                        p.get_or_insert(raised);
                    });
                } else {
                    raised.write_unraisable(py, None);
                }
            }
            if let Some(e) = prior {
                e.restore(py);
            }
        });
    }

    fn flush(&self) {}
}

/// Install `logger` (configured pyo3-log) as the process's `log` backend, wrapped as above.
pub fn install(logger: pyo3_log::Logger) {
    // Debug is pyo3-log's own top level; its per-target filters only ever lower it.
    if log::set_boxed_logger(Box::new(Catching(logger))).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
}

/// `py.detach(f)`, then raise whatever a Python log handler raised on this thread meanwhile.
pub fn detach<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: Ungil + FnOnce() -> T,
    T: Ungil,
{
    let outer = COLLECTING.replace(true);
    let out = py.detach(f);
    COLLECTING.set(outer);
    if !outer {
        if let Some(e) = PENDING.take() {
            return Err(e);
        }
    }
    Ok(out)
}
