"""What the tests share besides fixtures, importable as `tests.support.<area>`.

`conftest.py` files hold fixtures only; a helper function, class, type alias or
constant that a test or a fixture uses lives here, one module per area:

- `run`: the test run itself (its sandbox label, the Docker engine, the daemon a
  test's home may have started).
- `daemon`: a real daemon process, replay replies, waiting for a session's status.
- `cli`, `fork`, `observe`, `hostile`, `mcp`, `llama`, `providers`, `sandboxes`,
  `store`, `triggers`, `tui`: the helpers of the tests of that name.

The larger pieces an area's tests drive (the fake and hostile model servers, the
runtime harness, the TUI stub) stay beside those tests.
"""
