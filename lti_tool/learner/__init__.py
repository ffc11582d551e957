"""The learner surface: the embedded test (or test ticket), retry, and the status the page polls."""
