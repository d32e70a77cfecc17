"""One QTI 3.0 assessment item <-> one item version's type, content and scoring.

Writing uses the standard response-processing templates where the rule fits one
(``match_correct`` for all-or-nothing keys, ``map_response`` for mapped partial credit) and
plain QTI response processing otherwise (numeric tolerance, regex patterns, gaps).
Reading accepts what we write and the common shapes other tools write, inferring the item type
from the interaction; rules QTI cannot state (text normalisation, units) travel in the
package's ``cbt`` metadata and override the inferred rule when present.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape as escape_html
from typing import Any

import lxml.html
from lxml import etree

from cbt.errors import ValidationError
from item_bank.processing.rules import template_rules
from item_bank.rendering import sanitise_html
from item_bank.types import GAP

__all__ = [
    "QTI_NS",
    "ParsedItem",
    "ResponseProcessing",
    "item_xml",
    "read_item",
    "read_stimulus",
    "stimulus_xml",
]

QTI_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = (
    f"{QTI_NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
)
RP_TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"
MATCH_CORRECT = RP_TEMPLATES + "match_correct"
MAP_RESPONSE = RP_TEMPLATES + "map_response"
RESPONSE = "RESPONSE"
ACCESS_CATALOG = "cbt-access"

SrcRewriter = Callable[[str], str]


def q(tag: str) -> str:
    return f"{{{QTI_NS}}}{tag}"


def local_name(tag: Any) -> str:
    """An element's tag without its namespace ('' for comments and processing instructions)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _e(tag: str, attrib: dict[str, str] | None = None, text: str | None = None) -> etree._Element:
    element = etree.Element(q(tag), {k: v for k, v in (attrib or {}).items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _sub(parent: etree._Element, tag: str, attrib: dict[str, str] | None = None, text=None):
    child = _e(tag, attrib, text)
    parent.append(child)
    return child


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


# --------------------------------------------------------------------------- HTML <-> QTI XML


def _append_text(parent: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def html_into(parent: etree._Element, html: str, rewrite_src: SrcRewriter | None = None) -> None:
    """Append sanitised HTML to a QTI element as XHTML in the QTI namespace."""
    if not html or not html.strip():
        _append_text(parent, html or "")
        return
    wrapper = lxml.html.fragment_fromstring(html, create_parent="div")
    _append_text(parent, wrapper.text)
    for child in wrapper:
        if not isinstance(child.tag, str):
            _append_text(parent, child.tail)
            continue
        parent.append(_to_qti(child, rewrite_src))


def _copy_tree(
    element: Any,
    tag: Callable[[str], str],
    attribute: Callable[[str, str], tuple[str, str] | None],
) -> etree._Element:
    """A deep copy with every tag renamed by ``tag`` and every attribute mapped by
    ``attribute`` (None drops it); text and tails kept, comments and processing instructions
    dropped with their tails kept."""
    copy = etree.Element(tag(element.tag))
    for name, value in element.attrib.items():
        kept = attribute(name, value)
        if kept is not None:
            copy.set(*kept)
    copy.text = element.text
    for child in element:
        if isinstance(child.tag, str):
            copy.append(_copy_tree(child, tag, attribute))
        else:
            _append_text(copy, child.tail)
    copy.tail = element.tail
    return copy


def _to_qti(element: Any, rewrite_src: SrcRewriter | None) -> etree._Element:
    def attribute(name: str, value: str) -> tuple[str, str]:
        if name == "lang":
            return f"{{{XML_NS}}}lang", value
        if name == "src" and rewrite_src is not None:
            return name, rewrite_src(value)
        return name, value

    return _copy_tree(element, q, attribute)


def _to_html_tree(element: etree._Element, rewrite_src: SrcRewriter | None) -> etree._Element:
    def attribute(name: str, value: str) -> tuple[str, str] | None:
        if name == f"{{{XML_NS}}}lang":
            return "lang", value
        if "{" in name or name.startswith("data-catalog"):
            return None
        if name == "src" and rewrite_src is not None:
            return name, rewrite_src(value)
        return name, value

    return _copy_tree(element, local_name, attribute)


def html_of(
    text: str | None, children: list[etree._Element], rewrite_src: SrcRewriter | None = None
) -> str:
    """Sanitised HTML for leading text plus QTI XHTML elements (each with its tail)."""
    parts = [escape_html(text, quote=False)] if text else []
    for child in children:
        tree = _to_html_tree(child, rewrite_src)
        parts.append(etree.tostring(tree, method="html", encoding="unicode", with_tail=True))
    return sanitise_html("".join(parts)).strip()


def _inner_html(element: etree._Element, rewrite_src: SrcRewriter | None = None) -> str:
    return html_of(element.text, list(element), rewrite_src)


# --------------------------------------------------------------------------- declarations


def _scored_set(
    cardinality: str,
    base_type: str,
    correct: list[str],
    scoring: dict[str, Any],
    default_mapping: Callable[[], dict[str, float]],
) -> tuple[etree._Element, etree._Element]:
    """The declaration and processing of a set response: all-or-nothing (match_correct), or with
    method "partial" a mapping on the 0-1 scale (map_response; the item's own mapping, else
    ``default_mapping()``)."""
    partial = scoring.get("method") == "partial"
    mapping = (scoring.get("mapping") or default_mapping()) if partial else None
    declaration = _response_declaration(
        RESPONSE,
        cardinality,
        base_type,
        correct,
        mapping,
        lower=0.0 if partial else None,
        upper=1.0 if partial else None,
    )
    return declaration, _template(MAP_RESPONSE if partial else MATCH_CORRECT)


def _shares(ids: list[str], correct: list[str]) -> dict[str, float]:
    """Each key earns 1/k of the score, each other choice costs as much."""
    share = 1.0 / len(correct)
    return {i: share if i in correct else -share for i in ids}


def _even_shares(pairs: list[str]) -> dict[str, float]:
    return {pair: 1.0 / len(pairs) for pair in pairs}


def _response_declaration(
    identifier: str,
    cardinality: str,
    base_type: str,
    correct: list[str] | None = None,
    mapping: dict[str, float] | None = None,
    *,
    lower: float | None = None,
    upper: float | None = None,
    case_sensitive: bool = True,
) -> etree._Element:
    declaration = _e(
        "qti-response-declaration",
        {"identifier": identifier, "cardinality": cardinality, "base-type": base_type},
    )
    if correct:
        block = _sub(declaration, "qti-correct-response")
        for value in correct:
            _sub(block, "qti-value", text=value)
    if mapping:
        attrib = {"default-value": "0"}
        if lower is not None:
            attrib["lower-bound"] = _num(lower)
        if upper is not None:
            attrib["upper-bound"] = _num(upper)
        block = _sub(declaration, "qti-mapping", attrib)
        for key, value in mapping.items():
            entry = {"map-key": key, "mapped-value": _num(value)}
            if base_type == "string":
                entry["case-sensitive"] = "true" if case_sensitive else "false"
            _sub(block, "qti-map-entry", entry)
    return declaration


def _score_outcome(maximum: float, *, human: bool = False) -> etree._Element:
    attrib = {
        "identifier": "SCORE",
        "cardinality": "single",
        "base-type": "float",
        "normal-maximum": _num(maximum),
    }
    if human:
        attrib["external-scored"] = "human"
    outcome = _e("qti-outcome-declaration", attrib)
    _sub(_sub(outcome, "qti-default-value"), "qti-value", text="0")
    return outcome


CATEGORY = "IRT_CATEGORY"


def _category_outcome(rule: dict[str, Any]) -> etree._Element:
    """The item's SCORE-to-IRT-category rule as an outcome with an interpolation table (QTI's
    own way to map ranges of a number to values): entries from the highest bound down, the
    first ``source-value <= SCORE`` wins, category 0 below them all."""
    outcome = _e(
        "qti-outcome-declaration",
        {"identifier": CATEGORY, "cardinality": "single", "base-type": "integer"},
    )
    _sub(_sub(outcome, "qti-default-value"), "qti-value", text="0")
    table = _sub(outcome, "qti-interpolation-table", {"default-value": "0"})
    if "threshold" in rule:
        bounds = [(rule["threshold"], 1)]
    else:
        bounds = [(row["min_score"], row["category"]) for row in rule["table"][1:]]
    for bound, category in reversed(bounds):
        _sub(
            table,
            "qti-interpolation-table-entry",
            {"source-value": _num(bound), "target-value": str(category)},
        )
    return outcome


def _category_lookup() -> etree._Element:
    lookup = _e("qti-lookup-outcome-value", {"identifier": CATEGORY})
    _sub(lookup, "qti-variable", {"identifier": "SCORE"})
    return lookup


def _read_category(root: etree._Element, name: str) -> dict[str, Any] | None:
    """The IRT_CATEGORY outcome's table as our rule (None when the item declares none)."""
    for outcome in root.findall(q("qti-outcome-declaration")):
        if outcome.get("identifier") != CATEGORY:
            continue
        table = outcome.find(q("qti-interpolation-table"))
        if table is None:
            raise _fail(name, f"the {CATEGORY} outcome needs a qti-interpolation-table.")
        try:
            rows = sorted(
                (float(entry.get("source-value") or ""), int(entry.get("target-value") or ""))
                for entry in table.findall(q("qti-interpolation-table-entry"))
            )
        except ValueError:
            raise _fail(name, f"the {CATEGORY} table needs numeric entries.") from None
        if len(rows) == 1 and rows[0][1] == 1:
            return {"threshold": rows[0][0]}
        return {
            "table": [{"min_score": 0, "category": 0}]
            + [{"min_score": bound, "category": category} for bound, category in rows]
        }
    return None


def _template(url: str) -> etree._Element:
    return _e("qti-response-processing", {"template": url})


def _set_score(value: etree._Element) -> etree._Element:
    setter = _e("qti-set-outcome-value", {"identifier": "SCORE"})
    setter.append(value)
    return setter


def _base(value: float) -> etree._Element:
    return _e("qti-base-value", {"base-type": "float"}, _num(value))


def _if_else(condition: etree._Element, then: float, otherwise: float) -> etree._Element:
    block = _e("qti-response-condition")
    branch = _sub(block, "qti-response-if")
    branch.append(condition)
    branch.append(_set_score(_base(then)))
    _sub(block, "qti-response-else").append(_set_score(_base(otherwise)))
    return block


def _match_correct(identifier: str) -> etree._Element:
    match = _e("qti-match")
    _sub(match, "qti-variable", {"identifier": identifier})
    _sub(match, "qti-correct", {"identifier": identifier})
    return match


# --------------------------------------------------------------------------- writing


def _choices(parent: etree._Element, tag: str, options, rewrite, **extra: str) -> None:
    for option in options:
        choice = _sub(parent, tag, {"identifier": option["id"], **extra})
        html_into(choice, option["text"], rewrite)


def item_xml(
    *,
    identifier: str,
    title: str,
    language: str,
    item_type: str,
    content: dict[str, Any],
    scoring: dict[str, Any],
    max_score: float,
    accessibility: dict[str, Any] | None = None,
    stimulus: tuple[str, str, str] | None = None,
    rewrite_src: SrcRewriter | None = None,
) -> bytes:
    """A QTI 3.0 ``qti-assessment-item`` document for one item version.

    ``stimulus`` is ``(identifier, href, title)`` of a shared stimulus file.
    """
    root = etree.Element(
        q("qti-assessment-item"),
        nsmap={None: QTI_NS, "xsi": XSI_NS},
        attrib={
            f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION,
            "identifier": identifier,
            "title": title or identifier,
            "adaptive": "false",
            "time-dependent": "false",
            f"{{{XML_NS}}}lang": language,
        },
    )
    body = _e("qti-item-body")
    html_into(body, content.get("stem") or "", rewrite_src)
    declarations: list[etree._Element] = []
    processing: etree._Element | None = None
    human = False

    if item_type in ("single_choice", "partial_credit", "multiple_response"):
        multiple = item_type == "multiple_response"
        interaction = _sub(
            body,
            "qti-choice-interaction",
            {
                "response-identifier": RESPONSE,
                "shuffle": "false",
                "max-choices": str(content.get("max_choices", 0)) if multiple else "1",
            },
        )
        _choices(interaction, "qti-simple-choice", content["options"], rewrite_src)
        if item_type == "single_choice":
            declarations.append(
                _response_declaration(RESPONSE, "single", "identifier", [scoring["correct"]])
            )
            processing = _template(MATCH_CORRECT)
        elif item_type == "partial_credit":
            scores = scoring["scores"]
            top = max(scores.values())
            declarations.append(
                _response_declaration(
                    RESPONSE,
                    "single",
                    "identifier",
                    [option for option, points in scores.items() if points == top][:1],
                    {option: float(points) for option, points in scores.items()},
                )
            )
            processing = _template(MAP_RESPONSE)
        else:
            ids = [option["id"] for option in content["options"]]
            declaration, processing = _scored_set(
                "multiple", "identifier", list(scoring["correct"]), scoring,
                lambda: _shares(ids, scoring["correct"]),
            )  # fmt: skip
            declarations.append(declaration)

    elif item_type == "hottext":
        # The text goes inside the interaction, each {{id}} marker becoming a qti-hottext.
        most = content.get("max_choices", 1)
        interaction = _sub(
            body,
            "qti-hottext-interaction",
            {
                "response-identifier": RESPONSE,
                "max-choices": str(most),
                "min-choices": str(content.get("min_choices", 0)),
            },
        )
        html_into(interaction, content["text"], rewrite_src)
        spans = {span["id"]: span for span in content["hottexts"]}

        def hottext(span_id: str) -> etree._Element:
            node = _e("qti-hottext", {"identifier": span_id})
            html_into(node, spans[span_id]["text"], rewrite_src)
            return node

        _insert_markers(interaction, hottext, "qti-hottext")
        declaration, processing = _scored_set(
            "single" if most == 1 else "multiple", "identifier", list(scoring["correct"]),
            scoring, lambda: _shares(list(spans), scoring["correct"]),
        )  # fmt: skip
        declarations.append(declaration)

    elif item_type == "gap_match":
        # The words first, then the text whose {{gap}} markers become qti-gap elements.
        interaction = _sub(
            body, "qti-gap-match-interaction", {"response-identifier": RESPONSE, "shuffle": "false"}
        )
        for word in content["gap_texts"]:
            node = _sub(
                interaction,
                "qti-gap-text",
                {"identifier": word["id"], "match-max": str(word.get("match_max", 1))},
            )
            html_into(node, word["text"], rewrite_src)
        html_into(interaction, content["text"], rewrite_src)
        _insert_markers(
            interaction, lambda gap_id: _e("qti-gap", {"identifier": gap_id}), "qti-gap"
        )
        pairs = [f"{word} {gap}" for gap, word in scoring["correct"].items()]
        declaration, processing = _scored_set(
            "multiple", "directedPair", pairs, scoring, lambda: _even_shares(pairs)
        )
        declarations.append(declaration)

    elif item_type == "text_entry":
        _sub(
            body,
            "qti-text-entry-interaction",
            {
                "response-identifier": RESPONSE,
                "expected-length": str(content.get("expected_length", 20)),
            },
        )
        answers = scoring["answers"]
        if scoring.get("match") == "regex":
            declarations.append(_response_declaration(RESPONSE, "single", "string"))
            processing = _e("qti-response-processing")
            for answer in answers:
                condition = _e("qti-response-condition")
                branch = _sub(condition, "qti-response-if")
                pattern = _sub(branch, "qti-pattern-match", {"pattern": answer["value"]})
                _sub(pattern, "qti-variable", {"identifier": RESPONSE})
                branch.append(_set_score(_base(answer["score"])))
                processing.append(condition)
        else:
            best = max(answers, key=lambda answer: answer["score"])
            case_sensitive = not scoring.get("normalise", {}).get("case_insensitive", False)
            declarations.append(
                _response_declaration(
                    RESPONSE,
                    "single",
                    "string",
                    [best["value"]],
                    {answer["value"]: answer["score"] for answer in answers},
                    lower=0.0,
                    upper=1.0,
                    case_sensitive=case_sensitive,
                )
            )
            processing = _template(MAP_RESPONSE)

    elif item_type == "numeric":
        _sub(
            body,
            "qti-text-entry-interaction",
            {"response-identifier": RESPONSE, "expected-length": "12"},
        )
        declarations.append(
            _response_declaration(RESPONSE, "single", "float", [_num(scoring["value"])])
        )
        tolerance = scoring.get("tolerance", 0.0)
        relative = scoring.get("tolerance_mode") == "relative"
        attrib = {"tolerance-mode": "exact"}
        if tolerance:
            amount = _num(tolerance * 100 if relative else tolerance)
            attrib = {
                "tolerance-mode": "relative" if relative else "absolute",
                "tolerance": f"{amount} {amount}",
            }
        equal = _e("qti-equal", attrib)
        _sub(equal, "qti-variable", {"identifier": RESPONSE})
        _sub(equal, "qti-correct", {"identifier": RESPONSE})
        processing = _e("qti-response-processing")
        processing.append(_if_else(equal, 1.0, 0.0))

    elif item_type == "ordering":
        interaction = _sub(
            body, "qti-order-interaction", {"response-identifier": RESPONSE, "shuffle": "true"}
        )
        _choices(interaction, "qti-simple-choice", content["options"], rewrite_src)
        declarations.append(
            _response_declaration(RESPONSE, "ordered", "identifier", list(scoring["correct"]))
        )
        processing = _template(MATCH_CORRECT)

    elif item_type == "matching":
        interaction = _sub(
            body,
            "qti-match-interaction",
            {
                "response-identifier": RESPONSE,
                "shuffle": "false",
                "max-associations": str(len(content["sources"])),
            },
        )
        _choices(
            _sub(interaction, "qti-simple-match-set"),
            "qti-simple-associable-choice",
            content["sources"],
            rewrite_src,
            **{"match-max": "1"},
        )
        _choices(
            _sub(interaction, "qti-simple-match-set"),
            "qti-simple-associable-choice",
            content["targets"],
            rewrite_src,
            **{"match-max": "0"},
        )
        pairs = [f"{s} {t}" for s, t in scoring["correct"]]
        declaration, processing = _scored_set(
            "multiple", "directedPair", pairs, scoring, lambda: _even_shares(pairs)
        )
        declarations.append(declaration)

    elif item_type == "inline_choice":
        # Body: the stem, then the text whose {{gap}} markers become inline interactions.
        stem_div = _e("div", {"class": "stem"})
        for child in list(body):
            stem_div.append(child)
        stem_div.text, body.text = body.text, None
        text_div = _e("div", {"class": "text"})
        html_into(text_div, content["text"], rewrite_src)
        gaps = {gap["id"]: gap for gap in content["gaps"]}
        _insert_gaps(text_div, gaps, rewrite_src)
        body.append(stem_div)
        body.append(text_div)
        processing = _e("qti-response-processing")
        partial = scoring.get("method") == "partial"
        if partial:
            reset = _set_score(_base(0.0))
            processing.append(reset)
        conditions = []
        for gap_id, choice in scoring["correct"].items():
            declarations.append(_response_declaration(gap_id, "single", "identifier", [choice]))
            conditions.append(_match_correct(gap_id))
        if partial:
            share = 1.0 / len(conditions)
            for condition in conditions:
                block = _e("qti-response-condition")
                branch = _sub(block, "qti-response-if")
                branch.append(condition)
                total = _e("qti-sum")
                _sub(total, "qti-variable", {"identifier": "SCORE"})
                total.append(_base(share))
                branch.append(_set_score(total))
                processing.append(block)
        else:
            both = _e("qti-and")
            for condition in conditions:
                both.append(condition)
            processing.append(_if_else(both, 1.0, 0.0))

    elif item_type == "extended_text":
        _sub(
            body,
            "qti-extended-text-interaction",
            {
                "response-identifier": RESPONSE,
                "expected-lines": str(content.get("expected_lines", 6)),
            },
        )
        rubric = _sub(body, "qti-rubric-block", {"use": "scoring", "view": "scorer"})
        listing = _sub(_sub(rubric, "qti-content-body"), "ol")
        for level in sorted(scoring["rubric"], key=lambda level: level["points"]):
            _sub(listing, "li", {"value": str(level["points"])}, level["description"])
        declarations.append(_response_declaration(RESPONSE, "single", "string"))
        human = True
    else:
        raise ValidationError(
            "QTI export does not know item type %(item_type)r.", params={"item_type": item_type}
        )

    for declaration in declarations:
        root.append(declaration)
    root.append(_score_outcome(max_score, human=human))
    rule = scoring.get("irt_category")
    if rule:
        root.append(_category_outcome(rule))
        if processing is not None:  # the lookup runs after SCORE is set: spell templates out
            template = processing.get("template")
            if template:
                processing = _e("qti-response-processing")
                for element in template_rules(template):
                    processing.append(element)
            processing.append(_category_lookup())
    if stimulus is not None:
        ref_id, href, ref_title = stimulus
        _sub(
            root,
            "qti-assessment-stimulus-ref",
            {"identifier": ref_id, "href": href, "title": ref_title or ref_id},
        )
    root.append(body)
    catalog = _catalog(accessibility or {}, rewrite_src)
    if catalog is not None:
        body.set("data-catalog-idref", ACCESS_CATALOG)
        root.append(catalog)
    if processing is not None:
        root.append(processing)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _insert_gaps(element: etree._Element, gaps: dict[str, dict], rewrite) -> None:
    """Replace each ``{{id}}`` in text and tails with a qti-inline-choice-interaction."""

    def interaction(gap_id: str) -> etree._Element:
        node = _e("qti-inline-choice-interaction", {"response-identifier": gap_id})
        node.set("shuffle", "false")
        _choices(node, "qti-inline-choice", gaps[gap_id]["options"], rewrite)
        return node

    _insert_markers(element, interaction, "qti-inline-choice-interaction")


def _insert_markers(
    element: etree._Element, make: Callable[[str], etree._Element], made: str
) -> None:
    """Replace each ``{{id}}`` in text and tails with ``make(id)`` (elements named ``made``)."""

    def split(text: str | None) -> tuple[str | None, list[tuple[etree._Element, str]]]:
        if not text or not GAP.search(text):
            return text, []
        pieces = GAP.split(text)  # text, id, text, id, ..., text
        return pieces[0], [(make(pieces[i]), pieces[i + 1]) for i in range(1, len(pieces), 2)]

    for child in list(element):
        _insert_markers(child, make, made)
    head, inserted = split(element.text)
    element.text = head
    for offset, (node, tail) in enumerate(inserted):
        node.tail = tail
        element.insert(offset, node)
    for child in list(element):
        if local_name(child.tag) == made:
            continue
        tail, inserted = split(child.tail)
        child.tail = tail
        position = element.index(child)
        for offset, (node, node_tail) in enumerate(inserted, start=1):
            node.tail = node_tail
            element.insert(position + offset, node)


def _catalog(accessibility: dict[str, Any], rewrite) -> etree._Element | None:
    cards = []
    if accessibility.get("read_aloud"):
        card = _e("qti-card", {"support": "spoken"})
        _sub(card, "qti-html-content", text=accessibility["read_aloud"])
        cards.append(card)
    if accessibility.get("furigana"):
        card = _e("qti-card", {"support": "ext:furigana"})
        html_into(_sub(card, "qti-html-content"), accessibility["furigana"], rewrite)
        cards.append(card)
    if accessibility.get("large_print"):
        card = _e("qti-card", {"support": "ext:large-print"})
        _sub(card, "qti-html-content", text="large print")
        cards.append(card)
    if not cards:
        return None
    info = _e("qti-catalog-info")
    catalog = _sub(info, "qti-catalog", {"id": ACCESS_CATALOG})
    for card in cards:
        catalog.append(card)
    return info


def stimulus_xml(*, identifier: str, title: str, language: str, html: str, rewrite_src) -> bytes:
    root = etree.Element(
        q("qti-assessment-stimulus"),
        nsmap={None: QTI_NS},
        attrib={
            "identifier": identifier,
            "title": title or identifier,
            f"{{{XML_NS}}}lang": language,
        },
    )
    html_into(_sub(root, "qti-stimulus-body"), html, rewrite_src)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------- reading


@dataclass
class ResponseProcessing:
    template: str | None
    patterns: list[tuple[str, float]] = field(default_factory=list)
    tolerance: tuple[str, float] | None = None
    has_sum: bool = False
    has_and: bool = False


@dataclass
class ParsedItem:
    identifier: str
    title: str
    language: str
    item_type: str
    content: dict[str, Any]
    scoring: dict[str, Any]
    accessibility: dict[str, Any]
    stimulus_href: str | None = None
    warnings: list[str] = field(default_factory=list)


INTERACTIONS = {
    "qti-choice-interaction",
    "qti-text-entry-interaction",
    "qti-order-interaction",
    "qti-match-interaction",
    "qti-inline-choice-interaction",
    "qti-extended-text-interaction",
    "qti-hottext-interaction",
    "qti-gap-match-interaction",
}


def _fail(name: str, message: str) -> ValidationError:
    return ValidationError(
        "%(name)s: %(message)s", params={"name": name, "message": message}, details={"file": name}
    )


def _values(element: etree._Element | None) -> list[str]:
    if element is None:
        return []
    return [(value.text or "").strip() for value in element.findall(q("qti-value"))]


@dataclass
class _Declaration:
    identifier: str
    cardinality: str
    base_type: str
    correct: list[str]
    mapping: dict[str, float]
    case_sensitive: bool
    lower: float | None
    upper: float | None


def _declarations(root: etree._Element, name: str) -> dict[str, _Declaration]:
    found = {}
    for element in root.findall(q("qti-response-declaration")):
        mapping_element = element.find(q("qti-mapping"))
        mapping: dict[str, float] = {}
        case_sensitive = True
        lower = upper = None
        if mapping_element is not None:
            try:
                for entry in mapping_element.findall(q("qti-map-entry")):
                    mapping[entry.get("map-key", "")] = float(entry.get("mapped-value", "0"))
                    if entry.get("case-sensitive") == "false":
                        case_sensitive = False
                if mapping_element.get("lower-bound") is not None:
                    lower = float(mapping_element.get("lower-bound"))
                if mapping_element.get("upper-bound") is not None:
                    upper = float(mapping_element.get("upper-bound"))
            except ValueError:
                raise _fail(name, "a qti-mapping value is not a number.") from None
        identifier = element.get("identifier", "")
        found[identifier] = _Declaration(
            identifier=identifier,
            cardinality=element.get("cardinality", "single"),
            base_type=element.get("base-type", "identifier"),
            correct=_values(element.find(q("qti-correct-response"))),
            mapping=mapping,
            case_sensitive=case_sensitive,
            lower=lower,
            upper=upper,
        )
    return found


def _processing(root: etree._Element, name: str) -> ResponseProcessing:
    element = root.find(q("qti-response-processing"))
    if element is None:
        return ResponseProcessing(template=None)
    template = element.get("template") or element.get("template-location")
    if template:
        template = template.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
    result = ResponseProcessing(template=template)
    for condition in element.iter(q("qti-response-if"), q("qti-response-else-if")):
        pattern = condition.find(q("qti-pattern-match"))
        if pattern is not None:
            score = condition.find(f"{q('qti-set-outcome-value')}/{q('qti-base-value')}")
            try:
                points = float(score.text) if score is not None else 1.0
            except ValueError:
                points = 1.0
            result.patterns.append((pattern.get("pattern", ""), points))
    equal = element.find(f".//{q('qti-equal')}")
    if equal is not None:
        mode = equal.get("tolerance-mode", "exact")
        try:
            amount = float((equal.get("tolerance") or "0").split()[0])
        except ValueError:
            raise _fail(name, "qti-equal has a tolerance that is not a number.") from None
        result.tolerance = (mode, amount)
    result.has_sum = element.find(f".//{q('qti-sum')}") is not None
    result.has_and = element.find(f".//{q('qti-and')}") is not None
    return result


def _options(parent: etree._Element, tag: str, rewrite) -> list[dict[str, str]]:
    return [
        {"id": choice.get("identifier", ""), "text": _inner_html(choice, rewrite)}
        for choice in parent.findall(q(tag))
    ]


def _remove_keep_tail(element: etree._Element) -> None:
    parent = element.getparent()
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def read_item(root: etree._Element, name: str, rewrite_src: SrcRewriter) -> ParsedItem:
    """Type, content and scoring of one QTI 3.0 item (content still to be validated)."""
    if root.tag != q("qti-assessment-item"):
        if local_name(root.tag) in ("assessmentItem",):
            raise _fail(name, "this is QTI 2.x; only QTI 3.0 items are imported.")
        raise _fail(name, f"expected a qti-assessment-item in the QTI 3.0 namespace ({QTI_NS}).")
    identifier = root.get("identifier") or ""
    if not identifier:
        raise _fail(name, "the item has no identifier.")
    body = root.find(q("qti-item-body"))
    if body is None:
        raise _fail(name, "the item has no qti-item-body.")
    declarations = _declarations(root, name)
    processing = _processing(root, name)
    stimulus_ref = root.find(q("qti-assessment-stimulus-ref"))
    outcome = root.find(q("qti-outcome-declaration"))
    maximum = None
    if outcome is not None and outcome.get("normal-maximum"):
        try:
            maximum = float(outcome.get("normal-maximum"))
        except ValueError:
            maximum = None
    accessibility = _read_catalog(root, rewrite_src)

    interactions = [el for el in body.iter() if local_name(el.tag) in INTERACTIONS]
    unknown = sorted(
        {
            local_name(el.tag)
            for el in body.iter()
            if local_name(el.tag).endswith("-interaction")
            and local_name(el.tag) not in INTERACTIONS
        }
    )
    if unknown:
        raise _fail(name, f"unsupported interaction {', '.join(unknown)}.")
    if not interactions:
        raise _fail(name, "the item has no interaction.")
    kinds = {local_name(el.tag) for el in interactions}
    if kinds != {"qti-inline-choice-interaction"} and len(interactions) != 1:
        raise _fail(name, "only one interaction per item is supported (or inline choices).")

    parsed = ParsedItem(
        identifier=identifier,
        title=root.get("title") or "",
        language=root.get(f"{{{XML_NS}}}lang") or "en",
        item_type="",
        content={},
        scoring={},
        accessibility=accessibility,
        stimulus_href=stimulus_ref.get("href") if stimulus_ref is not None else None,
    )
    if kinds == {"qti-inline-choice-interaction"}:
        _read_inline(parsed, body, declarations, processing, name, rewrite_src)
        return _with_category(parsed, root, name)

    interaction = interactions[0]
    kind = local_name(interaction.tag)
    declaration = declarations.get(interaction.get("response-identifier", ""))
    if declaration is None:
        raise _fail(name, "the interaction has no matching qti-response-declaration.")
    rubric_levels: list[dict[str, Any]] = []
    for rubric in body.findall(f".//{q('qti-rubric-block')}"):
        rubric_levels = rubric_levels or _read_rubric(rubric)
        _remove_keep_tail(rubric)
    prompt = interaction.find(q("qti-prompt"))
    prompt_html = _inner_html(prompt, rewrite_src) if prompt is not None else ""
    if prompt is not None:
        interaction.remove(prompt)
    detached = interaction
    _remove_keep_tail(interaction)
    stem = (_inner_html(body, rewrite_src) + prompt_html).strip()
    content: dict[str, Any] = {"stem": stem}

    if kind == "qti-choice-interaction":
        options = _options(detached, "qti-simple-choice", rewrite_src)
        content["options"] = options
        if declaration.cardinality == "single":
            mapped = declaration.mapping
            integral = mapped and all(float(v).is_integer() and v >= 0 for v in mapped.values())
            if integral and (max(mapped.values()) > 1 or (maximum or 0) > 1):
                parsed.item_type = "partial_credit"
                parsed.scoring = {"scores": {o["id"]: int(mapped.get(o["id"], 0)) for o in options}}
            else:
                parsed.item_type = "single_choice"
                correct = declaration.correct[:1] or (
                    [max(mapped, key=mapped.get)] if mapped else []
                )
                if not correct:
                    raise _fail(name, "the choice item has no correct response.")
                parsed.scoring = {"correct": correct[0]}
        else:
            parsed.item_type = "multiple_response"
            content["max_choices"] = int(detached.get("max-choices", "0") or 0)
            parsed.scoring = _chosen_key(declaration, processing, _ids(options), maximum)
    elif kind == "qti-gap-match-interaction":
        parsed.item_type = "gap_match"
        content.update(_read_gap_match(detached, name, rewrite_src))
        correct: dict[str, str] = {}
        for value in declaration.correct:
            word, _, gap = value.partition(" ")
            if gap in correct:
                raise _fail(name, f"gap {gap!r} has more than one correct gap text.")
            correct[gap] = word
        partial = processing.template == "map_response" or (
            bool(declaration.mapping) and processing.template != "match_correct"
        )
        parsed.scoring = {"correct": correct, "method": "partial" if partial else "all_or_nothing"}
        mapping = _scaled(declaration, maximum)
        default = {f"{w} {g}": 1.0 / max(1, len(correct)) for g, w in correct.items()}
        if partial and mapping and not _same_mapping(mapping, default):
            parsed.scoring["mapping"] = mapping
    elif kind == "qti-hottext-interaction":
        parsed.item_type = "hottext"
        content.update(_read_hottext(detached, name, rewrite_src))
        parsed.scoring = _chosen_key(declaration, processing, _ids(content["hottexts"]), maximum)
    elif kind == "qti-text-entry-interaction":
        if declaration.base_type in ("float", "integer"):
            parsed.item_type = "numeric"
            if not declaration.correct:
                raise _fail(name, "the numeric item has no correct response.")
            try:
                value = float(declaration.correct[0])
            except ValueError:
                raise _fail(name, "the numeric item's correct response is not a number.") from None
            mode, amount = processing.tolerance or ("exact", 0.0)
            relative = mode == "relative"
            parsed.scoring = {
                "value": value,
                "tolerance": amount / 100 if relative else (amount if mode == "absolute" else 0.0),
                "tolerance_mode": "relative" if relative else "absolute",
            }
            content["unit_hint"] = ""
        else:
            parsed.item_type = "text_entry"
            content["expected_length"] = min(
                200, max(1, int(detached.get("expected-length") or 20))
            )
            if processing.patterns:
                answers = [{"value": p, "score": s} for p, s in processing.patterns if 0 < s <= 1]
                parsed.scoring = {
                    "match": "regex",
                    "answers": answers,
                    "normalise": {"spaces": "keep"},
                }
            elif declaration.mapping:
                answers = [
                    {"value": k, "score": min(1.0, v)}
                    for k, v in declaration.mapping.items()
                    if v > 0
                ]
                parsed.scoring = {"match": "exact", "answers": answers}
                if not declaration.case_sensitive:
                    parsed.scoring = {
                        "match": "normalised",
                        "answers": answers,
                        "normalise": {"case_insensitive": True, "spaces": "trim"},
                    }
            else:
                parsed.scoring = {
                    "match": "exact",
                    "answers": [{"value": v, "score": 1.0} for v in declaration.correct],
                }
    elif kind == "qti-order-interaction":
        parsed.item_type = "ordering"
        content["options"] = _options(detached, "qti-simple-choice", rewrite_src)
        parsed.scoring = {"correct": declaration.correct}
    elif kind == "qti-match-interaction":
        parsed.item_type = "matching"
        sets = detached.findall(q("qti-simple-match-set"))
        if len(sets) != 2:
            raise _fail(name, "a match interaction needs two qti-simple-match-set elements.")
        content["sources"] = _options(sets[0], "qti-simple-associable-choice", rewrite_src)
        content["targets"] = _options(sets[1], "qti-simple-associable-choice", rewrite_src)
        pairs = [value.split() for value in declaration.correct]
        partial = processing.template == "map_response" and bool(declaration.mapping)
        parsed.scoring = {"correct": pairs, "method": "partial" if partial else "all_or_nothing"}
        default = {" ".join(pair): 1.0 / max(1, len(pairs)) for pair in pairs}
        if partial and not _same_mapping(declaration.mapping, default):
            parsed.scoring["mapping"] = declaration.mapping
    elif kind == "qti-extended-text-interaction":
        parsed.item_type = "extended_text"
        try:
            content["expected_lines"] = min(60, max(1, int(detached.get("expected-lines") or 6)))
        except ValueError:
            content["expected_lines"] = 6
        if not rubric_levels:
            top = int(maximum) if maximum and maximum >= 1 else 1
            rubric_levels = [{"points": k, "description": f"{k} points"} for k in range(top + 1)]
            parsed.warnings.append(f"{name}: no scoring rubric; made a 0-{top} point scale.")
        parsed.scoring = {"rubric": rubric_levels}
    parsed.content = content
    return _with_category(parsed, root, name)


def _ids(options: list[dict[str, str]]) -> list[str]:
    return [option["id"] for option in options]


def _scaled(declaration: _Declaration, maximum: float | None) -> dict[str, float]:
    """The mapping's points on the item model's 0-to-1 scale: divided by the mapping's upper
    bound, or else by SCORE's normal-maximum, when that is not 1."""
    top = declaration.upper or maximum
    if not top or top <= 0 or abs(top - 1) < 1e-9:
        return dict(declaration.mapping)
    return {k: round(v / top, 10) for k, v in declaration.mapping.items()}


def _chosen_key(
    declaration: _Declaration,
    processing: ResponseProcessing,
    ids: list[str],
    maximum: float | None = None,
) -> dict[str, Any]:
    """A choose-several key (multiple response, hottext): the correct set, and the mapping
    when the processing maps and its points differ from our default (+1/k right, -1/k wrong),
    read on the 0-to-1 scale (:func:`_scaled`)."""
    correct = declaration.correct or [k for k, v in declaration.mapping.items() if v > 0]
    partial = processing.template == "map_response" or (
        bool(declaration.mapping) and processing.template != "match_correct"
    )
    scoring: dict[str, Any] = {
        "correct": correct,
        "method": "partial" if partial else "all_or_nothing",
    }
    mapping = _scaled(declaration, maximum)
    share = 1.0 / max(1, len(correct))
    default = {i: share if i in correct else -share for i in ids}
    if partial and mapping and not _same_mapping(mapping, default):
        scoring["mapping"] = mapping
    return scoring


def _read_gap_match(interaction: etree._Element, name: str, rewrite) -> dict[str, Any]:
    """A gap match interaction's words (qti-gap-text) and text (each qti-gap its marker)."""
    words = []
    for word in interaction.findall(q("qti-gap-text")):
        try:
            most = int(word.get("match-max") or 1)
        except ValueError:
            raise _fail(name, "a qti-gap-text's match-max must be a whole number.") from None
        words.append(
            {
                "id": word.get("identifier", ""),
                "text": _inner_html(word, rewrite),
                "match_max": most,
            }
        )
        _remove_keep_tail(word)
    if interaction.find(f".//{q('qti-gap-img')}") is not None:
        raise _fail(name, "image gap texts (qti-gap-img) are not supported.")
    for gap in list(interaction.iter(q("qti-gap"))):
        parent, previous = gap.getparent(), gap.getprevious()
        text = "{{" + gap.get("identifier", "") + "}}" + (gap.tail or "")
        parent.remove(gap)
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
    return {"text": _inner_html(interaction, rewrite), "gap_texts": words}


def _read_hottext(interaction: etree._Element, name: str, rewrite) -> dict[str, Any]:
    """A hottext interaction's text (each qti-hottext become its ``{{id}}`` marker), spans and
    choice limits."""
    hottexts = []
    for span in list(interaction.iter(q("qti-hottext"))):
        span_id = span.get("identifier", "")
        hottexts.append({"id": span_id, "text": _inner_html(span, rewrite)})
        parent, previous = span.getparent(), span.getprevious()
        text = "{{" + span_id + "}}" + (span.tail or "")
        parent.remove(span)
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
    if not hottexts:
        raise _fail(name, "the hottext interaction has no qti-hottext.")
    try:
        most = int(interaction.get("max-choices") or 1)
        least = int(interaction.get("min-choices") or 0)
    except ValueError:
        raise _fail(name, "max-choices and min-choices must be whole numbers.") from None
    return {
        "text": _inner_html(interaction, rewrite),
        "hottexts": hottexts,
        "max_choices": most,
        "min_choices": least,
    }


def _with_category(parsed: ParsedItem, root: etree._Element, name: str) -> ParsedItem:
    rule = _read_category(root, name)
    if rule is not None:
        parsed.scoring["irt_category"] = rule
    return parsed


def _same_mapping(found: dict[str, float], default: dict[str, float]) -> bool:
    return set(found) == set(default) and all(abs(found[k] - default[k]) < 1e-9 for k in default)


def _read_rubric(rubric: etree._Element) -> list[dict[str, Any]]:
    levels = []
    for position, entry in enumerate(rubric.iter(q("li"))):
        try:
            points = int(entry.get("value", position))
        except ValueError:
            points = position
        text = " ".join("".join(entry.itertext()).split())
        if text:
            levels.append({"points": points, "description": text})
    return levels


def _read_inline(parsed: ParsedItem, body, declarations, processing, name, rewrite) -> None:
    gaps = []
    correct = {}
    for interaction in list(body.iter(q("qti-inline-choice-interaction"))):
        gap_id = interaction.get("response-identifier", "")
        declaration = declarations.get(gap_id)
        if declaration is None or not declaration.correct:
            raise _fail(name, f"gap {gap_id!r} has no correct response.")
        gaps.append({"id": gap_id, "options": _options(interaction, "qti-inline-choice", rewrite)})
        correct[gap_id] = declaration.correct[0]
        marker = "{{" + gap_id + "}}"
        previous = interaction.getprevious()
        parent = interaction.getparent()
        text = marker + (interaction.tail or "")
        parent.remove(interaction)
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
    children = list(body)
    classes = [child.get("class") for child in children]
    if classes == ["stem", "text"] and not (body.text or "").strip():
        stem, text = _inner_html(children[0], rewrite), _inner_html(children[1], rewrite)
    else:
        stem, text = "", _inner_html(body, rewrite)
    parsed.item_type = "inline_choice"
    parsed.content = {"stem": stem, "text": text, "gaps": gaps}
    parsed.scoring = {
        "correct": correct,
        "method": "partial" if processing.has_sum else "all_or_nothing",
    }


def _read_catalog(root: etree._Element, rewrite) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for card in root.iter(q("qti-card")):
        support = card.get("support", "")
        html = card.find(q("qti-html-content"))
        if html is None:
            continue
        if support == "spoken":
            found["read_aloud"] = " ".join("".join(html.itertext()).split())
        elif support == "ext:furigana":
            found["furigana"] = _inner_html(html, rewrite)
        elif support == "ext:large-print":
            found["large_print"] = True
    return found


def read_stimulus(root: etree._Element, name: str, rewrite_src) -> tuple[str, str, str, str]:
    """``(identifier, title, language, html)`` of a qti-assessment-stimulus."""
    if root.tag != q("qti-assessment-stimulus"):
        raise _fail(name, "expected a qti-assessment-stimulus (QTI 3.0).")
    stimulus_body = root.find(q("qti-stimulus-body"))
    if stimulus_body is None:
        raise _fail(name, "the stimulus has no qti-stimulus-body.")
    return (
        root.get("identifier") or "",
        root.get("title") or "",
        root.get(f"{{{XML_NS}}}lang") or "en",
        _inner_html(stimulus_body, rewrite_src),
    )
