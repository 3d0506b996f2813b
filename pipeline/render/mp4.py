"""The annotated video's container: H.264 (High, yuv420p, BT.709) in a fast-start MP4, with the
source's audio carried over.

Video frames keep the source's own presentation times, in the source's time base where it is fine
enough, so a variable-frame-rate phone clip stays frame-for-frame in sync. Audio is remuxed packet
by packet (no re-encoding) when its codec plays from an MP4 in browsers (AAC, MP3); any other codec
is transcoded to AAC. Both streams are added before the first packet is written, and audio is fed
in step with the video so memory stays bounded (the muxer interleaves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger("motionlens.render")

COPY_AUDIO_CODECS = {"aac", "mp3"}
FALLBACK_TIME_BASE = Fraction(1, 90000)
AUDIO_LEAD_S = 0.5          # audio is muxed up to this far ahead of the last video frame written


@dataclass(frozen=True)
class SourceTiming:
    """What the writer needs to know about the source to keep its timing."""

    time_base: Fraction         # of the output video stream
    first_time_s: float         # presentation time of the first video frame in the source
    fps: float
    has_audio: bool


def source_timing(path: str | Path) -> SourceTiming:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base or FALLBACK_TIME_BASE
        first = 0.0
        for frame in c.decode(v):
            first = float(frame.time) if frame.time is not None else 0.0
            break
        rate = v.average_rate or v.guessed_rate or Fraction(30)
        # a coarse container clock (e.g. 1/25) cannot carry VFR times: use 90 kHz then
        fine = tb.denominator >= 600 and tb.numerator == 1
        return SourceTiming(tb if fine else FALLBACK_TIME_BASE, first, float(rate), bool(c.streams.audio))


class _AudioCarrier:
    """Copies (or transcodes) the source's first audio stream into the output, in time order."""

    def __init__(self, source: Path, out: av.container.OutputContainer, offset_s: float) -> None:
        self._in = av.open(str(source))
        self._src = self._in.streams.audio[0]
        self.copy = self._src.codec_context.name in COPY_AUDIO_CODECS
        if self.copy:
            self.stream = out.add_stream_from_template(self._src)
        else:
            rate = self._src.codec_context.sample_rate or 48000
            self.stream = out.add_stream("aac", rate=rate)
            self.stream.layout = "stereo" if (self._src.codec_context.channels or 2) >= 2 else "mono"
            self.stream.bit_rate = 128_000
            self._resampler = av.AudioResampler(format="fltp", layout=self.stream.layout, rate=rate)
        self._out = out
        self._offset = offset_s
        self._packets = self._in.demux(self._src)
        self._pending: av.Packet | None = None
        self._done = False
        self.packets_written = 0

    def _next(self) -> av.Packet | None:
        for packet in self._packets:
            if packet.dts is not None or packet.pts is not None:
                return packet
        return None

    def feed_until(self, time_s: float) -> None:
        """Mux every audio packet that starts before `time_s` (seconds on the output's clock)."""
        while not self._done:
            packet = self._pending or self._next()
            self._pending = None
            if packet is None:
                self._done = True
                self._flush_encoder()
                return
            start = float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base) - self._offset
            if start > time_s:
                self._pending = packet
                return
            duration = float((packet.duration or 0) * packet.time_base)
            if start + duration < -1e-6:   # wholly before the first video frame: not part of the clip
                continue               # (a priming packet ending at 0 is kept: the decoder needs it)
            self._write(packet)

    def _write(self, packet: av.Packet) -> None:
        shift = int(round(self._offset / packet.time_base))
        if self.copy:
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts = None if packet.dts is None else packet.dts - shift
            packet.stream = self.stream
            self._out.mux(packet)
            self.packets_written += 1
            return
        for frame in packet.decode():
            frame.pts = None
            for f in self._resampler.resample(frame):
                for p in self.stream.encode(f):
                    self._out.mux(p)
                    self.packets_written += 1

    def _flush_encoder(self) -> None:
        if not self.copy:
            for f in self._resampler.resample(None):
                for p in self.stream.encode(f):
                    self._out.mux(p)
            for p in self.stream.encode(None):
                self._out.mux(p)

    def close(self) -> None:
        self._in.close()


class H264Writer:
    """Write RGB frames, each at its own time, into a fast-start H.264 MP4 (+ the source's audio).

    `crf` 21 with the `veryfast` preset is visually clean for overlays on phone footage; the rate
    is capped (`maxrate`) in proportion to the picture size so a noisy clip cannot balloon.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, *,
                 time_base: Fraction = FALLBACK_TIME_BASE, audio_from: str | Path | None = None,
                 audio_offset_s: float = 0.0, audio_end_s: float = float("inf"), crf: int = 21,
                 preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.width, self.height = width - width % 2, height - height % 2
        self.time_base = time_base
        self._audio_end_s = audio_end_s   # output seconds: a window's video ends before its source's sound
        self._container = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        max_rate = int(self.width * self.height * max(fps, 1.0) * 0.15)
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._stream = self._container.add_stream("libx264", rate=rate, options={
            "preset": preset, "crf": str(crf), "profile": "high",
            "maxrate": str(max_rate), "bufsize": str(2 * max_rate)})
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = time_base
        cc = self._stream.codec_context
        cc.time_base = time_base
        cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = 1, 1, 1, 1   # BT.709, limited range
        self.audio: _AudioCarrier | None = None
        if audio_from is not None:
            with av.open(str(audio_from)) as probe_c:
                has_audio = bool(probe_c.streams.audio)
            if has_audio:
                try:
                    self.audio = _AudioCarrier(Path(audio_from), self._container, audio_offset_s)
                except (av.error.FFmpegError, ValueError) as exc:   # an audio track we cannot carry: no sound,
                    log.warning("audio of %s not carried over: %s", Path(audio_from).name, exc)  # not no video
        self._last_pts = -1
        self.frames_written = 0

    def write(self, image: NDArray[np.uint8], time_s: float) -> None:
        """Append an RGB frame shown at `time_s` (seconds from the first frame)."""
        if self.audio is not None:
            self._feed_audio(min(time_s + AUDIO_LEAD_S, self._audio_end_s))
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: self.height, : self.width]), format="rgb24")
        frame = rgb.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range="MPEG")
        frame.colorspace, frame.color_range = 1, 1
        pts = max(int(round(time_s / self.time_base)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self.time_base
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _feed_audio(self, until_s: float) -> None:
        """Audio that breaks mid-file (damaged packets) ends the sound there; the video goes on."""
        assert self.audio is not None
        try:
            self.audio.feed_until(until_s)
        except av.error.FFmpegError as exc:
            log.warning("audio stopped at %.2f s: %s", until_s, exc)
            self.audio.close()
            self.audio = None

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            if self.audio is not None:
                self._feed_audio(self._audio_end_s)
        finally:
            if self.audio is not None:
                self.audio.close()
            self._container.close()

    def __enter__(self) -> "H264Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
