//! Parsing store URLs (`memory://`, `redis://`, `rediss://`, `redis+cluster://`, `rediss+cluster://`,
//! `unix://`) and the connection options that come with them, with the security checks up front.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::core::error::{CoreError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `memory://` is private to one Vault; `memory://NAME` is shared by every Vault in the
    /// process that names it (as a Redis database would be).
    Memory {
        name: Option<String>,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Cluster {
        nodes: Vec<(String, u16)>,
    },
    Unix {
        path: PathBuf,
    },
}

/// Connection options; names follow redis-py's where one exists.
#[derive(Clone, Default)]
pub struct Options {
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub ssl_ca_certs: Option<PathBuf>,
    pub ssl_certfile: Option<PathBuf>,
    pub ssl_keyfile: Option<PathBuf>,
    /// `None` means the default (check the hostname).
    pub ssl_check_hostname: Option<bool>,
    /// `"required"` (default) or `"none"`, the explicit opt-out of certificate checks.
    pub ssl_cert_reqs: Option<String>,
    pub socket_timeout: Option<Duration>,
    pub socket_connect_timeout: Option<Duration>,
    pub allow_plaintext: bool,
    /// Idle connections kept per process for blocking calls.
    pub max_idle_connections: Option<usize>,
}

/// A parsed, checked store location.
#[derive(Clone)]
pub struct StoreUrl {
    pub target: Target,
    pub tls: bool,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUrl")
            .field("target", &self.target)
            .field("tls", &self.tls)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let v = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    CoreError::config("invalid percent-encoding in the URL's credentials")
                })?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // The decoded bytes may be a password: wipe them when they are not UTF-8, too.
    String::from_utf8(out).map_err(|e| {
        drop(Zeroizing::new(e.into_bytes()));
        CoreError::config("URL credentials are not valid UTF-8")
    })
}

fn parse_host_port(hp: &str, default_port: u16) -> Result<(String, u16)> {
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| CoreError::config("invalid IPv6 address in the store URL"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match hp.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hp.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(CoreError::config("the store URL has no host"));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| CoreError::config("invalid port in the store URL"))?,
    };
    Ok((host, port))
}

pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parse `url`. Error messages never include the URL: it may hold a password.
pub fn parse(url: &str) -> Result<StoreUrl> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| CoreError::config("store URL must look like scheme://..."))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "memory" {
        let name = rest.trim_end_matches('/');
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(CoreError::config(
                "memory://NAME takes a plain name (letters, digits, _ . -)",
            ));
        }
        let name = (!name.is_empty()).then(|| name.to_owned());
        return Ok(StoreUrl {
            target: Target::Memory { name },
            tls: false,
            db: 0,
            username: None,
            password: None,
        });
    }
    let (tls, cluster, unix) = match scheme.as_str() {
        "redis" => (false, false, false),
        "rediss" => (true, false, false),
        "redis+cluster" => (false, true, false),
        "rediss+cluster" => (true, true, false),
        "unix" | "redis+unix" => (false, false, true),
        _ => {
            return Err(CoreError::config(
                "unsupported store URL scheme: use memory://, redis://, rediss://, redis+cluster://, rediss+cluster:// or unix://",
            ))
        }
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (userinfo, location) = match rest.rsplit_once('@') {
        Some((u, l)) => (Some(u), l),
        None => (None, rest),
    };
    let (mut username, mut password) = (None, None);
    if let Some(u) = userinfo {
        let (user, pass) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u, None),
        };
        if !user.is_empty() {
            username = Some(percent_decode(user)?);
        }
        if let Some(p) = pass {
            password = Some(Zeroizing::new(percent_decode(p)?));
        }
    }
    let mut db = 0i64;
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("db", v)) => db = v.parse().map_err(|_| CoreError::config("db must be a number"))?,
            _ => {
                return Err(CoreError::config(
                    "unsupported query parameter in the store URL (only db=N); pass other settings as keyword options",
                ))
            }
        }
    }
    let target = if unix {
        if location.is_empty() || !location.starts_with('/') {
            return Err(CoreError::config(
                "unix:// URLs need an absolute socket path: unix:///path/to/redis.sock",
            ));
        }
        Target::Unix {
            path: PathBuf::from(location),
        }
    } else {
        let (hosts, path) = match location.split_once('/') {
            Some((h, p)) => (h, p),
            None => (location, ""),
        };
        if !path.is_empty() {
            if cluster {
                return Err(CoreError::config(
                    "Redis Cluster has only database 0: drop the /db part of the URL",
                ));
            }
            db = path
                .parse()
                .map_err(|_| CoreError::config("the URL path must be a database number"))?;
        }
        if cluster {
            let nodes = hosts
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| parse_host_port(h, 6379))
                .collect::<Result<Vec<_>>>()?;
            if nodes.is_empty() {
                return Err(CoreError::config(
                    "a cluster URL needs at least one seed node",
                ));
            }
            Target::Cluster { nodes }
        } else {
            if hosts.contains(',') {
                return Err(CoreError::config(
                    "several hosts given: use redis+cluster:// for Redis Cluster",
                ));
            }
            let (host, port) = parse_host_port(hosts, 6379)?;
            Target::Tcp { host, port }
        }
    };
    if !(0..=15_000).contains(&db) {
        return Err(CoreError::config("db out of range"));
    }
    Ok(StoreUrl {
        target,
        tls,
        db,
        username,
        password,
    })
}

/// Refuse plaintext TCP to anything but loopback unless the caller opted in; TLS options on a
/// plaintext URL are a mistake worth stopping too.
pub fn check_security(url: &StoreUrl, opts: &Options) -> Result<()> {
    let hosts: Vec<&str> = match &url.target {
        Target::Tcp { host, .. } => vec![host.as_str()],
        Target::Cluster { nodes } => nodes.iter().map(|(h, _)| h.as_str()).collect(),
        Target::Memory { .. } | Target::Unix { .. } => vec![],
    };
    if !url.tls && !opts.allow_plaintext {
        if let Some(h) = hosts.iter().find(|h| !is_loopback(h)) {
            return Err(CoreError::config(format!(
                "refusing a plaintext connection to non-loopback Redis host {h}: use rediss:// (TLS), or pass allow_plaintext=True if the network is trusted"
            )));
        }
    }
    let tls_opts = opts.ssl_ca_certs.is_some()
        || opts.ssl_certfile.is_some()
        || opts.ssl_keyfile.is_some()
        || opts.ssl_cert_reqs.is_some()
        || opts.ssl_check_hostname.is_some();
    if !url.tls && tls_opts {
        return Err(CoreError::config(
            "ssl_* options given for a plaintext URL: use rediss://",
        ));
    }
    if opts.ssl_certfile.is_some() != opts.ssl_keyfile.is_some() {
        return Err(CoreError::config(
            "ssl_certfile and ssl_keyfile go together",
        ));
    }
    match opts.ssl_cert_reqs.as_deref() {
        None | Some("required" | "none") => {}
        Some(_) => {
            return Err(CoreError::config(
                "ssl_cert_reqs must be 'required' or 'none'",
            ))
        }
    }
    if matches!(url.target, Target::Memory { .. })
        && (url.password.is_some() || opts.password.is_some())
    {
        return Err(CoreError::config("memory:// takes no credentials"));
    }
    Ok(())
}

/// The URL with any password replaced, fit for a repr or a log line.
pub fn display(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid url>".into();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, location)) => {
            // `user:password` keeps the user name; a lone `redis://word@host` is masked whole, since
            // people often put the password there (redis-py reads it as a user name, though).
            let masked = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_owned(),
            };
            format!("{scheme}://{masked}@{location}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        let u = parse("redis://user:p%40ss@127.0.0.1:7000/3").unwrap();
        assert_eq!(
            u.target,
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 7000
            }
        );
        assert_eq!(
            (
                u.db,
                u.username.as_deref(),
                u.password.as_deref().map(|s| s.as_str())
            ),
            (3, Some("user"), Some("p@ss"))
        );
        let u = parse("rediss://:pw@[::1]/").unwrap();
        assert!(u.tls);
        assert_eq!(
            u.target,
            Target::Tcp {
                host: "::1".into(),
                port: 6379
            }
        );
        let u = parse("redis+cluster://127.0.0.1:1,127.0.0.1:2").unwrap();
        assert_eq!(
            u.target,
            Target::Cluster {
                nodes: vec![("127.0.0.1".into(), 1), ("127.0.0.1".into(), 2)]
            }
        );
        let u = parse("unix:///tmp/r.sock?db=2").unwrap();
        assert_eq!(
            (u.target, u.db),
            (
                Target::Unix {
                    path: "/tmp/r.sock".into()
                },
                2
            )
        );
        assert_eq!(
            parse("memory://").unwrap().target,
            Target::Memory { name: None }
        );
        assert_eq!(
            parse("memory://demo").unwrap().target,
            Target::Memory {
                name: Some("demo".into())
            }
        );
        assert!(parse("memory://a:b@c").is_err());
    }

    #[test]
    fn errors_never_echo_the_password() {
        for bad in [
            "redis://:sup3rs3cret@host:notaport",
            "bogus://:sup3rs3cret@h",
            "redis://:sup3rs3cret@h?x=1",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(!e.contains("sup3rs3cret"), "{e}");
        }
    }

    #[test]
    fn display_hides_the_password() {
        assert_eq!(display("redis://u:hunter22@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(display("rediss://:hunter22@h"), "rediss://:***@h");
        assert_eq!(display("redis://h:1"), "redis://h:1");
        assert_eq!(display("redis://hunter2@host"), "redis://***@host");
        assert_eq!(
            display("rediss+cluster://hunter2@a:1,b:2/"),
            "rediss+cluster://***@a:1,b:2/"
        );
    }

    #[test]
    fn plaintext_to_remote_needs_opt_in() {
        let remote = parse("redis://cache.internal:6379").unwrap();
        assert!(check_security(&remote, &Options::default()).is_err());
        assert!(check_security(
            &remote,
            &Options {
                allow_plaintext: true,
                ..Default::default()
            }
        )
        .is_ok());
        assert!(check_security(&parse("redis://localhost").unwrap(), &Options::default()).is_ok());
        assert!(check_security(
            &parse("rediss://cache.internal").unwrap(),
            &Options::default()
        )
        .is_ok());
        let cl = parse("redis+cluster://127.0.0.1:1,10.0.0.2:2").unwrap();
        assert!(check_security(&cl, &Options::default()).is_err());
        let tls_on_plain = Options {
            ssl_ca_certs: Some("/ca.pem".into()),
            ..Default::default()
        };
        assert!(check_security(&parse("redis://localhost").unwrap(), &tls_on_plain).is_err());
    }

    #[test]
    fn debug_redacts_the_password_and_odd_urls_are_refused() {
        let u = parse("redis://user:hunter22@127.0.0.1:7000/3").unwrap();
        let d = format!("{u:?}");
        assert!(d.contains("password: Some(\"[redacted]\")"), "{d}");
        assert!(
            d.contains("username: Some(\"user\")") && d.contains("db: 3"),
            "{d}"
        );
        assert!(!d.contains("hunter22"), "{d}");
        let none = format!("{:?}", parse("redis://127.0.0.1").unwrap());
        assert!(none.contains("password: None"), "{none}");
        // a cluster URL whose host list holds only separators
        let e = parse("redis+cluster://,,/").unwrap_err().to_string();
        assert!(e.contains("at least one seed node"), "{e}");
        assert_eq!(display("no scheme at all"), "<invalid url>");
        assert_eq!(display("redis:/h"), "<invalid url>");
    }
}
