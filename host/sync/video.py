"""Video decoding for the digit reader, through an optional dependency imported lazily.

``pip install 'perifacial[video]'`` (imageio-ffmpeg, whose wheels bundle an ffmpeg binary) or ``pip install av``
(PyAV). Frames are numbered
from 0 in decoding order; video time is ``frame / fps`` with the container's nominal (average) frame rate, which is
what the sync fit assumes (constant-frame-rate camera files). Only the ROI of each frame is kept in memory.

For tests and for frames already in memory, :func:`read_frames_digits` takes an array or a list of frames.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .sevenseg import DigitReading, SevenSegmentReader

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "reading video needs an optional decoder: pip install 'perifacial[video]' (imageio-ffmpeg; or: pip "
    "install av); "
    "or type the digits into an observations CSV (frame,digit)"
)


@dataclass(frozen=True)
class VideoInfo:
    """fps: nominal frames/s. width, height: pixels. backend: ``imageio-ffmpeg`` or ``pyav``."""

    fps: float
    width: int
    height: int
    backend: str


def _pick_backend(preferred: str | None = None) -> str:
    order = [preferred] if preferred else ["imageio-ffmpeg", "pyav"]
    for name in order:
        try:
            if name == "imageio-ffmpeg":
                import imageio_ffmpeg  # noqa: F401
            elif name == "pyav":
                import av  # type: ignore[import-not-found]  # noqa: F401
            else:
                raise ValueError(f"unknown video backend {name!r} (imageio-ffmpeg or pyav)")
            return name
        except ImportError:
            continue
    raise ImportError(INSTALL_HINT)


def _crop(frame: np.ndarray, roi: Sequence[int] | None) -> np.ndarray:
    if roi is None:
        return frame
    x, y, w, h = (int(v) for v in roi)
    out = frame[y : y + h, x : x + w]
    if out.shape[0] < h or out.shape[1] < w:
        raise ValueError(f"ROI {tuple(roi)} lies outside the {frame.shape[1]}x{frame.shape[0]} video")
    return out


def _ffmpeg_error(text: str, path: str, roi: tuple[int, ...] | None) -> str:
    """A short message from ffmpeg's (long) stderr."""
    import re

    if roi is not None and "Parsed_crop" in text:
        m = re.search(r"Video: .*?(\d{2,5})x(\d{2,5})", text)
        size = f"{m.group(1)}x{m.group(2)} " if m else ""
        return f"ROI {roi} lies outside the {size}video"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f"cannot decode {path}: " + " | ".join(lines[-3:] if lines else ["unknown error"])


def iter_video(
    path: str, roi: Sequence[int] | None = None, backend: str | None = None
) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Open ``path``; return its :class:`VideoInfo` and an iterator of RGB frames (cropped to ``roi`` = x, y, w,
    h pixels when given)."""
    name = _pick_backend(backend)
    roi = tuple(int(v) for v in roi) if roi is not None else None
    if name == "imageio-ffmpeg":
        import imageio_ffmpeg

        out_params = None
        if roi is not None:  # crop inside ffmpeg: only the ROI crosses the pipe (4K frames are 25 MB each)
            x, y, w, h = roi
            out_params = ["-vf", f"crop={w}:{h}:{x}:{y}:exact=1"]
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", output_params=out_params)
        iio_log = logging.getLogger("imageio_ffmpeg")
        level = iio_log.level
        iio_log.setLevel(logging.ERROR)  # it warns that the cropped size differs from the source size
        try:
            meta = next(gen)
        except (RuntimeError, OSError, StopIteration) as exc:
            gen.close()
            raise ValueError(_ffmpeg_error(str(exc), path, roi)) from None
        finally:
            iio_log.setLevel(level)
        w, h = (int(v) for v in meta["size"])
        src_w, src_h = (int(v) for v in meta.get("source_size", meta["size"]))
        if roi is not None and (roi[0] + roi[2] > src_w or roi[1] + roi[3] > src_h or (w, h) != tuple(roi[2:])):
            gen.close()
            raise ValueError(f"ROI {tuple(roi)} lies outside the {src_w}x{src_h} video")
        info = VideoInfo(float(meta["fps"]), src_w, src_h, name)
        roi = None  # already cropped

        def frames_iio() -> Iterator[np.ndarray]:
            try:
                for buf in gen:
                    yield _crop(np.frombuffer(buf, np.uint8).reshape(h, w, 3), roi)
            finally:
                gen.close()

        return info, frames_iio()
    import av  # type: ignore[import-not-found]

    container = av.open(str(path))
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate
    info = VideoInfo(float(rate), int(stream.width), int(stream.height), name)

    def frames_av() -> Iterator[np.ndarray]:
        try:
            for fr in container.decode(stream):
                yield _crop(fr.to_ndarray(format="rgb24"), roi)
        finally:
            container.close()

    return info, frames_av()


def read_video_digits(
    path: str,
    n_digits: int = 4,
    roi: Sequence[int] | None = None,
    *,
    calibration_frames: int = 300,
    backend: str | None = None,
    max_frames: int | None = None,
    **reader_kw: Any,
) -> tuple[list[DigitReading], VideoInfo]:
    """Read the display in every frame of a video file: calibrates on the first ``calibration_frames`` frames
    (let the counter run for a few seconds there), then reads all frames. Returns the readings and the video's
    :class:`VideoInfo` (its ``fps`` is the one to give the fit)."""
    info, frames = iter_video(path, roi, backend)
    head: list[np.ndarray] = []
    for f in frames:
        head.append(f)
        if len(head) >= calibration_frames:
            break
    if not head:
        raise ValueError(f"{path}: no frames decoded")
    reader = SevenSegmentReader(n_digits, None, **reader_kw).calibrate(head)
    out = reader.read_frames(head)
    i = len(out)
    for f in frames:
        if max_frames is not None and i >= max_frames:
            break
        out.append(reader.read(f, i))
        i += 1
    log.info("read %d frames of %s (%s, %.3f fps)", len(out), path, info.backend, info.fps)
    return out[:max_frames] if max_frames is not None else out, info


def read_frames_digits(
    frames: Sequence[np.ndarray] | np.ndarray, n_digits: int = 4, roi: Sequence[int] | None = None, **reader_kw: Any
) -> list[DigitReading]:
    """The frame-array path: calibrate on ``frames`` and read them all (frames numbered from 0)."""
    return SevenSegmentReader(n_digits, roi, **reader_kw).calibrate(frames).read_frames(frames)
