"""MotionLens analysis pipeline: video -> pose -> metrics -> render -> export -> publish."""

__version__ = "0.1.0"
