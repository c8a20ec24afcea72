"""The Textual TUI: talks to the daemon only through agentctl.client."""
