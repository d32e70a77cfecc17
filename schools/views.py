"""School management pages (shells; their ES modules call /api/v1/schools...)."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, url_for
from werkzeug.wrappers import Response

from cbt.auth import password_change_pending, require_user, school_scope
from cbt.db import db
from cbt.models import Classroom, Role
from cbt.views import page_guard

blueprint = Blueprint("schools_views", __name__)

MANAGERS = (Role.SCHOOL_ADMIN, Role.OPERATOR)
STAFF = (Role.TEACHER, Role.SCHOOL_ADMIN, Role.RESEARCHER, Role.OPERATOR)


@blueprint.get("/school")
def school_home() -> Response | str:
    """A school administrator's home (their school); an operator's list of schools."""
    refusal = page_guard(*MANAGERS)
    if refusal is not None:
        return refusal
    scope = school_scope(require_user(*MANAGERS))
    if scope is None:
        return render_template("school_list.html")
    return render_template("school_home.html", school_id=scope)


def _outside_scope(school_id: int | None) -> Response | None:
    """A 403 page when a school administrator opens another school's page (operators: None)."""
    scope = school_scope(require_user(*MANAGERS))
    if scope is None or scope == school_id:
        return None
    page = render_template(
        "forbidden.html", outside_scope=True, home_url=url_for("schools_views.school_home")
    )
    return make_response(page, 403)


@blueprint.get("/school/<int:school_id>")
def school_page(school_id: int) -> Response | str:
    return (
        page_guard(*MANAGERS)
        or _outside_scope(school_id)
        or render_template("school_home.html", school_id=school_id)
    )


@blueprint.get("/school/classes/<int:classroom_id>")
def class_page(classroom_id: int) -> Response | str:
    refusal = page_guard(*MANAGERS)
    if refusal is not None:
        return refusal
    classroom = db.session.get(Classroom, classroom_id)
    return _outside_scope(classroom.school_id if classroom else None) or render_template(
        "school_class.html", classroom_id=classroom_id
    )


@blueprint.get("/staff/password")
def password_page() -> Response | str:
    return page_guard(*STAFF) or render_template(
        "school_password.html", must_change=password_change_pending()
    )
