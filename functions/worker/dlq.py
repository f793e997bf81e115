"""`python -m functions.worker dlq list|show|replay|purge`: the operators' dead-letter tool, on
whichever bus `EVENT_BUS` selects (the local queue, or Service Bus with the same connection
settings as the worker's trigger). See docs/labs.md for when to use each command.

    dlq list [--limit N]            sequence number, reason, delivery count, subject, message id
    dlq show SEQ                    one dead letter with its body
    dlq replay SEQ... | --all       back to the queue (safe to repeat: the worker is idempotent)
    dlq purge SEQ... | --all [--yes]   delete for good; asks to confirm unless --yes
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from functions.shared.eventbus.dead_letters import (
    DeadLetterRecord,
    DeadLetters,
    dead_letters_from_settings,
)
from functions.shared.eventbus.settings import EventBusSettings


def _body(record: DeadLetterRecord) -> object:
    try:
        return json.loads(record.body)
    except ValueError:
        return record.body.decode("utf-8", errors="replace")


def _selection(args: argparse.Namespace) -> list[int] | None:
    if args.all == bool(args.sequence_numbers):
        raise SystemExit("name sequence numbers or --all (not both)")
    return None if args.all else args.sequence_numbers


def _all_found(selection: list[int] | None, settled: int) -> int:
    """0 when every dead letter named was settled; else 1, saying so (a script running the
    command must not take "replayed 0" for success)."""
    if selection is None or settled >= len(set(selection)):
        return 0
    print(
        f"{len(set(selection)) - settled} of the {len(set(selection))} named were not found "
        "(settled already? `dlq list` shows what is left)",
        file=sys.stderr,
    )
    return 1


def run(
    argv: list[str],
    dead_letters: DeadLetters | None = None,
    confirm: Callable[[str], str] = input,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.worker dlq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list dead letters")
    listing.add_argument("--limit", type=int, default=50)
    show = commands.add_parser("show", help="one dead letter with its body")
    show.add_argument("sequence_number", type=int)
    for name in ("replay", "purge"):
        command = commands.add_parser(name, help=f"{name} dead letters")
        command.add_argument("sequence_numbers", type=int, nargs="*")
        command.add_argument("--all", action="store_true")
        if name == "purge":
            command.add_argument("--yes", action="store_true", help="do not ask to confirm")
    args = parser.parse_args(argv)

    dead_letters = dead_letters or dead_letters_from_settings(EventBusSettings())
    try:
        if args.command == "list":
            records = dead_letters.list(limit=args.limit)
            for r in records:
                print(
                    f"{r.sequence_number}\t{r.reason}\tdeliveries={r.delivery_count}\t"
                    f"{r.subject}\t{r.message_id}\t{r.description}"
                )
            print(f"{len(records)} dead letter(s)", file=sys.stderr)
            return 0
        if args.command == "show":
            record = dead_letters.show(args.sequence_number)
            if record is None:
                print(f"no dead letter {args.sequence_number}", file=sys.stderr)
                return 1
            shown = {**record.__dict__, "body": _body(record)}
            print(json.dumps(shown, default=str, indent=2))
            return 0
        selection = _selection(args)
        if args.command == "replay":
            replayed = dead_letters.replay(selection)
            print(f"replayed {replayed} dead letter(s)")
            return _all_found(selection, replayed)
        what = "EVERY dead letter" if selection is None else f"dead letters {selection}"
        if not args.yes and confirm(f"purge {what} for good? [y/N] ").strip().lower() != "y":
            print("nothing purged", file=sys.stderr)
            return 1
        purged = dead_letters.purge(selection)
        print(f"purged {purged} dead letter(s)")
        return _all_found(selection, purged)
    finally:
        dead_letters.close()
