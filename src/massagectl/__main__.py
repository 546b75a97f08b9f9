"""``python -m massagectl``."""

from .cli.app import main

main()
