"""The media library's images as the agent publishes them: what it accepts, and where they are
served."""
