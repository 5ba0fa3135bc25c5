#!/usr/bin/env python3
"""Sample AI for the PAIA "catch" demo game.

The game runs this program and talks to it through stdin/stdout:

  * every frame it writes ONE line of JSON to our stdin, e.g.
      {"frame": 0, "width": 16, "height": 12,
       "ball": {"x": 3, "y": 0}, "paddle": {"x": 8}, "score": 0}
  * we must answer with ONE line on stdout: LEFT, RIGHT or STAY
    (a JSON object such as {"action": "LEFT"} works too).

Answer quickly: a frame without a reply in time counts as STAY.
When the game is over it closes our stdin; we then just exit 0.
Anything printed to stderr ends up in the task's log, so use it to debug.
"""

import json
import sys


def decide(state):
    """Move the paddle toward the column the ball is falling down."""
    ball_x = state["ball"]["x"]
    paddle_x = state["paddle"]["x"]
    if ball_x < paddle_x:
        return "LEFT"
    if ball_x > paddle_x:
        return "RIGHT"
    return "STAY"


def main():
    for line in sys.stdin:          # one line per frame; ends at EOF
        line = line.strip()
        if not line:
            continue
        try:
            action = decide(json.loads(line))
        except (ValueError, KeyError, TypeError) as err:
            print("sample-ai: bad state %r: %s" % (line, err), file=sys.stderr)
            action = "STAY"
        print(action, flush=True)   # flush, or the game never sees it
    return 0


if __name__ == "__main__":
    sys.exit(main())
