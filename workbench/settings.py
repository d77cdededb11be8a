"""Settings: one frozen object read from the environment. Every field is documented in README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

# Each setting: (environment variable, help text). The README's settings table must list them all.
ENV = {
    "home": ("WORKBENCH_HOME", "Data folder: database, vectors, uploads, MLflow store."),
    "profile": ("WORKBENCH_PROFILE",
                "`embedded` (a DuckDB file) or `team` (the relational state in PostgreSQL)."),
    "db_path": ("WORKBENCH_DB", "DuckDB file. Default `$WORKBENCH_HOME/workbench.duckdb`."),
    "postgres_url": ("WORKBENCH_POSTGRES_URL",
                     "The team profile's PostgreSQL database, `postgresql://user:password@host:port/name`."),
    "lancedb_uri": ("WORKBENCH_LANCEDB_URI", "LanceDB folder or object-store URI."),
    "lake_path": ("WORKBENCH_LAKE_PATH", "The team profile's lake files (usage rollups): a folder or an "
                  "s3:// URI. Default `$WORKBENCH_HOME/lake`."),
    "mlflow_tracking_uri": ("MLFLOW_TRACKING_URI", "MLflow store. Default a SQLite file."),
    "mlflow_ui_url": ("WORKBENCH_MLFLOW_UI_URL",
                      "Where `workbench mlflow-ui` serves MLflow's own UI (the Models page links it)."),
    "llm_provider": ("WORKBENCH_LLM_PROVIDER", "`extractive` (offline) or `openai`."),
    "llm_base_url": ("WORKBENCH_LLM_BASE_URL", "Base URL of an OpenAI-compatible endpoint."),
    "llm_model": ("WORKBENCH_LLM_MODEL", "Model name sent to the endpoint."),
    "llm_api_key": ("WORKBENCH_LLM_API_KEY", "Key for the endpoint (never stored)."),
    "llm_timeout_s": ("WORKBENCH_LLM_TIMEOUT_S", "Seconds to wait for the endpoint before giving up."),
    "upload_max_mb": ("WORKBENCH_UPLOAD_MAX_MB", "Largest accepted upload, in MB."),
    "lock_wait_s": ("WORKBENCH_LOCK_WAIT_S", "Seconds to wait for a held database."),
    "db_linger_s": ("WORKBENCH_DB_LINGER_S",
                    "Seconds the app and the API keep an idle database connection open (0: close at once)."),
    "login_max_failures": ("WORKBENCH_LOGIN_MAX_FAILURES", "Failed logins before a lock."),
    "login_lock_minutes": ("WORKBENCH_LOGIN_LOCK_MINUTES", "Minutes an account stays locked."),
    "demo_seed": ("WORKBENCH_DEMO_SEED", "Random seed of the demo data."),
    "chunk_size": ("WORKBENCH_CHUNK_SIZE", "Characters per document chunk."),
    "chunk_overlap": ("WORKBENCH_CHUNK_OVERLAP", "Characters shared by neighbouring chunks."),
    "embedding_model": ("WORKBENCH_EMBEDDING_MODEL",
                        "Local sentence-transformers model folder. Default: the packaged all-MiniLM-L6-v2."),
    "embedding_backend": ("WORKBENCH_EMBEDDING_BACKEND",
                          "Embedding encoder: auto, fp32, bf16, onnx-int8, onnx-fp32, or hash (tests)."),
    "ann_min_rows": ("WORKBENCH_ANN_MIN_ROWS", "Chunks before a vector (ANN) index is built."),
    "api_address": ("WORKBENCH_API_ADDRESS", "Address the HTTP API listens on (`workbench api`)."),
    "api_port": ("WORKBENCH_API_PORT", "Port of the HTTP API."),
    "backup_key": ("WORKBENCH_BACKUP_KEY",
                   "Secret that signs backups and is required to restore them (kept outside the backup)."),
}

PROFILES = ("embedded", "team")
PROFILE_FILE = "profile.env"  # in the data home: KEY=VALUE lines of a team deployment's settings
# the object store's settings in profile.env -> LanceDB's storage options
STORAGE_OPTIONS = {"AWS_ACCESS_KEY_ID": "aws_access_key_id",
                   "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key", "AWS_ENDPOINT_URL": "aws_endpoint",
                   "AWS_REGION": "aws_region", "AWS_ALLOW_HTTP": "allow_http"}


def read_profile(path: Path) -> dict[str, str]:
    """A profile.env's settings ({} when there is none)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and not key.startswith("#"):
            found[key.strip()] = value.strip().strip("'\"")
    return found


def write_profile(path: Path, values: dict[str, str]) -> None:
    """Write a profile.env (owner only: it holds the database's password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by `workbench team up`: this data home's team deployment.\n")
        handle.writelines(f"{k}={v}\n" for k, v in values.items())
EMBEDDING_BACKENDS = ("auto", "fp32", "bf16", "onnx-int8", "onnx-fp32", "hash")


@dataclass(frozen=True)
class Settings:
    """Where the workbench keeps its state and how it reaches its optional remotes."""

    home: Path = Path("data")
    profile: str = ""  # "": the data home's profile.env says, else embedded
    db_path: Path = field(default=None)  # type: ignore[assignment]
    postgres_url: str = field(default="", repr=False)
    lancedb_uri: str = ""
    lake_path: str = ""
    mlflow_tracking_uri: str = ""
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    llm_provider: str = "extractive"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout_s: float = 60.0
    upload_max_mb: int = 50
    lock_wait_s: float = 5.0
    db_linger_s: float = 0.25
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    demo_seed: int = 42
    chunk_size: int = 1000
    chunk_overlap: int = 200
    embedding_model: str = ""
    embedding_backend: str = "auto"
    ann_min_rows: int = 10_000
    api_address: str = "127.0.0.1"
    api_port: int = 8502
    backup_key: str = field(default="", repr=False)
    # LanceDB's object-store options (keys, endpoint), from the home's profile.env
    storage_options: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        home = Path(self.home).expanduser().resolve()
        object.__setattr__(self, "home", home)
        if not self.profile:
            self._from_profile_file(home / PROFILE_FILE)
        if self.db_path is None:
            object.__setattr__(self, "db_path", home / "workbench.duckdb")
        else:
            object.__setattr__(self, "db_path", Path(self.db_path).expanduser().resolve())
        if not self.lancedb_uri:
            object.__setattr__(self, "lancedb_uri", str(home / "lancedb"))
        if not self.lake_path:
            object.__setattr__(self, "lake_path", str(home / "lake"))
        if not self.mlflow_tracking_uri:
            object.__setattr__(self, "mlflow_tracking_uri", f"sqlite:///{home / 'mlflow.db'}")
        if self.profile not in PROFILES:
            raise ValueError(f"WORKBENCH_PROFILE must be 'embedded' or 'team', not {self.profile!r}")
        if self.profile == "team" and not self.postgres_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("The team profile needs WORKBENCH_POSTGRES_URL "
                             "(postgresql://user:password@host:port/database)")
        if self.llm_provider not in ("extractive", "openai"):
            raise ValueError(
                f"WORKBENCH_LLM_PROVIDER must be 'extractive' or 'openai', not {self.llm_provider!r}"
            )
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ValueError(f"WORKBENCH_EMBEDDING_BACKEND must be one of {', '.join(EMBEDDING_BACKENDS)}, "
                             f"not {self.embedding_backend!r}")
        if self.backup_key and len(self.backup_key) < 16:
            raise ValueError("WORKBENCH_BACKUP_KEY must have at least 16 characters "
                             "(e.g. `openssl rand -hex 32`)")
        if not 0 <= self.db_linger_s <= 1:  # well below the lock wait of a process it keeps out
            raise ValueError("WORKBENCH_DB_LINGER_S must be between 0 and 1 second")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ValueError("WORKBENCH_CHUNK_OVERLAP must be at least 0 and below WORKBENCH_CHUNK_SIZE")

    def _from_profile_file(self, path: Path) -> None:
        """A data home made for a team deployment says so in its profile.env (written by `workbench
        team up`): every process pointed at the home then uses the deployment, unless the
        environment or the caller chose otherwise."""
        found = read_profile(path)
        object.__setattr__(self, "profile", found.get("WORKBENCH_PROFILE", "embedded"))
        pairs = (("postgres_url", "WORKBENCH_POSTGRES_URL"), ("lancedb_uri", "WORKBENCH_LANCEDB_URI"),
                 ("lake_path", "WORKBENCH_LAKE_PATH"), ("mlflow_tracking_uri", "MLFLOW_TRACKING_URI"))
        for name, var in pairs:
            if not getattr(self, name) and found.get(var):
                object.__setattr__(self, name, found[var])
        if not self.storage_options:
            options = {key: found[var] for var, key in STORAGE_OPTIONS.items() if found.get(var)}
            object.__setattr__(self, "storage_options", options)

    @property
    def samples_dir(self) -> Path:
        """Sample inputs shipped with the repository (documents, dialogues)."""
        return Path(__file__).resolve().parent.parent / "data" / "samples"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def exports_dir(self) -> Path:
        """Files written by exports that register a dataset (QA pairs)."""
        return self.home / "exports"

    @property
    def cache_dir(self) -> Path:
        """Derived artefacts worth keeping (the exported embedding model)."""
        return self.home / "cache"


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from environment variables; unset ones keep their defaults."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    for name, (var, _help) in ENV.items():
        raw = environ.get(var)
        if raw in (None, ""):
            continue
        kind = types[name]
        try:
            values[name] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
        except ValueError:
            raise ValueError(f"{var} must be a number, not {raw!r}") from None
    if "llm_api_key" not in values and environ.get("OPENAI_API_KEY"):
        values["llm_api_key"] = environ["OPENAI_API_KEY"]
    return Settings(**values)  # type: ignore[arg-type]
