"""The daemon: hosts the runtime and serves the HTTP API on a Unix socket (docs/design.md §2, §7, §14).

`python -m agentctl.daemon` runs it in the foreground; `lifecycle` starts,
stops and inspects it from another process. Import `server` only in the
daemon process: it pulls in the runtime, the store and uvicorn.
"""
