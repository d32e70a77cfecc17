"""QTI 2.0, 2.1 and 2.2 items and stimuli upgraded to QTI 3.0, so one reader serves both.

QTI 3.0 renamed the 2.x elements and attributes (``choiceInteraction`` became
``qti-choice-interaction``, ``responseIdentifier`` became ``response-identifier``) and moved
them to a new namespace; the HTML content elements (``p``, ``img``, ``table`` ...) keep their
names. A few structures changed shape: rubric blocks wrap their content in
``qti-content-body``, and ``object`` media become ``img``/``audio``/``video`` where the type
says so. MathML and other foreign namespaces pass through untouched.
"""

from __future__ import annotations

from lxml import etree

from item_bank.processing.declarations import kebab
from item_bank.qti.items import QTI_NS

__all__ = ["QTI2_NAMESPACES", "is_qti2", "upgrade"]

QTI2_NAMESPACES = frozenset(
    {
        "http://www.imsglobal.org/xsd/imsqti_v2p0",
        "http://www.imsglobal.org/xsd/imsqti_v2p1",
        "http://www.imsglobal.org/xsd/imsqti_v2p2",
    }
)
XML_NS = "http://www.w3.org/XML/1998/namespace"
# The XHTML subset QTI 2.x content uses: these keep their names (and attributes) in 3.0.
_HTML_WORDS = (
    "a abbr acronym address b bdo big blockquote br caption cite code col colgroup dd del "
    "dfn div dl dt em h1 h2 h3 h4 h5 h6 hr i img ins kbd li ol p pre q rb rp rt ruby samp "
    "small span strong sub sup table tbody td tfoot th thead tr tt ul var object param audio "
    "video source track figure figcaption section article aside header footer nav label "
    "picture"
)
HTML = frozenset(_HTML_WORDS.split())


def is_qti2(root: etree._Element) -> bool:
    return isinstance(root.tag, str) and etree.QName(root).namespace in QTI2_NAMESPACES


def _tag(local: str) -> str:
    if local in HTML:
        return f"{{{QTI_NS}}}{local}"
    return f"{{{QTI_NS}}}qti-{kebab(local)}"


def _attributes(element: etree._Element, html: bool) -> dict[str, str]:
    found = {}
    for name, value in element.attrib.items():
        qname = etree.QName(name)
        if qname.namespace and qname.namespace != XML_NS:
            if qname.localname == "schemaLocation":
                continue  # the 2.x schema location means nothing in 3.0
            found[name] = value
            continue
        local = qname.localname
        if qname.namespace == XML_NS:
            found[name] = value
        elif html or local.startswith("data-"):
            found[local] = value
        else:
            found[kebab(local)] = value
    return found


def _convert(element: etree._Element) -> etree._Element:
    qname = etree.QName(element)
    if qname.namespace not in QTI2_NAMESPACES:
        copy = etree.Element(element.tag, dict(element.attrib), nsmap=element.nsmap)
        html = True
    else:
        html = qname.localname in HTML
        copy = etree.Element(_tag(qname.localname), _attributes(element, html))
    copy.text = element.text
    copy.tail = element.tail
    for child in element:
        if isinstance(child.tag, str):
            copy.append(_convert(child))
        elif child.tail:  # a comment or processing instruction: keep the text after it
            last = copy[-1] if len(copy) else None
            if last is not None:
                last.tail = (last.tail or "") + child.tail
            else:
                copy.text = (copy.text or "") + child.tail
    if not html and qname.localname == "rubricBlock":
        _wrap_content_body(copy)
    return copy


def _wrap_content_body(rubric: etree._Element) -> None:
    body = etree.Element(f"{{{QTI_NS}}}qti-content-body")
    body.text, rubric.text = rubric.text, None
    for child in list(rubric):
        body.append(child)
    rubric.append(body)


def upgrade(root: etree._Element) -> etree._Element:
    """A QTI 3.0 element tree equivalent to a 2.x ``assessmentItem`` or stimulus tree."""
    if not is_qti2(root):
        return root
    upgraded = _convert(root)
    tree = etree.ElementTree(etree.fromstring(etree.tostring(upgraded)))
    result = tree.getroot()
    etree.cleanup_namespaces(result, top_nsmap={None: QTI_NS})
    return result
