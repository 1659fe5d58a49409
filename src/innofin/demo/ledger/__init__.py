"""The demo's programme ledger: programmes and targets, agreements and commitments, risk pools,
credit lines, and five years of loans with their schedules, repayments, late payments, defaults,
write-offs, recoveries and pool claims.

Pure and vectorised (NumPy over loans, instalments and events; Python loops only over
programmes, pools, provinces, banks and years). Every cached value — a loan's balances, status,
class and default date, a credit line's and a commitment's ``used``, a pool's contributed, paid
out, recovered, balance and covered credit outstanding, a claim's recovered — is computed from the
generated events and limit entries exactly as `innofin.ledger.replay` derives it, so
``replay.check`` finds nothing to report.

The model, stated so a reader can judge it (rule values are defaults in the constants below):

- History: the five calendar years ending on the scale's reference date (2020–2024).
- Borrowers: 66 % of start-ups, 86 % of growth and 90 % of stable firms borrow at some point (at
  least half a year after founding); 45 % already bank with someone when the history starts, the
  others arrive year by year; 8 % a year stop borrowing. A borrower holds a sequence of credit
  lines (授信) of 12, 24 or 36 months, renewed after a short gap, mostly with the same bank (a
  bank of its province: head offices lend everywhere, branches in their province, sci-tech
  branches most). 45 % of the lines are revolving (随借随还: one drawdown after another, of 3–12
  months each, repaid in one payment after 25–100 % of the term, each repayment releasing the
  limit); the others have one drawdown (30 %: two) repaid by equal principal (等额本金) or
  monthly interest with principal at maturity (按月付息到期还本). Equal instalments (等额本息)
  are not generated: their level payment needs a 50-digit power that NumPy cannot reproduce to
  the fen. Pricing: the 1-year LPR on the line's opening day plus the product's spread (a
  start-up pays 30 bp more); ACT/360.
- Sizes: a line is sized on the firm's revenue (∝ revenue^0.75, lognormal noise), grown back
  along the firm's stage drift for earlier years. The amounts of each year's drawdowns are then
  scaled so that the outstanding principal at the end of each year grows by a rate drawn in
  17–27 % (the 15–30 % of the programmes' monitoring), reaching 6 million yuan per enterprise
  (with or without loans) at the reference date.
- Late payment and default by growth stage and size (start-ups default most, bigger firms least):
  an annual default probability of 4.5 % / 2.2 % / 1.0 % (start-up / growth / stable) × 1.3 /
  1.0 / 0.7 (revenue below 10 million / to 100 million / above), applied over the loan's term.
  A defaulting loan misses an instalment and pays nothing after it: special mention within 30
  days, defaulted and substandard at 91 days past due, doubtful at 271, loss at 361; 70 % are
  written off 1–10 months after that, 35 % see a partial collection first, half of the written-off
  ones recover 5–40 % later. A borrower gets no new credit after its first missed payment.
  Performing loans are late now and then (10 % / 7 % / 4 % of loans by stage, 3–75 days:
  special mention, then pass again when paid).
- Repayments are recorded aggregated: one ``repaid`` event per loan and calendar year, dated on
  the last instalment due that year that was paid, with the principal and interest of the
  instalments paid that year (revolving loans: one event at repayment). Year-end balances are
  therefore exact; between two year ends the ledger shows the year's instalments paid at once.
- Programmes: the national bank–government initiative (the lead bank's lines in the joined zones
  from September of the fourth-last year; a financing-balance target of 1 trillion yuan scaled by
  enterprises / 500,000, key enterprises, growth), a provincial special-credit programme (the
  largest province with a branch of a bank: its banks, from July of the last-but-one year;
  new-credit targets by technology field and period) and a zone programme (that province's
  largest zone and a local bank). Agreements carry commitments by period (and by field for the
  province); a line under a commitment reserves, releases and consumes its limit there as
  `ledger.loans.service` does.
  Each programme has a risk pool (a rule template of `ledger.pools.engine`) that covers some of its
  lines; contributions are paid each January, enough to keep covered credit within the pool's
  leverage through the year; claims on defaulted covered loans are filed, approved and paid with
  the assessment of `ledger.pools.engine.assess_claim`, and recoveries are shared back.

Frames follow `demo.engine`'s conventions, with two exceptions the writer (`step.write_ledger`)
resolves once it knows the id offsets: ``ledger_event.entity_id`` and ``limit_entry.account_id``
/ ``source_id`` are local ids of the table their ``entity`` / ``account`` / ``source`` names; ids
that ``ledger_event.data`` holds are carried in the columns ``_credit_line_id``, ``_pool_id``,
``_loan_id`` and ``_claim_id`` (see `events_engine.event_data`), and ``programme.zone_ids`` /
``institution_ids`` are lists of local ids (see `events_engine.id_list_json`).

The modules, in the order the step (`step.make_ledger`) uses them: `params` (the model's numbers
above), `dates_engine` (day numbers), `world_engine` (enterprises, zones, banks and products as
arrays; who takes part in the programmes), `borrowers_engine` (credit lines, drawdowns and their
fates), `book_engine` (principals, schedules, repayments, losses, classes, line limits),
`agreements_engine` (agreements, commitments, each line's programme and pool), `rules` (the pools'
rule templates and the ledger's assessment of each tag set, read once into plain `PoolTerms`),
`claims_engine` (claims and contributions), `events_engine` (events and limit entries in the order
of history), `tables_engine` (the stored form) and `step` (make, then write). The engines import
only `kernel` and the demo's own engines; `rules` (the ledger's pool engine) and `step` (the
database) are the two that are not engines.
"""
