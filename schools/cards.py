"""Login cards: fresh login codes for a class's students, printed with a QR code that signs in.

The database keeps only the HMAC of a student's login code (``cbt.security.login_code_hmac``),
so a card can be printed only at the moment its code is issued. Issuing replaces the HMAC, which
voids the old code at once; every card of one issue is replaced in the same transaction. Services
flush; the request boundary (or the CLI) commits.

The QR code holds the student login page's URL with the details in the fragment
(``/login#c=CLASS&n=12&k=CODE``): browsers never send a fragment to the server, so the code does
not reach access logs. The login page's ES module reads it, clears it from the address bar and
signs the student in.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select

from cbt.audit import Actor, record_audit
from cbt.auth import CurrentUser, teacher_classroom_ids
from cbt.db import db
from cbt.errors import Conflict, Forbidden, NotFound, ValidationError
from cbt.models import Classroom, Enrollment, Role, School, User
from cbt.security import generate_login_code, login_code_hmac

__all__ = [
    "LoginCard",
    "ensure_may_issue_cards",
    "get_classroom",
    "issue_login_cards",
    "qr_data_uri",
    "render_login_cards_pdf",
    "sign_in_url",
]

#: The Japanese font every PDF viewer has: one of reportlab's built-in CID fonts, no file needed.
CARD_FONT = "HeiseiKakuGo-W5"
CODE_FONT = "Courier-Bold"
MAX_CARDS = 2000  # one request prints at most this many (a very large class list is an error)


@dataclass(frozen=True)
class LoginCard:
    """What one printed card says. ``login_code`` exists only here, never in the database."""

    student_id: int
    school: str
    classroom: str
    class_code: str
    student_number: int
    display_name: str
    login_code: str


def get_classroom(classroom_id: int) -> Classroom:
    classroom = db.session.get(Classroom, classroom_id)
    if classroom is None:
        raise NotFound("No such class.", details={"classroom_id": classroom_id})
    return classroom


def ensure_may_issue_cards(user: CurrentUser, classroom: Classroom) -> None:
    """Operators, the class's teachers and the administrators of its school, nobody else."""
    if user.role == Role.OPERATOR:
        return
    if user.role == Role.TEACHER and classroom.id in teacher_classroom_ids(user.id):
        return
    if user.role == Role.SCHOOL_ADMIN:
        school_id = db.session.scalar(
            select(User.school_id).where(User.id == user.id, User.is_active.is_(True))
        )
        if school_id is not None and school_id == classroom.school_id:
            return
    raise Forbidden(
        "You may not print login cards for this class.", details={"classroom_id": classroom.id}
    )


def issue_login_cards(
    classroom: Classroom,
    secret_key: str,
    actor: Actor,
    student_ids: Sequence[int] | None = None,
) -> list[LoginCard]:
    """New login codes for the class's active students (or the chosen ones), old codes void.

    Returns the cards in student-number order and records one audit event (without the codes).
    """
    if classroom.archived_at is not None:
        raise Conflict("This class is archived.", details={"classroom_id": classroom.id})
    if student_ids is not None and not student_ids:
        raise ValidationError("Choose at least one student.", details={"field": "student_ids"})
    rows = db.session.execute(
        select(Enrollment, User)
        .join(User, User.id == Enrollment.user_id)
        .where(
            Enrollment.classroom_id == classroom.id,
            Enrollment.role == Role.STUDENT,
            Enrollment.archived_at.is_(None),
            Enrollment.student_number.is_not(None),
            User.is_active.is_(True),
            User.identity_deleted_at.is_(None),
        )
        .order_by(Enrollment.student_number)
    ).all()
    if student_ids is not None:
        wanted = set(student_ids)
        missing = sorted(wanted - {user.id for _, user in rows})
        if missing:
            raise Conflict(
                "Some of the chosen students are not active students of this class.",
                details={"field": "student_ids", "student_ids": missing},
            )
        rows = [(enrollment, user) for enrollment, user in rows if user.id in wanted]
    if not rows:
        raise Conflict(
            "This class has no active students to print cards for.",
            details={"classroom_id": classroom.id},
        )
    if len(rows) > MAX_CARDS:
        raise ValidationError("Too many cards for one printing.", details={"maximum": MAX_CARDS})
    school_name = db.session.scalar(select(School.name).where(School.id == classroom.school_id))
    cards = []
    for enrollment, user in rows:
        code = generate_login_code()
        enrollment.login_code_hmac = login_code_hmac(secret_key, code)
        cards.append(
            LoginCard(
                student_id=user.id,
                school=school_name or "",
                classroom=classroom.name,
                class_code=classroom.class_code,
                student_number=int(enrollment.student_number or 0),
                display_name=user.display_name,
                login_code=code,
            )
        )
    db.session.flush()
    record_audit(
        actor,
        "login_cards_issued",
        "classroom",
        classroom.id,
        {"n_cards": len(cards), "student_ids": [card.student_id for card in cards]},
    )
    return cards


def sign_in_url(login_page_url: str, card: LoginCard) -> str:
    """The URL a card's QR code holds: the login page, the details in the fragment."""
    fragment = urlencode({"c": card.class_code, "n": card.student_number, "k": card.login_code})
    return f"{login_page_url}#{fragment}"


def qr_data_uri(data: str) -> str:
    """The QR code of ``data`` as an SVG ``data:`` URI, for the HTML print view."""
    import segno

    return segno.make(data, error="m", micro=False).svg_data_uri(border=2, omitsize=True)


# A4 portrait, two columns of five cards: 90 x 54 mm each, the size of a business card.
_MM = 72 / 25.4
_PAGE_W, _PAGE_H = 210 * _MM, 297 * _MM
_COLUMNS, _ROWS = 2, 5
_CARD_W, _CARD_H = 90 * _MM, 54 * _MM
_GAP = 6 * _MM
_QR_SIZE = 28 * _MM


def _labels(gettext: Callable[[str], str]) -> dict[str, str]:
    return {
        "title": gettext("Login card"),
        "class_code": gettext("Class code"),
        "student_number": gettext("Student number"),
        "login_code": gettext("Login code"),
        "scan": gettext("Scan the QR code to log in, or type these details at:"),
        "keep": gettext("Keep this card to yourself."),
        "document": gettext("Login cards: %(classroom)s"),
    }


def render_login_cards_pdf(
    cards: Iterable[LoginCard],
    login_page_url: str,
    gettext: Callable[[str], str],
) -> bytes:
    """A4 pages of cut-out cards: school, class, name, the three login details, URL and QR.

    ``gettext`` translates the labels (the page's language for a download, the chosen one for
    the CLI). Names are drawn in a built-in Japanese CID font, codes in Courier.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CARD_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CARD_FONT))
    cards = list(cards)
    labels = _labels(gettext)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(_PAGE_W, _PAGE_H), invariant=True)
    title = labels["document"] % {"classroom": cards[0].classroom if cards else ""}
    pdf.setTitle(title)
    pdf.setSubject(labels["title"])
    left = (_PAGE_W - _COLUMNS * _CARD_W - (_COLUMNS - 1) * _GAP) / 2
    top = (_PAGE_H + _ROWS * _CARD_H + (_ROWS - 1) * _GAP) / 2
    per_page = _COLUMNS * _ROWS
    for index, card in enumerate(cards):
        if index and index % per_page == 0:
            pdf.showPage()
        slot = index % per_page
        x = left + (slot % _COLUMNS) * (_CARD_W + _GAP)
        y = top - (slot // _COLUMNS + 1) * _CARD_H - (slot // _COLUMNS) * _GAP
        _draw_card(pdf, card, x, y, login_page_url, labels)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _fitted(text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits in ``width``."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > 5 and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _draw_card(pdf, card: LoginCard, x: float, y: float, login_url: str, labels: dict) -> None:
    pad = 4 * _MM
    pdf.saveState()
    pdf.setDash(3, 3)
    pdf.setLineWidth(0.5)
    pdf.setStrokeGray(0.6)
    pdf.rect(x, y, _CARD_W, _CARD_H)  # the cutting line
    pdf.restoreState()

    text_w = _CARD_W - _QR_SIZE - 3 * pad
    cursor = y + _CARD_H - pad - 8
    header = f"{card.school}  {card.classroom}"
    pdf.setFont(CARD_FONT, _fitted(header, CARD_FONT, 8, _CARD_W - 2 * pad))
    pdf.drawString(x + pad, cursor, header)
    cursor -= 18
    name_size = _fitted(card.display_name, CARD_FONT, 14, text_w)
    pdf.setFont(CARD_FONT, name_size)
    pdf.drawString(x + pad, cursor, card.display_name)

    cursor -= 18
    for label, value, size in (
        (labels["class_code"], card.class_code, 11),
        (labels["student_number"], str(card.student_number), 11),
        (labels["login_code"], card.login_code, 12),
    ):
        pdf.setFont(CARD_FONT, 7)
        pdf.drawString(x + pad, cursor, label)
        cursor -= size + 1
        pdf.setFont(CODE_FONT, _fitted(value, CODE_FONT, size, text_w))
        pdf.drawString(x + pad, cursor, value)
        cursor -= 10

    url = sign_in_url(login_url, card)
    qr_x = x + _CARD_W - pad - _QR_SIZE
    qr_y = y + pad + 18  # above the two lines of the login address
    _draw_qr(pdf, url, qr_x, qr_y, _QR_SIZE)
    pdf.linkURL(url, (qr_x, qr_y, qr_x + _QR_SIZE, qr_y + _QR_SIZE), relative=0)

    pdf.setFont(CARD_FONT, _fitted(labels["scan"], CARD_FONT, 6, _CARD_W - 2 * pad))
    pdf.drawString(x + pad, y + pad + 9, labels["scan"])
    pdf.setFont("Helvetica", _fitted(login_url, "Helvetica", 7, _CARD_W - 2 * pad))
    pdf.drawString(x + pad, y + pad + 1, login_url)
    pdf.setFont(CARD_FONT, 6)
    pdf.drawRightString(x + _CARD_W - pad, y + _CARD_H - pad - 18, labels["keep"])


def _draw_qr(pdf, data: str, x: float, y: float, size: float) -> None:
    """The QR code of ``data`` as filled squares (runs of dark modules merged into one bar)."""
    import segno

    qr = segno.make(data, error="m", micro=False)
    matrix = qr.matrix
    modules = len(matrix)
    unit = size / modules
    pdf.saveState()
    pdf.setFillGray(0)
    for row, line in enumerate(matrix):
        top = y + size - (row + 1) * unit
        column = 0
        while column < modules:
            if line[column]:
                start = column
                while column < modules and line[column]:
                    column += 1
                pdf.rect(x + start * unit, top, (column - start) * unit, unit, stroke=0, fill=1)
            else:
                column += 1
    pdf.restoreState()
