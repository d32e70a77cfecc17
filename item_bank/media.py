"""Media assets: images, audio and video stored once by SHA-256, after MIME and size checks.

The declared type must agree with the file's own signature (magic bytes), so a script renamed
``picture.png`` is refused. SVG is not accepted: it can carry scripts.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from cbt.db import db
from cbt.errors import DomainError, ErrorCode, NotFound, ValidationError
from item_bank.models import MediaAsset

__all__ = [
    "MAX_MEDIA_BYTES",
    "MEDIA_EXTENSIONS",
    "MEDIA_URL",
    "find_media",
    "get_media",
    "media_hashes",
    "mime_for_filename",
    "sniff_mime",
    "store_media",
]

MAX_MEDIA_BYTES = 20 * 1024 * 1024
MEDIA_URL = "/api/v1/media/"
MEDIA_REF = re.compile(r"/api/v1/media/([0-9a-f]{64})")

# Canonical MIME type -> extension used in exported packages.
MEDIA_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
_ALIASES = {"image/jpg": "image/jpeg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav"}
_BY_EXTENSION = {ext: mime for mime, ext in MEDIA_EXTENSIONS.items()} | {
    "jpeg": "image/jpeg",
    "oga": "audio/ogg",
    "ogv": "video/ogg",
}
# Containers that hold either audio or video share a signature.
_SAME_FAMILY = {"audio/mp4": "video/mp4", "audio/webm": "video/webm"}


def sniff_mime(data: bytes) -> str | None:
    """The media type a file's first bytes prove, or None."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    return None


def mime_for_filename(name: str) -> str | None:
    return _BY_EXTENSION.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


def _check(data: bytes, declared: str, filename: str) -> str:
    declared = _ALIASES.get(declared.lower().strip(), declared.lower().strip())
    if declared not in MEDIA_EXTENSIONS:
        raise DomainError(
            "%(file)s: %(declared)r is not an accepted media type.",
            params={"file": filename or "The file", "declared": declared},
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            status=415,
            details={"accepted": sorted(MEDIA_EXTENSIONS), "filename": filename},
        )
    if len(data) > MAX_MEDIA_BYTES:
        raise DomainError(
            "%(file)s is larger than %(megabytes)s MB.",
            params={"file": filename or "The file", "megabytes": MAX_MEDIA_BYTES // (1024 * 1024)},
            code=ErrorCode.PAYLOAD_TOO_LARGE,
            status=413,
            details={"size_bytes": len(data), "filename": filename},
        )
    if not data:
        raise ValidationError(
            "%(file)s is empty.",
            params={"file": filename or "The file"},
            details={"filename": filename},
        )
    sniffed = sniff_mime(data)
    if sniffed is None or (sniffed != declared and _SAME_FAMILY.get(declared) != sniffed):
        raise ValidationError(
            "%(file)s does not contain %(declared)s data.",
            params={"file": filename or "The file", "declared": declared},
            details={"declared": declared, "detected": sniffed, "filename": filename},
        )
    return declared


def store_media(
    data: bytes, mime_type: str, *, filename: str = "", created_by_id: int | None = None
) -> MediaAsset:
    """Store a file (or find the identical one already stored). Flushes."""
    mime_type = _check(data, mime_type, filename)
    digest = hashlib.sha256(data).hexdigest()
    existing = find_media(digest)
    if existing is not None:
        return existing
    asset = MediaAsset(
        sha256=digest,
        mime_type=mime_type,
        size_bytes=len(data),
        filename=filename[-255:],
        data=data,
        created_by_id=created_by_id,
    )
    db.session.add(asset)
    db.session.flush()
    return asset


def find_media(sha256: str) -> MediaAsset | None:
    return db.session.execute(
        select(MediaAsset).where(MediaAsset.sha256 == sha256)
    ).scalar_one_or_none()


def get_media(sha256: str) -> MediaAsset:
    asset = find_media(sha256) if re.fullmatch(r"[0-9a-f]{64}", sha256 or "") else None
    if asset is None:
        raise NotFound("No such media file.", details={"sha256": sha256})
    return asset


def media_hashes(html: str) -> list[str]:
    """SHA-256 names of the media an HTML fragment refers to, in order, without repeats."""
    return list(dict.fromkeys(MEDIA_REF.findall(html)))
