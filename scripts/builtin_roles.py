#!/usr/bin/env python3
"""Regenerates src/permissions/builtin_roles.json from Microsoft's built-in roles reference.

Source: the "Azure built-in roles" reference on Microsoft Learn
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), whose per-category
pages are generated from Azure's role definitions and published as Markdown in
MicrosoftDocs/azure-docs under articles/role-based-access-control/built-in-roles/. Every role on
those pages ends with the role definition as a ```json block (id, name, roleName, permissions).

Usage (a checkout, or a download of that folder at a pinned commit):

    scripts/builtin_roles.py --docs <azure-docs>/articles/role-based-access-control/built-in-roles \
        --commit <azure-docs commit> > src/permissions/builtin_roles.json

The output names the source, the commit and each page's ms.date, so the catalogue says how old
it is. Roles are sorted by name; a GUID seen twice keeps the first page's definition. Only the
standard library is used.
"""

import argparse
import json
import pathlib
import re
import sys

BLOCK = re.compile(r"```json\s*\n(.*?)\n```", re.S)
MS_DATE = re.compile(r"^ms\.date:\s*(\S+)", re.M)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def roles_of(text):
    for block in BLOCK.findall(text):
        try:
            role = json.loads(block)
        except json.JSONDecodeError:
            continue
        if not isinstance(role, dict) or role.get("roleType") != "BuiltInRole":
            continue
        name = role.get("name") or str(role.get("id", "")).rsplit("/", 1)[-1]
        if not GUID.match(name or ""):
            continue
        yield {
            "name": name.lower(),
            "roleName": role["roleName"],
            "description": role.get("description", ""),
            "permissions": [
                {
                    key: list(block.get(key) or [])
                    for key in ("actions", "notActions", "dataActions", "notDataActions")
                }
                for block in role.get("permissions", [])
            ],
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", required=True, type=pathlib.Path)
    parser.add_argument("--commit", required=True)
    args = parser.parse_args()
    pages = sorted(args.docs.glob("*.md"))
    if not pages:
        sys.exit(f"{args.docs}: no Markdown pages")
    seen = {}
    dates = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        date = MS_DATE.search(text)
        dates.append(f"{page.name} (ms.date {date.group(1) if date else 'unknown'})")
        for role in roles_of(text):
            seen.setdefault(role["name"], role)
    out = {
        "source": (
            "Microsoft Learn 'Azure built-in roles' reference "
            "(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), "
            f"role-definition JSON blocks of MicrosoftDocs/azure-docs@{args.commit} "
            "articles/role-based-access-control/built-in-roles/: " + ", ".join(dates)
        ),
        "roles": sorted(seen.values(), key=lambda r: (r["roleName"].lower(), r["name"])),
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
