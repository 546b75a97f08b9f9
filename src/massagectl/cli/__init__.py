"""The ``massagectl`` command line: a thin surface over the device and scheduler objects."""
