"""Demo tenants and people: two organisations, a dozen users across all roles."""

from __future__ import annotations

import base64
import hashlib

ORGS = {
    "northwind": {
        "name": "Northwind Mobile",
        "business_description": "Mobile network operator and phone retailer with a customer "
                                "call centre.",
        "address": "200 Harbour Street, Leeds LS1 4AP",
        "phone_number": "+44 113 555 0100",
        "website": "https://northwind.example",
        "projects": [("Customer care line", "Inbound support calls: billing, devices, network"),
                     ("Retention desk", "Cancellations and upgrades")],
    },
    "helio": {
        "name": "Helio Cloud",
        "business_description": "B2B analytics platform with an AI assistant and a support "
                                "desk.",
        "address": "55 Market Lane, Bristol BS1 2AA",
        "phone_number": "+44 117 555 0142",
        "website": "https://helio.example",
        "projects": [("Support desk", "Customer support calls and tickets"),
                     ("Onboarding", "Calls with new accounts")],
    },
}

DEMO_PASSWORD = "workbench-demo"

# (org, username, full name, role, plan, fading): fading users go quiet near the end of the window
USERS = [
    ("northwind", "alice", "Alice Morgan", "admin", "enterprise", False),
    ("northwind", "dan", "Dan Okafor", "data_scientist", "pro", False),
    ("northwind", "anna", "Anna Kowalski", "analyst", "pro", False),
    ("northwind", "arthur", "Arthur Reyes", "analyst", "free", True),
    ("northwind", "mike", "Mike Chen", "manager", "pro", False),
    ("northwind", "vera", "Vera Lindqvist", "viewer", "free", True),
    ("northwind", "lou", "Lou Fischer", "analyst", "free", False),  # imported from seed 000
    ("helio", "hannah", "Hannah Becker", "admin", "enterprise", False),
    ("helio", "diego", "Diego Alvarez", "data_scientist", "pro", False),
    ("helio", "amir", "Amir Haddad", "analyst", "pro", False),
    ("helio", "lena", "Lena Novak", "analyst", "free", True),
    ("helio", "maria", "Maria Santos", "manager", "pro", False),
    ("helio", "victor", "Victor Dubois", "viewer", "free", False),
]
LEGACY_USERS = {"lou"}  # carry seed 000's pbkdf2_sha256 hash until their first login
FADING = {u[1] for u in USERS if u[5]}


def legacy_pbkdf2_hash(password: str, salt: bytes, rounds: int = 29000) -> str:
    """A passlib-format pbkdf2_sha256 hash, as seed 000's auth.py stored them."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(digest)}"
