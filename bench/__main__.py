"""Run every benchmark: `make bench`."""

from bench import catalog

if __name__ == "__main__":
    catalog.run()
