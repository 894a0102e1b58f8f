"""A simulated session for the sync tests: DATA frames arriving at the host, the host-driven ``screen`` display
rendered off-screen (Agg), and a camera filming it with its own clock (drift), frame-time jitter, exposure blending
(frames caught mid-update) and sensor noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perifacial.host.sync import DigitDisplay, ScreenBackend, SyncLog


@dataclass
class Session:
    frames: np.ndarray  # (n_frames, H, W, 3) uint8 video
    roi: tuple[int, int, int, int]
    fps: float  # nominal (what the video file says)
    rate: float  # nominal EMG rate
    true_sample: np.ndarray  # sample acquired at each frame's mid-exposure
    true_value: np.ndarray  # counter value dominant during each frame's exposure (-1 before the first change)
    log: SyncLog
    display: DigitDisplay
    latency_s: float  # mean delay from sampling to the display change (transport + display)


def simulate(
    duration_s: float = 60.0,
    *,
    rate: float = 1000.0,
    samples_per_frame: int = 10,
    every_frames: int = 12,
    fps: float = 30.0,
    drift: float = 0.003,
    jitter_s: float = 0.002,
    exposure_s: float = 0.010,
    digits: int = 4,
    start: int = 0,
    noise: float = 6.0,
    seed: int = 0,
) -> Session:
    """``drift``: the camera's real frame rate is ``fps * (1 + drift)`` on the EMG board's clock."""
    rng = np.random.default_rng(seed)
    backend = ScreenBackend(digits, offscreen=True, width_px=40 * digits + 20, height_px=70)
    display = DigitDisplay(backend, every_frames=every_frames, start=start)
    n_data = int(duration_s * rate / samples_per_frame)
    arrive_prev = 0.0
    change_t, images = [], []
    lat = []
    for j in range(n_data):
        first = j * samples_per_frame
        sampled = (first + samples_per_frame) / rate  # when the frame's last sample was taken (board clock)
        arrive = max(arrive_prev, sampled + 0.003 + rng.exponential(0.001))  # transport latency, in order
        arrive_prev = arrive
        row = display.on_frame(first, samples_per_frame, 1000.0 + arrive)  # host clock = board clock + offset
        if row is not None:
            shown_at = arrive + 0.002  # the draw
            change_t.append(shown_at)
            images.append(backend.render())
            lat.append(shown_at - row.sample / rate)
    values = np.array([r.value for r in display.rows])
    frames, roi, true_sample, true_value = film(
        np.array(change_t),
        images,
        values,
        rate=rate,
        fps=fps,
        drift=drift,
        jitter_s=jitter_s,
        exposure_s=exposure_s,
        noise=noise,
        rng=rng,
    )
    return Session(
        frames, roi, fps, rate, true_sample, true_value, SyncLog.from_rows(display.rows), display, float(np.mean(lat))
    )


def film(
    change_t: np.ndarray,
    images: list,
    values: np.ndarray,
    *,
    rate: float = 1000.0,
    fps: float = 30.0,
    drift: float = 0.003,
    jitter_s: float = 0.002,
    exposure_s: float = 0.010,
    noise: float = 6.0,
    rng: np.random.Generator | None = None,
):
    """Film a display that shows ``images[k]`` (counter ``values[k]``) from ``change_t[k]`` (s, board clock) on.
    Returns ``(frames, roi, true_sample, true_value)``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    h_img, w_img = images[0].shape[:2]
    H, W = h_img + 50, w_img + 60
    y0, x0 = 25, 30
    yy, xx = np.mgrid[0:H, 0:W]
    scene = np.stack([(60 + 40 * np.sin(xx / 17.0) + 30 * (yy / H))] * 3, axis=-1).astype(np.float32)
    scene[y0 : y0 + h_img, x0 : x0 + w_img] = 0.0  # the display's dark face
    cam_fps = fps * (1 + drift)
    n_frames = int((change_t[-1] - 0.3) * cam_fps)
    t_frames = 0.25 + np.arange(n_frames) / cam_fps + rng.normal(0, jitter_s, n_frames)
    frames = np.empty((n_frames, H, W, 3), np.uint8)
    true_value = np.full(n_frames, -1)
    stack = np.stack(images).astype(np.float32)
    noise_bank = rng.standard_normal((16, H, W, 3), dtype=np.float32) * noise  # sensor noise, cycled
    for f, t in enumerate(t_frames):
        # fraction of the exposure [t, t + exposure] during which each value was shown
        edges = np.clip(
            np.concatenate([[t], change_t[(change_t > t) & (change_t < t + exposure_s)], [t + exposure_s]]),
            t,
            t + exposure_s,
        )
        img = np.zeros_like(stack[0])
        best, best_w = -1, 0.0
        for a, b in zip(edges[:-1], edges[1:]):
            k = int(np.searchsorted(change_t, (a + b) / 2, side="right")) - 1
            wgt = (b - a) / exposure_s
            img += (stack[max(k, 0)] if k >= 0 else stack[0] * 0.2) * wgt
            if wgt > best_w:
                best, best_w = k, wgt
        true_value[f] = values[best] if best >= 0 else -1
        fr = scene + noise_bank[(f * 7) % len(noise_bank)]
        fr[y0 : y0 + h_img, x0 : x0 + w_img] += img
        np.clip(fr, 0, 255, out=fr)
        frames[f] = fr
    true_sample = (t_frames + exposure_s / 2) * rate
    return frames, (x0 + 2, y0 + 2, w_img - 4, h_img - 4), true_sample, true_value
