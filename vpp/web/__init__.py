"""The HTML pages: server-rendered Jinja, usable without JavaScript."""
