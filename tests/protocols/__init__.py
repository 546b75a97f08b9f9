"""Golden and property tests of the real-device codecs (Theragun, Lovense, RongTai)."""
