"""Response processing: the time to score one response with a compiled item.

Targets (issue 10): median <= 50 us for the standard templates, <= 200 us for a 20-rule custom
item. The baseline in the same run is the item model's own rule for a single-choice item
(``ItemType.score``, what delivery calls today), so the ratio says what executing the XML
costs against it. Prints JSON; asserts nothing.

    python benchmarks/bench_processing.py [--repeats 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine
from item_bank.processing import compile_item_xml
from item_bank.types import get_item_type

QTI = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"


def item(declaration: str, processing: str) -> bytes:
    return (
        f'<qti-assessment-item xmlns="{QTI}" identifier="bench" title="b" adaptive="false" '
        f'time-dependent="false">{declaration}'
        '<qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>'
        f"<qti-item-body/>{processing}</qti-assessment-item>"
    ).encode()


CHOICE = (
    '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">'
    "<qti-correct-response><qti-value>C</qti-value></qti-correct-response>"
    '<qti-mapping default-value="0"><qti-map-entry map-key="C" mapped-value="1"/>'
    '<qti-map-entry map-key="B" mapped-value="0.5"/></qti-mapping></qti-response-declaration>'
)
MULTI = (
    '<qti-response-declaration identifier="RESPONSE" cardinality="multiple" '
    'base-type="identifier"><qti-correct-response>'
    + "".join(f"<qti-value>C{k}</qti-value>" for k in range(0, 20, 3))
    + "</qti-correct-response></qti-response-declaration>"
)
POINT = (
    '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="point">'
    '<qti-area-mapping default-value="0">'
    '<qti-area-map-entry shape="circle" coords="50,50,10" mapped-value="1"/>'
    '<qti-area-map-entry shape="poly" coords="0,0,20,0,20,20,0,20" mapped-value="0.5"/>'
    "</qti-area-mapping></qti-response-declaration>"
)
# Twenty rules: each checks one option's membership and adds or takes a point.
TWENTY = (
    "<qti-response-processing>"
    + "".join(
        "<qti-response-condition><qti-response-if><qti-member>"
        f'<qti-base-value base-type="identifier">C{k}</qti-base-value>'
        '<qti-variable identifier="RESPONSE"/></qti-member>'
        '<qti-set-outcome-value identifier="SCORE"><qti-sum><qti-variable identifier="SCORE"/>'
        f'<qti-base-value base-type="float">{1 if k % 3 == 0 else -1}</qti-base-value></qti-sum>'
        "</qti-set-outcome-value></qti-response-if></qti-response-condition>"
        for k in range(20)
    )
    + "</qti-response-processing>"
)


def median_us(function: Callable[[], object], repeats: int) -> float:
    """Median of per-call times over batches of 100 calls, in microseconds."""
    times = []
    for _ in range(max(1, repeats // 100)):
        start = time.perf_counter()
        for _ in range(100):
            function()
        times.append((time.perf_counter() - start) / 100)
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20_000)
    args = parser.parse_args(argv)

    def template(name: str, declaration: str) -> bytes:
        return item(declaration, f'<qti-response-processing template="{TEMPLATES}{name}"/>')

    cases = {
        "match_correct": (template("match_correct", CHOICE), {"RESPONSE": "C"}),
        "map_response": (template("map_response", CHOICE), {"RESPONSE": "B"}),
        "map_response_point": (template("map_response_point", POINT), {"RESPONSE": [52, 49]}),
        "custom_20_rules": (item(MULTI, TWENTY), {"RESPONSE": ["C0", "C3", "C4", "C18"]}),
    }
    kind = get_item_type("single_choice")
    _content, scoring = kind.example()
    baseline = median_us(lambda: kind.score(scoring, {"choice": scoring["correct"]}), args.repeats)
    results = {}
    for name, (xml, response) in cases.items():
        scorer = compile_item_xml(xml)
        parsed = scorer.parse(response)
        score = median_us(lambda s=scorer, p=parsed: s.score(p), args.repeats)
        with_parse = median_us(lambda s=scorer, r=response: s.score_json(r), args.repeats)
        results[name] = {
            "median_us": round(score, 2),
            "median_us_from_json": round(with_parse, 2),
            "ratio_to_baseline": round(score / baseline, 1),
        }
    print(
        json.dumps(
            {
                "baseline_single_choice_rule_us": round(baseline, 3),
                "results": results,
                "machine": machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
