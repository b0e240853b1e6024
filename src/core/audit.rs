//! Read-only probes of a Redis deployment's security posture, for `keyseal audit`.
//!
//! This module only observes: it sends raw commands (HELLO, AUTH probes with a short built-in
//! list, ACL WHOAMI/GETUSER/DRYRUN, CONFIG GET, SCAN with TYPE and COUNT, GETRANGE) and records
//! what the server answered. Judging the answers (severity, score, remediation) is policy and
//! lives in Python (`keyseal/audit.py`). Dangerous commands are checked without running them:
//! `ACL DRYRUN`, or queued inside `MULTI` and thrown away with `DISCARD`. Every command counts
//! against a rate limit so a production server is not hurt. No value, password or key material
//! ever leaves this module: sampled values are classified here and only counts and rule names
//! go out; `requirepass` is reported as set or empty.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ConnectionLike, IntoConnectionInfo,
    RedisConnectionInfo, RedisError, Value,
};

use crate::core::error::{CoreError, Result};
use crate::core::redact;
use crate::core::store::redis::tls_certificates;
use crate::core::store::url::{self, Options, StoreUrl, Target};

/// Passwords tried with `AUTH`: empty, redis.conf's example and the most common defaults. A
/// handful, never a brute force.
pub const WEAK_PASSWORDS: &[&str] = &[
    "", "foobared", "redis", "password", "123456", "admin", "default", "root", "changeme", "secret",
];

/// Settings read with `CONFIG GET`, one per call (Redis 6 takes one pattern at a time).
pub const CONFIG_KEYS: &[&str] = &[
    "protected-mode",
    "bind",
    "port",
    "tls-port",
    "tls-auth-clients",
    "tls-protocols",
    "requirepass",
    "appendonly",
    "save",
    "dir",
    "dbfilename",
    "appendfilename",
    "appenddirname",
    "enable-debug-command",
    "enable-module-command",
];

/// Dangerous commands, each with arguments that make a well-formed call (queued or dry-run,
/// never executed).
pub const DANGEROUS: &[(&str, &[&str])] = &[
    ("FLUSHALL", &[]),
    ("FLUSHDB", &[]),
    ("CONFIG", &["SET", "maxmemory-samples", "5"]),
    ("KEYS", &["*"]),
    ("DEBUG", &["SLEEP", "0"]),
    ("MODULE", &["LIST"]),
    ("SCRIPT", &["FLUSH"]),
    ("EVAL", &["return 1", "0"]),
    (
        "MIGRATE",
        &[
            "127.0.0.1",
            "1",
            "",
            "0",
            "1",
            "KEYS",
            "keyseal-audit-probe",
        ],
    ),
    ("REPLICAOF", &["NO", "ONE"]),
];

/// Values read for classification are cut here: secrets are short, and a huge value must not
/// cost the audit (or the server) much.
const VALUE_PEEK: usize = 64 * 1024;
const SCAN_COUNT: usize = 100;

/// How a probe went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it (for a dangerous command: the user may run it).
    Allowed,
    /// Refused by ACL (NOPERM) or authentication (NOAUTH/WRONGPASS).
    Denied,
    /// The command does not exist (renamed with `rename-command`, or disabled).
    Absent,
    /// We could not tell; the text says why (no secret in it).
    Unknown(String),
}

impl Outcome {
    pub fn label(&self) -> String {
        match self {
            Outcome::Allowed => "allowed".into(),
            Outcome::Denied => "denied".into(),
            Outcome::Absent => "absent".into(),
            Outcome::Unknown(why) => format!("unknown: {why}"),
        }
    }
}

/// What the sampled keys held. Counts and names of rules only, never values.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    pub scanned: u64,
    pub complete: bool,
    /// keyseal envelopes, by key id (8 hex digits).
    pub envelopes: BTreeMap<String, u64>,
    /// (key pattern, rule id) -> count of plaintext values the redaction catalogue flags.
    pub plaintext: BTreeMap<(String, String), u64>,
    /// key pattern -> count of non-envelope values under secret-looking names (`api_key:*`).
    pub names: BTreeMap<String, u64>,
    pub error: Option<String>,
}

/// Everything seen on one node.
#[derive(Debug, Default, Clone)]
pub struct NodeReport {
    pub addr: String,
    /// Could not connect or authenticate with the given credentials.
    pub error: Option<String>,
    /// HELLO 2 / PING on a connection that never authenticated.
    pub unauthenticated: Option<Outcome>,
    /// Password from WEAK_PASSWORDS that AUTH accepted (for `default` or the URL's user), by index.
    pub weak_password: Option<(String, usize)>,
    pub server_version: Option<String>,
    pub whoami: Option<String>,
    /// Flat fields of `ACL GETUSER <whoami>` (flags, commands, keys, channels), when allowed.
    pub user: BTreeMap<String, String>,
    pub user_error: Option<String>,
    /// Flags of the `default` user, when `ACL GETUSER default` is allowed.
    pub default_flags: Option<String>,
    /// `ACL USERS`, when allowed.
    pub users: Option<Vec<String>>,
    pub config: BTreeMap<String, String>,
    /// Settings CONFIG GET could not read, with the reason.
    pub config_denied: BTreeMap<String, String>,
    /// Dangerous command -> outcome, and the method used ("dryrun", "multi" or "none").
    pub commands: Vec<(String, Outcome)>,
    pub command_method: String,
    pub sample: Sample,
}

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub target: String,
    pub tls: bool,
    pub cluster: bool,
    pub cert_verified: bool,
    pub hostname_verified: bool,
    pub client_cert: bool,
    pub nodes: Vec<NodeReport>,
    pub ops: u64,
    pub elapsed: Duration,
}

/// Limits of one audit run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Keys to sample in all (SCAN stops there).
    pub sample: u64,
    /// Commands per second at most (0 = unlimited).
    pub rate: f64,
}

/// Paces commands: never more than `rate` per second on average since the start.
struct Pacer {
    rate: f64,
    start: Instant,
    ops: u64,
}

impl Pacer {
    fn take(&mut self, n: u64) {
        self.ops += n;
        if self.rate > 0.0 {
            let due = Duration::from_secs_f64(self.ops as f64 / self.rate);
            let spent = self.start.elapsed();
            if due > spent {
                std::thread::sleep(due - spent);
            }
        }
    }
}

static CLASSIFIER: LazyLock<redact::Redactor> = LazyLock::new(|| {
    redact::Redactor::new(redact::Config {
        use_global_known: false,
        ..redact::Config::default()
    })
    .expect("the built-in catalogue compiles")
});

/// A server reply, with error replies as data (they are what most probes are after).
enum Reply {
    Ok(Value),
    Err { code: String, detail: String },
}

fn reply(r: redis::RedisResult<Value>) -> std::result::Result<Reply, RedisError> {
    match r {
        Ok(Value::ServerError(e)) => Ok(Reply::Err {
            code: e.code().to_owned(),
            detail: e.details().unwrap_or_default().to_owned(),
        }),
        Ok(v) => Ok(Reply::Ok(v)),
        Err(e) if e.code().is_some() => Ok(Reply::Err {
            code: e.code().unwrap_or_default().to_owned(),
            detail: e.detail().unwrap_or_default().to_owned(),
        }),
        Err(e) => Err(e),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(i) => i.to_string(),
        Value::Array(items) | Value::Set(items) => {
            items.iter().map(text).collect::<Vec<_>>().join(" ")
        }
        Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

fn denied(code: &str) -> bool {
    matches!(code, "NOPERM" | "NOAUTH" | "WRONGPASS")
}

fn absent(code: &str, detail: &str) -> bool {
    code == "ERR" && (detail.contains("unknown command") || detail.contains("not found"))
}

struct Node<'a> {
    host: String,
    port: u16,
    url: &'a StoreUrl,
    opts: &'a Options,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Node<'_> {
    fn addr(&self) -> ConnectionAddr {
        if self.url.tls {
            let mut a = ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: self.opts.ssl_cert_reqs.as_deref() == Some("none"),
                tls_params: None,
            };
            if self.opts.ssl_check_hostname == Some(false) {
                a.set_danger_accept_invalid_hostnames(true);
            }
            a
        } else {
            ConnectionAddr::Tcp(self.host.clone(), self.port)
        }
    }

    /// A connection with the URL's credentials, or with none (`auth = false`).
    fn connect(&self, auth: bool) -> Result<Connection> {
        let mut settings = RedisConnectionInfo::default().set_skip_set_lib_name();
        if auth {
            if let Some(u) = self.opts.username.as_ref().or(self.url.username.as_ref()) {
                settings = settings.set_username(u);
            }
            if let Some(p) = self.opts.password.as_ref().or(self.url.password.as_ref()) {
                settings = settings.set_password(p.as_str());
            }
            settings = settings.set_db(self.url.db);
        }
        let info: ConnectionInfo = self
            .addr()
            .into_connection_info()
            .map_err(|e| {
                CoreError::config(format!("invalid connection settings: {}", e.category()))
            })?
            .set_redis_settings(settings);
        let mut client = if self.url.tls {
            Client::build_with_tls(info, tls_certificates(self.opts)?)
        } else {
            Client::open(info)
        }
        .map_err(|e| CoreError::config(format!("invalid connection settings: {}", e.category())))?;
        if self.url.tls && self.opts.ssl_check_hostname == Some(false) {
            // build_with_tls rebuilds the address: the hostname opt-out goes on afterwards.
            let info = client.get_connection_info().clone();
            let mut a = info.addr().clone();
            a.set_danger_accept_invalid_hostnames(true);
            client = Client::open(info.set_addr(a)).map_err(|e| {
                CoreError::config(format!("invalid connection settings: {}", e.category()))
            })?;
        }
        let conn = client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|e| self.store_err(&e))?;
        let _ = conn.set_read_timeout(Some(self.timeout));
        let _ = conn.set_write_timeout(Some(self.timeout));
        Ok(conn)
    }

    fn store_err(&self, e: &RedisError) -> CoreError {
        let kind = if e.is_timeout() {
            crate::core::StoreErrorKind::Timeout
        } else if matches!(e.code(), Some(c) if denied(c))
            || e.kind() == redis::ErrorKind::AuthenticationFailed
        {
            crate::core::StoreErrorKind::Auth
        } else {
            crate::core::StoreErrorKind::Connection
        };
        let mut msg = e.to_string();
        if let Some(p) = self
            .opts
            .password
            .as_ref()
            .or(self.url.password.as_ref())
            .filter(|p| !p.is_empty())
        {
            msg = msg.replace(p.as_str(), "[REDACTED]");
        }
        CoreError::store(kind, format!("{}:{}: {msg}", self.host, self.port))
    }
}

/// One raw command, paced.
fn run(
    conn: &mut Connection,
    pacer: &mut Pacer,
    args: &[&[u8]],
) -> std::result::Result<Reply, RedisError> {
    pacer.take(1);
    let mut cmd = redis::Cmd::new();
    for a in args {
        cmd.arg(*a);
    }
    reply(conn.req_packed_command(&cmd.get_packed_command()))
}

fn run_s(
    conn: &mut Connection,
    pacer: &mut Pacer,
    args: &[&str],
) -> std::result::Result<Reply, RedisError> {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    run(conn, pacer, &bytes)
}

fn io_text(e: &RedisError) -> String {
    format!("connection failed ({})", e.category())
}

/// HELLO 2 (or PING where HELLO is missing) without credentials; then AUTH with weak passwords.
fn probe_unauthenticated(node: &Node<'_>, pacer: &mut Pacer, report: &mut NodeReport) {
    let mut conn = match node.connect(false) {
        Ok(c) => c,
        Err(e) => {
            report.unauthenticated = Some(Outcome::Unknown(e.to_string()));
            return;
        }
    };
    let outcome = match run_s(&mut conn, pacer, &["HELLO", "2"]) {
        Ok(Reply::Ok(v)) => {
            if let Value::Array(items) = &v {
                for pair in items.chunks(2) {
                    if let [k, val] = pair {
                        if text(k) == "version" {
                            report.server_version = Some(text(val));
                        }
                    }
                }
            }
            Outcome::Allowed
        }
        Ok(Reply::Err { code, detail }) if code == "NOAUTH" || detail.contains("authenticated") => {
            Outcome::Denied
        }
        Ok(Reply::Err { .. }) => match run_s(&mut conn, pacer, &["PING"]) {
            Ok(Reply::Ok(_)) => Outcome::Allowed,
            Ok(Reply::Err { code, .. }) if denied(&code) => Outcome::Denied,
            Ok(Reply::Err { code, .. }) => Outcome::Unknown(format!("PING: {code}")),
            Err(e) => Outcome::Unknown(io_text(&e)),
        },
        Err(e) => Outcome::Unknown(io_text(&e)),
    };
    report.unauthenticated = Some(outcome.clone());
    if outcome != Outcome::Denied {
        return;
    }
    let mut users = vec!["default".to_owned()];
    if let Some(u) = node.opts.username.as_ref().or(node.url.username.as_ref()) {
        if u != "default" {
            users.push(u.clone());
        }
    }
    for user in &users {
        for (i, pw) in WEAK_PASSWORDS.iter().enumerate() {
            match run_s(&mut conn, pacer, &["AUTH", user, pw]) {
                Ok(Reply::Ok(_)) => {
                    report.weak_password = Some((user.clone(), i));
                    return;
                }
                Ok(Reply::Err { .. }) => {}
                Err(_) => {
                    // Some servers close the connection after failed AUTHs: start again.
                    match node.connect(false) {
                        Ok(c) => conn = c,
                        Err(_) => return,
                    }
                }
            }
        }
    }
}

fn probe_acl(conn: &mut Connection, pacer: &mut Pacer, report: &mut NodeReport) {
    match run_s(conn, pacer, &["ACL", "WHOAMI"]) {
        Ok(Reply::Ok(v)) => report.whoami = Some(text(&v)),
        Ok(Reply::Err { code, .. }) => report.user_error = Some(format!("ACL WHOAMI: {code}")),
        Err(e) => report.user_error = Some(io_text(&e)),
    }
    let me = report.whoami.clone().unwrap_or_else(|| "default".into());
    match run_s(conn, pacer, &["ACL", "GETUSER", &me]) {
        Ok(Reply::Ok(Value::Array(items))) => {
            for pair in items.chunks(2) {
                if let [k, v] = pair {
                    let key = text(k);
                    // Password hashes stay on the server; their count is enough.
                    let value = if key == "passwords" {
                        match v {
                            Value::Array(p) => p.len().to_string(),
                            _ => "0".into(),
                        }
                    } else if key == "selectors" {
                        continue;
                    } else {
                        text(v)
                    };
                    report.user.insert(key, value);
                }
            }
        }
        Ok(Reply::Ok(_)) => {}
        Ok(Reply::Err { code, .. }) => {
            report
                .user_error
                .get_or_insert(format!("ACL GETUSER: {code}"));
        }
        Err(e) => {
            report.user_error.get_or_insert(io_text(&e));
        }
    }
    if let Ok(Reply::Ok(Value::Array(items))) = run_s(conn, pacer, &["ACL", "GETUSER", "default"]) {
        for pair in items.chunks(2) {
            if let [k, v] = pair {
                if text(k) == "flags" {
                    report.default_flags = Some(text(v));
                }
            }
        }
    }
    if let Ok(Reply::Ok(v)) = run_s(conn, pacer, &["ACL", "USERS"]) {
        report.users = Some(match v {
            Value::Array(items) => items.iter().map(text).collect(),
            other => vec![text(&other)],
        });
    }
}

fn probe_config(conn: &mut Connection, pacer: &mut Pacer, report: &mut NodeReport) {
    for key in CONFIG_KEYS {
        match run_s(conn, pacer, &["CONFIG", "GET", key]) {
            Ok(Reply::Ok(v)) => {
                let items: Vec<String> = match &v {
                    Value::Array(items) => items.iter().map(text).collect(),
                    Value::Map(pairs) => {
                        pairs.iter().flat_map(|(k, v)| [text(k), text(v)]).collect()
                    }
                    _ => vec![],
                };
                if let [_, value] = items.as_slice() {
                    let shown = if *key == "requirepass" {
                        // The password itself never leaves: set or not is the finding.
                        if value.is_empty() { "" } else { "(set)" }.to_owned()
                    } else {
                        value.clone()
                    };
                    report.config.insert((*key).to_owned(), shown);
                }
                // An empty reply: a setting this server version does not have.
            }
            Ok(Reply::Err { code, detail }) => {
                let why = if denied(&code) {
                    "denied".to_owned()
                } else if absent(&code, &detail) {
                    "CONFIG is renamed or disabled".to_owned()
                } else {
                    code
                };
                report.config_denied.insert((*key).to_owned(), why);
            }
            Err(e) => {
                report.config_denied.insert((*key).to_owned(), io_text(&e));
            }
        }
    }
}

fn probe_commands(conn: &mut Connection, pacer: &mut Pacer, report: &mut NodeReport) {
    let me = report.whoami.clone().unwrap_or_else(|| "default".into());
    // ACL DRYRUN (Redis >= 7) answers for the user without running anything.
    let mut method = "dryrun";
    for (name, args) in DANGEROUS {
        let outcome = if method == "dryrun" {
            let mut full = vec!["ACL", "DRYRUN", me.as_str(), name];
            full.extend_from_slice(args);
            match run_s(conn, pacer, &full) {
                Ok(Reply::Ok(Value::Okay)) => Some(Outcome::Allowed),
                Ok(Reply::Ok(v)) if text(&v) == "OK" => Some(Outcome::Allowed),
                Ok(Reply::Ok(_)) => Some(Outcome::Denied), // a text saying why it would be refused
                // "Command 'X' not found": renamed away or disabled. Redis 6 (no DRYRUN)
                // answers "unknown subcommand" instead, and we fall back to MULTI below.
                Ok(Reply::Err { code, detail })
                    if code == "ERR" && detail.contains("not found") =>
                {
                    Some(Outcome::Absent)
                }
                Ok(Reply::Err { .. }) => {
                    method = "multi";
                    None
                }
                Err(e) => Some(Outcome::Unknown(io_text(&e))),
            }
        } else {
            None
        };
        let outcome = match outcome {
            Some(o) => o,
            None => probe_in_multi(conn, pacer, name, args, &mut method),
        };
        report.commands.push(((*name).to_owned(), outcome));
    }
    report.command_method = method.to_owned();
}

/// Queue the command inside MULTI and DISCARD it: the reply to the queued command tells whether
/// the ACL allows it (QUEUED) or not (NOPERM), and whether it exists at all.
fn probe_in_multi(
    conn: &mut Connection,
    pacer: &mut Pacer,
    name: &str,
    args: &[&str],
    method: &mut &str,
) -> Outcome {
    if *method == "none" {
        return Outcome::Unknown("neither ACL DRYRUN nor MULTI is allowed for this user".into());
    }
    match run_s(conn, pacer, &["MULTI"]) {
        Ok(Reply::Ok(_)) => {}
        Ok(Reply::Err { .. }) => {
            *method = "none";
            return Outcome::Unknown(
                "neither ACL DRYRUN nor MULTI is allowed for this user".into(),
            );
        }
        Err(e) => return Outcome::Unknown(io_text(&e)),
    }
    let mut full = vec![name];
    full.extend_from_slice(args);
    let outcome = match run_s(conn, pacer, &full) {
        Ok(Reply::Ok(_)) => Outcome::Allowed,
        Ok(Reply::Err { code, .. }) if denied(&code) => Outcome::Denied,
        Ok(Reply::Err { code, detail }) if absent(&code, &detail) => Outcome::Absent,
        // MOVED/ASK: the ACL check passed before the cluster redirect.
        Ok(Reply::Err { code, .. }) if code == "MOVED" || code == "ASK" => Outcome::Allowed,
        Ok(Reply::Err { detail, .. }) if detail.contains("not allowed") => Outcome::Absent,
        Ok(Reply::Err { code, .. }) => Outcome::Unknown(format!("{name}: {code}")),
        Err(e) => Outcome::Unknown(io_text(&e)),
    };
    let _ = run_s(conn, pacer, &["DISCARD"]);
    outcome
}

/// The key's name up to and including its first separator, then `*`: `api_key:alice` ->
/// `api_key:*`. Whatever identifies a record stays out of the report.
pub fn key_pattern(key: &[u8]) -> String {
    let name = String::from_utf8_lossy(key);
    let cut = name.find([':', '/', '|', '.', '#']);
    let pattern = match cut {
        Some(i) => format!("{}*", &name[..=i]),
        None if name.chars().count() > 24 => "*".to_owned(),
        None => name.into_owned(),
    };
    CLASSIFIER.redact_str(&pattern).into_owned()
}

static SECRET_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)(api[_\-.]?keys?|secrets?|tokens?|passw(or)?ds?|credentials?|private[_\-.]?keys?|auth)([:/|._#-]|$)",
    )
    .expect("valid regex")
});

/// Whether a key name looks like it holds a secret (`api_key:*`, `secret:*`, `token:*`...).
pub fn secret_looking_name(key: &[u8]) -> bool {
    SECRET_NAME.is_match(&String::from_utf8_lossy(key))
}

fn is_envelope(v: &[u8]) -> bool {
    v.len() >= 35 && v.starts_with(b"KS\x01")
}

fn classify(key: &[u8], value: &[u8], sample: &mut Sample) {
    sample.scanned += 1;
    if is_envelope(value) {
        let id: String = value[3..7].iter().map(|b| format!("{b:02x}")).collect();
        *sample.envelopes.entry(id).or_default() += 1;
        return;
    }
    let pattern = key_pattern(key);
    let mut kinds: Vec<String> = CLASSIFIER
        .scan(value)
        .into_iter()
        .map(|f| f.rule.to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        *sample.plaintext.entry((pattern.clone(), kind)).or_default() += 1;
    }
    if secret_looking_name(key) {
        *sample.names.entry(pattern).or_default() += 1;
    }
}

/// Sample up to `budget` keys; `progress` hears the running total (`before` + this node's) after
/// every batch and may stop the audit by returning an error.
fn probe_sample(
    conn: &mut Connection,
    pacer: &mut Pacer,
    budget: u64,
    sample: &mut Sample,
    before: u64,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<()> {
    let mut cursor = "0".to_owned();
    let mut use_getrange = true;
    let count = SCAN_COUNT.to_string();
    loop {
        let keys: Vec<Vec<u8>> = match run_s(
            conn,
            pacer,
            &["SCAN", &cursor, "COUNT", &count, "TYPE", "string"],
        ) {
            Ok(Reply::Ok(Value::Array(parts))) if parts.len() == 2 => {
                cursor = text(&parts[0]);
                match &parts[1] {
                    Value::Array(ks) => ks
                        .iter()
                        .filter_map(|k| match k {
                            Value::BulkString(b) => Some(b.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => vec![],
                }
            }
            Ok(Reply::Ok(_)) => {
                sample.error = Some("SCAN: unexpected reply".into());
                return Ok(());
            }
            Ok(Reply::Err { code, .. }) => {
                sample.error = Some(format!("SCAN: {code}"));
                return Ok(());
            }
            Err(e) => {
                sample.error = Some(io_text(&e));
                return Ok(());
            }
        };
        let room = budget.saturating_sub(sample.scanned) as usize;
        let cut = keys.len() > room;
        let keys = &keys[..keys.len().min(room)];
        if !keys.is_empty() {
            let values = match read_values(conn, pacer, keys, &mut use_getrange) {
                Ok(v) => v,
                Err(why) => {
                    sample.error = Some(why);
                    return Ok(());
                }
            };
            for (k, v) in keys.iter().zip(values) {
                if let Some(v) = v {
                    classify(k, &v, sample);
                }
            }
            progress(before + sample.scanned)?;
        }
        if cursor == "0" {
            // Complete only if this last batch was not cut short by the budget.
            sample.complete = !cut;
            return Ok(());
        }
        if sample.scanned >= budget {
            return Ok(());
        }
    }
}

/// The first VALUE_PEEK bytes of each key (GETRANGE; GET when the user may only GET).
fn read_values(
    conn: &mut Connection,
    pacer: &mut Pacer,
    keys: &[Vec<u8>],
    use_getrange: &mut bool,
) -> std::result::Result<Vec<Option<Vec<u8>>>, String> {
    let end = (VALUE_PEEK - 1).to_string();
    loop {
        let mut pipe = redis::pipe();
        for k in keys {
            if *use_getrange {
                pipe.cmd("GETRANGE").arg(k).arg(0).arg(&end);
            } else {
                pipe.cmd("GET").arg(k);
            }
        }
        pacer.take(keys.len() as u64);
        let replies = conn
            .req_packed_commands(&pipe.get_packed_pipeline(), 0, keys.len())
            .map_err(|e| io_text(&e))?;
        let denied_range = replies.iter().any(|r| {
            matches!(r, Value::ServerError(e) if denied(e.code()) || absent(e.code(), e.details().unwrap_or("")))
        });
        if denied_range && *use_getrange {
            *use_getrange = false;
            continue;
        }
        return Ok(replies
            .into_iter()
            .map(|r| match r {
                Value::BulkString(mut b) => {
                    b.truncate(VALUE_PEEK);
                    Some(b)
                }
                _ => None,
            })
            .collect());
    }
}

/// Masters of a cluster from `CLUSTER SLOTS`, when the user may ask.
fn cluster_masters(conn: &mut Connection, pacer: &mut Pacer) -> Vec<(String, u16)> {
    let mut out = vec![];
    if let Ok(Reply::Ok(Value::Array(ranges))) = run_s(conn, pacer, &["CLUSTER", "SLOTS"]) {
        for r in ranges {
            if let Value::Array(parts) = r {
                if let Some(Value::Array(master)) = parts.get(2) {
                    if let (Some(h), Some(Value::Int(p))) = (master.first(), master.get(1)) {
                        let host = text(h);
                        if let Ok(port) = u16::try_from(*p) {
                            if !host.is_empty() && !out.contains(&(host.clone(), port)) {
                                out.push((host, port));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Audit the deployment behind `url_text` with the Vault's connection options.
pub fn audit(
    url_text: &str,
    opts: &Options,
    limits: &Limits,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<Report> {
    let parsed = url::parse(url_text)?;
    let mut checked = opts.clone();
    // An audit reads; a plaintext connection to a remote host is itself a finding, not a refusal.
    checked.allow_plaintext = true;
    url::check_security(&parsed, &checked)?;
    let seeds: Vec<(String, u16)> = match &parsed.target {
        Target::Tcp { host, port } => vec![(host.clone(), *port)],
        Target::Cluster { nodes } => nodes.clone(),
        Target::Unix { .. } | Target::Memory { .. } => {
            return Err(CoreError::config(
                "audit needs a redis://, rediss:// or cluster URL (not unix:// or memory://)",
            ))
        }
    };
    let cluster = matches!(parsed.target, Target::Cluster { .. });
    let start = Instant::now();
    let mut pacer = Pacer {
        rate: limits.rate,
        start,
        ops: 0,
    };
    let mut report = Report {
        target: url::display(url_text),
        tls: parsed.tls,
        cluster,
        cert_verified: parsed.tls && opts.ssl_cert_reqs.as_deref() != Some("none"),
        hostname_verified: parsed.tls && opts.ssl_check_hostname != Some(false),
        client_cert: opts.ssl_certfile.is_some(),
        ..Report::default()
    };
    let mut queue = seeds;
    let mut i = 0;
    let mut budget = limits.sample;
    while i < queue.len() {
        let (host, port) = queue[i].clone();
        i += 1;
        let node = Node {
            host: host.clone(),
            port,
            url: &parsed,
            opts,
            timeout: opts.socket_timeout.unwrap_or(Duration::from_secs(5)),
            connect_timeout: opts
                .socket_connect_timeout
                .unwrap_or(Duration::from_secs(2)),
        };
        let mut nr = NodeReport {
            addr: format!("{host}:{port}"),
            ..NodeReport::default()
        };
        probe_unauthenticated(&node, &mut pacer, &mut nr);
        match node.connect(true) {
            Ok(mut conn) => {
                probe_acl(&mut conn, &mut pacer, &mut nr);
                probe_config(&mut conn, &mut pacer, &mut nr);
                probe_commands(&mut conn, &mut pacer, &mut nr);
                if cluster && i == 1 {
                    for m in cluster_masters(&mut conn, &mut pacer) {
                        if !queue.contains(&m) {
                            queue.push(m);
                        }
                    }
                }
                let before = limits.sample - budget;
                probe_sample(
                    &mut conn,
                    &mut pacer,
                    budget,
                    &mut nr.sample,
                    before,
                    progress,
                )?;
                budget = budget.saturating_sub(nr.sample.scanned);
            }
            Err(e) => nr.error = Some(e.to_string()),
        }
        report.nodes.push(nr);
    }
    if report.nodes.iter().all(|n| n.error.is_some()) {
        let first = report.nodes.first().and_then(|n| n.error.clone());
        return Err(CoreError::store(
            crate::core::StoreErrorKind::Connection,
            first.unwrap_or_else(|| "no node reachable".into()),
        ));
    }
    report.ops = pacer.ops;
    report.elapsed = start.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_patterns_hide_the_record() {
        assert_eq!(key_pattern(b"api_key:alice"), "api_key:*");
        assert_eq!(key_pattern(b"session/abc/def"), "session/*");
        assert_eq!(key_pattern(b"counter"), "counter");
        assert_eq!(key_pattern(b"a-very-long-name-without-any-separator"), "*");
    }

    #[test]
    fn secret_looking_names() {
        for k in [
            &b"api_key:1"[..],
            b"secret:x",
            b"token:abc",
            b"user:1:password",
            b"APIKEY/9",
        ] {
            assert!(secret_looking_name(k), "{k:?}");
        }
        for k in [&b"session:1"[..], b"counter", b"cache:page:/"] {
            assert!(!secret_looking_name(k), "{k:?}");
        }
    }

    #[test]
    fn classify_counts_envelopes_and_flags_plaintext() {
        let mut s = Sample::default();
        let mut env = b"KS\x01\xaa\xbb\xcc\xdd".to_vec();
        env.extend([0u8; 40]);
        classify(b"ks:ns:x", &env, &mut s);
        // A made-up Stripe-shaped key: plaintext that looks like a secret.
        classify(b"api_key:bob", b"sk_live_51H8xYzAbCdEfGhIjKlMnOpQr", &mut s);
        classify(b"page:1", b"<html>hello</html>", &mut s);
        assert_eq!(s.scanned, 3);
        assert_eq!(s.envelopes.get("aabbccdd"), Some(&1));
        assert_eq!(s.names.get("api_key:*"), Some(&1));
        assert!(s.plaintext.keys().all(|(p, _)| p == "api_key:*"));
        assert!(!s.plaintext.is_empty());
    }

    #[test]
    fn pacer_keeps_the_rate() {
        let mut p = Pacer {
            rate: 200.0,
            start: Instant::now(),
            ops: 0,
        };
        for _ in 0..20 {
            p.take(1);
        }
        assert!(p.start.elapsed() >= Duration::from_millis(95));
    }
}
