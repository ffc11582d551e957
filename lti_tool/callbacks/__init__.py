"""Provider callbacks (``/callbacks/<provider>``): each provider's score callback or results webhook."""
