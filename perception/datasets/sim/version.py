"""Version of the simulator's output: bump it whenever the same config and seed would give different files."""
GENERATOR_VERSION = "1.0.0"
