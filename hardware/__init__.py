"""Board profiles (JSON) and the electrode montage, shipped as package data."""
