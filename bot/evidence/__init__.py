"""The evidence log (issue 16): pure functions over a case's events.

`model` (what an event is), `moment` (when it happened, as people type it: 昨晚11点, 10
minutes ago), `rules` (the rules checked over time: night contacts, daily caps, third parties,
contacts after the stop request, scanned messages, the trend), `timeline` (the events by day,
for a phone), `paste` (does a message look like a collector wrote it), `summary` (the counts
and dates the letters cite). No I/O: bot/actions/evidence.py reads and writes the store.
"""
