"""The published-form cost on the submit path: a session state named by item version ids.

    python benchmarks/bench_state_encoding.py

Since published forms, the state the store and the row keep names items by version id, so each
request maps positions to ids on the way out and back on the way in. This times that mapping
against the whole encode/decode it sits in (a 30-item CAT state), as a ratio, so a loaded machine
still gives a meaningful figure.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

import numpy as np
from _common import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from delivery import engine
    from delivery.service.persistence import _decode, _encode
    from tests.unit.delivery.test_engine import bank, build, cat

    test = build(cat(), items=bank(n=2000))
    state = engine.SessionState(
        session_id="s", student_id=1, administration_id=1, test_definition_id=1,
        status="active", seed=7, snapshot_id=1,
    )  # fmt: skip
    engine.start(test, state, 0.0)
    rng = np.random.default_rng(1)
    for step in range(29):
        engine.record_answer(test, state, int(rng.random() < 0.5), f"k{step}")
        engine.choose_next(test, state, 0.0)
        if state.current is None:
            break
    raw = _encode(test, state)
    n = 2000
    mapping = timeit.timeit(lambda: engine._to_ids(test, state.to_dict()), number=n) / n
    plain = timeit.timeit(lambda: state.to_dict(), number=n) / n
    back = timeit.timeit(lambda: engine.state_from_dict(test, _decode(raw)), number=n) / n
    unmapped = {k: v for k, v in _decode(raw).items() if k != "item_ids"}
    decode = timeit.timeit(
        lambda: (_decode(raw), engine.SessionState.from_dict(unmapped)), number=n
    )
    decode /= n
    encode = timeit.timeit(lambda: _encode(test, state), number=n) / n
    print(f"machine: {machine_line()}")
    print(f"state of {state.n_answered} answered items, {len(raw)} bytes in the store")
    added = (mapping - plain) * 1e6
    print(f"  encode with ids {encode * 1e6:.1f} us; the ids mapping adds {added:.1f} us")
    print(f"  decode with ids {back * 1e6:.1f} us; without the mapping {decode * 1e6:.1f} us")


if __name__ == "__main__":
    main()
