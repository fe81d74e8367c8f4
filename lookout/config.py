"""Settings read from the environment and a `.env` file."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


@dataclass(frozen=True)
class QueueLimits:
    """What queueing a model over a project may do (`Settings.queue_limits`)."""

    allowed_models: tuple[str, ...] = ()
    max_per_image: int = 200
    batch_size: int = 500  # images examined, and analyses inserted, per transaction


class Settings(BaseSettings):
    """Everything Lookout can be configured with; names are the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path("data"), alias="LOOKOUT_DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    db_pool_size: int = Field(10, alias="LOOKOUT_DB_POOL_SIZE")
    db_max_overflow: int = Field(20, alias="LOOKOUT_DB_MAX_OVERFLOW")

    # Object storage: a local folder by default, or any S3-compatible service.
    storage_backend: Literal["local", "s3"] = Field("local", alias="STORAGE_BACKEND")
    storage_local_path: Path | None = Field(None, alias="STORAGE_LOCAL_PATH")
    s3_bucket: str = Field("lookout", alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(None, alias="S3_ENDPOINT_URL")
    # Presigned URLs are handed to clients outside the cluster, so they may need another host.
    s3_public_endpoint_url: str | None = Field(None, alias="S3_PUBLIC_ENDPOINT_URL")
    s3_region: str = Field("us-east-1", alias="S3_REGION")
    s3_access_key_id: str | None = Field(None, alias="S3_ACCESS_KEY_ID")
    s3_secret_access_key: SecretStr | None = Field(None, alias="S3_SECRET_ACCESS_KEY")
    s3_create_bucket: bool = Field(False, alias="S3_CREATE_BUCKET")

    # Base URL clients use to reach this server (for locally presigned URLs); request URL if unset.
    public_url: str | None = Field(None, alias="LOOKOUT_PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, alias="LOOKOUT_SECRET_KEY")

    # People arrive through a reverse proxy that sets these headers.
    proxy_user_header: str = Field("X-User-Email", alias="PROXY_USER_HEADER")
    proxy_secret_header: str = Field("X-Proxy-Secret", alias="PROXY_SECRET_HEADER")
    proxy_secret: SecretStr | None = Field(None, alias="PROXY_SECRET")
    local_mode: bool = Field(False, alias="LOOKOUT_LOCAL_MODE")
    local_user_email: str = Field("local-admin@localhost", alias="LOOKOUT_LOCAL_USER")
    # Host names besides localhost and loopback addresses a local-mode server answers for.
    local_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="LOOKOUT_LOCAL_HOSTS"
    )
    # Whether URLs the server is asked to fetch may point at loopback or private addresses
    # (SSRF); unset: only in local mode, where the caller is the machine's own user.
    fetch_allow_private: bool | None = Field(None, alias="LOOKOUT_FETCH_ALLOW_PRIVATE")

    # ML analysis API.
    ml_analysis_enabled: bool = Field(True, alias="ML_ANALYSIS_ENABLED")
    ml_callback_hmac_secret: SecretStr | None = Field(None, alias="ML_CALLBACK_HMAC_SECRET")
    # Extra named secrets, "name1=secret1,name2=secret2", so secrets can be rotated.
    ml_callback_hmac_secrets: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict, alias="ML_CALLBACK_HMAC_SECRETS"
    )
    ml_hmac_legacy_enabled: bool = Field(True, alias="ML_HMAC_LEGACY_ENABLED")
    # VISTA's scheme: 'X-ML-Signature: sha256=<hex>' over '{X-ML-Timestamp}.' + body.
    hmac_accept_vista: bool = Field(True, alias="LOOKOUT_HMAC_ACCEPT_VISTA")
    ml_hmac_window_seconds: int = Field(300, alias="ML_HMAC_WINDOW_SECONDS")
    # The review changes feed lists changes up to this long ago: longer than any save's
    # transaction, so a save committing late still lands after a client's cursor.
    changes_settle_seconds: float = Field(5.0, ge=0, alias="LOOKOUT_CHANGES_SETTLE_SECONDS")
    # VISTA's name: whether presign, bulk and finalize need a signature even from a user.
    # Unset: yes, except in local mode (whose every caller is the machine's own admin).
    ml_pipeline_require_hmac: bool | None = Field(None, alias="ML_PIPELINE_REQUIRE_HMAC")
    ml_allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="ML_ALLOWED_MODELS"
    )
    ml_max_analyses_per_image: int = Field(200, alias="ML_MAX_ANALYSES_PER_IMAGE")
    queue_batch_size: int = Field(500, ge=1, alias="LOOKOUT_QUEUE_BATCH_SIZE")
    ml_max_annotations_per_request: int = Field(10_000, alias="ML_MAX_ANNOTATIONS_PER_REQUEST")
    ml_presign_expires_seconds: int = Field(3600, alias="ML_PRESIGN_EXPIRES_SECONDS")
    ml_max_artifact_bytes: int = Field(200 * 1024 * 1024, alias="ML_MAX_ARTIFACT_BYTES")

    # How long the review queue holds a sequence for one reviewer; the review page renews it.
    review_claim_seconds: int = Field(300, ge=1, le=86_400, alias="LOOKOUT_REVIEW_CLAIM_SECONDS")
    # After a save, the review page opens the next claimed sequence by itself (each reviewer
    # can turn it off on the page; this is the default).
    review_auto_next: bool = Field(True, alias="LOOKOUT_REVIEW_AUTO_NEXT")
    # A drafted track joins a camera's group of recurring objects when its median box overlaps
    # the group's box by at least this IoU (lookout.grouping).
    group_iou: float = Field(0.5, gt=0, le=1, alias="LOOKOUT_GROUP_IOU")

    # How long a deleted image or sequence stays in the trash, restorable, before
    # `lookout purge-trash` removes it (lookout.images.trash, lookout.sequences.trash).
    trash_retention_days: int = Field(30, ge=0, le=36_500, alias="LOOKOUT_TRASH_RETENTION_DAYS")

    # Rendered JSON each server process keeps in memory: three quarters for pages of an
    # analysis's annotations, a quarter for pages of images (lookout.rendering.RenderedCache).
    render_cache_mb: int = Field(32, ge=0, le=65_536, alias="LOOKOUT_RENDER_CACHE_MB")

    # Limits on what clients may send.
    max_request_bytes: int = Field(32 * 1024 * 1024, alias="LOOKOUT_MAX_REQUEST_BYTES")
    max_upload_bytes: int = Field(50 * 1024 * 1024, alias="LOOKOUT_MAX_UPLOAD_BYTES")
    max_image_pixels: int = Field(100_000_000, alias="LOOKOUT_MAX_IMAGE_PIXELS")
    thumbnail_size: int = Field(256, alias="LOOKOUT_THUMBNAIL_SIZE")
    page_size_max: int = Field(500, alias="LOOKOUT_PAGE_SIZE_MAX")

    log_level: str = Field("info", alias="LOOKOUT_LOG_LEVEL")

    @field_validator("ml_allowed_models", "local_hosts", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("ml_callback_hmac_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError(
                    "ML_CALLBACK_HMAC_SECRETS must look like name=secret,name2=secret2"
                )
            return {name.strip(): secret.strip() for name, secret in pairs}
        return value

    @property
    def pipeline_requires_hmac(self) -> bool:
        """Presign, bulk and finalize refuse unsigned callbacks, even from a user."""
        if self.ml_pipeline_require_hmac is None:
            return not self.local_mode
        return self.ml_pipeline_require_hmac

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or an SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lookout.db').resolve()}"

    @property
    def fetch_private_allowed(self) -> bool:
        return self.local_mode if self.fetch_allow_private is None else self.fetch_allow_private

    @property
    def resolved_storage_path(self) -> Path:
        return (self.storage_local_path or self.data_dir / "objects").resolve()

    @property
    def queue_limits(self) -> QueueLimits:
        return QueueLimits(
            allowed_models=tuple(self.ml_allowed_models),
            max_per_image=self.ml_max_analyses_per_image,
            batch_size=self.queue_batch_size,
        )

    def hmac_secrets(self) -> dict[str, bytes]:
        """All accepted callback secrets by name."""
        found = {
            name: s.get_secret_value().encode() for name, s in self.ml_callback_hmac_secrets.items()
        }
        if self.ml_callback_hmac_secret:
            found["default"] = self.ml_callback_hmac_secret.get_secret_value().encode()
        return found

    def signing_key(self) -> bytes:
        """Key for locally presigned URLs: configured, or generated once into the data folder."""
        if self.secret_key:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # "x" mode: when several workers start together, exactly one writes the key.
            with path.open("x") as handle:
                path.chmod(0o600)
                handle.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests build their own `Settings` instead)."""
    return Settings()
