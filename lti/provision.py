"""What a launch creates or matches: the school, the class (per context), the user (per ``sub``,
else an existing roster user by e-mail or lis person_sourcedid), the enrolment and the link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select

from cbt.db import db, utcnow
from cbt.errors import DomainError, ErrorCode, Forbidden
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import LOGIN_CODE_ALPHABET
from cbt.service import find_school, new_pseudonym
from delivery.models import Administration, AdministrationClassroom, AdministrationStatus
from lti import claims as c
from lti.launch import Launch
from lti.models import (
    LtiContext,
    LtiLaunchUser,
    LtiPlatform,
    LtiResourceLink,
    LtiScorePost,
    LtiUser,
)

ASSIGNABLE = (AdministrationStatus.SCHEDULED, AdministrationStatus.OPEN)


@dataclass
class Provisioned:
    user: User
    classroom: Classroom
    role: Role
    created: list[str]


def launch_role(claims: dict[str, Any]) -> Role:
    """Teacher for any teaching role, else student for a learner role; others are refused."""
    raw = claims.get(c.ROLES)
    roles = [role for role in raw if isinstance(role, str)] if isinstance(raw, list) else []
    if any(role in c.TEACHING_ROLES for role in roles):
        return Role.TEACHER
    if any(role in c.LEARNING_ROLES for role in roles):
        return Role.STUDENT
    raise Forbidden(
        "Your role in the platform is neither learner nor instructor, so the tool cannot open.",
        details={"reason": "unsupported_role"},
    )


def _text(claims: dict[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _school(platform: LtiPlatform, created: list[str]) -> School:
    if platform.school_id is not None:
        school = db.session.get(School, platform.school_id)
        if school is not None:
            return school
    code = f"LTI-{platform.id}"
    school = find_school(code)
    if school is None:
        school = School(code=code, name=platform.name[:200])
        db.session.add(school)
        db.session.flush()
        created.append("school")
    platform.school_id = school.id
    return school


def _new_class_code() -> str:
    while True:
        code = "LTI-" + "".join(secrets.choice(LOGIN_CODE_ALPHABET) for _ in range(8))
        if db.session.scalar(select(Classroom.id).where(Classroom.class_code == code)) is None:
            return code


def _classroom(launch: Launch, school: School, created: list[str]) -> Classroom:
    context = launch.claims.get(c.CONTEXT)
    if not isinstance(context, dict) or not isinstance(context.get("id"), str):
        raise DomainError(
            "The launch has no course context, so the tool cannot tell which class it is for.",
            code=ErrorCode.BAD_REQUEST,
            details={"reason": "no_context"},
        )
    context_id = context["id"][:255]
    linked = db.session.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == launch.platform.id, LtiContext.context_id == context_id
        )
    )
    if linked is not None:
        classroom = db.session.get(Classroom, linked.classroom_id)
        if classroom is not None:
            return classroom
    name = (_text(context, "title", 100) or _text(context, "label", 100) or context_id)[:100]
    classroom = Classroom(
        school=school,
        name=name,
        grade=0,
        academic_year=utcnow().year,
        class_code=_new_class_code(),
        roster_data={"lti_context_id": context_id},
    )
    db.session.add(classroom)
    db.session.flush()
    if linked is None:
        db.session.add(
            LtiContext(
                platform_id=launch.platform.id, context_id=context_id, classroom_id=classroom.id
            )
        )
    else:
        linked.classroom_id = classroom.id
    created.append("classroom")
    return classroom


def _roster_match(claims: dict[str, Any]) -> User | None:
    """An existing user by e-mail or by the lis person_sourcedid (users.sourced_id)."""
    email = _text(claims, "email", 254)
    lis = claims.get(c.LIS) if isinstance(claims.get(c.LIS), dict) else {}
    sourced_id = _text(lis, "person_sourcedid", 255)
    conditions = []
    if email and "@" in email:
        conditions.append(User.email == email.lower())
    if sourced_id:
        conditions.append(User.sourced_id == sourced_id)
    if not conditions:
        return None
    return db.session.scalars(select(User).where(or_(*conditions)).order_by(User.id)).first()


def _user(launch: Launch, role: Role, school: School, created: list[str]) -> User:
    claims, platform = launch.claims, launch.platform
    sub = str(claims["sub"])[:255]
    linked = db.session.scalar(
        select(LtiUser).where(LtiUser.platform_id == platform.id, LtiUser.sub == sub)
    )
    user = db.session.get(User, linked.user_id) if linked is not None else _roster_match(claims)
    if user is not None:
        if user.role != role:
            # Never a way up: a platform cannot make a student a teacher, nor reach staff roles.
            raise Forbidden(
                "Your account here has another role than the one the platform gives you.",
                details={"reason": "role_mismatch"},
            )
        if not user.is_active or user.identity_deleted_at is not None:
            raise Forbidden(
                "This account is not active. Ask your school.", details={"reason": "inactive"}
            )
    else:
        given, family = _text(claims, "given_name", 100), _text(claims, "family_name", 100)
        name = _text(claims, "name", 200) or " ".join(n for n in (family, given) if n)
        email = _text(claims, "email", 254)
        taken = email and db.session.scalar(select(User.id).where(User.email == email.lower()))
        user = User(
            role=role,
            display_name=name or sub[:200],
            email=email.lower() if email and "@" in email and not taken else None,
            pseudonym=new_pseudonym(),
            school_id=school.id,
            given_name=given,
            family_name=family,
        )
        db.session.add(user)
        db.session.flush()
        created.append("user")
    if linked is None:
        db.session.add(LtiUser(platform_id=platform.id, sub=sub, user_id=user.id))
    else:
        linked.user_id = user.id
    return user


def _enroll(classroom: Classroom, user: User, role: Role, created: list[str]) -> None:
    existing = db.session.scalar(
        select(Enrollment).where(
            Enrollment.classroom_id == classroom.id, Enrollment.user_id == user.id
        )
    )
    if existing is not None:
        return
    number = None
    if role == Role.STUDENT:
        highest = db.session.scalar(
            select(func.max(Enrollment.student_number)).where(
                Enrollment.classroom_id == classroom.id
            )
        )
        number = (highest or 0) + 1
    db.session.add(Enrollment(classroom=classroom, user=user, role=role, student_number=number))
    db.session.flush()
    created.append("enrollment")


def provision(launch: Launch) -> Provisioned:
    """Create or match everything a launch names (flushes; the request boundary commits)."""
    role = launch_role(launch.claims)
    created: list[str] = []
    school = _school(launch.platform, created)
    classroom = _classroom(launch, school, created)
    user = _user(launch, role, school, created)
    _enroll(classroom, user, role, created)
    return Provisioned(user, classroom, role, created)


def _custom_administration(claims: dict[str, Any]) -> int | None:
    custom = claims.get(c.CUSTOM)
    value = custom.get(c.CUSTOM_ADMINISTRATION) if isinstance(custom, dict) else None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


def record_resource_link(launch: Launch, provisioned: Provisioned) -> LtiResourceLink | None:
    """Store the resource link (its administration and AGS line item) and who launched it."""
    link_claim = launch.claims.get(c.RESOURCE_LINK)
    if not isinstance(link_claim, dict) or not isinstance(link_claim.get("id"), str):
        return None
    platform = launch.platform
    link = db.session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.platform_id == platform.id,
            LtiResourceLink.resource_link_id == link_claim["id"][:255],
        )
    )
    if link is None:
        link = LtiResourceLink(platform_id=platform.id, resource_link_id=link_claim["id"][:255])
        db.session.add(link)
    link.deployment_id = launch.deployment_id
    link.classroom_id = provisioned.classroom.id
    link.updated_at = utcnow()
    administration_id = _custom_administration(launch.claims)
    if administration_id is not None and db.session.get(Administration, administration_id):
        link.administration_id = administration_id
    endpoint = launch.claims.get(c.AGS_ENDPOINT)
    if isinstance(endpoint, dict) and isinstance(endpoint.get("lineitem"), str):
        scopes = endpoint.get("scope")
        if isinstance(scopes, list) and c.AGS_SCOPE_SCORE in scopes:
            link.lineitem_url = endpoint["lineitem"][:1000]
    db.session.flush()
    known = db.session.scalar(
        select(LtiLaunchUser.id).where(
            LtiLaunchUser.resource_link_id == link.id,
            LtiLaunchUser.user_id == provisioned.user.id,
        )
    )
    if known is None:
        db.session.add(
            LtiLaunchUser(
                resource_link_id=link.id,
                user_id=provisioned.user.id,
                sub=str(launch.claims["sub"])[:255],
            )
        )
    if link.administration_id is not None:
        ensure_assigned(link.administration_id, provisioned.classroom)
    return link


def assignable_administrations(school_id: int, teacher_id: int) -> list[Administration]:
    """Scheduled or open administrations given to a class of the school or of the teacher."""
    classes = select(Classroom.id).where(Classroom.school_id == school_id)
    taught = select(Enrollment.classroom_id).where(
        Enrollment.user_id == teacher_id, Enrollment.role == Role.TEACHER
    )
    assigned = select(AdministrationClassroom.administration_id).where(
        or_(
            AdministrationClassroom.classroom_id.in_(classes),
            AdministrationClassroom.classroom_id.in_(taught),
        )
    )
    return list(
        db.session.scalars(
            select(Administration)
            .where(Administration.id.in_(assigned), Administration.status.in_(ASSIGNABLE))
            .order_by(Administration.id)
        )
    )


def ensure_assigned(administration_id: int, classroom: Classroom) -> bool:
    """Give the administration to the launch's class when it is already given to a class of the
    same school (a platform can open only tests its school has). True when it is assigned."""
    pair = db.session.get(AdministrationClassroom, (administration_id, classroom.id))
    if pair is not None:
        return True
    same_school = db.session.scalar(
        select(AdministrationClassroom.classroom_id)
        .join(Classroom, Classroom.id == AdministrationClassroom.classroom_id)
        .where(
            AdministrationClassroom.administration_id == administration_id,
            Classroom.school_id == classroom.school_id,
        )
        .limit(1)
    )
    if same_school is None:
        return False
    db.session.add(
        AdministrationClassroom(administration_id=administration_id, classroom_id=classroom.id)
    )
    db.session.flush()
    return True


def forget_user(user_id: int) -> int:
    """Remove what links a person to a platform (their ``sub`` is personal data): for identity
    deletion. Scores already queued for them are dropped too. Returns the rows removed."""
    removed = 0
    for model in (LtiScorePost, LtiLaunchUser, LtiUser):
        removed += db.session.execute(delete(model).where(model.user_id == user_id)).rowcount
    return removed
