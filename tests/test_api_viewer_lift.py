"""The viewer page of a lift shows the top recommendations (in the reader's language) and the bar path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.session import artifact_key, write_manifest
from tests.support_api import Harness, build_harness, make_session
from tests.test_api_viewer import SETTINGS, page_data, with_query


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store", settings=SETTINGS)


def lift_with_bar_path(h: Harness) -> dict:
    m = make_session(h.storage, activity="weightlifting")
    key = artifact_key(m["session_id"], "lift-analysis/bar_path.png")
    h.storage.write_bytes(key, b"\x89PNG\r\n\x1a\n" + b"\1" * 16)
    lift = m["artifacts"]["lift_analysis"]
    lift["charts"] = [{"key": key, "kind": "bar_path"}]
    rec = lift["recommendations"][0]
    lift["recommendations"] = [{**rec, "code": f"c{i}", "severity": s}
                               for i, s in enumerate(("critical", "warning", "warning", "info"))]
    write_manifest(h.storage, m)
    return m


def test_the_lift_viewer_shows_the_top_recommendations_and_the_bar_path(h: Harness) -> None:
    m = lift_with_bar_path(h)
    link = h.get(f"/sessions/{m['session_id']}/viewer/").json()["viewer_url"]
    page = h.client.get(link, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    data = page_data(page.text)
    assert [r["code"] for r in data["recommendations"]] == ["c0", "c1", "c2"]      # the three most severe
    assert data["lang"] == "fr" and data["recommendations"][0]["text"] == "Descends plus bas."
    assert '<html lang="fr">' in page.text and 'id="recs"' in page.text and 'id="bar-path"' in page.text
    assert h.client.get(data["images"]["bar_path"]).content == \
        h.storage.read_bytes(m["artifacts"]["lift_analysis"]["charts"][0]["key"])
    spanish = page_data(h.client.get(with_query(link, lang="es")).text)   # ?lang= beats the header
    assert spanish["recommendations"][0]["text"] == "Baja más."


def test_other_activities_have_no_recommendations(h: Harness) -> None:
    m = make_session(h.storage, activity="jumping")
    data = page_data(h.client.get(h.get(f"/sessions/{m['session_id']}/viewer/").json()["viewer_url"]).text)
    assert data["recommendations"] == [] and "bar_path" not in data["images"]
