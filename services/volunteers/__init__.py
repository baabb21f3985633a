"""The volunteers service (owned by the Youth League, `cyl`): volunteers, shifts, hours."""
