//! Redis behind the Vault: one client per Vault, shared by every thread and task.
//!
//! Blocking calls use a small pool of plain connections driven on the caller's thread (the GIL is
//! released by the binding), which costs no thread hop per command. Async calls use the crate's
//! `ConnectionManager`, which multiplexes and reconnects by itself. A cluster goes through the async
//! cluster client for both (blocking calls wait on the runtime): cluster pipelines cannot span slots,
//! so multi-key work is fanned out as concurrent single-key commands.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Client, ClientTlsConfig, Cmd, Connection, ConnectionAddr, ConnectionInfo, ConnectionLike,
    ErrorKind, FromRedisValue, IntoConnectionInfo, Pipeline, RedisConnectionInfo, RedisError,
    TlsCertificates, Value,
};
use tokio::sync::OnceCell;

use super::url::{Options, StoreUrl, Target};
use super::{Expiry, ScanState, Swap, Ttl};
use crate::core::error::{CoreError, Result, StoreErrorKind};
use crate::core::runtime::{block_on, ForkLocal};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_IDLE: usize = 16;

/// Replace a value only if it is still the one we read, keeping its TTL. This is how `rewrap` stays
/// safe against writers that race it: a newer value is never overwritten with an older one.
const SWAP_SCRIPT: &str = "if redis.call('GETRANGE', KEYS[1], 0, -1) == ARGV[1] then \
     redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0";

/// `SWAP_SCRIPT`, then the key's remaining lifetime capped at ARGV[3] ms (PTTL -1: no expiry yet).
const SWAP_CAPPED_SCRIPT: &str =
    "if redis.call('GETRANGE', KEYS[1], 0, -1) ~= ARGV[1] then return 0 end \
     redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') \
     local t = redis.call('PTTL', KEYS[1]) \
     if t < 0 or t > tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end return 1";

/// Pooled connections older than this unused are closed rather than reused: NAT tables, proxies
/// and Redis's own `timeout` drop idle connections, and a dead one costs a failed request (then a
/// retry) or, if the peer vanished silently, a full `socket_timeout`.
const MAX_IDLE_AGE: Duration = Duration::from_secs(60);

/// The connections of one process (see [`ForkLocal`]): a forked child never touches its parent's.
#[derive(Default)]
struct SingleConns {
    idle: Mutex<Vec<(Connection, Instant)>>,
    manager: OnceCell<ConnectionManager>,
}

enum Backend {
    Single {
        client: Client,
        conns: ForkLocal<SingleConns>,
    },
    Cluster {
        client: ClusterClient,
        conn: ForkLocal<OnceCell<ClusterConnection>>,
    },
}

pub struct RedisStore {
    backend: Backend,
    connect_timeout: Duration,
    socket_timeout: Duration,
    max_idle: usize,
    /// [`MAX_IDLE_AGE`]; a field so the unit tests can shorten it.
    max_idle_age: Duration,
    /// Scrubbed out of any error text, in case a server or library ever echoes it.
    password: Option<zeroize::Zeroizing<String>>,
    where_: String,
}

fn read_pem(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CoreError::config(format!("cannot read {what} {}: {e}", path.display())))
}

/// The CA, client certificate and key files named in `opts`, read for the redis crate (also used
/// by the audit's own connections).
pub(crate) fn tls_certificates(opts: &Options) -> Result<TlsCertificates> {
    let root_cert = opts
        .ssl_ca_certs
        .as_deref()
        .map(|p| read_pem(p, "ssl_ca_certs"))
        .transpose()?;
    let client_tls = match (&opts.ssl_certfile, &opts.ssl_keyfile) {
        (Some(c), Some(k)) => Some(ClientTlsConfig {
            client_cert: read_pem(c, "ssl_certfile")?,
            client_key: read_pem(k, "ssl_keyfile")?,
        }),
        _ => None,
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

fn redis_settings(url: &StoreUrl, opts: &Options) -> RedisConnectionInfo {
    // No CLIENT SETINFO on connect: it costs a round trip per new connection, needs an ACL
    // permission of its own, and against a server that accepts but never answers each of its two
    // replies waited a full connect timeout (the sync reader times out reply by reply).
    let mut r = RedisConnectionInfo::default()
        .set_db(url.db)
        .set_skip_set_lib_name();
    if let Some(u) = opts.username.as_ref().or(url.username.as_ref()) {
        r = r.set_username(u);
    }
    if let Some(p) = opts.password.as_ref().or(url.password.as_ref()) {
        r = r.set_password(p.as_str());
    }
    r
}

impl RedisStore {
    pub fn open(url: &StoreUrl, opts: &Options) -> Result<Self> {
        let insecure = opts.ssl_cert_reqs.as_deref() == Some("none");
        let password = opts.password.clone().or_else(|| url.password.clone());
        let settings = redis_settings(url, opts);
        let skip_hostname = opts.ssl_check_hostname == Some(false);
        let addr = |host: &str, port: u16| {
            if url.tls {
                let mut a = ConnectionAddr::TcpTls {
                    host: host.to_owned(),
                    port,
                    insecure,
                    tls_params: None,
                };
                if insecure {
                    // docs/redis.md promises a warning for each opt-out, not only the hostname one.
                    log::warn!(
                        "TLS certificate checks are off for {host}:{port} (ssl_cert_reqs=\"none\")"
                    );
                }
                if skip_hostname {
                    log::warn!(
                        "TLS hostname checks are off for {host}:{port} (ssl_check_hostname=False)"
                    );
                    a.set_danger_accept_invalid_hostnames(true);
                }
                a
            } else {
                ConnectionAddr::Tcp(host.to_owned(), port)
            }
        };
        let info = |a: ConnectionAddr| -> Result<ConnectionInfo> {
            Ok(a.into_connection_info()
                .map_err(|e| config_err(&e))?
                .set_redis_settings(settings.clone())
                // Request/response traffic: Nagle's algorithm only adds latency, most of all
                // when TLS splits a command into records.
                .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true)))
        };
        let connect_timeout = opts
            .socket_connect_timeout
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let socket_timeout = opts.socket_timeout.unwrap_or(DEFAULT_SOCKET_TIMEOUT);
        let (backend, where_) = match &url.target {
            Target::Tcp { host, port } => {
                let ci = info(addr(host, *port))?;
                let mut client = if url.tls {
                    Client::build_with_tls(ci, tls_certificates(opts)?)
                } else {
                    Client::open(ci)
                }
                .map_err(|e| config_err(&e))?;
                if url.tls && skip_hostname {
                    // build_with_tls replaces the address's TLS parameters, so the hostname
                    // opt-out has to be applied to the finished client's address.
                    let info = client.get_connection_info().clone();
                    let mut a = info.addr().clone();
                    a.set_danger_accept_invalid_hostnames(true);
                    client = Client::open(info.set_addr(a)).map_err(|e| config_err(&e))?;
                }
                (single(client), format!("{host}:{port}"))
            }
            Target::Unix { path } => {
                let client = Client::open(info(ConnectionAddr::Unix(path.clone()))?)
                    .map_err(|e| config_err(&e))?;
                (single(client), path.display().to_string())
            }
            Target::Cluster { nodes } => {
                let infos = nodes
                    .iter()
                    .map(|(h, p)| info(addr(h, *p)))
                    .collect::<Result<Vec<_>>>()?;
                let mut b = ClusterClientBuilder::new(infos)
                    .connection_timeout(connect_timeout)
                    // Each attempt gets half the socket_timeout and the whole request (retries,
                    // reconnects, redirects) all of it: after a node restart the client may send
                    // on the old, dead connection while it repairs it, and that attempt never
                    // gets an answer. It now times out at half and is retried on the repaired
                    // connection; a silent server still costs one socket_timeout in all.
                    .response_timeout(socket_timeout / 2)
                    .overall_response_timeout(Some(socket_timeout))
                    .retries(2)
                    // The crate waits at least 1.28 s before a retry by default: longer than a
                    // 1 s socket_timeout, so the first call after a node restart timed out instead
                    // of succeeding on the reconnected node. 20-500 ms, as on a single server.
                    .min_retry_wait(20)
                    .max_retry_wait(500);
                if url.tls {
                    // The builder's own TLS settings win over the seed addresses' for every node
                    // it discovers: the opt-outs have to be repeated here (certs() alone means
                    // Secure, with the system roots when no CA is given).
                    if insecure {
                        b = b.tls(redis::TlsMode::Insecure);
                    }
                    if skip_hostname {
                        b = b.danger_accept_invalid_hostnames(true);
                    }
                    b = b.certs(tls_certificates(opts)?);
                }
                let client = b.build().map_err(|e| config_err(&e))?;
                let seeds: Vec<String> = nodes.iter().map(|(h, p)| format!("{h}:{p}")).collect();
                (
                    Backend::Cluster {
                        client,
                        conn: ForkLocal::new(),
                    },
                    format!("cluster {}", seeds.join(",")),
                )
            }
            Target::Memory { .. } => unreachable!("memory:// never reaches the Redis store"),
        };
        Ok(Self {
            backend,
            connect_timeout,
            socket_timeout,
            max_idle: opts.max_idle_connections.unwrap_or(DEFAULT_MAX_IDLE),
            max_idle_age: MAX_IDLE_AGE,
            password,
            where_,
        })
    }

    fn err(&self, e: &RedisError) -> CoreError {
        if e.kind() == ErrorKind::InvalidClientConfig {
            return config_err(e);
        }
        // Our reads only ever meet another type when someone replaced a sealed value.
        if has_code(e, |c| c == "WRONGTYPE") {
            return CoreError::Decryption;
        }
        let kind = classify(e);
        let mut text = e.to_string();
        if let Some(p) = self.password.as_ref().filter(|p| !p.is_empty()) {
            text = text.replace(p.as_str(), "[REDACTED]");
        }
        let what = match kind {
            StoreErrorKind::Connection => "connection to Redis failed",
            StoreErrorKind::Auth => "Redis refused the credentials or the command",
            StoreErrorKind::Timeout => "Redis did not answer in time",
            StoreErrorKind::Server => "Redis returned an error",
        };
        CoreError::store(kind, format!("{what} ({}): {text}", self.where_))
    }

    /// The client for these settings, shared with every other Vault in the process that uses the
    /// same ones (Django, for one, builds a cache object per thread). It closes when the last Vault
    /// using it closes or is dropped.
    pub fn shared(url: &StoreUrl, opts: &Options) -> Result<Arc<Self>> {
        static CLIENTS: LazyLock<Mutex<HashMap<Vec<u8>, Weak<RedisStore>>>> =
            LazyLock::new(Default::default);
        let key = registry_key(url, opts);
        let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = clients.get(&key).and_then(Weak::upgrade) {
            return Ok(store);
        }
        clients.retain(|_, w| w.strong_count() > 0);
        let store = Arc::new(Self::open(url, opts)?);
        clients.insert(key, Arc::downgrade(&store));
        Ok(store)
    }

    // ---- blocking path -------------------------------------------------------------------------

    fn connect(&self, client: &Client) -> Result<Connection> {
        let conn = client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|e| self.err(&e))?;
        log::debug!("opened a Redis connection to {}", self.where_);
        conn.set_read_timeout(Some(self.socket_timeout))
            .map_err(|e| self.err(&e))?;
        conn.set_write_timeout(Some(self.socket_timeout))
            .map_err(|e| self.err(&e))?;
        Ok(conn)
    }

    /// A pooled connection young enough to trust (see [`MAX_IDLE_AGE`]), if any. Older ones are
    /// dropped, which closes them.
    fn pooled(&self, idle: &Mutex<Vec<(Connection, Instant)>>) -> Option<Connection> {
        let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < self.max_idle_age {
                return Some(conn);
            }
        }
        None
    }

    /// Run `pipe` on a pooled connection. A pooled connection may have died since it was last used
    /// (a server restart, an idle timeout): when it fails as dead connections do (reset, broken
    /// pipe, end of stream) we drop the idle pool and try once more on a fresh connection. Every
    /// command we send is safe to repeat. A timeout is not retried: the server is there but silent,
    /// and a second try would double the documented bound of one `socket_timeout`.
    fn run<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T> {
        let (client, idle) = match &self.backend {
            Backend::Single { client, conns } => {
                (client, &conns.get_or_init(Default::default).idle)
            }
            Backend::Cluster { .. } => return block_on(self.arun(pipe)),
        };
        let pooled = self.pooled(idle);
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect(client)?,
        };
        let result = pipe.query::<T>(&mut FailFast(&mut conn));
        let result = match result {
            Err(e) if reused && is_broken(&e) && !e.is_timeout() => {
                log::info!(
                    "a pooled Redis connection to {} broke ({}); retrying on a fresh one",
                    self.where_,
                    e.category()
                );
                idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
                conn = self.connect(client)?;
                pipe.query::<T>(&mut FailFast(&mut conn))
            }
            other => other,
        };
        match result {
            Ok(v) => {
                self.release(idle, conn);
                Ok(v)
            }
            Err(e) => {
                if !is_broken(&e) {
                    self.release(idle, conn);
                }
                Err(self.err(&e))
            }
        }
    }

    fn release(&self, idle: &Mutex<Vec<(Connection, Instant)>>, conn: Connection) {
        let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push((conn, Instant::now()));
        }
    }

    // ---- async path ----------------------------------------------------------------------------

    async fn manager(&self) -> Result<ConnectionManager> {
        let Backend::Single { client, conns } = &self.backend else {
            unreachable!()
        };
        let m = conns
            .get_or_init(Default::default)
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.socket_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                let m = ConnectionManager::new_with_config(client.clone(), config).await?;
                log::debug!("opened an async Redis connection to {}", self.where_);
                Ok::<_, RedisError>(m)
            })
            .await
            .map_err(|e| self.err(&e))?;
        Ok(m.clone())
    }

    async fn cluster(&self) -> Result<ClusterConnection> {
        let Backend::Cluster { client, conn } = &self.backend else {
            unreachable!()
        };
        let c = conn
            .get_or_init(OnceCell::new)
            .get_or_try_init(|| client.get_async_connection())
            .await
            .map_err(|e| self.err(&e))?;
        Ok(c.clone())
    }

    /// Run a pipeline. On a cluster the pipeline's commands may live on different nodes, so each
    /// runs as its own request, all at once; results come back in order like a pipeline's.
    async fn arun<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T> {
        match &self.backend {
            Backend::Single { .. } => {
                let mut m = self.manager().await?;
                match pipe.query_async::<T>(&mut m).await {
                    // The multiplexed connection was found dead (the server or a proxy closed it
                    // while idle): the manager reconnects on its own; go once more on the new one.
                    Err(e) if is_dead_connection(&e) => {
                        log::info!(
                            "the Redis connection to {} was closed ({}); retrying on a fresh one",
                            self.where_,
                            e.category()
                        );
                        pipe.query_async::<T>(&mut m)
                            .await
                            .map_err(|e| self.err(&e))
                    }
                    other => other.map_err(|e| self.err(&e)),
                }
            }
            Backend::Cluster { .. } => {
                let conn = self.cluster().await?;
                let send = || {
                    try_join_all(pipe.cmd_iter().map(|cmd| {
                        let mut c = conn.clone();
                        async move { cmd.query_async::<Value>(&mut c).await }
                    }))
                };
                let values = match send().await {
                    // A node's connection died while idle (a restart): the cluster client
                    // reconnects on its own, so go once more, as on a single server. Every
                    // command we send is safe to repeat.
                    // Only a connection that was open and died (broken pipe, reset): while a
                    // node is down (refused) or slow (timeout) a retry would only double the wait.
                    Err(e) if is_dead_connection(&e) && !e.is_connection_refusal() => {
                        log::info!(
                            "a Redis cluster connection ({}) was closed ({}); retrying",
                            self.where_,
                            e.category()
                        );
                        send().await
                    }
                    other => other,
                }
                .map_err(|e| self.err(&e))?;
                T::from_redis_value(Value::Array(values))
                    .map_err(|e| self.err(&RedisError::from(e)))
            }
        }
    }

    // ---- operations ----------------------------------------------------------------------------

    pub fn set_many(&self, items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Result<()> {
        self.run::<()>(&set_pipe(items, expiry))
    }
    pub async fn aset_many(&self, items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Result<()> {
        self.arun::<()>(&set_pipe(items, expiry)).await
    }

    /// Values for `keys`, `None` where absent, read with `GETRANGE key 0 max_len`: a value larger
    /// than we could have written (someone else's, under our key) costs at most `max_len + 1` bytes
    /// of memory and traffic, never its whole size. A key that holds another Redis type is
    /// tampering, not absence: GETRANGE reports it (WRONGTYPE).
    ///
    /// GETRANGE answers "" both for a missing key and for an empty string, and an empty string is
    /// never one of our envelopes (so it is tampering to report, not a miss). Only keys that read
    /// "" are asked again, with EXISTS and a second read in one round trip: a hit costs one plain
    /// command (a Lua script doing the same in one call costs about twice a GET on the server), a
    /// miss one more round trip. For a batch
    /// the pipelined GETRANGEs cost the server about a quarter less CPU than one Lua script that
    /// runs MGET and cuts each value (measured with 100 keys), at the same wall time.
    pub fn get_many(&self, keys: &[Vec<u8>], max_len: usize) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Vec<u8>> = self.run(&read_pipe(keys, max_len))?;
        let empty = empty_slots(&values);
        let recheck = if empty.is_empty() {
            Vec::new()
        } else {
            self.run(&recheck_pipe(keys, &empty, max_len))?
        };
        settle(values, &empty, recheck).map_err(|e| self.err(&e))
    }
    pub async fn aget_many(
        &self,
        keys: &[Vec<u8>],
        max_len: usize,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Vec<u8>> = self.arun(&read_pipe(keys, max_len)).await?;
        let empty = empty_slots(&values);
        let recheck = if empty.is_empty() {
            Vec::new()
        } else {
            self.arun(&recheck_pipe(keys, &empty, max_len)).await?
        };
        settle(values, &empty, recheck).map_err(|e| self.err(&e))
    }

    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        Ok(self.run::<(i64,)>(&one(redis::cmd("UNLINK").arg(key)))?.0 > 0)
    }
    pub async fn adelete(&self, key: &[u8]) -> Result<bool> {
        Ok(self
            .arun::<(i64,)>(&one(redis::cmd("UNLINK").arg(key)))
            .await?
            .0
            > 0)
    }

    pub fn add(&self, key: &[u8], value: &[u8], expiry: Expiry) -> Result<bool> {
        Ok(self
            .run::<(Option<String>,)>(&one(&add_cmd(key, value, expiry)))?
            .0
            .is_some())
    }
    pub async fn aadd(&self, key: &[u8], value: &[u8], expiry: Expiry) -> Result<bool> {
        Ok(self
            .arun::<(Option<String>,)>(&one(&add_cmd(key, value, expiry)))
            .await?
            .0
            .is_some())
    }

    pub fn touch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        Ok(touch_result(self.run(&touch_pipe(key, expiry))?))
    }
    pub async fn atouch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        Ok(touch_result(self.arun(&touch_pipe(key, expiry)).await?))
    }

    /// Delete keys; on a cluster one UNLINK per key, since they may sit in different slots.
    pub fn delete_many(&self, keys: &[Vec<u8>]) -> Result<u64> {
        Ok(self
            .run::<Vec<i64>>(&self.unlink_pipe(keys))?
            .into_iter()
            .sum::<i64>() as u64)
    }
    pub async fn adelete_many(&self, keys: &[Vec<u8>]) -> Result<u64> {
        Ok(self
            .arun::<Vec<i64>>(&self.unlink_pipe(keys))
            .await?
            .into_iter()
            .sum::<i64>() as u64)
    }

    fn unlink_pipe(&self, keys: &[Vec<u8>]) -> Pipeline {
        match &self.backend {
            Backend::Single { .. } => one(redis::cmd("UNLINK").arg(keys)),
            Backend::Cluster { .. } => {
                let mut p = redis::pipe();
                for k in keys {
                    p.add_command(redis::cmd("UNLINK").arg(k).clone());
                }
                p
            }
        }
    }

    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.run::<(i64,)>(&one(redis::cmd("EXISTS").arg(key)))?.0 > 0)
    }
    pub async fn aexists(&self, key: &[u8]) -> Result<bool> {
        Ok(self
            .arun::<(i64,)>(&one(redis::cmd("EXISTS").arg(key)))
            .await?
            .0
            > 0)
    }

    pub fn ttl(&self, key: &[u8]) -> Result<Ttl> {
        Ok(pttl(
            self.run::<(i64,)>(&one(redis::cmd("PTTL").arg(key)))?.0,
        ))
    }
    pub async fn attl(&self, key: &[u8]) -> Result<Ttl> {
        Ok(pttl(
            self.arun::<(i64,)>(&one(redis::cmd("PTTL").arg(key)))
                .await?
                .0,
        ))
    }

    pub fn swap_many(&self, swaps: &[Swap]) -> Result<usize> {
        Ok(self
            .run::<Vec<i64>>(&swap_pipe(swaps))?
            .into_iter()
            .sum::<i64>() as usize)
    }
    pub async fn aswap_many(&self, swaps: &[Swap]) -> Result<usize> {
        Ok(self
            .arun::<Vec<i64>>(&swap_pipe(swaps))
            .await?
            .into_iter()
            .sum::<i64>() as usize)
    }

    pub async fn aswap_capped(&self, swap: &Swap, cap: Duration) -> Result<bool> {
        let cmd = redis::cmd("EVAL")
            .arg(SWAP_CAPPED_SCRIPT)
            .arg(1)
            .arg(&swap.key)
            .arg(&swap.old)
            .arg(&swap.new)
            .arg(cap.as_millis().clamp(1, i64::MAX as u128) as i64)
            .clone();
        Ok(self.arun::<(i64,)>(&one(&cmd)).await?.0 == 1)
    }

    /// SCAN one page. A cluster is walked node by node: each master's own SCAN cursor, in turn.
    pub async fn ascan(
        &self,
        prefix: &[u8],
        state: &mut ScanState,
        count: usize,
    ) -> Result<Vec<Vec<u8>>> {
        match &self.backend {
            Backend::Single { .. } => {
                let mut m = self.manager().await?;
                let cmd = scan_cmd(state.cursor, prefix, count);
                // SCAN is read-only, so a connection found dead (a restart, an idle cut) is
                // retried once on the fresh one the manager opens, as `arun` does.
                let reply: (u64, Vec<Vec<u8>>) = match cmd.query_async(&mut m).await {
                    Err(e) if is_dead_connection(&e) => {
                        log::info!(
                            "the Redis connection to {} was closed ({}); retrying on a fresh one",
                            self.where_,
                            e.category()
                        );
                        cmd.query_async(&mut m).await.map_err(|e| self.err(&e))?
                    }
                    other => other.map_err(|e| self.err(&e))?,
                };
                let (cursor, keys) = reply;
                advance(state, cursor);
                Ok(keys)
            }
            Backend::Cluster { .. } => {
                let mut conn = self.cluster().await?;
                let masters = self.masters(&mut conn).await?;
                let Some((host, port)) = masters.get(state.node).cloned() else {
                    state.done = true;
                    return Ok(Vec::new());
                };
                let route =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
                let v = conn
                    .route_command(scan_cmd(state.cursor, prefix, count), route)
                    .await
                    .map_err(|e| self.err(&e))?;
                let (cursor, keys): (u64, Vec<Vec<u8>>) = FromRedisValue::from_redis_value(v)
                    .map_err(|e| self.err(&RedisError::from(e)))?;
                state.started = true;
                state.cursor = cursor;
                if cursor == 0 {
                    state.node += 1;
                    state.done = state.node >= masters.len();
                }
                Ok(keys)
            }
        }
    }

    /// The masters of the cluster, sorted so a walk visits them in a stable order.
    async fn masters(&self, conn: &mut ClusterConnection) -> Result<Vec<(String, u16)>> {
        let slots: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(conn)
            .await
            .map_err(|e| self.err(&e))?;
        let mut out = Vec::new();
        if let Value::Array(ranges) = slots {
            for r in ranges {
                if let Value::Array(parts) = r {
                    if let Some(Value::Array(node)) = parts.get(2) {
                        let host: Option<String> = node
                            .first()
                            .and_then(|v| FromRedisValue::from_redis_value(v.clone()).ok());
                        let port: Option<i64> = node
                            .get(1)
                            .and_then(|v| FromRedisValue::from_redis_value(v.clone()).ok());
                        if let (Some(h), Some(p)) = (host, port) {
                            out.push((h, p as u16));
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(CoreError::store(
                StoreErrorKind::Server,
                "CLUSTER SLOTS returned no masters",
            ));
        }
        Ok(out)
    }
}

/// Everything that makes two clients different, the password only as a digest.
fn registry_key(url: &StoreUrl, opts: &Options) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let password = opts
        .password
        .as_ref()
        .or(url.password.as_ref())
        .map(|p| Sha256::digest(p.as_bytes()).to_vec());
    format!(
        "{:?}|{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        url.target,
        url.tls,
        url.db,
        opts.username.as_ref().or(url.username.as_ref()),
        password,
        opts.ssl_ca_certs,
        opts.ssl_certfile,
        opts.ssl_keyfile,
        opts.ssl_check_hostname,
        opts.ssl_cert_reqs,
        opts.socket_timeout,
        opts.socket_connect_timeout,
        opts.max_idle_connections,
        opts.allow_plaintext,
    )
    .into_bytes()
}

fn single(client: Client) -> Backend {
    Backend::Single {
        client,
        conns: ForkLocal::new(),
    }
}

fn one(cmd: &Cmd) -> Pipeline {
    let mut p = redis::pipe();
    p.add_command(cmd.clone());
    p
}

fn add_cmd(key: &[u8], value: &[u8], expiry: Expiry) -> Cmd {
    let mut c = redis::cmd("SET");
    c.arg(key).arg(value).arg("NX");
    if let Expiry::After(d) = expiry {
        c.arg("PX").arg(d.as_millis().max(1) as u64);
    }
    c
}

/// PEXPIRE for a new TTL; for "never", PERSIST plus EXISTS, since PERSIST says 0 for a key that
/// exists but had no TTL to remove.
fn touch_pipe(key: &[u8], expiry: Expiry) -> Pipeline {
    let mut p = redis::pipe();
    match expiry {
        Expiry::After(d) => p.add_command(
            redis::cmd("PEXPIRE")
                .arg(key)
                .arg(d.as_millis().max(1) as u64)
                .clone(),
        ),
        Expiry::Never => {
            p.add_command(redis::cmd("PERSIST").arg(key).clone());
            p.add_command(redis::cmd("EXISTS").arg(key).clone())
        }
    };
    p
}

fn touch_result(replies: Vec<i64>) -> bool {
    replies.last().is_some_and(|n| *n > 0)
}

fn set_pipe(items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Pipeline {
    let mut p = redis::pipe();
    for (k, v) in items {
        let mut c = redis::cmd("SET");
        c.arg(k).arg(v);
        if let Expiry::After(d) = expiry {
            c.arg("PX").arg(d.as_millis().max(1) as u64);
        }
        p.add_command(c).ignore();
    }
    p
}

/// One `GETRANGE key 0 max_len` per key, pipelined (on a cluster each goes to its own node).
fn read_pipe(keys: &[Vec<u8>], max_len: usize) -> Pipeline {
    let mut p = redis::pipe();
    for k in keys {
        p.cmd("GETRANGE").arg(k).arg(0).arg(max_len);
    }
    p
}

/// For each position in `empty`: EXISTS, then the bounded read again. A writer may have created
/// the key since the first read; its new value is then the answer, not "tampering".
fn recheck_pipe(keys: &[Vec<u8>], empty: &[usize], max_len: usize) -> Pipeline {
    let mut p = redis::pipe();
    for &i in empty {
        p.cmd("EXISTS").arg(&keys[i]);
        p.cmd("GETRANGE").arg(&keys[i]).arg(0).arg(max_len);
    }
    p
}

/// Positions whose GETRANGE reply was "": missing, or an empty string.
fn empty_slots(values: &[Vec<u8>]) -> Vec<usize> {
    (0..values.len())
        .filter(|&i| values[i].is_empty())
        .collect()
}

/// The final answers from the first read and the (EXISTS, GETRANGE) pairs of
/// [`recheck_pipe`]: absent where EXISTS said 0, else the second read (an empty string stays
/// `Some(empty)`, which the caller reports as tampering).
fn settle(
    values: Vec<Vec<u8>>,
    empty: &[usize],
    recheck: Vec<Value>,
) -> std::result::Result<Vec<Option<Vec<u8>>>, RedisError> {
    let mut out: Vec<Option<Vec<u8>>> = values.into_iter().map(Some).collect();
    let mut replies = recheck.into_iter();
    for &i in empty {
        let (Some(exists), Some(value)) = (replies.next(), replies.next()) else {
            return Err(RedisError::from((
                ErrorKind::Parse,
                "short reply to a re-read",
            )));
        };
        out[i] = if i64::from_redis_value(exists)? == 0 {
            None
        } else {
            Some(Vec::<u8>::from_redis_value(value)?)
        };
    }
    Ok(out)
}

fn swap_pipe(swaps: &[Swap]) -> Pipeline {
    let mut p = redis::pipe();
    for s in swaps {
        p.add_command(
            redis::cmd("EVAL")
                .arg(SWAP_SCRIPT)
                .arg(1)
                .arg(&s.key)
                .arg(&s.old)
                .arg(&s.new)
                .clone(),
        );
    }
    p
}

fn scan_cmd(cursor: u64, prefix: &[u8], count: usize) -> Cmd {
    let mut pattern = prefix.to_vec();
    pattern.push(b'*');
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count.max(1))
        .arg("TYPE")
        .arg("string")
        .clone()
}

fn advance(state: &mut ScanState, cursor: u64) {
    state.started = true;
    state.cursor = cursor;
    state.done = cursor == 0;
}

fn pttl(ms: i64) -> Ttl {
    match ms {
        -2 => Ttl::Missing,
        n if n < 0 => Ttl::Forever,
        n => Ttl::Remaining(Duration::from_millis(n as u64)),
    }
}

/// A blocking connection that reads a pipeline's replies but gives up at the first failed read.
/// redis-rs's own reader keeps reading after a timeout, so a server that stopped answering cost
/// one full `socket_timeout` per command of the pipeline (a 1,000-value `put_many` at the default
/// 5 s: over an hour). The connection is dropped after such an error (`is_broken`), so the
/// unread replies do not matter. Server error replies are values, read on as before. We never
/// send MULTI/EXEC pipelines, so `offset` only skips replies.
struct FailFast<'a>(&'a mut Connection);

impl ConnectionLike for FailFast<'_> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        self.0.send_packed_command(cmd)?;
        let mut replies = Vec::with_capacity(count);
        let mut want = offset + count;
        let mut idx = 0;
        while idx < want {
            match self.0.recv_response()? {
                // RESP3 push data can arrive between replies; it is not one of them.
                Value::Push { .. } => want += 1,
                v if idx >= offset => replies.push(v),
                _ => {}
            }
            idx += 1;
        }
        Ok(replies)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.0.check_connection()
    }

    fn is_open(&self) -> bool {
        self.0.is_open()
    }
}

/// A connection that was dead before or as we used it (not a slow server: no timeouts).
fn is_dead_connection(e: &RedisError) -> bool {
    !e.is_timeout() && (e.is_connection_dropped() || e.is_unrecoverable_error() || e.is_io_error())
}

/// Errors after which the connection cannot be trusted for another command.
fn is_broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() || e.is_timeout()
}

/// Whether the server answered with an error code `wanted` accepts, directly or, for a
/// pipeline, one level down (`code()` is None there).
fn has_code(e: &RedisError, wanted: impl Fn(&str) -> bool) -> bool {
    e.code().is_some_and(&wanted)
        || e.clone()
            .into_server_errors()
            .is_some_and(|errs| errs.iter().any(|(_, se)| wanted(se.code())))
}

fn classify(e: &RedisError) -> StoreErrorKind {
    if e.is_timeout() {
        return StoreErrorKind::Timeout;
    }
    if e.kind() == ErrorKind::AuthenticationFailed
        || has_code(e, |c| matches!(c, "NOAUTH" | "WRONGPASS" | "NOPERM"))
    {
        return StoreErrorKind::Auth;
    }
    if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.kind() == ErrorKind::ClusterConnectionNotFound
    {
        return StoreErrorKind::Connection;
    }
    StoreErrorKind::Server
}

fn config_err(e: &RedisError) -> CoreError {
    CoreError::config(format!(
        "invalid Redis connection settings: {}",
        e.category()
    ))
}

#[cfg(test)]
mod tests {
    //! Against a real redis-server on a Unix socket, started and stopped by the test itself.

    use super::*;
    use crate::core::store::url;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    struct Server {
        child: Child,
        dir: PathBuf,
    }

    impl Server {
        fn start(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir().join(format!("ks-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let sock = dir.join("redis.sock");
            let child = Command::new("redis-server")
                .args(["--port", "0", "--save", "", "--appendonly", "no"])
                .arg("--unixsocket")
                .arg(&sock)
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for this test (make deps)");
            let server = Self { child, dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::os::unix::net::UnixStream::connect(&sock).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            server
        }

        fn store(&self) -> RedisStore {
            let sock = self.dir.join("redis.sock");
            let u = url::parse(&format!("unix://{}", sock.display())).unwrap();
            RedisStore::open(&u, &Options::default()).unwrap()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The server-side id of the connection the blocking path uses for this command.
    fn client_id(store: &RedisStore) -> i64 {
        store
            .run::<(i64,)>(&one(&redis::cmd("CLIENT").arg("ID").clone()))
            .unwrap()
            .0
    }

    /// The ids of the server's open connections, as seen from the pool's next connection.
    fn open_ids(store: &RedisStore) -> Vec<i64> {
        let (list,): (String,) = store
            .run(&one(&redis::cmd("CLIENT").arg("LIST").clone()))
            .unwrap();
        list.lines()
            .filter_map(|l| l.strip_prefix("id="))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn idle_too_long_pooled_connection_is_closed_not_reused() {
        let server = Server::start("idle");
        let mut store = server.store();
        store.max_idle_age = Duration::from_millis(300);
        let first = client_id(&store);
        // Back in the pool and young: reused.
        assert_eq!(client_id(&store), first);
        std::thread::sleep(Duration::from_millis(500));
        // Older than the limit: a new connection, and the old one is closed.
        let second = client_id(&store);
        assert_ne!(second, first);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ids = open_ids(&store);
            assert!(ids.contains(&second), "{ids:?}");
            if !ids.contains(&first) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "connection {first} still open: {ids:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn reads_tell_missing_from_empty_and_stay_bounded() {
        let server = Server::start("reads");
        let store = server.store();
        let raw = |args: &[&str]| {
            let mut c = redis::cmd(args[0]);
            for a in &args[1..] {
                c.arg(*a);
            }
            store.run::<(Value,)>(&one(&c)).unwrap();
        };
        raw(&["SET", "hit", "abcdef"]);
        raw(&["SET", "empty", ""]);
        raw(&["SET", "big", &"x".repeat(100)]);
        let keys: Vec<Vec<u8>> = ["hit", "gone", "empty", "big"]
            .iter()
            .map(|k| k.as_bytes().to_vec())
            .collect();
        let got = store.get_many(&keys, 10).unwrap();
        assert_eq!(got[0].as_deref(), Some(&b"abcdef"[..]));
        assert_eq!(got[1], None, "a missing key is absent");
        assert_eq!(
            got[2].as_deref(),
            Some(&b""[..]),
            "an empty string is present"
        );
        assert_eq!(
            got[3].as_ref().map(Vec::len),
            Some(11),
            "at most max_len + 1 bytes"
        );
        assert!(store.get_many(&[], 10).unwrap().is_empty());
        let got = block_on(store.aget_many(&keys, 10)).unwrap();
        assert_eq!(got[1], None);
        assert_eq!(got[2].as_deref(), Some(&b""[..]));
        // A key of another type is tampering, not a miss.
        raw(&["RPUSH", "list", "a"]);
        assert!(matches!(
            store.get_many(&[b"hit".to_vec(), b"list".to_vec()], 10),
            Err(CoreError::Decryption)
        ));
    }

    #[test]
    fn settle_keeps_fresh_reads_and_drops_the_absent() {
        // Positions 1 and 2 read "": 1 is gone, 2 exists (written meanwhile) and reads again.
        let values = vec![b"a".to_vec(), Vec::new(), Vec::new()];
        let empty = empty_slots(&values);
        assert_eq!(empty, vec![1, 2]);
        let recheck = vec![
            Value::Int(0),
            Value::BulkString(Vec::new()),
            Value::Int(1),
            Value::BulkString(b"new".to_vec()),
        ];
        let out = settle(values.clone(), &empty, recheck).unwrap();
        assert_eq!(out, vec![Some(b"a".to_vec()), None, Some(b"new".to_vec())]);
        // A reply cut short is an error, never a guessed answer.
        assert!(settle(values, &empty, vec![Value::Int(1)]).is_err());
    }

    #[test]
    fn default_idle_age_keeps_a_recent_connection() {
        let server = Server::start("keep");
        let store = server.store();
        assert_eq!(store.max_idle_age, MAX_IDLE_AGE);
        let first = client_id(&store);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(client_id(&store), first);
    }
}
