"""Human marking of rater-scored answers (essays): blind rater pages with the rubric, double
marking, adjudication, agreement statistics, and final marks into results through delivery's
rescoring. Sits above delivery; nothing below imports it."""

from marking.models import Mark, MarkingAssignment, MarkingPlan, MarkStage
from marking.service import (
    agreement,
    apply_final_mark,
    assign_rater,
    drawn_for_double_marking,
    export_marks,
    final_mark,
    import_marks,
    marking_overview,
    next_task,
    plan_settings,
    rater_scored_types,
    record_mark,
    response_code,
    set_plan,
)

__all__ = [
    "Mark",
    "MarkStage",
    "MarkingAssignment",
    "MarkingPlan",
    "agreement",
    "apply_final_mark",
    "assign_rater",
    "drawn_for_double_marking",
    "export_marks",
    "final_mark",
    "import_marks",
    "marking_overview",
    "next_task",
    "plan_settings",
    "rater_scored_types",
    "record_mark",
    "response_code",
    "set_plan",
]
