import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidIdentifier
from innofin.kernel.ids import IdScheme, make_uscc, normalise_identifier

VALID = "91110000600037341L"  # a published USCC with a correct check character


def test_valid_uscc_passes_and_is_normalised() -> None:
    assert normalise_identifier(VALID) == VALID
    assert normalise_identifier(" 91110000600037341l ") == VALID


def test_bad_check_character_names_the_expected_one() -> None:
    with pytest.raises(InvalidIdentifier, match=r"bad check character \(expected 'L'\)"):
        normalise_identifier("91110000600037341M")


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "empty"), ("9111000060003734", "18 characters"), ("91110000600037341I", "not valid")],
)
def test_malformed_uscc(value: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        normalise_identifier(value)


def test_other_schemes_are_kept_as_given() -> None:
    assert normalise_identifier(" 12-3456789 ", IdScheme.EIN) == "12-3456789"
    assert normalise_identifier("ABC", "other") == "ABC"
    with pytest.raises(InvalidIdentifier, match="unknown identifier scheme"):
        normalise_identifier("x", "passport")


ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet=ALPHABET, min_size=9, max_size=9),
)
def test_make_uscc_always_validates_and_any_other_check_char_fails(head: str, tail: str) -> None:
    body = "91" + head[:6] + tail
    code = make_uscc(body)
    assert normalise_identifier(code) == code
    wrong = next(c for c in ALPHABET if c != code[-1])
    with pytest.raises(InvalidIdentifier):
        normalise_identifier(body + wrong)
