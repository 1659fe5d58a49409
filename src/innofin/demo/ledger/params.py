"""The numbers of the demo ledger's model (described in `innofin.demo.ledger`), in one place."""

from __future__ import annotations

import numpy as np

Array = np.ndarray
Cols = dict[str, np.ndarray]

HISTORY_YEARS = 5
#: outstanding principal at the reference date per enterprise of the demo (yuan)
OUTSTANDING_PER_ENTERPRISE = 6_000_000
#: yearly growth of the outstanding balance is drawn in this range
GROWTH_RANGE = (0.17, 0.27)
BORROWER_SHARE = np.array([0.66, 0.86, 0.90])  # by stage: start-up, growth, stable
STOCK_SHARE = 0.45  # of borrowers: already borrowing when the history starts
#: relative numbers of new borrowers arriving in each year of the history
ENTRY_WEIGHTS = np.array([1.0, 1.1, 1.25, 1.4, 1.55])
ATTRITION = 0.08  # a year
MIN_AGE_DAYS = 180  # a firm borrows at least half a year after it was founded
MAX_LINES = 8  # lines per borrower considered (5 years of 12-month lines, with room)
LINE_TERMS = np.array([12, 24, 36])
LINE_TERM_P = np.array([0.6, 0.25, 0.15])
MAX_RENEWAL_GAP = 45  # days between a line's maturity and the next line
SAME_BANK = 0.85  # a renewal stays with the borrower's bank
REVOLVING_SHARE = 0.45
SECOND_DRAW = 0.30  # share of non-revolving lines with a second drawdown
MAX_REVOLVING_DRAWS = 8
REVOLVING_MONTHS = np.array([3, 6, 12])
REVOLVING_MONTHS_P = np.array([0.3, 0.45, 0.25])
#: by loan term (6, 12, 24, 36 months): the share repaid by equal principal, not at maturity
EQUAL_PRINCIPAL = {6: 0.2, 12: 0.35, 24: 0.7, 36: 0.8}
STAGE_SPREAD_BP = np.array([30, 10, 0])
#: annual default probability by stage, and its factor by revenue (< 10 m, ≤ 100 m, > 100 m yuan)
ANNUAL_PD = np.array([0.045, 0.022, 0.010])
SIZE_BANDS = np.array([10e6, 100e6])
SIZE_PD = np.array([1.3, 1.0, 0.7])
LATE_SHARE = np.array([0.10, 0.07, 0.04])  # of loans, by stage (times the size factor)
LATE_DAYS = (3, 75)
COLLECTION_SHARE, WRITE_OFF_SHARE, RECOVERY_SHARE = 0.35, 0.70, 0.5
#: five-category thresholds of `ledger.loans.engine.ClassificationRules`, as days past due
SUBSTANDARD_DPD, DOUBTFUL_DPD, LOSS_DPD = 91, 271, 361
MIN_LOAN_WAN = 10  # loans are whole 万元 (10,000 yuan), at least 100,000 yuan
LOAN_CAP_YUAN = 300e6
FEN = 100
WAN = 10_000 * FEN  # fen per 万元
MILLION = 1_000_000 * FEN
#: the 1-year loan prime rate (贷款市场报价利率) from each fixing, in 1/10,000
LPR_1Y = (
    ("2019-08-20", 425), ("2019-09-20", 420), ("2019-11-20", 415), ("2020-02-20", 405),
    ("2020-04-20", 385), ("2021-12-20", 380), ("2022-01-20", 370), ("2022-08-22", 365),
    ("2023-06-20", 355), ("2023-08-21", 345), ("2024-07-22", 335), ("2024-10-21", 310),
)  # fmt: skip
LOAN_PRODUCTS = {
    "pure_credit_loan": 3.0, "points_loan": 2.0, "ip_pledge_loan": 1.5,
    "venture_loan": 1.0, "secured_loan": 2.5,
}  # fmt: skip
GUARANTEED_SHARE = 0.15  # of lines that are not pure credit
#: the national initiative: 1 trillion yuan by the end of the year after the reference date
NATIONAL_BALANCE_TARGET = 10**12
NATIONAL_KEY_ENTERPRISES = 1_000
NATIONAL_REFERENCE_ENTERPRISES = 500_000
NATIONAL_ZONE_SHARE = 0.6
LEAD_BANK_BOOST = 1.6  # the initiative's bank is keener on tech firms
CENTRES = 10  # zones with a sci-tech financing service innovation centre
PROVINCE_BANKS = 12
ZONE_BANK_BOOST = 4.0
POOL_COVER = (0.5, 0.7, 1.0)  # share of each programme's lines its pool covers
COMMITTED_P2 = 0.9  # share of the provincial programme's lines under a commitment
#: contributions keep covered credit at most 100/125 of leverage × balance
POOL_MARGIN_PCT = 125
ZONE_POOL_LEVERAGE = 10  # how the zone pool (no leverage rule) is funded
ZONE_POOL_CAP = "5000000.00"
CONTRIBUTION_STEP = MILLION
MAKER, CHECKER = "demo:maker", "demo:checker"
BANK, PROGRAMME = "demo:bank", "demo:programme"

EP, BULLET, REVOLVING = 0, 1, 2
METHOD_NAMES = ("equal_principal", "interest_bullet", "revolving")

NONE = 10**9  # a day number that never comes
CATEGORY_NAMES = ("pass", "special_mention", "substandard", "doubtful", "loss")
