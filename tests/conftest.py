import json
from pathlib import Path

import pytest

from mfsearch.spec import load_model_spec

REFERENCE = Path(__file__).parent / "data" / "official_variants_measured.json"

# Parameter counts of the official implementation (AAboys/MobileFormer), issue acceptance.
OFFICIAL_PARAMS = {
    "mobile-former-26m": 3_232_788, "mobile-former-52m": 3_469_092,
    "mobile-former-96m": 4_585_252, "mobile-former-151m": 7_595_828,
    "mobile-former-214m": 9_425_920, "mobile-former-294m": 11_422_648,
    "mobile-former-508m": 13_976_976,
}
PAPER_MADDS_M = {"mobile-former-26m": 26, "mobile-former-52m": 52, "mobile-former-96m": 96,
                 "mobile-former-151m": 151, "mobile-former-214m": 214,
                 "mobile-former-294m": 294, "mobile-former-508m": 508}


@pytest.fixture(scope="session")
def official():
    """Per-variant measurements of the official code (fvcore on the unmodified model files)."""
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="session")
def mf294():
    return load_model_spec("mobile-former-294m")
