"""HTTP client of a Flightlog server and the witness that checks it."""
