"""``cbt calibrate``, ``cbt link``, ``cbt fit`` and ``cbt dif``: the researcher's calibration loop.

File commands need no Flask app. ``cbt calibrate --administration ID`` reads the responses of
administrations from the database (inside the app context) and stores a draft ParameterSet.

Every command computes everything first and writes its outputs last, each atomically; if a
later output cannot be written the earlier ones are removed, so a failed command leaves no
partial output. Bad input ends with a one-line message naming the file, line and column (or
item) and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from cbt.terminal import cli_gettext as _

__all__ = ["calibrate_command", "dif_command", "fit_command", "link_command"]

_MODELS = ["rasch", "1pl", "2pl", "3pl", "grm", "gpcm", "pcm"]


# ---------------------------------------------------------------------------- shared helpers
class _Outputs:
    """Write several outputs all-or-nothing: temporary files first, then renames."""

    def __init__(self) -> None:
        self.planned: list[tuple[Path, str]] = []

    def add(self, path: str | None, text: str) -> None:
        if path:
            self.planned.append((Path(path), text))

    @staticmethod
    def check(*paths: str | None) -> None:
        """Fail before any work if an output's directory does not exist."""
        for path in paths:
            if path:
                parent = Path(path).resolve().parent
                if not parent.is_dir():
                    raise click.ClickException(
                        _(
                            "cannot write %(path)s: %(parent)s does not exist",
                            path=path,
                            parent=parent,
                        )
                    )

    def commit(self) -> None:
        temps: list[tuple[Path, Path]] = []
        try:
            for path, text in self.planned:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.resolve().parent)
                temps.append((Path(tmp), path))
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary
            for tmp, path in temps:
                os.replace(tmp, path)
        except OSError as exc:
            for tmp, _ in temps:
                tmp.unlink(missing_ok=True)
            raise click.ClickException(_("cannot write outputs: %(exc)s", exc=exc)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_text(document: Any) -> str:
    def safe(value: Any) -> Any:
        import numpy as np

        if isinstance(value, float | np.floating):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.ndarray):
            return [safe(v) for v in value.tolist()]
        if isinstance(value, dict):
            return {str(k): safe(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [safe(v) for v in value]
        return value

    return json.dumps(safe(document), indent=2) + "\n"


def _read_responses(path: str, fmt: str, *, item_ids: Sequence[str] | None = None):
    """RESPONSES.csv (wide or long) as ``scoring.ResponseData`` (errors name line and column)."""
    import dataclasses

    import numpy as np

    from analytics.researchio import read_long_responses, read_wide_responses
    from scoring.calibration import ResponseData

    if fmt == "wide":
        table = read_wide_responses(path)
        scores = table.scores
        bad = ~np.isnan(scores) & ((scores != np.floor(scores)) | (scores < 0) | (scores > 99))
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise click.ClickException(
                _(
                    "%(source)s, line %(lines)s, column %(item_ids)r: score %(scores)g is "
                    "not a category (an integer 0, 1, 2, ...)",
                    source=table.source,
                    lines=table.lines[row],
                    item_ids=table.item_ids[col],
                    scores=scores[row, col],
                )
            )
        data = _fail_on_value_errors(
            lambda: ResponseData.from_dense(
                scores, item_ids=table.item_ids, person_ids=table.person_ids
            )
        )
        return data, {"file": Path(path).name, "format": "wide", "lines": table.lines}
    long = read_long_responses(path)
    data = _fail_on_value_errors(
        lambda: ResponseData.from_long(
            long.person_index, long.item_index, long.scores, items=range(len(long.item_ids))
        )
    )
    # Persons are numbered by first appearance in both; map the positions back to ids.
    persons = np.asarray(long.person_ids, dtype=object)[np.asarray(data.person_ids, dtype=int)]
    items = np.asarray(long.item_ids, dtype=object)[np.asarray(data.item_ids, dtype=int)]
    data = dataclasses.replace(
        data, person_ids=tuple(persons.tolist()), item_ids=tuple(items.tolist())
    )
    return data, {"file": Path(path).name, "format": "long"}


def _read_groups(path: str, person_ids: Sequence[str]) -> list[str]:
    """GROUPS.csv (``person_id,group``) aligned with ``person_ids``."""
    name = Path(path).name
    groups: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:2] != ["person_id", "group"]:
                raise click.ClickException(
                    _(
                        "%(name)s, line 1: expected the header 'person_id,group', got %(header)r",
                        name=name,
                        header=",".join(header),
                    )
                )
            for record in reader:
                line = reader.line_num
                if not record or all(not c.strip() for c in record):
                    continue
                if len(record) < 2 or not record[0].strip() or not record[1].strip():
                    raise click.ClickException(
                        _(
                            "%(name)s, line %(line)s: needs a person_id and a group",
                            name=name,
                            line=line,
                        )
                    )
                person = record[0].strip()
                if person in groups:
                    raise click.ClickException(
                        _(
                            "%(name)s, line %(line)s: person %(person)r appears twice",
                            name=name,
                            line=line,
                            person=person,
                        )
                    )
                groups[person] = record[1].strip()
    except OSError as exc:
        raise click.ClickException(
            _("%(name)s: cannot open (%(strerror)s)", name=name, strerror=exc.strerror)
        ) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise click.ClickException(
            _("%(name)s: cannot read (%(exc)s)", name=name, exc=exc)
        ) from None
    missing = [p for p in person_ids if p not in groups]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise click.ClickException(
            _(
                "%(name)s: no group for person %(missing)r%(more)s (every person in "
                "the responses needs a group)",
                name=name,
                missing=missing[0],
                more=more,
            )
        )
    return [groups[p] for p in person_ids]


def _progress(max_iter: int, quiet: bool) -> tuple[Callable | None, Callable[[], None]]:
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=max_iter, desc="EM", unit="step", file=sys.stderr, leave=False)

    def update(n: int, ll: float, change: float) -> None:
        bar.update(1)
        bar.set_postfix_str(f"LL {ll:.2f}, change {change:.1e}")

    return update, bar.close


def _fail_on_value_errors(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    for item in caught:
        click.echo(_("warning: %(message)s", message=item.message), err=True)


def _se_records(params: Any, se: Any) -> list[dict[str, Any] | None]:
    return [
        None if se is None else se.record(j, params.model[j], int(params.n_categories[j]))
        for j in range(len(params))
    ]


# ---------------------------------------------------------------------------- cbt calibrate
@click.command("calibrate")
@click.option("--model", required=True, type=click.Choice(_MODELS), help="IRT model.")
@click.option(
    "--responses",
    "responses_path",
    type=click.Path(exists=True, dir_okay=False),
    help="RESPONSES.csv: wide (person_id, one column per item) or long (--format long).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["wide", "long"]),
    default="wide",
    show_default=True,
    help="Layout of RESPONSES.csv; long is person_id,item_id,score.",
)
@click.option(
    "--administration",
    "administrations",
    type=int,
    multiple=True,
    help="Calibrate the responses of this administration (repeatable; uses the database).",
)
@click.option("--parameter-set", "parameter_set_name", help="Name of the draft ParameterSet.")
@click.option(
    "--anchor-set",
    type=int,
    help="With --administration: hold the items of this ParameterSet (id) fixed.",
)
@click.option(
    "--group-by-administration",
    is_flag=True,
    help="With --administration: one group per administration (first = reference).",
)
@click.option(
    "--anchors",
    "anchors_path",
    type=click.Path(exists=True, dir_okay=False),
    help="PARAMS.json of anchor items held fixed (fixed-parameter calibration).",
)
@click.option(
    "--groups",
    "groups_path",
    type=click.Path(exists=True, dir_okay=False),
    help="GROUPS.csv (person_id,group) for a multi-group calibration.",
)
@click.option("--reference-group", help="Group with N(0, 1) (default: first in sort order).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="PARAMS.json to write.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="HTML report.")
@click.option(
    "--scores", "scores_path", type=click.Path(dir_okay=False), help="EAP scores CSV to write."
)
@click.option(
    "--polytomous-model",
    type=click.Choice(["gpcm", "grm"]),
    default="gpcm",
    show_default=True,
    help="Model of items with more than 2 categories under a dichotomous --model.",
)
@click.option(
    "--nodes",
    default=None,
    type=click.IntRange(5, 201),
    help="Quadrature nodes [default: scoring.DEFAULT_N_NODES].",
)
@click.option("--max-iter", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--tol", default=1e-4, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--se",
    "se_method",
    type=click.Choice(["observed", "xpd", "xpd-block", "none"]),
    default="observed",
    show_default=True,
    help="Standard-error method: observed information (exact; on large problems the "
    "cross-product xpd is used instead and said so), xpd or xpd-block (approximations), none.",
)
@click.option(
    "--prior-discrimination",
    nargs=2,
    type=float,
    help="Lognormal prior MEAN SD on log a (default: (0, 0.5) for 3PL only).",
)
@click.option(
    "--prior-guessing",
    nargs=2,
    type=float,
    help="Beta prior ALPHA BETA on c (default: (5, 17) for 3PL).",
)
@click.option("--prior-difficulty", nargs=2, type=float, help="Normal prior MEAN SD on b.")
@click.option("--no-priors", is_flag=True, help="Pure ML: no default priors, even for 3PL.")
@click.option("--seed", type=int, help="Recorded in the provenance (EM is deterministic).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def calibrate_command(
    model: str,
    responses_path: str | None,
    fmt: str,
    administrations: tuple[int, ...],
    parameter_set_name: str | None,
    anchor_set: int | None,
    group_by_administration: bool,
    anchors_path: str | None,
    groups_path: str | None,
    reference_group: str | None,
    out_path: str | None,
    report_path: str | None,
    scores_path: str | None,
    polytomous_model: str,
    nodes: int | None,
    max_iter: int,
    tol: float,
    se_method: str,
    prior_discrimination: tuple[float, float] | None,
    prior_guessing: tuple[float, float] | None,
    prior_difficulty: tuple[float, float] | None,
    no_priors: bool,
    seed: int | None,
    quiet: bool,
) -> None:
    """Calibrate item parameters by marginal maximum likelihood (EM).

    From a file: --responses RESPONSES.csv --out PARAMS.json. From the database:
    --administration ID [--administration ID] --parameter-set NAME (writes a draft
    ParameterSet; --out is optional).
    """
    if bool(responses_path) == bool(administrations):
        raise click.UsageError(_("give either --responses or --administration (not both)"))
    if responses_path and not out_path:
        raise click.UsageError(_("--out PARAMS.json is required with --responses"))
    if administrations and not parameter_set_name:
        raise click.UsageError(_("--parameter-set NAME is required with --administration"))
    if responses_path and (anchor_set or group_by_administration or parameter_set_name):
        raise click.UsageError(
            _("--parameter-set, --anchor-set and --group-by-administration need --administration")
        )
    if administrations and groups_path:
        raise click.UsageError(_("use --group-by-administration with --administration"))
    _Outputs.check(out_path, report_path, scores_path)
    settings: dict[str, Any] = {
        "polytomous_model": polytomous_model,
        **({} if nodes is None else {"n_nodes": nodes}),
        "max_iter": max_iter,
        "tol": tol,
        "se_method": None if se_method == "none" else se_method,
        "compute_theta": bool(scores_path or report_path),
        "reference_group": reference_group,
    }
    if no_priors:
        settings.update(prior_discrimination=None, prior_guessing=None)
    if prior_discrimination:
        settings["prior_discrimination"] = prior_discrimination
    if prior_guessing:
        settings["prior_guessing"] = prior_guessing
    if prior_difficulty:
        settings["prior_difficulty"] = prior_difficulty
    if administrations:
        _calibrate_from_database(
            model,
            administrations,
            parameter_set_name,
            anchor_set,
            anchors_path,
            group_by_administration,
            settings,
            out_path,
            report_path,
            scores_path,
            seed,
            quiet,
        )
        return
    from analytics.researchio import ResearchFileError, read_params_json

    started = dt.datetime.now(dt.UTC)
    try:
        data, source = _read_responses(responses_path, fmt)
        anchors = read_params_json(anchors_path).params if anchors_path else None
    except ResearchFileError as exc:
        raise click.ClickException(str(exc)) from None
    groups = _read_groups(groups_path, data.person_ids) if groups_path else None
    sources: dict[str, Any] = {"responses": {k: v for k, v in source.items() if k != "lines"}}
    if anchors_path:
        sources["anchors"] = Path(anchors_path).name
    if groups_path:
        sources["groups"] = Path(groups_path).name
    cal, caught = _fit(model, settings, anchors, data, groups, quiet)
    from analytics.provenance import provenance

    document = cal.to_params_document()
    document["provenance"] = provenance(cal, data, sources=sources, started_at=started, seed=seed)
    outputs = _Outputs()
    outputs.add(out_path, _params_text(cal, document))
    _add_report_and_scores(outputs, cal, data, document, report_path, scores_path)
    outputs.commit()
    _echo_warnings(caught)
    _summary(cal, out_path)


def _fit(model, settings, anchors, data, groups, quiet):
    from scoring.calibration import MMLCalibrator

    callback, close = _progress(settings["max_iter"], quiet)
    cal = MMLCalibrator(model, anchors=anchors, callback=callback, **settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _fail_on_value_errors(lambda: cal.fit(data, groups=groups))
        finally:
            close()
    cal.callback = None
    return cal, list(caught)


def _params_text(cal: Any, document: dict[str, Any]) -> str:
    """PARAMS.json text: the items as ``write_params_json`` lays them out, plus the document."""
    out = {k: v for k, v in document.items() if k != "items"}
    records = cal.item_parameters_.to_records()
    fixed = set(document.get("fixed_items", []))
    for rec, se in zip(records, _se_records(cal.item_parameters_, cal.se_), strict=True):
        if se is not None and rec["item_id"] not in fixed:
            rec["se"] = se
    ordered = {"model": out.pop("model"), "scaling": out.pop("scaling"), "items": records}
    ordered.update(out)
    return _json_text(ordered)


def _add_report_and_scores(outputs, cal, data, document, report_path, scores_path) -> None:
    if scores_path:
        lines = ["person_id,theta,se"]
        ids = data.person_ids or tuple(str(i + 1) for i in range(data.n_persons))
        for pid, t, s in zip(ids, cal.theta_.tolist(), cal.theta_se_.tolist(), strict=True):
            fmt_t = f"{t:.6f}" if math.isfinite(t) else "NA"
            fmt_s = f"{s:.6f}" if math.isfinite(s) else "NA"
            lines.append(f"{_csv_cell(pid)},{fmt_t},{fmt_s}")
        outputs.add(scores_path, "\n".join(lines) + "\n")
    if report_path:
        from analytics.reports import calibration_report
        from scoring.calibration import classical_item_analysis, sx2_item_fit

        kept = data.subset(None, _item_mask(data, cal.item_ids_))
        classical = classical_item_analysis(kept)
        item_fit = sx2_item_fit(
            cal.item_parameters_,
            kept,
            mean=float(cal.group_means_[0]),
            sd=float(cal.group_sds_[0]),
            n_free=[0 if f else int(n) for f, n in zip(cal.fixed_, _free(cal), strict=True)],
        )
        outputs.add(
            report_path,
            calibration_report(
                document,
                cal.item_parameters_,
                classical=classical,
                item_fit=item_fit,
                theta=cal.theta_,
            ),
        )


def _free(cal: Any):
    from scoring.calibration import free_parameter_counts

    return free_parameter_counts(cal.item_parameters_)


def _item_mask(data: Any, keep_ids: Sequence[str]):
    import numpy as np

    wanted = set(keep_ids)
    return np.array([i in wanted for i in data.item_ids])


def _csv_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _summary(cal: Any, out_path: str | None, extra: str = "") -> None:
    status = "converged" if cal.converged_ else "NOT converged"
    click.echo(
        f"calibrated {len(cal.item_ids_)} items from {cal.n_responses_} responses of "
        f"{cal.n_persons_} persons: LL {cal.log_likelihood_:.3f}, AIC {cal.aic_:.1f}, "
        f"BIC {cal.bic_:.1f}, {cal.n_iter_} EM steps, {status}"
        + (f" -> {out_path}" if out_path else "")
        + extra
    )
    for item_id, reason in cal.excluded_items_.items():
        click.echo(
            _("excluded item %(item_id)s: %(reason)s", item_id=item_id, reason=reason), err=True
        )
    if len(cal.excluded_persons_):
        click.echo(
            _(
                "excluded %(n_excluded_persons)s persons with no responses",
                n_excluded_persons=len(cal.excluded_persons_),
            ),
            err=True,
        )
    for item_id, message in cal.item_warnings_.items():
        click.echo(_("item %(item_id)s: %(message)s", item_id=item_id, message=message), err=True)
    if cal.se_method == "observed" and cal.se_method_ not in ("observed", None):
        click.echo(
            _(
                "standard errors: %(se_method)s (observed information is too costly at "
                "this size; the cross-product approximation is close on large samples)",
                se_method=cal.se_method_,
            ),
            err=True,
        )


def _calibrate_from_database(
    model,
    administrations,
    parameter_set_name,
    anchor_set,
    anchors_path,
    group_by_administration,
    settings,
    out_path,
    report_path,
    scores_path,
    seed,
    quiet,
) -> None:
    from flask.cli import ScriptInfo

    from analytics.calibration import (
        anchors_from_parameter_set,
        calibrate_administrations,
        load_administration_responses,
    )
    from analytics.researchio import ResearchFileError, read_params_json
    from cbt.cli import script_info
    from cbt.db import db
    from cbt.errors import DomainError
    from scoring.calibration import MMLCalibrator

    # `cbt calibrate` is looked up without an app (file mode never imports Flask); build one here.
    info = click.get_current_context().find_object(ScriptInfo) or script_info()
    app = info.load_app()
    with app.app_context():
        try:
            loaded = load_administration_responses(administrations)
            anchors = None
            if anchors_path:
                anchors = read_params_json(anchors_path).params
            elif anchor_set is not None:
                anchors = anchors_from_parameter_set(anchor_set, loaded.data.item_ids)
            callback, close = _progress(settings["max_iter"], quiet)
            cal = MMLCalibrator(model, anchors=anchors, callback=callback, **settings)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    parameter_set, cal, loaded = calibrate_administrations(
                        administrations,
                        parameter_set_name=parameter_set_name,
                        calibrator=cal,
                        group_by_administration=group_by_administration,
                        seed=seed,
                        loaded=loaded,
                    )
                finally:
                    close()
            cal.callback = None
            document = cal.to_params_document()
            document["provenance"] = parameter_set.provenance
            outputs = _Outputs()
            outputs.add(out_path, _params_text(cal, document))
            _add_report_and_scores(outputs, cal, loaded.data, document, report_path, scores_path)
            outputs.commit()
            db.session.commit()
        except (DomainError, ResearchFileError, ValueError) as exc:
            db.session.rollback()
            raise click.ClickException(str(getattr(exc, "message", exc))) from None
        except BaseException:
            db.session.rollback()
            raise
        _echo_warnings(caught)
        _summary(
            cal,
            out_path,
            f"; draft parameter set {parameter_set.name!r} version {parameter_set.version} "
            f"(id {parameter_set.id})",
        )


# ---------------------------------------------------------------------------- cbt link
@click.command("link")
@click.option(
    "--source",
    "source_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PARAMS.json to put on the target scale.",
)
@click.option(
    "--target",
    "target_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PARAMS.json of the base scale.",
)
@click.option(
    "--chain",
    "chain_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Continue the link through these PARAMS.json files in turn (chain linking): "
    "target -> chain[0] -> chain[1] ...",
)
@click.option(
    "--method",
    type=click.Choice(["mean-mean", "mean-sigma", "haebara", "stocking-lord"]),
    default="stocking-lord",
    show_default=True,
)
@click.option("--symmetric", is_flag=True, help="Symmetric Haebara / Stocking-Lord criterion.")
@click.option("--common-items", help="Comma-separated item ids (default: every shared id).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="PARAMS.json of the source items on the final scale.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    help="Linking summary (constants of every method and each step).",
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="HTML report.")
def link_command(
    source_path: str,
    target_path: str,
    chain_paths: tuple[str, ...],
    method: str,
    symmetric: bool,
    common_items: str | None,
    out_path: str,
    json_path: str | None,
    report_path: str | None,
) -> None:
    """Put the SOURCE calibration on the scale of TARGET through common items."""
    from analytics.researchio import ResearchFileError, read_params_json
    from scoring.calibration import LINKING_METHODS, chain_link, link

    _Outputs.check(out_path, json_path, report_path)
    try:
        source_file = read_params_json(source_path)
        files = [read_params_json(target_path)] + [read_params_json(p) for p in chain_paths]
    except ResearchFileError as exc:
        raise click.ClickException(str(exc)) from None
    common = [c.strip() for c in common_items.split(",") if c.strip()] if common_items else None
    names = [Path(target_path).name] + [Path(p).name for p in chain_paths]
    steps, alternatives = [], {}
    current, current_name = source_file.params, Path(source_path).name
    for k, (file, name) in enumerate(zip(files, names, strict=True)):

        def one(m: str, cur=current, tgt=file.params, first=k == 0) -> Any:
            sym = symmetric and m in ("haebara", "stocking-lord")
            return link(cur, tgt, m, common_items=common if first else None, symmetric=sym)

        try:
            step = one(method)
            if k == 0:
                alternatives = {m: one(m) for m in LINKING_METHODS}
        except ValueError as exc:
            raise click.ClickException(
                _(
                    "linking %(current_name)s to %(name)s: %(exc)s",
                    current_name=current_name,
                    name=name,
                    exc=exc,
                )
            ) from None
        steps.append(step)
        current, current_name = file.params, name
    result = steps[0] if len(steps) == 1 else chain_link(steps)
    linked = result.transform(source_file.params)
    se = _transformed_se(source_path, source_file.params, result.slope)
    meta = {k: v for k, v in source_file.metadata.items() if k not in ("model", "scaling")}
    summary = {
        "source": Path(source_path).name,
        "target": names[-1],
        "chain": names,
        "method": result.method if len(steps) == 1 else f"chain of {method}",
        "slope": result.slope,
        "intercept": result.intercept,
        "steps": [s.to_dict() for s in steps],
        "all_methods": {
            m: {"slope": r.slope, "intercept": r.intercept} for m, r in alternatives.items()
        },
    }
    meta["linking"] = summary
    records = linked.to_records()
    for rec, item_se in zip(records, se, strict=True):
        if item_se:
            rec["se"] = item_se
    document = {"model": source_file.model, "scaling": linked.scaling, "items": records, **meta}
    outputs = _Outputs()
    outputs.add(out_path, _json_text(document))
    outputs.add(json_path, _json_text(summary))
    if report_path:
        from analytics.reports import linking_report

        outputs.add(
            report_path,
            linking_report(
                steps[0], source_file.params, files[0].params, alternatives=alternatives
            ),
        )
    outputs.commit()
    click.echo(
        _(
            "linked %(n_linked)s items of %(name)s to %(names)s (%(method)s): A = "
            "%(slope).5f, B = %(intercept).5f -> %(out_path)s",
            n_linked=len(linked),
            name=Path(source_path).name,
            names=names[-1],
            method=summary["method"],
            slope=result.slope,
            intercept=result.intercept,
            out_path=out_path,
        )
    )


def _transformed_se(path: str, params: Any, slope: float) -> list[dict[str, Any] | None]:
    """Each source item's ``se`` under the transformation: se(a) / A, A se(b), A se(b_k)."""
    with open(path, encoding="utf-8") as handle:
        items = json.load(handle)["items"]
    by_id = {str(item["item_id"]): item.get("se") for item in items}
    out: list[dict[str, Any] | None] = []
    for item_id in params.item_ids:
        se = by_id.get(item_id)
        if not isinstance(se, dict):
            out.append(None)
            continue
        moved: dict[str, Any] = {}
        for key, value in se.items():
            if value is None:
                moved[key] = None
            elif key == "discrimination":
                moved[key] = float(value) / slope
            elif key == "difficulty":
                moved[key] = float(value) * slope
            elif key == "thresholds":
                moved[key] = [None if v is None else float(v) * slope for v in value]
            else:
                moved[key] = value
        out.append(moved)
    return out


# ---------------------------------------------------------------------------- cbt fit
@click.command("fit")
@click.option(
    "--params",
    "params_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PARAMS.json.",
)
@click.option(
    "--responses",
    "responses_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="RESPONSES.csv.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["wide", "long"]), default="wide", show_default=True
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="FIT.json to write."
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="HTML report.")
@click.option(
    "--min-expected",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Minimum expected count per S-X2 cell.",
)
@click.option(
    "--theta-method",
    type=click.Choice(["wle", "eap"]),
    default="wle",
    show_default=True,
    help="Abilities for infit/outfit.",
)
def fit_command(
    params_path: str,
    responses_path: str,
    fmt: str,
    out_path: str,
    report_path: str | None,
    min_expected: float,
    theta_method: str,
) -> None:
    """Item fit: S-X2 (Orlando-Thissen) and infit/outfit, with an optional HTML report."""
    from analytics.researchio import ResearchFileError, read_params_json
    from scoring.calibration import classical_item_analysis, rasch_item_fit, sx2_item_fit

    _Outputs.check(out_path, report_path)
    try:
        params_file = read_params_json(params_path)
        data, _lines = _read_responses(responses_path, fmt)
    except ResearchFileError as exc:
        raise click.ClickException(str(exc)) from None
    groups = params_file.metadata.get("groups") or [{"mean": 0.0, "sd": 1.0}]
    mean, sd = float(groups[0].get("mean", 0.0)), float(groups[0].get("sd", 1.0))
    fixed = set(params_file.metadata.get("fixed_items", []))
    params = params_file.params

    def compute():
        from scoring.calibration import free_parameter_counts

        # Parameters in the responses' item order (unknown items are reported by sx2_item_fit).
        known = set(params.item_ids)
        ordered = (
            params.take(params.index_of(data.item_ids)) if set(data.item_ids) <= known else params
        )
        counts = free_parameter_counts(ordered)
        n_free = [
            0 if i in fixed else int(c) for i, c in zip(ordered.item_ids, counts, strict=True)
        ]
        item_fit = sx2_item_fit(
            params, data, mean=mean, sd=sd, min_expected=min_expected, n_free=n_free
        )
        rasch = rasch_item_fit(params, data, theta_method=theta_method)
        classical = classical_item_analysis(data)
        return item_fit, rasch, classical

    item_fit, rasch, classical = _fail_on_value_errors(compute)
    records = []
    for j, rec in enumerate(item_fit.to_records()):
        rec.update({k: v for k, v in rasch.to_records()[j].items() if k != "item_id"})
        rec["p_value_classical"] = _finite(classical.p_value[j])
        rec["point_biserial"] = _finite(classical.point_biserial[j])
        records.append(rec)
    document = {
        "params": Path(params_path).name,
        "responses": Path(responses_path).name,
        "latent_distribution": {"mean": mean, "sd": sd},
        "min_expected": min_expected,
        "theta_method": theta_method,
        "n_booklets": item_fit.n_booklets,
        "alpha": _finite(classical.alpha),
        "items": records,
    }
    outputs = _Outputs()
    outputs.add(out_path, _json_text(document))
    if report_path:
        from analytics.reports import fit_report

        outputs.add(report_path, fit_report(item_fit, rasch, meta=Path(params_path).name))
    outputs.commit()
    flagged = int(sum(1 for r in records if r["p_value"] is not None and r["p_value"] < 0.01))
    click.echo(
        _(
            "item fit for %(n_records)s items (%(flagged)s with S-X2 p < 0.01) -> %(out_path)s",
            n_records=len(records),
            flagged=flagged,
            out_path=out_path,
        )
    )


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------- cbt dif
@click.command("dif")
@click.option(
    "--responses",
    "responses_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="RESPONSES.csv.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["wide", "long"]), default="wide", show_default=True
)
@click.option(
    "--groups",
    "groups_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="GROUPS.csv (person_id,group).",
)
@click.option("--focal", required=True, help="Label of the focal group.")
@click.option("--reference", help="Label of the reference group (default: everyone else).")
@click.option(
    "--method",
    type=click.Choice(["mh", "lr", "both"]),
    default="mh",
    show_default=True,
    help="Mantel-Haenszel, IRT likelihood ratio, or both.",
)
@click.option(
    "--model",
    type=click.Choice(_MODELS),
    default="2pl",
    show_default=True,
    help="Model of the IRT-LR test.",
)
@click.option("--purify", is_flag=True, help="Two-stage purification of the MH matching score.")
@click.option("--items", help="Comma-separated items to study with IRT-LR (default: all).")
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="DIF.json to write."
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="HTML report.")
def dif_command(
    responses_path: str,
    fmt: str,
    groups_path: str,
    focal: str,
    reference: str | None,
    method: str,
    model: str,
    purify: bool,
    items: str | None,
    out_path: str,
    report_path: str | None,
) -> None:
    """Differential item functioning between a focal and a reference group."""
    from analytics.researchio import ResearchFileError
    from scoring.calibration import lr_dif, mantel_haenszel

    _Outputs.check(out_path, report_path)
    try:
        data, _lines = _read_responses(responses_path, fmt)
    except ResearchFileError as exc:
        raise click.ClickException(str(exc)) from None
    groups = _read_groups(groups_path, data.person_ids)
    studied = [i.strip() for i in items.split(",") if i.strip()] if items else None
    mh = lr = None
    if method in ("mh", "both"):
        mh = _fail_on_value_errors(
            lambda: mantel_haenszel(data, groups, focal=focal, reference=reference, purify=purify)
        )
    if method in ("lr", "both"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lr = _fail_on_value_errors(
                lambda: lr_dif(
                    data, groups, focal=focal, reference=reference, model=model, items=studied
                )
            )
        _echo_warnings(caught)
    document: dict[str, Any] = {
        "responses": Path(responses_path).name,
        "groups": Path(groups_path).name,
        "focal": focal,
        "reference": reference or "all others",
    }
    if mh is not None:
        document["mantel_haenszel"] = {
            "purified": mh.purified,
            "matching_items": list(mh.matching_items),
            "items": mh.to_records(),
        }
    if lr is not None:
        document["likelihood_ratio"] = {
            "model": lr.model,
            "focal_mean": lr.focal_mean,
            "focal_sd": lr.focal_sd,
            "items": lr.to_records(),
        }
    outputs = _Outputs()
    outputs.add(out_path, _json_text(document))
    if report_path:
        from analytics.reports import dif_report

        outputs.add(report_path, dif_report(mh, lr, meta=f"focal group {focal}"))
    outputs.commit()
    parts = []
    if mh is not None:
        flagged = [i for i, c in zip(mh.item_ids, mh.ets_class, strict=True) if c in ("C", "CC")]
        parts.append(f"MH: {len(flagged)} items in class C")
    if lr is not None:
        parts.append(f"LR: {int((lr.p_value < 0.01).sum())} items with p < 0.01")
    click.echo(
        _(
            "DIF for %(n_items)s items (%(parts)s) -> %(out_path)s",
            n_items=data.n_items,
            parts="; ".join(parts),
            out_path=out_path,
        )
    )
