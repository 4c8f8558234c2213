"""The demo's one error, in a module of its own so every stage can raise it without importing
the stages before it."""


class DemoError(RuntimeError):
    """The demo cannot be built here (e.g. the database already holds providers or referrals)."""
