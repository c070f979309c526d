"""The Slack surface: Bolt app, Block Kit builders, listeners and the outbox deliverer."""
