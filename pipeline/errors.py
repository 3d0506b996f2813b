"""Errors a user can act on: each has a stable machine-readable code and a message."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every expected failure; `code` is what the manifest and the CLI report."""

    code = "pipeline_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class VideoNotFound(PipelineError):
    code = "video_not_found"


class EmptyVideo(PipelineError):
    code = "empty_file"


class NotAVideo(PipelineError):
    code = "not_a_video"


class NoVideoStream(PipelineError):
    code = "no_video_stream"


class TruncatedVideo(PipelineError):
    code = "truncated_video"


class VideoTooLong(PipelineError):
    code = "video_too_long"


class VideoTooLarge(PipelineError):
    code = "video_too_large"


class NoPersonFound(PipelineError):
    code = "no_person_found"


class InvalidOption(PipelineError):
    code = "invalid_option"


class ModelNotFound(PipelineError):
    code = "model_not_found"


class StorageUnavailable(PipelineError):
    code = "storage_unavailable"


class DownloadFailed(PipelineError):
    code = "download_failed"


class SessionCorrupt(PipelineError):
    """A stored session.json that is not a JSON object (a damaged file, a bad manual edit)."""

    code = "session_corrupt"


class SourceUnreachable(DownloadFailed):
    """A remote source could not be fetched. One code and one message whatever the cause (refused,
    DNS, HTTP error, too slow, not a video, missing or forbidden object): a caller probing the
    network through us learns nothing; the cause goes to the server log. A DownloadFailed, so the
    flows retry it as before (every cause alike: retries tell nothing either)."""

    code = "source_unreachable"

    def __init__(self, message: str = "the video could not be fetched from its URL "
                                      "(unreachable, refused, too slow, missing or not a video)") -> None:
        super().__init__(message)
