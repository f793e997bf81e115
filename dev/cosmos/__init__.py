"""The local Cosmos DB for NoSQL stand-in: `server.js` and its Python launcher (`launcher.py`)."""
