"""Settings: documented fields, the env > toml precedence, URL mapping and the token key."""

import stat
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from candor.config import Settings

# Flags and the test's own settings alone configure things: no CANDOR_* variable or
# candor.toml from the developer's shell leaks in.
pytestmark = pytest.mark.usefixtures("clean_candor_env")


def _undocumented(model: type[BaseModel], prefix: str = "") -> list[str]:
    missing: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if not (field.description or "").strip():
            missing.append(path)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += _undocumented(annotation, f"{path}.")
    return missing


def test_every_setting_including_nested_sections_has_a_description() -> None:
    assert _undocumented(Settings) == []


def test_the_description_check_descends_into_sections() -> None:
    class Section(BaseModel):
        documented: int = Field(1, description="Documented.")
        bare: int = 2

    class Root(BaseModel):
        section: Section = Field(default_factory=Section, description="A section.")
        blank: int = Field(3, description=" ")

    assert _undocumented(Root) == ["section.bare", "blank"]


def test_zero_config_defaults_to_sqlite_in_the_data_dir() -> None:
    settings = Settings()

    assert settings.data_dir == Path("candor-data")
    assert settings.sqlalchemy_url() == "sqlite+aiosqlite:///candor-data/candor.db"
    assert settings.server_name == "localhost"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANDOR_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("CANDOR_DATABASE_URL", "postgresql://u@db.example:5432/candor")
    monkeypatch.setenv("CANDOR_SERVER_NAME", "env.example")
    monkeypatch.setenv("CANDOR_RATE_LIMIT__ENABLED", "false")

    settings = Settings()

    assert settings.data_dir == tmp_path / "env-data"
    assert settings.database_url == "postgresql://u@db.example:5432/candor"
    assert settings.server_name == "env.example"
    assert settings.rate_limit.enabled is False
    # Other fields of the nested section keep their defaults.
    assert settings.rate_limit.burst == Settings().rate_limit.burst


def test_candor_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "candor.toml").write_text(
        'server_name = "toml.example"\n\n[rate_limit]\nburst = 7\n\n[http]\nport = 9009\n'
    )

    settings = Settings()

    assert settings.server_name == "toml.example"
    assert settings.rate_limit.burst == 7
    assert settings.http.port == 9009


def test_env_beats_toml_and_explicit_arguments_beat_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "candor.toml").write_text('server_name = "toml.example"\n')
    monkeypatch.setenv("CANDOR_SERVER_NAME", "env.example")

    assert Settings().server_name == "env.example"
    assert Settings(server_name="flag.example").server_name == "flag.example"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("sqlite:///x", "sqlite+aiosqlite:///x"),
        ("sqlite:////abs/path/candor.db", "sqlite+aiosqlite:////abs/path/candor.db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_maps_to_the_async_driver(configured: str, expected: str) -> None:
    assert Settings(database_url=configured).sqlalchemy_url() == expected


@pytest.mark.parametrize("configured", ["mysql://u@h/db", "postgresql+psycopg://u@h/db", "x"])
def test_unsupported_database_url_scheme_is_rejected(configured: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme"):
        Settings(database_url=configured).sqlalchemy_url()


@pytest.mark.parametrize("name", ["bad name!", "", "under_score.example", "host:port"])
def test_invalid_server_name_is_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="not a valid Matrix server name"):
        Settings(server_name=name)


@pytest.mark.parametrize("name", ["example.org", "example.org:8448", "127.0.0.1", "[::1]:8008"])
def test_valid_server_names_are_accepted(name: str) -> None:
    assert Settings(server_name=name).server_name == name


def test_token_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)

    first = settings.token_key()
    key_file = data_dir / "secret.key"
    created = key_file.stat()
    second = Settings(data_dir=data_dir).token_key()

    assert len(first) >= 32
    assert stat.S_IMODE(created.st_mode) == 0o600
    assert second == first
    assert key_file.stat().st_mtime_ns == created.st_mtime_ns
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]


def test_configured_secret_key_is_used_without_writing_a_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="configured-secret")

    assert settings.token_key() == b"configured-secret"
    assert not (tmp_path / "data").exists()


# --- http.public_base_url (issue 13 item 6) -----------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8008, "http://127.0.0.1:8008"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104 - a listen address under test
        ("::", 9000, "http://127.0.0.1:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("[::1]", 9000, "http://[::1]:9000"),
        ("localhost", 9001, "http://localhost:9001"),
    ],
)
def test_public_base_url_defaults_to_the_listener(host: str, port: int, expected: str) -> None:
    """`make run` and `candor serve --host --port` are reached where they listen."""
    assert Settings().http.base_url() == "http://127.0.0.1:8008"
    assert Settings(http={"host": host, "port": port}).http.base_url() == expected


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("https://chat.example.org", "https://chat.example.org"),
        ("HTTPS://Chat.Example.ORG:443/", "https://chat.example.org"),
        ("http://127.0.0.1:8008/", "http://127.0.0.1:8008"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_public_base_url_is_normalised(configured: str, expected: str) -> None:
    settings = Settings(http={"public_base_url": configured, "port": 9})
    assert settings.http.public_base_url == expected
    assert settings.http.base_url() == expected


@pytest.mark.parametrize(
    ("configured", "why"),
    [
        ("chat.example.org", "absolute http"),
        ("//chat.example.org", "absolute http"),
        ("ftp://chat.example.org", "absolute http"),
        ("https:chat.example.org", "absolute http"),
        ("https:///chat.example.org", "absolute http"),
        ("javascript://chat.example.org", "absolute http"),
        ("https://user:pw@chat.example.org", "user info"),
        ("https://evil.example@chat.example.org", "user info"),
        ("https://chat.example.org/?x=1", "query or a fragment"),
        ("https://chat.example.org?", "query or a fragment"),
        ("https://chat.example.org/#top", "query or a fragment"),
        ("https://chat.example.org/candor", "must not have a path"),
        ("https://chat.example.org\\@evil.example", "control characters"),
        (" https://chat.example.org", "control characters"),
        ("https://chat.example.org\n", "control characters"),
        ("https://chat.exa\tmple.org", "control characters"),
        ("https://chat.example.org:99999", "not a valid URL"),
        ("https://exa mple.org", "control characters"),
        ("https://", "absolute http"),
    ],
)
def test_invalid_public_base_url_is_rejected(configured: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Settings(http={"public_base_url": configured})


def test_public_base_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_HTTP__PUBLIC_BASE_URL", "https://env.example/")
    monkeypatch.setenv("CANDOR_HTTP__PORT", "9010")
    settings = Settings()
    assert settings.http.public_base_url == "https://env.example"
    assert settings.http.port == 9010
