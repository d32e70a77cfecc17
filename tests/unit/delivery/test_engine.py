"""The delivery engine on its own: assembly, constraints, exposure, pretest, sections, replay."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from delivery import engine
from delivery.engine import BankItem, CompiledTest, ReplayedAnswer, SessionState, compile_test
from delivery.schemas import SpecError, TestSpec
from delivery.simulation import ExposureTally, run_session, simulate

AREAS = ("algebra", "geometry", "number", "data")
SCALE = {"slope": 100, "intercept": 500, "cut_scores": [450, 550], "band_labels": ["L", "M", "H"]}


def bank(n: int = 160, n_pretest: int = 6, seed: int = 7) -> list[BankItem]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n + n_pretest):
        area = AREAS[i % len(AREAS)]
        parameters = None
        if i < n:
            parameters = {
                "model": "2pl",
                "discrimination": float(rng.uniform(0.7, 2.0)),
                "difficulty": float(rng.normal(0, 1.2)),
            }
        options = [{"id": c, "html": f"option {c}"} for c in "ABCD"]
        items.append(
            BankItem(
                item_version_id=1000 + i,
                key=f"{'p' if i >= n else 'i'}-{i:03d}",
                item_type="single_choice",
                content={"stem": f"item {i}", "options": [{"id": c, "text": c} for c in "ABCD"]},
                scoring={"correct": "A"},
                student_view={
                    "item_type": "single_choice",
                    "stem": f"item {i}",
                    "options": options,
                },
                content_area=area,
                curriculum_codes=(f"835021{AREAS.index(area)}311120000",),
                parameters=parameters,
            )
        )
    return items


def build(settings: dict[str, Any], items: list[BankItem] | None = None, **kwargs) -> CompiledTest:
    return compile_test(
        test_definition_id=1,
        parameter_set_id=1,
        settings=settings,
        scale=SCALE,
        items=items or bank(),
        **kwargs,
    )


def cat(**extra: Any) -> dict[str, Any]:
    section = {
        "key": "cat",
        "kind": "cat",
        "stopping": [{"rule": "min_length", "n": 8}, {"rule": "max_length", "n": 12}],
        **extra,
    }
    return {"sections": [section]}


LIMITS = {"algebra": {"min": 3, "max": 4}, "geometry": {"min": 2, "max": 3}, "data": {"min": 1}}


def area_counts(test: CompiledTest, state: SessionState, section: int = 0) -> dict[str, int]:
    counts = dict.fromkeys(AREAS, 0)
    for item, s, operational in zip(state.items, state.sections, state.operational, strict=True):
        if s == section and operational:
            counts[AREAS[item % len(AREAS)]] += 1
    return counts


# -- definitions and compiling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({}, "definition.sections"),
        ({"sections": []}, "definition.sections"),
        ({"sections": [{"kind": "quiz"}]}, "sections[0].kind"),
        ({"sections": [{"kind": "linear"}]}, "sections[0].forms"),
        ({"sections": [{"kind": "linear", "forms": [["a", "a"]]}]}, "sections[0].forms[0]"),
        ({"sections": [{"kind": "linear", "forms": [["a"]], "colour": 1}]}, "sections[0]"),
        (
            {"sections": [{"kind": "cat", "time_limit_seconds": 0}]},
            "sections[0].time_limit_seconds",
        ),
        (
            {"sections": [{"kind": "cat", "stopping": [{"rule": "min_length", "n": 3}]}]},
            "sections[0]",
        ),
        ({"sections": [{"kind": "cat", "selection": [{"rule": "nonsense"}]}]}, "sections[0]"),
        ({"sections": [{"kind": "cat", "exposure": {"max_rate": 1.5}}]}, "sections[0].exposure"),
        ({"sections": [{"kind": "cat", "areas": "colour"}]}, "sections[0].areas"),
        (
            {"sections": [{"kind": "cat", "pretest": {"items": ["p"], "positions": [2, 3]}}]},
            "sections[0].pretest",
        ),
        ({"sections": [{"kind": "loft", "counts": {"algebra": 0}}]}, "sections[0].counts"),
        ({"sections": [{"kind": "cat"}], "subscore_prefix_length": 20}, "definition"),
    ],
)
def test_malformed_definitions_are_refused_with_their_place(settings: dict, where: str) -> None:
    with pytest.raises(SpecError) as error:
        TestSpec.from_dict(settings)
    assert error.value.details["where"] == where


def test_unknown_items_are_named() -> None:
    settings = {"sections": [{"kind": "linear", "forms": [["i-000", "nope-1", "nope-2"]]}]}
    with pytest.raises(SpecError) as error:
        build(settings)
    assert error.value.details["unknown"] == ["nope-1", "nope-2"]


def test_form_items_without_parameters_are_presented_but_do_not_move_theta() -> None:
    test = build({"sections": [{"kind": "linear", "forms": [["i-000", "p-160", "i-001"]]}]})
    state = run_session(test, 0.0, 4)
    assert state.items == [0, 160, 1]
    assert state.operational == [True, False, True]
    assert engine.final_result(test, state).n_operational == 2


def test_testlet_items_come_together_in_a_cat() -> None:
    items = bank()
    # Items 0, 4 and 8 share a stimulus (all algebra), so do 1 and 5.
    grouped = {0: 70, 4: 70, 8: 70, 1: 71, 5: 71}
    items = [
        replace(item, stimulus_id=grouped.get(i)) if i in grouped else item
        for i, item in enumerate(items)
    ]
    test = build(cat(selection=[{"rule": "random"}]), items)
    assert test.testlets[4] == (0, 4, 8)
    seen = 0
    for seed in range(60):
        state = run_session(test, 0.0, seed)
        seen += assert_testlets_whole(test, state)
    assert seen > 0


def assert_testlets_whole(test: CompiledTest, state: SessionState) -> int:
    """Every testlet begun is given whole and in one block (never cut off by the maximum
    length); returns how many were given."""
    given, start = 0, 0
    while start < len(state.items):
        group = test.testlets.get(state.items[start])
        if group is None:
            start += 1
            continue
        block = state.items[start : start + len(group)]
        assert sorted(block) == sorted(group), (state.items, group)
        given += 1
        start += len(group)
    return given


def bank_with_testlets() -> list[BankItem]:
    """bank() with 24 testlets: 3 items of one area (i, i + 4, i + 8), or 2 items of two areas
    (i, i + 1)."""
    items = bank()
    grouped: dict[int, int] = {}
    for block in range(12):
        first = 12 * block
        for member in (first, first + 4, first + 8):
            grouped[member] = 100 + block
        for member in (first + 2, first + 3):
            grouped[member] = 200 + block
    return [replace(item, stimulus_id=grouped.get(i)) for i, item in enumerate(items)]


@pytest.mark.parametrize("rule", ["random", "max_information"])
def test_testlets_never_break_the_content_limits_or_the_length(rule: str) -> None:
    """A testlet is judged whole: one that would push an area over its maximum, crowd out an
    unmet minimum or run past the maximum length is not begun."""
    selection = [{"rule": "content_limits", "limits": LIMITS}, {"rule": rule}]
    test = build(cat(selection=selection), bank_with_testlets())
    rng = np.random.default_rng(5)
    testlets = 0
    for seed in range(200):
        state = run_session(test, float(rng.normal(0, 1.5)), seed)
        counts = area_counts(test, state)
        assert 3 <= counts["algebra"] <= 4, state.items
        assert 2 <= counts["geometry"] <= 3, state.items
        assert counts["data"] >= 1, state.items
        assert 8 <= state.n_answered <= 12
        testlets += assert_testlets_whole(test, state)
    assert testlets > 100  # testlets were given, not just avoided


def test_human_scored_items_never_move_theta() -> None:
    items = bank()
    items[3] = replace(items[3], human_scored=True)
    test = build({"sections": [{"kind": "linear", "forms": [["i-002", "i-003"]]}]}, items)
    assert test.keys.index("i-003") >= test.n_operational
    state = run_session(test, 0.0, 1)
    assert state.operational == [True, False]


def test_irt_categories_follow_the_model() -> None:
    items = bank()
    items[0] = replace(
        items[0],
        max_score=3.0,
        parameters={"model": "gpcm", "discrimination": 1.0, "thresholds": [-1.0, 0.0, 1.0]},
    )
    items[1] = replace(items[1], max_score=2.0)  # 2PL item worth two raw points
    test = build(cat(), items)
    assert [engine.irt_category(test, 0, s) for s in (0, 1, 2, 3, 5)] == [0, 1, 2, 3, 3]
    assert [engine.irt_category(test, 1, s) for s in (0, 1, 1.5, 2)] == [0, 0, 0, 1]


def test_irt_categories_follow_the_items_own_rule() -> None:
    items = bank()
    # A 2-point item on a 2PL model that credits 1 point, and a 0..4-point GPCM item whose
    # table folds five raw scores into three categories.
    items[0] = replace(items[0], max_score=2.0, category_cuts=(1.0,))
    items[1] = replace(
        items[1],
        max_score=4.0,
        category_cuts=(1.0, 3.0),
        parameters={"model": "gpcm", "discrimination": 1.0, "thresholds": [-0.5, 0.5]},
    )
    test = build(cat(), items)
    assert [engine.irt_category(test, 0, s) for s in (0, 0.5, 1, 2)] == [0, 0, 1, 1]
    assert [engine.credited(test, 0, s) for s in (0, 1, 2)] == [False, True, True]
    assert [engine.irt_category(test, 1, s) for s in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 2]
    assert [engine.credited(test, 1, s) for s in (2, 3)] == [False, True]
    # Items without a rule keep the default: full marks only.
    assert [engine.irt_category(test, 2, s) for s in (0, 0.5, 1)] == [0, 0, 1]
    assert engine.credited(test, 2, 0.5) is False


def test_loft_counts_the_pool_cannot_meet_are_refused() -> None:
    settings = {"sections": [{"kind": "loft", "counts": {"algebra": 41, "space": 1}}]}
    with pytest.raises(SpecError) as error:
        build(settings)
    assert error.value.details["areas"] == {"algebra": 41, "space": 1}


def test_content_limits_naming_unknown_areas_are_refused() -> None:
    settings = cat(
        selection=[
            {"rule": "content_limits", "limits": {"space": {"min": 1}}},
            {"rule": "max_information"},
        ]
    )
    with pytest.raises(SpecError, match="does not fit its pool"):
        build(settings)


# -- CAT ------------------------------------------------------------------------------------


def test_every_delivered_cat_meets_the_content_limits() -> None:
    test = build(
        cat(
            selection=[
                {"rule": "content_limits", "limits": LIMITS},
                {"rule": "max_information"},
                {"rule": "randomesque", "k": 4},
            ]
        )
    )
    rng = np.random.default_rng(1)
    for seed in range(150):
        state = run_session(test, float(rng.normal()), seed)
        counts = area_counts(test, state)
        assert 3 <= counts["algebra"] <= 4
        assert 2 <= counts["geometry"] <= 3
        assert counts["data"] >= 1
        assert 8 <= state.n_answered <= 12
        assert len(set(state.items)) == state.n_answered


def test_se_target_stops_early_but_not_before_the_minimum() -> None:
    settings = cat()
    settings["sections"][0]["stopping"] = [
        {"rule": "min_length", "n": 5},
        {"rule": "max_length", "n": 40},
        {"rule": "se_target", "se": 0.45},
    ]
    test = build(settings)
    state = run_session(test, 0.0, 3)
    result = engine.final_result(test, state)
    assert 5 <= state.n_answered < 40
    assert result.se <= 0.45
    assert state.finish_reason == "se_target"


def test_exposure_limit_holds_in_simulation() -> None:
    test = build(cat(exposure={"max_rate": 0.2}))
    report = simulate(test, 400, seed=5)
    # Shared counters lag by one session at most; the limit holds up to that slack.
    assert report["exposure"]["max_rate"] <= 0.2 + 0.02
    assert report["exposure"]["limit"] == 0.2
    unlimited = simulate(build(cat()), 400, seed=5)
    assert unlimited["exposure"]["max_rate"] > 0.5  # without control, the best items go to all


def test_sympson_hetter_parameters_withhold_items() -> None:
    items = bank()
    free = run_session(build(cat()), 0.0, 11)
    first = items[free.items[0]].key
    test = build(cat(exposure={"sympson_hetter": {first: 0.0}}))
    for seed in range(30):
        state = run_session(test, 0.0, seed)
        assert test.keys.index(first) not in state.items


def test_enemies_never_meet() -> None:
    items = bank()
    free = run_session(build(cat()), 0.5, 4)
    a, b = free.items[0], free.items[1]
    test = build(cat(), enemy_sets=[[items[a].item_version_id, items[b].item_version_id]])
    for seed in range(40):
        state = run_session(test, 0.5, seed)
        assert not {a, b} <= set(state.items)


def test_pretest_items_appear_at_their_positions_and_do_not_move_theta() -> None:
    pretest = {"items": ["p-160", "p-161", "p-162"], "positions": [2, 5]}
    test = build(cat(pretest=pretest))
    state = run_session(test, 0.3, 9)
    pretest_index = {test.keys.index(k) for k in pretest["items"]}
    assert [i in pretest_index for i in state.items[:6]] == [False, True, False, False, True, False]
    assert state.operational == [i not in pretest_index for i in state.items]
    operational_only = test.new_posterior()
    for item, score, op in zip(state.items, state.scores, state.operational, strict=True):
        if op:
            operational_only.update(test.parameters, item, score)
    assert engine.final_result(test, state).theta == pytest.approx(operational_only.theta)
    assert engine.final_result(test, state).n_operational == state.n_answered - 2


def test_a_pretest_position_inside_a_testlet_waits_for_its_end() -> None:
    pretest = {"items": ["p-160", "p-161", "p-162"], "positions": [2, 5]}
    selection = [{"rule": "content_limits", "limits": LIMITS}, {"rule": "random"}]
    test = build(cat(selection=selection, pretest=pretest), bank_with_testlets())
    pretest_index = {test.keys.index(k) for k in pretest["items"]}
    delayed = 0
    for seed in range(80):
        state = run_session(test, 0.0, seed)
        operational = [i for i in state.items if i not in pretest_index]
        testlet_state = replace(state, items=operational)
        assert_testlets_whole(test, testlet_state)  # contiguous once pretest items are removed
        positions = [k + 1 for k, i in enumerate(state.items) if i in pretest_index]
        assert len(positions) == 2
        for position, due in zip(positions, [2, 5], strict=True):
            assert position >= due
            if position > due:
                # Only a testlet delays it: the items between were a testlet's.
                before = state.items[due - 1 : position - 1]
                assert all(i in test.testlets for i in before), (state.items, positions)
                delayed += 1
        # Never inside a testlet block.
        for position in positions:
            prev_item = state.items[position - 2]
            next_item = state.items[position] if position < len(state.items) else None
            group = test.testlets.get(prev_item, ())
            assert next_item not in group
    assert delayed > 0


# -- linear, LOFT, sections ---------------------------------------------------------------------


def test_linear_forms_are_assigned_and_shuffled_by_seed() -> None:
    forms = [[f"i-{i:03d}" for i in range(0, 10)], [f"i-{i:03d}" for i in range(10, 20)]]
    settings = {
        "sections": [
            {"kind": "linear", "forms": forms, "shuffle_items": True, "shuffle_options": True}
        ]
    }
    test = build(settings)
    seen_forms, orders = set(), set()
    for seed in range(40):
        state = run_session(test, 0.0, seed)
        assert state.n_answered == 10
        form = 0 if state.items[0] < 10 else 1
        assert sorted(state.items) == list(range(form * 10, form * 10 + 10))
        seen_forms.add(form)
        orders.add(tuple(state.items))
        again = run_session(test, 0.0, seed)
        assert again.items == state.items  # same seed, same order
    assert seen_forms == {0, 1}
    assert len(orders) > 20
    state = SessionState("s", 1, 1, 1, "active", seed=3)
    engine.start(test, state, 0.0)
    order = engine.option_order(test, state, state.current)
    assert sorted(order) == ["A", "B", "C", "D"]
    assert engine.option_order(test, state, state.current) == order


def test_rotated_forms_follow_the_student() -> None:
    forms = [["i-000", "i-001"], ["i-002", "i-003"], ["i-004", "i-005"]]
    test = build({"sections": [{"kind": "linear", "forms": forms, "assignment": "rotate"}]})
    for student in range(6):
        state = run_session(test, 0.0, 99, student_id=student)
        assert state.items[0] == 2 * (student % 3)


def test_loft_meets_counts_and_follows_the_difficulty_target() -> None:
    counts = {"algebra": 4, "geometry": 3, "number": 2, "data": 1}
    easy = build(
        {"sections": [{"kind": "loft", "counts": counts, "difficulty": {"mean": -1.0, "sd": 0.3}}]}
    )
    hard = build(
        {"sections": [{"kind": "loft", "counts": counts, "difficulty": {"mean": 1.0, "sd": 0.3}}]}
    )
    means = {}
    for name, test in (("easy", easy), ("hard", hard)):
        locations = []
        for seed in range(30):
            state = run_session(test, 0.0, seed)
            assert area_counts(test, state) == counts
            locations.extend(test.parameters.location[state.items])
        means[name] = np.mean(locations)
    assert means["easy"] < -0.5
    assert means["hard"] > 0.5


def test_common_block_then_adaptive_block() -> None:
    common = [f"i-{i:03d}" for i in range(5)]
    settings = {
        "sections": [
            {"key": "common", "kind": "linear", "forms": [common], "time_limit_seconds": 300},
            {"key": "variable", "time_limit_seconds": 600, **cat()["sections"][0]},
        ]
    }
    settings["sections"][1]["key"] = "variable"
    test = build(settings)
    state = SessionState("s", 1, 1, 1, "active", seed=5)
    engine.start(test, state, 1000.0)
    assert state.section_deadline == 1300.0
    for _ in range(5):
        engine.record_answer(test, state, 1, "k")
        engine.choose_next(test, state, 1100.0)
    # A free section stays open with every item answered, until the student submits it.
    assert (state.section_index, state.current) == (0, None)
    assert not engine.is_over(test, state)
    engine.submit_section(test, state, "submit", 1100.0)
    assert state.section_index == 1
    assert state.section_deadline == 1700.0
    assert state.items == [0, 1, 2, 3, 4]
    assert state.current not in state.items  # the adaptive block never repeats common items
    # The common block already moved theta: the adaptive block starts from there.
    assert engine.final_result(test, state).theta > 0.5


def test_expiry_moves_to_the_next_section_then_ends() -> None:
    settings = {
        "sections": [
            {
                "key": "one",
                "kind": "linear",
                "forms": [["i-000", "i-001"]],
                "time_limit_seconds": 60,
            },
            {
                "key": "two",
                "kind": "linear",
                "forms": [["i-002", "i-003"]],
                "time_limit_seconds": 60,
            },
        ]
    }
    test = build(settings)
    state = SessionState("s", 1, 1, 1, "active", seed=1, time_factor=1.5)
    engine.start(test, state, 0.0)
    assert state.section_deadline == 90.0  # the accommodation stretches every limit
    engine.expire_section(test, state, 90.0)
    assert state.section_index == 1
    assert state.current == 2
    assert state.timed_out == [0, 1]  # free navigation: every item of the section closes
    engine.expire_section(test, state, 180.0)
    assert state.current is None
    assert state.finish_reason == "time_expired"


def test_subscores_group_by_curriculum_prefix() -> None:
    settings = {
        "sections": [{"kind": "linear", "forms": [[f"i-{i:03d}" for i in range(8)]]}],
        "subscore_prefix_length": 7,
    }
    test = build(settings)
    state = run_session(test, 0.0, 2)
    result = engine.final_result(test, state)
    prefixes = [s["curriculum_prefix"] for s in result.subscores]
    assert prefixes == ["8350210", "8350211", "8350212", "8350213"]
    assert all(s["n_items"] == 2 for s in result.subscores)
    assert sum(s["raw_score"] for s in result.subscores) == sum(state.scores)


# -- replay ---------------------------------------------------------------------------------


def test_replay_reproduces_items_and_result() -> None:
    test = build(
        cat(
            selection=[
                {"rule": "content_limits", "limits": LIMITS},
                {"rule": "max_information"},
                {"rule": "randomesque", "k": 5},
            ],
            exposure={"max_rate": 0.3},
            pretest={"items": ["p-160", "p-161"], "positions": [3]},
        )
    )
    tally = ExposureTally(test.n_operational)
    for seed in range(30):
        run_session(test, 0.0, seed, tally)  # warm the counters so exposure control bites
    recorded: list[ReplayedAnswer] = []

    def rates(_: int) -> np.ndarray:
        return tally.rates()

    state = SessionState("s", 1, 1, 1, "active", seed=424242)
    engine.start(test, state, 0.0, rates)
    rng = np.random.default_rng(0)
    while state.current is not None:
        blocked = tuple(state.current_selection.get("exposure_blocked", ()))
        score = int(rng.random() < 0.6)
        recorded.append(ReplayedAnswer(state.current, score, blocked, state.section_index))
        if state.current < test.n_operational:
            tally.present(state.current)
        engine.record_answer(test, state, score, "k")
        engine.choose_next(test, state, 0.0, rates)
    assert any(a.exposure_blocked for a in recorded)
    replayed, presented = engine.replay(test, state, recorded)
    assert presented == state.items
    assert engine.final_result(test, replayed) == engine.final_result(test, state)


def test_simulation_splits_over_processes_with_the_same_simulees() -> None:
    test = build(cat())
    one = simulate(test, 40, seed=8)
    two = simulate(test, 40, seed=8, jobs=2)
    # No exposure control here, so splitting changes nothing but the wall time.
    assert one["accuracy"] == two["accuracy"]
    assert one["length"] == two["length"]
    assert one["exposure"]["max_rate"] == two["exposure"]["max_rate"]
    assert two["jobs"] == 2


def test_simulation_picks_the_lockstep_engine_only_where_it_honours_the_test() -> None:
    from scoring import LockstepUnsupported

    test = build(cat(exposure={"max_rate": 0.3}))
    fast = simulate(test, 300, seed=4)
    assert fast["engine"] == "lockstep"
    slow = simulate(test, 300, seed=4, engine="per_examinee")
    assert slow["engine"] == "per_examinee"
    # Statistically the same simulation: both honour the exposure limit, similar accuracy.
    for report in (fast, slow):
        assert report["exposure"]["max_rate"] <= 0.3 + 0.02
    assert abs(fast["accuracy"]["rmse"] - slow["accuracy"]["rmse"]) < 0.1
    linear = build({"sections": [{"kind": "linear", "forms": [[f"i-{i:03d}" for i in range(4)]]}]})
    fallback = simulate(linear, 20, seed=4)
    assert fallback["engine"] == "per_examinee"
    assert fallback["engine_note"]
    with pytest.raises(LockstepUnsupported):
        simulate(linear, 20, seed=4, engine="lockstep")
    with pytest.raises(ValueError, match="engine"):
        simulate(test, 20, engine="fastest")


def test_free_section_revisions_count_their_latest_answer_and_replay() -> None:
    settings = {"sections": [{"kind": "linear", "forms": [[f"i-{i:03d}" for i in range(4)]]}]}
    test = build(settings)
    state = SessionState("s", 1, 1, 1, "active", seed=3)
    engine.start(test, state, 0.0)
    assert engine.section_open(test, state)
    assert state.current == 0
    assert engine.record_free_answer(test, state, 2, 1, "a", 1.0) == 0
    assert state.current == 0  # the first unanswered item
    assert engine.record_free_answer(test, state, 2, 0, "b", 2.0) == 1
    for index in (0, 1, 3):
        engine.record_free_answer(test, state, index, 1, f"k{index}", 3.0)
    assert state.current is None
    assert state.n_answered == 4
    assert state.n_responses == 5
    engine.set_flag(state, 3, True)
    engine.set_flag(state, 3, True)
    assert state.flagged == [3]
    engine.submit_section(test, state, "submit", 4.0)
    assert engine.is_over(test, state)
    assert state.finish_reason == "completed"
    assert state.flagged == []
    revised = engine.final_result(test, state)
    straight = SessionState("t", 1, 1, 1, "active", seed=3)
    engine.start(test, straight, 0.0)
    for index, score in ((2, 0), (0, 1), (1, 1), (3, 1)):
        engine.record_free_answer(test, straight, index, score, f"s{index}", 1.0)
    assert revised.theta == pytest.approx(engine.final_result(test, straight).theta)
    assert revised.n_items == 4
    answers = [
        engine.ReplayedAnswer(item=i, score=s, section=0)
        for i, s in zip(state.items, state.scores, strict=True)
    ]
    replayed, presented = engine.replay(test, state, answers)
    assert presented == state.items
    assert engine.final_result(test, replayed).theta == pytest.approx(revised.theta)
