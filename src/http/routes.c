/* The route table. /api/openapi.json must describe every entry (tests check it), and each
 * entry declares its scope (http.h), which the dispatcher checks before the handler runs:
 * HTTP_PUBLIC takes no identity (operations endpoints, the UI's pages, the tus capability
 * probe, and /s/ links, which carry their own); HTTP_WRITE refuses read-scoped tokens;
 * HTTP_ADMIN needs an administrator. `carboy routes` prints the table with the scopes. */
#include "http/http.h"

const struct route http_routes[] = {
  {"GET", "/healthz", h_healthz, HTTP_PUBLIC},
  {"GET", "/readyz", h_readyz, HTTP_PUBLIC},
  {"GET", "/metrics", h_metrics, HTTP_PUBLIC},
  {"GET", "/api/openapi.json", h_openapi, HTTP_PUBLIC},
  {"GET", "/", h_ui, HTTP_PUBLIC},
  {"GET", "/login", h_ui, HTTP_PUBLIC},
  {"GET", "/folders/{id}", h_ui, HTTP_PUBLIC},
  {"GET", "/files/{id}", h_ui, HTTP_PUBLIC},
  {"GET", "/search", h_ui, HTTP_PUBLIC},
  {"GET", "/jobs", h_ui, HTTP_PUBLIC},
  {"GET", "/admin", h_ui, HTTP_PUBLIC},
  {"GET", "/assets/{name}", h_ui_asset, HTTP_PUBLIC},
  {"POST", "/api/v1/auth/login", h_login, HTTP_PUBLIC},
  {"POST", "/api/v1/auth/logout", h_logout, HTTP_READ},
  {"GET", "/api/v1/me", h_me, HTTP_READ},
  {"GET", "/api/v1/auth/session", h_session, HTTP_READ},
  {"POST", "/api/v1/tokens", h_tokens_create, HTTP_WRITE},
  {"GET", "/api/v1/tokens", h_tokens_list, HTTP_READ},
  {"DELETE", "/api/v1/tokens/{id}", h_tokens_delete, HTTP_WRITE},
  {"POST", "/api/v1/users", h_users_create, HTTP_ADMIN},
  {"GET", "/api/v1/users", h_users_list, HTTP_ADMIN},
  {"PATCH", "/api/v1/users/{id}", h_user_patch, HTTP_ADMIN},
  {"DELETE", "/api/v1/users/{id}", h_user_delete, HTTP_ADMIN},
  {"DELETE", "/api/v1/users/{id}/sessions", h_user_sessions_delete, HTTP_ADMIN},
  {"PUT", "/api/v1/me/password", h_me_password, HTTP_WRITE},
  {"DELETE", "/api/v1/me/sessions", h_me_sessions_delete, HTTP_WRITE},
  {"POST", "/api/v1/groups", h_groups_create, HTTP_ADMIN},
  {"GET", "/api/v1/groups", h_groups_list, HTTP_ADMIN},
  {"POST", "/api/v1/groups/{id}/members", h_group_members_add, HTTP_ADMIN},
  {"DELETE", "/api/v1/groups/{id}/members/{user_id}", h_group_members_delete, HTTP_ADMIN},
  {"GET", "/api/v1/audit", h_audit_list, HTTP_ADMIN},
  {"GET", "/api/v1/schemas", h_schemas_list, HTTP_PUBLIC},
  {"GET", "/api/v1/schemas/{name}", h_schema_get, HTTP_PUBLIC},
  {"POST", "/api/v1/folders", h_folders_create, HTTP_WRITE},
  {"GET", "/api/v1/folders", h_folders_list, HTTP_READ},
  {"GET", "/api/v1/folders/{id}", h_folder_get, HTTP_READ},
  {"PATCH", "/api/v1/folders/{id}", h_folder_patch, HTTP_WRITE},
  {"DELETE", "/api/v1/folders/{id}", h_folder_delete, HTTP_WRITE},
  {"GET", "/api/v1/folders/{id}/archive", h_folder_archive, HTTP_READ},
  {"PUT", "/api/v1/folders/{id}/visibility", h_share_visibility, HTTP_WRITE},
  {"POST", "/api/v1/folders/{id}/grants", h_share_grants_create, HTTP_WRITE},
  {"GET", "/api/v1/folders/{id}/grants", h_share_grants_list, HTTP_READ},
  {"DELETE", "/api/v1/folders/{id}/grants/{grant_id}", h_share_grants_delete, HTTP_WRITE},
  {"POST", "/api/v1/folders/{id}/links", h_share_links_create, HTTP_WRITE},
  {"GET", "/api/v1/folders/{id}/links", h_share_links_list, HTTP_READ},
  {"POST", "/api/v1/folders/{id}/files", h_files_upload_multipart, HTTP_WRITE},
  {"PUT", "/api/v1/folders/{id}/files/{name}", h_files_put, HTTP_WRITE},
  {"GET", "/api/v1/files/{id}", h_file_get, HTTP_READ},
  {"PATCH", "/api/v1/files/{id}", h_file_patch, HTTP_WRITE},
  {"DELETE", "/api/v1/files/{id}", h_file_delete, HTTP_WRITE},
  {"GET", "/api/v1/files/{id}/content", h_file_content, HTTP_READ},
  {"PUT", "/api/v1/files/{id}/visibility", h_share_visibility, HTTP_WRITE},
  {"POST", "/api/v1/files/{id}/grants", h_share_grants_create, HTTP_WRITE},
  {"GET", "/api/v1/files/{id}/grants", h_share_grants_list, HTTP_READ},
  {"DELETE", "/api/v1/files/{id}/grants/{grant_id}", h_share_grants_delete, HTTP_WRITE},
  {"POST", "/api/v1/files/{id}/links", h_share_links_create, HTTP_WRITE},
  {"GET", "/api/v1/files/{id}/links", h_share_links_list, HTTP_READ},
  {"DELETE", "/api/v1/links/{id}", h_link_delete, HTTP_WRITE},
  {"GET", "/s/{token}", h_link_root, HTTP_PUBLIC},
  {"GET", "/s/{token}/archive", h_link_archive, HTTP_PUBLIC},
  {"GET", "/s/{token}/folders/{id}", h_link_folder, HTTP_PUBLIC},
  {"GET", "/s/{token}/files/{id}", h_link_file, HTTP_PUBLIC},
  {"GET", "/s/{token}/files/{id}/content", h_link_file_content, HTTP_PUBLIC},
  {"GET", "/api/v1/files/{id}/text", h_file_text, HTTP_READ},
  {"GET", "/api/v1/files/{id}/records", h_file_records, HTTP_READ},
  {"GET", "/api/v1/records/{id}", h_record_get, HTTP_READ},
  {"GET", "/api/v1/records/{id}/depiction", h_record_depiction, HTTP_READ},
  {"GET", "/api/v1/files/{id}/preview", h_file_preview, HTTP_READ},
  {"GET", "/api/v1/files/{id}/convert", h_file_convert, HTTP_READ},
  {"GET", "/api/v1/search", h_search, HTTP_READ},
  {"GET", "/api/v1/search/structure", h_search_structure, HTTP_READ},
  {"GET", "/api/v1/files/{id}/artifacts/{kind}", h_file_artifact, HTTP_READ},
  {"POST", "/api/v1/jobs", h_jobs_create, HTTP_WRITE},
  {"GET", "/api/v1/jobs", h_jobs_list, HTTP_READ},
  {"GET", "/api/v1/jobs/{id}", h_job_get, HTTP_READ},
  {"POST", "/api/v1/jobs/{id}/cancel", h_job_cancel, HTTP_WRITE},
  {"POST", "/api/v1/jobs/{id}/retry", h_job_retry, HTTP_WRITE},
  {"GET", "/api/v1/events", h_events, HTTP_READ},
  {"POST", "/api/v1/webhooks", h_webhooks_create, HTTP_WRITE},
  {"GET", "/api/v1/webhooks", h_webhooks_list, HTTP_READ},
  {"PATCH", "/api/v1/webhooks/{id}", h_webhooks_patch, HTTP_WRITE},
  {"DELETE", "/api/v1/webhooks/{id}", h_webhooks_delete, HTTP_WRITE},
  {"OPTIONS", "/api/v1/uploads", h_tus_options, HTTP_PUBLIC},
  {"POST", "/api/v1/uploads", h_tus_create, HTTP_WRITE},
  {"HEAD", "/api/v1/uploads/{id}", h_tus_head, HTTP_READ},
  {"PATCH", "/api/v1/uploads/{id}", h_tus_patch, HTTP_WRITE},
  {"DELETE", "/api/v1/uploads/{id}", h_tus_delete, HTTP_WRITE},
};
const int http_route_count = sizeof http_routes / sizeof http_routes[0];

const char *http_scope_name(enum http_scope s)
{
  switch (s) {
  case HTTP_PUBLIC: return "public";
  case HTTP_READ: return "read";
  case HTTP_WRITE: return "write";
  case HTTP_ADMIN: return "admin";
  }
  return "?";
}
