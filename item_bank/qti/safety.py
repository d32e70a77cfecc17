"""Reading untrusted QTI packages safely: zip limits, path checks and hardened XML parsing.

A package is refused, with a message that names the file and the rule, when it

- is larger than ``PackageLimits.max_package_bytes`` or not a zip;
- has too many entries, an encrypted entry, a symlink, an absolute path, a ``..`` component,
  a backslash or drive letter, or two entries with the same name;
- declares, or on reading turns out to have, more uncompressed bytes than allowed per file or
  in total, or a compression ratio above ``max_ratio`` (a zip bomb), per file or over the
  whole package (once it unpacks to more than ``total_ratio_floor_bytes``);
- holds XML with a DTD or entity declarations (XXE, billion laughs), or XML that is not UTF-8.

XML is then parsed by lxml with entity resolution, network access and huge trees all off.
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from lxml import etree

from cbt.errors import DomainError, ErrorCode, ValidationError

__all__ = ["PackageLimits", "SafePackage", "parse_xml", "resolve_href"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class PackageLimits:
    """How large a package may be; the defaults fit a 10,000-item bank with its media."""

    max_package_bytes: int = 256 * MiB
    max_entries: int = 100_000
    max_file_bytes: int = 25 * MiB
    max_xml_bytes: int = 4 * MiB
    # The manifest carries every item's metadata: about 2 KB an item.
    max_manifest_bytes: int = 64 * MiB
    max_total_bytes: int = 2048 * MiB
    # Beyond this ratio a file is a bomb; only checked once a file is past 1 MiB, since small
    # XML files legitimately compress very well.
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MiB
    # The whole package, from the sizes its directory declares, before anything is unpacked:
    # many small, very compressible files pass the per-file checks but not this budget.
    total_ratio_floor_bytes: int = 64 * MiB


def _reject(message: str, **details: Any) -> ValidationError:
    return ValidationError(message, details={"rule": "package_safety", **details})


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse one XML file from a package: UTF-8 only, no DTD, no entities, no network."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _reject(f"{name}: XML files must be UTF-8.", file=name) from None
    try:
        # defusedxml refuses any DTD or entity declaration before lxml sees the file.
        defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise _reject(
            f"{name}: DTDs and entity declarations are not allowed ({type(error).__name__}).",
            file=name,
        ) from None
    except Exception as error:  # expat's ParseError and friends
        raise _reject(f"{name}: not well-formed XML ({error}).", file=name) from None
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise _reject(f"{name}: not well-formed XML ({error}).", file=name) from None
    if root.getroottree().docinfo.doctype:
        raise _reject(f"{name}: DTDs are not allowed.", file=name)
    return root


def _check_name(name: str) -> str:
    if "\x00" in name or "\\" in name:
        raise _reject(f"{name!r}: backslashes and NUL are not allowed in paths.", file=name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _reject(f"{name!r}: absolute paths are not allowed.", file=name)
    parts = name.split("/")
    if any(part == ".." for part in parts):
        raise _reject(f"{name!r}: '..' in a path is not allowed (path traversal).", file=name)
    normal = posixpath.normpath(name)
    if normal.startswith("../") or normal == "..":
        raise _reject(f"{name!r}: the path leaves the package.", file=name)
    return normal


def resolve_href(base_file: str, href: str) -> str:
    """A package path for ``href`` as written in ``base_file``; traversal and URLs refused."""
    if not href or "://" in href or href.startswith(("/", "\\")) or ":" in href.split("/")[0]:
        raise _reject(f"{base_file}: {href!r} is not a path inside the package.", file=base_file)
    if "\\" in href or "\x00" in href:
        raise _reject(f"{base_file}: {href!r} has a backslash or NUL.", file=base_file)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), href))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise _reject(
            f"{base_file}: {href!r} points outside the package (path traversal).", file=base_file
        )
    return joined


class SafePackage:
    """A zip opened for reading under ``PackageLimits``; files are read lazily and bounded."""

    def __init__(self, data: bytes, limits: PackageLimits | None = None) -> None:
        self.limits = limits or PackageLimits()
        if len(data) > self.limits.max_package_bytes:
            raise DomainError(
                "The package is larger than %(megabytes)s MB.",
                params={"megabytes": self.limits.max_package_bytes // MiB},
                code=ErrorCode.PAYLOAD_TOO_LARGE,
                status=413,
                details={"size_bytes": len(data)},
            )
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError) as error:
            raise _reject(f"The package is not a zip file ({error}).") from None
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_entries:
            raise _reject(
                f"The package has {len(infos)} files; at most {self.limits.max_entries}.",
            )
        self._entries: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                _check_name(info.filename.rstrip("/") or ".")
                continue
            name = _check_name(info.filename)
            if info.flag_bits & 0x1:
                raise _reject(f"{name}: encrypted files are not allowed.", file=name)
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise _reject(f"{name}: symbolic links are not allowed.", file=name)
            if name in self._entries:
                raise _reject(f"{name}: the package holds two files with this name.", file=name)
            self._check_size(name, info.file_size, info.compress_size)
            total += info.file_size
            if total > self.limits.max_total_bytes:
                raise _reject(
                    f"The package unpacks to more than {self.limits.max_total_bytes // MiB} MB.",
                )
            self._entries[name] = info
        budget = max(self.limits.total_ratio_floor_bytes, self.limits.max_ratio * len(data))
        if total > budget:
            raise _reject(
                f"The package unpacks to {total // MiB} MB from {len(data) // 1024} KB, which "
                "looks like a zip bomb.",
                size_bytes=total,
            )

    def _check_size(self, name: str, size: int, compressed: int) -> None:
        limit = self.limits.max_file_bytes
        if name == "imsmanifest.xml":
            limit = self.limits.max_manifest_bytes
        elif name.lower().endswith(".xml"):
            limit = self.limits.max_xml_bytes
        if size > limit:
            raise _reject(
                f"{name} unpacks to {size} bytes; at most {limit}.", file=name, size_bytes=size
            )
        if size > self.limits.ratio_floor_bytes and size > self.limits.max_ratio * max(
            compressed, 1
        ):
            raise _reject(
                f"{name} is compressed {size / max(compressed, 1):.0f} to 1, which looks like a "
                "zip bomb.",
                file=name,
            )

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def read(self, name: str) -> bytes:
        """A file's bytes, never more than it declared (a lying header is caught here)."""
        info = self._entries.get(name)
        if info is None:
            raise _reject(f"The package has no file {name!r}.", file=name)
        declared = info.file_size
        try:
            with self._zip.open(info) as stream:
                data = stream.read(declared + 1)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as error:
            raise _reject(f"{name} cannot be unpacked ({error}).", file=name) from None
        if len(data) > declared:
            raise _reject(f"{name} holds more data than its header declares.", file=name)
        self._check_size(name, len(data), info.compress_size)
        return data

    def read_xml(self, name: str) -> etree._Element:
        return parse_xml(self.read(name), name)
