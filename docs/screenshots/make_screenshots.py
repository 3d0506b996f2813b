"""Regenerate the pictures in docs/screenshots/ from the fixture clips (pose runs; ~1 min on 2 cores).

    .venv/bin/python docs/screenshots/make_screenshots.py [--shared ../shared/fixtures/videos]

Frames of each activity as the annotated video shows them, the squat session's angle chart and
contact sheet, and the session viewer page (headless Chromium, when installed). Only PNGs are
written here: the clips in ../shared may not be committed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.metrics.activity import analyze_pose  # noqa: E402
from pipeline.options import AnalysisOptions  # noqa: E402
from pipeline.pose.athlete import estimate_athlete  # noqa: E402
from pipeline.render.frame import FrameAnnotator  # noqa: E402
from pipeline.render.session_charts import session_images  # noqa: E402
from pipeline.video import grab_frames  # noqa: E402

OUT = Path(__file__).resolve().parent
# (file, clip, options, select, time of the frame shown)
SHOTS = [
    ("jumping.png", "jumps_synthetic_30fps.mp4", AnalysisOptions("jumping"), "largest", 1.80),
    ("weightlifting.png", "squat_side.mp4", AnalysisOptions("weightlifting", exercise="back_squat",
                                                            athlete_height_m=1.75), "largest", 17.40),
    ("running.png", "sports2d_demo_multi_person.mp4", AnalysisOptions("running", select="moving"), "moving", 3.50),
]


def save(path: Path, rgb: np.ndarray, max_side: int = 1280) -> None:
    h, w = rgb.shape[:2]
    k = min(1.0, max_side / max(h, w))
    if k < 1:
        rgb = cv2.resize(rgb, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print("wrote", path.relative_to(ROOT))


def find_clip(name: str, shared: Path) -> Path:
    for d in (ROOT / "fixtures" / "videos", shared):
        if (d / name).is_file():
            return d / name
    raise SystemExit(f"clip {name} not found in fixtures/videos or {shared}")


def viewer_screenshots(video: Path, analysis, images: dict[str, Path], chromium: str) -> None:
    from api.viewer import angle_columns, angles_payload, viewer_page
    from pipeline.manifest import json_safe

    res = analysis.result
    manifest = json_safe({
        "session_id": "pQ3xK9vTnB2wLm7RsY4eZa", "activity": res.activity, "status": "completed",
        "created_at": "2026-11-29T14:00:00Z", "metrics": res.summary, "pipeline_version": "0.1.0",
        "events": [{"type": e.type, "time_s": e.time_s, "side": e.side, "index": e.index} for e in res.events],
        "quality": {"view": analysis.view.view, "facing": analysis.view.facing},
        "probe": {"width": analysis.seq.width, "height": analysis.seq.height}})
    exercise = res.summary.get("exercise")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        shutil.copy(video, d / "analyzed.mp4")
        shutil.copy(images["contact_sheet"], d / "contact-sheet.png")
        page = viewer_page(manifest, video_url="analyzed.mp4",
                           angles=angles_payload(analysis.seq.time_s, analysis.angles,
                                                 angle_columns(res.activity, exercise)),
                           image_urls={"contact_sheet": "contact-sheet.png"})
        (d / "viewer.html").write_text(page.html, encoding="utf-8")
        for name, size in (("viewer.png", "1440,1000"), ("viewer-mobile.png", "412,1500")):
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={size}",
                                "--allow-file-access-from-files", "--virtual-time-budget=6000",
                                f"--screenshot={OUT / name}", (d / "viewer.html").as_uri() + "#t=17.35"],
                               check=True, capture_output=True, timeout=180)
            print("wrote", (OUT / name).relative_to(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "fixtures" / "videos")
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    for name, clip_name, options, select, at_s in SHOTS:
        clip = find_clip(clip_name, args.shared)
        raw, _ = estimate_athlete(clip, model="full", select=select)
        analysis = analyze_pose(raw, options)
        strikes = [e.time_s for e in analysis.result.events if e.type == "foot_strike"]
        if options.activity == "running" and strikes:   # show a foot strike as it flashes
            at_s = min(strikes, key=lambda t: abs(t - at_s)) + 0.05
        i = int(np.argmin(np.abs(analysis.seq.time_s - at_s)))
        image = grab_frames(clip, analysis.seq.time_s, [i])[i]
        save(OUT / name, FrameAnnotator.from_analysis(analysis).annotate(image, i))
        if options.activity == "weightlifting":
            with tempfile.TemporaryDirectory() as tmp:
                images = session_images(clip, analysis, Path(tmp))
                for key, file in (("angle_chart", "angle-chart.png"), ("contact_sheet", "contact-sheet.png")):
                    save(OUT / file, cv2.cvtColor(cv2.imread(str(images[key])), cv2.COLOR_BGR2RGB), max_side=1800)
                chromium = shutil.which("chromium") or shutil.which("chromium-browser")
                if chromium:
                    from pipeline.render.video import render_analysis

                    video = render_analysis(clip, analysis, Path(tmp) / "analyzed.mp4")
                    viewer_screenshots(video, analysis, images, chromium)
                else:
                    print("chromium not found: viewer screenshots not refreshed")


if __name__ == "__main__":
    main()
