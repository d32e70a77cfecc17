"""File I/O for researcher commands: PARAMS.json, wide and long response CSVs, score CSVs.

Every reader raises :class:`ResearchFileError` with a message that names the file and, for
tabular files, the line (1-based, the header is line 1) and the column, so a researcher can go
straight to the bad cell. Writers write to a temporary file and rename it, so a failed command
never leaves a half-written output.

Formats
-------
PARAMS.json
    ``{"model": "2pl", "scaling": 1.0, "items": [{"item_id": "Q1", "discrimination": 0.83,
    "difficulty": -3.36, ...}, ...], ...}``. ``model`` at the top is the default for items
    without their own; ``scaling`` (D) is optional (default 1). Other top-level keys
    (``log_likelihood``, ``provenance``, ...) are kept in :attr:`ParamsFile.metadata`.
RESPONSES.csv (wide)
    Header ``person_id,<item id>,<item id>,...``; one row per person; cells are scores
    ``0 .. K-1``; an empty cell, ``NA`` or ``NaN`` means not administered.
RESPONSES.csv (long)
    Header ``person_id,item_id,score``; one row per response.
SCORES.csv
    ``person_id,theta,se`` (``NA`` where no estimate exists).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import itertools
import json
import math
import operator
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoring import ItemParameters

__all__ = [
    "MISSING_TOKENS",
    "LongResponses",
    "ParamsFile",
    "ResearchFileError",
    "ResponseTable",
    "align_responses",
    "read_long_responses",
    "read_params_json",
    "read_wide_responses",
    "write_json_document",
    "write_params_json",
    "write_scores_csv",
]

#: Cell values (case-insensitive, surrounding spaces ignored) that mean "not administered".
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "."})


class ResearchFileError(ValueError):
    """A researcher's input file is malformed; the message says where."""


# ---------------------------------------------------------------------------- PARAMS.json
@dataclass(frozen=True)
class ParamsFile:
    """A parsed PARAMS.json: the item parameters plus the file's other top-level fields."""

    params: ItemParameters
    model: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def read_params_json(path: str | os.PathLike[str]) -> ParamsFile:
    """Read a PARAMS.json written by ``cbt calibrate`` (or by hand).

    Raises
    ------
    ResearchFileError
        For unreadable JSON (with line and column), a missing ``items`` list, items without a
        unique ``item_id``, or invalid parameters (naming the item).
    """
    name = Path(path).name
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise ResearchFileError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError:
        raise ResearchFileError(f"{name}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise ResearchFileError(f"{name}: expected a JSON object with an 'items' list")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise ResearchFileError(f"{name}: 'items' must be a non-empty list of item objects")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ResearchFileError(f"{name}: items[{i}] must be an object")
        item_id = item.get("item_id")
        if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
            raise ResearchFileError(f"{name}: items[{i}] needs an 'item_id' (a string)")
    ids = [str(item["item_id"]) for item in items]
    seen: set[str] = set()
    for item_id in ids:
        if item_id in seen:
            raise ResearchFileError(f"{name}: item_id {item_id!r} appears more than once")
        seen.add(item_id)
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ResearchFileError(f"{name}: 'model' must be a string")
    scaling = data.get("scaling", 1.0)
    if isinstance(scaling, bool) or not isinstance(scaling, int | float) or scaling <= 0:
        raise ResearchFileError(f"{name}: 'scaling' must be a positive number")
    try:
        params = ItemParameters.from_records(
            [{**item, "item_id": str(item["item_id"])} for item in items],
            scaling=float(scaling),
            default_model=model,
        )
    except ValueError as exc:
        raise ResearchFileError(f"{name}: {exc}") from None
    metadata = {k: v for k, v in data.items() if k != "items"}
    return ParamsFile(params, model, metadata)


def write_params_json(
    path: str | os.PathLike[str],
    params: ItemParameters,
    *,
    model: str | None = None,
    item_se: Sequence[Mapping[str, Any]] | None = None,
    **metadata: Any,
) -> None:
    """Write a PARAMS.json: ``{"model", "scaling", "items": [...], **metadata}``.

    ``item_se`` gives one ``{"discrimination": .., ...}`` mapping per item, stored as each
    item's ``se`` (``None``: the item gets no ``se``, e.g. an anchor held fixed). Values must be
    JSON-serialisable; NaN is written as ``null``.
    """
    if params.item_ids is None:
        raise ValueError("PARAMS.json needs item ids: build the parameters with item_ids")
    records = params.to_records()
    if item_se is not None:
        if len(item_se) != len(records):
            raise ValueError("item_se needs one mapping per item")
        for rec, se in zip(records, item_se, strict=True):
            if se is not None:
                rec["se"] = dict(se)
    document: dict[str, Any] = {}
    if model is not None:
        document["model"] = model
    document["scaling"] = params.scaling
    document["items"] = records
    document.update(metadata)
    _atomic_write(path, json.dumps(_json_safe(document), indent=2) + "\n")


def write_json_document(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Write a JSON document (a PARAMS.json built elsewhere, say) atomically; NaN as null."""
    _atomic_write(path, json.dumps(_json_safe(dict(document)), indent=2) + "\n")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------- wide responses
@dataclass(frozen=True, eq=False)
class ResponseTable:
    """A wide response file: person ids, item ids (the header) and the score matrix.

    ``lines[i]`` is the file line of data row ``i`` (for error messages).
    """

    person_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    scores: np.ndarray
    lines: tuple[int, ...]
    source: str = "RESPONSES.csv"


def _open_csv(path: str | os.PathLike[str]):
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ResearchFileError(f"{Path(path).name}: cannot open ({exc.strerror})") from None


def _parse_score(text: str) -> float | None:
    """Float score, NaN for missing tokens, None if not a number."""
    token = text.strip()
    if token.lower() in MISSING_TOKENS:
        return math.nan
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_wide_responses(path: str | os.PathLike[str]) -> ResponseTable:
    """Read a wide RESPONSES.csv (first column person id, one column per item).

    Raises
    ------
    ResearchFileError
        Empty file, a header without item columns, duplicate item columns or person ids, a row
        with the wrong number of cells, or a cell that is neither a number nor a missing token
        (naming line and column).
    """
    name = Path(path).name
    with _open_csv(path) as handle, _no_cyclic_gc():
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ResearchFileError(f"{name}: the file is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ResearchFileError(f"{name}, line 1: cannot read the header ({exc})") from None
        header = [h.strip() for h in header]
        if len(header) < 2:
            raise ResearchFileError(
                f"{name}, line 1: expected a header 'person_id,<item id>,...' with item columns"
            )
        item_ids = header[1:]
        for col, item_id in enumerate(item_ids, start=2):
            if not item_id:
                raise ResearchFileError(f"{name}, line 1, column {col}: empty item id")
        dupes = sorted({i for i in item_ids if item_ids.count(i) > 1})
        if dupes:
            raise ResearchFileError(f"{name}, line 1: duplicate item column(s) {dupes}")
        blocks: list[np.ndarray] = []
        pending: list[float] = []  # flat scores of the rows since the last block
        # A file holds few distinct cell texts ('0', '1', '', 'NA', ...): each is parsed once.
        parsed: dict[str, float] = {}
        persons: list[str] = []
        lines: list[int] = []
        seen: dict[str, int] = {}
        width = len(header)
        try:
            for record in reader:
                line = reader.line_num
                if not record or all(not cell.strip() for cell in record):
                    continue  # blank line
                if len(record) != width:
                    raise ResearchFileError(
                        f"{name}, line {line}: {len(record)} cells, but the header has {width}"
                    )
                person = record[0].strip()
                if not person:
                    raise ResearchFileError(f"{name}, line {line}, column '{header[0]}': empty")
                if person in seen:
                    raise ResearchFileError(
                        f"{name}, line {line}: person {person!r} already appeared on line "
                        f"{seen[person]}"
                    )
                seen[person] = line
                cells = record[1:]
                values = list(map(parsed.get, cells))
                if None in values:
                    for k, value in enumerate(values):
                        if value is None:
                            value = _parse_score(cells[k])
                            if value is None:
                                raise ResearchFileError(
                                    f"{name}, line {line}, column {item_ids[k]!r}: "
                                    f"{cells[k].strip()!r} is not a score (use an integer, or "
                                    "leave empty / NA for not administered)"
                                )
                            if len(parsed) < 4096:
                                parsed[cells[k]] = value
                            values[k] = value
                pending.extend(values)
                persons.append(person)
                lines.append(line)
                if len(pending) >= 1 << 20:
                    blocks.append(np.array(pending, dtype=float))
                    pending = []
        except csv.Error as exc:
            raise ResearchFileError(f"{name}, line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise ResearchFileError(f"{name}: not a UTF-8 text file") from None
    if not persons:
        raise ResearchFileError(f"{name}: no data rows after the header")
    blocks.append(np.array(pending, dtype=float))
    scores = np.concatenate(blocks).reshape(len(persons), len(item_ids))
    return ResponseTable(tuple(persons), tuple(item_ids), scores, tuple(lines), name)


def align_responses(table: ResponseTable, params: ItemParameters) -> np.ndarray:
    """The response matrix in the item order of ``params``, checked against each item's model.

    Items of ``params`` without a column are "not administered" for everyone; a column naming
    an item that ``params`` lacks is an error.

    Returns
    -------
    ndarray, shape (n_persons, len(params))
    """
    if params.item_ids is None:
        raise ResearchFileError("the item parameters carry no item ids to match columns with")
    lookup = {item_id: j for j, item_id in enumerate(params.item_ids)}
    unknown = [i for i in table.item_ids if i not in lookup]
    if unknown:
        raise ResearchFileError(
            f"{table.source}, line 1: column(s) {unknown} name items that are not in the "
            "parameter file"
        )
    matrix = np.full((len(table.person_ids), len(params)), np.nan)
    columns = np.array([lookup[i] for i in table.item_ids], dtype=np.intp)
    matrix[:, columns] = table.scores
    k = params.n_categories[columns]
    observed = ~np.isnan(table.scores)
    bad = observed & (
        (table.scores < 0) | (table.scores >= k) | (table.scores != np.floor(table.scores))
    )
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        item = table.item_ids[col]
        j = lookup[item]
        raise ResearchFileError(
            f"{table.source}, line {table.lines[row]}, column {item!r}: score "
            f"{table.scores[row, col]:g} is not a category of this {params.model[j]} item "
            f"(expected an integer 0..{int(params.n_categories[j]) - 1})"
        )
    return matrix


# ---------------------------------------------------------------------------- long responses
@dataclass(frozen=True, eq=False)
class LongResponses:
    """Responses in long format, kept sparse: one entry per (person, item, score) row."""

    person_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    person_index: np.ndarray
    item_index: np.ndarray
    scores: np.ndarray

    def to_dense(self, params: ItemParameters | None = None) -> np.ndarray:
        """(n_persons, n_items) with NaN where not administered; columns in ``params`` order
        when given (unknown items are an error), else in :attr:`item_ids` order."""
        if params is None:
            columns = self.item_index
            n_items = len(self.item_ids)
        else:
            if params.item_ids is None:
                raise ResearchFileError("the item parameters carry no item ids")
            lookup = {item_id: j for j, item_id in enumerate(params.item_ids)}
            unknown = [i for i in self.item_ids if i not in lookup]
            if unknown:
                raise ResearchFileError(f"items {unknown} are not in the parameter file")
            columns = np.array([lookup[i] for i in self.item_ids], dtype=np.intp)[self.item_index]
            n_items = len(params)
        out = np.full((len(self.person_ids), n_items), np.nan)
        out[self.person_index, columns] = self.scores
        return out


_BATCH = 1 << 18  # records parsed together: small enough to stay in cache, large for numpy
_FIRST, _SECOND, _THIRD = (operator.itemgetter(k) for k in range(3))


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Millions of short-lived lists and strings make the cyclic collector run again and again
    for nothing (none of them is in a cycle): a long file read 2.8 times slower with it on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _long_records(reader: Any) -> Iterable[list[str]]:
    """The non-blank records after the header (blank lines are allowed anywhere)."""
    return (r for r in reader if r and any(c.strip() for c in r))


def _long_columns(batch: list[list[str]]) -> tuple[list[str], list[str], list[str]]:
    """Stripped person and item ids and the score cells of a batch of 3-cell records."""
    person = list(map(str.strip, map(_FIRST, batch)))
    item = list(map(str.strip, map(_SECOND, batch)))
    return person, item, list(map(_THIRD, batch))


def _line_of_record(path: str | os.PathLike[str], wanted: int, *, kept: bool = False) -> int:
    """The file line of the ``wanted``-th non-blank record (0-based), or of the ``wanted``-th
    record with a score (``kept``). Only called to word an error, so it may re-read the file."""
    with _open_csv(path) as handle:
        reader = csv.reader(handle)
        next(reader)
        count = 0
        for record in _long_records(reader):
            if kept and (len(record) != 3 or math.isnan(_parse_score(record[2]) or 0.0)):
                continue
            if count == wanted:
                return reader.line_num
            count += 1
    raise AssertionError("record not found")  # pragma: no cover - the caller counted them


def _batch_scores(cells: Sequence[str]) -> np.ndarray:
    """Scores of one batch: floats, NaN for missing tokens. A cell that is not an integer
    score raises IndexError carrying its position in the batch."""
    try:
        scores = np.array(cells, dtype=np.float64)  # C loop; fails on 'NA', '' and the like
    except ValueError:
        parsed = [_parse_score(cell) for cell in cells]
        bad = next((k for k, v in enumerate(parsed) if v is None), None)
        if bad is not None:
            raise IndexError(bad) from None
        scores = np.array(parsed, dtype=np.float64)
    bad_values = np.isinf(scores) | (~np.isnan(scores) & (scores != np.floor(scores)))
    if bad_values.any():
        raise IndexError(int(np.argmax(bad_values)))
    return scores


def read_long_responses(path: str | os.PathLike[str]) -> LongResponses:
    """Read a long RESPONSES.csv with header ``person_id,item_id,score``.

    A repeated (person, item) pair, an empty id or a non-integer score is an error naming the
    line; a missing-token score row is skipped (not administered). Records are parsed in
    batches into integer arrays (memory ~ 24 bytes per response plus the distinct ids), so a
    national file of 30 million responses reads in 40 s with 2.1 GB (docs/performance.md).
    """
    name = Path(path).name
    persons: dict[str, int] = {}
    items: dict[str, int] = {}
    p_parts: list[np.ndarray] = []
    i_parts: list[np.ndarray] = []
    s_parts: list[np.ndarray] = []
    n_records = 0

    def fail(record: int, message: str, *, kept: bool = False) -> ResearchFileError:
        line = _line_of_record(path, record, kept=kept)
        return ResearchFileError(f"{name}, line {line}{message}")

    with _open_csv(path) as handle, _no_cyclic_gc():
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ResearchFileError(f"{name}: the file is empty") from None
        except UnicodeDecodeError:
            raise ResearchFileError(f"{name}: not a UTF-8 text file") from None
        if header != ["person_id", "item_id", "score"]:
            raise ResearchFileError(
                f"{name}, line 1: expected the header 'person_id,item_id,score', got "
                f"{','.join(header)!r}"
            )
        try:
            while chunk := list(itertools.islice(reader, _BATCH)):
                batch = list(filter(None, chunk))  # [] is a blank line
                if not batch:
                    continue
                # Every check runs at C speed on the whole batch; rows of blank cells (blank
                # lines to the reader) are looked for only when one fails.
                cleaned = set(map(len, batch)) != {3} or not all(map(all, batch))
                if cleaned:
                    batch = list(_long_records(batch))
                    wrong = next((k for k, r in enumerate(batch) if len(r) != 3), None)
                    if wrong is not None:
                        raise fail(n_records + wrong, ": expected 3 cells")
                person, item, score_cells = _long_columns(batch)
                if not (all(person) and all(item)) and not cleaned:
                    batch = list(_long_records(batch))  # rows such as " , , "
                    person, item, score_cells = _long_columns(batch)
                for label, column in (("person_id", person), ("item_id", item)):
                    if not all(column):
                        empty = column.index("")
                        raise fail(n_records + empty, f", column {label!r}: empty")
                try:
                    scores = _batch_scores(score_cells)
                except IndexError as error:
                    k = error.args[0]
                    raise fail(
                        n_records + k,
                        f", column 'score': {score_cells[k]!r} is not an integer score",
                    ) from None
                keep = ~np.isnan(scores)
                if not keep.all():
                    person = list(itertools.compress(person, keep))
                    item = list(itertools.compress(item, keep))
                    scores = scores[keep]
                p_parts.append(
                    np.fromiter((persons.setdefault(p, len(persons)) for p in person), np.int64)
                )
                i_parts.append(
                    np.fromiter((items.setdefault(i, len(items)) for i in item), np.int64)
                )
                s_parts.append(scores)
                n_records += len(batch)
        except csv.Error as exc:
            raise ResearchFileError(f"{name}, line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise ResearchFileError(f"{name}: not a UTF-8 text file") from None
    if not s_parts or not sum(part.size for part in s_parts):
        raise ResearchFileError(f"{name}: no responses after the header")
    person_index = np.concatenate(p_parts)
    item_index = np.concatenate(i_parts)
    keys = person_index * len(items) + item_index
    ordered = np.sort(keys)
    if (ordered[1:] == ordered[:-1]).any():
        # The earliest repeat in file order, and the first record of its pair.
        order = np.argsort(keys, kind="stable")
        repeats = order[1:][keys[order[1:]] == keys[order[:-1]]]
        second = int(repeats.min())
        first = int(np.flatnonzero(keys == keys[second])[0])
        person_id = list(persons)[person_index[second]]
        item_id = list(items)[item_index[second]]
        first_line = _line_of_record(path, first, kept=True)
        raise fail(
            second,
            f": person {person_id!r} already has a score for item {item_id!r} (line {first_line})",
            kept=True,
        )
    return LongResponses(
        tuple(persons),
        tuple(items),
        person_index.astype(np.intp, copy=False),
        item_index.astype(np.intp, copy=False),
        np.concatenate(s_parts),
    )


# ---------------------------------------------------------------------------- scores
def write_scores_csv(
    path: str | os.PathLike[str],
    person_ids: Iterable[str],
    theta: Sequence[float] | np.ndarray,
    se: Sequence[float] | np.ndarray,
    *,
    decimals: int = 6,
) -> None:
    """Write ``person_id,theta,se`` rows (``NA`` for a missing estimate), atomically."""
    ids = list(person_ids)
    theta = np.asarray(theta, dtype=float)
    se = np.asarray(se, dtype=float)
    if not (len(ids) == theta.shape[0] == se.shape[0]):
        raise ValueError("person_ids, theta and se must have the same length")

    def fmt(x: float) -> str:
        return f"{x:.{decimals}f}" if math.isfinite(x) else "NA"

    lines = ["person_id,theta,se"]
    with_ids = _csv_cells(ids)
    lines.extend(
        f"{pid},{fmt(t)},{fmt(s)}"
        for pid, t, s in zip(with_ids, theta.tolist(), se.tolist(), strict=True)
    )
    _atomic_write(path, "\n".join(lines) + "\n")


def _csv_cells(values: Iterable[str]) -> list[str]:
    out = []
    for value in values:
        if any(ch in value for ch in ',"\n\r'):
            value = '"' + value.replace('"', '""') + '"'
        out.append(value)
    return out


def _atomic_write(path: str | os.PathLike[str], text: str) -> None:
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
