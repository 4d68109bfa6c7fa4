"""The Raspberry Pi facts of FACTS.md section 2, parsed from the real strings quoted there."""

from __future__ import annotations

import pytest

from picf.models.pi import (
    PiModel,
    PiModelError,
    is_pi_mac,
    normalize_mac,
    parse_model_string,
    parse_revision_code,
    parse_short_name,
)


@pytest.mark.parametrize(
    ("text", "family", "variant", "revision", "short"),
    [
        ("Raspberry Pi 3 Model B Plus Rev 1.3", "3", "B+", "1.3", "3B+"),
        ("Raspberry Pi 4 Model B Rev 1.5", "4", "B", "1.5", "4B"),
        ("Raspberry Pi Zero 2 W Rev 1.0", "Zero 2", "W", "1.0", "Zero 2 W"),
        ("Raspberry Pi 5 Model B Rev 1.0", "5", "B", "1.0", "5B"),
        ("Raspberry Pi Zero W Rev 1.1", "Zero", "W", "1.1", "Zero W"),
        ("Raspberry Pi Compute Module 4 Rev 1.0", "CM4", "", "1.0", "CM4"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3\x00", "3", "B+", "1.3", "3B+"),  # as read from /proc/device-tree
    ],
)
def test_device_tree_model_strings_parse(text: str, family: str, variant: str, revision: str, short: str) -> None:
    model = parse_model_string(text)
    assert (model.family, model.variant, model.revision, model.short) == (family, variant, revision, short)


@pytest.mark.parametrize(
    "text",
    ["Raspberry Pi 3 Model B Plus Rev 1.3", "Raspberry Pi 4 Model B Rev 1.5", "Raspberry Pi Zero 2 W Rev 1.0"],
)
def test_model_label_reproduces_the_device_tree_string(text: str) -> None:
    assert parse_model_string(text).label == text


@pytest.mark.parametrize(
    ("compatible", "text"),
    [
        ("raspberrypi,3-model-b-plus", "Raspberry Pi 3 Model B Plus Rev 1.3"),
        ("raspberrypi,4-model-b", "Raspberry Pi 4 Model B Rev 1.5"),
        ("raspberrypi,5-model-b", "Raspberry Pi 5 Model B Rev 1.0"),
    ],
)
def test_compatible_strings_match_facts(compatible: str, text: str) -> None:
    assert parse_model_string(text).compatible == compatible


@pytest.mark.parametrize("text", ["Orange Pi 5", "Raspberry Pi 9 Model Q", "", "\x00\x00"])
def test_non_pi_model_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PiModel.model_validate(text)


@pytest.mark.parametrize(
    ("code", "short", "memory_mb"),
    [
        ("a020d3", "3B+", 1024),
        ("c03111", "4B", 4096),
        ("d04170", "5B", 8192),
        ("2a020d3", "3B+", 1024),  # leading extra bits are masked off
        ("0xa020d3", "3B+", 1024),
        ("902120", "Zero 2 W", 512),
        ("9000c1", "Zero W", 512),
        ("a22082", "3B", 1024),
    ],
)
def test_revision_codes_decode_type_and_memory(code: str, short: str, memory_mb: int) -> None:
    model = parse_revision_code(code)
    assert model.short == short
    assert model.memory_mb == memory_mb


def test_revision_code_with_leading_bits_keeps_the_low_24_bits() -> None:
    assert parse_revision_code("2a020d3").revision_code == "a020d3"


@pytest.mark.parametrize("code", ["0002", "zzzzzz", "", "123456789", "a0ff03"])
def test_bad_revision_codes_are_refused(code: str) -> None:
    with pytest.raises(PiModelError):
        parse_revision_code(code)


@pytest.mark.parametrize(
    ("mac", "is_pi"),
    [
        ("B8:27:EB:12:34:56", True),
        ("dc:a6:32:00:00:01", True),
        ("E4-5F-01-AA-BB-CC", True),
        ("28cdc1000001", True),
        ("d8:3a:dd:00:00:01", True),
        ("2c:cf:67:00:00:01", True),
        ("00:1a:2b:3c:4d:5e", False),
        ("not a mac", False),
    ],
)
def test_pi_ouis(mac: str, is_pi: bool) -> None:
    assert is_pi_mac(mac) is is_pi


def test_macs_normalise_to_lower_case_colons() -> None:
    assert normalize_mac("B8-27-EB-0A-0B-0C") == "b8:27:eb:0a:0b:0c"
    assert normalize_mac("b827eb0a0b0c") == "b8:27:eb:0a:0b:0c"
    with pytest.raises(ValueError):
        normalize_mac("b8:27:eb:0a:0b")
    with pytest.raises(ValueError):
        normalize_mac("b8:27-eb:0a:0b:0c")  # mixed separators


def test_short_names_and_cpu_arches() -> None:
    assert parse_short_name("3b+").cpu_arches == ("armv6", "armv7", "arm64")
    assert parse_short_name("zerow").cpu_arches == ("armv6",)
    assert parse_short_name("4B").short == "4B"
    with pytest.raises(PiModelError):
        parse_short_name("9z")
