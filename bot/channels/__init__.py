"""The channels: each turns one platform's messages into `Inbound`s and `Reply`s back into
that platform's messages. The contract they share, and the plumbing every one of them needs
(dedup and retries through the inbox, ack, last-resort errors, text-only rendering), is
bot/channels/base.py.

MODULES names the module of each channel that runs as a service (`python -m bot run`); each
defines `configure(engine, settings) -> Channel | None` (None: its settings are not set).
SERVED are the ones `serve` runs and `create_app` mounts by default. The terminal chat
(console.py) is a channel too, run by `python -m bot chat` in the foreground.
"""

MODULES = {
    "web": "bot.channels.web",
    "wechat": "bot.channels.wechat",
    "telegram": "bot.channels.telegram",
}
SERVED = ("web", "wechat")
