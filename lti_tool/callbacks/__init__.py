"""Provider callbacks: Speechace's score callback, iTEP's results webhook."""
