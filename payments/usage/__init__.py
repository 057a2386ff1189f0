"""Usage metering and credit packs: counting the gateway's events, allowances, credits."""
