"""The command line: thin commands (parse, call the client, render), one module per group."""
