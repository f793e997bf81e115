"""Code every TinyShop app uses: settings, database, migrations, errors, health, logs, telemetry."""
