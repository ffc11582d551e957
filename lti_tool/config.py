"""Settings, read once from ``LTI_TOOL_*`` environment variables (the admin interface) or a mapping (tests).

Every setting is listed in :data:`SETTINGS` with its variable, type, default and meaning; the README's
configuration reference is generated from the same table (``lti-tool config``), so the two cannot drift.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "LTI_TOOL_"
MIN_SECRET_LENGTH = 32
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """The configuration cannot work; the message tells the admin which variable to fix."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


IDENTITY_SHARING_CHOICES = ("id-only", "name", "name-and-email")


def _parse_identity_sharing(raw: str) -> str:
    value = raw.strip().lower()
    if value not in IDENTITY_SHARING_CHOICES:
        raise ValueError(f"expected one of {', '.join(IDENTITY_SHARING_CHOICES)}, got {raw!r}")
    return value


def _parse_retention_days(raw: str) -> int:
    value = int(raw.strip() or "0")
    if value < 0:
        raise ValueError(f"expected a number of days (0: keep everything), got {raw!r}")
    return value


@dataclass(frozen=True)
class Setting:
    """One admin-facing setting: its ``LTI_TOOL_`` name, how to parse it, and what it means."""

    name: str
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", str, "production (default), development or testing. Development allows a generated secret."),
    Setting("BASE_URL", str, "Public URL of the tool as the LMS and the browser see it, e.g. https://lti.school.org."),
    Setting("SECRET_KEY", str, "Signs URLs and cookies. Required in production; keep it secret and stable."),
    Setting("DATABASE_URL", str, "SQLAlchemy URL. Default: a SQLite file in the data directory. "
            "Production: postgresql+psycopg://user:pass@host/db."),
    Setting("DATA_DIR", str, "Folder for the SQLite file and generated development secrets (default ./instance)."),
    Setting("AUTO_APPROVE_DEPLOYMENTS", _parse_bool, "Approve unknown deployments of a known registration "
            "automatically (default false: they wait for an admin)."),
    Setting("JWT_LEEWAY_SECONDS", int, "Clock-skew tolerance for iat/exp of platform tokens (default 60)."),
    Setting("LOGIN_STATE_TTL_SECONDS", int, "How long an OIDC login may take before its state expires (default 600)."),
    Setting("LAUNCH_TTL_SECONDS", int, "How long a launch stays usable by the pages it opened (default 14400). "
            "At least LOGIN_STATE_TTL_SECONDS."),
    Setting("CONFIG_CACHE_SECONDS", int, "How long each process keeps registrations, deployments and activity "
            "settings before reading them again (default 30; 0: read them on every request). Changes made on the "
            "admin pages count at once in that process; a disabled deployment or registration is refused at once "
            "everywhere."),
    Setting("HTTP_TIMEOUT_SECONDS", float, "Timeout of every outbound HTTP request (default 10)."),
    Setting("PASSBACK_CONCURRENCY_PER_PLATFORM", int, "Scores each worker process sends at once to one LMS, over "
            "kept-alive connections (default 4)."),
    Setting("PASSBACK_LEASE_SECONDS", float, "How long a worker holds the scores it claimed; a worker that dies "
            "leaves them to the others after this (default 60; keep it well above HTTP_TIMEOUT_SECONDS)."),
    Setting("PROXY_COUNT", int, "Number of reverse proxies in front of the tool whose X-Forwarded-* headers "
            "are trusted (default 1)."),
    Setting("LOG_LEVEL", str, "Python log level (default INFO)."),
    Setting("LOG_FORMAT", str, "text (default) or json: one JSON object per line, each carrying the request id."),
    Setting("ALLOW_INSECURE_HTTP", _parse_bool, "Let production run on a plain http:// BASE_URL other than "
            "localhost (default false: browsers and LMSs would send launches and cookies unencrypted)."),
    Setting("METRICS_TOKEN", str, "If set, /metrics answers only requests with the header "
            "'Authorization: Bearer <token>' (default: unset, /metrics is open; block it at the proxy)."),
    Setting("KEY_OVERLAP_DAYS", int, "How long a rotated-out tool key stays published (default 7)."),
    Setting("ALLOW_PRIVATE_URLS", _parse_bool, "Let dynamic registration and platform key sets reach loopback and "
            "private-network addresses (default: false in production, true in development and testing, where the "
            "sandbox LMS runs on this machine)."),
    Setting("LMS_ADMIN_ACCESS", _parse_bool, "Let LMS administrators (institution/system Administrator role) open "
            "the admin pages from a launch (default true). Turn it off when one installation serves several "
            "schools: an LMS admin would otherwise manage the other schools' deployments too."),
    Setting("PROVIDERS", str, "The test providers offered, comma-separated: entry-point names (group "
            "lti_tool.providers) or module:Class paths (default: every installed provider)."),
    Setting("SHARE_LEARNER_IDENTITY", _parse_identity_sharing, "What the tool gives the test provider about a "
            "learner, unless an assessment says otherwise on the admin page: id-only (default: the "
            "LMS's opaque user id, nothing that names the learner), name, or name-and-email."),
    Setting("RETENTION_DAYS", _parse_retention_days, "Remove attempts, results, delivered or parked scores, "
            "launches, and users and memberships with nothing left, this many days after their last activity "
            "(the worker's housekeeping; the LMS gradebook keeps its grades, a score not yet delivered is never "
            "removed). Unset or 0 (default): keep everything."),
)


@dataclass(frozen=True)
class Settings:
    """The tool's configuration. Build it with :func:`load_settings`; pass it to ``create_app``."""

    env: str = "production"
    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = ""
    database_url: str = ""
    data_dir: str = "instance"
    auto_approve_deployments: bool = False
    jwt_leeway_seconds: int = 60
    login_state_ttl_seconds: int = 600
    launch_ttl_seconds: int = 4 * 3600
    config_cache_seconds: int = 30
    http_timeout_seconds: float = 10.0
    passback_concurrency_per_platform: int = 4
    passback_lease_seconds: float = 60.0
    proxy_count: int = 1
    log_level: str = "INFO"
    log_format: str = "text"
    allow_insecure_http: bool = False
    metrics_token: str = ""
    key_overlap_days: int = 7
    lms_admin_access: bool = True
    allow_private_urls: bool | None = None
    providers: str = ""
    share_learner_identity: str = "id-only"
    retention_days: int = 0
    # Not admin settings: set by the sandbox demo and tests only.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reaches_private_urls(self) -> bool:
        """Whether URLs that others choose may lead to non-public addresses (see ``ALLOW_PRIVATE_URLS``)."""
        return self.allow_private_urls if self.allow_private_urls is not None else self.env != "production"

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    def url(self, path: str) -> str:
        """Absolute public URL for ``path`` (which starts with ``/``)."""
        return self.base_url.rstrip("/") + path


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
                  *, check_safety: bool = True) -> Settings:
    """Read ``LTI_TOOL_*`` variables, apply ``overrides`` (lower-case field names), and check the result.

    ``check_safety=False`` (``lti-tool doctor``) skips the production checks of :func:`production_problems`, so
    that each can be reported on its own line.

    :raise ConfigError: a value does not parse, or the configuration is unsafe for production.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(ENV_PREFIX + setting.name)
        if raw is None:
            continue
        try:
            values[setting.name.lower()] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{setting.name}: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    for key, value in (overrides or {}).items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = value
    settings = _complete(Settings(**values))
    if check_safety:
        problems = production_problems(settings)
        if problems:
            raise ConfigError(problems[0])
    return settings


def _complete(settings: Settings) -> Settings:
    if settings.env not in {"production", "development", "testing"}:
        raise ConfigError(f"{ENV_PREFIX}ENV must be production, development or testing, not {settings.env!r}")
    if not settings.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_PREFIX}BASE_URL must start with http:// or https://")
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"{ENV_PREFIX}LOG_FORMAT must be text or json, not {settings.log_format!r}")
    if settings.share_learner_identity not in IDENTITY_SHARING_CHOICES:
        raise ConfigError(f"{ENV_PREFIX}SHARE_LEARNER_IDENTITY must be one of {', '.join(IDENTITY_SHARING_CHOICES)}")
    if settings.retention_days < 0:
        raise ConfigError(f"{ENV_PREFIX}RETENTION_DAYS must be 0 (keep everything) or a number of days")
    if settings.config_cache_seconds < 0:
        raise ConfigError(f"{ENV_PREFIX}CONFIG_CACHE_SECONDS must be 0 or more, not {settings.config_cache_seconds}")
    # A used login is recognised by the launch row that records its login id, so that row must outlive the
    # login's state: otherwise a state still within its lifetime could be replayed once its launch is purged.
    if settings.launch_ttl_seconds < settings.login_state_ttl_seconds:
        raise ConfigError(f"{ENV_PREFIX}LAUNCH_TTL_SECONDS ({settings.launch_ttl_seconds}) must be at least "
                          f"{ENV_PREFIX}LOGIN_STATE_TTL_SECONDS ({settings.login_state_ttl_seconds}): a launch "
                          "remembers that its login was used.")
    data_dir = Path(settings.data_dir)
    database_url = settings.database_url or f"sqlite:///{(data_dir / 'lti-tool.sqlite3').resolve()}"
    secret_key = settings.secret_key
    if not secret_key and settings.env != "production":
        secret_key = _development_secret(data_dir) if settings.env == "development" else secrets.token_urlsafe(32)
    return Settings(**{**settings.__dict__, "database_url": database_url, "secret_key": secret_key})


# How to make a secret, not one (S105 takes any string named like a secret for one).
_GENERATE_SECRET = "generate one with `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"  # noqa: S105


def secret_key_problem(settings: Settings) -> str | None:
    """Why production must not run with this secret key (missing or shorter than 32 characters), or None."""
    if settings.env != "production":
        return None
    if not settings.secret_key:
        return f"{ENV_PREFIX}SECRET_KEY is not set. Production refuses to start without it: {_GENERATE_SECRET}."
    if len(settings.secret_key) < MIN_SECRET_LENGTH:
        return (f"{ENV_PREFIX}SECRET_KEY is too short ({len(settings.secret_key)} characters): use at least "
                f"{MIN_SECRET_LENGTH} random characters; {_GENERATE_SECRET}.")
    return None


def is_local_url(url: str) -> bool:
    """Whether ``url`` names this machine (localhost, 127.0.0.0/8, ::1): a trial nobody else reaches."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(settings: Settings) -> str | None:
    """Why production must not run on this base URL (plain http to another machine), or None."""
    if settings.env != "production" or settings.is_https or settings.allow_insecure_http \
            or is_local_url(settings.base_url):
        return None
    return (f"{ENV_PREFIX}BASE_URL is plain http ({settings.base_url}): launches, cookies and callbacks would "
            f"cross the network unencrypted. Give the https:// address the proxy serves, or set "
            f"{ENV_PREFIX}ALLOW_INSECURE_HTTP=true if a trusted network in front of the tool really is plain http.")


def production_problems(settings: Settings) -> list[str]:
    """Every reason production refuses to start with ``settings`` (empty outside production)."""
    return [problem for problem in (secret_key_problem(settings), base_url_problem(settings)) if problem]


def startup_warnings(settings: Settings) -> list[str]:
    """What an admin should know when production starts with ``settings`` (it starts anyway)."""
    warnings = []
    if settings.env == "production" and settings.database_url.startswith("sqlite"):
        warnings.append("production is running on SQLite (" + settings.database_url.removeprefix("sqlite:///")
                        + "): fine for one machine, but only one process writes at a time and every web and worker "
                        "process must run on this machine. Use PostgreSQL (LTI_TOOL_DATABASE_URL) for more.")
    return warnings


def _development_secret(data_dir: Path) -> str:
    """A random secret kept in the data directory, so a development server keeps it across restarts."""
    path = data_dir / "development-secret-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def describe_settings() -> str:
    """Plain-text reference of every environment variable, for ``lti-tool config`` and the README."""
    defaults = Settings()
    lines = []
    for setting in SETTINGS:
        default = getattr(defaults, setting.name.lower())
        lines.append(f"{ENV_PREFIX}{setting.name} (default: {default!r})\n    {setting.help}")
    return "\n".join(lines)
