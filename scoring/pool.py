"""Item pool: item parameters plus what adaptive selection needs to know about each item."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.parameters import ItemParameters

__all__ = ["ItemPool"]

_NO_ENEMIES = np.empty(0, dtype=np.intp)
_NO_ENEMIES.setflags(write=False)


@dataclass(frozen=True, eq=False)
class ItemPool:
    """Items available to an adaptive test, with content areas, enemies and exposure parameters.

    Build one per (test definition, parameter set) and keep it in memory: rules precompute
    their lookup arrays from it once.

    Parameters
    ----------
    params : ItemParameters
        Parameters of every pool item; item ``j`` of the pool is ``params`` item ``j``.
    content_areas : sequence of str, length n_items, optional
        Content area (for example a curriculum-code prefix) of each item.
    enemy_sets : iterable of iterable of int, optional
        Groups of mutually exclusive items: once one member is administered, the others are
        not eligible (enemy-item exclusion).
    exposure_parameters : array_like, shape (n_items,), optional
        Sympson-Hetter exposure-control parameters ``k_j`` in [0, 1]: the probability that item
        ``j`` is administered when selected. Default 1 (no control).
    testlets : iterable of iterable of int, optional
        Groups of items given together (a shared stimulus): choosing one member commits the
        test to the members not yet given, so content limits and the maximum length are
        checked against the whole group. An item belongs to at most one testlet.

    Attributes
    ----------
    area_index : ndarray of int, shape (n_items,)
        Index of each item's content area in :attr:`area_names` (-1 when no areas were given).
    area_names : tuple of str
        Sorted distinct content areas.
    """

    params: ItemParameters
    content_areas: tuple[str, ...] | None = None
    enemy_sets: tuple[tuple[int, ...], ...] = ()
    exposure_parameters: np.ndarray | None = None
    testlets: tuple[tuple[int, ...], ...] = ()
    area_index: np.ndarray = field(init=False, repr=False)
    area_names: tuple[str, ...] = field(init=False)
    _enemies: dict[int, np.ndarray] = field(init=False, repr=False)
    _testlet_members: tuple[np.ndarray, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.params, ItemParameters):
            raise TypeError("params must be ItemParameters")
        n = len(self.params)
        if self.content_areas is not None:
            areas = tuple(str(a) for a in self.content_areas)
            if len(areas) != n:
                raise ValueError(f"content_areas has {len(areas)} entries, expected {n}")
            names = tuple(sorted(set(areas)))
            lookup = {name: i for i, name in enumerate(names)}
            index = np.array([lookup[a] for a in areas], dtype=np.intp)
            object.__setattr__(self, "content_areas", areas)
        else:
            names = ()
            index = np.full(n, -1, dtype=np.intp)
        index.setflags(write=False)
        object.__setattr__(self, "area_names", names)
        object.__setattr__(self, "area_index", index)

        groups = []
        for g, members in enumerate(self.enemy_sets):
            try:
                group = tuple(sorted({int(m) for m in members}))
            except (TypeError, ValueError):
                raise ValueError(f"enemy set {g} must hold item indices") from None
            if any(not 0 <= m < n for m in group):
                raise ValueError(f"enemy set {g} names an item index outside 0..{n - 1}")
            if len(group) >= 2:
                groups.append(group)
        enemies: dict[int, set[int]] = {}
        for group in groups:
            for m in group:
                enemies.setdefault(m, set()).update(x for x in group if x != m)
        object.__setattr__(self, "enemy_sets", tuple(groups))
        object.__setattr__(
            self,
            "_enemies",
            {m: np.array(sorted(others), dtype=np.intp) for m, others in enemies.items()},
        )

        testlets, seen = [], set()
        for t, members in enumerate(self.testlets):
            try:
                testlet = tuple(sorted({int(m) for m in members}))
            except (TypeError, ValueError):
                raise ValueError(f"testlet {t} must hold item indices") from None
            if any(not 0 <= m < n for m in testlet):
                raise ValueError(f"testlet {t} names an item index outside 0..{n - 1}")
            if seen.intersection(testlet):
                raise ValueError(f"testlet {t} shares items with an earlier testlet")
            seen.update(testlet)
            if len(testlet) >= 2:
                testlets.append(testlet)
        object.__setattr__(self, "testlets", tuple(testlets))
        object.__setattr__(
            self, "_testlet_members", tuple(np.array(t, dtype=np.intp) for t in testlets)
        )

        if self.exposure_parameters is not None:
            k = np.array(self.exposure_parameters, dtype=float)
            if k.shape != (n,):
                raise ValueError(f"exposure_parameters must have shape ({n},), got {k.shape}")
            if not np.all((k >= 0) & (k <= 1)):
                raise ValueError("exposure_parameters must lie in [0, 1]")
            k.setflags(write=False)
            object.__setattr__(self, "exposure_parameters", k)

    @classmethod
    def from_item_ids(
        cls,
        params: ItemParameters,
        *,
        content_areas: Sequence[str] | None = None,
        enemy_sets: Iterable[Iterable[str]] = (),
        exposure_parameters: Any = None,
        testlets: Iterable[Iterable[str]] = (),
    ) -> ItemPool:
        """Like the constructor, but enemy sets and testlets name items by ``params.item_ids``."""
        sets = tuple(tuple(int(i) for i in params.index_of(group)) for group in enemy_sets)
        units = tuple(tuple(int(i) for i in params.index_of(group)) for group in testlets)
        return cls(params, content_areas, sets, exposure_parameters, units)

    def __len__(self) -> int:
        return len(self.params)

    def enemies_of(self, item: int) -> np.ndarray:
        """Indices of the enemies of ``item`` (empty if none)."""
        return self._enemies.get(int(item), _NO_ENEMIES)

    def with_exposure_parameters(self, exposure_parameters: Any) -> ItemPool:
        """A copy of this pool with new Sympson-Hetter parameters."""
        return ItemPool(
            self.params, self.content_areas, self.enemy_sets, exposure_parameters, self.testlets
        )

    def testlets_left(self, administered: np.ndarray) -> list[np.ndarray]:
        """Members not yet administered of each testlet that has at least one, as index
        arrays: what choosing any of them commits the test to."""
        if not self._testlet_members:
            return []
        given = np.zeros(len(self), dtype=bool)
        given[administered] = True
        left = (members[~given[members]] for members in self._testlet_members)
        return [members for members in left if members.size]
