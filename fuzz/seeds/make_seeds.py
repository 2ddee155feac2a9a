#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/seeds/<target>/.

    fuzz/seeds/make_seeds.py [SYNTH_DIR]

* matchkey_normalise: one seed per case of
  crates/concord-matchkey/testdata/mk1-vectors.json (six lines: forename,
  surname, date of birth, NHS number, PNC id, postcode).
* agent_read: with SYNTH_DIR (the output of `concord synth --out DIR
  --people 3000`), each data set's mapping, a NUL, and its first rows; and
  always the example police mapping with a small export in its columns.
* ingest_decode: valid push streams (header, then record batches; each
  message length-delimited) in snapshot and delta mode, encoded here by
  hand so that no Rust build is needed. The checksum is the real
  ExtractChecksum, so a seed is an extract the broker would accept.

Every name and identifier is synthetic. Only the standard library.
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- matchkey_normalise ----------------------------------------------------

FIELDS = ["forename", "surname", "date_of_birth", "nhs_number", "pnc_id", "postcode"]


def matchkey_seeds():
    path = os.path.join(ROOT, "crates/concord-matchkey/testdata/mk1-vectors.json")
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    for i, case in enumerate(cases):
        lines = [case["input"].get(k) or "" for k in FIELDS]
        write("matchkey_normalise", f"vector-{i:02}", "\n".join(lines).encode("utf-8"))


# --- agent_read ------------------------------------------------------------

POLICE_CSV = """\ufeffURN,Record Type,Forename,Surname,Date of Birth,PNC ID,Home Postcode,Offence Date,Ward Code,LSOA Code,Offence,Weapon,Location,Sex,Role,DA Flag
C-0001,Crime,Amelia,Okafor-Reyes,05/03/1990,01/12345H,W10 6AB,14/02/2026 23:15,E05009388,E01002813,Wounding with intent,Knife,Street,F,VIC,N
C-0001b,Crime,"O'Brien, Mary-Anne",MÜLLER,1990-03-05,,SW1A 1AA,01/03/2026 00:05,E05009389,E01002823,Murder,Stabbing,Dwelling,F,SUS,Y
A-0002,ASB,Unknown,Smith,01/01/1900,00/0000000Z,ZZ99 3VZ,30/10/2026 12:00,E05009390,E01002828,Threats to kill,Acid,Park,X,OFF,N
C-0003,Crime,"Line
break",Zhang,5-Mar-1990,2001/123Z,GIR 0AA,31/10/2026 07:30,,,Robbery of personal property,None,Bus/Train,M,VIC,
"""


def agent_seeds(synth_dir):
    if synth_dir:
        for f in sorted(os.listdir(synth_dir)):
            if not f.endswith(".mapping.toml"):
                continue
            name = f[: -len(".mapping.toml")]
            with open(os.path.join(synth_dir, f), "rb") as m:
                mapping = m.read()
            with open(os.path.join(synth_dir, name + ".csv"), "rb") as c:
                rows = b"".join(c.readlines()[:8])
            write("agent_read", name, mapping + b"\0" + rows)
    path = os.path.join(ROOT, "crates/concord-agent/examples/police.mapping.toml")
    with open(path, "rb") as m:
        mapping = m.read()
    write("agent_read", "police-example", mapping + b"\0" + POLICE_CSV.encode("utf-8"))
    tab = mapping.replace(b'delimiter = ","', b'delimiter = "\\t"')
    write(
        "agent_read",
        "police-example-tab",
        tab + b"\0" + POLICE_CSV.replace(",", "\t").encode("utf-8"),
    )


# --- ingest_decode: a minimal protobuf encoder -----------------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def field_optional_varint(num, v):
    return b"" if v is None else varint(num << 3) + varint(v)


def field_bytes(num, b):
    return varint((num << 3) | 2) + varint(len(b)) + b if b else b""


def field_message(num, b):
    # Present even when empty (a set message field).
    return varint((num << 3) | 2) + varint(len(b)) + b


def token_msg(key_name, key_id, token):
    return field_bytes(1, key_name.encode()) + field_bytes(2, key_id.encode()) + field_bytes(3, token)


def record_msg(i, kind, source, with_tokens=True, hour=None, dash=None):
    ref = hashlib.sha256(b"ref:%d" % i).digest()
    b = field_varint(1, source)
    b += field_bytes(2, ref)
    b += field_varint(3, kind)
    b += field_varint(4, 1)  # role: victim
    b += field_bytes(5, b"2026-%02d-%02d" % (1 + i % 9, 1 + i % 28))
    b += field_varint(6, 1)  # date precision: day
    b += field_optional_varint(7, hour)
    b += field_bytes(8, b"E05009388")
    b += field_bytes(9, b"E01002813")
    b += field_varint(10, 1 + i % 5)
    b += field_varint(11, 1 + i % 3)
    b += field_varint(12, 1 + i % 4)
    b += field_varint(13, 1 + i % 6)
    b += field_varint(14, 1 + i % 2)
    b += field_message(15, field_varint(1, 1 + i % 3) + field_optional_varint(2, dash) + field_varint(3, i % 2))
    b += field_message(16, field_varint(1, 1) + field_varint(3, i % 2))
    if with_tokens:
        for k in ["nhs", "sn_dob", "fn_sn"]:
            tok = hashlib.sha256(b"%s:%d" % (k.encode(), i)).digest()
            b += field_message(18, token_msg(k, "lk-test", tok))
    return b


def checksum(records, deletes):
    r = hashlib.sha256()
    for rec in records:
        r.update(len(rec).to_bytes(4, "big") + rec)
    d = hashlib.sha256()
    for x in deletes:
        d.update(len(x).to_bytes(4, "big") + x)
    return hashlib.sha256(r.digest() + d.digest()).digest()


def header_msg(extract_id, source, mode, records, deletes, key_id="lk-test"):
    b = field_bytes(1, extract_id.encode())
    b += field_varint(2, source)
    b += field_bytes(3, b"2025-11-01")
    b += field_bytes(4, b"2026-10-31")
    b += field_varint(5, mode)
    b += field_varint(6, 1)
    b += field_varint(7, len(records))
    b += field_varint(8, len(deletes))
    b += field_bytes(9, checksum(records, deletes))
    b += field_bytes(10, key_id.encode())
    return b


def push_request(header=None, batch=None):
    inner = field_message(1, header) if header is not None else field_message(2, batch)
    return varint(len(inner)) + inner


def batch_msg(records, deletes=()):
    return b"".join(field_message(1, r) for r in records) + b"".join(
        field_bytes(2, d) for d in deletes
    )


def ingest_seeds():
    police, crime = 1, 1
    recs = [record_msg(i, crime, police if i % 2 else 0, hour=i % 24, dash=i % 28) for i in range(6)]
    stream = push_request(header=header_msg("police-2026-10", police, 1, recs, []))
    stream += push_request(batch=batch_msg(recs[:3]))
    stream += push_request(batch=batch_msg(recs[3:]))
    write("ingest_decode", "snapshot", stream)

    deletes = [hashlib.sha256(b"gone:%d" % i).digest() for i in range(3)]
    stream = push_request(header=header_msg("police.delta_1", police, 2, recs[:2], deletes))
    stream += push_request(batch=batch_msg(recs[:2], deletes))
    write("ingest_decode", "delta", stream)

    # A record that breaks every rule it can, and a header that is wrong.
    bad = record_msg(7, 99, 5, hour=30, dash=40)
    stream = push_request(header=header_msg("police-bad", police, 1, [bad], []))
    stream += push_request(batch=batch_msg([bad]))
    write("ingest_decode", "invalid-record", stream)
    write("ingest_decode", "invalid-header", push_request(header=header_msg("", 0, 3, [], [b"x"], "KEY")))
    # A bare record and a bare request, as one gRPC frame holds them.
    write("ingest_decode", "bare-record", recs[0])


if __name__ == "__main__":
    matchkey_seeds()
    agent_seeds(sys.argv[1] if len(sys.argv) > 1 else None)
    ingest_seeds()
