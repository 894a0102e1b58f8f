"""Video sync: the digit display, its log, reading the digits from video, and frame <-> sample mapping.

See docs/sync.md. Main entry points:

* :func:`open_display` / :class:`DigitDisplay` (recorder hooks ``on_frame`` and ``on_event``; ``rows``);
* :class:`SyncLog`, :func:`fit_sync`, :func:`frame_to_sample_range`, :func:`convert_events`,
  :func:`samples_to_frames`;
* :class:`SevenSegmentReader` and :func:`perifacial.host.sync.video.read_video_digits` (optional video
  dependency, imported lazily).
"""

from .display import (
    KIND_RECEIVED,
    KIND_SAMPLED,
    DigitDisplay,
    DisplayEcho,
    DisplayRateWarning,
    DisplaySpec,
    NullBackend,
    ScreenBackend,
    SerialBackend,
    SyncRow,
    check_readable,
    open_display,
    parse_display_spec,
)
from .mapping import (
    AmbiguousDigit,
    Observation,
    Rejected,
    SampleRange,
    SyncFit,
    SyncLog,
    convert_events,
    fit_sync,
    frame_to_sample_range,
    read_observations_csv,
    samples_to_frames,
    write_observations_csv,
)
from .sevenseg import DigitReading, SevenSegmentReader, read_digits, readings_to_observations

__all__ = [
    "KIND_RECEIVED",
    "KIND_SAMPLED",
    "AmbiguousDigit",
    "DigitDisplay",
    "DigitReading",
    "DisplayEcho",
    "DisplayRateWarning",
    "DisplaySpec",
    "NullBackend",
    "Observation",
    "Rejected",
    "SampleRange",
    "ScreenBackend",
    "SerialBackend",
    "SevenSegmentReader",
    "SyncFit",
    "SyncLog",
    "SyncRow",
    "check_readable",
    "convert_events",
    "fit_sync",
    "frame_to_sample_range",
    "open_display",
    "parse_display_spec",
    "read_digits",
    "read_observations_csv",
    "readings_to_observations",
    "samples_to_frames",
    "write_observations_csv",
]
