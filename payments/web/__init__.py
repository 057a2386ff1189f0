"""The aiohttp web service: top-up and account pages, provider webhooks, health and metrics."""
