"""worker: consumes OrderPlaced events and writes the order timeline to Cosmos DB."""
