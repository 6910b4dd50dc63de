"""Local emulators of the external APIs the suite talks to."""
