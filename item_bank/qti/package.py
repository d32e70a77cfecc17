"""QTI 3.0 content packages: a zip with ``imsmanifest.xml``, item files, stimuli and media.

Layout we write (and read, along with other tools' layouts)::

    imsmanifest.xml                 IMS CP manifest, one resource per item and stimulus
    items/<key>.xml                 qti-assessment-item (resource type imsqti_item_xmlv3p0)
    stimuli/<key>-v<n>.xml          qti-assessment-stimulus (imsqti_stimulus_xmlv3p0)
    media/<sha256>.<ext>            images, audio, video, named by content hash

Each item resource's metadata carries IEEE LOM (title, language, keywords, rights and the
学習指導要領コード as a classification) and a ``cbt:item`` element with our own metadata as
JSON: key, subject, grade, codes, accessibility, the exact scoring rule, and enemies. Another
tool can ignore it; our import prefers it, so an export followed by an import preserves content
and scoring exactly.

An import is all or nothing: every item is parsed and validated before anything is written,
and the writes happen in the caller's one transaction.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cbt.audit import Actor, record_audit
from cbt.db import db
from cbt.errors import NotFound, ValidationError
from cbt.signals import qti_tests_imported
from item_bank.curriculum import CURRICULUM_CODE
from item_bank.media import MEDIA_EXTENSIONS, MEDIA_REF, MEDIA_URL, _check, store_media
from item_bank.models import (
    Item,
    ItemEnemy,
    ItemParameter,
    ItemStatistic,
    ItemStatus,
    ItemVersion,
    MediaAsset,
    ParameterSet,
    ParameterSetStatus,
    Stimulus,
)
from item_bank.processing import (
    ProcessingError,
    Scorer,
    UnsupportedOperator,
    compile_item,
    compile_item_xml,
)
from item_bank.qti.agreement import disagreement
from item_bank.qti.items import (
    ParsedItem,
    item_xml,
    local_name,
    read_item,
    read_stimulus,
    stimulus_xml,
)
from item_bank.qti.safety import PackageLimits, SafePackage, resolve_href
from item_bank.qti.tests import TEST_RESOURCES, MappedTest, Note, read_test
from item_bank.qti.upgrade import upgrade
from item_bank.qti.usagedata import (
    USAGE_RESOURCE,
    USAGE_RESOURCES,
    Statistic,
    irt_records,
    read_usage_data,
    usage_data_xml,
)
from item_bank.service import (
    ItemFields,
    add_item,
    create_parameter_set,
    create_stimulus,
    enemy_keys_for,
    revise_item,
)
from item_bank.service.common import _check_key
from item_bank.types import get_item_type

__all__ = ["CBT_NS", "ImportOptions", "export_package", "import_package"]

MANIFEST_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
CBT_NS = "urn:cbt-engine:qti:item-metadata:v1"
ITEM_RESOURCE = "imsqti_item_xmlv3p0"
STIMULUS_RESOURCE = "imsqti_stimulus_xmlv3p0"
# What import reads: QTI 3.0, and 2.0 to 2.2 upgraded to 3.0 on the way in.
ITEM_RESOURCES = ("imsqti_item_xmlv3p0", "imsqti_item_xmlv2p")
STIMULUS_RESOURCES = ("imsqti_stimulus_xmlv3p0", "imsqti_stimulus_xmlv2p")
CODE_SOURCE = "学習指導要領コード"
NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_ERRORS = 50
BATCH = 500


def _m(tag: str) -> str:
    return f"{{{MANIFEST_NS}}}{tag}"


def _lom(tag: str) -> str:
    return f"{{{LOM_NS}}}{tag}"


def _file_stem(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _identifier(key: str, prefix: str = "I_") -> str:
    return key if NCNAME.match(key) else prefix + _file_stem(key)


# --------------------------------------------------------------------------- export


def export_package(
    version_ids: list[int],
    *,
    actor: Actor | None = None,
    usage_parameter_set_id: int | None = None,
) -> tuple[bytes, int]:
    """A QTI 3.0 package of these item versions; returns ``(zip bytes, number of items)``.

    With ``usage_parameter_set_id`` (a published set) the package also carries that set's IRT
    parameters for these items as QTI usage data.
    """
    if not version_ids:
        raise ValidationError("Nothing to export: no items match.")
    usage_set = _published_set(usage_parameter_set_id)
    versions = list(
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.id.in_(version_ids))
            .options(selectinload(ItemVersion.curriculum_codes), selectinload(ItemVersion.item))
            .order_by(ItemVersion.id)
        )
    )
    stimuli = {
        s.id: s
        for s in db.session.scalars(
            select(Stimulus).where(Stimulus.id.in_({v.stimulus_id for v in versions} - {None}))
        )
    }
    enemies = enemy_keys_for([version.item_id for version in versions])
    hashes: set[str] = set()
    for version in versions:
        hashes.update(MEDIA_REF.findall(json.dumps(version.content)))
        hashes.update(MEDIA_REF.findall(json.dumps(version.accessibility or {})))
    for stimulus in stimuli.values():
        hashes.update(MEDIA_REF.findall(stimulus.html))
    media = {
        asset.sha256: asset
        for asset in db.session.scalars(select(MediaAsset).where(MediaAsset.sha256.in_(hashes)))
    }

    def media_path(sha: str) -> str:
        return f"media/{sha}.{MEDIA_EXTENSIONS[media[sha].mime_type]}"

    def rewriter(base: str):
        def rewrite(src: str) -> str:
            match = MEDIA_REF.fullmatch(src)
            if match and match.group(1) in media:
                return posixpath.relpath(media_path(match.group(1)), posixpath.dirname(base))
            return src

        return rewrite

    manifest = etree.Element(
        _m("manifest"),
        nsmap={None: MANIFEST_NS, "imsmd": LOM_NS, "cbt": CBT_NS},
        attrib={
            "identifier": "cbt-export-"
            + hashlib.sha256(repr(version_ids).encode()).hexdigest()[:12]
        },
    )
    header = etree.SubElement(manifest, _m("metadata"))
    etree.SubElement(header, _m("schema")).text = "QTI Package"
    etree.SubElement(header, _m("schemaversion")).text = "3.0.0"
    etree.SubElement(manifest, _m("organizations"))
    resources = etree.SubElement(manifest, _m("resources"))

    buffer = io.BytesIO()
    used_names: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        stimulus_refs: dict[int, tuple[str, str]] = {}
        for stimulus in stimuli.values():
            href = f"stimuli/{_file_stem(stimulus.key)}-v{stimulus.version}.xml"
            identifier = _identifier(f"{stimulus.key}-v{stimulus.version}", "S_")
            archive.writestr(
                href,
                stimulus_xml(
                    identifier=identifier,
                    title=stimulus.title,
                    language=stimulus.language,
                    html=stimulus.html,
                    rewrite_src=rewriter(href),
                ),
            )
            resource = etree.SubElement(
                resources,
                _m("resource"),
                {"identifier": "R_" + identifier, "type": STIMULUS_RESOURCE, "href": href},
            )
            etree.SubElement(
                etree.SubElement(resource, _m("metadata")), f"{{{CBT_NS}}}stimulus"
            ).text = json.dumps({"key": stimulus.key, "version": stimulus.version})
            etree.SubElement(resource, _m("file"), {"href": href})
            for sha in MEDIA_REF.findall(stimulus.html):
                if sha in media:
                    etree.SubElement(resource, _m("file"), {"href": media_path(sha)})
            stimulus_refs[stimulus.id] = (identifier, href)

        for version in versions:
            item = version.item
            stem = _file_stem(item.key)
            href = f"items/{stem}.xml"
            suffix = 1
            while href in used_names:
                suffix += 1
                href = f"items/{stem}-{suffix}.xml"
            used_names.add(href)
            identifier = _identifier(item.key)
            stimulus_ref = None
            if version.stimulus_id in stimulus_refs:
                ref_id, ref_href = stimulus_refs[version.stimulus_id]
                stimulus_ref = (
                    ref_id,
                    posixpath.relpath(ref_href, posixpath.dirname(href)),
                    stimuli[version.stimulus_id].title,
                )
            archive.writestr(
                href,
                item_xml(
                    identifier=identifier,
                    title=version.title or item.key,
                    language=version.language,
                    item_type=version.item_type,
                    content=version.content,
                    scoring=version.scoring,
                    max_score=version.max_score,
                    accessibility=version.accessibility,
                    stimulus=stimulus_ref,
                    rewrite_src=rewriter(href),
                ),
            )
            resource = etree.SubElement(
                resources,
                _m("resource"),
                {"identifier": "R_" + identifier, "type": ITEM_RESOURCE, "href": href},
            )
            _item_metadata(
                etree.SubElement(resource, _m("metadata")), item, version, enemies[item.id]
            )
            etree.SubElement(resource, _m("file"), {"href": href})
            used = set(MEDIA_REF.findall(json.dumps(version.content)))
            used |= set(MEDIA_REF.findall(json.dumps(version.accessibility or {})))
            for sha in sorted(used & set(media)):
                etree.SubElement(resource, _m("file"), {"href": media_path(sha)})
            if stimulus_ref is not None:
                etree.SubElement(
                    resource, _m("dependency"), {"identifierref": "R_" + stimulus_ref[0]}
                )
        for sha, asset in media.items():
            archive.writestr(media_path(sha), asset.data)
        if usage_set is not None:
            _write_usage(archive, resources, usage_set, versions)
        archive.writestr(
            "imsmanifest.xml",
            etree.tostring(manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True),
        )
    if actor is not None:
        record_audit(actor, "items_exported", "item_bank", "qti", {"n_items": len(versions)})
    return buffer.getvalue(), len(versions)


def _item_metadata(
    metadata: etree._Element, item: Item, version: ItemVersion, enemies: list[str]
) -> None:
    codes = sorted(code.code for code in version.curriculum_codes)
    lom = etree.SubElement(metadata, _lom("lom"))
    general = etree.SubElement(lom, _lom("general"))
    identifier = etree.SubElement(general, _lom("identifier"))
    etree.SubElement(identifier, _lom("catalog")).text = "cbt-item-key"
    etree.SubElement(identifier, _lom("entry")).text = item.key
    title = etree.SubElement(general, _lom("title"))
    etree.SubElement(title, _lom("string"), {"language": version.language}).text = (
        version.title or item.key
    )
    etree.SubElement(general, _lom("language")).text = version.language
    for word in version.keywords or []:
        keyword = etree.SubElement(general, _lom("keyword"))
        etree.SubElement(keyword, _lom("string"), {"language": version.language}).text = word
    if version.licence:
        rights = etree.SubElement(lom, _lom("rights"))
        description = etree.SubElement(rights, _lom("description"))
        etree.SubElement(description, _lom("string")).text = version.licence
    if codes:
        classification = etree.SubElement(lom, _lom("classification"))
        purpose = etree.SubElement(classification, _lom("purpose"))
        etree.SubElement(purpose, _lom("source")).text = "LOMv1.0"
        etree.SubElement(purpose, _lom("value")).text = "educational objective"
        path = etree.SubElement(classification, _lom("taxonPath"))
        source = etree.SubElement(path, _lom("source"))
        etree.SubElement(source, _lom("string"), {"language": "ja"}).text = CODE_SOURCE
        for code in codes:
            taxon = etree.SubElement(path, _lom("taxon"))
            etree.SubElement(taxon, _lom("id")).text = code
    extra = {k: v for k, v in version.content.items() if k == "unit_hint" and v}
    ours = {
        "key": item.key,
        "subject": item.subject,
        "item_type": version.item_type,
        "scoring": version.scoring,
        "content_extra": extra,
        "curriculum_codes": codes,
        "title": version.title,
        "grade": version.grade,
        "content_area": version.content_area,
        "language": version.language,
        "keywords": version.keywords or [],
        "accessibility": version.accessibility or {},
        "author": version.author,
        "licence": version.licence,
        "rationale": version.rationale,
        "status": version.status,
        "version_number": version.version_number,
        "enemies": enemies,
    }
    etree.SubElement(metadata, f"{{{CBT_NS}}}item").text = json.dumps(ours, ensure_ascii=False)


def _published_set(parameter_set_id: int | None) -> ParameterSet | None:
    if parameter_set_id is None:
        return None
    parameter_set = db.session.get(ParameterSet, parameter_set_id)
    if parameter_set is None:
        raise NotFound(
            "No parameter set %(parameter_set_id)s.", params={"parameter_set_id": parameter_set_id}
        )
    if parameter_set.status != ParameterSetStatus.PUBLISHED:
        raise ValidationError(
            "Only a published parameter set is exported as usage data.",
            details={"parameter_set_id": parameter_set_id},
        )
    return parameter_set


def _write_usage(
    archive: zipfile.ZipFile,
    resources: etree._Element,
    parameter_set: ParameterSet,
    versions: list[ItemVersion],
) -> None:
    """The set's parameters for these versions as ``usagedata/<set>-v<n>.xml``."""
    by_version = {
        p.item_version_id: p
        for p in db.session.scalars(
            select(ItemParameter).where(
                ItemParameter.parameter_set_id == parameter_set.id,
                ItemParameter.item_version_id.in_([v.id for v in versions]),
            )
        )
    }
    n_persons = (parameter_set.provenance or {}).get("n_persons")
    rows = [
        (
            _identifier(version.item.key),
            {
                "model": p.model,
                "discrimination": p.discrimination,
                "difficulty": p.difficulty,
                "guessing": p.guessing,
                "se": p.standard_errors or {},
            },
            n_persons if isinstance(n_persons, int) else None,
        )
        for version in versions
        if (p := by_version.get(version.id)) is not None and p.model not in ("grm", "gpcm")
    ]
    href = f"usagedata/{_file_stem(parameter_set.name)}-v{parameter_set.version}.xml"
    context = f"{parameter_set.name} v{parameter_set.version}"
    archive.writestr(href, usage_data_xml(context, rows))
    resource = etree.SubElement(
        resources,
        _m("resource"),
        {"identifier": "U_" + _file_stem(context), "type": USAGE_RESOURCE, "href": href},
    )
    etree.SubElement(resource, _m("file"), {"href": href})


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportOptions:
    """``status`` of new items and new versions; what to do with a key the bank already has."""

    status: str = ItemStatus.DRAFT
    on_existing: str = "new_version"  # or "skip", "error"
    limits: PackageLimits = field(default_factory=PackageLimits)
    # Import the items that can be imported and list the others with the reason, instead of
    # refusing the whole package. Package-level problems (safety, manifest) still refuse it.
    skip_unsupported: bool = False
    # The constant D of the IRT parameters in the package's usage data: the glossary does not
    # say, so 1.0 (the logistic metric) unless the caller knows they are on the normal metric.
    usage_scaling: float = 1.0
    # The published parameter set that test definitions made from the package's assessment
    # tests score with. Without one the tests are mapped and reported, not created.
    parameter_set_id: int | None = None


@dataclass
class _Resource:
    identifier: str
    kind: str
    href: str
    ours: dict[str, Any]
    codes: list[str]
    keywords: list[str]
    licence: str | None


@dataclass
class _Prepared:
    key: str
    subject: str
    fields: ItemFields
    stimulus_path: str | None
    enemies: list[str]
    # What usage data may call the item by: its QTI identifier and its manifest resource.
    identifiers: tuple[str, ...] = ()
    path: str = ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if local_name(child.tag) == name:
            return child
    return None


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if local_name(child.tag) == name]


def _resources(manifest: etree._Element) -> list[_Resource]:
    if local_name(manifest.tag) != "manifest":
        raise ValidationError("imsmanifest.xml: the root element is not a manifest.")
    block = _child(manifest, "resources")
    found = []
    for resource in _children(block, "resource") if block is not None else []:
        kind = resource.get("type", "")
        metadata = _child(resource, "metadata")
        ours: dict[str, Any] = {}
        codes: list[str] = []
        keywords: list[str] = []
        licence = None
        if metadata is not None:
            for element in metadata.iter():
                if element.tag in (f"{{{CBT_NS}}}item", f"{{{CBT_NS}}}stimulus"):
                    try:
                        ours = json.loads(element.text or "{}")
                    except json.JSONDecodeError:
                        raise ValidationError(
                            "imsmanifest.xml: the cbt metadata of %(resource)s is not valid JSON.",
                            params={"resource": resource.get("identifier")},
                        ) from None
                    if not isinstance(ours, dict):
                        ours = {}
                elif local_name(element.tag) == "taxonPath":
                    source = " ".join(
                        "".join(s.itertext()) for s in element if local_name(s.tag) == "source"
                    )
                    if "学習指導要領" in source or "curriculum" in source.lower():
                        for taxon in element.iter():
                            if local_name(taxon.tag) == "id" and taxon.text:
                                codes.append(taxon.text.strip())
                elif local_name(element.tag) == "keyword":
                    keywords.append(" ".join("".join(element.itertext()).split()))
                elif local_name(element.tag) == "rights":
                    licence = " ".join("".join(element.itertext()).split())[:100] or None
        found.append(
            _Resource(
                identifier=resource.get("identifier", ""),
                kind=kind,
                href=resource.get("href", ""),
                ours=ours,
                codes=codes,
                keywords=keywords,
                licence=licence,
            )
        )
    return found


def import_package(
    data: bytes, *, actor: Actor, options: ImportOptions | None = None
) -> dict[str, Any]:
    """Import every item of a QTI 3.0 package, or nothing (the first problem raises, 4xx).

    Flushes; the caller's transaction commits or rolls back the whole package.
    """
    options = options or ImportOptions()
    if options.status not in ItemStatus.__members__.values():
        raise ValidationError("Unknown status %(status)r.", params={"status": options.status})
    if options.on_existing not in ("new_version", "skip", "error"):
        raise ValidationError("'on_existing' must be new_version, skip or error.")
    package = SafePackage(data, options.limits)
    if "imsmanifest.xml" not in package:
        raise ValidationError("The package has no imsmanifest.xml at its root.")
    resources = _resources(package.read_xml("imsmanifest.xml"))
    items = [r for r in resources if r.kind.startswith(ITEM_RESOURCES)]
    usage = [r for r in resources if r.kind.startswith(USAGE_RESOURCES)]
    tests = [r for r in resources if r.kind.startswith(TEST_RESOURCES)]
    if not items and not usage and not tests:
        if not resources:
            raise ValidationError(
                "The package holds nothing this engine imports: its manifest lists no "
                "resources (QTI items imsqti_item_xmlv3p0 or 2.x, assessment tests "
                "imsqti_test_xmlv3p0 or 2.x, usage data imsqti_usagedata_xmlv3p0)."
            )
        return _nothing_to_import(resources)
    if not isinstance(options.usage_scaling, int | float) or not options.usage_scaling > 0:
        raise ValidationError("'usage_scaling' (D) must be a positive number.")

    media: dict[str, tuple[bytes, str, str]] = {}  # sha -> (data, mime, path)

    def media_rewriter(base: str):
        def rewrite(src: str) -> str:
            if not src or src.startswith(("https://", "data:")) or MEDIA_REF.fullmatch(src):
                return src
            path = resolve_href(base, src)
            if path not in package:
                raise ValidationError(
                    "%(base)s: media file %(src)r is not in the package.",
                    params={"base": base, "src": src},
                    details={"file": base},
                )
            blob = package.read(path)
            extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
            mime = next(
                (m for m, ext in MEDIA_EXTENSIONS.items() if ext == extension),
                {"jpeg": "image/jpeg"}.get(extension, f"unknown/{extension or 'none'}"),
            )
            mime = _check(blob, mime, path)
            sha = hashlib.sha256(blob).hexdigest()
            media[sha] = (blob, mime, path)
            return MEDIA_URL + sha

        return rewrite

    errors: list[dict[str, Any]] = []
    warnings: list[str] = []
    prepared: list[_Prepared] = []
    seen_keys: dict[str, str] = {}
    for resource in items:
        path = None
        try:
            path = resolve_href("imsmanifest.xml", resource.href)
            root = upgrade(package.read_xml(path))
            parsed = read_item(root, path, media_rewriter(path))
            scorer = _compile(root, path)
            warnings.extend(parsed.warnings)
            ours = resource.ours
            key = _check_key(str(ours.get("key") or parsed.identifier))
            subject = ours.get("subject") or "mathematics"
            if not isinstance(subject, str) or not 1 <= len(subject) <= 50:
                raise ValidationError(
                    "%(path)s: the subject must be 1 to 50 characters.", params={"path": path}
                )
            if key in seen_keys:
                raise ValidationError(
                    "%(path)s: key %(key)r also used by %(seen_keys)s.",
                    params={"path": path, "key": key, "seen_keys": seen_keys[key]},
                )
            seen_keys[key] = path
            content = dict(parsed.content)
            if isinstance(ours.get("content_extra"), dict):
                content.update(
                    {k: v for k, v in ours["content_extra"].items() if k in ("unit_hint",)}
                )
            item_type = ours.get("item_type") or parsed.item_type
            scoring = ours.get("scoring") if item_type == ours.get("item_type") else None
            accessibility = dict(parsed.accessibility)
            if isinstance(ours.get("accessibility"), dict) and ours["accessibility"].get(
                "large_print"
            ):
                accessibility["large_print"] = True
            codes = ours.get("curriculum_codes") or [
                c for c in resource.codes if CURRICULUM_CODE.match(c)
            ]
            described = {
                "item_type": item_type,
                "content": content,
                "curriculum_codes": codes,
                "title": ours["title"] if isinstance(ours.get("title"), str) else parsed.title,
                "content_area": ours.get("content_area"),
                "grade": ours.get("grade"),
                "language": ours.get("language") or parsed.language,
                "rationale": ours.get("rationale"),
                "keywords": ours.get("keywords") or resource.keywords,
                "accessibility": accessibility,
                "author": ours.get("author"),
                "licence": ours.get("licence") or resource.licence,
            }
            fields = _agreeing_fields(described, scoring, parsed, scorer, path, warnings)
            prepared.append(
                _Prepared(
                    key=str(key),
                    subject=subject,
                    fields=fields,
                    stimulus_path=resolve_href(path, parsed.stimulus_href)
                    if parsed.stimulus_href
                    else None,
                    enemies=[str(k) for k in ours.get("enemies") or []],
                    identifiers=(parsed.identifier, resource.identifier),
                    path=path,
                )
            )
        except ValidationError as error:
            errors.append(
                {
                    "resource": resource.identifier,
                    "file": path,
                    "message": error.message,
                    **({"details": error.details} if error.details else {}),
                }
            )
            if len(errors) >= MAX_ERRORS and not options.skip_unsupported:
                break
    statistics = _read_usage(package, usage, warnings)
    mapped = _read_tests(package, tests, prepared, options, errors)
    not_imported = errors if options.skip_unsupported else []
    if errors and not (options.skip_unsupported and (prepared or statistics or mapped)):
        raise ValidationError(
            "The package was not imported: %(n_errors)s item(s) or test(s) have problems "
            "(first: %(message)s).",
            params={"n_errors": len(errors), "message": errors[0]["message"]},
            details={"errors": errors},
        )

    # Everything parsed and validated: now write, all in the caller's transaction.
    for blob, mime, path in media.values():
        store_media(blob, mime, filename=path, created_by_id=actor.id)
    stimulus_ids = _import_stimuli(package, resources, prepared, media_rewriter, actor)
    existing = _existing_items([p.key for p in prepared])
    report: dict[str, Any] = {"created": 0, "revised": 0, "unchanged": 0, "skipped": 0}
    outcomes = []
    pending = 0
    for entry in prepared:
        fields = entry.fields
        fields.stimulus_id = stimulus_ids.get(entry.stimulus_path) if entry.stimulus_path else None
        item_id = existing.get(entry.key)
        if item_id is None:
            version = add_item(
                key=entry.key,
                subject=entry.subject,
                fields=fields,
                status=options.status,
                actor=actor,
                flush=False,
            )
            action = "created"
            pending += 1
            if pending >= BATCH:
                db.session.flush()
                pending = 0
        elif options.on_existing == "skip":
            outcomes.append({"key": entry.key, "action": "skipped"})
            report["skipped"] += 1
            continue
        elif options.on_existing == "error":
            raise ValidationError(
                "The bank already has an item with key %(key)r.",
                params={"key": entry.key},
                details={"key": entry.key},
            )
        else:
            db.session.flush()
            version, created = revise_item(
                item_id,
                {name: getattr(fields, name) for name in ItemFields.EDITABLE},
                actor=actor,
            )
            action = "revised" if created else "unchanged"
            if created and options.status != ItemStatus.DRAFT:
                version.status = options.status
        report[action] += 1
        outcomes.append({"key": entry.key, "action": action, "version": version})
    db.session.flush()
    n_enemies = _import_enemies(prepared, warnings)
    usage_report = _import_usage(statistics, prepared, outcomes, options, actor, warnings)
    tests_report = _import_tests(mapped, outcomes, options, actor)
    record_audit(
        actor,
        "items_imported",
        "item_bank",
        "qti",
        {
            **{k: report[k] for k in ("created", "revised", "unchanged", "skipped")},
            "not_imported": [e["file"] for e in not_imported],
            "media": len(media),
            "stimuli": len(stimulus_ids),
            "statistics": usage_report["statistics"],
            "parameter_sets": [p["id"] for p in usage_report["parameter_sets"]],
            "tests": [{"identifier": t["identifier"], "status": t["status"]} for t in tests_report],
        },
    )
    report.update(
        {
            "n_items": len(prepared),
            "media": len(media),
            "stimuli": len(stimulus_ids),
            "enemy_pairs": n_enemies,
            "usage_data": usage_report,
            "tests": tests_report,
            "holds": _holds(resources),
            "warnings": warnings,
            "not_imported": not_imported,
            "items": [
                {
                    "key": o["key"],
                    "action": o["action"],
                    **(
                        {
                            "item_id": o["version"].item_id,
                            "version_number": o["version"].version_number,
                        }
                        if "version" in o
                        else {}
                    ),
                }
                for o in outcomes
            ],
        }
    )
    return report


def _(message: str) -> str:
    """Marks a report message for the catalog; the API and the CLI translate it."""
    return message


def _holds(resources: list[_Resource]) -> dict[str, Any]:
    """What the manifest lists, by kind: items, tests, usage data, stimuli, links, other."""
    holds: dict[str, Any] = {
        "items": 0,
        "tests": 0,
        "usage_data": 0,
        "stimuli": 0,
        "links": 0,
        "other": {},
    }
    for resource in resources:
        if resource.kind.startswith(ITEM_RESOURCES):
            holds["items"] += 1
        elif resource.kind.startswith(TEST_RESOURCES):
            holds["tests"] += 1
        elif resource.kind.startswith(USAGE_RESOURCES):
            holds["usage_data"] += 1
        elif resource.kind.startswith(STIMULUS_RESOURCES):
            holds["stimuli"] += 1
        elif not resource.href or "://" in resource.href or resource.kind == "webcontent":
            holds["links"] += 1
        else:
            holds["other"][resource.kind or "-"] = holds["other"].get(resource.kind or "-", 0) + 1
    return holds


def _nothing_to_import(resources: list[_Resource]) -> dict[str, Any]:
    """The report of a package that holds only links or other resources: nothing is written."""
    holds = _holds(resources)
    message = Note(
        "nothing_to_import",
        _(
            "The package holds %(n_resources)s resource(s) (%(links)s link(s) or "
            "dependency-only resources, %(stimuli)s stimuli, %(other)s other) and no items, "
            "assessment tests or usage data; nothing was imported."
        ),
        {
            "n_resources": len(resources),
            "links": holds["links"],
            "stimuli": holds["stimuli"],
            "other": sum(holds["other"].values()),
        },
    )
    return {
        "created": 0,
        "revised": 0,
        "unchanged": 0,
        "skipped": 0,
        "n_items": 0,
        "media": 0,
        "stimuli": 0,
        "enemy_pairs": 0,
        "usage_data": {"statistics": 0, "items": 0, "parameter_sets": [], "left_out": []},
        "tests": [],
        "holds": holds,
        "message": message.to_dict(),
        "warnings": [],
        "not_imported": [],
        "items": [],
    }


def _read_tests(
    package: SafePackage,
    tests: list[_Resource],
    prepared: list[_Prepared],
    options: ImportOptions,
    errors: list[dict[str, Any]],
) -> list[MappedTest]:
    """Every assessment test of the package, mapped (read before anything is written).

    An item reference resolves to an item of this package (by its file, or its QTI or resource
    identifier), else to a bank item whose key is the reference's identifier; one that resolves
    to neither is the test's error.
    """
    if not tests:
        return []
    by_path = {entry.path: entry.key for entry in prepared}
    by_identifier: dict[str, str] = {}
    for entry in prepared:
        for identifier in entry.identifiers:
            by_identifier.setdefault(identifier, entry.key)
    roots = []
    for resource in tests:
        path = None
        try:
            path = resolve_href("imsmanifest.xml", resource.href)
            if path not in package:
                raise ValidationError(
                    "The assessment test %(path)s is not in the package.", params={"path": path}
                )
            roots.append((resource, path, upgrade(package.read_xml(path))))
        except ValidationError as error:
            errors.append(_test_error(resource, path, error))
    wanted = sorted(
        {
            element.get("identifier") or ""
            for _, _, root in roots
            for element in root.iter()
            if isinstance(element.tag, str) and local_name(element.tag) == "qti-assessment-item-ref"
        }
        - set(by_identifier)
    )
    in_bank = set(_existing_items(wanted))
    mapped: list[MappedTest] = []
    seen: dict[str, str] = {}
    for resource, path, root in roots:

        def resolve(href: str | None, identifier: str, base: str = path) -> str | None:
            if href:
                try:
                    target = resolve_href(base, href)
                except ValidationError:
                    target = None
                if target in by_path:
                    return by_path[target]
            if identifier in by_identifier:
                return by_identifier[identifier]
            return identifier if identifier in in_bank else None

        try:
            test = read_test(root, path, resolve)
            if test.identifier in seen:
                raise ValidationError(
                    "%(path)s: test identifier %(test)r also used by %(other)s.",
                    params={"path": path, "test": test.identifier, "other": seen[test.identifier]},
                )
            seen[test.identifier] = path
            mapped.append(test)
        except ValidationError as error:
            errors.append(_test_error(resource, path, error))
    return mapped


def _test_error(resource: _Resource, path: str | None, error: ValidationError) -> dict[str, Any]:
    return {
        "resource": resource.identifier,
        "file": path,
        "message": error.message,
        **({"details": error.details} if error.details else {}),
    }


def _import_tests(
    mapped: list[MappedTest],
    outcomes: list[dict[str, Any]],
    options: ImportOptions,
    actor: Actor,
) -> list[dict[str, Any]]:
    """The report of each test; with a parameter set, the test definitions made from them.

    Definitions are made by whoever listens to ``cbt.signals.qti_tests_imported`` (delivery,
    wired by the app): the item bank does not know what a test definition is.
    """
    if not mapped:
        return []
    keys = sorted({key for test in mapped for key in test.item_keys})
    written = {o["key"]: o["version"].id for o in outcomes if "version" in o}
    latest: dict[str, int] = {}
    for start in range(0, len(keys), 1000):
        latest.update(
            db.session.execute(
                select(Item.key, ItemVersion.id)
                .join(ItemVersion, ItemVersion.item_id == Item.id)
                .where(Item.key.in_(keys[start : start + 1000]), ItemVersion.is_latest)
            ).all()
        )
    entries = []
    payload = []
    for test in mapped:
        entry: dict[str, Any] = {
            "identifier": test.identifier,
            "title": test.title,
            "file": test.file,
            "n_items": len(test.item_keys),
            "notes": [note.to_dict() for note in test.notes],
        }
        if test.problem is not None:
            entry["status"] = "not_mapped"
            entry["reason"] = test.problem.to_dict()
        else:
            entry["settings"] = test.settings()
            entry["status"] = "mapped"
            if options.parameter_set_id is None:
                entry["reason"] = Note(
                    "no_parameter_set",
                    _(
                        "Mapped, not created: choose a published parameter set (--parameter-set "
                        "or parameter_set_id) to create its test definition with these settings."
                    ),
                ).to_dict()
            else:
                payload.append(
                    {
                        "identifier": test.identifier,
                        "title": test.title[:200],
                        "settings": entry["settings"],
                        "item_version_ids": [
                            written.get(key) or latest[key] for key in test.item_keys
                        ],
                    }
                )
        entries.append(entry)
    if payload:
        replies = qti_tests_imported.send(
            actor, tests=payload, parameter_set_id=options.parameter_set_id
        )
        results: dict[str, dict[str, Any]] = {}
        for _receiver, reply in replies:
            results.update(reply or {})
        if not replies:
            raise ValidationError(
                "Test definitions cannot be made here: nothing that makes them is wired in."
            )
        for entry in entries:
            if entry["identifier"] in results:
                entry.update(results[entry["identifier"]])
    return entries


def _read_usage(
    package: SafePackage, usage: list[_Resource], warnings: list[str]
) -> list[tuple[str, Statistic]]:
    """Every statistic of the package's usage-data resources (read before anything is written)."""
    statistics: list[tuple[str, Statistic]] = []
    for resource in usage:
        path = resolve_href("imsmanifest.xml", resource.href)
        if path not in package:
            raise ValidationError(
                "The usage data %(path)s is not in the package.", params={"path": path}
            )
        found = read_usage_data(package.read_xml(path), path)
        warnings.extend(found.warnings)
        statistics.extend((path, statistic) for statistic in found.statistics)
    return statistics


def _import_usage(
    statistics: list[tuple[str, Statistic]],
    prepared: list[_Prepared],
    outcomes: list[dict[str, Any]],
    options: ImportOptions,
    actor: Actor,
    warnings: list[str],
) -> dict[str, Any]:
    """Usage data as item statistics, and each group's IRT parameters as a draft parameter set.

    A statistic names its items by identifier: an item of this package (by its QTI or
    resource identifier), else a bank item whose key it is. It is kept for the item's latest
    version (the one this import wrote, where it wrote one).
    """
    report: dict[str, Any] = {"statistics": 0, "items": 0, "parameter_sets": [], "left_out": []}
    if not statistics:
        return report
    key_of = {}
    for entry in prepared:
        for identifier in entry.identifiers:
            key_of.setdefault(identifier, entry.key)
    targets = {t for _, statistic in statistics for t in statistic.targets}
    keys = sorted({key_of.get(t, t) for t in targets})
    latest = {}
    for start in range(0, len(keys), 1000):
        latest.update(
            db.session.execute(
                select(Item.key, ItemVersion.id)
                .join(ItemVersion, ItemVersion.item_id == Item.id)
                .where(Item.key.in_(keys[start : start + 1000]), ItemVersion.is_latest)
            ).all()
        )
    written = {o["key"]: o["version"].id for o in outcomes if "version" in o}
    version_of = {t: written.get(key_of.get(t, t)) or latest.get(key_of.get(t, t)) for t in targets}
    missing = sorted(t for t, version_id in version_of.items() if version_id is None)
    if missing:
        report["left_out"] = missing[:100]
        warnings.append(
            f"Usage data names {len(missing)} item(s) that are neither in the package nor in "
            f"the bank ({', '.join(missing[:5])}); their statistics were left out."
        )
    rows = []
    for path, statistic in statistics:
        for target in statistic.targets:
            if version_of[target] is None:
                continue
            rows.append(
                ItemStatistic(
                    item_version_id=version_of[target],
                    name=statistic.name,
                    context=statistic.context,
                    glossary=(statistic.glossary or None) and statistic.glossary[:300],
                    value=statistic.value,
                    text=statistic.text,
                    mapping=statistic.mapping,
                    case_count=statistic.case_count,
                    std_error=statistic.std_error,
                    std_deviation=statistic.std_deviation,
                    last_updated=(statistic.last_updated or None) and statistic.last_updated[:40],
                    source=path[:255],
                    imported_by_id=actor.id,
                )
            )
    db.session.add_all(rows)
    report["statistics"] = len(rows)
    report["items"] = len({row.item_version_id for row in rows})
    groups = irt_records([statistic for _, statistic in statistics])
    for context, by_target in sorted(groups.items()):
        parameters = {
            version_of[target]: record
            for target, record in by_target.items()
            if version_of.get(target) is not None
        }
        if not parameters:
            continue
        try:
            parameter_set = create_parameter_set(
                name=context[:100],
                parameters=parameters,
                provenance={
                    "source": "qti_usage_data",
                    "context": context,
                    "files": sorted({path for path, s in statistics if s.context == context}),
                    "scaling_assumed": options.usage_scaling,
                },
                scaling=float(options.usage_scaling),
                actor=actor,
            )
        except ValidationError as error:
            named = {version_of[t]: t for t in by_target if version_of.get(t) is not None}
            target = named.get(error.details.get("item_version_id"))
            raise ValidationError(
                "Usage data group %(context)r, item %(item)r: the IRT parameters are not valid "
                "(%(problem)s).",
                params={"context": context, "item": target or "?", "problem": error.message},
                details={"context": context, "item": target},
            ) from None
        report["parameter_sets"].append(
            {
                "id": parameter_set.id,
                "name": parameter_set.name,
                "version": parameter_set.version,
                "n_items": len(parameters),
            }
        )
        warnings.append(
            f"Usage data group {context!r}: IRT parameters for {len(parameters)} item(s) "
            f"became draft parameter set {parameter_set.name!r} version "
            f"{parameter_set.version}, read with D = {options.usage_scaling:g}; check and "
            "publish it before use."
        )
    db.session.flush()
    return report


def _compile(root: etree._Element, path: str) -> Scorer:
    """The item's response processing, compiled; an operator we do not run refuses the item."""
    try:
        return compile_item(root)
    except UnsupportedOperator as error:
        raise ValidationError(
            "%(path)s: %(error)s; the item was not imported, since its score would be a guess.",
            params={"path": path, "error": error},
            details={"file": path, "operator": error.operator},
        ) from None
    except ProcessingError as error:
        raise ValidationError(
            "%(path)s: %(error)s.", params={"path": path, "error": error}, details={"file": path}
        ) from None


def _agreeing_fields(
    described: dict[str, Any],
    metadata_scoring: Any,
    parsed: ParsedItem,
    scorer: Scorer,
    path: str,
    warnings: list[str],
) -> ItemFields:
    """The item's fields with a scoring rule that scores as its XML does.

    The XML is the source of truth: our own metadata's rule is kept only where it agrees
    with the XML's processing (it adds what QTI cannot state, such as text normalisation),
    so an edit made in another QTI tool is not lost on re-import.
    """
    item_type = described["item_type"]
    if isinstance(metadata_scoring, dict):  # the XML's IRT_CATEGORY table is the category rule
        metadata_scoring = {k: v for k, v in metadata_scoring.items() if k != "irt_category"}
        if "irt_category" in parsed.scoring:
            metadata_scoring["irt_category"] = parsed.scoring["irt_category"]
        fields = ItemFields(**described, scoring=metadata_scoring).clean()
        problem = disagreement(scorer, item_type, fields.content, fields.scoring)
        if problem is None:
            return fields
        warnings.append(
            f"{path}: the package's cbt scoring disagrees with the item's response "
            f"processing ({problem}); the XML's rule was used."
        )
    fields = ItemFields(**described, scoring=parsed.scoring).clean()
    problem = disagreement(scorer, item_type, fields.content, fields.scoring)
    if problem is not None:
        raise ValidationError(
            "%(path)s: %(problem)s. A %(item_type)s item cannot score this "
            "response processing yet, so the item was not imported.",
            params={"path": path, "problem": problem, "item_type": item_type},
            details={"file": path, "rule": "response_processing"},
        )
    return fields


def _existing_items(keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        found.update(db.session.execute(select(Item.key, Item.id).where(Item.key.in_(chunk))).all())
    return found


def _import_stimuli(package, resources, prepared, media_rewriter, actor) -> dict[str, int]:
    wanted = {p.stimulus_path for p in prepared if p.stimulus_path}
    by_path = {}
    declared = {}
    for resource in resources:
        if resource.kind.startswith(STIMULUS_RESOURCES):
            declared[resolve_href("imsmanifest.xml", resource.href)] = resource
    for path in sorted(wanted):
        if path not in package:
            raise ValidationError(
                "The stimulus %(path)s is not in the package.", params={"path": path}
            )
        identifier, title, language, html = read_stimulus(
            upgrade(package.read_xml(path)), path, media_rewriter(path)
        )
        ours = declared[path].ours if path in declared else {}
        key = ours.get("key") or identifier
        stimulus = create_stimulus(
            key=str(key), html=html, title=title, language=language, actor=actor
        )
        by_path[path] = stimulus.id
    return by_path


def _import_enemies(prepared: list[_Prepared], warnings: list[str]) -> int:
    keys = {k for p in prepared for k in p.enemies} | {p.key for p in prepared if p.enemies}
    if not keys:
        return 0
    ids = _existing_items(sorted(keys))
    pairs = set()
    for entry in prepared:
        for other in entry.enemies:
            if other not in ids:
                warnings.append(f"{entry.key}: enemy {other!r} is not in the bank; left out.")
                continue
            a, b = sorted((ids[entry.key], ids[other]))
            if a != b:
                pairs.add((a, b))
    if not pairs:
        return 0
    present = set(
        db.session.execute(
            select(ItemEnemy.item_id, ItemEnemy.enemy_item_id).where(
                ItemEnemy.item_id.in_({a for a, _ in pairs})
            )
        ).all()
    )
    db.session.add_all(ItemEnemy(item_id=a, enemy_item_id=b) for a, b in pairs - present)
    db.session.flush()
    return len(pairs)


# --------------------------------------------------------------------------- scoring


def package_item_scorer(
    data: bytes, identifier: str, limits: PackageLimits | None = None
) -> Scorer:
    """The compiled response processing of the item ``identifier`` in a package."""
    package = SafePackage(data, limits or PackageLimits())
    if "imsmanifest.xml" not in package:
        raise ValidationError("The package has no imsmanifest.xml at its root.")
    found = []
    for resource in _resources(package.read_xml("imsmanifest.xml")):
        if not resource.kind.startswith(ITEM_RESOURCES):
            continue
        path = resolve_href("imsmanifest.xml", resource.href)
        root = upgrade(package.read_xml(path))
        found.append(root.get("identifier") or "")
        if found[-1] == identifier:
            return _compile(root, path)
    listed = ", ".join(found[:20]) or "none"
    raise NotFound(
        "The package has no item %(identifier)r (its items: %(listed)s).",
        params={"identifier": identifier, "listed": listed},
        details={"item": identifier},
    )


def version_scorer(version: ItemVersion) -> Scorer:
    """The compiled response processing of a bank item version, from its QTI export."""
    return content_scorer(
        key=version.item.key,
        title=version.title,
        language=version.language,
        item_type=version.item_type,
        content=version.content,
        scoring=version.scoring,
    )


def content_scorer(
    *,
    key: str,
    title: str | None,
    language: str,
    item_type: str,
    content: dict[str, Any],
    scoring: dict[str, Any],
) -> Scorer:
    """The compiled response processing of item content (saved or not), from its QTI form."""
    xml = item_xml(
        identifier=_identifier(key),
        title=title or key,
        language=language,
        item_type=item_type,
        content=content,
        scoring=scoring,
        max_score=get_item_type(item_type).max_score(scoring),
    )
    return compile_item_xml(xml)
