"""Users and Teams in a real browser: an admin adds a rep to a team and sets their capacity
through the pages, with the keyboard-usable labels a person reads. Screenshot in
``test-output/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from routing.models import RepProfile, Team

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_adds_a_rep_to_a_team_and_sets_their_capacity(
    page: Any, sign_in: Any, screenshot: Any
) -> None:
    users = get_user_model()
    admin = users.objects.create_user("ada", password="irrelevant", first_name="Ada")
    RepProfile.objects.create(user=admin, role=RepProfile.Role.ADMIN)
    bob = users.objects.create_user("bob", password="irrelevant", first_name="Bob")
    RepProfile.objects.create(user=bob, capacity=2)
    sign_in(admin)

    page.goto("/settings/help-desk/teams/")
    page.get_by_label("Team name").fill("Support")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name="Edit team Support")).to_be_visible()
    page.get_by_label("Bob (bob)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("“Support” is saved.")
    expect(page.get_by_test_id("teams")).to_contain_text("Support")

    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Edit Bob").click()
    expect(page.get_by_label("Support")).to_be_checked()
    page.get_by_label("Capacity").fill("6")
    screenshot(page, "settings-user-edit")
    page.get_by_role("button", name="Save").click()

    row = page.locator(f'tr[data-user-id="{bob.pk}"]')
    expect(row).to_contain_text("Support")
    expect(row.locator("td").nth(5)).to_have_text("6")
    screenshot(page, "settings-users")

    assert RepProfile.objects.get(user=bob).capacity == 6
    assert list(Team.objects.get(name="Support").members.all()) == [bob]
