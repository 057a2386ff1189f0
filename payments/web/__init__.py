"""The aiohttp web service: top-up pages, provider webhooks, health and metrics."""
