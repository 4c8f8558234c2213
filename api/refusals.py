"""The decisions placematch will not make, and why: the one vocabulary of refusals that the
panel's decisions (:mod:`api.panel_decisions`, :mod:`api.panel_memory`), the managers'
approvals (:mod:`api.approval_decisions`) and grade changes (:mod:`api.grade_changes`) raise.

No web framework here: the routes turn a :class:`Refused` into an HTTP answer by its ``kind``
(404/403/409/422), the pages into a sentence on the page."""

from __future__ import annotations


class Refused(Exception):
    """A decision the service will not make, and why. ``kind`` says which sort of refusal it
    is (the routes map it to 404/403/409/422); ``fields`` name where the problem is."""

    kind = "conflict"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, fields: list[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.fields = list(fields)


class NotFound(Refused):
    kind = "not_found"


class NotYours(Refused):
    """The signed-in user's role is not the one this decision belongs to."""

    kind = "forbidden"


class Invalid(Refused):
    """The request names something that does not exist or cannot be used."""

    kind = "invalid"


class Conflict(Refused):
    """The decision clashes with the current state (no free bed, already decided...)."""

    kind = "conflict"


class Stale(Conflict):
    """The caller decided on an older version of the record than the current one."""

    code = "stale"
