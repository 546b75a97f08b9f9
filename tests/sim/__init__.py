"""Tests of the simulator (massagesim): firmware through bytes, the device handle, serving."""
