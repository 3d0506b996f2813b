"""The manifest's quality block: how much of the athlete was seen, and warnings a user can act on."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.metrics.view import ViewInfo
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.video import ProbeInfo

# Landmarks each activity cannot do without.
NEEDED: dict[str, tuple[L, ...]] = {
    "jumping": (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE,
                L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX),
    "running": (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE,
                L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX, L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    "weightlifting": (L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_HIP, L.RIGHT_HIP,
                      L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE),
}
# Below these frame rates the activity's fast events are poorly resolved.
MIN_FPS = {"jumping": 30.0, "running": 50.0, "weightlifting": 24.0}
FEET = (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
# What is less precise below MIN_FPS (cadence and rep counts hold: events are timed between frames).
LESS_PRECISE = {"running": "contact and flight times, duty factor and their left/right asymmetry are "
                           "about a frame off; cadence and step times hold",
                "weightlifting": "bar velocities and the short phases of Olympic lifts are less precise; "
                                 "rep counts hold"}
NOMINAL_TOL = 0.01         # a rate within 1 % of a whole number is that number (NTSC 29.97 = 30000/1001, phones' 29.95)


def nominal_fps(fps: float) -> float:
    """The frame rate a user chose: NTSC 23.976 / 29.97 / 59.94 and a phone's 29.95 average count as 24 / 30 / 60."""
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= NOMINAL_TOL * whole else float(fps)


def fps_text(fps: float) -> str:
    """'30 fps', '29.97 fps': as the user would name the rate."""
    return f"{fps:.0f} fps" if float(fps).is_integer() else f"{fps:.2f} fps"


def _warn(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def quality_block(activity: str, raw: PoseSequence, view: ViewInfo, probe: ProbeInfo,
                  people: dict[str, Any], decoded_frames: int) -> dict[str, Any]:
    detected = raw.detected
    needed = list(NEEDED[activity])
    vis = raw.visibility[detected][:, needed] if detected.any() else np.zeros((0, len(needed)))
    visibility = {L(i).name.lower(): round(float(vis[:, k].mean()), 3) if len(vis) else 0.0
                  for k, i in enumerate(needed)}
    warnings = []
    if nominal_fps(probe.fps) < MIN_FPS[activity]:
        warnings.append(_warn("low_fps", f"the video has {fps_text(probe.fps)}; {activity} needs at least "
                                         f"{MIN_FPS[activity]:.0f} fps for reliable timing — film in a higher frame-rate mode"))
    share = float(detected.mean()) if len(detected) else 0.0
    if share < 0.8:
        warnings.append(_warn("athlete_not_always_visible",
                              f"the athlete was found in {share:.0%} of frames — keep the whole body in view"))
    feet_out = _feet_out_share(raw)
    if feet_out > 0.2:
        warnings.append(_warn("feet_out_of_frame", f"the feet are out of the frame or hidden in {feet_out:.0%} of frames "
                                                   "— frame the athlete from head to toe"))
    if people.get("multi_person_share", 0.0) > 0.1:
        warnings.append(_warn("several_people", f"several people are in view in {people['multi_person_share']:.0%} of "
                                                "frames; the athlete was chosen by '" + str(people.get("selection")) +
                                                "' — use --select to choose another"))
    if len(vis) and float(vis.mean()) < 0.6:
        warnings.append(_warn("low_visibility", f"the landmarks {activity} needs are poorly visible (mean "
                                                f"{float(vis.mean()):.2f}) — more light, less clutter, closer camera"))
    if probe.frame_count and decoded_frames < probe.frame_count * 0.98:
        warnings.append(_warn("truncated_video", f"only {decoded_frames} of {probe.frame_count} frames could be "
                                                 "decoded; the end of the file is damaged"))
    warnings = [_less_precise(w, activity) for w in warnings]
    conf = round(float(view.confidence), 3) if np.isfinite(view.confidence) else None
    return {"detected_share": round(share, 4), "view": view.view, "view_label": view.label, "view_confidence": conf,
            "facing": view.facing,
            "fps": round(probe.fps, 3), "frames": len(raw), "landmark_visibility": visibility,
            "people": people, "warnings": warnings}


def _feet_out_share(raw: PoseSequence) -> float:
    if not raw.detected.any():
        return 1.0
    xy = raw.image_xy[raw.detected][:, list(FEET)]
    vis = raw.visibility[raw.detected][:, list(FEET)]
    out = (xy[..., 1] > raw.height) | (xy[..., 0] < 0) | (xy[..., 0] > raw.width) | (vis < 0.3)
    return float(out.all(axis=1).mean())


def _less_precise(warning: dict[str, str], activity: str) -> dict[str, str]:
    """A `low_fps` warning told what it costs this activity (`LESS_PRECISE`)."""
    if warning["code"] != "low_fps" or activity not in LESS_PRECISE:
        return warning
    return {**warning, "message": f"{warning['message']} ({LESS_PRECISE[activity]})"}
