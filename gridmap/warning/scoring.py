"""Scoring alerts against planted anomalies (the demo district's ground truth).

:func:`rolling_alerts` replays the alerts day by day (every ``step_days``) as a street office would have seen
them; :func:`score_anomalies` matches them against an anomalies table (``id``, ``onset`` (or ``onset_date``),
``x``, ``y``, ``radius_m``; optional ``end``, ``kind``, ``keyword``/``category``) and reports recall, the share of
false alerts and the days from onset to the first flag of each anomaly.

An alert *matches* an anomaly when its place (cell centre) lies within ``radius_m + slack_m`` of the anomaly
centre and it was raised on or after the onset (and no later than ``end + grace_days`` if the anomaly ends).
A *false alert* is a flagged place (unit) that matches no anomaly at any time; the false-alert share is
false places / all flagged places. The same counted per alert (a place flagged on several dates counts each
time, and a true place's alerts outside every anomaly's window count as false) is ``false_alert_share_alerts``.

Examples
--------
>>> import pandas as pd
>>> alerts = pd.DataFrame({"flagged_at": pd.to_datetime(["2024-06-10", "2024-06-03"]), "unit": ["a", "b"],
...                        "x": [100.0, 5000.0], "y": [100.0, 5000.0]})
>>> anomalies = pd.DataFrame({"id": [1], "onset": pd.to_datetime(["2024-06-05"]), "x": [120.0], "y": [90.0],
...                           "radius_m": [200.0]})
>>> s = score_anomalies(alerts, anomalies)
>>> s.recall, s.false_alert_share, s.per_anomaly["days_to_detection"].tolist()
(1.0, 0.5, [5.0])
>>> s.false_alerts, s.n_alerts, s.false_alert_share_alerts
(1, 2, 0.5)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridmap.errors import Problem, ValidationError

__all__ = ["Score", "score_anomalies", "rolling_alerts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Score:
    """Recall, false-alert share and per-anomaly detection delays."""

    recall: float
    false_alert_share: float
    detected: int
    anomalies: int
    flagged_places: int
    false_places: int
    per_anomaly: pd.DataFrame
    alerts: pd.DataFrame

    @property
    def n_alerts(self) -> int:
        """Alerts scored (rows of ``alerts``)."""
        return len(self.alerts)

    @property
    def false_alerts(self) -> int:
        """Alerts that match no anomaly (``alerts.true_alert`` False)."""
        return int((~self.alerts["true_alert"].astype(bool)).sum()) if len(self.alerts) else 0

    @property
    def false_alert_share_alerts(self) -> float:
        """False alerts / all alerts, counted per alert rather than per place (0 when there are none)."""
        return self.false_alerts / self.n_alerts if self.n_alerts else 0.0

    @property
    def median_days(self) -> float:
        d = self.per_anomaly["days_to_detection"].dropna()
        return float(d.median()) if len(d) else float("nan")

    def summary(self) -> str:
        return (f"recall {self.recall:.0%} ({self.detected}/{self.anomalies}), false alerts "
                f"{self.false_alert_share:.0%} ({self.false_places}/{self.flagged_places} places; "
                f"{self.false_alerts}/{self.n_alerts} alerts), median "
                f"{self.median_days:.0f} day(s) from onset to first flag")


def _col(frame: pd.DataFrame, *names: str) -> str:
    for n in names:
        if n in frame.columns:
            return n
    raise ValidationError("anomalies table is missing a column", [Problem(None, "/".join(names), "not found")],
                          fix="columns: id, onset, x, y, radius_m")


def score_anomalies(alerts: pd.DataFrame, anomalies: pd.DataFrame, *, slack_m: float = 75.0,
                    grace_days: int = 14) -> Score:
    """Match an alert log (``flagged_at``, ``unit``, ``x``, ``y``) with planted ``anomalies``; see module docs."""
    an = anomalies.copy()
    if "geometry" in an.columns and "x" not in an.columns:
        an["x"], an["y"] = an.geometry.x, an.geometry.y
    onset = pd.to_datetime(an[_col(an, "onset", "onset_date", "start", "onset_at")])
    end = pd.to_datetime(an[_col(an, "end", "end_date")]) if {"end", "end_date"} & set(an.columns) else \
        pd.Series(pd.NaT, index=an.index)
    radius = an[_col(an, "radius_m", "radius")].astype(float).to_numpy()
    ax, ay = an["x"].to_numpy(float), an["y"].to_numpy(float)
    al = alerts.reset_index(drop=True)
    if len(al):
        dx = al["x"].to_numpy(float)[:, None] - ax[None, :]
        dy = al["y"].to_numpy(float)[:, None] - ay[None, :]
        near = np.hypot(dx, dy) <= radius[None, :] + slack_m
        t = pd.to_datetime(al["flagged_at"]).to_numpy()[:, None]
        late = (end + pd.Timedelta(days=grace_days)).to_numpy()[None, :]
        when = (t >= onset.to_numpy()[None, :]) & (np.isnat(late) | (t <= late))
        match = near & when
    else:
        match = np.zeros((0, len(an)), dtype=bool)
    rows = []
    for j in range(len(an)):
        hits = al.loc[match[:, j], "flagged_at"] if len(al) else pd.Series(dtype="datetime64[ns]")
        first = pd.to_datetime(hits).min() if len(hits) else pd.NaT
        rows.append({"id": an.iloc[j].get("id", j), "kind": an.iloc[j].get("kind"), "onset": onset.iloc[j],
                     "detected": bool(len(hits)), "first_flag": first,
                     "days_to_detection": float((first - onset.iloc[j]).days) if len(hits) else np.nan})
    per = pd.DataFrame(rows)
    true_units = set(al.loc[match.any(axis=1), "unit"]) if len(al) else set()
    places = set(al["unit"]) if len(al) else set()
    false_units = places - true_units
    detected = int(per["detected"].sum()) if len(per) else 0
    score = Score(recall=detected / len(an) if len(an) else float("nan"),
                  false_alert_share=len(false_units) / len(places) if places else 0.0,
                  detected=detected, anomalies=len(an), flagged_places=len(places), false_places=len(false_units),
                  per_anomaly=per, alerts=al.assign(true_alert=match.any(axis=1) if len(al) else []))
    log.info("scoring: %s", score.summary())
    return score


def rolling_alerts(complaints: pd.DataFrame, cells: pd.DataFrame, *, start: Any, end: Any, step_days: int = 7,
                   window_days: int = 7, keyword_sets: dict[str, list[str]] | None = None, by_category: bool = True,
                   **options: Any) -> pd.DataFrame:
    """The alert log a street office would have received, evaluated every ``step_days`` from ``start`` to ``end``.

    A thin wrapper of :func:`~gridmap.warning.scan.space_time_alerts` (one test family per category when
    ``by_category``, plus one per keyword watch list in ``keyword_sets``); ``options`` go to it. Returns
    ``flagged_at``, ``unit``, ``family``, ``status``, ``x``, ``y``, ``observed``, ``expected``, ``q`` and the
    other :data:`~gridmap.warning.scan.ALERT_COLUMNS`, ready for :func:`score_anomalies`.
    """
    from gridmap.warning.scan import space_time_alerts

    return space_time_alerts(complaints, cells, start=start, end=end, step_days=step_days, window_days=window_days,
                             keyword_sets=keyword_sets, families="category" if by_category else None, **options)
