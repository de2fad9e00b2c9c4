#!/usr/bin/env python3
"""The Python peer of `cargo xtask bench` (B1, B5): what an authority would otherwise write.

One CPR number per request, sequential, over one `requests.Session` with the client
certificate (keep-alive, like the public peer clients nyborg-rpa and odense-rpa), the REST
method `PersonSmallCurrentListSimple` with `pnr.personnummer.eq`. Writes `cpr,name` CSV so
the bench can check it returns the same names as cprlink.

    peer.py lookup --base URL --path PATH --cert CERT.pem --key KEY.pem --ca CA.pem \
                   --input CPRS.txt --output OUT.csv
    peer.py parse --output OUT.csv FILE...    # names from saved REST answers (the curl loop)
"""

import argparse
import csv
import json
import sys


def unwrap(items, singular):
    out = []
    for item in items or []:
        if isinstance(item, dict) and len(item) == 1 and isinstance(item.get(singular), dict):
            out.append(item[singular])
        elif isinstance(item, dict):
            out.append(item)
    return out


def display_name(person):
    """Datafordeler 1.2: the current name's non-empty parts joined by one space, else the
    addressing name read as first names, then surname."""
    names = unwrap(person.get("Navne"), "Navn")
    current = [n for n in names if n.get("status") == "aktuel"]
    if not current:
        return ""
    n = current[0]
    parts = [(n.get(k) or "").strip() for k in ("fornavne", "mellemnavn", "efternavn")]
    parts = [p for p in parts if p]
    if parts:
        return " ".join(parts)
    # The addressing name is "Efternavn,Fornavne" (datafordeler.md 1.2): shown as first
    # names, then surname, as cprlink and persons.csv show it.
    addressing = (n.get("adresseringsnavn") or "").strip()
    last, comma, first = addressing.partition(",")
    if not comma:
        return " ".join(addressing.split())
    return " ".join(p for p in (" ".join(first.split()), " ".join(last.split())) if p)


def names_in(body):
    """(cpr, name) for each person of a REST answer."""
    out = []
    for person in unwrap(body.get("Personer"), "Person"):
        numbers = unwrap(person.get("Personnumre"), "Personnummer")
        current = [p.get("personnummer") for p in numbers if p.get("status") == "aktuel"]
        cpr = current[0] if current else (numbers[0].get("personnummer") if numbers else "")
        out.append((cpr, display_name(person)))
    return out


def lookup(args):
    import requests  # imported here so `parse` works without it

    session = requests.Session()
    session.cert = (args.cert, args.key)
    # Per request too: REQUESTS_CA_BUNDLE in the environment would override session.verify.
    session.verify = args.ca
    url = args.base.rstrip("/") + args.path
    with open(args.input) as f:
        cprs = [line.strip() for line in f if line.strip()]
    with open(args.output, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["cpr", "name"])
        for cpr in cprs:
            r = session.get(url, params={"pnr.personnummer.eq": cpr, "format": "json"},
                            verify=args.ca, timeout=30)
            if r.status_code == 404:
                w.writerow([cpr, ""])
                continue
            r.raise_for_status()
            found = dict(names_in(r.json()))
            w.writerow([cpr, found.get(cpr, "")])


def parse(args):
    with open(args.output, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["cpr", "name"])
        for path in args.files:
            with open(path) as f:
                text = f.read()
            cpr = path.rsplit("/", 1)[-1].split(".")[0]
            try:
                found = dict(names_in(json.loads(text)))
            except ValueError:
                found = {}
            w.writerow([cpr, found.get(cpr, "")])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lk = sub.add_parser("lookup")
    for flag in ("--base", "--path", "--cert", "--key", "--ca", "--input", "--output"):
        lk.add_argument(flag, required=True)
    ps = sub.add_parser("parse")
    ps.add_argument("--output", required=True)
    ps.add_argument("files", nargs="+")
    args = p.parse_args()
    if args.cmd == "lookup":
        lookup(args)
    else:
        parse(args)


if __name__ == "__main__":
    sys.exit(main())
