"""Users, groups, memberships and API keys."""
