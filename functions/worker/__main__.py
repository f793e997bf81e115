"""`python -m functions.worker`: the local consumer (see local_consumer.py)."""

from functions.worker.local_consumer import main

if __name__ == "__main__":
    main()
