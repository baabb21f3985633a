"""The kit shared by every service: a library, never run on its own."""
