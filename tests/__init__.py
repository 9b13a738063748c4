"""orbitlink package."""
