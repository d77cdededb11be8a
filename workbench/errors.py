"""The few exceptions the package raises; each carries a message a user can act on."""


class WorkbenchError(Exception):
    """Base class: the message is meant for the user."""


class NotAllowed(WorkbenchError):
    """The acting user lacks the permission, or the row belongs to another organisation."""


class NotFound(WorkbenchError):
    """The thing asked for does not exist (or is not visible to this user)."""


class InvalidInput(WorkbenchError):
    """Input failed validation; nothing was written."""


class TooLarge(InvalidInput):
    """A request or file over its size limit; nothing was read into the store."""


class AuthFailed(WorkbenchError):
    """Login failed: wrong user or password, disabled or locked account."""


class StoreBusy(WorkbenchError):
    """The database file is held by another process."""


class NotInitialised(WorkbenchError):
    """The data home or the database does not exist yet."""


class Conflict(WorkbenchError):
    """A concurrent write changed the same rows; the transaction was rolled back."""


MAX_ERRORS = 50  # problems an import report lists before it stops reading


class ImportReport(InvalidInput):
    """A file that cannot be imported: every problem found, with its row number."""

    def __init__(self, filename: str, problems: list[tuple[int | None, str]]) -> None:
        self.filename, self.problems = filename, problems
        shown = "; ".join(f"row {row}: {text}" if row else text for row, text in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{filename}: nothing imported. {shown}{more}")
