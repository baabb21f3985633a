"""The committees service: parent committees, meetings and suggestions (owned by edu)."""
