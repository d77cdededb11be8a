"""The few exceptions the package raises; each carries a message a user can act on."""


class WorkbenchError(Exception):
    """Base class: the message is meant for the user."""


class NotAllowed(WorkbenchError):
    """The acting user lacks the permission, or the row belongs to another organisation."""


class NotFound(WorkbenchError):
    """The thing asked for does not exist (or is not visible to this user)."""


class InvalidInput(WorkbenchError):
    """Input failed validation; nothing was written."""


class AuthFailed(WorkbenchError):
    """Login failed: wrong user or password, disabled or locked account."""


class StoreBusy(WorkbenchError):
    """The database file is held by another process."""


class NotInitialised(WorkbenchError):
    """The data home or the database does not exist yet."""


class Conflict(WorkbenchError):
    """A concurrent write changed the same rows; the transaction was rolled back."""
