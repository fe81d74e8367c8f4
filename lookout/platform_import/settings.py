"""A run's settings: credentials from the environment or a ``.env`` file, the resolved flags."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lookout.httpretry import RetryPolicy
from lookout.platform_import.payloads import MODEL_NAME

REQUIRED = (
    "PLATFORM_LOGIN",
    "PLATFORM_PASSWORD",
    "PLATFORM_ADMIN_LOGIN",
    "PLATFORM_ADMIN_PASSWORD",
)

# Lookout stores a frame only after fetching it from the platform itself (with its own retries).
LOOKOUT_MIN_TIMEOUT_S = 60.0
VIA_SERVER = "via-server"
VIA_IMPORTER = "via-importer"


class ConfigError(ValueError):
    """A configuration problem the user must fix (exit code 2)."""


@dataclass(frozen=True)
class Credential:
    """One platform login."""

    login: str
    password: str = field(repr=False)


class ImporterSettings(BaseSettings):
    """Environment variables (or ``.env`` entries) the importer reads."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    platform_login: str | None = Field(None, alias="PLATFORM_LOGIN")
    platform_password: SecretStr | None = Field(None, alias="PLATFORM_PASSWORD")
    platform_admin_login: str | None = Field(None, alias="PLATFORM_ADMIN_LOGIN")
    platform_admin_password: SecretStr | None = Field(None, alias="PLATFORM_ADMIN_PASSWORD")
    # More organizations in one run: "login2:password2,login3:password3".
    platform_extra_credentials: SecretStr | None = Field(None, alias="PLATFORM_EXTRA_CREDENTIALS")
    lookout_api_key: SecretStr | None = Field(None, alias="LOOKOUT_API_KEY")

    def missing(self) -> list[str]:
        """Names of the required variables that are unset or empty."""
        values = {
            "PLATFORM_LOGIN": self.platform_login,
            "PLATFORM_PASSWORD": _plain(self.platform_password),
            "PLATFORM_ADMIN_LOGIN": self.platform_admin_login,
            "PLATFORM_ADMIN_PASSWORD": _plain(self.platform_admin_password),
        }
        return [name for name in REQUIRED if not (values[name] or "").strip()]

    def credentials(self) -> list[Credential]:
        """The organization logins: PLATFORM_LOGIN first, then PLATFORM_EXTRA_CREDENTIALS."""
        self.require()
        found = [Credential(self.platform_login or "", _plain(self.platform_password))]
        found += parse_extra_credentials(_plain(self.platform_extra_credentials))
        unique: dict[str, Credential] = {}
        for cred in found:
            unique.setdefault(cred.login, cred)
        return list(unique.values())

    def admin(self) -> Credential:
        """The admin login (organizations and every camera)."""
        self.require()
        return Credential(self.platform_admin_login or "", _plain(self.platform_admin_password))

    def require(self) -> None:
        """Raise ConfigError naming every missing variable."""
        missing = self.missing()
        if missing:
            raise ConfigError(
                "Missing platform credentials: set "
                + ", ".join(missing)
                + " in the environment or in a .env file"
            )


def _plain(secret: SecretStr | None) -> str:
    """The secret's value, or an empty string."""
    return secret.get_secret_value() if secret else ""


def parse_extra_credentials(text: str) -> list[Credential]:
    """``"login2:password2,login3:password3"`` (a password may contain ':' but not ',')."""
    found = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        login, sep, password = entry.partition(":")
        if not sep or not login.strip() or not password:
            raise ConfigError(
                "PLATFORM_EXTRA_CREDENTIALS must look like login2:password2,login3:password3 "
                f"(bad entry for {login.strip() or '?'!r})"
            )
        found.append(Credential(login.strip(), password))
    return found


@dataclass
class ImportOptions:
    """Everything one run needs (the command line's flags, resolved)."""

    date_from: date
    date_end: date
    url_api_platform: str
    url_api_annotation: str
    credentials: list[Credential] = field(default_factory=list)
    admin: Credential | None = None
    api_key: str | None = None
    detections_limit: int = 30
    detections_desc: bool = False
    confidence_threshold: float = 0.0
    iou_threshold: float = 0.3
    min_cluster_size: int = 1
    dry_run: bool = False
    skip_platform_fetch: bool = False
    concurrency: int = 8
    transfer: str = VIA_SERVER
    page_size: int = 50
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def days(self) -> list[date]:
        """Every day from date_from to date_end, both included."""
        span = (self.date_end - self.date_from).days
        return [self.date_from + timedelta(days=i) for i in range(span + 1)]

    def draft_params(self) -> dict[str, Any]:
        """The body of a draft request."""
        return {
            "confidence_threshold": self.confidence_threshold,
            "iou_threshold": self.iou_threshold,
            "min_cluster_size": self.min_cluster_size,
            "model_name": MODEL_NAME,
            "force": False,
        }

    def lookout_policy(self) -> RetryPolicy:
        """The policy of calls to Lookout: at least LOOKOUT_MIN_TIMEOUT_S per call.

        A frame posted to Lookout includes Lookout's own download of it from the platform.
        """
        return replace(self.policy, timeout_s=max(self.policy.timeout_s, LOOKOUT_MIN_TIMEOUT_S))
