"""HTML forms: read an urlencoded body into fields, then validate them with pydantic.

Pages post `application/x-www-form-urlencoded` (plain HTML forms, no JavaScript), which
the standard library parses, so there is no multipart parser to depend on. Anything
else reads as an empty form, which then fails its CSRF check (403) before anything
happens. Bodies are already bounded by the app's body-size limit.
"""

from typing import Annotated, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.requests import Request

from candor.core.errors import CandorError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50

FormT = TypeVar("FormT", bound=BaseModel)


class FormInvalid(CandorError):
    status = 400
    errcode = "CANDOR_BAD_FORM"

    def __init__(self, message: str = "The form could not be read. Please try again.") -> None:
        super().__init__(message)


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each name); {} if the body is not a form."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        return {}
    body = await request.body()
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormInvalid from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        # PostgreSQL text cannot hold NUL, and no form field needs one.
        if "\x00" in name or "\x00" in value:
            raise FormInvalid
        fields.setdefault(name, value)
    return fields


def validate_form(model: type[FormT], fields: dict[str, str]) -> FormT:
    """The fields as `model`, or FormInvalid (pydantic's message is for developers)."""
    try:
        return model.model_validate(fields)
    except ValidationError:
        raise FormInvalid from None


Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class LoginForm(BaseModel):
    """`POST /login`: a localpart or a full `@user:server` id and the password.

    (Its `next` field is read apart, through `safe_next`, so that even a refused login
    keeps where the person was going.)
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    username: Username
    password: Password


class RegisterForm(BaseModel):
    """`POST /register`: the username (a localpart; its rules are Matrix registration's,
    checked there), the password, and the password again (a typo caught here, not later)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    username: Username
    password: Annotated[str, StringConstraints(max_length=4096)]
    password_again: Annotated[str, StringConstraints(max_length=4096)]
