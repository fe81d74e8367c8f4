"""Objects in an S3-compatible service (AWS S3, MinIO) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lookout.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectNotFound,
    ObjectTooLarge,
    OpenedObject,
    StorageError,
    validate_key,
)


class _LimitedReader:
    """Counts what boto3 reads and stops it once the limit is passed."""

    def __init__(self, source: BinaryIO, max_bytes: int | None) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise ObjectTooLarge(f"object is larger than {self.max_bytes} bytes")
        return chunk


class S3Storage:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        options: dict[str, Any] = {
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": Config(
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                max_pool_connections=32,
                s3={"addressing_style": "path"},
            ),
        }
        self.client = boto3.client("s3", endpoint_url=endpoint_url, **options)
        # Presigned URLs carry the host in their signature, so sign them for the public host.
        self.public_client = boto3.client(
            "s3", endpoint_url=public_endpoint_url or endpoint_url, **options
        )
        if create_bucket:
            self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(
        self, key: str, source: BinaryIO, content_type: str, *, max_bytes: int | None = None
    ) -> int:
        reader = _LimitedReader(source, max_bytes)
        try:
            self.client.upload_fileobj(
                reader, self.bucket, validate_key(key), ExtraArgs={"ContentType": content_type}
            )
        except ObjectTooLarge:
            raise
        except (BotoCoreError, ClientError) as exc:
            cause = exc.__context__
            if isinstance(cause, ObjectTooLarge):
                raise cause from exc
            raise StorageError(f"could not store {key}: {exc}") from exc
        return reader.size

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=validate_key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc

    def _get(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectNotFound(key) from exc
            raise StorageError(f"could not read {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes:
        return self._get(key)["Body"].read()

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        body = self._get(key)["Body"]
        return body.iter_chunks(CHUNK_SIZE)

    def open_object(self, key: str) -> OpenedObject:
        """Size and type from the GET's own answer, so they describe the bytes it streams."""
        answer = self._get(key)
        return OpenedObject(
            int(answer["ContentLength"]),
            answer.get("ContentType"),
            answer["Body"].iter_chunks(CHUNK_SIZE),
        )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = self.client.head_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise StorageError(f"could not inspect {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not inspect {key}: {exc}") from exc
        return ObjectInfo(size=int(meta["ContentLength"]), content_type=meta.get("ContentType"))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=validate_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not delete {key}: {exc}") from exc

    def copy(self, source: str, target: str) -> ObjectInfo:
        """A server-side copy (CopyObject keeps the content type), then the copy's HEAD."""
        copy_source = {"Bucket": self.bucket, "Key": validate_key(source)}
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=validate_key(target), CopySource=copy_source
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectNotFound(source) from exc
            raise StorageError(f"could not copy {source} to {target}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not copy {source} to {target}: {exc}") from exc
        info = self.head(target)
        if info is None:
            raise ObjectNotFound(target)
        return info

    def presign_put(self, key: str, content_type: str, expires_in: int, base_url: str) -> str:
        return self.public_client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": validate_key(key), "ContentType": content_type},
            ExpiresIn=expires_in,
        )

    def presign_get(
        self, key: str, expires_in: int, base_url: str, filename: str | None = None
    ) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": validate_key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.public_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} is not reachable: {exc}") from exc
