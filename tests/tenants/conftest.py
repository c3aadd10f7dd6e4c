"""Fixtures of the tenancy tests: two operators with a brand each, their players, and
admin clients signed in as a given staff user."""

from datetime import date

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.db.models import QuerySet
from django.test import Client

from tests.factories import BrandFactory, PlayerFactory, StaffUserFactory
from tests.helpers.staff import staff_login

# force_login would otherwise pick axes' backend (the first one), which cannot load users.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def admin_as():
    """admin_as(user): a django.test.Client signed in to the admin as this staff user
    (reauthenticated=True: with a recent password + code confirmation, for exports)."""

    def make(user, *, reauthenticated: bool = False) -> Client:
        client = Client()
        staff_login(client, user, reauthenticated=reauthenticated)
        return client

    return make


@pytest.fixture
def staff_of(roles):
    """staff_of(operator, role, brands=[...]): staff employed by `operator`, with only the
    brand grants given (make_staff(operator=...) would also grant the whole operator)."""

    def make(operator, role=None, *, brands=(), **kwargs):
        return StaffUserFactory(operator=operator, role=role, brands=list(brands), **kwargs)

    return make


@pytest.fixture
def sister_brand(operator):
    """A second brand of brand A's operator (Malta, EUR)."""
    return BrandFactory(
        operator=operator, code="brand-a2", name="Brand-A2", jurisdiction="MT", currencies=["EUR"]
    )


@pytest.fixture
def player_a(brand):
    return PlayerFactory(
        brand=brand,
        username="alpha-player",
        email="alpha.secret@example.com",
        national_id="AB123456C",
        date_of_birth=date(1980, 1, 2),
    )


@pytest.fixture
def player_b(other_brand):
    return PlayerFactory(
        brand=other_brand,
        username="bravo-player",
        email="bravo.secret@example.com",
        national_id="198112189876",
        country="SE",
        mobile="+46701234567",
    )


def form_data(response, **overrides) -> dict:
    """POST data that re-submits the admin form of this change/add page as it is shown,
    with `overrides` on top (what a browser would send after editing those fields)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        elif isinstance(value, list | tuple | QuerySet):
            data[name] = [getattr(v, "pk", v) for v in value]
        else:
            data[name] = getattr(value, "pk", value)
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def messages_of(response) -> list[str]:
    """The texts of the messages the admin stored for the next page."""
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_messages():
    """admin_messages(response): the messages the admin stored with this response."""
    return messages_of


@pytest.fixture
def admin_form_data():
    """admin_form_data(page_response, **overrides): POST data for the page's admin form."""
    return form_data
