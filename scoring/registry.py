"""The one small registry type: named classes that configuration and content refer to by name.

Item types (``item_bank.types.ITEM_TYPES``), selection rules (:data:`scoring.SELECTION_RULES`)
and stopping rules (:data:`scoring.STOPPING_RULES`) are each a :class:`Registry`, filled by its
``register`` class decorator. It lives in ``scoring`` because that is the one package every other
may import; it knows nothing of IRT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Name -> entry, read-only from outside; :meth:`register` is the only way in.

    Parameters
    ----------
    what : str
        What an entry is, for messages ("selection rule").
    name_of : callable
        The registered class's name (``lambda cls: cls.name``).
    check : callable, optional
        Raises ``ValueError`` for a class that may not be registered.
    instantiate : bool
        Keep one instance of each class (item types) rather than the class (rules).
    """

    def __init__(
        self,
        what: str,
        *,
        name_of: Callable[[type], str],
        check: Callable[[type], None] | None = None,
        instantiate: bool = False,
    ) -> None:
        self.what = what
        self._name_of = name_of
        self._check = check
        self._instantiate = instantiate
        self._entries: dict[str, Any] = {}

    def register(self, cls: type) -> type:
        """Class decorator: add ``cls`` under its name; a second class of that name is refused."""
        name = self._name_of(cls)
        if not name:
            raise ValueError(f"{cls.__name__} needs a name")
        if self._check is not None:
            self._check(cls)
        existing = self._entries.get(name)
        if existing is not None:
            existing_cls = type(existing) if self._instantiate else existing
            if existing_cls is not cls:
                raise ValueError(f"a {self.what} named {name!r} is already registered")
        self._entries[name] = cls() if self._instantiate else cls
        return cls

    def lookup(self, name: Any) -> T:
        """The entry of ``name``; ``ValueError`` naming the known ones otherwise."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.what} {name!r}; expected one of {sorted(self._entries)}"
            ) from None

    def build(self, config: str | Mapping[str, Any]) -> Any:
        """An instance from a name or a mapping ``{"rule": name, **settings}``."""
        if isinstance(config, str):
            config = {"rule": config}
        if not isinstance(config, Mapping) or "rule" not in config:
            raise ValueError(f"a {self.what} is a name or a mapping with 'rule', got {config!r}")
        settings = dict(config)
        name = settings.pop("rule")
        cls = self.lookup(name)
        try:
            return cls(**settings)
        except TypeError as exc:
            raise ValueError(f"bad settings for {self.what} {name!r}: {exc}") from None

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {sorted(self._entries)})"
