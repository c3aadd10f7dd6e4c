"""Jurisdiction packs: every pack in the repository validates; a bad one fails loudly,
naming the file and the field."""

from pathlib import Path

import pytest
import yaml
from django.apps import apps as django_apps

from apps.compliance.packs import BUILTIN_PACK_DIR, PackInvalid, jurisdiction_choices, pack_load, packs_load

PACK_FILES = sorted(BUILTIN_PACK_DIR.glob("*.yaml"))
FIXTURE_DIR = Path(__file__).with_name("packs")


def test_the_repository_has_the_five_starting_jurisdictions():
    assert [p.stem for p in PACK_FILES] == ["de", "gb", "mt", "nl", "se"]


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: p.name)
def test_every_pack_validates(path):
    pack = pack_load(path)

    assert pack.code == path.stem.upper()


def test_the_facts_of_the_packs():
    packs = packs_load((BUILTIN_PACK_DIR,))

    assert packs["GB"].value("limits.increase_cooling_off_hours") == 24
    assert packs["SE"].value("limits.increase_cooling_off_hours") == 72
    assert packs["SE"].value("limits.increase_not_before_period_end") is True
    assert packs["DE"].value("limits.increase_cooling_off_hours") == 7 * 24
    assert packs["MT"].value("limits.increase_cooling_off_hours") == 24
    assert packs["GB"].value("stake_caps.casino") == {
        "currency": "GBP",
        "max": "5.00",
        "age_bands": [{"min_age": 18, "max_age": 24, "max": "2.00"}],
    }
    assert packs["DE"].value("stake_caps.casino.max") == "1.00"
    assert packs["DE"].value("limits.default_deposit_limits") == {"month": "1000.00"}
    assert "credit_card" in packs["GB"].value("payment_methods.banned")
    assert packs["SE"].value("bonus.first_play_only") is True
    assert packs["GB"].value("bonus.max_wagering_multiplier") == 10
    assert packs["MT"].value("self_exclusion.relax_cooling_off_hours") == 24
    assert packs["SE"].value("national_id_scheme") == "stdnum.se.personnummer"


def _bad_pack(tmp_path, change) -> Path:
    data = yaml.safe_load((BUILTIN_PACK_DIR / "gb.yaml").read_text())
    change(data)
    path = tmp_path / "gb.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["limits"].update(increase_cooling_off_hours=-1),
            "limits.increase_cooling_off_hours: -1 is less than the minimum of 0",
        ),
        (
            lambda d: d["stake_caps"]["casino"].update(max="five"),
            "stake_caps.casino.max: 'five' does not match",
        ),
        (lambda d: d.pop("minimum_age"), "(top level): 'minimum_age' is a required property"),
        (
            lambda d: d["kyc"].update(before_lunch=True),
            "kyc: Additional properties are not allowed ('before_lunch'",
        ),
        (lambda d: d["limits"].update(periods="lunar"), "limits.periods: 'lunar' is not one of"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone: 'Mars/Olympus' is not a known time zone"),
        (lambda d: d.update(code="SE"), "code: 'SE' does not match the file name 'gb.yaml'"),
        (
            lambda d: d["time_out"].update(min_hours=2000),
            "time_out.min_hours: is more than time_out.max_hours",
        ),
        (
            lambda d: d["exclusion_registers"][0].update(at=["sometimes"]),
            "exclusion_registers.0.at.0: 'sometimes' is not one of",
        ),
    ],
)
def test_a_malformed_pack_is_refused_naming_the_file_and_the_field(tmp_path, change, message):
    path = _bad_pack(tmp_path, change)

    with pytest.raises(PackInvalid) as refused:
        pack_load(path)

    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)


def test_a_pack_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "gb.yaml"
    path.write_text("code: [GB\n")

    with pytest.raises(PackInvalid, match=f"^{path}: not a readable YAML document"):
        pack_load(path)


def test_the_app_refuses_to_start_with_a_bad_pack(tmp_path, settings):
    _bad_pack(tmp_path, lambda d: d["limits"].update(increase_cooling_off_hours="a day"))
    settings.COMPLIANCE_PACK_DIRS = [str(tmp_path)]

    with pytest.raises(
        PackInvalid, match="gb.yaml: limits.increase_cooling_off_hours: 'a day' is not of type"
    ):
        django_apps.get_app_config("compliance").ready()


def test_a_jurisdiction_defined_twice_is_refused(tmp_path):
    (tmp_path / "gb.yaml").write_text((BUILTIN_PACK_DIR / "gb.yaml").read_text())

    with pytest.raises(PackInvalid, match="code: GB is already defined by"):
        packs_load((BUILTIN_PACK_DIR, tmp_path))


def test_the_jurisdiction_choices_are_the_loaded_packs(settings):
    assert [code for code, _ in jurisdiction_choices()] == ["DE", "GB", "MT", "NL", "SE"]

    settings.COMPLIANCE_PACK_DIRS = [str(BUILTIN_PACK_DIR), str(FIXTURE_DIR)]

    assert ("XX", "Testland (Testland Gaming Board)") in jurisdiction_choices()


def test_the_fixture_pack_validates():
    assert pack_load(FIXTURE_DIR / "xx.yaml").value("minimum_age") == 21
