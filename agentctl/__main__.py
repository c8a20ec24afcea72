from agentctl.cli.entry import run

run()
