#!/usr/bin/env python3
"""Regenerates src/permissions/builtin_roles.json from Microsoft's built-in roles reference.

Source: the "Azure built-in roles" reference on Microsoft Learn
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), whose per-category
pages are generated from Azure's role definitions and published as Markdown in
MicrosoftDocs/azure-docs under articles/role-based-access-control/built-in-roles/. Every role on
those pages ends with the role definition as a ```json block (id, name, roleName, permissions).

Usage (a checkout of that folder at one commit):

    scripts/builtin_roles.py --docs <azure-docs>/articles/role-based-access-control/built-in-roles \
        --commit <azure-docs commit> > src/permissions/builtin_roles.json

or pages downloaded one by one, each at the commit it was read at, listed in a JSON file
{"containers.md": "<commit>", ...} (every page in --docs must be listed):

    scripts/builtin_roles.py --docs <folder> --commits <folder>/commits.json \
        --keep src/permissions/builtin_roles.json > builtin_roles.new.json

--keep carries over, unchanged, every role of an earlier catalogue that none of the pages read
defines (for pages that could not be read this time); the output's source then names those roles
and quotes the earlier catalogue's source. Without --keep only the pages' roles are written.

The output names the source, each page's commit and ms.date, so the catalogue says how old it
is. Roles are sorted by name; a GUID seen twice keeps the first page's definition (pages in file
name order). A permission block that carries an ABAC condition keeps it, as "condition" and
"conditionVersion" next to the four lists. Only the standard library is used.
"""

import argparse
import json
import pathlib
import re
import sys

BLOCK = re.compile(r"```json\s*\n(.*?)\n```", re.S)
MS_DATE = re.compile(r"^ms\.date:\s*(\S+)", re.M)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
PERMISSION_KEYS = ("actions", "notActions", "dataActions", "notDataActions")


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
            "permissions": [permission_block(block) for block in role.get("permissions", [])],
        }


def permission_block(block):
    out = {key: list(block.get(key) or []) for key in PERMISSION_KEYS}
    # A few built-in roles constrain a block with an ABAC condition (e.g. which roles a
    # delegated role-assignment writer may assign). Kept verbatim so the grant is never
    # read as unconditional.
    if block.get("condition"):
        out["condition"] = block["condition"]
        out["conditionVersion"] = block.get("conditionVersion", "")
    return out


def page_commits(args, pages):
    if args.commit:
        if not COMMIT.match(args.commit):
            sys.exit(f"--commit {args.commit!r}: not a 40-digit lowercase commit id")
        return {page.name: args.commit for page in pages}
    try:
        commits = json.loads(args.commits.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        sys.exit(f"{args.commits}: {err}")
    if not isinstance(commits, dict):
        sys.exit(f"{args.commits}: expected an object of page name -> commit")
    for page in pages:
        commit = commits.get(page.name)
        if not isinstance(commit, str) or not COMMIT.match(commit):
            sys.exit(f"{args.commits}: no 40-digit commit id for {page.name}")
    return commits


def kept_roles(path, seen):
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        sys.exit(f"{path}: {err}")
    kept = []
    for role in earlier.get("roles", []):
        if role["name"].lower() not in seen:
            kept.append(role)
    return earlier.get("source", ""), kept


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", required=True, type=pathlib.Path)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--commit", help="the azure-docs commit every page was read at")
    which.add_argument(
        "--commits", type=pathlib.Path, help="JSON object: page file name -> azure-docs commit"
    )
    parser.add_argument(
        "--keep",
        type=pathlib.Path,
        help="earlier catalogue whose roles not defined on the pages read are carried over",
    )
    args = parser.parse_args()
    pages = sorted(args.docs.glob("*.md"))
    if not pages:
        sys.exit(f"{args.docs}: no Markdown pages")
    commits = page_commits(args, pages)
    seen = {}
    described = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        date = MS_DATE.search(text)
        described.append(
            f"{page.name}@{commits[page.name]} (ms.date {date.group(1) if date else 'unknown'})"
        )
        for role in roles_of(text):
            seen.setdefault(role["name"], role)
    source = (
        "Microsoft Learn 'Azure built-in roles' reference "
        "(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), "
        "role-definition JSON blocks of MicrosoftDocs/azure-docs "
        "articles/role-based-access-control/built-in-roles/: " + ", ".join(described)
    )
    roles = list(seen.values())
    if args.keep:
        earlier_source, kept = kept_roles(args.keep, seen)
        if kept:
            names = ", ".join(sorted(r["roleName"] for r in kept))
            source += (
                f". Carried over unchanged from the earlier catalogue, whose pages were not read "
                f"this time: {names}. The earlier catalogue's source: {earlier_source}"
            )
            roles.extend(kept)
    out = {
        "source": source,
        "roles": sorted(roles, key=lambda r: (r["roleName"].lower(), r["name"])),
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
