//! keyseal: sealed secrets in Redis for Python web apps. This file is only the module tree.
pub mod core;
mod py;
