"""`python -m functions.worker`: the local consumer (see local_consumer.py);
`python -m functions.worker dlq ...`: the dead-letter tool (see dlq.py)."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["dlq"]:
        from functions.worker.dlq import run

        sys.exit(run(sys.argv[2:]))
    from functions.worker.local_consumer import main

    main()
