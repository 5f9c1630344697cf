"""Imports every feature module so its actions, commands and buttons register."""

from bot.actions import apr, bundle, complaints, evidence, media, onboard, remind, report, witness  # noqa: F401
