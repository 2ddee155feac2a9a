#!/usr/bin/env python3
"""Deduplicate a common-format records.csv with Splink (DuckDB) on plaintext.

    python splink_run.py --csv DIR/records.csv --fields forename,surname,dob \
        --out DIR/splink_clusters.csv [--threshold 0.95] [--seed 2026]

The model is what a competent Splink user would write from Splink's own
documentation and examples, with no knowledge of the truth column:

* cleaning: names lower-cased with runs of spaces collapsed; dates of birth
  parsed from the forms agencies export (ISO, YYYYMMDD, DD/MM/YYYY,
  DD-MM-YYYY, DD.MM.YYYY, DD-MON-YYYY) to ISO, with impossible dates, dates
  before 1900 and dates after 2026-11-22 (the day Concord's side normalises
  against) made null; postcodes upper-cased
  and re-spaced (`SW1A1AA` -> `SW1A 1AA`), anything that is not a UK
  postcode's shape null; NHS numbers reduced to digits, null unless ten;
  PNC ids upper-cased without spaces.
* comparisons: `NameComparison` (exact, Jaro-Winkler 0.92/0.88/0.70) on
  forename and surname with term-frequency adjustments,
  `DateOfBirthComparison` (exact, Levenshtein 1, 1 month, 1 year, 10 years),
  `PostcodeComparison` (full, sector, district, area), `ExactMatch` on NHS
  number and PNC id; each only for a field asked for that has any value.
* blocking for prediction: surname+dob, forename+dob, forename+surname,
  dob+postcode, NHS number, PNC id, and dob alone and surname alone as in
  Splink's FEBRL examples (where the fields exist).
* training: the prior from deterministic rules (recall 0.7, as in Splink's
  examples), u by random sampling (1e7 pairs at most, seeded), m by EM on
  forename+surname and then on dob blocks.
* clusters: connected components of pairs at match probability >= 0.95, the
  threshold Splink's clustering examples use.

Writes the clusters as CSV (`record_id,cluster_id`, every record, singletons
included) to --out and prints one JSON object on stdout: the Splink version,
the seconds (cleaning, training, prediction and clustering; not reading the
CSV nor starting Python) and the fields used. Splink's own log goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import logging
import re
import sys
import time
from pathlib import Path

FIELDS = ["forename", "surname", "dob", "postcode", "nhs_number", "pnc_id"]
DATE_FORMATS = ["%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d-%b-%Y"]
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
SPACES = re.compile(r"\s+")
# The "today" Concord's side of the benchmark normalises dates against.
TODAY = dt.date(2026, 11, 22)


def clean_name(v: str) -> str | None:
    v = SPACES.sub(" ", v.strip().lower())
    return v or None


def clean_dob(v: str, today: dt.date) -> str | None:
    v = v.strip()
    if not v:
        return None
    # Agencies' exports sometimes carry a time after the date.
    v = v.split("T")[0].split(" ")[0]
    for f in DATE_FORMATS:
        try:
            d = dt.datetime.strptime(v, f).date()
        except ValueError:
            continue
        if d.year < 1900 or d > today:
            return None
        return d.isoformat()
    return None


def clean_postcode(v: str) -> str | None:
    v = re.sub(r"[^A-Za-z0-9]", "", v).upper()
    if not POSTCODE.match(v):
        return None
    return f"{v[:-3]} {v[-3:]}"


def clean_nhs(v: str) -> str | None:
    v = re.sub(r"\D", "", v)
    return v if len(v) == 10 else None


def clean_pnc(v: str) -> str | None:
    v = re.sub(r"\s", "", v).upper()
    return v or None


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def clean(rows: list[dict[str, str]], fields: list[str]) -> dict[str, list]:
    today = TODAY
    cleaners = {
        "forename": clean_name,
        "surname": clean_name,
        "dob": lambda v: clean_dob(v, today),
        "postcode": clean_postcode,
        "nhs_number": clean_nhs,
        "pnc_id": clean_pnc,
    }
    cols: dict[str, list] = {"unique_id": [r["record_id"] for r in rows]}
    for f in fields:
        cols[f] = [cleaners[f](r.get(f) or "") for r in rows]
    return cols


def model(fields: list[str]):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = []
    if "forename" in fields:
        comparisons.append(cl.NameComparison("forename").configure(term_frequency_adjustments=True))
    if "surname" in fields:
        comparisons.append(cl.NameComparison("surname").configure(term_frequency_adjustments=True))
    if "dob" in fields:
        comparisons.append(
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d")
        )
    if "postcode" in fields:
        comparisons.append(cl.PostcodeComparison("postcode"))
    if "nhs_number" in fields:
        comparisons.append(cl.ExactMatch("nhs_number"))
    if "pnc_id" in fields:
        comparisons.append(cl.ExactMatch("pnc_id"))

    def having(*cols: str) -> bool:
        return all(c in fields for c in cols)

    blocking = [
        block_on(*cols)
        for cols in [
            ("surname", "dob"),
            ("forename", "dob"),
            ("forename", "surname"),
            ("dob", "postcode"),
            ("nhs_number",),
            ("pnc_id",),
            # Single fields, as Splink's own FEBRL examples block: cheap at
            # these sizes, and they find pairs with typos in two fields.
            ("dob",),
            ("surname",),
        ]
        if having(*cols)
    ]
    deterministic = [
        block_on(*cols)
        for cols in [("forename", "surname", "dob"), ("nhs_number",), ("pnc_id",)]
        if having(*cols)
    ]
    training = [
        block_on(*cols) for cols in [("forename", "surname"), ("dob",)] if having(*cols)
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
    )
    return settings, deterministic, training


def run(cols: dict[str, list], fields: list[str], threshold: float, seed: int):
    import pyarrow as pa
    from splink import DuckDBAPI, Linker

    settings, deterministic, training = model(fields)
    db_api = DuckDBAPI()
    table = pa.Table.from_pydict({k: pa.array(v, type=pa.string()) for k, v in cols.items()})
    df = db_api.register(table, table_name="records")
    linker = Linker(df, settings, log_level=logging.WARNING)
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    for rule in training:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    predicted = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    out = [(r["unique_id"], r["cluster_id"]) for r in clusters.as_record_list()]
    return out, trained, predicted


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", required=True, type=Path)
    p.add_argument("--fields", default=",".join(FIELDS))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--threshold", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()

    import splink

    asked = [f.strip() for f in args.fields.split(",") if f.strip()]
    unknown = [f for f in asked if f not in FIELDS]
    if unknown:
        p.error(f"unknown fields {unknown}; known: {FIELDS}")
    rows = read(args.csv)

    started = time.perf_counter()
    # CPU time of every thread of the process (DuckDB's too) over the same
    # span as `seconds`: the machine is shared, and CPU time swings less.
    cpu_started = time.process_time()
    cols = clean(rows, asked)
    # A field with no value at all has nothing to train: leave it out.
    fields = [f for f in asked if any(v is not None for v in cols[f])]
    for f in set(asked) - set(fields):
        del cols[f]
    cleaned = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        clusters, trained, predicted = run(cols, fields, args.threshold, args.seed)
    finished = time.perf_counter()
    cpu_seconds = time.process_time() - cpu_started

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "cluster_id"])
        w.writerows(clusters)
    json.dump(
        {
            "splink_version": splink.__version__,
            "records": len(rows),
            "fields": fields,
            "threshold": args.threshold,
            "seconds": finished - started,
            "cpu_seconds": cpu_seconds,
            "clean_seconds": cleaned - started,
            "train_seconds": trained - cleaned,
            "predict_seconds": predicted - trained,
            "cluster_seconds": finished - predicted,
            "clusters_csv": str(args.out),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
