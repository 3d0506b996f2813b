"""The one options model shared by the CLI and the API (pipeline.options)."""

from __future__ import annotations

import pytest

from pipeline.errors import InvalidOption
from pipeline.options import AnalysisOptions


@pytest.mark.parametrize("select", ["nan,nan", "inf,10", "10,-inf", "nan,3"])
def test_a_non_finite_select_point_is_refused(select: str) -> None:
    with pytest.raises(InvalidOption, match="finite"):
        AnalysisOptions("jumping", select=select)
    with pytest.raises(InvalidOption):
        AnalysisOptions.from_client({"select": select}, "jumping", "o")


@pytest.mark.parametrize("field", ["athlete_height_m", "body_mass_kg", "age"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidOption):
        AnalysisOptions.from_client({field: value}, "jumping", "o")


def test_over_the_api_the_model_is_a_bundled_name_never_a_server_path() -> None:
    for name in ("lite", "full", "heavy"):
        assert AnalysisOptions.from_client({"model": name}, "running", "o").model == name
    for path in ("/etc/models/evil.task", "../models/pose_landmarker_full.task", "fast"):
        with pytest.raises(InvalidOption, match="expected one of lite, full, heavy$") as exc:
            AnalysisOptions.from_client({"model": path}, "running", "o")
        assert exc.value.code == "invalid_option"


def test_the_cli_may_name_a_local_task_bundle_but_not_an_unknown_model() -> None:
    assert AnalysisOptions("jumping", model="/opt/bundles/custom.task").model.endswith(".task")
    with pytest.raises(InvalidOption, match="unknown model 'fast'"):
        AnalysisOptions("jumping", model="fast")


@pytest.mark.parametrize(("activity", "option"), [
    ("jumping", {"exercise": "back_squat"}), ("running", {"exercise": "deadlift"}),
    ("weightlifting", {"jump_type": "cmj"}), ("jumping", {"treadmill_speed_m_s": 3.0}),
])
def test_an_option_of_another_activity_is_refused(activity: str, option: dict) -> None:
    with pytest.raises(InvalidOption, match="applies to"):
        AnalysisOptions(activity, **option)
    with pytest.raises(InvalidOption, match="applies to"):
        AnalysisOptions.from_client(option, activity, "o")


def test_client_options_are_coerced_from_form_strings() -> None:
    o = AnalysisOptions.from_client({"athlete_height_m": "1.8", "render": "false", "exercise": "deadlift",
                                     "model": ""}, "weightlifting", "o")
    assert (o.athlete_height_m, o.render, o.exercise, o.model, o.owner) == (1.8, False, "deadlift", "full", "o")
    with pytest.raises(InvalidOption, match="unknown option 'owner'"):
        AnalysisOptions.from_client({"owner": "someone-else"}, "jumping", "o")
    with pytest.raises(InvalidOption, match="invalid value"):
        AnalysisOptions.from_client({"render": "maybe"}, "jumping", "o")


# --- the same model behind the API (POST /{activity}/sessions/) ----------------------------------

@pytest.mark.parametrize(("activity", "params", "fragment"), [
    ("jumping", {"model": "/srv/models/pose_landmarker_full.task"}, "expected one of lite, full, heavy"),
    ("running", {"select": "nan,nan"}, "finite"),
    ("jumping", {"exercise": "back_squat"}, "applies to weightlifting only"),
])
def test_the_api_refuses_the_same_options_with_422(tmp_path, activity, params, fragment) -> None:
    from tests.support_api import build_harness, mp4_bytes
    from tests.test_api_submit import FakeSubmitter

    submitter = FakeSubmitter()
    h = build_harness(tmp_path / "store", submitter=submitter)
    r = h.client.post(f"/{activity}/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                      content=mp4_bytes(), params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_option" and fragment in r.json()["error"]["message"]
    assert submitter.calls == []
