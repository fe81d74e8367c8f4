"""The web UI: server-rendered pages and small plain ES modules, no build step."""
