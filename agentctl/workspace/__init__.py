"""A session's workspace brought home: what changed, and putting it on the host.

`tree` reads a tar (the workspace as copied in, or `/workspace` exported
from a container or a checkpoint) into entries; `changes` compares two trees
into file changes and unified diffs; `apply` writes changes into a host
folder, refusing conflicts and any path that would leave it; `git` makes a
branch with one commit of them in the host repository; `instructions` reads
a project's AGENTS.md. Everything here is host-side and pure of Docker: the
runtime (`agentctl.runtime.workspaces`) fetches the tars.
"""
