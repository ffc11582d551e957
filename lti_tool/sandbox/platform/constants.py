"""LTI 1.3 / LTI Advantage vocabulary used by the platform emulator (claim URIs, scopes, media types)."""

from __future__ import annotations

LTI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = LTI_CLAIM + "message_type"
CLAIM_VERSION = LTI_CLAIM + "version"
CLAIM_DEPLOYMENT_ID = LTI_CLAIM + "deployment_id"
CLAIM_TARGET_LINK_URI = LTI_CLAIM + "target_link_uri"
CLAIM_ROLES = LTI_CLAIM + "roles"
CLAIM_CONTEXT = LTI_CLAIM + "context"
CLAIM_RESOURCE_LINK = LTI_CLAIM + "resource_link"
CLAIM_CUSTOM = LTI_CLAIM + "custom"
CLAIM_LAUNCH_PRESENTATION = LTI_CLAIM + "launch_presentation"
CLAIM_TOOL_PLATFORM = LTI_CLAIM + "tool_platform"
CLAIM_LIS = LTI_CLAIM + "lis"
CLAIM_AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
CLAIM_CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
CLAIM_FOR_USER = LTI_CLAIM + "for_user"
# Canvas's name for its platform-storage frame (a sibling of the tool's iframe).
STORAGE_TARGET = "post_message_forwarding"
CANVAS_ACCOUNT_NAME = "https://canvas.instructure.com/lti/account_name"
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"
CANVAS_TOOL_ID = "https://canvas.instructure.com/lti/tool_id"
CANVAS_LAUNCH_WIDTH = "https://canvas.instructure.com/lti/launch_width"
CANVAS_LAUNCH_HEIGHT = "https://canvas.instructure.com/lti/launch_height"

LTI_VERSION = "1.3.0"
MSG_RESOURCE_LINK = "LtiResourceLinkRequest"
MSG_DEEP_LINKING = "LtiDeepLinkingRequest"
MSG_DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
MSG_SUBMISSION_REVIEW = "LtiSubmissionReviewRequest"
SUPPORTED_MESSAGES = (MSG_RESOURCE_LINK, MSG_DEEP_LINKING, MSG_SUBMISSION_REVIEW)
# Some of the placements Canvas offers per message type (Lti::ResourcePlacement::PLACEMENTS_BY_MESSAGE_TYPE).
CANVAS_PLACEMENTS = {
    MSG_RESOURCE_LINK: ("course_navigation", "account_navigation", "user_navigation", "link_selection",
                        "assignment_selection"),
    MSG_DEEP_LINKING: ("link_selection", "assignment_selection", "editor_button", "homework_submission",
                       "migration_selection"),
}
# A message registered without placements gets this one (app/models/lti/ims/registration.rb).
CANVAS_DEFAULT_PLACEMENT = "link_selection"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)
SERVICE_SCOPES = (*AGS_SCOPES, SCOPE_NRPS)

MEDIA_LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIP_CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_CONTENT_DEVELOPER = "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"
ROLE_INST_STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
ROLE_INST_FACULTY = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"
ROLE_SYSTEM_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
GRADABLE_ROLES = (ROLE_LEARNER,)

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
