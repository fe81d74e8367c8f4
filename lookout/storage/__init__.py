"""Object storage: a local folder or an S3-compatible service, behind one interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.config import Settings
from lookout.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    ObjectTooLarge,
    StorageError,
)
from lookout.storage.local import LocalStorage

if TYPE_CHECKING:
    from lookout.storage.s3 import S3Storage

__all__ = [
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "ObjectTooLarge",
    "S3Storage",
    "StorageError",
    "make_storage",
]


def make_storage(settings: Settings) -> ObjectStorage:
    """The backend the settings name."""
    if settings.storage_backend == "s3":
        # boto3 takes a tenth of a second to import: only a server that stores in S3 pays it.
        from lookout.storage.s3 import S3Storage

        secret = settings.s3_secret_access_key
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            create_bucket=settings.s3_create_bucket,
        )
    return LocalStorage(settings.resolved_storage_path, settings.signing_key())


def __getattr__(name: str) -> Any:
    """`lookout.storage.S3Storage`, imported (with boto3) when first asked for."""
    if name == "S3Storage":
        from lookout.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
