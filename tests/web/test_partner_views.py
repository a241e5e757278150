"""Agreements in plain words (pure): reporting cadence and the portal form's day counts."""

import pytest

from candor.partners.errors import PartnerError
from candor.web.partner_views import PortalAppForm, every_days


@pytest.mark.parametrize(
    ("days", "words"),
    [(1, "every day"), (3, "every 3 days"), (7, "every week"), (14, "every 2 weeks")],
)
def test_reporting_cadence_in_words(days: int, words: str) -> None:
    assert every_days(days) == words


def test_the_form_reads_scopes_lines_and_days() -> None:
    form = PortalAppForm.model_validate(
        {
            "scope_share": "on",
            "scope_inbox.read": "on",
            "redirect_uris": " a \r\n\r\nb\n",
            "purpose": "p",
            "data_used": "d",
            "retention_days": " 7 ",
            "reporting_days": "28",
        }
    )

    assert form.scopes == ["share", "inbox.read"]
    assert form.lines(form.redirect_uris) == ["a", "b"]
    assert (form.terms().retention_days, form.terms().reporting_days) == (7, 28)


@pytest.mark.parametrize("raw", ["", "-1", "1.5", "ten", "9999999"])
def test_a_day_count_must_be_a_whole_number(raw: str) -> None:
    form = PortalAppForm.model_validate({"retention_days": raw})

    with pytest.raises(PartnerError, match="whole number"):
        form.terms()
