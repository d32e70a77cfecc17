"""Every cross-package signal, declared in one place (blinker).

Packages send these instead of importing each other. The item bank sends; delivery's service
receives (it connects when it is built): a definition compiled for a simulation is dropped when
its pool or parameters change. Published forms are immutable and never follow.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sent by the item bank when a parameter set is published; kwargs: parameter_set_id
parameter_set_published = _signals.signal("parameter-set-published")

#: sent by the item bank when a pool's members or active parameter set change; kwargs: pool_id
pool_changed = _signals.signal("pool-changed")

#: sent by delivery when a finished session's result is recorded, inside that transaction (a
#: receiver's writes commit with it); kwargs: session_id, administration_id, student_id
session_finished = _signals.signal("session-finished")

#: sent when a student's identity is deleted, inside that transaction (a receiver removes what it
#: keeps of the person, e.g. an LTI platform's user id); kwargs: user_id
identity_deleted = _signals.signal("identity-deleted")

#: sent by the item bank, inside the import's transaction, when a QTI package's assessment tests
#: were mapped and the caller chose a parameter set; kwargs: tests (a list of {identifier, title,
#: settings, item_version_ids}), parameter_set_id. A receiver (delivery) makes the test
#: definitions and returns {identifier: {status, definition, pool}}; raising refuses the import.
qti_tests_imported = _signals.signal("qti-tests-imported")
