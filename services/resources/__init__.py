"""The resources service: the city-wide learning map (venues, slots, bookings, visits)."""
