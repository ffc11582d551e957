"""The tool's admin pages: deployments, registrations, assessments and their keys, the grade passback queue.

Two ways in (see :mod:`lti_tool.admin.auth`): a tool admin account created at install (``lti-tool admin add-user``)
or a launch from the LMS by an institution/system administrator.
"""
