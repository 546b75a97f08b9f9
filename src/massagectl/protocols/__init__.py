"""Sans-I/O protocol codecs: commands to bytes, bytes to events. No asyncio, sockets or clocks."""
