"""Login pages and the landing redirect. Pages are shells; their ES modules talk to /api/v1."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from cbt.auth import current_user, password_change_pending, role_allowed
from cbt.i18n import role_names
from cbt.models import Role

blueprint = Blueprint("cbt_views", __name__)

_HOME_BY_ROLE = {
    Role.STUDENT: "delivery_views.student_home",
    Role.TEACHER: "analytics_views.teacher_home",
    Role.OPERATOR: "item_bank_views.operator_home",
    Role.RESEARCHER: "analytics_views.researcher_home",
    Role.SCHOOL_ADMIN: "schools_views.school_home",
}


_PASSWORD_PAGE = "schools_views.password_page"


def page_guard(*roles: Role) -> Response | None:
    """None when the signed-in user may see a page for ``roles``, else the reply to send.

    Nobody signed in: the login page (the students' one for student pages). Signed in with
    another role: a 403 page in the person's language that says why and links to their own
    home, never a silent bounce to a login form.
    """
    user = current_user()
    if user is None:
        student_page = roles == (Role.STUDENT,)
        return redirect(
            url_for("cbt_views.student_login" if student_page else "cbt_views.staff_login")
        )
    if password_change_pending() and request.endpoint != _PASSWORD_PAGE:
        return redirect(url_for(_PASSWORD_PAGE))  # a reset or generated password: choose one
    if role_allowed(user.role, roles):
        return None
    page = render_template(
        "forbidden.html",
        home_url=url_for(_HOME_BY_ROLE[user.role]),
        allowed_roles=gettext(", ").join(role_names()[str(role)] for role in roles),
    )
    return make_response(page, 403)


@blueprint.get("/")
def index() -> Response:
    user = current_user()
    if user is None:
        return redirect(url_for("cbt_views.student_login"))
    return redirect(url_for(_HOME_BY_ROLE[user.role]))


@blueprint.get("/login")
def student_login() -> str:
    return render_template("login_student.html")


@blueprint.get("/staff/login")
def staff_login() -> str:
    return render_template("login_staff.html")
