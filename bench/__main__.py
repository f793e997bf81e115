"""Run every benchmark: `make bench`."""

from bench import catalog, orders, pipeline

if __name__ == "__main__":
    catalog.run()
    print()
    orders.run()
    print()
    pipeline.run()
