"""perifacial.host: talk to boards (or the virtual board ``sim://``), decode, record, export, sync video."""
