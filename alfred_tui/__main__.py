"""`alfred-tui`: the terminal app (a placeholder until the app lands)."""

import sys


def main() -> int:
    print("alfred-tui: the terminal app is not built yet; use `alfred status`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
