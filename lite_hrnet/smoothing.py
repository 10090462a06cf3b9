"""Keypoint smoothing for video: the One-Euro filter (numpy only).

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter
whose cut-off frequency rises with the speed of the signal: slow movements are
smoothed strongly (little jitter), fast ones lightly (little lag). For each
value ``x`` at time ``t`` (seconds), with ``dt`` the time since the previous
sample of the same track::

    alpha(cutoff) = 1 / (1 + tau / dt),   tau = 1 / (2 * pi * cutoff)
    dx      = (x - x_prev_filtered) / dt
    dx_hat  = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_hat_prev
    cutoff  = min_cutoff + beta * |dx_hat|
    x_hat   = alpha(cutoff) * x + (1 - alpha(cutoff)) * x_hat_prev

The first sample of a track passes unchanged (``dx_hat`` starts at 0). Each
keypoint coordinate is filtered on its own, in float64. Keypoints are pixels,
so ``beta`` is in 1 / pixel: at a speed of ``v`` pixels per second the cut-off is
``min_cutoff + beta * v`` Hz.

The Java library (``java/``, ``io.github.litehrnet.OneEuroFilter``) implements
the same equations with the same defaults; its tests compare with this module
to 1e-4 pixel.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import numpy as np

__all__ = ["OneEuroFilter", "one_euro_alpha"]


def one_euro_alpha(cutoff: float, dt: float) -> float:
    """Smoothing factor of a first-order low-pass filter at ``cutoff`` Hz for a step of ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def _number(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


class OneEuroFilter:
    """One-Euro filter of N x K x 2 keypoints (pixels), one filter state per track id.

    Args:
        min_cutoff: cut-off frequency (Hz) when a keypoint stands still; lower is smoother.
        beta: how fast the cut-off rises with speed (Hz per pixel/second); higher lags less.
        d_cutoff: cut-off frequency (Hz) of the speed estimate.

    Call it once per frame with the frame's keypoints, their track ids and the
    frame's time in seconds. Tracks absent from a call are forgotten (a track id
    that comes back starts afresh). Not thread-safe: one filter per video stream.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        min_cutoff, beta, d_cutoff = (_number(n, v) for n, v in (("min_cutoff", min_cutoff), ("beta", beta),
                                                                 ("d_cutoff", d_cutoff)))
        if not (min_cutoff > 0 and d_cutoff > 0):
            raise ValueError(f"min_cutoff and d_cutoff must be positive (Hz), got {min_cutoff} and {d_cutoff}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        # track id -> (time of the last sample, K x 2 filtered keypoints, K x 2 filtered speed)
        self._states: Dict[int, Tuple[float, np.ndarray, np.ndarray]] = {}

    def reset(self) -> None:
        """Forget every track."""
        self._states = {}

    @property
    def track_ids(self) -> Sequence[int]:
        """The track ids with a filter state."""
        return sorted(self._states)

    def __call__(self, keypoints: np.ndarray, track_ids: Sequence[int], timestamp: float) -> np.ndarray:
        """Smoothed keypoints of one frame.

        Args:
            keypoints: N x K x 2 (x, y) image pixels.
            track_ids: N track ids (distinct), saying which earlier keypoints each person continues.
            timestamp: time of the frame in seconds; must increase from call to call for a track.

        Returns:
            N x K x 2 float32 smoothed keypoints (a new array).

        Raises:
            ValueError: for a wrong shape, non-finite values, repeated track ids, or a
                timestamp not after the previous one of a track.
        """
        points = np.asarray(keypoints, dtype=np.float64)
        if points.ndim != 3 or points.shape[2] != 2:
            raise ValueError(f"keypoints must be N x K x 2, got shape {points.shape}")
        ids = [int(i) for i in np.asarray(track_ids, dtype=np.int64).reshape(-1)]
        if len(ids) != points.shape[0]:
            raise ValueError(f"track_ids has {len(ids)} entries for {points.shape[0]} persons")
        if len(set(ids)) != len(ids):
            raise ValueError(f"track_ids must be distinct, got {ids}")
        t = float(timestamp)
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be a finite number of seconds, got {timestamp!r}")
        if not np.isfinite(points).all():
            raise ValueError("keypoints contain NaN or infinite values")
        out = np.empty_like(points)
        states: Dict[int, Tuple[float, np.ndarray, np.ndarray]] = {}
        for n, track in enumerate(ids):
            x = points[n]
            previous = self._states.get(track)
            if previous is None:
                states[track] = (t, x.copy(), np.zeros_like(x))
                out[n] = x
                continue
            last_t, x_prev, dx_prev = previous
            dt = t - last_t
            if not dt > 0:
                raise ValueError(f"timestamp {t} is not after the previous one of track {track} ({last_t})")
            a_d = one_euro_alpha(self.d_cutoff, dt)
            dx_hat = a_d * ((x - x_prev) / dt) + (1.0 - a_d) * dx_prev
            cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
            tau = 1.0 / (2.0 * math.pi * cutoff)
            a = 1.0 / (1.0 + tau / dt)
            x_hat = a * x + (1.0 - a) * x_prev
            states[track] = (t, x_hat, dx_hat)
            out[n] = x_hat
        self._states = states
        return out.astype(np.float32)

    def __repr__(self) -> str:
        return f"OneEuroFilter(min_cutoff={self.min_cutoff}, beta={self.beta}, d_cutoff={self.d_cutoff})"
