"""QTI 3.0 import and export: safe package reading, item codecs, content packages."""

from item_bank.qti.items import QTI_NS, ParsedItem, item_xml, read_item
from item_bank.qti.package import (
    CBT_NS,
    ImportOptions,
    content_scorer,
    export_package,
    import_package,
    package_item_scorer,
    version_scorer,
)
from item_bank.qti.safety import PackageLimits, SafePackage, parse_xml

__all__ = [
    "CBT_NS",
    "QTI_NS",
    "ImportOptions",
    "PackageLimits",
    "ParsedItem",
    "SafePackage",
    "content_scorer",
    "export_package",
    "import_package",
    "item_xml",
    "package_item_scorer",
    "parse_xml",
    "read_item",
    "version_scorer",
]
