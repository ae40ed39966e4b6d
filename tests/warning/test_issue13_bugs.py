"""Issue 13, bugs 1, 2, 4 and 5 (bug 3, NaN in ``--json``, is covered for every command in tests/cli/test_json.py).

1. a count-jump baseline never overlaps the window it judges;
2. the data start is the first complaint's date (not its time of day), and a report step without a baseline
   says so while the other steps still run;
4. ``EmergingResult.grid('pattern')`` works with pandas' string dtype;
5. ``--keywords 房屋漏雨`` watches the family (漏雨, 渗水 ...) and the report shows each term's match counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.errors import ValidationError
from gridmap.grid.lattice import Lattice
from gridmap.testing.emerging import planted_counts
from gridmap.testing.warning import generate
from gridmap.warning.alerts import count_jumps, early_warning
from gridmap.warning.emerging import SliceFreq, SpaceTimeCube, emerging_hot_spots


def _daily(start, end, per_day, unit="A", hour=9):
    days = pd.date_range(start, end, freq="D", inclusive="left")
    t = [d + pd.Timedelta(hours=hour, minutes=30) for d in days for _ in range(per_day)]
    return pd.DataFrame({"received_at": pd.to_datetime(t), "community_code": unit})


def test_bug1_count_jump_baseline_never_overlaps_its_window():
    # a year of data, 2025-01-06 .. 2026-01-04, with a burst in the window's last two days; the window is the
    # whole year. Before the fix the seasonal baseline became windows *inside* the judged window (2025-01-04 ..
    # 2026-01-03 and 2026-01-03 .. 2027-01-02), so the window was compared with itself.
    df = pd.concat([_daily("2025-01-06", "2026-01-03", 2), _daily("2026-01-03", "2026-01-05", 16)],
                   ignore_index=True)
    with pytest.raises(ValidationError, match="no baseline window has data"):
        count_jumps(df, start="2025-01-06", end="2026-01-05", by="community", baseline="auto")
    # with a year of history before the window, the seasonal windows all end by the window's start
    df2 = pd.concat([_daily("2024-01-01", "2025-01-06", 2), df], ignore_index=True)
    j = count_jumps(df2, start="2025-06-02", end="2025-06-09", by="community", baseline="seasonal")
    wins = j.attrs["baseline_windows"]
    assert wins and all(b <= pd.Timestamp("2025-06-02") for _, b in wins)


def test_bug2_data_start_is_a_date_and_a_step_without_baseline_is_a_note():
    d = generate(nx=12, ny=10, start="2025-01-06", end="2025-03-01", per_day=30.0, seed=2)
    c = d.complaints[d.complaints["received_at"] >= "2025-01-06"]  # (planted anomalies may start earlier)
    # the first complaint is at some time of day on 2025-01-06: its date is the data start
    assert c["received_at"].min() > pd.Timestamp("2025-01-06")
    # a weekly report two weeks after the data start: the week before is a whole baseline window
    rep = early_warning(c, start="2025-01-13", end="2025-01-20", cells=d.cells, scan=False)
    assert not any("count jumps" in n and "skipped" in n for n in rep.notes), rep.notes
    # a report with no baseline at all: that step says so, the others (hot spots, scan) still ran
    rep = early_warning(c, start="2025-01-08", end="2025-01-15", cells=d.cells, keywords="漏雨")
    assert any(n.startswith("count jumps per cell skipped") for n in rep.notes), rep.notes
    assert any(n.startswith("count jumps per community skipped") for n in rep.notes), rep.notes
    assert any(n.startswith("hot spots skipped") for n in rep.notes), rep.notes
    assert "说明 Notes" in rep.markdown


def test_bug4_grid_of_a_text_column_on_the_installed_pandas():
    counts, planted = planted_counts(side=16, slices=12, seed=0)
    cube = SpaceTimeCube(counts, pd.date_range("2025-03-03", periods=12, freq="7D"), SliceFreq.WEEK,
                         Lattice(0.0, 0.0, 100.0, 16, 16))
    mask = np.ones((16, 16), dtype=bool)
    mask[0, 0] = False
    res = emerging_hot_spots(cube, mask=mask, moments="slice", time_window=0)
    g = res.grid("pattern")                    # raised TypeError on pandas' StringDtype
    assert g.shape == (16, 16) and g[0, 0] is None
    row = res.cells.iloc[5]
    assert g[row["iy"], row["ix"]] == row["pattern"]
    assert res.grid("pattern_zh")[row["iy"], row["ix"]] == row["pattern_zh"]
    assert np.isnan(res.grid("final_z")[0, 0]) and res.grid("n_hot").dtype == float


def test_bug5_keyword_family_finds_what_the_texts_say():
    d = generate(nx=12, ny=10, start="2023-06-01", end="2024-08-01", per_day=30.0, seed=4)
    c = d.complaints
    assert not c["text"].str.contains("房屋漏雨").any()  # the texts say 漏雨 / 渗水, never 房屋漏雨
    rep = early_warning(c, start="2024-07-01", end="2024-07-15", cells=d.cells, keywords="房屋漏雨", scan=False,
                        hot_spots=False)
    counts = rep.keyword_counts.set_index("term")["matches"]
    window = c[(c["received_at"] >= "2024-07-01") & (c["received_at"] < "2024-07-15")]
    assert counts["房屋漏雨"] == 0
    assert counts["漏雨"] == window["text"].str.contains("漏雨").sum() > 0
    assert counts["渗水"] == window["text"].str.contains("渗水").sum() > 0
    assert len(rep.recheck) > 0                 # the 回头看 list finds the past leaks
    assert "漏雨 " in rep.markdown and "渗水 " in rep.markdown
