"""`mfsearch spaces`: the search spaces shipped with mfsearch, to search by name (`--space
iformer`) or to copy and edit (`mfsearch spaces show iformer > my_space.yaml`)."""

from __future__ import annotations

import argparse

import yaml

from ..errors import UserError
from ..families import DEFAULT_FAMILY
from ..space import shipped_space, shipped_spaces


def register(sub) -> None:
    p = sub.add_parser("spaces", help="list the shipped search spaces, or print one to copy "
                                      "and edit")
    action = p.add_subparsers(dest="action", metavar="ACTION")
    action.add_parser("list", help="the shipped spaces and their families (the default)")
    show = action.add_parser("show", help="print a shipped space's YAML")
    show.add_argument("name", help="a shipped space, e.g. mobile_former or iformer")
    p.set_defaults(func=cmd_spaces)


def cmd_spaces(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "show":
        text = shipped_space(args.name)
        if text is None:
            raise UserError(f"no shipped space {args.name!r}; shipped: "
                            f"{', '.join(shipped_spaces())}")
        print(text, end="")
        return 0
    for name, text in shipped_spaces().items():
        family = (yaml.safe_load(text) or {}).get("family", DEFAULT_FAMILY)
        print(f"{name:<16} family {family:<14} --space {name}")
    print("copy one to edit it: mfsearch spaces show NAME > my_space.yaml; then --space "
          "my_space.yaml")
    return 0
