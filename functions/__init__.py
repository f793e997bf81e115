"""TinyShop's Azure Functions apps: one package per app plus `shared` code they all use."""
