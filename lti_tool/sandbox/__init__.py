"""Faithful stand-ins for the outside world: an LTI 1.3 platform (LMS), Speechace and iTEP.

Used by the demo (``lti-tool demo``) and the test suite. Production code never imports this package.
"""
