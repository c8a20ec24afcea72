"""MCP servers as a tool source: their configuration, their connections, their tools.

A server is configured once (`agentctl mcp add`, a 0600 JSON file in the
config folder); a session lists each server's tools at its first step and
records the listing (`mcp.listed`), so the tools a session has are in its
log, not in whatever a server says after a restart. Each call then goes
through the same step machine as a built-in tool: proposed, judged by the
policy, approved if asked, `tool.started` durable before it is sent, and
`tool.finished` after. See docs/mcp.md.
"""
