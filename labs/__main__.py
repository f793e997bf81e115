"""`python -m labs [NAME]` (`make lab NAME=<lab>`): run one lab with narration, or list them."""

import importlib
import sys

from labs import LABS
from labs import stack as lab_stack


def main(argv: list[str]) -> int:
    if not argv:
        print("Labs (make lab NAME=<lab>; docs/labs.md explains each):")
        for name in LABS:
            doc = (importlib.import_module(f"labs.{name}").__doc__ or "").splitlines()[0]
            print(f"  {name:24} {doc}")
        return 0
    name = argv[0]
    if name not in LABS:
        print(f"unknown lab {name!r}; one of: {', '.join(LABS)}", file=sys.stderr)
        return 2
    lab = importlib.import_module(f"labs.{name}")
    print(f"== {name}: {lab.__doc__.splitlines()[0]}")
    with lab_stack.running() as stack:
        result = lab.run(stack, lambda line: print(f"   {line}", flush=True))
    print(f"== result: before [{result.before}] after [{result.after}]")
    for key, value in result.seen.items():
        print(f"   {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
