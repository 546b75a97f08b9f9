"""MQTT: a gateway (``massagectl bridge``) that puts devices on a broker, Home Assistant
discovery, ``mqtt://`` device addresses that reach a device behind a gateway, and the fleet view.

The pieces that only compute (topics, the command schema, the payloads, discovery) do no I/O and
are tested on their own; :mod:`.gateway`, :mod:`.remote` and :mod:`.fleet` talk to the broker
through aiomqtt.
"""
