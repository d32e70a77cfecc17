"""Server-side charts (matplotlib, inline SVG with text alternatives) for the staff pages."""

from analytics.charts.svg import FONT_FAMILIES, chart_svg, drawing, new_figure
from analytics.charts.teacher import (
    Chart,
    band_chart,
    dashboard_charts,
    item_chart,
    mastery_chart,
    score_distribution_chart,
    trend_chart,
)

__all__ = [
    "FONT_FAMILIES",
    "Chart",
    "band_chart",
    "chart_svg",
    "dashboard_charts",
    "drawing",
    "item_chart",
    "mastery_chart",
    "new_figure",
    "score_distribution_chart",
    "trend_chart",
]
