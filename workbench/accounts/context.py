"""Who is acting: the user, their organisation and what their roles allow."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import NotAllowed


@dataclass(frozen=True)
class Context:
    """Who is acting: the user, their organisation and what their roles allow."""

    user_id: int
    user_uuid: str
    username: str
    full_name: str
    org_id: int
    org_uuid: str
    org_name: str
    roles: frozenset[str]
    permissions: frozenset[str]
    # Derived from the password hash (as Django's session auth hash): a password change or an admin
    # reset changes it, which ends every session opened with the old password.
    session_stamp: str = ""
    # An API request acts as the key's creator with the key's role: `via` names the key ("key
    # wbk_AbCdEf"), and the audit log records it beside the user.
    via: str = ""

    @property
    def actor(self) -> str:
        """Who acted, as the audit log writes it: the user, and the API key when one was used."""
        return f"{self.username} ({self.via})" if self.via else self.username

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "admin:full" in self.permissions

    def require(self, permission: str) -> None:
        """Raise NotAllowed unless the user holds the permission."""
        if not self.can(permission):
            raise NotAllowed(f"{self.username} may not do this: it needs the '{permission}' "
                             "permission. Ask an admin of your organisation for a role that has it.")
