"""Argon2 parameters: production hashes at argon2-cffi's defaults; only the test suite hashes
cheaply, because its conftest asks for it."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher, extract_parameters, profiles

from innofin.access import passwords


def test_production_parameters_are_argon2_cffis_defaults() -> None:
    assert passwords.PRODUCTION_PARAMETERS == profiles.RFC_9106_LOW_MEMORY
    defaults = PasswordHasher()
    assert (defaults.time_cost, defaults.memory_cost, defaults.parallelism) == (3, 65536, 4)
    assert extract_parameters(defaults.hash("x" * 12)) == passwords.PRODUCTION_PARAMETERS


def test_a_process_that_does_not_ask_hashes_at_production_cost() -> None:
    code = (
        "from innofin.access.passwords import hash_password, verify_password\n"
        "stored = hash_password('a long password')\n"
        "assert verify_password(stored, 'a long password')\n"
        "print(stored)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    stored = done.stdout.strip()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY


def test_the_suite_hashes_cheaply_and_still_verifies_production_hashes() -> None:
    # tests/conftest.py called use_test_parameters()
    stored = passwords.hash_password("a long password")
    assert extract_parameters(stored) == passwords.TEST_PARAMETERS
    assert passwords.verify_password(stored, "a long password")
    production = PasswordHasher.from_parameters(passwords.PRODUCTION_PARAMETERS)
    assert passwords.verify_password(production.hash("a long password"), "a long password")
    assert not passwords.verify_password(production.hash("a long password"), "a long passworD")
