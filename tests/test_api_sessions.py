"""Session detail, export and lift analysis over sessions stored as docs/manifest.md describes."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import pyarrow.parquet as pq
import pytest

from api.i18n import negotiate, parse_accept_language
from api.sessions import created_at_parts
from api.settings import ApiSettings
from pipeline.errors import StorageUnavailable
from pipeline.storage import LocalStorage
from tests.support_api import Harness, TestClient, build_harness, make_session


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


@pytest.mark.parametrize("activity", ["jumping", "running", "weightlifting"])
def test_detail_has_the_documented_fields(h: Harness, activity: str) -> None:
    m = make_session(h.storage, activity=activity)
    r = h.get(f"/{activity}/sessions/{m['session_id']}/")
    assert r.status_code == 200
    body = r.json()
    assert body["session_id"] == m["session_id"] and body["activity"] == activity
    assert body["status"] == "completed" and body["error"] is None
    assert body["created_at"] == {"date": "05/02/2025", "time": "06:00 PM"}
    assert body["metrics"] == m["metrics"] and body["angle_summary"] == m["angle_summary"]
    assert body["events"][0]["time_s"] == pytest.approx(0.333)
    assert body["quality"]["view"] == "side"
    assert body["analyzed_video_url"].startswith("http://testserver/files/sessions/")
    assert body["video_url"].split("?")[0].endswith("/original.mp4")
    links = body["links"]
    assert links["export"] == f"http://testserver/{activity}/sessions/{m['session_id']}/export/"
    assert links["analyzed_video"] == f"http://testserver/sessions/{m['session_id']}/analyzed-video/"
    assert ("lift_analysis" in links) == (activity == "weightlifting")
    assert "owner" not in body["options"]
    # The URLs really play: the signed link serves the stored MP4.
    video = h.client.get(body["analyzed_video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content == h.storage.read_bytes(f"sessions/{m['session_id']}/analyzed.mp4")


def test_detail_of_a_queued_session_has_no_urls_yet(h: Harness) -> None:
    m = make_session(h.storage, status="queued")
    body = h.get(f"/jumping/sessions/{m['session_id']}/").json()
    assert body["status"] == "queued" and body["analyzed_video_url"] is None and body["video_url"] is None


def test_failed_session_detail_reports_the_error(h: Harness) -> None:
    m = make_session(h.storage, status="failed", error={"code": "no_person_found", "message": "nobody"})
    body = h.get(f"/jumping/sessions/{m['session_id']}/").json()
    assert body["status"] == "failed" and body["error"]["code"] == "no_person_found"


def test_created_at_in_configured_timezone(tmp_path: Path) -> None:
    h = build_harness(tmp_path, settings=ApiSettings(timezone="America/New_York", signing_secret="s" * 32))
    m = make_session(h.storage)
    assert h.get(f"/jumping/sessions/{m['session_id']}/").json()["created_at"] == {"date": "05/02/2025",
                                                                                    "time": "02:00 PM"}
    assert created_at_parts("2025-12-31T23:59:00Z", "Europe/Madrid") == {"date": "01/01/2026", "time": "12:59 AM"}
    assert created_at_parts("2025-06-01T12:05:00+00:00", "UTC") == {"date": "06/01/2025", "time": "12:05 PM"}
    with pytest.raises(ZoneInfoNotFoundError):
        ApiSettings(timezone="Mars/Olympus")


@pytest.mark.parametrize("bad_id", ["..%2F..%2Fauth", "..", "%2e%2e", "x" * 200, "ñandú-ñandú-ñandú-ñandú",
                                    "abc", "session.json", "a%00bcdefghijklmnopq", "aaaaaaaaaaaaaaaa%20"])
def test_malformed_ids_are_404_without_touching_storage(tmp_path: Path, bad_id: str) -> None:
    h = build_harness(tmp_path)
    touched: list[str] = []
    original = h.storage.exists

    def spy(key: str) -> bool:
        touched.append(key)
        return original(key)

    h.storage.exists = spy  # type: ignore[method-assign]
    for url in (f"/jumping/sessions/{bad_id}/", f"/jumping/sessions/{bad_id}/export/",
                f"/sessions/{bad_id}/analyzed-video/", f"/weightlifting/sessions/{bad_id}/lift-analysis/"):
        r = h.get(url)
        assert r.status_code == 404, (url, r.text)
        assert set(r.json()["error"]) == {"code", "message"}
        assert "Traceback" not in r.text
    assert not [k for k in touched if not k.startswith("auth/")]


def test_unknown_id_is_404(h: Harness) -> None:
    r = h.get("/running/sessions/AAAAAAAAAAAAAAAAAAAAAA/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"


def test_wrong_activity_prefix_is_404(h: Harness) -> None:
    m = make_session(h.storage, activity="jumping")
    for url in (f"/running/sessions/{m['session_id']}/", f"/weightlifting/sessions/{m['session_id']}/export/",
                f"/weightlifting/sessions/{m['session_id']}/lift-analysis/"):
        assert h.get(url).json()["error"]["code"] == "session_not_found"
    assert h.get(f"/swimming/sessions/{m['session_id']}/").status_code == 404


def test_unknown_route_and_method_are_json(h: Harness) -> None:
    r = h.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = h.client.delete("/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


# --- export ----------------------------------------------------------------------------------

def test_export_is_column_oriented_json_gzipped(h: Harness) -> None:
    m = make_session(h.storage)
    url = f"/jumping/sessions/{m['session_id']}/export/"
    raw = h.client.get(url, headers={**h.headers(), "Accept-Encoding": "gzip"})
    assert raw.status_code == 200 and raw.headers["content-encoding"] == "gzip"
    body = raw.json()  # the client decompressed it
    assert body["session_id"] == m["session_id"] and body["format"] == "json"
    kp = body["keypoints"]
    assert len(kp["frame"]) == 30 * 33 and kp["landmark"][:3] == [0, 1, 2]
    assert kp["x_px"][5] is None  # NaN became null
    assert "session_id" not in kp
    assert body["angles"]["left_knee_flexion"][3] is None
    assert body["angles"]["left_knee_flexion"][-1] == pytest.approx(90.0)
    assert body["timestamps"]["frame"] == list(range(30))
    assert body["timestamps"]["time_s"][1] == pytest.approx(1 / 30, abs=1e-6)
    assert body["events"]["type"] == ["takeoff", "landing"]
    metrics = dict(zip(body["metrics"]["name"], body["metrics"]["value"], strict=True))
    assert metrics["jump_height_m"] == pytest.approx(0.31)
    assert body["metadata"]["angles"]["motionlens.schema_version"] == "1"
    # The same data against the Parquet it came from.
    table = pq.read_table(h.storage.path(m["artifacts"]["exports"]["angles"]))
    got = body["angles"]["right_knee_flexion"]
    for value, stored in zip(got, table.column("right_knee_flexion").to_pylist(), strict=True):
        assert value is None if math.isnan(stored) else value == pytest.approx(stored, abs=1e-6)


def test_export_without_gzip_and_table_selection(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.get(f"/jumping/sessions/{m['session_id']}/export/?tables=events,metrics",
              headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    body = json.loads(r.content)
    assert body["tables"] == ["events", "metrics"] and "keypoints" not in body
    assert h.get(f"/jumping/sessions/{m['session_id']}/export/?tables=secrets").status_code == 400
    assert h.get(f"/jumping/sessions/{m['session_id']}/export/?format=xml").json()["error"]["code"] == \
        "invalid_parameter"


def test_export_parquet_gives_signed_download_urls(h: Harness) -> None:
    m = make_session(h.storage)
    body = h.get(f"/jumping/sessions/{m['session_id']}/export/?format=parquet").json()
    assert body["format"] == "parquet"
    assert set(body["tables"]) == {"keypoints", "angles", "events", "metrics", "sessions"}
    entry = body["tables"]["angles"]
    download = h.client.get(entry["url"], headers={"Accept-Encoding": "gzip"})
    assert download.status_code == 200 and "content-encoding" not in download.headers
    assert len(download.content) == entry["size_bytes"]
    table = pq.read_table(io.BytesIO(download.content))
    assert table.num_rows == 30 and "left_knee_flexion" in table.column_names


def test_export_of_unfinished_or_failed_session_is_409(h: Harness) -> None:
    queued = make_session(h.storage, status="processing")
    failed = make_session(h.storage, status="failed", error={"code": "no_person_found", "message": "nobody"})
    r = h.get(f"/jumping/sessions/{queued['session_id']}/export/")
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_not_ready" and r.headers["Retry-After"]
    r = h.get(f"/jumping/sessions/{failed['session_id']}/export/")
    assert r.status_code == 409 and "no_person_found" in r.json()["error"]["message"]
    bare = make_session(h.storage, exports=False)
    assert h.get(f"/jumping/sessions/{bare['session_id']}/export/").json()["error"]["code"] == "export_unavailable"


def test_missing_export_file_is_a_json_404(h: Harness) -> None:
    m = make_session(h.storage)
    h.storage.delete(m["artifacts"]["exports"]["angles"])
    r = h.get(f"/jumping/sessions/{m['session_id']}/export/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "artifact_missing"


def test_storage_failure_after_auth_is_503(tmp_path: Path) -> None:
    class FlakyStorage(LocalStorage):
        def read_bytes(self, key: str) -> bytes:
            if key.startswith("sessions/"):
                raise StorageUnavailable("gcs timeout")
            return super().read_bytes(key)

    h = build_harness(tmp_path)
    m = make_session(h.storage)
    from api.app import create_app

    client = TestClient(create_app(FlakyStorage(tmp_path), ApiSettings(signing_secret="s" * 32)))
    r = client.get(f"/jumping/sessions/{m['session_id']}/", headers=h.headers())
    assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"


# --- lift analysis ---------------------------------------------------------------------------

def test_lift_analysis_languages(h: Harness) -> None:
    m = make_session(h.storage, activity="weightlifting")
    url = f"/weightlifting/sessions/{m['session_id']}/lift-analysis/"
    body = h.get(url).json()
    assert body["language"] == "en" and body["recommendations"][0]["text"] == "Squat deeper."
    assert set(body["recommendations"][0]["translations"]) == {"en", "es", "fr", "de", "pt", "it"}
    assert body["available_languages"] == ["de", "en", "es", "fr", "it", "pt"]
    assert body["recommendations"][0]["evidence"]["threshold"] == 0.0
    image = body["images"][0]
    assert image["rep"] == 1 and image["position"] == "bottom" and "key" not in image
    assert h.client.get(image["url"]).content.startswith(b"\x89PNG")

    r = h.get(url + "?lang=es")
    assert r.json()["recommendations"][0]["text"] == "Baja más." and r.headers["content-language"] == "es"
    r = h.get(url, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"})
    assert r.json()["language"] == "fr"
    r = h.get(url, headers={"Accept-Language": "ja, de;q=0.3, pt;q=0.6"})
    assert r.json()["recommendations"][0]["text"] == "Desça mais."
    assert h.get(url + "?lang=xx", headers={"Accept-Language": "it"}).json()["language"] == "it"
    assert h.get(url + "?lang=zh", headers={"Accept-Language": "ja"}).json()["language"] == "en"
    assert h.get(url + "?lang=pt-BR").json()["language"] == "pt"


def test_accept_language_parsing() -> None:
    assert parse_accept_language("da, en-GB;q=0.8, en;q=0.7") == ["da", "en", "en"]
    assert parse_accept_language("es;q=0, fr;q=0.5, de") == ["de", "fr"]
    assert parse_accept_language("de;q=abc, it") == ["it"]
    assert negotiate(None, "", ["en", "es"]) == "en"
    assert negotiate(None, "*, es", ["en", "es"]) == "en"


def test_lift_analysis_only_for_weightlifting_and_completed(h: Harness) -> None:
    pending = make_session(h.storage, activity="weightlifting", status="queued")
    r = h.get(f"/weightlifting/sessions/{pending['session_id']}/lift-analysis/")
    assert r.status_code == 409
    assert h.get(f"/jumping/sessions/{pending['session_id']}/lift-analysis/").status_code == 404
