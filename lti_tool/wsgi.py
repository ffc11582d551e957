"""Entry point for production servers: ``gunicorn 'lti_tool.wsgi:app'`` (settings from LTI_TOOL_*)."""

from lti_tool.app import create_app

app = create_app()
