from agentctl.cli.main import run

run()
