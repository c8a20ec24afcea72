"""agentctl: a durable runtime for AI agents on one machine."""

__version__ = "0.1.0"
