"""The channel-neutral core: messages in and out, the engine, commands and i18n."""
