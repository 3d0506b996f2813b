"""Sessions in a Google Cloud Storage bucket: the `Storage` protocol on `google-cloud-storage`.

`open_storage("gs://bucket/prefix")` gives a `GcsStorage`; keys are the same as for a local folder
(DESIGN §5), stored as `prefix/key` objects. What an operator can rely on (docs/operations.md):

- Credentials: Application Default Credentials in production (`GOOGLE_APPLICATION_CREDENTIALS`,
  `gcloud auth application-default login`, or the metadata server on GCE / Cloud Run / GKE).
  With `STORAGE_EMULATOR_HOST` set, data calls use `AnonymousCredentials` (service-account
  credentials would try to reach Google's token server and hang).
- Every call is retried on transient errors (connection errors, 408/429/5xx) with exponential
  back-off for up to `MOTIONLENS_GCS_RETRY_TIMEOUT_S` (default 120 s); then it raises
  `StorageUnavailable`. Overwrites are retried unconditionally: every key is written by one owner
  with the same content for a given session, so repeating a write cannot lose anyone's data.
  Exclusive creates send `ifGenerationMatch=0`, the only condition under which Google's own
  policy retries a create (`DEFAULT_RETRY_IF_GENERATION_SPECIFIED`).
- Files above 8 MiB use resumable uploads in chunks of `MOTIONLENS_GCS_CHUNK_BYTES` (default 8 MiB):
  a dropped connection resends one chunk instead of starting a 500 MB video again.
- Content types from the key's suffix; `Cache-Control` by kind of object: originals and the pose
  cache never change (`immutable`, one year), derived artifacts may be re-rendered (one hour),
  JSON (manifests, locks, claims, keys) is `no-cache`.
- `create_exclusive` is `ifGenerationMatch=0`. A store that ignores preconditions (the emulator,
  DESIGN §3) is detected once and served by an ordered-claims protocol instead (below).
- `signed_url(key, expires_s)`: a V4 signed URL when signing credentials exist, the public URL
  when `MOTIONLENS_GCS_PUBLIC=1`, the emulator's URL on the emulator, else None (the API then
  signs a link to its own `/files/` route).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from pipeline.errors import DownloadFailed, StorageUnavailable, VideoNotFound, VideoTooLarge
from pipeline.storage import check_key

log = logging.getLogger("motionlens.gcs")

CLAIM_METADATA = "motionlens-claim"
INTERNAL_PREFIX = ".motionlens/"          # our own bookkeeping objects (claims on the emulator, probes)
_CHUNK_QUANTUM = 256 * 1024               # GCS resumable chunk sizes are multiples of 256 KiB
_MAX_V4_EXPIRY_S = 7 * 24 * 3600          # V4 signed URLs live at most 7 days
_UNSET = object()
RESUMABLE_ABOVE = 8 * 1024 * 1024         # google-cloud-storage's multipart limit
_CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mkv": "video/x-matroska",
                  ".png": "image/png", ".json": "application/json", ".parquet": "application/vnd.apache.parquet",
                  ".npz": "application/octet-stream", ".csv": "text/csv"}


@dataclass(frozen=True)
class GcsSettings:
    retry_timeout_s: float = 120.0        # total time a call keeps retrying transient errors
    request_timeout_s: float = 60.0       # per HTTP request (connect, read)
    chunk_bytes: int = 8 * 1024 * 1024    # chunk size of resumable uploads (objects above 8 MiB)
    public: bool = False                  # the bucket is public: hand out plain object URLs
    signing_key_file: str | None = None   # a service-account JSON key used only for signing URLs
    preconditions: str = "auto"           # enforced | emulated | auto (probe once on an emulator)
    emulator_host: str | None = None      # STORAGE_EMULATOR_HOST

    def __post_init__(self) -> None:
        if self.preconditions not in ("auto", "enforced", "emulated"):
            raise ValueError(f"MOTIONLENS_GCS_PRECONDITIONS must be auto, enforced or emulated, not {self.preconditions!r}")
        if self.chunk_bytes < _CHUNK_QUANTUM or self.chunk_bytes % _CHUNK_QUANTUM:
            raise ValueError(f"MOTIONLENS_GCS_CHUNK_BYTES must be a multiple of {_CHUNK_QUANTUM} bytes")

    @classmethod
    def from_env(cls) -> GcsSettings:
        env = os.environ
        return cls(
            retry_timeout_s=float(env.get("MOTIONLENS_GCS_RETRY_TIMEOUT_S", "120")),
            request_timeout_s=float(env.get("MOTIONLENS_GCS_TIMEOUT_S", "60")),
            chunk_bytes=int(env.get("MOTIONLENS_GCS_CHUNK_BYTES", str(8 * 1024 * 1024))),
            public=env.get("MOTIONLENS_GCS_PUBLIC", "").lower() in ("1", "true", "yes"),
            signing_key_file=env.get("MOTIONLENS_GCS_SIGNING_KEY") or None,
            preconditions=env.get("MOTIONLENS_GCS_PRECONDITIONS", "auto"),
            emulator_host=_emulator_url(env.get("STORAGE_EMULATOR_HOST")),
        )


def _emulator_url(host: str | None) -> str | None:
    if not host:
        return None
    return host.rstrip("/") if "://" in host else f"http://{host.rstrip('/')}"


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """`gs://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    parsed = urlparse(uri)
    if parsed.scheme != "gs" or not parsed.netloc:
        raise ValueError(f"not a gs:// URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


ALLOWED_SOURCES_ENV = "MOTIONLENS_ALLOWED_SOURCES"


def allowed_sources() -> list[tuple[str, str]]:
    """(bucket, prefix) pairs of `MOTIONLENS_ALLOWED_SOURCES` (comma-separated `gs://bucket/prefix`)."""
    out = []
    for item in os.environ.get(ALLOWED_SOURCES_ENV, "").split(","):
        if item.strip():
            bucket, prefix = parse_gs_uri(item.strip())
            out.append((bucket, prefix))
    return out


def source_allowed(uri: str, allowed: list[tuple[str, str]] | None = None) -> bool:
    """Whether a `gs://` source lies under an allowed bucket/prefix. Judged on the string alone (so
    it says nothing about which objects exist); odd names (`..`, empty segments, query) are refused."""
    try:
        bucket, name = parse_gs_uri(uri)
    except ValueError:
        return False
    segments = name.split("/")
    if not name or "?" in uri or "#" in uri or "\\" in name or any(s in ("", ".", "..") for s in segments):
        return False
    for allowed_bucket, prefix in allowed_sources() if allowed is None else allowed:
        if bucket == allowed_bucket and (not prefix or name.startswith(prefix.rstrip("/") + "/")):
            return True
    return False


def content_type_for(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def cache_control_for(key: str, public: bool = False) -> str:
    """How long browsers and CDNs may keep an object (GCS serves it as `Cache-Control`)."""
    who = "public" if public else "private"
    name = key.rsplit("/", 1)[-1]
    if key.startswith("auth/"):
        return "private, no-store"
    if key.startswith("cache/") or (key.startswith("sessions/") and name.startswith("original.")):
        return f"{who}, max-age=31536000, immutable"     # content never changes under this key
    if Path(key).suffix.lower() in (".mp4", ".mov", ".webm", ".png", ".parquet", ".npz"):
        return f"{who}, max-age=3600"                     # may be re-rendered or re-published
    return "no-cache"                                     # manifests, locks, claims: always revalidate


# --- errors ---------------------------------------------------------------------------------------

def _transient_types() -> tuple[type[BaseException], ...]:
    import requests
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import TransportError

    return (gexc.RetryError, gexc.ServerError, gexc.TooManyRequests, requests.ConnectionError, requests.Timeout,
            TransportError, ConnectionError, TimeoutError)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    cause = getattr(exc, "cause", None) or exc.__cause__
    if cause is not None and type(cause).__name__ not in text:
        text = f"{text} ({type(cause).__name__})"
    return text if len(text) <= 300 else text[:297] + "..."


@contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """Connection trouble and server errors (after retries) -> StorageUnavailable; 404 -> FileNotFoundError."""
    from google.api_core import exceptions as gexc

    try:
        yield
    except gexc.NotFound as exc:
        raise FileNotFoundError(f"{what}: not found") from exc
    except (gexc.Forbidden, gexc.Unauthorized) as exc:
        raise StorageUnavailable(f"{what}: permission denied ({exc.message}); check the credentials and the "
                                 "bucket's IAM roles") from exc
    except _transient_types() as exc:
        raise StorageUnavailable(f"{what}: {_reason(exc)}") from exc


# --- clients --------------------------------------------------------------------------------------

def make_client(settings: GcsSettings, *, anonymous_fallback: bool = False) -> Any:
    """A `storage.Client`: anonymous against the emulator, Application Default Credentials otherwise."""
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage

    if settings.emulator_host:
        return storage.Client(credentials=AnonymousCredentials(),
                              project=os.environ.get("GOOGLE_CLOUD_PROJECT", "motionlens-emulator"),
                              client_options={"api_endpoint": settings.emulator_host})
    try:
        return storage.Client()
    except DefaultCredentialsError as exc:
        if anonymous_fallback:  # public objects can still be read without credentials
            return storage.Client.create_anonymous_client()
        raise StorageUnavailable("no Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a "
                                 "service-account key file or run `gcloud auth application-default login`") from exc


def _retry(settings: GcsSettings) -> Any:
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_timeout(settings.retry_timeout_s)


def _conditional_retry(settings: GcsSettings) -> Any:
    from google.cloud.storage.retry import ConditionalRetryPolicy, is_generation_specified

    return ConditionalRetryPolicy(_retry(settings), is_generation_specified, ["query_params"])


# --- the storage ------------------------------------------------------------------------------------

class GcsStorage:
    """Objects `gs://{bucket}/{prefix}/{key}`; same contract as `LocalStorage`."""

    def __init__(self, bucket: str, prefix: str = "", *, settings: GcsSettings | None = None,
                 client: Any = None) -> None:
        self.settings = settings or GcsSettings.from_env()
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"gs://{bucket}/{self.prefix}" if self.prefix else f"gs://{bucket}"
        self.client = client or make_client(self.settings)
        self.bucket = self.client.bucket(bucket)
        self._retry = _retry(self.settings)
        self._timeout = self.settings.request_timeout_s
        self._mode_lock = threading.Lock()
        self._preconditions: str | None = None if self.settings.preconditions == "auto" else self.settings.preconditions
        if self._preconditions is None and not self.settings.emulator_host:
            self._preconditions = "enforced"     # Google Cloud Storage itself always enforces them
        self._signer_cache: Any = _UNSET

    @classmethod
    def from_uri(cls, uri: str, settings: GcsSettings | None = None) -> GcsStorage:
        bucket, prefix = parse_gs_uri(uri)
        return cls(bucket, prefix, settings=settings)

    def __repr__(self) -> str:
        return f"GcsStorage({self.uri!r})"

    # keys <-> object names
    def object_name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name

    def _blob(self, key: str, *, size: int | None = None) -> Any:
        # The library sends objects up to 8 MiB in one multipart request and larger ones as a
        # resumable upload, in chunks of `chunk_size` (or 100 MiB when unset).
        chunk = self.settings.chunk_bytes if size is not None and size > RESUMABLE_ABOVE else None
        blob = self.bucket.blob(self.object_name(key), chunk_size=chunk)
        blob.cache_control = cache_control_for(key, self.settings.public)
        return blob

    def _where(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{self.object_name(key)}"

    # writes
    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        blob = self._blob(key, size=len(data))
        with self._write_errors(key):
            blob.upload_from_string(data, content_type=content_type or content_type_for(key),
                                    retry=self._retry, timeout=self._timeout)

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        path = Path(path)
        blob = self._blob(key, size=path.stat().st_size)
        with self._write_errors(key):
            blob.upload_from_filename(str(path), content_type=content_type or content_type_for(key),
                                      retry=self._retry, timeout=self._timeout)

    @contextmanager
    def _write_errors(self, key: str) -> Iterator[None]:
        try:
            with _storage_errors(f"could not write {self._where(key)}"):
                yield
        except FileNotFoundError as exc:  # a 404 on a write means the bucket itself is missing
            raise StorageUnavailable(f"bucket gs://{self.bucket_name} does not exist") from exc

    # reads
    def read_bytes(self, key: str) -> bytes:
        with _storage_errors(f"could not read {self._where(key)}"):
            return self.bucket.blob(self.object_name(key)).download_as_bytes(retry=self._retry, timeout=self._timeout)

    def download_file(self, key: str, path: Path) -> None:
        path = Path(path)
        try:
            with _storage_errors(f"could not download {self._where(key)}"):
                self.bucket.blob(self.object_name(key)).download_to_filename(str(path), retry=self._retry,
                                                                             timeout=self._timeout)
        except BaseException:
            path.unlink(missing_ok=True)  # the library leaves a partial file behind
            raise

    def _get_blob(self, key: str) -> Any:
        with _storage_errors(f"could not look up {self._where(key)}"):
            return self.bucket.get_blob(self.object_name(key), retry=self._retry, timeout=self._timeout)

    def exists(self, key: str) -> bool:
        return self._get_blob(key) is not None

    def size(self, key: str) -> int:
        blob = self._get_blob(key)
        if blob is None:
            raise FileNotFoundError(f"{self._where(key)}: not found")
        return int(blob.size)

    def list(self, prefix: str) -> Iterator[str]:
        """Keys starting with `prefix`, in lexicographic order (our own bookkeeping hidden)."""
        name_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        with _storage_errors(f"could not list gs://{self.bucket_name}/{name_prefix}"):
            names = [b.name for b in self.client.list_blobs(self.bucket, prefix=name_prefix, retry=self._retry,
                                                            timeout=self._timeout)]
        for name in names:
            key = self._key(name)
            if key.startswith(INTERNAL_PREFIX) and not prefix.startswith(INTERNAL_PREFIX):
                continue
            yield key

    def delete(self, key: str) -> None:
        self._delete_name(self.object_name(key))
        if self._precondition_mode() == "emulated":
            for name in self._claim_names(key):
                self._delete_name(name)

    def _delete_name(self, name: str) -> None:
        try:
            with _storage_errors(f"could not delete gs://{self.bucket_name}/{name}"):
                self.bucket.blob(name).delete(retry=self._retry, timeout=self._timeout)
        except FileNotFoundError:
            pass  # already gone (or a retried delete whose first attempt succeeded)

    # exclusive create
    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Write only if absent; True when this call created it."""
        if self._precondition_mode() == "enforced":
            return self._create_if_absent(key, data)
        return self._create_by_ordered_claims(key, data)

    def _create_if_absent(self, key: str, data: bytes) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        token = uuid.uuid4().hex
        blob = self._blob(key)
        blob.metadata = {CLAIM_METADATA: token}
        try:
            with self._write_errors(key):
                blob.upload_from_string(data, content_type=content_type_for(key), if_generation_match=0,
                                        retry=_conditional_retry(self.settings), timeout=self._timeout)
            return True
        except PreconditionFailed:
            # Someone else's object -- or ours: a retried request whose first attempt created the object
            # but whose answer was lost gets 412 too. The token we wrote tells them apart.
            current = self._get_blob(key)
            return current is not None and (current.metadata or {}).get(CLAIM_METADATA) == token

    def _claim_prefix(self, key: str) -> str:
        return self.object_name(f"{INTERNAL_PREFIX}claims/{key}") + "/"

    def _claim_names(self, key: str) -> list[str]:
        with _storage_errors(f"could not list the claims of {self._where(key)}"):
            return [b.name for b in self.client.list_blobs(self.bucket, prefix=self._claim_prefix(key),
                                                           retry=self._retry, timeout=self._timeout)]

    def _create_by_ordered_claims(self, key: str, data: bytes) -> bool:
        """Exclusive create on a store that ignores preconditions (the emulator).

        Each caller adds its own uniquely named candidate object, then lists the candidates: the one
        with the lowest server-assigned generation wins. Generations grow with commit time and listing
        is strongly consistent, so every caller computes the same winner; a candidate committed after
        the winner listed has a higher generation and loses. `delete(key)` removes the candidates, so
        the key can be created again (a lock is released). A winner that dies between its candidate
        and the key blocks the key until it is deleted: acceptable for an emulator, which is why real
        buckets use `ifGenerationMatch=0`.
        """
        if self.exists(key):
            return False
        mine = self._claim_prefix(key) + uuid.uuid4().hex
        candidate = self.bucket.blob(mine)
        with self._write_errors(key):
            candidate.upload_from_string(b"", retry=self._retry, timeout=self._timeout)
        with _storage_errors(f"could not list the claims of {self._where(key)}"):
            blobs = list(self.client.list_blobs(self.bucket, prefix=self._claim_prefix(key), retry=self._retry,
                                                timeout=self._timeout))
        winner = min(blobs, key=lambda b: (int(b.generation), b.name)).name if blobs else None
        if winner != mine:
            self._delete_name(mine)
            return False
        self.write_bytes(key, data)
        return True

    def _precondition_mode(self) -> str:
        with self._mode_lock:
            if self._preconditions is None:
                self._preconditions = self._probe_preconditions()
                log.info("%s: preconditions are %s", self.uri, self._preconditions)
            return self._preconditions

    def _probe_preconditions(self) -> str:
        """Does this server honour `ifGenerationMatch=0`? Create one probe object twice and see."""
        from google.api_core.exceptions import PreconditionFailed

        name = self.object_name(f"{INTERNAL_PREFIX}probe-{uuid.uuid4().hex}")
        blob = self.bucket.blob(name)
        try:
            with _storage_errors(f"could not probe gs://{self.bucket_name}"):
                blob.upload_from_string(b"", if_generation_match=0, retry=self._retry, timeout=self._timeout)
                try:
                    blob.upload_from_string(b"", if_generation_match=0, retry=self._retry, timeout=self._timeout)
                    return "emulated"
                except PreconditionFailed:
                    return "enforced"
        finally:
            self._delete_name(name)

    # URLs an app can play directly
    def public_url(self, key: str) -> str:
        base = self.settings.emulator_host or "https://storage.googleapis.com"
        return f"{base}/{self.bucket_name}/{quote(self.object_name(key), safe='/')}"

    def signed_url(self, key: str, expires_s: int) -> str | None:
        """A V4 signed GET URL; or the plain URL for public buckets and the emulator; else None."""
        if self.settings.public:
            return self.public_url(key)
        blob = self.bucket.blob(self.object_name(key))
        expiration = timedelta(seconds=max(1, min(int(expires_s), _MAX_V4_EXPIRY_S)))
        endpoint = self.settings.emulator_host or "https://storage.googleapis.com"
        signer = self._signing_credentials()
        try:
            if signer is not None:
                return blob.generate_signed_url(version="v4", expiration=expiration, method="GET",
                                                credentials=signer, api_access_endpoint=endpoint)
            iam = self._iam_signer()
            if iam is not None:
                email, token = iam
                return blob.generate_signed_url(version="v4", expiration=expiration, method="GET",
                                                service_account_email=email, access_token=token,
                                                api_access_endpoint=endpoint)
        except _transient_types() as exc:  # IAM signBlob is a network call
            raise StorageUnavailable(f"could not sign a URL for {self._where(key)}: {_reason(exc)}") from exc
        if self.settings.emulator_host:
            return self.public_url(key)   # the emulator checks no signatures
        return None

    def _signing_credentials(self) -> Any:
        """Credentials that can sign locally: the configured key file, else ADC if it is a key."""
        if self._signer_cache is not _UNSET:
            return self._signer_cache
        signer = None
        if self.settings.signing_key_file:
            from google.oauth2 import service_account

            signer = service_account.Credentials.from_service_account_file(self.settings.signing_key_file)
        elif not self.settings.emulator_host:
            from google.auth.credentials import Signing

            creds = getattr(self.client, "_credentials", None)
            if isinstance(creds, Signing):
                signer = creds
        self._signer_cache = signer
        return signer

    def _iam_signer(self) -> tuple[str, str] | None:
        """On GCE / Cloud Run / GKE: sign through the IAM signBlob API as the runtime service account
        (which needs roles/iam.serviceAccountTokenCreator on itself)."""
        creds = getattr(self.client, "_credentials", None)
        if self.settings.emulator_host or creds is None or not hasattr(creds, "service_account_email"):
            return None
        if not creds.valid:
            import google.auth.transport.requests

            creds.refresh(google.auth.transport.requests.Request())
        email = creds.service_account_email
        if not email or email == "default" or not creds.token:
            return None
        return email, creds.token

    def stat(self, key: str) -> dict[str, Any]:
        """Size, generation, content type, cache header and custom metadata of one object."""
        blob = self._get_blob(key)
        if blob is None:
            raise FileNotFoundError(f"{self._where(key)}: not found")
        return {"size": int(blob.size), "generation": int(blob.generation), "content_type": blob.content_type,
                "cache_control": blob.cache_control, "metadata": dict(blob.metadata or {})}



# --- gs:// video sources ----------------------------------------------------------------------------

def download_gcs_uri(uri: str, dest: Path, *, max_bytes: int, settings: GcsSettings | None = None) -> Path:
    """Stream `gs://bucket/object` to `dest`, refusing objects above `max_bytes` before downloading."""
    from google.api_core import exceptions as gexc

    settings = settings or GcsSettings.from_env()
    bucket_name, name = parse_gs_uri(uri)
    if not name:
        raise VideoNotFound(f"{uri} names a bucket, not a video object")
    if not source_allowed(uri):
        # Reported like a missing object by the caller (pipeline.sources): never reveal what exists.
        raise DownloadFailed(f"{uri} is not under {ALLOWED_SOURCES_ENV}")
    client = make_client(settings, anonymous_fallback=True)
    retry = _retry(settings)
    dest = Path(dest)
    try:
        blob = client.bucket(bucket_name).get_blob(name, retry=retry, timeout=settings.request_timeout_s)
        if blob is None:
            raise VideoNotFound(f"no such object: {uri}")
        if blob.size is not None and int(blob.size) > max_bytes:
            raise VideoTooLarge(f"{uri} is {int(blob.size) / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB")
        # Pin the generation we sized: a concurrent overwrite fails the download instead of mixing versions.
        blob.download_to_filename(str(dest), if_generation_match=blob.generation, retry=retry,
                                  timeout=settings.request_timeout_s)
    except gexc.NotFound as exc:
        dest.unlink(missing_ok=True)
        raise VideoNotFound(f"no such object: {uri}") from exc
    except (gexc.Forbidden, gexc.Unauthorized) as exc:
        dest.unlink(missing_ok=True)
        raise DownloadFailed(f"no permission to read {uri}: {exc.message}") from exc
    except (gexc.PreconditionFailed, *_transient_types()) as exc:
        dest.unlink(missing_ok=True)
        raise DownloadFailed(f"could not download {uri}: {_reason(exc)}") from exc
    return dest
