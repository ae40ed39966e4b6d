"""接诉即办 performance: the three rates (响应率 response, 解决率 resolution, 满意率 satisfaction) of every street,
community, department and category, the composite score, monthly rankings, what to fix first, and the pack for the
monthly review meeting (月度点评会).

- :mod:`gridmap.performance.rules` the levels, response limits and composite weights (default 10/45/45).
- :mod:`gridmap.performance.rates` counts, rates, score per unit, per month, month over month, exclusions.
- :mod:`gridmap.performance.rankings` ranks with ties, the bottom N, the league table, 12-month trends.
- :mod:`gridmap.performance.priorities` what to fix first: points lost per community/category, 回头看 repeats,
  未诉先办 candidates.
- :mod:`gridmap.performance.report` the HTML/XLSX/CSV pack; :mod:`gridmap.performance.charts` its inline SVG.
- :mod:`gridmap.performance.service` the store-facing workflows the CLI calls.
"""

from gridmap.performance.rates import exclusion_counts, handling_flags, month_over_month, monthly_rates, unit_rates
from gridmap.performance.rules import Level, RateRules

__all__ = ["Level", "RateRules", "unit_rates", "monthly_rates", "month_over_month", "exclusion_counts",
           "handling_flags"]
