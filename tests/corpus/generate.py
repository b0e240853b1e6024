"""Labelled corpus generator: realistic web-app log lines, made-up secrets in real shapes, hard negatives.

Every secret is generated here, independently of the engine's own templates, with valid
checksums where the format has one. Each line is returned with the exact secret strings it
contains, so recall ("is every labelled secret gone?") and false positives ("did anything fire
on a line with no secret?") can be measured. Run as a script to write a corpus file:

    python tests/corpus/generate.py --lines 100000 --out /tmp/corpus.log
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass
class Line:
    text: str
    secrets: list[str] = field(default_factory=list)
    kind: str = ""


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        out = BASE62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def github_like(rng: random.Random, prefix: str) -> str:
    body = _s(rng, ALNUM, 30)
    return prefix + body + _base62(zlib.crc32(body.encode()), 6)


def _jwt(rng: random.Random) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    header = enc({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    payload = enc({"sub": str(rng.randrange(10**9)), "iat": 1_700_000_000 + rng.randrange(10**6)})
    return f"{header}.{payload}.{_s(rng, B64URL, 43)}"


def _pem(rng: random.Random) -> str:
    kind = rng.choice(["RSA ", "EC ", "", "OPENSSH "])
    body = "\n".join(_s(rng, B64, 64) for _ in range(rng.randrange(4, 12)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


# (kind, generator of the secret, template placing it in a log line with {s})
TokenGen = Callable[[random.Random], str]
FORMATS: list[tuple[str, TokenGen, str]] = [
    ("github_pat", lambda r: github_like(r, "ghp_"), "git clone https://{s}@github.com/acme/app.git"),
    ("github_oauth", lambda r: github_like(r, "gho_"), "oauth exchange ok token={s}"),
    ("github_app", lambda r: github_like(r, "ghs_"), 'installation token "{s}" expires in 3600'),
    ("npm", lambda r: github_like(r, "npm_"), "//registry.npmjs.org/:_authToken={s}"),
    (
        "github_fine_grained",
        lambda r: f"github_pat_{_s(r, ALNUM, 22)}_{_s(r, ALNUM, 59)}",
        "GH_TOKEN {s} loaded",
    ),
    (
        "aws_key_id",
        lambda r: r.choice(["AKIA", "ASIA"]) + _s(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "botocore credentials access_key_id={s} region=eu-west-1",
    ),
    ("aws_secret", lambda r: _s(r, B64[:-2] + "+/", 40), "aws_secret_access_key = {s}"),
    ("gitlab", lambda r: "glpat-" + _s(r, B64URL, 20), "PRIVATE-TOKEN: {s}"),
    ("stripe", lambda r: "sk_live_" + _s(r, ALNUM, r.choice([24, 34, 99])), "stripe.api_key set to {s}"),
    ("stripe_restricted", lambda r: "rk_live_" + _s(r, ALNUM, 24), "using key {s} for refunds"),
    (
        "slack_bot",
        lambda r: f"xoxb-{_s(r, string.digits, 12)}-{_s(r, string.digits, 13)}-{_s(r, ALNUM, 24)}",
        "slack client init token={s}",
    ),
    (
        "slack_webhook",
        lambda r: (
            f"https://hooks.slack.com/services/T{_s(r, 'ABCDEFGHJK0123456789', 8)}/"
            f"B{_s(r, 'ABCDEFGHJK0123456789', 10)}/{_s(r, ALNUM, 24)}"
        ),
        "posting alert to {s}",
    ),
    ("google_api", lambda r: "AIza" + _s(r, B64URL, 35), "GET /maps/api/geocode/json?address=x&key={s} 200"),
    ("openai", lambda r: f"sk-proj-{_s(r, B64URL, 74)}T3BlbkFJ{_s(r, B64URL, 74)}", "OPENAI_API_KEY={s}"),
    ("anthropic", lambda r: f"sk-ant-api03-{_s(r, B64URL, 93)}AA", "client = Anthropic(api_key='{s}')"),
    ("sendgrid", lambda r: f"SG.{_s(r, B64URL, 22)}.{_s(r, B64URL, 43)}", "mail backend key {s}"),
    (
        "pypi",
        lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, B64URL, 140),
        "twine upload -u __token__ -p {s} dist/*",
    ),
    ("huggingface", lambda r: "hf_" + _s(r, string.ascii_letters, 34), "HF_TOKEN={s} huggingface-cli login"),
    ("jwt", _jwt, "GET /api/me 200 auth={s}"),
    ("bearer", lambda r: _s(r, ALNUM + "._-", 48), 'headers={{"Authorization": "Bearer {s}"}}'),
    (
        "basic",
        lambda r: base64.b64encode(f"svc:{_s(r, ALNUM, 16)}".encode()).decode(),
        "> Authorization: Basic {s}",
    ),
    ("pem", _pem, "loaded key:\n{s}"),
    (
        "azure_storage",
        lambda r: _s(r, B64[:-2] + "+/", 86) + "==",
        "conn=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={s};EndpointSuffix=core.windows.net",
    ),
    ("datadog", lambda r: _s(r, HEX, 32), "DD_API_KEY={s} agent starting"),
    ("redis_url", lambda r: _s(r, ALNUM, 24), "connecting to rediss://:{s}@cache.internal:6380/0"),
    (
        "postgres_url",
        lambda r: _s(r, ALNUM + "!*", 18),
        "DATABASE_URL=postgresql://app:{s}@db.internal:5432/app",
    ),
    ("amqp_url", lambda r: _s(r, ALNUM, 14), "broker amqp://celery:{s}@mq:5672//"),
    ("password_param", lambda r: _s(r, ALNUM + "!$#", 14), "POST /login username=bob&password={s}&next=/"),
    ("api_key_header", lambda r: _s(r, HEX, 40), "X-Api-Key: {s}"),
    ("json_secret", lambda r: _s(r, ALNUM, 32), '{{"client_id": "web", "client_secret": "{s}"}}'),
    ("cookie", lambda r: _s(r, "abcdefghijklmnopqrstuvwxyz0123456789", 32), "Cookie: sessionid={s}; lang=en"),
    ("twilio", lambda r: "SK" + _s(r, HEX, 32), "twilio api key {s}"),
    ("mailgun", lambda r: "key-" + _s(r, HEX, 32), "mailgun key-auth {s}"),
    ("shopify", lambda r: "shpat_" + _s(r, "abcdef0123456789", 32), "shopify token {s}"),
    ("age", lambda r: "AGE-SECRET-KEY-1" + _s(r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), "age key {s}"),
    ("databricks", lambda r: "dapi" + _s(r, HEX, 32), "DATABRICKS_TOKEN: {s}"),
    ("digitalocean", lambda r: "dop_v1_" + _s(r, HEX, 64), "doctl auth init -t {s}"),
    ("docker", lambda r: "dckr_pat_" + _s(r, B64URL, 27), "docker login -u ci -p {s}"),
    ("telegram", lambda r: f"{_s(r, string.digits, 10)}:AA{_s(r, B64URL, 33)}", "bot token {s} polling"),
]


def _ts(rng: random.Random) -> str:
    day, hour, minute, sec = rng.randrange(1, 29), rng.randrange(24), rng.randrange(60), rng.randrange(60)
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}Z"


PATHS = ["/api/v1/users", "/api/v1/orders", "/static/app.js", "/health", "/login", "/api/v2/search", "/"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]


def _access(rng: random.Random) -> str:
    path = rng.choice(PATHS)
    if rng.random() < 0.4:
        path += f"?page={rng.randrange(1, 50)}&sort=created_at"
    return (
        f'10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)} - - [{_ts(rng)}] "'
        f'{rng.choice(["GET", "POST", "PUT"])} {path} HTTP/1.1" {rng.choice([200, 200, 201, 304, 404, 500])} '
        f'{rng.randrange(100, 90000)} "https://app.example.com{rng.choice(PATHS)}" "{rng.choice(AGENTS)}"'
    )


def _json_log(rng: random.Random) -> str:
    return json.dumps(
        {
            "ts": _ts(rng),
            "level": rng.choice(["info", "info", "warning", "debug"]),
            "logger": rng.choice(["app.views", "app.tasks", "django.request", "celery.worker"]),
            "msg": rng.choice(["cache miss", "order created", "task finished", "user logged in", "retrying"]),
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": rng.randrange(10**6),
            "elapsed_ms": round(rng.random() * 300, 2),
            "max_tokens": 1024,
            "token_type": "bearer",
        }
    )


APP_EVENTS = [
    "processed batch",
    "session refreshed for user",
    "password reset requested for",
    "token validated for",
]


def _app_log(rng: random.Random) -> str:
    return (
        f"{_ts(rng)} {rng.choice(['INFO', 'DEBUG', 'WARNING'])} [{rng.choice(['worker-1', 'web.3'])}] "
        f"{rng.choice(APP_EVENTS)} "
        f"{rng.randrange(10**5)} in {rng.randrange(1, 900)}ms"
    )


def _traceback(rng: random.Random) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/app/views.py", line {rng.randrange(10, 900)}, in handler\n'
        "    result = service.call(request)\n"
        f'  File "/srv/app/service.py", line {rng.randrange(10, 900)}, in call\n'
        "    raise TimeoutError('upstream did not answer')\n"
        "TimeoutError: upstream did not answer"
    )


# Hard negatives: high-entropy strings that are not secrets.
def _negative(rng: random.Random) -> str:
    choice = rng.randrange(8)
    if choice == 0:
        return f"request {uuid.UUID(int=rng.getrandbits(128), version=4)} finished"
    if choice == 1:
        return f"deployed commit {_s(rng, HEX, 40)} (short {_s(rng, HEX, 7)})"
    if choice == 2:
        return f"artifact sha256:{_s(rng, HEX, 64)} size={rng.randrange(10**7)}"
    if choice == 3:
        png = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(180))).decode()
        return f'<img src="data:image/png;base64,{png}">'
    if choice == 4:
        return (
            'function t(e){var n=e.token||"";return n.length>0?fetch("/api",{headers:{"X-CSRF":n}})'
            ":null}var password_min=8,secretSauce=function(a){return a*2};"
        )
    if choice == 5:
        return f'ETag: "{_s(rng, HEX, 32)}" Content-MD5: {base64.b64encode(rng.randbytes(16)).decode()}'
    if choice == 6:
        return f"order {rng.randrange(10**12)} total {rng.randrange(10**6)}.{rng.randrange(100):02d} EUR"
    return f"integrity sha384-{base64.b64encode(rng.randbytes(48)).decode()} crossorigin"


def generate(lines: int, seed: int = 1, secret_every: int = 200) -> list[Line]:
    """``lines`` records (tracebacks count as one), about one secret per ``secret_every``."""
    rng = random.Random(seed)
    out: list[Line] = []
    makers = [_access] * 5 + [_json_log] * 3 + [_app_log] * 3 + [_negative] * 2
    for _ in range(lines):
        if rng.randrange(secret_every) == 0:
            kind, gen, template = rng.choice(FORMATS)
            secret = gen(rng)
            out.append(Line(f"{_ts(rng)} WARNING {template.format(s=secret)}", [secret], kind))
        elif rng.randrange(400) == 0:
            out.append(Line(_traceback(rng)))
        else:
            out.append(Line(rng.choice(makers)(rng)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        for line in generate(args.lines, args.seed):
            fh.write(line.text + "\n")


if __name__ == "__main__":
    main()
