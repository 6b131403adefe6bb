"""HTTP API (aiohttp): health, webhooks, reads and triggers; the only place errors become HTTP."""
