"""The LTI 1.3, Deep Linking 2.0 and AGS 2.0 names this tool reads and writes (IMS/1EdTech)."""

from __future__ import annotations

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
LIS = LTI + "lis"
TOOL_PLATFORM = LTI + "tool_platform"

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DEEP_LINKING_SETTINGS = DL + "deep_linking_settings"
CONTENT_ITEMS = DL + "content_items"
DL_DATA = DL + "data"
DL_MSG = DL + "msg"

AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
AGS_SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"

LTI_VERSION = "1.3.0"
RESOURCE_LINK_TYPE = "ltiResourceLink"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
MESSAGE_TYPES = frozenset({RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST})

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Roles (LIS vocabulary): context roles first, then institution roles; the short forms
# ("Learner", "Instructor") some platforms send are accepted too.
_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
_INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
TEACHING_ROLES = frozenset(
    {
        _MEMBERSHIP + "Instructor",
        _MEMBERSHIP + "Administrator",
        _MEMBERSHIP + "ContentDeveloper",
        _MEMBERSHIP + "Mentor",
        _INSTITUTION + "Instructor",
        _INSTITUTION + "Faculty",
        "Instructor",
    }
)
LEARNING_ROLES = frozenset({_MEMBERSHIP + "Learner", _INSTITUTION + "Student", "Learner"})
LEARNER = _MEMBERSHIP + "Learner"
INSTRUCTOR = _MEMBERSHIP + "Instructor"

#: The custom parameter (resource link custom claim) naming the administration to open.
CUSTOM_ADMINISTRATION = "administration_id"
