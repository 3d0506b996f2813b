"""GcsStorage against the real GCS emulator on loopback (and a proxy that enforces preconditions)."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.errors import SourceUnreachable, StorageUnavailable, VideoTooLarge
from pipeline.gcs_storage import GcsSettings, GcsStorage, cache_control_for, content_type_for, download_gcs_uri
from pipeline.sources import fetch_source
from pipeline.storage import open_storage
from tests.servers import GcsEmulator, GcsProxy, free_port, running_gcs_emulator, running_gcs_proxy

pytestmark = pytest.mark.slow

BUCKET = "motionlens-test"


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    with running_gcs_emulator(tmp_path_factory.mktemp("gcs")) as emulator:
        emulator.create_bucket(BUCKET)
        yield emulator


@pytest.fixture(scope="session")
def gcs_proxy(gcs_emulator: GcsEmulator) -> Iterator[GcsProxy]:
    with running_gcs_proxy(gcs_emulator) as proxy:
        yield proxy


def settings_for(host: str, **kw: object) -> GcsSettings:
    return GcsSettings(emulator_host=host, retry_timeout_s=kw.pop("retry_timeout_s", 5.0), **kw)  # type: ignore[arg-type]


@pytest.fixture
def prefix() -> str:
    return "t-" + secrets.token_hex(4)


@pytest.fixture
def store(gcs_emulator: GcsEmulator, prefix: str) -> GcsStorage:
    """Straight to the emulator, which ignores preconditions."""
    return GcsStorage(BUCKET, prefix, settings=settings_for(gcs_emulator.url))


@pytest.fixture
def strict_store(gcs_proxy: GcsProxy, prefix: str) -> GcsStorage:
    """Through the proxy, which enforces them like Google Cloud Storage does."""
    return GcsStorage(BUCKET, prefix, settings=settings_for(gcs_proxy.url))


def test_round_trip_bytes_and_files(store: GcsStorage, tmp_path: Path) -> None:
    store.write_bytes("sessions/abc/session.json", b'{"a": 1}')
    assert store.read_bytes("sessions/abc/session.json") == b'{"a": 1}'
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(300_000))
    store.upload_file("sessions/abc/pose.npz", src)
    store.download_file("sessions/abc/pose.npz", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert store.size("sessions/abc/pose.npz") == 300_000
    store.write_bytes("sessions/abc/session.json", b"{}")           # overwrite
    assert store.read_bytes("sessions/abc/session.json") == b"{}"


def test_large_files_use_resumable_chunks(gcs_proxy: GcsProxy, prefix: str, tmp_path: Path) -> None:
    store = GcsStorage(BUCKET, prefix, settings=settings_for(gcs_proxy.url, chunk_bytes=4 * 1024 * 1024))
    src = tmp_path / "original.mp4"
    src.write_bytes(os.urandom(9 * 1024 * 1024))
    start = len(gcs_proxy.log)
    store.upload_file("sessions/abc/original.mp4", src)
    requests = [r for r, _ in gcs_proxy.log[start:] if r.path.startswith("/upload/")]
    assert requests[0].query["uploadType"] == ["resumable"]
    assert sum("upload_id" in r.query for r in requests) == 3            # 4 + 4 + 1 MiB
    assert store.read_bytes("sessions/abc/original.mp4") == src.read_bytes()
    small = tmp_path / "small.png"
    small.write_bytes(b"x" * 1000)
    start = len(gcs_proxy.log)
    store.upload_file("sessions/abc/a.png", small)
    assert [r.query.get("uploadType") for r, _ in gcs_proxy.log[start:] if r.path.startswith("/upload/")] == \
        [["multipart"]]


def test_missing_objects(store: GcsStorage, tmp_path: Path) -> None:
    assert not store.exists("sessions/none/session.json")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("sessions/none/session.json")
    with pytest.raises(FileNotFoundError):
        store.size("sessions/none/session.json")
    with pytest.raises(FileNotFoundError):
        store.download_file("sessions/none/x.mp4", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    store.delete("sessions/none/session.json")                          # deleting nothing is fine


def test_list_exists_delete(store: GcsStorage) -> None:
    keys = ["exports/angles/activity=jumping/date=2026-01-02/s1.parquet", "inbox/jumping/a.mp4",
            "inbox/jumping/b.mp4", "inbox/running/c.mp4", "inboxes.json"]
    for k in reversed(keys):
        store.write_bytes(k, b"x")
    assert list(store.list("")) == keys
    assert list(store.list("inbox/")) == keys[1:4]
    assert list(store.list("inbox")) == keys[1:]                         # a string prefix, like LocalStorage
    assert list(store.list("inbox/jumping/b")) == ["inbox/jumping/b.mp4"]
    assert list(store.list("nothing/")) == []
    assert store.exists("inbox/jumping/a.mp4")
    store.delete("inbox/jumping/a.mp4")
    assert not store.exists("inbox/jumping/a.mp4")
    other = GcsStorage(BUCKET, store.prefix + "-other", settings=store.settings)
    assert list(other.list("")) == []                                    # prefixes do not leak into each other


def test_keys_are_checked(store: GcsStorage) -> None:
    for bad in ("../x", "a//b", "/abs", "a/./b", "sp ace"):
        with pytest.raises(ValueError):
            store.write_bytes(bad, b"x")


def test_content_types_and_cache_headers(store: GcsStorage) -> None:
    expect = {
        "sessions/s/session.json": ("application/json", "no-cache"),
        "sessions/s/original.mp4": ("video/mp4", "private, max-age=31536000, immutable"),
        "sessions/s/analyzed.mp4": ("video/mp4", "private, max-age=3600"),
        "sessions/s/lift-analysis/rep1_bottom.png": ("image/png", "private, max-age=3600"),
        "exports/keypoints/activity=running/date=2026-01-01/s.parquet": ("application/vnd.apache.parquet",
                                                                         "private, max-age=3600"),
        "cache/pose/abc-full.npz": ("application/octet-stream", "private, max-age=31536000, immutable"),
        "auth/keys/abc.json": ("application/json", "private, no-store"),
    }
    for key in expect:
        store.write_bytes(key, b"data")
    for key, (ctype, cache) in expect.items():
        info = store.stat(key)
        assert (info["content_type"], info["cache_control"]) == (ctype, cache), key
    store.write_bytes("sessions/s/notes.txt", b"x", content_type="text/csv")
    assert store.stat("sessions/s/notes.txt")["content_type"] == "text/csv"
    assert content_type_for("a/b.mov") == "video/quicktime"
    assert cache_control_for("sessions/s/analyzed.mp4", public=True) == "public, max-age=3600"


# --- exclusive create -----------------------------------------------------------------------------

def race(storage: GcsStorage, key: str, n: int = 8) -> list[bool]:
    barrier = threading.Barrier(n)
    results: list[bool] = [False] * n

    def claim(i: int) -> None:
        barrier.wait()
        results[i] = storage.create_exclusive(key, f"claimant {i}".encode())

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_the_emulator_ignores_preconditions_and_is_detected(store: GcsStorage, strict_store: GcsStorage) -> None:
    from google.cloud.exceptions import PreconditionFailed

    blob = store.bucket.blob(store.object_name("raw"))
    blob.upload_from_string(b"1", if_generation_match=0)
    blob.upload_from_string(b"2", if_generation_match=0)                # accepted: nothing enforces it
    with pytest.raises(PreconditionFailed):
        strict_store.bucket.blob(strict_store.object_name("raw")).upload_from_string(b"3", if_generation_match=0)
    assert store._precondition_mode() == "emulated"
    assert strict_store._precondition_mode() == "enforced"
    assert list(store.list("")) == ["raw"]                               # the probes cleaned up after themselves


@pytest.mark.parametrize("which", ["strict_store", "store"])
def test_create_exclusive_once(request: pytest.FixtureRequest, which: str) -> None:
    storage: GcsStorage = request.getfixturevalue(which)
    assert storage.create_exclusive("sessions/s/render.lock", b"first")
    assert not storage.create_exclusive("sessions/s/render.lock", b"second")
    assert storage.read_bytes("sessions/s/render.lock") == b"first"
    storage.delete("sessions/s/render.lock")                             # released: can be taken again
    assert storage.create_exclusive("sessions/s/render.lock", b"third")
    assert storage.read_bytes("sessions/s/render.lock") == b"third"
    storage.write_bytes("inbox-claims/x.json", b"plain write")
    assert not storage.create_exclusive("inbox-claims/x.json", b"claim")  # exists, however it was written
    assert list(storage.list("")) == ["inbox-claims/x.json", "sessions/s/render.lock"]


@pytest.mark.parametrize("which", ["strict_store", "store"])
def test_create_exclusive_concurrent_has_one_winner(request: pytest.FixtureRequest, which: str) -> None:
    storage: GcsStorage = request.getfixturevalue(which)
    for round_ in range(3):
        results = race(storage, f"inbox-claims/k{round_}.json")
        assert sum(results) == 1, results
        winner = results.index(True)
        assert storage.read_bytes(f"inbox-claims/k{round_}.json") == f"claimant {winner}".encode()


def test_create_exclusive_survives_a_lost_response(strict_store: GcsStorage, gcs_proxy: GcsProxy) -> None:
    key = "inbox-claims/lost.json"
    name = strict_store.object_name(key)
    # The first attempt creates the object but its answer never arrives: the retry then gets 412,
    # and the claim token stored with the object shows that it is ours after all.
    gcs_proxy.drop_next_responses(1, lambda r: r.object_name == name and r.method == "POST")
    start = len(gcs_proxy.log)
    assert strict_store.create_exclusive(key, b"mine")
    statuses = [s for r, s in gcs_proxy.log[start:] if r.object_name == name and r.method == "POST"]
    assert statuses == [200, 412]
    assert not strict_store.create_exclusive(key, b"someone else")
    assert strict_store.read_bytes(key) == b"mine"


# --- URLs -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throw-away service-account key (the emulator checks no signatures; Google would)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path_factory.mktemp("sa") / "signer.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "test", "private_key_id": "k1", "private_key": pem,
        "client_email": "signer@test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return path


def test_v4_signed_url_downloads_the_object(gcs_emulator: GcsEmulator, prefix: str, signing_key: Path) -> None:
    store = GcsStorage(BUCKET, prefix, settings=settings_for(gcs_emulator.url, signing_key_file=str(signing_key)))
    data = os.urandom(50_000)
    store.write_bytes("sessions/s/analyzed.mp4", data)
    url = store.signed_url("sessions/s/analyzed.mp4", 600)
    assert url is not None and url.startswith(f"{gcs_emulator.url}/{BUCKET}/{prefix}/sessions/s/analyzed.mp4?")
    q = httpx.URL(url).params
    assert q["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and q["X-Goog-Expires"] == "600"
    assert q["X-Goog-Credential"].startswith("signer@test.iam.gserviceaccount.com/")
    assert len(q["X-Goog-Signature"]) == 512                             # hex RSA-2048 signature
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == data
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert httpx.URL(store.signed_url("k/x.png", 30 * 24 * 3600)).params["X-Goog-Expires"] == str(7 * 24 * 3600)


def test_public_and_emulator_urls(gcs_emulator: GcsEmulator, prefix: str) -> None:
    plain = GcsStorage(BUCKET, prefix, settings=settings_for(gcs_emulator.url))
    plain.write_bytes("sessions/s/ab.png", b"png")
    url = plain.signed_url("sessions/s/ab.png", 60)        # no signer on the emulator: its plain URL
    assert url == f"{gcs_emulator.url}/{BUCKET}/{prefix}/sessions/s/ab.png"
    assert httpx.get(url).content == b"png"
    public = GcsStorage(BUCKET, prefix, settings=settings_for(gcs_emulator.url, public=True))
    assert public.signed_url("sessions/s/ab.png", 60) == url
    assert public.stat("sessions/s/ab.png")["cache_control"] == "private, max-age=3600"   # written by `plain`
    public.write_bytes("sessions/s/cd.png", b"png")
    assert public.stat("sessions/s/cd.png")["cache_control"] == "public, max-age=3600"


def test_no_signer_in_production_means_none() -> None:
    """Without signing credentials on real GCS the API signs its own /files/ links instead."""
    from google.cloud import storage

    store = GcsStorage("some-bucket", "p", settings=GcsSettings(), client=storage.Client.create_anonymous_client())
    assert store.signed_url("sessions/s/analyzed.mp4", 60) is None
    public = GcsStorage("some-bucket", "p", settings=GcsSettings(public=True),
                        client=storage.Client.create_anonymous_client())
    assert public.signed_url("sessions/s/analyzed.mp4", 60) == \
        "https://storage.googleapis.com/some-bucket/p/sessions/s/analyzed.mp4"


# --- failures -------------------------------------------------------------------------------------

def test_unreachable_storage_is_storage_unavailable(prefix: str) -> None:
    store = GcsStorage(BUCKET, prefix, settings=settings_for(f"http://127.0.0.1:{free_port()}", retry_timeout_s=1.0))
    for call in (lambda: store.write_bytes("a.json", b"{}"), lambda: store.read_bytes("a.json"),
                 lambda: store.exists("a.json"), lambda: list(store.list("")), lambda: store.delete("a.json")):
        with pytest.raises(StorageUnavailable) as info:
            call()
        assert info.value.code == "storage_unavailable" and "127.0.0.1" in info.value.message


def test_missing_bucket_is_storage_unavailable(gcs_emulator: GcsEmulator) -> None:
    store = GcsStorage("no-such-bucket", "", settings=settings_for(gcs_emulator.url))
    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.write_bytes("a.json", b"{}")


def test_transient_errors_are_retried(strict_store: GcsStorage, gcs_proxy: GcsProxy) -> None:
    name = strict_store.object_name("sessions/s/session.json")
    gcs_proxy.drop_next_responses(2, lambda r: r.object_name == name)
    strict_store.write_bytes("sessions/s/session.json", b'{"status": "completed"}')
    assert strict_store.read_bytes("sessions/s/session.json") == b'{"status": "completed"}'


# --- gs:// sources and open_storage --------------------------------------------------------------

def test_open_storage_and_gs_sources(gcs_emulator: GcsEmulator, prefix: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    monkeypatch.setenv("MOTIONLENS_ALLOWED_SOURCES", f"gs://{BUCKET}/{prefix}/inbox")
    store = open_storage(f"gs://{BUCKET}/{prefix}/")
    assert isinstance(store, GcsStorage) and store.uri == f"gs://{BUCKET}/{prefix}"
    video = os.urandom(10_000)
    store.write_bytes("inbox/jumping/clip.mp4", video)
    uri = f"{store.uri}/inbox/jumping/clip.mp4"
    path = fetch_source(uri, tmp_path, max_bytes=1_000_000)
    assert path.read_bytes() == video and path.suffix == ".mp4"
    with pytest.raises(VideoTooLarge):
        download_gcs_uri(uri, tmp_path / "big.mp4", max_bytes=9_999)
    assert not (tmp_path / "big.mp4").exists()
    with pytest.raises(SourceUnreachable):
        fetch_source(f"{store.uri}/inbox/jumping/missing.mp4", tmp_path, max_bytes=1_000_000)
    with pytest.raises(SourceUnreachable):
        fetch_source(f"gs://{BUCKET}", tmp_path, max_bytes=1_000_000)
