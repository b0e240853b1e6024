//! Engine tests: every catalogue rule on a synthetic example, hard negatives, modes, streaming.

use super::rules::tests::{expand, Rng};
use super::*;

fn redactor() -> Redactor {
    Redactor::new(Config {
        use_global_known: false,
        ..Config::default()
    })
    .unwrap()
}

fn ids(r: &Redactor, text: &str) -> Vec<String> {
    r.scan(text.as_bytes())
        .iter()
        .map(|f| f.rule.to_string())
        .collect()
}

fn red(r: &Redactor, text: &str) -> String {
    r.redact_str(text).into_owned()
}

#[test]
fn every_rule_finds_its_example_in_context() {
    let r = redactor();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for def in CATALOGUE {
        // Alone, the rule reports its own id.
        let only = Redactor::new(Config {
            disabled: CATALOGUE
                .iter()
                .filter(|d| d.id != def.id)
                .map(|d| d.id.to_owned())
                .collect(),
            use_global_known: false,
            ..Config::default()
        })
        .unwrap();
        let bare = expand(def.example, &mut rng);
        assert_eq!(
            ids(&only, &bare),
            vec![def.id],
            "rule {} alone on {bare:?}",
            def.id
        );
        // With the whole catalogue, in log, JSON and quoted contexts, the secret the rule
        // isolates on its own never survives.
        for round in 0..5 {
            let example = expand(def.example, &mut rng);
            let alone = only.scan(example.as_bytes());
            assert_eq!(alone.len(), 1, "{} round {round}: {example:?}", def.id);
            let secret = &example[alone[0].start..alone[0].end];
            for ctx in [
                example.clone(),
                format!("2026-11-25 INFO request failed value={example} user=bob\n"),
                format!("{{\"v\": \"{example}\", \"n\": 1}}"),
            ] {
                let out = red(&r, &ctx);
                assert!(
                    !out.contains(secret),
                    "{} round {round}: {secret:?} survived in {out:?}",
                    def.id
                );
            }
        }
    }
}

#[test]
fn token_redacted_whole() {
    let r = redactor();
    let mut rng = Rng(7);
    let tok = expand("ghp_{A:30}{GH}", &mut rng);
    let out = red(&r, &format!("token {tok} end"));
    assert_eq!(out, "token [REDACTED:github_pat] end");
    let key = expand("sk-ant-api03-{W:93}AA", &mut rng);
    let out = red(&r, &format!("ANTHROPIC_API_KEY={key}"));
    assert!(!out.contains(&key[14..30]), "{out}");
}

#[test]
fn github_checksum_is_enforced() {
    let r = redactor();
    let mut rng = Rng(11);
    let good = expand("ghp_{A:30}{GH}", &mut rng);
    assert_eq!(ids(&r, &good), vec!["github_pat"]);
    let mut bad = good.clone().into_bytes();
    bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(ids(&r, &bad).is_empty(), "bad checksum accepted");
    let npm = expand("npm_{A:30}{GH}", &mut rng);
    assert_eq!(ids(&r, &npm), vec!["npm_token"]);
}

#[test]
fn hard_negatives_are_left_alone() {
    let r = redactor();
    let negatives = [
        "request id 123e4567-e89b-12d3-a456-426614174000 done",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",
        "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "md5 d41d8cd98f00b204e9800998ecf8427e",
        "etag \"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
        "The quick brown fox jumps over the lazy dog 1234567890",
        "user bob asked for a task on the desk; risk accepted",
        "GET /api/v1/users?page=2&per_page=50 HTTP/1.1 200 512 \"https://example.com/\"",
        "Invalid password: user not found",
        "max_tokens=4096 prompt_tokens=12 token_type=bearer",
        "password_reset_url=https://example.com/reset",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        "function(e){return e.token?e.token:null}var t=\"password\";",
        "var password_min=8,secretSauce=function(a){return a*2};token=getToken(x)",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----",
        "https://example.com:8443/path?q=1",
        "password=None token=null secret=",
        "x-request-id: 4bf92f3577b34da6a3ce929d0e0e4736",
        "ghp_notarealtokenbecausetooshort",
        "Bearer of bad news",
        "cookie policy accepted",
        "eyJhbGciOiJIUzI1NiJ9 alone is not a token",
        "AKIA is a prefix",
        "sk_live_ is a prefix",
    ];
    for n in negatives {
        let found = r.scan(n.as_bytes());
        assert!(found.is_empty(), "false positive in {n:?}: {found:?}");
        assert_eq!(red(&r, n), n);
    }
}

#[test]
fn url_credentials_any_scheme() {
    let r = redactor();
    for (input, expect) in [
        (
            "redis://:hunter2pw@cache:6379/0",
            "redis://:[REDACTED:url_password]@cache:6379/0",
        ),
        (
            "rediss://app:s3cr3t@host",
            "rediss://app:[REDACTED:url_password]@host",
        ),
        (
            "postgresql://u:p%40ss@db/x",
            "postgresql://u:[REDACTED:url_password]@db/x",
        ),
        (
            "amqp://guest:gu3st@mq//",
            "amqp://guest:[REDACTED:url_password]@mq//",
        ),
        (
            "mongodb+srv://a:b@c.net/",
            "mongodb+srv://a:[REDACTED:url_password]@c.net/",
        ),
        (
            "x://user:pa@ss@host/",
            "x://user:[REDACTED:url_password]@host/",
        ),
        ("https://user@host/", "https://user@host/"),
        ("see http://host:80/a@b", "see http://host:80/a@b"),
    ] {
        assert_eq!(red(&r, input), expect, "{input}");
    }
}

#[test]
fn headers_and_pairs() {
    let r = redactor();
    let cases = [
        (
            "Authorization: Bearer abc.def-ghi_jkl",
            "Authorization: Bearer [REDACTED:http_authorization]",
        ),
        (
            "authorization=Basic dXNlcjpwYXNz",
            "authorization=Basic [REDACTED:http_authorization]",
        ),
        (
            "{'Authorization': 'Token 12345678abc'}",
            "{'Authorization': 'Token [REDACTED:http_authorization]'}",
        ),
        (
            "Cookie: sessionid=abc; csrftoken=def\nnext",
            "Cookie: [REDACTED:http_cookie]\nnext",
        ),
        (
            "X-Api-Key: 9f8e7d6c5b4a",
            "X-Api-Key: [REDACTED:secret_assignment]",
        ),
        (
            "?api_key=abc123&page=2",
            "?api_key=[REDACTED:secret_assignment]&page=2",
        ),
        (
            "DB_PASSWORD=hunter2",
            "DB_PASSWORD=[REDACTED:secret_assignment]",
        ),
        (
            r#"{"client_secret": "a b c"}"#,
            r#"{"client_secret": "[REDACTED:secret_assignment]"}"#,
        ),
        (
            r#"{"apiToken":"xyz"}"#,
            r#"{"apiToken":"[REDACTED:secret_assignment]"}"#,
        ),
        (
            r#"msg="{\"password\": \"pw1\"}""#,
            r#"msg="{\"password\": \"[REDACTED:secret_assignment]\"}""#,
        ),
        (
            "password: hunter2",
            "password: [REDACTED:secret_assignment]",
        ),
    ];
    for (input, expect) in cases {
        assert_eq!(red(&r, input), expect, "{input}");
    }
}

#[test]
fn redaction_is_idempotent_in_every_mode() {
    let mut rng = Rng(5);
    let mut text = String::new();
    for def in CATALOGUE {
        text.push_str(&format!("k={} ", expand(def.example, &mut rng)));
    }
    text.push_str(" password=abc123 redis://:pw12345@h/ known-value-1234");
    for mode in [
        Mode::Mask,
        Mode::Partial { tail: 4 },
        Mode::Fingerprint {
            key: Zeroizing::new(b"0123456789abcdef0123".to_vec()),
        },
    ] {
        let r = Redactor::new(Config {
            mode,
            use_global_known: false,
            ..Config::default()
        })
        .unwrap();
        r.add_secret(b"known-value-1234");
        let once = red(&r, &text);
        let twice = red(&r, &once);
        assert_eq!(once, twice);
        assert!(!once.contains("known-value-1234"));
    }
}

#[test]
fn idempotent_when_a_rejected_value_ends_in_a_mask() {
    // Found by the fuzzer: the pair value stopped at `(` (a call, so rejected), then the URL
    // password holding the `(` was masked, and a second pass saw a value ending at the mask.
    let r = redactor();
    let data = b"password=hmasteo\xf0\xf0_keyis://:p(w@h/ x";
    let once = r.redact(data).into_owned();
    assert_eq!(r.redact(&once).as_ref(), once.as_slice());
    // Also found by the fuzzer: a pair value containing `/` is masked, after which the URL
    // authority around it reaches an `@` and would take the mask into a password.
    let data = b"x redis://:ppassword=hm\xff\xffyJ:/G\x9d\x96}I0Nxpw@h.x";
    let once = r.redact(data).into_owned();
    assert_eq!(r.redact(&once).as_ref(), once.as_slice());
    // And: a known value masked just before `cce://`, whose scheme began with a digit (`1cce`,
    // rejected) and after masking begins with a letter.
    r.add_secret(b"fuzz-known/va+lue\"1");
    let data = b"~h/fuzz-known/va+lue\\\"1cce://:pDRE@A[wCTapic\x9b\x86ED:h@h\x00d=x";
    let once = r.redact(data).into_owned();
    assert!(
        once.windows(25).any(|w| w == b"[REDACTED:known_secret]cc"),
        "{:?}",
        String::from_utf8_lossy(&once)
    );
    assert_eq!(r.redact(&once).as_ref(), once.as_slice());
}

#[test]
fn modes_render() {
    let secret = "s3cr3t-Value-0987654321";
    let text = format!("password={secret}");
    let partial = Redactor::new(Config {
        mode: Mode::Partial { tail: 4 },
        use_global_known: false,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        red(&partial, &text),
        "password=[REDACTED:secret_assignment...4321]"
    );
    let fp = |key: &[u8]| {
        Redactor::new(Config {
            mode: Mode::Fingerprint {
                key: Zeroizing::new(key.to_vec()),
            },
            use_global_known: false,
            ..Config::default()
        })
        .unwrap()
    };
    let a = red(&fp(b"key-one-16-bytes!!"), &text);
    let b = red(
        &fp(b"key-one-16-bytes!!"),
        &format!("other line password={secret}"),
    );
    let c = red(&fp(b"key-two-16-bytes!!"), &text);
    let tag = |s: &str| {
        s.rsplit('#')
            .next()
            .unwrap()
            .trim_end_matches(']')
            .to_owned()
    };
    assert_eq!(tag(&a), tag(&b));
    assert_ne!(tag(&a), tag(&c));
    assert_eq!(tag(&a).len(), 12);
    assert!(Redactor::new(Config {
        mode: Mode::Fingerprint {
            key: Zeroizing::new(b"short".to_vec())
        },
        ..Config::default()
    })
    .is_err());
}

#[test]
fn known_values_and_global() {
    let r = redactor();
    assert!(r.add_secret(b"Tr0ub4dor&3-xyz"));
    assert_eq!(
        red(&r, "pw is Tr0ub4dor&3-xyz."),
        "pw is [REDACTED:known_secret]."
    );
    assert_eq!(red(&r, "q=Tr0ub4dor%263-xyz"), "q=[REDACTED:known_secret]");
    assert!(r.remove_secret(b"Tr0ub4dor&3-xyz"));
    assert_eq!(red(&r, "pw is Tr0ub4dor&3-xyz."), "pw is Tr0ub4dor&3-xyz.");

    // A redactor that opts in sees values registered process-wide.
    let shared = Redactor::new(Config::default()).unwrap();
    add_known_secret(b"global-only-value-42");
    assert_eq!(
        red(&shared, "x global-only-value-42 y"),
        "x [REDACTED:known_secret] y"
    );
    assert_eq!(
        red(&r, "x global-only-value-42 y"),
        "x global-only-value-42 y"
    );
    remove_known_secret(b"global-only-value-42");
    assert_eq!(
        red(&shared, "x global-only-value-42 y"),
        "x global-only-value-42 y"
    );
}

#[test]
fn disable_and_custom_rules() {
    let r = Redactor::new(Config {
        disabled: vec!["secret_assignment".into()],
        custom: vec![
            CustomRule {
                id: "acme_key".into(),
                pattern: r"\bacme_(?P<s>[a-z0-9]{12})\b".into(),
                anchors: vec!["acme_".into()],
            },
            CustomRule {
                id: "employee_no".into(),
                pattern: r"\bEMP[0-9]{6}\b".into(),
                anchors: vec![],
            },
        ],
        use_global_known: false,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(red(&r, "password=hunter2"), "password=hunter2");
    assert_eq!(
        red(&r, "k acme_abcdef123456 z"),
        "k acme_[REDACTED:acme_key] z"
    );
    assert_eq!(red(&r, "by EMP123456."), "by [REDACTED:employee_no].");
    assert!(r.rule_ids().iter().any(|i| &**i == "acme_key"));
    assert!(!r.rule_ids().iter().any(|i| &**i == "secret_assignment"));

    let err = |cfg: Config| Redactor::new(cfg).unwrap_err();
    assert!(matches!(
        err(Config {
            disabled: vec!["nope".into()],
            ..Config::default()
        }),
        RedactError::UnknownRule(_)
    ));
    let bad = CustomRule {
        id: "x".into(),
        pattern: "(".into(),
        anchors: vec![],
    };
    assert!(matches!(
        err(Config {
            custom: vec![bad],
            ..Config::default()
        }),
        RedactError::BadPattern(_)
    ));
    let dup = CustomRule {
        id: "jwt".into(),
        pattern: "a".into(),
        anchors: vec![],
    };
    assert!(matches!(
        err(Config {
            custom: vec![dup],
            ..Config::default()
        }),
        RedactError::DuplicateRule(_)
    ));
}

#[test]
fn api_key_rule_is_listed_and_can_be_disabled() {
    let body = format!("ks_{}", "k".repeat(40));
    let token = format!(
        "{body}{}",
        String::from_utf8(crate::core::apikey::checksum(body.as_bytes())).unwrap()
    );
    let text = format!("got {token} back");
    let on = redactor();
    assert_eq!(ids(&on, &text), vec![apikey::RULE_ID]);
    assert!(on.rule_ids().iter().any(|i| &**i == apikey::RULE_ID));

    let off = Redactor::new(Config {
        disabled: vec![apikey::RULE_ID.into()],
        use_global_known: false,
        ..Config::default()
    })
    .unwrap();
    assert!(off.scan(text.as_bytes()).is_empty());
    assert_eq!(red(&off, &text), text);
    assert!(!off.rule_ids().iter().any(|i| &**i == apikey::RULE_ID));

    let listed = catalogue();
    assert_eq!(listed.len(), CATALOGUE.len() + 1);
    let last = listed.last().unwrap();
    assert_eq!(last.id, apikey::RULE_ID);
    assert!(last.anchors.iter().any(|a| a == "ks_"));
    assert!(is_builtin(apikey::RULE_ID) && is_builtin("jwt") && !is_builtin(KNOWN_RULE_ID));

    // The id is taken while the rule is on; disabled, a custom rule may replace it.
    let custom = |disabled: Vec<String>| {
        Redactor::new(Config {
            disabled,
            custom: vec![CustomRule {
                id: apikey::RULE_ID.into(),
                pattern: r"\bks_[0-9A-Za-z]{46}\b".into(),
                anchors: vec!["ks_".into()],
            }],
            use_global_known: false,
            ..Config::default()
        })
    };
    assert!(matches!(custom(vec![]), Err(RedactError::DuplicateRule(_))));
    let replaced = custom(vec![apikey::RULE_ID.into()]).unwrap();
    assert_eq!(ids(&replaced, &text), vec![apikey::RULE_ID]);
}

#[test]
fn utf8_stays_valid() {
    let r = redactor();
    let text = "mot de passe: password=été-ünïcødé-secret fin";
    let out = r.redact(text.as_bytes());
    let s = std::str::from_utf8(&out).expect("valid UTF-8");
    assert!(!s.contains("ünïcødé"), "{s}");
}

#[test]
fn private_key_block_whole_or_fragment() {
    let r = redactor();
    let mut rng = Rng(3);
    let block = expand(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{B:70}\n{B:70}\n-----END OPENSSH PRIVATE KEY-----",
        &mut rng,
    );
    assert_eq!(
        red(&r, &format!("key:\n{block}\nafter")),
        "key:\n[REDACTED:private_key]\nafter"
    );
    let trunc = expand("\"-----BEGIN PRIVATE KEY-----\\n{B:64}\\n{B:64}", &mut rng);
    let out = red(&r, &format!("{trunc}\", x"));
    assert_eq!(out, "\"[REDACTED:private_key_fragment]\", x");
}

#[test]
fn streaming_windows_catch_straddling_secrets() {
    let r = redactor();
    let mut rng = Rng(99);
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!("line {i} ok some text here\n"));
        if i % 37 == 0 {
            text.push_str(&format!(
                "token {} and password=pw{} and redis://:{}@h/\n",
                expand("ghp_{A:30}{GH}", &mut rng),
                i,
                expand("{A:12}", &mut rng)
            ));
        }
    }
    let whole = r.redact(text.as_bytes()).into_owned();
    let data = text.as_bytes();
    for (chunk, overlap, ctx) in [(64usize, 48usize, 40usize), (100, 60, 50), (257, 70, 64)] {
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut emit_from = 0;
        let mut pos = 0;
        while pos < data.len() {
            let take = chunk.min(data.len() - pos);
            buf.extend_from_slice(&data[pos..pos + take]);
            pos += take;
            let last = pos == data.len();
            let emit_to = if last {
                buf.len()
            } else {
                buf.len().saturating_sub(overlap)
            };
            if emit_to <= emit_from {
                continue;
            }
            let (o, end) = r.redact_window(&buf, emit_from, emit_to);
            out.extend_from_slice(&o);
            let keep = end.saturating_sub(ctx);
            buf.drain(..keep);
            emit_from = end - keep;
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole),
            "chunk {chunk}"
        );
    }
}

#[test]
fn pseudo_random_input_never_panics_and_round_trips() {
    let r = redactor();
    r.add_secret(b"abcdef-known");
    let mut rng = Rng(42);
    let alphabet = b"abcAKIA_ghp-:/@=\"' \n\\x0123456789eyJ.%+[]sk-ant";
    for _ in 0..2000 {
        let len = (rng.next() % 300) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
        let out = r.redact(&data);
        let plan = r.plan(&data);
        let mut direct = vec![0u8; plan.out_len()];
        plan.write(&data, &mut direct);
        assert_eq!(direct.as_slice(), out.as_ref());
        let again = r.redact(&out);
        assert_eq!(
            out,
            again,
            "not idempotent on {:?}",
            String::from_utf8_lossy(&data)
        );
        let findings = r.scan(&data);
        if findings.is_empty() {
            assert_eq!(out.as_ref(), data.as_slice());
        }
        let mut prev = 0;
        for f in &findings {
            assert!(f.start >= prev && f.start < f.end && f.end <= data.len());
            prev = f.end;
        }
    }
}

/// Throughput probe on a corpus written by bench/bench_redact.py; run with
/// `cargo test --release --lib redact_speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn redact_speed() {
    let Ok(data) = std::fs::read("/tmp/corpus32.bin") else {
        return;
    };
    for (name, r) in [
        ("all", redactor()),
        (
            "age only",
            Redactor::new(Config {
                disabled: CATALOGUE
                    .iter()
                    .filter(|d| d.id != "age_secret_key")
                    .map(|d| d.id.to_owned())
                    .collect(),
                use_global_known: false,
                ..Config::default()
            })
            .unwrap(),
        ),
    ] {
        let mut best = f64::MAX;
        let mut best_plan = f64::MAX;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let n = r.scan(&data).len();
            best = best.min(t.elapsed().as_secs_f64());
            assert!(n < data.len());
            let t = std::time::Instant::now();
            let p = r.plan(&data);
            best_plan = best_plan.min(t.elapsed().as_secs_f64());
            assert!(p.out_len() > 0);
        }
        let mb = data.len() as f64 / 1e6;
        eprintln!(
            "{name}: scan {:.0} MB/s, plan {:.0} MB/s",
            mb / best,
            mb / best_plan
        );
    }
}

/// Debug output names the mode and counts, never a fingerprint key.
#[test]
fn debug_never_shows_the_fingerprint_key() {
    assert_eq!(format!("{:?}", Mode::Mask), "Mask");
    assert_eq!(
        format!("{:?}", Mode::Partial { tail: 4 }),
        "Partial { tail: 4 }"
    );
    let key = b"fingerprint-key-0123456789".to_vec();
    let mode = Mode::Fingerprint {
        key: Zeroizing::new(key.clone()),
    };
    assert_eq!(format!("{mode:?}"), "Fingerprint { key: [redacted] }");
    let r = Redactor::new(Config {
        mode,
        use_global_known: false,
        ..Config::default()
    })
    .unwrap();
    let text = format!("{r:?}");
    assert!(text.starts_with("Redactor { rules: "), "{text}");
    assert!(text.contains("known_values: 0"), "{text}");
    assert!(
        text.contains("[redacted]") && !text.contains("fingerprint-key"),
        "{text}"
    );
}

/// Each configuration refusal, with the rule id it names.
#[test]
fn config_errors_name_the_rule() {
    let custom = |id: &str, pattern: &str| Config {
        custom: vec![CustomRule {
            id: id.into(),
            pattern: pattern.into(),
            anchors: vec![],
        }],
        use_global_known: false,
        ..Config::default()
    };
    let err = |c: Config| Redactor::new(c).unwrap_err().to_string();
    assert_eq!(
        err(Config {
            disabled: vec!["no-such-rule".into()],
            ..Config::default()
        }),
        "unknown rule id \"no-such-rule\""
    );
    assert_eq!(
        err(custom(CATALOGUE[0].id, "x")),
        format!("rule id {:?} is already used", CATALOGUE[0].id)
    );
    assert_eq!(err(custom("", "x")), "rule id \"\" is already used");
    assert_eq!(
        err(custom("has space", "x")),
        "custom rule ids may hold only letters, digits, '_' and '-'"
    );
    assert_eq!(
        err(custom("my_rule-1", "(unclosed")),
        "the pattern of rule \"my_rule-1\" does not compile"
    );
    assert!(Redactor::new(custom("my_rule-1", "secret=[a-z]{8}")).is_ok());
}
