"""Domain flows: they combine actions and the store, and know nothing about Slack."""
