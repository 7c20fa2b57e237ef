"""The browser harness itself: sign in through the real form and land on the home page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_through_the_form_shows_the_user(page: Any, screenshot: Any) -> None:
    get_user_model().objects.create_user("ada", password="correct horse")

    page.goto("/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()

    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_test_id("signed-in-user").inner_text() == "ada"
    # The one stylesheet is served and applied.
    background = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert background == "rgb(33, 51, 67)"
    assert screenshot(page, "sign-in-home").stat().st_size > 0


def test_sign_in_fixture_gives_a_session(page: Any, sign_in: Any) -> None:
    user = get_user_model().objects.create_user("grace", password="irrelevant")
    sign_in(user)
    page.goto("/")
    assert page.get_by_test_id("signed-in-user").inner_text() == "grace"
