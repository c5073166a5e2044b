"""The command palette provider: every action of the app and of the current view."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from alfred_tui.screens.help import key_label


class AlfredCommands(Provider):
    """Each binding with a description is a command, named by what it does."""

    def commands(self) -> list[tuple[str, str, str]]:
        app = self.app
        view = app.current_view()
        found = []
        for binding in [
            *app.ACTION_BINDINGS,
            *app.APP_BINDINGS,
            *(type(view).BINDINGS if view else []),
        ]:
            if not binding.description:
                continue
            if app.check_action(binding.action.split("(")[0], ()) is False:
                continue
            title = binding.tooltip or binding.description
            found.append((title, key_label(binding.key), binding.action))
        return found

    async def discover(self) -> Hits:
        for title, keys, action in self.commands():
            yield DiscoveryHit(title, partial(self.run, action), help=f"key: {keys}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, keys, action in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.run, action),
                    help=f"key: {keys}",
                )

    async def run(self, action: str) -> None:
        view = self.app.current_view()
        if view is not None and not action.startswith("app."):
            name = action.split("(")[0]
            if hasattr(view, f"action_{name}"):
                await view.run_action(action)
                return
        await self.app.run_action(action)
