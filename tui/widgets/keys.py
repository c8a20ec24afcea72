"""The key bar: the bindings that apply, in one line, dimmed where they do not.

Textual's `Footer` is a container of one widget per key, composed again
whenever the bindings change, and they change with every move of the focus
(each pane has keys of its own) and with the target the footer names. That
recompose mounted a dozen widgets and laid the screen out again: a pane key
took 25-270 ms while events arrived. This bar is one widget that renders one
line of text, and repaints only when what it shows changed.

It looks like the footer (the same theme variables) and, like it, a click
on a key presses that key.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class Shown:
    """One key as the bar shows it."""

    key: str
    display: str
    description: str
    enabled: bool


class KeysBar(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"keys-bar--key", "keys-bar--description"}
    DEFAULT_CSS = """
    KeysBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .keys-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .keys-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: tuple[Shown, ...] = ()
        self.palette: Shown | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        shown, palette = self._collect(screen)
        if (shown, palette) != (self.shown, self.palette):
            self.shown, self.palette = shown, palette
            self.refresh()

    def _collect(self, screen: Screen[object]) -> tuple[tuple[Shown, ...], Shown | None]:
        app = self.app
        first: dict[str, Shown] = {}  # one key per action, as the footer shows it
        palette = None
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = self._shown(binding, enabled)
            elif binding.show and binding.action not in first:
                first[binding.action] = self._shown(binding, enabled)
        return tuple(first.values()), palette

    def _shown(self, binding: Binding, enabled: bool) -> Shown:
        return Shown(binding.key, self.app.get_key_display(binding), binding.description, enabled)

    @property
    def text(self) -> str:
        """What the bar says, as plain text (tests)."""
        return self.render().plain

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keys-bar--key")
        description_style = self.get_component_rich_style("keys-bar--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        for item in self.shown:
            self._append(line, item, key_style, description_style)
            line.append(" ")
        if self.palette is None:
            return line
        # The palette's key keeps the right end, as the footer docks it there;
        # the other keys give way to it when the line is too narrow for both.
        palette = Text("▏", style=Style(dim=True), no_wrap=True, end="")
        self._append(palette, self.palette, key_style, description_style, padded=False)
        room = max(0, self.size.width - palette.cell_len)
        line.truncate(room, overflow="crop")
        line.pad_right(room - line.cell_len)
        return line + palette

    def _append(
        self, line: Text, item: Shown, key_style: Style, description: Style, padded: bool = True
    ) -> None:
        """` key description ` (or `key description` unpadded), dimmed when disabled;
        the text is appended as it is, never read as markup."""
        dim = Style(dim=not item.enabled)
        click = Style(meta={"key": item.key})
        if padded:
            key, words = f" {item.display} ", f"{item.description} "
        else:
            key, words = item.display, f" {item.description}"
        line.append(key, key_style + dim + click)
        if item.description:
            line.append(words, description + dim + click)

    def on_click(self, event: events.Click) -> None:
        key = event.style.meta.get("key")
        if not isinstance(key, str):
            return
        if any(item.key == key and item.enabled for item in (*self.shown, self.palette) if item):
            self.app.simulate_key(key)
        else:
            self.app.bell()
