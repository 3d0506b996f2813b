"""`GET /sessions/` and `GET /{activity}/sessions/`: the owner's sessions, filtered, paged by cursor."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.keys import create_key
from api.session_index import SessionIndex
from api.settings import ApiSettings
from pipeline.gcs_storage import GcsSettings, GcsStorage
from pipeline.session import new_session_id, write_manifest
from pipeline.storage import Storage
from tests.servers import running_gcs_emulator
from tests.support_api import Harness, TestClient, build_harness, make_session

T0 = datetime(2025, 5, 2, 18, 0, tzinfo=UTC)


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def stored(storage: Storage, *, minutes: float = 0, owner: str = "alice", activity: str = "jumping",
           status: str = "completed", created: datetime | None = None) -> dict[str, Any]:
    """A bare manifest (no artifacts) created `minutes` after T0: listing reads nothing else."""
    moment = created or T0 + timedelta(minutes=minutes)
    manifest = {"session_id": new_session_id(), "activity": activity, "owner": owner, "status": status,
                "error": {"code": "x", "message": "y"} if status == "failed" else None,
                "created_at": moment.isoformat().replace("+00:00", "Z"), "updated_at": None,
                "options": {"exercise": "back_squat" if activity == "weightlifting" else None}}
    write_manifest(storage, manifest)
    return manifest


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["session_id"] for s in response.json()["sessions"]]


def all_pages(h: Harness, url: str, who: str = "reader") -> Iterator[list[str]]:
    while url:
        r = h.get(url, who)
        yield ids(r)
        url = r.json()["links"]["next"]


def test_lists_only_the_owners_sessions_newest_first(h: Harness) -> None:
    mine = [stored(h.storage, minutes=i, activity=a) for i, a in enumerate(["jumping", "running", "weightlifting"])]
    stored(h.storage, minutes=10, owner="bob")
    r = h.get("/sessions/")
    assert ids(r) == [m["session_id"] for m in reversed(mine)]
    first = r.json()["sessions"][0]
    assert first["activity"] == "weightlifting" and first["exercise"] == "back_squat"
    assert first["created_at"] == {"date": "05/02/2025", "time": "06:02 PM"}
    assert first["links"]["self"].endswith(f"/weightlifting/sessions/{first['session_id']}/")
    assert h.get(first["links"]["self"]).status_code == 200
    assert r.json()["next_cursor"] is None and "link" not in r.headers
    assert ids(h.get("/running/sessions/")) == [mine[1]["session_id"]]
    assert len(ids(h.get("/sessions/", "admin"))) == 4
    assert ids(h.get("/sessions/?owner=bob", "admin")) == ids(h.get("/sessions/", "bob"))


def test_the_listing_of_a_real_stored_session(h: Harness) -> None:
    m = make_session(h.storage, activity="weightlifting")
    [item] = h.get("/weightlifting/sessions/").json()["sessions"]
    assert item["session_id"] == m["session_id"] and item["status"] == "completed"
    assert item["created_at_utc"] == m["created_at"]


def test_filters_by_status_and_date(h: Harness) -> None:
    done = stored(h.storage, created=datetime(2025, 5, 1, 23, 30, tzinfo=UTC))
    failed = stored(h.storage, created=datetime(2025, 5, 2, 0, 30, tzinfo=UTC), status="failed")
    queued = stored(h.storage, created=datetime(2025, 5, 3, 12, 0, tzinfo=UTC), status="queued")
    assert ids(h.get("/sessions/?status=failed,queued")) == [queued["session_id"], failed["session_id"]]
    assert ids(h.get("/sessions/?created_from=2025-05-02&created_to=2025-05-02")) == [failed["session_id"]]
    assert ids(h.get("/sessions/?created_to=2025-05-02")) == [failed["session_id"], done["session_id"]]
    assert ids(h.get("/sessions/?created_from=2025-05-02T00:30:00Z&status=failed")) == [failed["session_id"]]
    assert ids(h.get("/sessions/?created_to=2025-05-02T00:29:59%2B00:00")) == [done["session_id"]]
    for bad in ("status=done", "created_from=yesterday", "limit=0", "limit=101", "limit=x"):
        r = h.get(f"/sessions/?{bad}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter", bad


def test_dates_are_days_of_the_configured_timezone(tmp_path: Path) -> None:
    h = build_harness(tmp_path / "s", settings=ApiSettings(signing_secret="test-secret-0123456789",
                                                           timezone="America/New_York"))
    late = stored(h.storage, created=datetime(2025, 5, 2, 2, 0, tzinfo=UTC))  # 1 May, 10 PM in New York
    assert ids(h.get("/sessions/?created_to=2025-05-01")) == [late["session_id"]]
    assert ids(h.get("/sessions/?created_from=2025-05-02")) == []


def test_cursor_pages_cover_everything_once_in_a_stable_order(h: Harness) -> None:
    # Five sessions share each creation second: the id breaks the tie.
    made = [stored(h.storage, minutes=i // 5) for i in range(45)]
    expected = [m["session_id"] for m in sorted(made, key=lambda m: (m["created_at"], m["session_id"]),
                                                reverse=True)]
    r = h.get("/jumping/sessions/?limit=20")
    assert r.headers["link"] == f'<{r.json()["links"]["next"]}>; rel="next"'
    first = ids(r)
    stored(h.storage, minutes=100)  # created while paging: newer, so before the cursor, never in later pages
    pages = [first, *all_pages(h, r.json()["links"]["next"])]
    assert [len(p) for p in pages] == [20, 20, 5]
    assert sum(pages, []) == expected


def test_a_cursor_cannot_be_forged_or_reused_with_other_filters(h: Harness) -> None:
    for i in range(3):
        stored(h.storage, minutes=i)
    cursor = h.get("/sessions/?limit=1").json()["next_cursor"]
    assert h.get(f"/sessions/?limit=1&cursor={cursor}").status_code == 200
    payload, sig = cursor.split(".")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[1] = "A" * 22
    moved = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    for bad in (f"{moved}.{sig}", cursor[:-2] + "AA", "nonsense", f"{payload}."):
        r = h.get(f"/sessions/?limit=1&cursor={bad}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", bad
    assert h.get(f"/sessions/?limit=1&status=completed&cursor={cursor}").status_code == 400
    assert h.get(f"/running/sessions/?limit=1&cursor={cursor}").status_code == 400
    assert h.get(f"/sessions/?limit=1&cursor={cursor}", "bob").status_code == 400


def test_scopes_and_owners(h: Harness) -> None:
    stored(h.storage)
    assert h.client.get("/sessions/").status_code == 401
    r = h.get("/sessions/", "only:exports:read")
    assert r.status_code == 403 and "sessions:read" in r.json()["error"]["message"]
    assert h.get("/sessions/?owner=bob").status_code == 403
    assert h.get("/sessions/?owner=alice").status_code == 200
    # POST on the same path still submits.
    posted = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "text/plain"})
    assert posted.status_code == 415


def test_pages_read_only_changed_manifests(h: Harness) -> None:
    made = [stored(h.storage, minutes=i) for i in range(300)]
    index: SessionIndex = h.app.state.session_index
    assert len(list(all_pages(h, "/sessions/?limit=100"))) == 3
    assert index.reads == 300  # the first page read each manifest once; the next pages none
    assert len(ids(h.get("/sessions/?status=processing"))) == 0
    changed = {**made[0], "status": "processing"}
    write_manifest(h.storage, changed)
    (h.storage.path(f"sessions/{made[1]['session_id']}/session.json")).unlink()
    assert ids(h.get("/sessions/?status=processing")) == [changed["session_id"]]
    assert index.reads == 301
    assert len(ids(h.get("/sessions/?limit=100&created_to=2025-05-02T18:05:00Z"))) == 5


def test_listing_over_gcs_reads_each_manifest_once(tmp_path: Path) -> None:
    with running_gcs_emulator(tmp_path) as emulator:
        emulator.create_bucket("listing")
        storage = GcsStorage("listing", "p", settings=GcsSettings(emulator_host=emulator.url, retry_timeout_s=5.0))
        made = [stored(storage, minutes=i, activity=("jumping", "running")[i % 2]) for i in range(12)]
        storage.write_bytes(f"sessions/{made[0]['session_id']}/analyzed.mp4", b"not a manifest")
        app = create_app(storage, ApiSettings(signing_secret="test-secret-0123456789"))
        token = create_key(storage, "alice", ("sessions:read",))[0]
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {token}"}
            first = client.get("/jumping/sessions/?limit=4", headers=auth).json()
            second = client.get(first["links"]["next"], headers=auth).json()
            got = [s["session_id"] for s in first["sessions"] + second["sessions"]]
            assert got == [m["session_id"] for m in reversed(made) if m["activity"] == "jumping"]
            assert app.state.session_index.reads == 12
