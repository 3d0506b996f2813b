"""The 33 MediaPipe / BlazePose landmarks, by name and index, and the skeleton's bones."""

from __future__ import annotations

from enum import IntEnum


class Landmark(IntEnum):
    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


NUM_LANDMARKS = 33
NAMES: tuple[str, ...] = tuple(lm.name.lower() for lm in Landmark)

# (left, right) pairs; swapping these columns mirrors the body's sides.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (lm.value, Landmark[lm.name.replace("LEFT", "RIGHT")].value) for lm in Landmark if "LEFT" in lm.name
)

# Index permutation that exchanges every left landmark with its right twin.
MIRROR_PERMUTATION: tuple[int, ...] = tuple(
    next((b for a, b in LEFT_RIGHT_PAIRS if a == i), next((a for a, b in LEFT_RIGHT_PAIRS if b == i), i))
    for i in range(NUM_LANDMARKS)
)

L = Landmark
# The body without hands and face: the clean stick figure the renderer draws.
BODY_BONES: tuple[tuple[int, int], ...] = (
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_SHOULDER, L.LEFT_HIP), (L.RIGHT_SHOULDER, L.RIGHT_HIP),
    (L.LEFT_SHOULDER, L.LEFT_ELBOW), (L.LEFT_ELBOW, L.LEFT_WRIST),
    (L.RIGHT_SHOULDER, L.RIGHT_ELBOW), (L.RIGHT_ELBOW, L.RIGHT_WRIST),
    (L.LEFT_HIP, L.LEFT_KNEE), (L.LEFT_KNEE, L.LEFT_ANKLE),
    (L.LEFT_ANKLE, L.LEFT_HEEL), (L.LEFT_HEEL, L.LEFT_FOOT_INDEX), (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX),
    (L.RIGHT_HIP, L.RIGHT_KNEE), (L.RIGHT_KNEE, L.RIGHT_ANKLE),
    (L.RIGHT_ANKLE, L.RIGHT_HEEL), (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX), (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX),
)
BONES: tuple[tuple[int, int], ...] = BODY_BONES + (
    (L.LEFT_WRIST, L.LEFT_INDEX), (L.RIGHT_WRIST, L.RIGHT_INDEX),
    (L.NOSE, L.LEFT_EYE), (L.NOSE, L.RIGHT_EYE), (L.LEFT_EYE, L.LEFT_EAR), (L.RIGHT_EYE, L.RIGHT_EAR),
)
