"""The policy presets, as TOML files read by the same parser as a user's policy.

A package (not a bare folder) so that setuptools ships the `*.toml` files as
package data and `importlib.resources` finds them in a wheel.
"""
