"""Writing test videos (the product only reads them): RGB frames -> an H.264 file with imageio-ffmpeg."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def write_video(path: str, frames: Sequence[np.ndarray] | np.ndarray, fps: float, quality: int = 9) -> None:
    """Write RGB frames ``[n, height, width, 3]`` (uint8) to a video file at ``fps`` frames/s with imageio-ffmpeg."""
    import imageio_ffmpeg

    h, w = np.asarray(frames[0]).shape[:2]
    gen = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        quality=quality,
        macro_block_size=1,  # type: ignore[arg-type]
        ffmpeg_log_level="error",
    )
    gen.send(None)
    for f in frames:
        gen.send(np.ascontiguousarray(f, dtype=np.uint8))
    gen.close()
