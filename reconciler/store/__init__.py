"""The state database (SQLite): deployments, webhook deliveries, pins and other records."""
