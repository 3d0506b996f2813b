"""The inbox rules (`pipeline/inbox.py`) on a local folder, and the `inbox` flow run inline."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pipeline import inbox as box
from pipeline.errors import PipelineError
from pipeline.manifest import failed, with_status
from pipeline.session import read_manifest, write_manifest
from pipeline.storage import LocalStorage
from tests.conftest import clip_path


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def drop(storage: LocalStorage, key: str, options: dict | None = None, data: bytes = b"\x00\x00\x00\x18ftypmp42") -> None:
    if options is not None:
        storage.write_bytes(str(Path(key).with_suffix(".json")), json.dumps(options).encode())
    storage.write_bytes(key, data)


def test_videos_and_their_options(storage: LocalStorage) -> None:
    drop(storage, "inbox/jumping/a.mp4")
    drop(storage, "inbox/jumping/b.MOV", {"athlete_height_m": 1.8, "jump_type": "cmj", "activity": "running"})
    drop(storage, "inbox/weightlifting/clean/c.mp4")
    drop(storage, "inbox/weightlifting/d.mp4", {"exercise": "deadlift", "owner": "coach-anna"})
    drop(storage, "inbox/running/e.webm", {"athlete_height_m": 9})             # invalid: 0.5-2.6 m
    drop(storage, "inbox/running/f.mp4", {"no_such_option": 1})
    storage.write_bytes("inbox/running/g.mp4.json", b"[1, 2]")                 # not an options file of a video
    drop(storage, "inbox/swimming/h.mp4")                                     # unknown activity: left alone
    storage.write_bytes("inbox/jumping/notes.txt", b"x")
    videos = {v.key: v for v in box.find_videos(storage, owner="ops")}
    assert sorted(videos) == ["inbox/jumping/a.mp4", "inbox/jumping/b.MOV", "inbox/running/e.webm",
                              "inbox/running/f.mp4", "inbox/weightlifting/clean/c.mp4", "inbox/weightlifting/d.mp4"]
    a, b = videos["inbox/jumping/a.mp4"], videos["inbox/jumping/b.MOV"]
    assert (a.activity, a.options["owner"], a.error) == ("jumping", "ops", None)
    assert b.options["activity"] == "jumping" and b.options["athlete_height_m"] == 1.8 and b.options["jump_type"] == "cmj"
    assert videos["inbox/weightlifting/clean/c.mp4"].options["exercise"] == "clean"
    d = videos["inbox/weightlifting/d.mp4"].options
    assert (d["exercise"], d["owner"]) == ("deadlift", "coach-anna")
    assert videos["inbox/running/e.webm"].error.code == "invalid_option"
    assert videos["inbox/running/f.mp4"].error.code == "invalid_option"
    assert a.claim_key.startswith("inbox-claims/") and len(a.claim_key) == len("inbox-claims/") + 64 + 5


def test_each_video_is_claimed_once_whatever_the_race(storage: LocalStorage) -> None:
    drop(storage, "inbox/jumping/a.mp4")
    [video] = box.find_videos(storage)
    barrier = threading.Barrier(8)
    starts: list[box.Start | None] = []

    def take() -> None:
        barrier.wait()
        starts.append(box.claim(storage, video))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [s for s in starts if s is not None]
    assert len(won) == 1
    start = won[0]
    assert json.loads(storage.read_bytes(video.claim_key))["session_id"] == start.session_id
    m = read_manifest(storage, start.session_id)
    assert m["status"] == "queued" and m["source"]["uri"] == f"{storage.uri}/inbox/jumping/a.mp4"
    assert m["source"]["filename"] == "a.mp4" and start.attempt == 1
    assert box.claim(storage, video) is None


def test_invalid_options_fail_the_session_at_once(storage: LocalStorage) -> None:
    drop(storage, "inbox/running/e.mp4", {"athlete_height_m": 9})
    [video] = box.find_videos(storage)
    assert box.claim(storage, video) is None
    sid = json.loads(storage.read_bytes(video.claim_key))["session_id"]
    m = read_manifest(storage, sid)
    assert m["status"] == "failed" and m["error"]["code"] == "invalid_option" and "athlete height" in m["error"]["message"]
    assert box.survey(storage).failed == [sid]


def test_survey_sorts_what_to_do(storage: LocalStorage) -> None:
    for name in "abcdef":
        drop(storage, f"inbox/jumping/{name}.mp4")
    videos = {Path(v.key).stem: v for v in box.find_videos(storage)}
    starts = {n: box.claim(storage, videos[n]) for n in "bcdef"}
    sid = {n: s.session_id for n, s in starts.items()}
    write_manifest(storage, with_status(read_manifest(storage, sid["c"]), "completed"))
    write_manifest(storage, failed(read_manifest(storage, sid["d"]), PipelineError("gone", code="storage_unavailable")))
    write_manifest(storage, failed(read_manifest(storage, sid["e"]), PipelineError("no one", code="no_person_found")))
    storage.delete(f"sessions/{sid['f']}/session.json")                   # claimed, then the run died
    s = box.survey(storage)
    assert [v.key for v in s.new] == ["inbox/jumping/a.mp4"]
    assert sorted(s.running) == sorted([sid["b"], sid["f"]])               # f: only just claimed
    assert [(v.key, i) for v, i in s.done] == [("inbox/jumping/c.mp4", sid["c"])]
    assert [(r.video.key, r.session_id, r.attempt) for r in s.retry] == [("inbox/jumping/d.mp4", sid["d"], 2)]
    assert s.failed == [sid["e"]]
    later = box.survey(storage, now=time.time() + box.ORPHAN_AFTER_S + 1)
    assert sorted(r.session_id for r in later.retry) == sorted([sid["d"], sid["f"]])


def test_transient_failures_are_retried_under_the_same_id_a_bounded_number_of_times(storage: LocalStorage) -> None:
    drop(storage, "inbox/jumping/a.mp4")
    [video] = box.find_videos(storage)
    first = box.claim(storage, video)
    sid = first.session_id
    created = read_manifest(storage, sid)["created_at"]
    for attempt in (2, 3):
        write_manifest(storage, failed(read_manifest(storage, sid), PipelineError("down", code="storage_unavailable")))
        seen = [box.survey(storage, max_attempts=3).retry for _ in range(2)]   # two runs see the failure...
        racers = [box.retry(storage, planned) for [planned] in seen]           # ...and both decide to retry
        won = [r for r in racers if r is not None]
        assert len(won) == 1 and won[0].session_id == sid and won[0].attempt == attempt
        m = read_manifest(storage, sid)
        assert m["status"] == "queued" and m["error"] is None and m["created_at"] == created
    write_manifest(storage, failed(read_manifest(storage, sid), PipelineError("down", code="storage_unavailable")))
    s = box.survey(storage, max_attempts=3)
    assert s.retry == [] and s.failed == [sid]                                # third failure: a person looks


def test_finished_videos_leave_the_inbox(storage: LocalStorage) -> None:
    drop(storage, "inbox/jumping/a.mp4", {"athlete_height_m": 1.7})
    [video] = box.find_videos(storage)
    start = box.claim(storage, video)
    storage.write_bytes(video.attempt_key(2), b"x")
    write_manifest(storage, with_status(read_manifest(storage, start.session_id), "completed"))
    box.remove_finished(storage, video)
    assert list(storage.list("inbox")) == []
    assert list(storage.list("sessions/")) == [f"sessions/{start.session_id}/session.json"]
    drop(storage, "inbox/jumping/a.mp4")                                     # the same name again: a new video
    [again] = box.find_videos(storage)
    assert box.claim(storage, again) is not None


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_inbox_flow_inline_end_to_end(storage: LocalStorage) -> None:
    """Without a worker (`run_analyses="inline"`), one inbox run analyses what it claims itself."""
    from flows.inbox import inbox

    storage.upload_file("inbox/weightlifting/clean/lift.mp4", clip_path("power_clean_side.mp4"))
    drop(storage, "inbox/running/bad.mp4", {"athlete_height_m": 9})
    summary = inbox(storage_uri=str(storage.root), run_analyses="inline")
    assert len(summary["started"]) == 1 and summary["reconcile_error"] is None
    m = read_manifest(storage, summary["started"][0])
    assert m["status"] == "completed", m["error"]
    assert m["options"]["exercise"] == "clean" and storage.exists(m["artifacts"]["analyzed_video"])
    again = inbox(storage_uri=str(storage.root), run_analyses="inline")
    assert again["started"] == [] and again["removed"] == ["inbox/weightlifting/clean/lift.mp4"]
    assert len(again["failed"]) == 1                                          # the invalid one waits for a person
    assert [k for k in storage.list("inbox/")] == ["inbox/running/bad.json", "inbox/running/bad.mp4"]
