"""``cbt score``: ability estimates for a response file, from a parameter file.

Needs no Flask app: it reads PARAMS.json and a wide RESPONSES.csv, runs one of the estimators of
:mod:`scoring` and writes SCORES.csv (``person_id,theta,se``).
"""

from __future__ import annotations

import click

from cbt.terminal import cli_gettext as _

__all__ = ["score_command"]


@click.command("score")
@click.option(
    "--params",
    "params_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PARAMS.json as written by `cbt calibrate`.",
)
@click.option(
    "--responses",
    "responses_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Wide RESPONSES.csv: person_id, then one column per item id; empty or NA = not given.",
)
@click.option(
    "--method",
    type=click.Choice(["eap", "map", "mle", "wle"]),
    default="eap",
    show_default=True,
    help="Estimator.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="SCORES.csv to write (person_id,theta,se).",
)
@click.option("--prior-mean", default=0.0, show_default=True, help="Normal prior mean (EAP, MAP).")
@click.option("--prior-sd", default=1.0, show_default=True, help="Normal prior SD (EAP, MAP).")
@click.option(
    "--nodes", type=int, help="Quadrature nodes (EAP) [default: scoring.DEFAULT_N_NODES]."
)
@click.option(
    "--bounds",
    nargs=2,
    type=float,
    default=None,
    help="Theta range: quadrature range (EAP) or search range (MAP, MLE, WLE) "
    "[default: scoring.DEFAULT_BOUNDS].",
)
def score_command(
    params_path: str,
    responses_path: str,
    method: str,
    out_path: str,
    prior_mean: float,
    prior_sd: float,
    nodes: int | None,
    bounds: tuple[float, float] | None,
) -> None:
    """Score RESPONSES.csv with the item parameters in PARAMS.json.

    MLE reports perfect and zero scores at the bounds (see docs/scoring.md); a person with no
    administered item gets NA from MLE and WLE.
    """
    import numpy as np

    from analytics.researchio import (
        ResearchFileError,
        align_responses,
        read_params_json,
        read_wide_responses,
        write_scores_csv,
    )
    from scoring import estimate_ability

    try:
        params = read_params_json(params_path).params
        table = read_wide_responses(responses_path)
        matrix = align_responses(table, params)
    except ResearchFileError as exc:
        raise click.ClickException(str(exc)) from None
    settings: dict[str, object] = {} if bounds is None else {"bounds": tuple(bounds)}
    if method in ("eap", "map"):
        settings.update(prior_mean=prior_mean, prior_sd=prior_sd)
    if method == "eap" and nodes is not None:
        settings["n_nodes"] = nodes
    try:
        estimate = estimate_ability(matrix, params, method, **settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        write_scores_csv(out_path, table.person_ids, estimate.theta, estimate.se)
    except OSError as exc:
        raise click.ClickException(
            _("cannot write %(out_path)s: %(strerror)s", out_path=out_path, strerror=exc.strerror)
        ) from None
    n_missing = int(np.isnan(estimate.theta).sum())
    note = f" ({n_missing} without responses: NA)" if n_missing else ""
    click.echo(
        _(
            "scored %(n_person_ids)s persons on %(n_params)s items by "
            "%(upper)s%(note)s -> %(out_path)s",
            n_person_ids=len(table.person_ids),
            n_params=len(params),
            upper=method.upper(),
            note=note,
            out_path=out_path,
        )
    )
