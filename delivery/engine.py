"""The delivery engine: compiled tests, session state and every step of a session, with no I/O.

The service (HTTP) and ``cbt simulate`` (no HTTP) both run these functions, so a simulation
describes exactly the test that goes live.

- ``compile_test`` turns a definition and its items into a ``CompiledTest``: arrays of parameters,
  keys and rendered student views, one ``scoring.AdaptiveEngine`` per adaptive section. It is built
  once per process (the in-memory key cache) and shared by every request.
- ``SessionState`` is one sitting as plain JSON: it lives in the state store and, identically, on
  the ``exam_sessions`` row, so losing the store costs one read.
- ``start``, ``record_answer``, ``choose_next``, ``expire_section`` and ``final_result`` move a
  state on. Randomness comes from ``numpy.random.default_rng([seed, ...])`` keyed by the session
  seed and the step, so ``replay`` reproduces a session exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from delivery.schemas import (
    CatSectionSpec,
    LinearSectionSpec,
    LoftSectionSpec,
    SectionSpec,
    SpecError,
    TestSpec,
)
from scoring import (
    DEFAULT_BOUNDS,
    DEFAULT_N_NODES,
    AdaptiveEngine,
    AdaptiveState,
    AdaptiveTestSpec,
    ItemParameters,
    ItemPool,
    PosteriorEAP,
    ReportingScale,
    estimate_ability,
)

#: Called with a section index; returns observed exposure rates of the operational items.
ExposureRates = Callable[[int], np.ndarray | None]

_FORM, _SHUFFLE, _OPTIONS, _LOFT, _PRETEST, _CAT = 1, 2, 3, 4, 5, 6

#: Recorded with every published form and result: a change to how sessions are run (selection,
#: scoring, the random streams) bumps it, so a replay knows which engine produced a result.
ENGINE_VERSION = "2026.12.1"
#: How every random draw of a session is derived (recorded with every published form).
SEED_RULE = "numpy.default_rng([session_seed, step, stream]) over form positions; v1"


@dataclass(frozen=True)
class BankItem:
    """One pool item as the item bank hands it to the engine.

    The twin of ``item_bank.service.PoolItem``, with the student view rendered once and the
    category cuts derived (``delivery.service.bank_items`` converts). The engine may not import
    the item bank, so the type is defined here too; tests/unit/delivery/test_bank_items.py keeps
    the shared fields identical.
    """

    item_version_id: int
    key: str
    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    student_view: dict[str, Any]
    content_area: str | None
    curriculum_codes: tuple[str, ...]
    parameters: dict[str, Any] | None  # None: no parameters yet (pretest only)
    max_score: float = 1.0
    stimulus_id: int | None = None  # items sharing a stimulus are a testlet
    human_scored: bool = False  # rated later by a person: never moves theta at delivery
    # The item's own SCORE-to-category rule: lower bounds of categories 1..K (None: the default)
    category_cuts: tuple[float, ...] | None = None


@dataclass(frozen=True)
class CompiledSection:
    spec: SectionSpec
    forms: tuple[np.ndarray, ...] = ()  # linear: item indices of each form
    area_names: tuple[str, ...] = ()  # loft: areas, and per-item area index below
    area_index: np.ndarray | None = None
    engine: AdaptiveEngine | None = None  # cat
    available: np.ndarray | None = None  # cat: operational items it may choose
    pretest: tuple[int, ...] = ()  # cat: pretest item indices


@dataclass(frozen=True)
class CompiledTest:
    """A test ready to run: items first with parameters (``n_operational``), then pretest-only."""

    test_definition_id: int
    parameter_set_id: int
    spec: TestSpec
    settings: dict[str, Any]  # the stored definition, recorded with every result
    scale: ReportingScale
    item_version_ids: np.ndarray
    keys: tuple[str, ...]
    item_types: tuple[str, ...]
    contents: tuple[dict[str, Any], ...]
    scorings: tuple[dict[str, Any], ...]  # never leave the server
    payloads: tuple[dict[str, Any], ...]
    curriculum_codes: tuple[tuple[str, ...], ...]
    max_scores: np.ndarray
    testlets: dict[int, tuple[int, ...]]  # operational item -> its testlet, in key order
    n_operational: int
    parameters: ItemParameters
    prior: dict[str, Any]
    final_method: str
    sections: tuple[CompiledSection, ...]
    index_of_version: dict[int, int]
    snapshot_id: int | None = None  # the published form it was compiled from, if any
    # ``item_version_ids`` as Python ints: what the state maps positions through on every request
    # (indexing a numpy array one element at a time costs ten times more).
    version_of: tuple[int, ...] = ()
    category_cuts: tuple[tuple[float, ...] | None, ...] = ()

    def __len__(self) -> int:
        return len(self.item_version_ids)

    @property
    def max_items(self) -> int:
        return self.spec.max_items

    def new_posterior(self) -> PosteriorEAP:
        return PosteriorEAP(**self.prior)

    def restore_posterior(self, log_posterior: Sequence[float]) -> PosteriorEAP:
        return PosteriorEAP.from_log_posterior(np.asarray(log_posterior, dtype=float), **self.prior)


def _area(item: BankItem, rule: tuple[str, int]) -> str:
    if rule[0] == "content_area":
        return item.content_area or "(none)"
    return item.curriculum_codes[0][: rule[1]] if item.curriculum_codes else "(none)"


def compile_test(
    *,
    test_definition_id: int,
    parameter_set_id: int,
    settings: Mapping[str, Any],
    scale: Mapping[str, Any],
    items: Sequence[BankItem],
    enemy_sets: Sequence[Sequence[int]] = (),
    snapshot_id: int | None = None,
) -> CompiledTest:
    """Check a definition against its pool and build everything a request needs.

    ``enemy_sets`` name item-version ids that must not appear in the same session.
    Raises ``SpecError`` naming what is wrong (unknown keys, items without parameters
    where scores are needed, blueprints the pool cannot meet).
    """
    spec = TestSpec.from_dict(settings)
    try:
        reporting = ReportingScale.from_dict(scale)
    except (ValueError, TypeError, KeyError) as error:
        raise SpecError(f"Invalid reporting scale: {error}") from error
    # Items with parameters move theta; the rest (uncalibrated, or scored later by a person) are
    # presented and recorded only.
    operational = [i for i in items if i.parameters is not None and not i.human_scored]
    pretest_only = [i for i in items if i.parameters is None or i.human_scored]
    ordered = operational + pretest_only
    if not operational:
        raise SpecError("The pool has no items with parameters in this parameter set.")
    try:
        parameters = ItemParameters.from_records([item.parameters for item in operational])
    except ValueError as error:
        raise SpecError(f"Invalid item parameters: {error}") from error
    n_operational = len(operational)
    index_of_key = {item.key: i for i, item in enumerate(ordered)}
    unknown = sorted(spec.item_keys() - set(index_of_key))
    if unknown:
        raise SpecError(
            "The definition names items that are not in the pool.", details={"unknown": unknown}
        )
    index_of_version = {item.item_version_id: i for i, item in enumerate(ordered)}
    enemies = tuple(
        tuple(index_of_version[v] for v in group if v in index_of_version and
              index_of_version[v] < n_operational)
        for group in enemy_sets
    )  # fmt: skip

    cat_specs = [s for s in spec.sections if isinstance(s, CatSectionSpec)]
    priors = {_prior(s.adaptive) for s in cat_specs} or {
        (0.0, 1.0, DEFAULT_N_NODES, DEFAULT_BOUNDS)
    }
    if len(priors) > 1:
        raise SpecError("All adaptive sections must share one prior and quadrature.")
    mean, sd, nodes, bounds = priors.pop()
    prior = {"prior_mean": mean, "prior_sd": sd, "n_nodes": nodes, "bounds": bounds}
    final_method = cat_specs[-1].adaptive.final_method if cat_specs else "eap"

    groups: dict[int, list[int]] = {}
    for index, item in enumerate(operational):
        if item.stimulus_id is not None:
            groups.setdefault(item.stimulus_id, []).append(index)
    testlets = {}
    for members in groups.values():
        if len(members) > 1:
            ordered_members = tuple(sorted(members, key=lambda i: operational[i].key))
            testlets.update(dict.fromkeys(members, ordered_members))
    # Each testlet once: the adaptive pools judge a testlet whole against the blueprint.
    testlet_groups = tuple(dict.fromkeys(testlets.values()))
    sections = tuple(
        _compile_section(
            section, index, ordered, n_operational, parameters, index_of_key, enemies,
            testlet_groups,
        )
        for index, section in enumerate(spec.sections)
    )  # fmt: skip
    return CompiledTest(
        test_definition_id=test_definition_id,
        parameter_set_id=parameter_set_id,
        spec=spec,
        settings=dict(settings),
        scale=reporting,
        item_version_ids=np.array([item.item_version_id for item in ordered], dtype=np.int64),
        keys=tuple(item.key for item in ordered),
        item_types=tuple(item.item_type for item in ordered),
        contents=tuple(item.content for item in ordered),
        scorings=tuple(item.scoring for item in ordered),
        payloads=tuple(item.student_view for item in ordered),
        curriculum_codes=tuple(item.curriculum_codes for item in ordered),
        max_scores=np.array([item.max_score for item in ordered], dtype=float),
        testlets=testlets,
        n_operational=n_operational,
        parameters=parameters,
        prior=prior,
        final_method=final_method,
        sections=sections,
        index_of_version=index_of_version,
        snapshot_id=snapshot_id,
        version_of=tuple(int(item.item_version_id) for item in ordered),
        category_cuts=tuple(item.category_cuts for item in ordered),
    )


def _prior(spec: AdaptiveTestSpec) -> tuple:
    return (spec.prior_mean, spec.prior_sd, spec.n_nodes, tuple(spec.bounds))


def _compile_section(
    section: SectionSpec,
    index: int,
    items: list[BankItem],
    n_operational: int,
    parameters: ItemParameters,
    index_of_key: dict[str, int],
    enemies: tuple[tuple[int, ...], ...],
    testlets: tuple[tuple[int, ...], ...],
) -> CompiledSection:
    where = f"sections[{index}]"
    if isinstance(section, LinearSectionSpec):
        # Form items without parameters are presented and recorded but do not move theta.
        forms = tuple(np.array([index_of_key[k] for k in form]) for form in section.forms)
        return CompiledSection(section, forms=forms)
    if isinstance(section, LoftSectionSpec):
        areas = [_area(item, section.areas) for item in items[:n_operational]]
        names = tuple(sorted(set(areas)))
        lookup = {name: i for i, name in enumerate(names)}
        area_index = np.array([lookup[a] for a in areas])
        short = {
            area: count
            for area, count in section.counts.items()
            if area not in lookup or (area_index == lookup[area]).sum() < count
        }
        if short:
            raise SpecError(
                "The pool has too few items for the LOFT counts.",
                details={"where": where, "areas": short},
            )
        return CompiledSection(section, area_names=names, area_index=area_index)
    assert isinstance(section, CatSectionSpec)
    pretest = tuple(index_of_key[k] for k in section.pretest_items)
    exposure = None
    if section.sympson_hetter:
        exposure = np.ones(n_operational)
        for key, k in section.sympson_hetter.items():
            if index_of_key[key] < n_operational:
                exposure[index_of_key[key]] = k
    pool = ItemPool(
        parameters,
        content_areas=[_area(item, section.areas) for item in items[:n_operational]],
        enemy_sets=enemies,
        exposure_parameters=exposure,
        testlets=testlets,
    )
    try:
        engine = AdaptiveEngine(_with_required_rules(section), pool)
    except (ValueError, TypeError) as error:
        raise SpecError(
            f"The adaptive section does not fit its pool: {error}", details={"where": where}
        ) from error
    available = np.ones(n_operational, dtype=bool)
    available[[i for i in pretest if i < n_operational]] = False
    return CompiledSection(section, engine=engine, available=available, pretest=pretest)


def _with_required_rules(section: CatSectionSpec) -> AdaptiveTestSpec:
    """The section's rules plus the ones its exposure settings and enemies imply."""
    rules = [dict(rule) for rule in section.adaptive.selection]
    names = {rule["rule"] for rule in rules}
    if "enemies" not in names:
        rules.insert(0, {"rule": "enemies"})
    if section.max_exposure_rate is not None and "max_exposure_rate" not in names:
        rules.insert(0, {"rule": "max_exposure_rate", "rate": section.max_exposure_rate})
    if section.sympson_hetter and "sympson_hetter" not in names:
        rules.append({"rule": "sympson_hetter"})
    data = section.adaptive.to_dict()
    data["selection"] = rules
    return AdaptiveTestSpec.from_dict(data)


# -------------------------------------------------------------------------------------- state


@dataclass
class SessionState:
    """One sitting, as plain JSON. Answers are parallel lists (compact in Redis and on the row)."""

    session_id: str
    student_id: int
    administration_id: int
    test_definition_id: int
    status: str
    seed: int
    snapshot_id: int | None = None  # the published form (None: a session older than forms)
    device_token: str = ""
    time_factor: float = 1.0
    section_index: int = 0
    section_started_at: float | None = None
    section_deadline: float | None = None
    paused_at: float | None = None
    extra_seconds: int = 0
    plans: list[list[int] | None] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # every answered item, in order
    scores: list[int] = field(default_factory=list)
    operational: list[bool] = field(default_factory=list)  # False: pretest, not in theta
    sections: list[int] = field(default_factory=list)
    idempotency_keys: list[str] = field(default_factory=list)
    log_posterior: list[float] = field(default_factory=list)
    cat_excluded: list[int] = field(default_factory=list)  # Sympson-Hetter passed over
    pretest_used: list[int] = field(default_factory=list)
    queue: list[int] = field(default_factory=list)  # the rest of a testlet, presented next
    section_presented: int = 0
    current: int | None = None
    current_operational: bool = True
    current_selection: dict[str, Any] = field(default_factory=dict)
    presented_at: float | None = None
    finish_reason: str | None = None
    # Items on screen when their section's time ran out (a late answer to them is refused).
    timed_out: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)  # marked for review (free sections)
    submit_keys: list[str] = field(default_factory=list)  # idempotency keys of section submits
    revision: int = 0  # the exam_sessions row revision this state was read at or written as
    # The live posterior behind ``log_posterior``, so one request (or one simulated step) restores
    # it once. Never serialised.
    _posterior: PosteriorEAP | None = field(default=None, repr=False, compare=False)
    # The result computed when the session ended, until the service has recorded it.
    _final: FinalResult | None = field(default=None, repr=False, compare=False)

    @property
    def n_answered(self) -> int:
        """Items answered (a revised answer counts once)."""
        return len(set(self.items))

    @property
    def n_responses(self) -> int:
        """Answers recorded, revisions included: the sequence number of the latest."""
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: the lists are only read by json.dumps (asdict's deep copy costs
        # more than the rest of a request).
        self.sync()
        return {name: getattr(self, name) for name in _STATE_FIELDS}

    def sync(self) -> None:
        """Bring ``log_posterior`` up to date with the live posterior (done lazily: only what
        is stored needs the list)."""
        if self._posterior is not None:
            self.log_posterior = self._posterior.log_posterior.tolist()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionState:
        return cls(**data)

    def posterior(self, test: CompiledTest) -> PosteriorEAP:
        """The running posterior (all operational answers so far)."""
        if self._posterior is None:
            self._posterior = test.restore_posterior(self.log_posterior)
        return self._posterior


_STATE_FIELDS = tuple(
    name for name in SessionState.__dataclass_fields__ if not name.startswith("_")
)
# What the response log and the seed already determine: left off the session row, rebuilt by
# ``state_from_row`` (the row stays small, so writing it on every answer stays cheap).
_DERIVED_FIELDS = (
    "plans", "items", "scores", "operational", "sections", "idempotency_keys", "log_posterior",
)  # fmt: skip
_ROW_FIELDS = tuple(name for name in _STATE_FIELDS if name not in _DERIVED_FIELDS)


# Fields holding form positions: stored as item version ids (``_ID_MARK`` says so), so what is
# kept names items, never places in a compiled array.
_POSITION_LISTS = ("cat_excluded", "pretest_used", "queue", "timed_out", "flagged", "items")
_ID_MARK = "item_ids"


def _to_ids(test: CompiledTest, data: dict[str, Any]) -> dict[str, Any]:
    ids = test.version_of
    for name in _POSITION_LISTS:
        if name in data:
            data[name] = [ids[i] for i in data[name]]
    if "plans" in data:
        data["plans"] = [None if p is None else [ids[i] for i in p] for p in data["plans"]]
    if data.get("current") is not None:
        data["current"] = ids[data["current"]]
    data[_ID_MARK] = True
    return data


def _to_positions(test: CompiledTest, data: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``_to_ids`` (data without the mark predates it and holds positions)."""
    if not data.pop(_ID_MARK, False):
        return data
    index = test.index_of_version
    for name in _POSITION_LISTS:
        if name in data:
            data[name] = [index[i] for i in data[name]]
    if "plans" in data:
        data["plans"] = [None if p is None else [index[i] for i in p] for p in data["plans"]]
    if data.get("current") is not None:
        data["current"] = index[data["current"]]
    return data


def state_to_dict(test: CompiledTest, state: SessionState) -> dict[str, Any]:
    """The whole state as JSON, items named by version id (what the state store keeps)."""
    return _to_ids(test, state.to_dict())


def state_from_dict(test: CompiledTest, data: Mapping[str, Any]) -> SessionState:
    return SessionState.from_dict(_to_positions(test, dict(data)))


def state_to_row(test: CompiledTest, state: SessionState) -> dict[str, Any]:
    """The part of a state the session row keeps (everything the response log does not)."""
    return _to_ids(test, {name: getattr(state, name) for name in _ROW_FIELDS})


def clock_state(row: Mapping[str, Any]) -> SessionState:
    """A row's state with its item fields left as stored: for its status, clock and seed only."""
    return SessionState.from_dict({k: v for k, v in row.items() if k in _ROW_FIELDS})


def state_from_row(
    test: CompiledTest,
    row: Mapping[str, Any],
    answers: Sequence[tuple[int, int, bool, int, str]],
) -> SessionState:
    """Rebuild a full state from the row and the answers (pool index, IRT category,
    operational, section, idempotency key), in order: plans from the seed, posterior from
    the operational answers."""
    data = _to_positions(test, {k: v for k, v in row.items() if k in _ROW_FIELDS or k == _ID_MARK})
    state = SessionState.from_dict(data)
    state.plans = [_plan(test, state, index) for index in range(len(test.sections))]
    for index, category, operational, section, key in answers:
        state.items.append(index)
        state.scores.append(category)
        state.operational.append(operational)
        state.sections.append(section)
        state.idempotency_keys.append(key)
    _rebuild_posterior(test, state)
    return state


def latest_answers(state: SessionState) -> dict[int, tuple[int, bool, int]]:
    """Item -> (IRT category, operational, section) of its latest revision, in the order the
    items were first answered: what counts for scoring."""
    latest: dict[int, tuple[int, bool, int]] = {}
    for item, score, operational, section in zip(
        state.items, state.scores, state.operational, state.sections, strict=True
    ):
        latest[item] = (score, operational, section)
    return latest


def _rebuild_posterior(test: CompiledTest, state: SessionState) -> None:
    posterior = test.new_posterior()
    for index, (category, operational, _) in latest_answers(state).items():
        if operational:
            posterior.update(test.parameters, index, category)
    state._posterior = posterior
    state.log_posterior = posterior.log_posterior.tolist()


def start(
    test: CompiledTest,
    state: SessionState,
    now: float,
    exposure_rates: ExposureRates | None = None,
) -> None:
    """Plan every section (forms, LOFT assembly) and present the first item."""
    state.plans = [_plan(test, state, index) for index in range(len(test.sections))]
    state._posterior = test.new_posterior()
    state.log_posterior = state._posterior.log_posterior.tolist()
    _enter_section(test, state, 0, now)
    choose_next(test, state, now, exposure_rates)


def _plan(test: CompiledTest, state: SessionState, index: int) -> list[int] | None:
    section = test.sections[index]
    spec = section.spec
    if isinstance(spec, LinearSectionSpec):
        if spec.assignment == "rotate":
            form = state.student_id % len(section.forms)
        else:
            form = int(
                np.random.default_rng([state.seed, index, _FORM]).integers(len(section.forms))
            )
        order = section.forms[form]
        if spec.shuffle_items:
            order = np.random.default_rng([state.seed, index, _SHUFFLE]).permutation(order)
        return [int(i) for i in order]
    if isinstance(spec, LoftSectionSpec):
        return _assemble_loft(test, section, np.random.default_rng([state.seed, index, _LOFT]))
    return None


def _assemble_loft(
    test: CompiledTest, section: CompiledSection, rng: np.random.Generator
) -> list[int]:
    """Per area: draw target difficulties from N(mean, sd) and take, for each, one of the three
    unused items nearest to it. Counts are met exactly; difficulty follows the target."""
    spec = section.spec
    assert isinstance(spec, LoftSectionSpec)
    assert section.area_index is not None
    location = test.parameters.location
    chosen: list[int] = []
    for area, count in spec.counts.items():
        members = np.flatnonzero(section.area_index == section.area_names.index(area))
        unused = np.ones(members.shape[0], dtype=bool)
        for target in np.sort(rng.normal(spec.difficulty_mean, spec.difficulty_sd, count)):
            candidates = np.flatnonzero(unused)
            distance = np.abs(location[members[candidates]] - target)
            nearest = candidates[np.argsort(distance, kind="stable")[:3]]
            pick = int(nearest[rng.integers(nearest.shape[0])])
            unused[pick] = False
            chosen.append(int(members[pick]))
    return [int(i) for i in rng.permutation(chosen)]


def _enter_section(test: CompiledTest, state: SessionState, index: int, now: float) -> None:
    state.section_index = index
    state.section_presented = 0
    state.cat_excluded = []
    state.queue = []
    state.section_started_at = now
    limit = test.sections[index].spec.time_limit_seconds
    state.section_deadline = None if limit is None else now + limit * state.time_factor


def choose_next(
    test: CompiledTest, state: SessionState, now: float, exposure_rates: ExposureRates | None = None
) -> None:
    """Present the next item of the current section, moving on through sections as they end.

    A free section never ends here: it stays open, presenting its first unanswered item (or
    none), until it is submitted or its time runs out.
    """
    while True:
        if is_free(test, state.section_index):
            _present_first_unanswered(test, state, now)
            return
        found = _next_in_section(test, state, exposure_rates)
        if found is not None:
            index, operational, selection = found
            state.current = index
            state.current_operational = operational
            state.current_selection = selection
            state.presented_at = now
            state.section_presented += 1
            return
        if state.section_index + 1 < len(test.sections):
            _enter_section(test, state, state.section_index + 1, now)
            continue
        state.current = None
        state.presented_at = None
        state.current_selection = {}
        state.finish_reason = state.finish_reason or "completed"
        return


def is_free(test: CompiledTest, section_index: int) -> bool:
    """True for a section with free navigation (any order, go back, flag, submit)."""
    return test.sections[section_index].spec.navigation == "free"


def section_open(test: CompiledTest, state: SessionState) -> bool:
    """A free section waiting for its submit (it may have every item answered)."""
    return is_free(test, state.section_index) and state.finish_reason is None


def is_over(test: CompiledTest, state: SessionState) -> bool:
    """Nothing is left to answer and no section waits for its submit: the session has ended."""
    return state.current is None and not section_open(test, state)


def section_plan(state: SessionState) -> list[int]:
    """The items of the current section in presentation order ([] for an adaptive section)."""
    return state.plans[state.section_index] or []


def _present_first_unanswered(test: CompiledTest, state: SessionState, now: float) -> None:
    answered = set(state.items)
    unanswered = [i for i in section_plan(state) if i not in answered]
    state.current = unanswered[0] if unanswered else None
    state.current_operational = state.current is None or state.current < test.n_operational
    state.current_selection = {}
    state.presented_at = now


def record_free_answer(
    test: CompiledTest,
    state: SessionState,
    index: int,
    score: int,
    idempotency_key: str,
    now: float,
) -> int:
    """Add an answer to any item of the open free section; return its revision (0: first).

    A revision appends too (the log is never rewritten); the latest revision counts, so theta
    is rebuilt from the latest answers when an answer changes.
    """
    revision = state.items.count(index)
    state.items.append(index)
    state.scores.append(int(score))
    state.operational.append(index < test.n_operational)
    state.sections.append(state.section_index)
    state.idempotency_keys.append(idempotency_key)
    if revision:
        _rebuild_posterior(test, state)
    elif index < test.n_operational:
        state.posterior(test).update(test.parameters, index, int(score))
    _present_first_unanswered(test, state, now)
    return revision


def set_flag(state: SessionState, index: int, flagged: bool) -> None:
    """Mark or unmark an item of the open free section for review."""
    if flagged and index not in state.flagged:
        state.flagged.append(index)
    elif not flagged and index in state.flagged:
        state.flagged.remove(index)


def submit_section(
    test: CompiledTest,
    state: SessionState,
    idempotency_key: str,
    now: float,
    exposure_rates: ExposureRates | None = None,
) -> None:
    """End the open free section (unanswered items stay unanswered) and move on, or finish."""
    state.submit_keys.append(idempotency_key)
    state.current = None
    state.flagged = [i for i in state.flagged if i not in section_plan(state)]
    if state.section_index + 1 < len(test.sections):
        _enter_section(test, state, state.section_index + 1, now)
        choose_next(test, state, now, exposure_rates)
    else:
        state.presented_at = None
        state.current_selection = {}
        state.finish_reason = "completed"


def _next_in_section(
    test: CompiledTest, state: SessionState, exposure_rates: ExposureRates | None
) -> tuple[int, bool, dict[str, Any]] | None:
    section = test.sections[state.section_index]
    plan = state.plans[state.section_index]
    if plan is not None:
        answered = sum(1 for s in state.sections if s == state.section_index)
        if answered >= len(plan):
            return None
        return plan[answered], plan[answered] < test.n_operational, {}

    spec = section.spec
    assert isinstance(spec, CatSectionSpec)
    assert section.engine is not None
    position = state.section_presented + 1
    adaptive = _adaptive_state(test, state)
    while state.queue:
        # The rest of a testlet comes next, unless the section has reached its maximum length.
        index = state.queue.pop(0)
        if len(adaptive.administered) >= section.engine.max_items:
            state.queue = []
            break
        if index not in state.items:
            return index, True, {"testlet": True}
    # A pretest item is due once its position is reached; one whose position fell inside a
    # testlet comes right after the testlet (at the exact positions otherwise).
    due = sum(1 for p in spec.pretest_positions if p <= position)
    given = sum(1 for i in section.pretest if i in state.pretest_used)
    if due > given:
        unused = [i for i in _pretest_order(test, state) if i not in state.pretest_used]
        if unused:
            return unused[0], False, {"pretest": True}
    available = section.available.copy()
    answered = [i for i in state.items if i < test.n_operational]
    available[answered] = False
    rates = exposure_rates(state.section_index) if exposure_rates else None
    selection: dict[str, Any] = {}
    if spec.max_exposure_rate is not None and rates is not None:
        blocked = np.flatnonzero(rates >= spec.max_exposure_rate)
        selection["exposure_blocked"] = blocked.tolist()
    step = section.engine.next(
        adaptive,
        seed=_cat_seed(state),
        available=available,
        exposure_rates=rates,
    )
    state.cat_excluded = list(adaptive.excluded)
    if step.finished:
        if state.section_index == len(test.sections) - 1:
            state.finish_reason = step.reason
        return None
    item = int(step.item)
    state.queue = [m for m in test.testlets.get(item, ()) if m != item and m not in state.items]
    return item, True, selection


def _pretest_order(test: CompiledTest, state: SessionState) -> list[int]:
    section = test.sections[state.section_index]
    rng = np.random.default_rng([state.seed, state.section_index, _PRETEST])
    return [section.pretest[i] for i in rng.permutation(len(section.pretest))]


def _cat_seed(state: SessionState) -> int:
    # One stream per section (the engine adds the step number itself). A multiplicative hash is
    # enough to separate sections and costs nothing next to seeding a generator.
    return (state.seed * 0x9E3779B97F4A7C15 + state.section_index * _CAT) % (1 << 62)


def _adaptive_state(test: CompiledTest, state: SessionState) -> AdaptiveState:
    """The adaptive engine's view: this section's operational answers, the running posterior."""
    items, scores = [], []
    for item, score, operational, section in zip(
        state.items, state.scores, state.operational, state.sections, strict=True
    ):
        if operational and section == state.section_index:
            items.append(item)
            scores.append(score)
    return AdaptiveState(items, scores, state.posterior(test), list(state.cat_excluded))


def record_answer(
    test: CompiledTest, state: SessionState, score: int, idempotency_key: str
) -> None:
    """Add the score of the item on screen (theta moves only for operational items)."""
    index = state.current
    assert index is not None
    if state.current_operational:
        state.posterior(test).update(test.parameters, index, score)  # the list syncs lazily
    else:
        state.pretest_used.append(index)
    state.items.append(index)
    state.scores.append(int(score))
    state.operational.append(state.current_operational)
    state.sections.append(state.section_index)
    state.idempotency_keys.append(idempotency_key)
    state.current = None
    state.presented_at = None


def irt_category(test: CompiledTest, index: int, raw_score: float) -> int:
    """The IRT score category of a raw item score.

    The item's own rule when it states one (the number of its category bounds the score
    reaches); otherwise the default every item had before rules existed: full credit or not
    for dichotomous models, the nearest category (clipped) for polytomous ones.
    """
    cuts = _category_cuts(test, index)
    if cuts is not None:
        return sum(raw_score >= cut for cut in cuts)
    if index >= test.n_operational:
        return int(raw_score >= test.max_scores[index])
    n_categories = int(test.parameters.n_categories[index])
    if n_categories == 2:
        return int(raw_score >= test.max_scores[index])
    return int(min(max(round(raw_score), 0), n_categories - 1))


def credited(test: CompiledTest, index: int, raw_score: float) -> bool:
    """Whether a response counts as correct: the top category of the item's rule, or full
    marks for an item without one."""
    cuts = _category_cuts(test, index)
    if cuts is not None:  # the top category: every bound reached
        return all(raw_score >= cut for cut in cuts)
    return bool(raw_score >= test.max_scores[index])


def _category_cuts(test: CompiledTest, index: int) -> tuple[float, ...] | None:
    """The item's own category bounds, or None for an item without a rule."""
    return test.category_cuts[index] if test.category_cuts else None


def expire_section(
    test: CompiledTest, state: SessionState, now: float, exposure_rates: ExposureRates | None = None
) -> None:
    """Time is up for the current section: move to the next section or end the session.

    In a free section what was saved counts; every item of it is closed to late answers.
    """
    if is_free(test, state.section_index):
        state.timed_out.extend(i for i in section_plan(state) if i not in state.timed_out)
        state.flagged = [i for i in state.flagged if i not in section_plan(state)]
    elif state.current is not None:
        state.timed_out.append(state.current)
    state.current = None
    if state.section_index + 1 < len(test.sections):
        _enter_section(test, state, state.section_index + 1, now)
        choose_next(test, state, now, exposure_rates)
    else:
        state.presented_at = None
        state.current_selection = {}
        state.finish_reason = "time_expired"


def current_deadline(state: SessionState, now: float) -> float | None:
    """The section deadline as the student experiences it (frozen while paused)."""
    if state.section_deadline is None:
        return None
    if state.paused_at is not None:
        return state.section_deadline + (now - state.paused_at)
    return state.section_deadline


def option_order(test: CompiledTest, state: SessionState, index: int) -> list[str] | None:
    """Option ids in display order when the section shuffles options (derived, never stored)."""
    spec = test.sections[state.section_index].spec
    options = test.payloads[index].get("options")
    if not getattr(spec, "shuffle_options", False) or not options:
        return None
    permutation = np.random.default_rng([state.seed, index, _OPTIONS]).permutation(len(options))
    return [options[i]["id"] for i in permutation]


# -------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FinalResult:
    theta: float
    se: float
    scale_score: float
    scale_se: float
    band: str
    n_items: int
    n_operational: int
    subscores: list[dict[str, Any]]


def final_result(test: CompiledTest, state: SessionState, *, subscores: bool = True) -> FinalResult:
    """Theta and SE (the running EAP, or the configured estimator on all scored answers), the
    reporting-scale score and band, and subscores by curriculum-code prefix."""
    latest = latest_answers(state)
    scored = [(item, score) for item, (score, operational, _) in latest.items() if operational]
    if test.final_method == "eap" or not scored:
        posterior = state.posterior(test)
        theta, se = float(posterior.theta), float(posterior.se)
    else:
        items = [i for i, _ in scored]
        estimate = estimate_ability(
            np.array([s for _, s in scored], dtype=float),
            test.parameters.take(items),
            method=test.final_method,
            **_estimator_settings(test),
        )
        theta, se = float(estimate.theta[0]), float(estimate.se[0])
    scale_score = float(test.scale.to_scale(theta))
    return FinalResult(
        theta=theta,
        se=se,
        scale_score=scale_score,
        scale_se=float(test.scale.se_to_scale(se)),
        band=str(test.scale.band(scale_score)),
        n_items=len(latest),
        n_operational=len(scored),
        subscores=_subscores(test, scored) if subscores else [],
    )


def _estimator_settings(test: CompiledTest) -> dict[str, Any]:
    settings: dict[str, Any] = {"bounds": test.prior["bounds"]}
    if test.final_method == "map":
        settings |= {"prior_mean": test.prior["prior_mean"], "prior_sd": test.prior["prior_sd"]}
    return settings


def _subscores(test: CompiledTest, scored: list[tuple[int, int]]) -> list[dict[str, Any]]:
    length = test.spec.subscore_prefix_length
    groups: dict[str, list[tuple[int, int]]] = {}
    for item, score in scored:
        codes = test.curriculum_codes[item]
        prefix = codes[0][:length] if codes else "(none)"
        groups.setdefault(prefix, []).append((item, score))
    out = []
    for prefix in sorted(groups):
        members = groups[prefix]
        items = [i for i, _ in members]
        scores = np.array([s for _, s in members], dtype=float)
        params = test.parameters.take(items)
        estimate = estimate_ability(scores, params, method="eap", **_eap_settings(test))
        out.append(
            {
                "curriculum_prefix": prefix,
                "n_items": len(members),
                "raw_score": float(scores.sum()),
                "max_score": float((params.n_categories - 1).sum()),
                "theta": float(estimate.theta[0]),
                "se": float(estimate.se[0]),
            }
        )
    return out


def _eap_settings(test: CompiledTest) -> dict[str, Any]:
    return {key: test.prior[key] for key in ("prior_mean", "prior_sd", "n_nodes", "bounds")}


# -------------------------------------------------------------------------------------- replay


@dataclass(frozen=True)
class ReplayedAnswer:
    item: int
    score: int
    exposure_blocked: tuple[int, ...] = ()
    section: int | None = None


def replay(
    test: CompiledTest,
    template: SessionState,
    answers: Sequence[ReplayedAnswer],
    *,
    finished_by_time: bool = False,
) -> tuple[SessionState, list[int]]:
    """Re-run a session from its seed and recorded scores; return the state and presented items.

    Exposure decisions are replayed from what was recorded (the items blocked at each step), so
    the replay depends on nothing outside the session. Comparing the presented items with the
    recorded ones detects any drift in engine code, parameters or settings.
    """
    state = SessionState(
        session_id=template.session_id,
        student_id=template.student_id,
        administration_id=template.administration_id,
        test_definition_id=template.test_definition_id,
        status="active",
        seed=template.seed,
        time_factor=template.time_factor,
    )
    pending = list(answers)
    recorded = {i: a.exposure_blocked for i, a in enumerate(pending)}
    step = {"n": 0}

    def rates(_: int) -> np.ndarray:
        blocked = recorded.get(step["n"], ())
        out = np.zeros(test.n_operational)
        out[list(blocked)] = 1.0
        return out

    state.plans = [_plan(test, state, index) for index in range(len(test.sections))]
    state._posterior = test.new_posterior()
    state.log_posterior = state._posterior.log_posterior.tolist()
    _enter_section(test, state, 0, 0.0)
    presented: list[int] = []
    for position, answer in enumerate(pending):
        step["n"] = position
        if answer.section is not None:
            while state.section_index < answer.section:
                expire_section(test, state, 0.0, rates)
        if section_open(test, state):
            # Free navigation: any item of the section, in any order, revisions included.
            if answer.item not in section_plan(state):
                presented.append(-1)  # never presented: the comparison reports the drift
                continue
            presented.append(answer.item)
            record_free_answer(test, state, answer.item, answer.score, f"replay-{position}", 0.0)
            continue
        if state.current is None:
            choose_next(test, state, 0.0, rates)
        if state.current is None:
            break
        presented.append(int(state.current))
        record_answer(test, state, answer.score, f"replay-{position}")
    step["n"] = len(pending)
    if finished_by_time:
        state.finish_reason = "time_expired"
    elif state.current is None:
        choose_next(test, state, 0.0, rates)
    return state, presented
