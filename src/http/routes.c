/* The route table. /api/openapi.json must describe every entry (tests check it). */
#include "http/http.h"

const struct route http_routes[] = {
  {"GET", "/healthz", h_healthz, 1},
  {"GET", "/readyz", h_readyz, 1},
  {"GET", "/metrics", h_metrics, 1},
  {"GET", "/api/openapi.json", h_openapi, 1},
  {"GET", "/", h_ui, 1},
  {"GET", "/api/v1/me", h_me, 0},
  {"POST", "/api/v1/folders", h_folders_create, 0},
  {"GET", "/api/v1/folders", h_folders_list, 0},
  {"GET", "/api/v1/folders/{id}", h_folder_get, 0},
  {"PATCH", "/api/v1/folders/{id}", h_folder_patch, 0},
  {"DELETE", "/api/v1/folders/{id}", h_folder_delete, 0},
  {"GET", "/api/v1/folders/{id}/archive", h_folder_archive, 0},
  {"POST", "/api/v1/folders/{id}/files", h_files_upload_multipart, 0},
  {"PUT", "/api/v1/folders/{id}/files/{name}", h_files_put, 0},
  {"GET", "/api/v1/files/{id}", h_file_get, 0},
  {"PATCH", "/api/v1/files/{id}", h_file_patch, 0},
  {"DELETE", "/api/v1/files/{id}", h_file_delete, 0},
  {"GET", "/api/v1/files/{id}/content", h_file_content, 0},
  {"OPTIONS", "/api/v1/uploads", h_tus_options, 1},
  {"POST", "/api/v1/uploads", h_tus_create, 0},
  {"HEAD", "/api/v1/uploads/{id}", h_tus_head, 0},
  {"PATCH", "/api/v1/uploads/{id}", h_tus_patch, 0},
  {"DELETE", "/api/v1/uploads/{id}", h_tus_delete, 0},
};
const int http_route_count = sizeof http_routes / sizeof http_routes[0];
