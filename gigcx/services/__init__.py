"""The service layer: the only code that changes data, commits, and then emits events."""
