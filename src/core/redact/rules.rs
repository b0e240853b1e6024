//! The built-in catalogue: token formats, each with literal anchors, a regex and an optional check.
//!
//! A rule is only evaluated near one of its anchors (a literal the token must contain), so the
//! whole catalogue costs one Aho-Corasick pass plus a few short regex runs per hit. The secret
//! is the `s` capture group; text around it (a key name, a scheme) is context and stays.

/// Post-match validation, run on the `s` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The regex alone decides.
    None,
    /// GitHub/npm CRC-32 in the last six base62 characters.
    GithubCrc,
    /// GitLab tokens: in the routable framing (`<prefix><base64url>.[01.]<2 base36 length><7
    /// base36 CRC-32>`) the length and the CRC-32 must verify; the older 20-character form has
    /// no checksum and is matched by shape.
    GitlabRoutable,
    /// The first segment must be a JSON header with "alg".
    Jwt,
    /// `key = value` pairs: the key must be sensitive, the value must not be a placeholder.
    KeyValue,
    /// A value after a fixed header or key: reject placeholders.
    Value,
    /// `scheme://user:pass@host`: matched by hand, not by regex (see `engine::url_password`).
    UrlPassword,
}

pub struct RuleDef {
    pub id: &'static str,
    pub anchors: &'static [&'static str],
    /// Anchors must match case-sensitively (`SK`, `AKIA`); otherwise ASCII case is ignored.
    pub case_sensitive: bool,
    /// How far before the anchor's start the match may begin.
    pub back: usize,
    /// How far after the anchor's start the match may end.
    pub fwd: usize,
    pub pattern: &'static str,
    pub check: Check,
    /// A template for a synthetic example, expanded by tests (see `tests::expand`).
    pub example: &'static str,
}

macro_rules! prefixed {
    ($id:literal, [$($a:literal),+], $fwd:literal, $pat:literal, $ex:literal) => {
        RuleDef {
            id: $id,
            anchors: &[$($a),+],
            case_sensitive: true,
            back: 0,
            fwd: $fwd,
            pattern: $pat,
            check: Check::None,
            example: $ex,
        }
    };
    ($id:literal, [$($a:literal),+], $fwd:literal, $pat:literal, $ex:literal, $check:ident) => {
        RuleDef {
            id: $id,
            anchors: &[$($a),+],
            case_sensitive: true,
            back: 0,
            fwd: $fwd,
            pattern: $pat,
            check: Check::$check,
            example: $ex,
        }
    };
}

// Trailing context: fixed-length tokens must not be the head of a longer random string.
// `(?:[^A-Za-z0-9_-]|$)` is used where `\b` would be wrong because the alphabet has `-`.

pub static CATALOGUE: &[RuleDef] = &[
    // ---- cloud providers
    RuleDef {
        id: "aws_access_key_id",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA"],
        case_sensitive: true,
        back: 0,
        fwd: 24,
        pattern: r"\b(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        check: Check::None,
        example: "AKIA{U:16}",
    },
    RuleDef {
        id: "aws_secret_access_key",
        anchors: &["secret_access_key", "secretaccesskey", "aws_secret_key"],
        case_sensitive: false,
        back: 8,
        fwd: 110,
        pattern: r#"(?i)(?:aws_?)?secret_?(?:access_?)?key["']?\s{0,4}[:=]>?\s{0,4}["']?(?P<s>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        check: Check::Value,
        example: "aws_secret_access_key = {B:40}\n",
    },
    RuleDef {
        id: "aws_session_token",
        anchors: &["aws_session_token", "x-amz-security-token", "sessiontoken"],
        case_sensitive: false,
        back: 4,
        fwd: 2200,
        pattern: r#"(?i)(?:aws_session_token|x-amz-security-token|sessiontoken)["']?\s{0,4}[:=]\s{0,4}["']?(?P<s>[A-Za-z0-9/+=]{100,})"#,
        check: Check::Value,
        example: "AWS_SESSION_TOKEN={B:220}\n",
    },
    RuleDef {
        id: "azure_storage_account_key",
        anchors: &["accountkey="],
        case_sensitive: false,
        back: 0,
        fwd: 110,
        pattern: r"(?i:AccountKey)=(?P<s>[A-Za-z0-9+/]{86}==)",
        check: Check::None,
        example: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={B:86}==;",
    },
    RuleDef {
        id: "azure_sas_signature",
        anchors: &["sig="],
        case_sensitive: true,
        back: 1,
        fwd: 140,
        pattern: r"[?&]sig=(?P<s>[A-Za-z0-9%+/=]{40,130})",
        check: Check::None,
        example: "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig={A:43}%3D",
    },
    RuleDef {
        id: "azure_ad_client_secret",
        anchors: &["Q~"],
        case_sensitive: true,
        back: 5,
        fwd: 40,
        pattern: r"(?:^|[^A-Za-z0-9_~.-])(?P<s>[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)",
        check: Check::None,
        example: " {A:3}8Q~{A:34} ",
    },
    prefixed!("google_api_key", ["AIza"], 40, r"\b(?P<s>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)", "AIza{W:35}"),
    prefixed!("google_oauth_client_secret", ["GOCSPX-"], 36, r"\b(?P<s>GOCSPX-[A-Za-z0-9_-]{28})(?:[^A-Za-z0-9_-]|$)", "GOCSPX-{W:28}"),
    prefixed!("google_oauth_access_token", ["ya29."], 2060, r"\b(?P<s>ya29\.[0-9A-Za-z_-]{20,})", "ya29.{W:120}"),
    RuleDef { id: "google_oauth_refresh_token", anchors: &["1//0"], case_sensitive: true, back: 1, fwd: 520, check: Check::None, pattern: r"(?:^|[^0-9A-Za-z/])(?P<s>1//0[0-9A-Za-z_-]{40,})", example: " 1//0{W:100}" },
    prefixed!("digitalocean_token", ["dop_v1_", "doo_v1_", "dor_v1_"], 72, r"\b(?P<s>do[opr]_v1_[a-f0-9]{64})\b", "dop_v1_{H:64}"),
    prefixed!("heroku_api_key", ["HRKU-"], 72, r"\b(?P<s>HRKU-[A-Za-z0-9_-]{58,64})(?:[^A-Za-z0-9_-]|$)", "HRKU-AA{W:58}"),
    prefixed!("cloudflare_origin_ca_key", ["v1.0-"], 180, r"\b(?P<s>v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b", "v1.0-{H:24}-{H:146}"),
    prefixed!("databricks_token", ["dapi"], 44, r"\b(?P<s>dapi[a-f0-9]{32}(?:-[0-9]{1,2})?)\b", "dapi{H:32}"),
    prefixed!("dynatrace_token", ["dt0c01."], 100, r"\b(?P<s>dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b", "dt0c01.{U:24}.{U:64}"),
    prefixed!("supabase_token", ["sbp_"], 48, r"\b(?P<s>sbp_[a-f0-9]{40})\b", "sbp_{H:40}"),
    prefixed!("planetscale_token", ["pscale_tkn_", "pscale_pw_", "pscale_oauth_"], 80, r"\b(?P<s>pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64})", "pscale_tkn_{A:43}"),
    prefixed!("flyio_token", ["fo1_"], 50, r"\b(?P<s>fo1_[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)", "fo1_{W:43}"),
    prefixed!("render_api_key", ["rnd_"], 40, r"\b(?P<s>rnd_[A-Za-z0-9]{32})\b", "rnd_{A:32}"),
    prefixed!("netlify_token", ["nfp_"], 44, r"\b(?P<s>nfp_[A-Za-z0-9]{36})\b", "nfp_{A:36}"),
    prefixed!("vault_token", ["hvs.", "hvb.", "hvr."], 210, r"\b(?P<s>hv[sbr]\.[A-Za-z0-9_-]{24,})", "hvs.{W:90}"),
    RuleDef { id: "terraform_cloud_token", anchors: &[".atlasv1."], case_sensitive: true, back: 15, fwd: 80, check: Check::None, pattern: r"\b(?P<s>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})", example: "{A:14}.atlasv1.{W:67}" },
    prefixed!("pulumi_token", ["pul-"], 48, r"\b(?P<s>pul-[a-f0-9]{40})\b", "pul-{H:40}"),
    prefixed!("doppler_token", ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."], 56, r"\b(?P<s>dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44})\b", "dp.pt.{A:43}"),
    prefixed!("tailscale_key", ["tskey-"], 90, r"\b(?P<s>tskey-(?:api|auth|client|scim|webhook)-[A-Za-z0-9]{8,20}-[A-Za-z0-9]{20,40})\b", "tskey-auth-{A:12}-{A:30}"),
    // ---- source forges and package registries
    prefixed!("github_pat", ["ghp_"], 44, r"\b(?P<s>ghp_[A-Za-z0-9]{36})\b", "ghp_{A:30}{GH}", GithubCrc),
    prefixed!("github_oauth_token", ["gho_"], 44, r"\b(?P<s>gho_[A-Za-z0-9]{36})\b", "gho_{A:30}{GH}", GithubCrc),
    prefixed!("github_user_to_server_token", ["ghu_"], 44, r"\b(?P<s>ghu_[A-Za-z0-9]{36})\b", "ghu_{A:30}{GH}", GithubCrc),
    prefixed!("github_server_to_server_token", ["ghs_"], 44, r"\b(?P<s>ghs_[A-Za-z0-9]{36})\b", "ghs_{A:30}{GH}", GithubCrc),
    prefixed!("github_refresh_token", ["ghr_"], 44, r"\b(?P<s>ghr_[A-Za-z0-9]{36})\b", "ghr_{A:30}{GH}", GithubCrc),
    prefixed!("github_fine_grained_pat", ["github_pat_"], 100, r"\b(?P<s>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b", "github_pat_{A:22}_{A:59}"),
    prefixed!("gitlab_pat", ["glpat-"], 330, r"\b(?P<s>glpat-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{20}))(?:[^A-Za-z0-9_.-]|$)", "glpat-{W:20}", GitlabRoutable),
    prefixed!("gitlab_deploy_token", ["gldt-"], 330, r"\b(?P<s>gldt-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{20}))(?:[^A-Za-z0-9_.-]|$)", "gldt-{W:20}", GitlabRoutable),
    prefixed!("gitlab_runner_token", ["glrt-", "glrtr-"], 330, r"\b(?P<s>glrtr?-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{20,}))(?:[^A-Za-z0-9_.-]|$)", "glrt-{W:20}", GitlabRoutable),
    prefixed!("gitlab_runner_registration_token", ["GR1348941"], 40, r"\b(?P<s>GR1348941[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)", "GR1348941{W:20}"),
    prefixed!("gitlab_pipeline_trigger_token", ["glptt-"], 330, r"\b(?P<s>glptt-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{20,40}))(?:[^A-Za-z0-9_.-]|$)", "glptt-{H:40}", GitlabRoutable),
    prefixed!("gitlab_feed_token", ["glft-"], 330, r"\b(?P<s>glft-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{20}))(?:[^A-Za-z0-9_.-]|$)", "glft-{W:20}", GitlabRoutable),
    prefixed!("gitlab_oauth_app_secret", ["gloas-"], 330, r"\b(?P<s>gloas-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[A-Za-z0-9_-]{64}))(?:[^A-Za-z0-9_.-]|$)", "gloas-{W:64}", GitlabRoutable),
    prefixed!("gitlab_ci_job_token", ["glcbt-"], 330, r"\b(?P<s>glcbt-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}))(?:[^A-Za-z0-9_.-]|$)", "glcbt-{A:2}_{W:20}", GitlabRoutable),
    prefixed!("gitlab_incoming_mail_token", ["glimt-"], 330, r"\b(?P<s>glimt-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[0-9a-zA-Z_-]{25}))(?:[^A-Za-z0-9_.-]|$)", "glimt-{W:25}", GitlabRoutable),
    prefixed!("gitlab_scim_token", ["glsoat-"], 330, r"\b(?P<s>glsoat-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[0-9a-zA-Z_-]{20}))(?:[^A-Za-z0-9_.-]|$)", "glsoat-{W:20}", GitlabRoutable),
    prefixed!("gitlab_agent_token", ["glagent-"], 330, r"\b(?P<s>glagent-(?:[A-Za-z0-9_-]{27,300}\.(?:01\.)?[0-9a-z]{9}|[0-9a-zA-Z_-]{50}))(?:[^A-Za-z0-9_.-]|$)", "glagent-{W:50}", GitlabRoutable),
    prefixed!("npm_token", ["npm_"], 44, r"\b(?P<s>npm_[A-Za-z0-9]{36})\b", "npm_{A:30}{GH}", GithubCrc),
    prefixed!("pypi_token", ["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"], 1100, r"\b(?P<s>pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,})", "pypi-AgEIcHlwaS5vcmc{W:70}"),
    prefixed!("rubygems_api_key", ["rubygems_"], 60, r"\b(?P<s>rubygems_[a-f0-9]{48})\b", "rubygems_{H:48}"),
    prefixed!("docker_hub_pat", ["dckr_pat_"], 40, r"\b(?P<s>dckr_pat_[A-Za-z0-9_-]{27})(?:[^A-Za-z0-9_-]|$)", "dckr_pat_{W:27}"),
    prefixed!("atlassian_api_token", ["ATATT3"], 260, r"\b(?P<s>ATATT3[A-Za-z0-9_=-]{150,})", "ATATT3xFfGF0{W:170}=1A2B3C4D"),
    prefixed!("postman_api_key", ["PMAK-"], 70, r"\b(?P<s>PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b", "PMAK-{H:24}-{H:34}"),
    prefixed!("linear_api_key", ["lin_api_"], 52, r"\b(?P<s>lin_api_[A-Za-z0-9]{40})\b", "lin_api_{A:40}"),
    prefixed!("sentry_token", ["sntrys_", "sntryu_"], 420, r"\b(?P<s>sntry(?:u_[a-f0-9]{64}|s_[A-Za-z0-9+/=_-]{60,}))", "sntryu_{H:64}"),
    prefixed!("contentful_token", ["CFPAT-"], 56, r"\b(?P<s>CFPAT-[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)", "CFPAT-{W:43}"),
    prefixed!("prefect_api_key", ["pnu_"], 44, r"\b(?P<s>pnu_[A-Za-z0-9]{36})\b", "pnu_{A:36}"),
    // ---- payments and commerce
    prefixed!("stripe_secret_key", ["sk_live_", "sk_test_"], 260, r"\b(?P<s>sk_(?:live|test)_[A-Za-z0-9]{24,})\b", "sk_live_{A:24}"),
    prefixed!("stripe_restricted_key", ["rk_live_", "rk_test_"], 260, r"\b(?P<s>rk_(?:live|test)_[A-Za-z0-9]{24,})\b", "rk_live_{A:99}"),
    prefixed!("stripe_webhook_secret", ["whsec_"], 100, r"\b(?P<s>whsec_[A-Za-z0-9+/]{32,88}={0,2})", "whsec_{A:32}"),
    prefixed!("square_access_token", ["EAAA", "sq0atp-"], 70, r"\b(?P<s>(?:EAAA|sq0atp-)[A-Za-z0-9_-]{22,60})(?:[^A-Za-z0-9_-]|$)", "EAAA{W:60}"),
    prefixed!("square_oauth_secret", ["sq0csp-"], 52, r"\b(?P<s>sq0csp-[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)", "sq0csp-{W:43}"),
    prefixed!("shopify_token", ["shpat_", "shpca_", "shppa_", "shpss_"], 40, r"\b(?P<s>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b", "shpat_{H:32}"),
    // ---- messaging and email
    prefixed!("slack_bot_token", ["xoxb-"], 80, r"\b(?P<s>xoxb-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{20,40})\b", "xoxb-{D:12}-{D:13}-{A:24}"),
    prefixed!("slack_user_token", ["xoxp-"], 110, r"\b(?P<s>xoxp-[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[a-f0-9]{28,40})\b", "xoxp-{D:12}-{D:12}-{D:13}-{H:32}"),
    prefixed!("slack_app_token", ["xapp-"], 120, r"\b(?P<s>xapp-[0-9]-[A-Z0-9]{8,12}-[0-9]{10,14}-[a-f0-9]{40,80})\b", "xapp-1-A{U:10}-{D:13}-{H:64}"),
    prefixed!("slack_token", ["xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe-", "xoxe."], 220, r"\b(?P<s>xox(?:[aors]-[0-9A-Za-z-]{10,}|e(?:\.xox[pb])?-[0-9]-[A-Za-z0-9]{100,}))", "xoxs-{D:10}-{A:40}"),
    RuleDef {
        id: "slack_webhook_url",
        anchors: &["hooks.slack.com/"],
        case_sensitive: true,
        back: 0,
        fwd: 170,
        pattern: r"hooks\.slack\.com/(?P<s>(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,150})",
        check: Check::None,
        example: "https://hooks.slack.com/services/T{U:10}/B{U:10}/{A:24}",
    },
    RuleDef {
        id: "discord_webhook_url",
        // Not `/api/webhooks/`: `/api` begins half the paths in an access log.
        anchors: &["discord"],
        case_sensitive: false,
        back: 0,
        fwd: 150,
        pattern: r"(?i:discord)(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<s>[A-Za-z0-9_-]{60,68})(?:[^A-Za-z0-9_-]|$)",
        check: Check::None,
        example: "https://discord.com/api/webhooks/{D:18}/{W:68}",
    },
    prefixed!("twilio_api_key", ["SK"], 36, r"\b(?P<s>SK[0-9a-f]{32})\b", "SK{H:32}"),
    prefixed!("sendgrid_api_key", ["SG."], 72, r"\b(?P<s>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)", "SG.{W:22}.{W:43}"),
    prefixed!("mailgun_api_key", ["key-"], 40, r"\b(?P<s>key-[0-9a-f]{32})\b", "key-{H:32}"),
    RuleDef {
        id: "mailchimp_api_key",
        anchors: &["-us"],
        case_sensitive: true,
        back: 32,
        fwd: 8,
        pattern: r"\b(?P<s>[0-9a-f]{32}-us[0-9]{1,2})\b",
        check: Check::None,
        example: "{H:32}-us12",
    },
    RuleDef {
        id: "telegram_bot_token",
        anchors: &[":AA"],
        case_sensitive: true,
        back: 11,
        fwd: 40,
        pattern: r"\b(?P<s>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?:[^A-Za-z0-9_-]|$)",
        check: Check::None,
        example: "{D:10}:AA{W:33}",
    },
    RuleDef {
        id: "firebase_cloud_messaging_key",
        anchors: &[":APA91b"],
        case_sensitive: true,
        back: 12,
        fwd: 150,
        pattern: r"\b(?P<s>AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134})",
        check: Check::None,
        example: "AAAA{W:7}:APA91b{W:134}",
    },
    prefixed!("facebook_access_token", ["EAA"], 410, r"\b(?P<s>EAA[A-Za-z0-9]{90,})\b", "EAAB{A:120}"),
    prefixed!("notion_token", ["secret_", "ntn_"], 52, r"\b(?P<s>secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35})\b", "ntn_{D:11}{A:35}"),
    prefixed!("new_relic_key", ["NRAK-", "NRII-"], 40, r"\b(?P<s>NR(?:AK|II)-[A-Za-z0-9]{19,32})\b", "NRAK-{U:27}"),
    RuleDef {
        id: "datadog_api_key",
        anchors: &["dd_api_key", "dd-api-key", "datadog_api_key", "dd_app_key", "dd-application-key", "datadog_app_key"],
        case_sensitive: false,
        back: 8,
        fwd: 100,
        pattern: r#"(?i)(?:dd|datadog)[_-]?(?:api|app(?:lication)?)[_-]?key["']?\s{0,4}[:=]\s{0,4}["']?(?P<s>[a-f0-9]{32,40})\b"#,
        check: Check::None,
        example: "DD_API_KEY={H:32}",
    },
    // ---- AI platforms
    RuleDef {
        id: "openai_api_key",
        anchors: &["T3BlbkFJ"],
        case_sensitive: true,
        back: 220,
        fwd: 220,
        pattern: r"\b(?P<s>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,})(?:[^A-Za-z0-9_-]|$)",
        check: Check::None,
        example: "sk-proj-{W:40}T3BlbkFJ{W:40}",
    },
    prefixed!("openai_project_key", ["sk-proj-", "sk-svcacct-", "sk-admin-"], 260, r"\b(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})(?:[^A-Za-z0-9_-]|$)", "sk-proj-{W:120}"),
    prefixed!("anthropic_api_key", ["sk-ant-api"], 130, r"\b(?P<s>sk-ant-api0[0-9]-[A-Za-z0-9_-]{80,120})(?:[^A-Za-z0-9_-]|$)", "sk-ant-api03-{W:93}AA"),
    prefixed!("anthropic_admin_key", ["sk-ant-admin"], 130, r"\b(?P<s>sk-ant-admin0[0-9]-[A-Za-z0-9_-]{80,120})(?:[^A-Za-z0-9_-]|$)", "sk-ant-admin01-{W:93}AA"),
    prefixed!("huggingface_token", ["hf_"], 40, r"\b(?P<s>hf_[A-Za-z]{34})\b", "hf_{L:34}"),
    prefixed!("groq_api_key", ["gsk_"], 60, r"\b(?P<s>gsk_[A-Za-z0-9]{52})\b", "gsk_{A:52}"),
    prefixed!("replicate_token", ["r8_"], 44, r"\b(?P<s>r8_[A-Za-z0-9]{37})\b", "r8_{A:37}"),
    prefixed!("perplexity_api_key", ["pplx-"], 56, r"\b(?P<s>pplx-[A-Za-z0-9]{48})\b", "pplx-{A:48}"),
    prefixed!("xai_api_key", ["xai-"], 88, r"\b(?P<s>xai-[A-Za-z0-9]{80})\b", "xai-{A:80}"),
    prefixed!("langsmith_api_key", ["lsv2_"], 60, r"\b(?P<s>lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})\b", "lsv2_pt_{H:32}_{H:10}"),
    // ---- observability and ops
    prefixed!("grafana_cloud_token", ["glc_"], 410, r"\b(?P<s>glc_[A-Za-z0-9+/]{32,}={0,2})", "glc_{B:80}=="),
    prefixed!("grafana_service_account_token", ["glsa_"], 50, r"\b(?P<s>glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})\b", "glsa_{A:32}_{H:8}"),
    prefixed!("onepassword_service_token", ["ops_eyJ"], 1100, r"\b(?P<s>ops_eyJ[A-Za-z0-9+/=_-]{100,})", "ops_eyJ{W:300}"),
    prefixed!("mapbox_secret_token", ["sk.eyJ"], 260, r"\b(?P<s>sk\.eyJ[A-Za-z0-9_-]{50,200}\.[A-Za-z0-9_-]{20,40})", "sk.eyJ{W:60}.{W:22}"),
    prefixed!("age_secret_key", ["AGE-SECRET-KEY-1"], 80, r"\b(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b", "AGE-SECRET-KEY-1{C:58}"),
    // ---- structured tokens and key material
    prefixed!("jwt", ["eyJ"], 8200, r"\b(?P<s>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)", "{JWT}", Jwt),
    RuleDef {
        id: "private_key",
        anchors: &["-----BEGIN"],
        case_sensitive: true,
        back: 0,
        fwd: 17000,
        pattern: r"(?P<s>-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?s:.)*?-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----)",
        check: Check::None,
        example: "-----BEGIN RSA PRIVATE KEY-----\n{B:64}\n{B:64}\n{B:20}=\n-----END RSA PRIVATE KEY-----\n",
    },
    RuleDef {
        // A key whose END line is missing (truncated log line, escaped newlines): take the
        // header and every base64 or header line after it, so no body line is left behind.
        id: "private_key_fragment",
        anchors: &["-----BEGIN"],
        case_sensitive: true,
        back: 0,
        fwd: 17000,
        pattern: r"(?P<s>-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:(?:\r?\n|\\r|\\n|[ \t])+(?:[A-Za-z0-9-]{1,30}: [^\r\n\\]+|[A-Za-z0-9+/=]{4,}))*)",
        check: Check::None,
        example: "-----BEGIN PRIVATE KEY-----\\n{B:64}\\n{B:30}",
    },
    // ---- generic: headers, URLs and key = value pairs
    RuleDef {
        id: "url_password",
        anchors: &["://"],
        case_sensitive: true,
        back: 0,
        fwd: 0,
        pattern: "",
        check: Check::UrlPassword,
        example: "redis://:{A:20}@cache.internal:6379/0",
    },
    RuleDef {
        id: "http_authorization",
        anchors: &["authorization"],
        case_sensitive: false,
        back: 0,
        fwd: 4400,
        pattern: r#"(?i)authorization["']?\s{0,4}[:=]\s{0,4}["']?(?:(?:bearer|basic|token|bot|digest|negotiate|ntlm|apikey|api-key|key|sso-key|dsn|hmac|signature|aws4-hmac-sha256|gitlab-ci-token)\s+)?(?P<s>[^\s"',;]{4,}(?:,\s{0,2}[A-Za-z]+=[^\s"',;]+)*)"#,
        check: Check::Value,
        example: "Authorization: Basic {B:24}\n",
    },
    RuleDef {
        id: "bearer_token",
        anchors: &["bearer"],
        case_sensitive: false,
        back: 0,
        fwd: 4200,
        pattern: r"(?i)\bbearer\s{1,4}(?P<s>[A-Za-z0-9._~+/-]{16,}=*)",
        check: Check::Value,
        example: "'auth': 'Bearer {A:40}'",
    },
    RuleDef {
        id: "http_cookie",
        anchors: &["cookie"],
        case_sensitive: false,
        back: 0,
        fwd: 8300,
        pattern: r#"(?i)\b(?:set-)?cookie["']?\s{0,4}[:=]\s{0,4}["']?(?P<s>[^\r\n"']+)"#,
        check: Check::Value,
        example: "Cookie: sessionid={A:32}; csrftoken={A:32}\n",
    },
    RuleDef {
        id: "secret_assignment",
        anchors: &[
            "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "api-key",
            "apikey", "access_key", "access-key", "accesskey", "private_key", "private-key",
            "privatekey", "credential", "session_id", "sessionid", "session_key", "signing_key",
            "encryption_key", "auth_key", "master_key",
        ],
        case_sensitive: false,
        back: 48,
        fwd: 1150,
        pattern: r#"(?i)(?P<k>[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|session[_-]?(?:id|key)|signing[_-]?key|encryption[_-]?key|auth[_-]?key|master[_-]?key)[A-Za-z0-9_.-]*)(?P<q>\\?["']?)\s{0,4}(?P<sep>:=|=>|=|:)\s{0,4}(?P<s>\\"[^"\\\r\n]*\\"|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'|[^\s&,;"'<>{}\[\]()]+)"#,
        check: Check::KeyValue,
        example: "db_password={A:12}&x=1",
    },
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::redact::checks::{base62, crc32};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    /// Deterministic xorshift, so examples are stable across runs and need no RNG crate.
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn pick(&mut self, alphabet: &[u8]) -> u8 {
            alphabet[(self.next() % alphabet.len() as u64) as usize]
        }
    }

    /// Expand an example template: `{A:n}` alnum, `{H:n}` hex, `{D:n}` digits, `{U:n}` upper
    /// base32-ish, `{B:n}` base64, `{W:n}` base64url, `{L:n}` letters, `{C:n}` bech32,
    /// `{GH}` GitHub checksum of the preceding 30 characters, `{JWT}` a signed-looking JWT.
    pub fn expand(template: &str, rng: &mut Rng) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').expect("unclosed");
            let spec = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if spec == "GH" {
                let random = out.as_bytes()[out.len() - 30..].to_vec();
                out.push_str(std::str::from_utf8(&base62(crc32(&random), 6)).unwrap());
                continue;
            }
            if spec == "JWT" {
                let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
                let p = URL_SAFE_NO_PAD
                    .encode(format!(r#"{{"sub":"{}","iat":1700000000}}"#, rng.next()));
                let s: String = (0..43)
                    .map(|_| {
                        rng.pick(
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                        ) as char
                    })
                    .collect();
                out.push_str(&format!("{h}.{p}.{s}"));
                continue;
            }
            let (kind, n) = spec.split_once(':').expect("bad spec");
            let n: usize = n.parse().unwrap();
            let alphabet: &[u8] = match kind {
                "A" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "H" => b"0123456789abcdef",
                "D" => b"0123456789",
                "U" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                "B" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                "W" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                "L" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "C" => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
                _ => panic!("unknown class {kind}"),
            };
            for _ in 0..n {
                out.push(rng.pick(alphabet) as char);
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn catalogue_is_large_and_ids_unique() {
        assert!(CATALOGUE.len() >= 60, "only {} rules", CATALOGUE.len());
        let mut ids: Vec<_> = CATALOGUE.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule ids");
        for r in CATALOGUE {
            assert!(!r.anchors.is_empty(), "{} has no anchor", r.id);
            if r.check != Check::UrlPassword {
                assert!(r.pattern.contains("(?P<s>"), "{} has no secret group", r.id);
            }
        }
    }
}
