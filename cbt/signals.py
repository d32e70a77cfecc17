"""Every cross-package signal, declared in one place (blinker).

Packages send these instead of importing each other; receivers are connected in cbt.app.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sent by delivery when a session ends with a result; kwargs: session_id, result_id, student_id
session_finished = _signals.signal("session-finished")

#: sent by delivery after an answer is durable; kwargs: session_id, item_version_id, score
response_recorded = _signals.signal("response-recorded")

#: sent by the item bank when a parameter set is published; kwargs: parameter_set_id
parameter_set_published = _signals.signal("parameter-set-published")
