"""Item bank API under /api/v1 (grows with the [item bank] issue)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select

from cbt.auth import require_user
from cbt.db import db
from cbt.models import Role
from item_bank.models import ItemParameter, ParameterSet

blueprint = Blueprint("item_bank_api", __name__, url_prefix="/api/v1")


@blueprint.get("/parameter-sets")
def parameter_sets() -> Response:
    """Every parameter set with its provenance (metadata only, no person data)."""
    require_user(Role.RESEARCHER, Role.OPERATOR)
    counts = (
        select(ItemParameter.parameter_set_id, func.count().label("n_items"))
        .group_by(ItemParameter.parameter_set_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ParameterSet, func.coalesce(counts.c.n_items, 0))
        .outerjoin(counts, counts.c.parameter_set_id == ParameterSet.id)
        .order_by(ParameterSet.name, ParameterSet.version)
    ).all()
    return jsonify(
        {
            "parameter_sets": [
                {
                    "id": s.id,
                    "name": s.name,
                    "version": s.version,
                    "status": s.status,
                    "n_items": n_items,
                    "scaling": s.scaling,
                    "created_at": s.created_at.isoformat().replace("+00:00", "Z"),
                    "provenance": s.provenance,
                }
                for s, n_items in rows
            ]
        }
    )
