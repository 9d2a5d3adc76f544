"""What the agent's public pages share: their strings in every language they speak."""
