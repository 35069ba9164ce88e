"""HTTP clients of a Flightlog server."""
