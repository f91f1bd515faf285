#!/usr/bin/env python3
"""Writes schemas/openapi.json, the OpenAPI 3.1 description of carboy's HTTP API.

The document is generated from this file so that shared pieces (parameters, problem
responses, schemas) are written once. Edit here, run `python3 tools/gen_openapi.py`,
commit both. A test checks the document against the server's route table."""
import json
import os
import re

# the version is the one meson.build declares
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "meson.build")) as _f:
    VERSION = re.search(r"version\s*:\s*'([^']+)'", _f.read()).group(1)

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas", "openapi.json")


def P(name, desc, schema=None, where="path", req=True):
    return {"name": name, "in": where, "required": req, "description": desc, "schema": schema or {"type": "string"}}


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def R(desc, schema=None, headers=()):
    r = {"description": desc}
    if schema:
        r["content"] = {"application/json": {"schema": ref(schema)}}
    if headers:
        r["headers"] = {h: {"schema": {"type": "string"}} for h in headers}
    return r


def errs(*codes):
    return {str(c): {"$ref": "#/components/responses/Problem"} for c in codes}


def body(schema):
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def op(op_id, summary, tag, responses, **kw):
    o = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    o.update(kw)
    return o


STR = {"type": "string"}
S = lambda **props: {"type": "object", "properties": props}
ID = P("id", "Opaque id")
PAGE = [P("limit", "Page size, 1..1000 (default 100)", {"type": "integer", "minimum": 1, "maximum": 1000}, "query", False),
        P("cursor", "Opaque cursor from next_cursor", None, "query", False)]
TUS_H = P("Tus-Resumable", "Must be 1.0.0", {"type": "string", "const": "1.0.0"}, "header")
PUBLIC = {"security": []}
BINARY = {"type": "string", "format": "binary"}
NO_CONTENT = {"204": {"description": "Done"}}

paths = {}


def add(path, method, operation, params=None):
    item = paths.setdefault(path, {})
    if params is not None:
        item["parameters"] = params
    item[method] = operation


# ---- operations
add("/healthz", "get", op("healthz", "Liveness", "operations", {"200": R("Alive", "Status")}, **PUBLIC))
add("/readyz", "get", op("readyz", "Readiness: the database answers and the store answers with room", "operations",
                         {"200": R("Ready", "Status"), **errs(503)}, **PUBLIC))
add("/metrics", "get", op("metrics", "Prometheus metrics: requests by route and status, latency histogram per route, "
                          "bytes in/out, store size", "operations",
                          {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
                          **PUBLIC))
add("/api/openapi.json", "get", op("openapi", "This document", "operations",
                                   {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
                                   **PUBLIC))
HTML = {"200": {"description": "The UI's entry page (HTML; Content-Security-Policy, ETag, no-cache)",
                "content": {"text/html": {"schema": {"type": "string"}}}}, "304": {"description": "Not modified"}}
add("/", "get", op("ui", "The browser UI: its entry page", "ui", HTML, **PUBLIC))
for _route, _what in (("/login", "sign-in"), ("/folders/{id}", "a folder"), ("/files/{id}", "a file"),
                      ("/search", "search"), ("/jobs", "jobs"), ("/admin", "administration")):
    add(_route, "get", op("ui_" + _what.split()[-1].replace("-", "_"),
                          f"The browser UI's entry page for its {_what} page (a client-side route)", "ui", HTML, **PUBLIC),
        [ID] if "{id}" in _route else None)
add("/assets/{name}", "get", op("ui_asset", "A script, style sheet or image of the browser UI (names carry a content "
                                "hash: cached for a year, immutable; ETag)", "ui",
                                {"200": {"description": "The asset, with its media type"},
                                 "304": {"description": "Not modified"}, **errs(404)}, **PUBLIC),
    [P("name", "File name below assets/")])

# ---- accounts
add("/api/v1/auth/login", "post", op("login", "Sign in: sets the HttpOnly, SameSite=Lax session cookie. Failed attempts "
                                     "are throttled per user name and per address (429 with Retry-After).", "accounts",
                                     {"200": R("Signed in", "Login", ["Set-Cookie"]), **errs(400, 401, 415, 429)},
                                     requestBody=body("LoginRequest"), **PUBLIC))
add("/api/v1/auth/logout", "post", op("logout", "Sign out: ends the session and clears the cookie", "accounts",
                                      {**NO_CONTENT, **errs(403)}))
add("/api/v1/me", "get", op("me", "The caller", "accounts", {"200": R("The caller", "Me"), **errs(401)}))
add("/api/v1/auth/session", "get", op("session", "Who is signed in, if anyone: always 200 with `user` (as /me) or null "
                                      "(the browser UI's first request; an invalid bearer token is still 401)", "accounts",
                                      {"200": R("The caller or null", "Session"), **errs(401)}))
add("/api/v1/tokens", "post", op("createToken", "Create an API token; the token is shown once and stored hashed. Use it as "
                                 "Authorization: Bearer TOKEN (never in a URL).", "accounts",
                                 {"201": R("Created", "TokenCreated"), **errs(400, 401, 403, 415)},
                                 requestBody=body("TokenRequest")))
add("/api/v1/tokens", "get", op("listTokens", "The caller's live tokens (without their secrets)", "accounts",
                                {"200": R("Tokens", "TokenList"), **errs(401)}))
add("/api/v1/tokens/{id}", "delete", op("revokeToken", "Revoke a token; it stops working at once", "accounts",
                                        {**NO_CONTENT, **errs(401, 403, 404)}), [ID])
add("/api/v1/users", "post", op("createUser", "Create a user (admin)", "admin",
                                {"201": R("Created", "User"), **errs(400, 401, 403, 409, 415)}, requestBody=body("UserRequest")))
add("/api/v1/users", "get", op("listUsers", "All users (admin)", "admin", {"200": R("Users", "UserList"), **errs(401, 403)}))
add("/api/v1/groups", "post", op("createGroup", "Create a group (admin)", "admin",
                                 {"201": R("Created", "Group"), **errs(400, 401, 403, 409, 415)}, requestBody=body("GroupRequest")))
add("/api/v1/groups", "get", op("listGroups", "All groups with their members (admin)", "admin",
                                {"200": R("Groups", "GroupList"), **errs(401, 403)}))
add("/api/v1/groups/{id}/members", "post", op("addMember", "Add a user to a group (admin)", "admin",
                                              {"201": R("Added", "Group"), "200": R("Already a member", "Group"),
                                               **errs(400, 401, 403, 404, 415)}, requestBody=body("MemberRequest")), [ID])
add("/api/v1/groups/{id}/members/{user_id}", "delete", op("removeMember", "Remove a user from a group (admin)", "admin",
                                                          {**NO_CONTENT, **errs(401, 403, 404)}), [ID, P("user_id", "User id")])
add("/api/v1/audit", "get", op("audit", "The audit log, newest first (admin): sign-ins, uploads, deletes, sharing, "
                               "permission changes", "admin", {"200": R("Entries", "AuditList"), **errs(400, 401, 403)},
                               parameters=PAGE))

add("/api/v1/schemas", "get", op("listSchemas", "The JSON Schemas user metadata is validated against (metadata always; "
                                 "another when the metadata says \"$schema\": NAME)", "files",
                                 {"200": {"description": "Schemas", "content": {"application/json": {"schema": S(
                                     schemas={"type": "array", "items": S(name=STR, title=STR, description=STR)})}}}},
                                 **PUBLIC))
add("/api/v1/schemas/{name}", "get", op("getSchema", "One JSON Schema", "files",
                                        {"200": {"description": "The schema", "content": {"application/schema+json": {"schema": {"type": "object"}}}},
                                         **errs(404)}, **PUBLIC), [P("name", "Schema name, e.g. sample")])

# ---- folders
add("/api/v1/folders", "post", op("createFolder", "Create a folder (top level, or inside parent_id where the caller is editor)",
                                  "folders", {"201": R("Created", "Folder", ["Location"]), **errs(400, 401, 403, 404, 409, 413, 415)},
                                  requestBody=body("FolderCreate")))
add("/api/v1/folders", "get", op("listFolders", "The caller's top-level folders and the folders shared with them (by name); "
                                 "on the first page also the files shared with them directly", "folders",
                                 {"200": R("Folders", "FolderRoots"), **errs(400, 401)}, parameters=PAGE))
add("/api/v1/folders/{id}", "get", op("getFolder", "A folder with its path (the part the caller may read), subfolders and "
                                      "files (folders first, then files, by name; paginated)", "folders",
                                      {"200": R("Folder", "FolderDetail"), **errs(400, 404)}, parameters=PAGE), [ID])
add("/api/v1/folders/{id}", "patch", op("updateFolder", "Rename and/or move (parent_id null: top level)", "folders",
                                        {"200": R("Updated", "Folder"), **errs(400, 401, 403, 404, 409, 413, 415)},
                                        requestBody=body("FolderPatch")))
add("/api/v1/folders/{id}", "delete", op("deleteFolder", "Soft delete, recursive", "folders", {**NO_CONTENT, **errs(401, 403, 404)}))
add("/api/v1/folders/{id}/archive", "get", op("folderArchive", "The folder and everything below it as a zip, streamed "
                                              "(entries stored, UTF-8 names)", "folders",
                                              {"200": {"description": "zip", "content": {"application/zip": {"schema": BINARY}}},
                                               **errs(404)}), [ID])
add("/api/v1/folders/{id}/files", "post", op("uploadMultipart", "Upload one or more files as multipart/form-data 'file' "
                                             "parts; an existing name gets a new version", "files",
                                             {"201": R("Stored", "FileList"), **errs(400, 401, 403, 404, 413, 415, 503, 507)},
                                             requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                                                 "type": "object", "properties": {"file": {"type": "array", "items": BINARY}}}}}}),
    [ID])
add("/api/v1/folders/{id}/files/{name}", "put", op("uploadRaw", "Upload the raw body as the file NAME; an existing name "
                                                   "gets a new version", "files",
                                                   {"201": R("Stored", "File", ["Location"]), **errs(400, 401, 403, 404, 413, 503, 507)},
                                                   requestBody={"required": True, "content": {"*/*": {"schema": BINARY}}}),
    [ID, P("name", "File name (URL-encoded)")])

# ---- files
add("/api/v1/files/{id}", "get", op("getFile", "A file with versions, properties, artifacts", "files",
                                    {"200": R("File", "File"), **errs(404)}), [ID])
add("/api/v1/files/{id}", "patch", op("updateFile", "Rename, move, or set user metadata (it becomes properties with source "
                                      "'user')", "files", {"200": R("Updated", "File"), **errs(400, 401, 403, 404, 409, 413, 415)},
                                      requestBody=body("FilePatch")))
add("/api/v1/files/{id}", "delete", op("deleteFile", "Soft delete", "files", {**NO_CONTENT, **errs(401, 403, 404)}))
add("/api/v1/files/{id}/content", "get", op(
    "getContent", "The bytes, with ETag (the sha256), Range (206), If-Range, If-None-Match (304) and Content-Disposition. "
    "HEAD is answered too.", "files",
    {"200": {"description": "Content", "headers": {"ETag": {"schema": {"type": "string"}},
                                                   "Content-Disposition": {"schema": {"type": "string"}}},
             "content": {"*/*": {"schema": BINARY}}},
     "206": {"description": "Partial content", "headers": {"Content-Range": {"schema": {"type": "string"}}}},
     "304": {"description": "Not modified"},
     "416": {"description": "Range not satisfiable", "headers": {"Content-Range": {"schema": {"type": "string"}}}},
     **errs(400, 404)}),
    [ID, P("version", "Version number (default: current)", {"type": "integer", "minimum": 1}, "query", False),
     P("Range", "bytes=A-B, bytes=A- or bytes=-N", None, "header", False),
     P("If-None-Match", "ETag list", None, "header", False)])

add("/api/v1/files/{id}/text", "get", op("getText", "The text extracted from the file's current version (text/plain)",
                                         "files", {"200": {"description": "Text", "content": {"text/plain": {"schema": STR}}},
                                                   **errs(404)}), [ID])
add("/api/v1/files/{id}/artifacts/{kind}", "get", op("getArtifact", "Derived content of the current version by kind "
                                                     "(as listed in the file's artifacts)", "files",
                                                     {"200": {"description": "The artifact", "content": {"*/*": {"schema": BINARY}}},
                                                      **errs(404)}), [ID, P("kind", "Artifact kind, e.g. text")])

add("/api/v1/files/{id}/records", "get", op("listRecords", "The records inside a multi-record file (molecules of an SDF, ...), "
                                            "by index, with their properties", "files",
                                            {"200": R("Records", "RecordList"), **errs(400, 404)}, parameters=PAGE), [ID])
add("/api/v1/records/{id}", "get", op("getRecord", "One record", "files", {"200": R("Record", "Record"), **errs(404)}), [ID])
SVG = {"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": STR}}}, "304": {"description": "Not modified"}}
add("/api/v1/records/{id}/depiction", "get", op(
    "recordDepiction", "The record's structure as SVG: drawn by a converter process on the first request (which waits "
    "for it; concurrent requests share one job), then kept. A molecule with more heavy atoms than "
    "CARBOY_DEPICT_MAX_ATOMS is never laid out: a summary card (formula, chains, residues, sequences) made at once. A "
    "drawing that failed is remembered: 422 with its reason, without a new job", "files",
    {**SVG, **errs(404, 422, 503)}), [ID])
add("/api/v1/files/{id}/preview", "get", op(
    "filePreview", "A preview: for structures, reactions and crystals, the first readable record's depiction (SVG; a "
    "summary card for a molecule too large to draw, 422 with the reason when its drawing failed); 404 for kinds "
    "without one", "files", {**SVG, **errs(404, 422, 503)}), [ID])

add("/api/v1/files/{id}/convert", "get", op(
    "convertFile", "The current version converted to `to`, made once by a converter process (the request waits for it) "
    "and kept as an artifact. Structures: smi, can, inchi, inchikey, mol, sdf, mol2, pdb, cml, xyz, csv; reactions: rxn, "
    "rsmi, csv; crystals: cif and the structure formats; text: txt. An impossible "
    "target is 400 naming the possible ones.", "files",
    {"200": {"description": "The converted bytes", "content": {"*/*": {"schema": BINARY}}}, **errs(400, 404, 422, 503)},
    parameters=[P("to", "Target format", None, "query")]), [ID])
add("/api/v1/search", "get", op(
    "search", "Full-text and property search over the files and records the caller may see (anonymous callers: public "
    "ones). q: words that must all occur in a file's name, extracted text or property values, or a record's title and "
    "property values (a trailing * matches a prefix; FTS5 with unicode61, accents folded; ranked by bm25, the name "
    "weighing ten times the text). where=NAME:OP:VALUE (repeatable, at most 8; OP eq, lt, le, gt, ge; numbers compare "
    "as numbers) keeps hits whose own properties satisfy it (alone, in the order of the first condition's value); q or a "
    "where is required. snippet marks matches with "
    "\u00ab \u00bb.", "search",
    {"200": R("Hits", "SearchHits"), **errs(400, 404)},
    parameters=PAGE + [P("q", "Words to find", None, "query", False),
                       P("kind", "Only files of this kind", {"enum": ["structure", "reaction", "crystal", "image", "pdf",
                                                                      "office", "table", "archive", "text", "other"]},
                         "query", False),
                       P("folder_id", "Only files in this folder or below it", None, "query", False),
                       P("where", "NAME:OP:VALUE, repeatable", None, "query", False)]))
add("/api/v1/search/structure", "get", op(
    "searchStructure", "Structure search over the records the caller may see: exact (same InChIKey), similarity (Tanimoto "
    "on FP2 fingerprints, best first, at or above threshold) or substructure (fingerprint screen, then a SMARTS match in "
    "converter processes). smarts= may replace smiles= for substructure.", "search",
    {"200": R("Hits", "StructureHits"), **errs(400, 401)},
    parameters=[P("smiles", "Query structure", None, "query", False), P("smarts", "Query pattern (substructure)", None, "query", False),
                P("mode", "exact (default for smiles), substructure (default for smarts) or similarity",
                  {"enum": ["exact", "substructure", "similarity"]}, "query", False),
                P("threshold", "Similarity threshold, (0, 1]", {"type": "number", "default": 0.7}, "query", False),
                P("limit", "At most this many hits (1..1000, default 100)", {"type": "integer"}, "query", False)]))

# ---- jobs and events
add("/api/v1/jobs", "post", op("createJob", "Start a job: ingest or extract (re-process one file), convert (one file to "
                               "params.to, as a new file in output_folder_id or beside the input), noop (for testing the "
                               "queue; params.ms sets its duration). Answers 202; follow it with GET /jobs/{id} or /events.",
                               "jobs", {"202": R("Queued", "Job", ["Location"]), **errs(400, 401, 403, 404, 415)},
                               requestBody=body("JobRequest")))
add("/api/v1/jobs", "get", op("listJobs", "The caller's jobs (all jobs for admins), newest first", "jobs",
                              {"200": R("Jobs", "JobList"), **errs(400, 401)},
                              parameters=PAGE + [P("state", "Only jobs in this state", {"enum": ["queued", "running", "succeeded", "failed", "canceled"]}, "query", False)]))
add("/api/v1/jobs/{id}", "get", op("getJob", "A job: state, progress 0..1, attempts, error, inputs, outputs, times", "jobs",
                                   {"200": R("Job", "Job"), **errs(404)}), [ID])
add("/api/v1/jobs/{id}/cancel", "post", op("cancelJob", "Cancel: a queued job ends at once, a running one at its next "
                                           "heartbeat (its converter process is killed)", "jobs",
                                           {"200": R("Job", "Job"), **errs(401, 403, 404, 409)}), [ID])
add("/api/v1/jobs/{id}/retry", "post", op("retryJob", "Queue a failed or canceled job again with fresh attempts", "jobs",
                                          {"200": R("Job", "Job"), **errs(401, 403, 404, 409)}), [ID])
add("/api/v1/events", "get", op("events", "Server-Sent Events of job and file state changes the caller may see "
                                "(event: job | file; data: JSON). Honors Last-Event-ID; ?timeout=N ends the stream after N s.",
                                "jobs", {"200": {"description": "text/event-stream",
                                                 "content": {"text/event-stream": {"schema": STR}}}, **errs(400, 401, 503)},
                                parameters=[P("timeout", "Seconds until the server ends the stream", {"type": "integer"}, "query", False)]))
add("/api/v1/webhooks", "post", op("createWebhook", "Deliver events as POSTs with X-Carboy-Signature: sha256=HMAC-SHA256(secret, "
                                   "body), retried with exponential backoff", "jobs",
                                   {"201": R("Created", "Webhook"), **errs(400, 401, 403, 415)}, requestBody=body("WebhookRequest")))
add("/api/v1/webhooks", "get", op("listWebhooks", "The caller's webhooks", "jobs", {"200": R("Webhooks", "WebhookList"), **errs(401)}))
add("/api/v1/webhooks/{id}", "delete", op("deleteWebhook", "Stop delivering to a webhook", "jobs",
                                          {**NO_CONTENT, **errs(401, 404)}), [ID])

# ---- sharing (the same operations on folders and files)
for kind, plural in (("folder", "folders"), ("file", "files")):
    K = kind.capitalize()
    base = f"/api/v1/{plural}/{{id}}"
    add(base + "/visibility", "put", op(f"set{K}Visibility", f"Make the {kind} private or public (editor or owner). A "
                                        "folder's visibility holds for everything below it.", "sharing",
                                        {"200": R("Changed", "Visibility"), **errs(400, 401, 403, 404, 415)},
                                        requestBody=body("Visibility")), [ID])
    add(base + "/grants", "post", op(f"create{K}Grant", f"Give a user or a group a role on the {kind} (and, for a folder, "
                                     "everything below it)", "sharing",
                                     {"201": R("Created", "Grant"), **errs(400, 401, 403, 404, 415)},
                                     requestBody=body("GrantRequest")), [ID])
    add(base + "/grants", "get", op(f"list{K}Grants", f"Grants on the {kind}", "sharing",
                                    {"200": R("Grants", "GrantList"), **errs(401, 403, 404)}))
    add(base + "/grants/{grant_id}", "delete", op(f"delete{K}Grant", "Revoke a grant; it takes effect at once", "sharing",
                                                  {**NO_CONTENT, **errs(401, 403, 404)}), [ID, P("grant_id", "Grant id")])
    add(base + "/links", "post", op(f"create{K}Link", f"A share link: read-only access to the {kind} without login, "
                                    "optionally expiring; the token is shown once", "sharing",
                                    {"201": R("Created", "LinkCreated"), **errs(400, 401, 403, 404, 415)},
                                    requestBody=body("LinkRequest")), [ID])
    add(base + "/links", "get", op(f"list{K}Links", f"Live links to the {kind} (without their tokens)", "sharing",
                                   {"200": R("Links", "LinkList"), **errs(401, 403, 404)}))
add("/api/v1/links/{id}", "delete", op("revokeLink", "Revoke a share link; it stops working at once", "sharing",
                                       {**NO_CONTENT, **errs(401, 403, 404)}), [ID])
TOKEN = P("token", "The share link's token")
add("/s/{token}", "get", op("linkRoot", "What the link shares, read-only, without login: a file's bytes (as "
                            "/files/{id}/content), or a folder (as /folders/{id})", "sharing",
                            {"200": {"description": "The file's content or the folder as JSON"}, **errs(404)}, **PUBLIC), [TOKEN])
add("/s/{token}/archive", "get", op("linkArchive", "The shared folder as a zip (or the shared file's bytes)", "sharing",
                                    {"200": {"description": "zip or content"}, **errs(404)}, **PUBLIC), [TOKEN])
add("/s/{token}/folders/{id}", "get", op("linkFolder", "A folder inside the shared folder", "sharing",
                                         {"200": R("Folder", "FolderDetail"), **errs(404)}, **PUBLIC), [TOKEN, ID])
add("/s/{token}/files/{id}", "get", op("linkFile", "A file inside what the link shares", "sharing",
                                       {"200": R("File", "File"), **errs(404)}, **PUBLIC), [TOKEN, ID])
add("/s/{token}/files/{id}/content", "get", op("linkFileContent", "The bytes of a file inside what the link shares", "sharing",
                                               {"200": {"description": "Content", "content": {"*/*": {"schema": BINARY}}},
                                                **errs(404)}, **PUBLIC), [TOKEN, ID])

# ---- tus
add("/api/v1/uploads", "options", op("tusOptions", "tus 1.0.0 capabilities", "uploads", {"204": {
    "description": "Tus-Version, Tus-Extension (creation,termination,checksum), Tus-Checksum-Algorithm, Tus-Max-Size",
    "headers": {h: {"schema": {"type": "string"}} for h in ("Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm")}}},
    **PUBLIC))
add("/api/v1/uploads", "post", op("tusCreate", "Create a resumable upload (tus creation). Upload-Metadata must carry base64 "
                                  "'filename' and 'folder_id' (a folder where the caller is editor).", "uploads",
                                  {"201": {"description": "Created", "headers": {
                                      "Location": {"schema": {"type": "string"}},
                                      "Carboy-File-Id": {"description": "Set when the upload is complete at once (length 0)",
                                                         "schema": {"type": "string"}}}},
                                   "412": {"description": "Unsupported Tus-Resumable"}, **errs(400, 401, 403, 404, 413)},
                                  parameters=[TUS_H, P("Upload-Length", "Total bytes", {"type": "integer"}, "header"),
                                              P("Upload-Metadata", "filename B64,folder_id B64", None, "header")]))
add("/api/v1/uploads/{id}", "head", op("tusHead", "Upload offset (bytes durably accepted)", "uploads",
                                       {"200": {"description": "Offset", "headers": {
                                           "Upload-Offset": {"schema": {"type": "string"}},
                                           "Upload-Length": {"schema": {"type": "string"}},
                                           "Carboy-File-Id": {"description": "The file, once complete", "schema": {"type": "string"}}}},
                                        "404": {"description": "No such upload"}}, parameters=[TUS_H]), [ID])
add("/api/v1/uploads/{id}", "patch", op("tusPatch", "Append bytes at Upload-Offset; optional Upload-Checksum (sha256, sha1, "
                                        "md5). The last byte creates the file (Carboy-File-Id).", "uploads",
                                        {"204": {"description": "Accepted", "headers": {
                                            "Upload-Offset": {"schema": {"type": "string"}},
                                            "Carboy-File-Id": {"schema": {"type": "string"}}}},
                                         "460": {"description": "Checksum mismatch; nothing of this request is kept"},
                                         **errs(400, 404, 409, 413, 415, 503, 507)},
                                        parameters=[TUS_H, P("Upload-Offset", "Current offset", {"type": "integer"}, "header"),
                                                    P("Upload-Checksum", "ALGO BASE64 of this body", None, "header", False)],
                                        requestBody={"required": True, "content": {"application/offset+octet-stream": {"schema": BINARY}}}))
add("/api/v1/uploads/{id}", "delete", op("tusDelete", "Terminate the upload (tus termination)", "uploads",
                                         {**NO_CONTENT, "404": {"description": "No such upload"}, **errs(409)}, parameters=[TUS_H]))

STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
NSTR = {"type": ["string", "null"]}
schemas = {
    "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
        "type": STR, "title": STR, "status": {"type": "integer"}, "detail": STR,
        "field": {"type": "string", "description": "The request field at fault, when there is one"}}},
    "Status": S(status=STR),
    "LoginRequest": {"type": "object", "required": ["username", "password"], "properties": {"username": STR, "password": STR}},
    "Login": S(user=ref("User")),
    "Me": S(id=STR, username=STR, is_admin={"type": "boolean"}, auth={"enum": ["session", "token"]}, scope={"enum": ["read", "write"]}),
    "User": S(id=STR, username=STR, is_admin={"type": "boolean"}, created_at=TIME),
    "UserList": S(users={"type": "array", "items": ref("User")}),
    "UserRequest": {"type": "object", "required": ["username", "password"], "properties": {
        "username": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "password": {"type": "string", "minLength": 8},
        "is_admin": {"type": "boolean"}}},
    "Group": S(id=STR, name=STR, created_at=TIME, members={"type": "array", "items": ref("User")}),
    "GroupList": S(groups={"type": "array", "items": ref("Group")}),
    "GroupRequest": {"type": "object", "required": ["name"], "properties": {"name": STR}},
    "MemberRequest": {"type": "object", "required": ["user_id"], "properties": {"user_id": STR}},
    "TokenRequest": {"type": "object", "required": ["name"], "properties": {
        "name": STR, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        "scope": {"enum": ["read", "write"], "default": "write"}}},
    "Token": S(id=STR, name=STR, scope={"enum": ["read", "write"]}, created_at=TIME,
               expires_at={"type": ["string", "null"], "format": "date-time"},
               last_used_at={"type": ["string", "null"], "format": "date-time"}),
    "TokenCreated": {"allOf": [ref("Token"), S(token={"type": "string", "description": "Shown once"})]},
    "TokenList": S(tokens={"type": "array", "items": ref("Token")}),
    "AuditList": S(entries={"type": "array", "items": S(id={"type": "integer"}, at=TIME, user_id=STR, action=STR,
                                                          object_type=STR, object_id=STR, detail=STR, remote_addr=STR)},
                   next_cursor=NSTR),
    "Visibility": {"type": "object", "required": ["visibility"], "properties": {
        "id": STR, "visibility": {"enum": ["private", "public"]}}},
    "Session": {"type": "object", "required": ["user"], "properties": {"user": {"oneOf": [ref("Me"), {"type": "null"}]}}},
    "GrantRequest": {"type": "object", "required": ["role"], "properties": {
        "user_id": STR, "group_id": STR, "username": STR, "group": STR, "role": {"enum": ["viewer", "editor"]}},
        "description": "Exactly one of user_id, group_id, username (a user's name) and group (a group's name)"},
    "Grant": S(id=STR, object_type={"enum": ["folder", "file"]}, object_id=STR, user_id=STR, username=STR,
               group_id=STR, group_name=STR, role={"enum": ["viewer", "editor"]}, created_at=TIME),
    "GrantList": S(grants={"type": "array", "items": ref("Grant")}),
    "LinkRequest": S(expires_at=TIME),
    "Link": S(id=STR, object_type={"enum": ["folder", "file"]}, object_id=STR, created_at=TIME,
              expires_at={"type": ["string", "null"], "format": "date-time"}),
    "LinkCreated": {"allOf": [ref("Link"), S(token={"type": "string", "description": "Shown once"},
                                             url={"type": "string", "description": "/s/TOKEN"})]},
    "LinkList": S(links={"type": "array", "items": ref("Link")}),
    "FolderCreate": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "maxLength": 255}, "parent_id": NSTR}},
    "FolderPatch": S(name=STR, parent_id=NSTR),
    "Folder": S(id=STR, name=STR, parent_id={"type": ["string", "null"], "description": "null at the top, or when the caller may not read the parent"},
                owner=S(id=STR, username=STR), visibility={"enum": ["private", "public"]}, created_at=TIME, updated_at=TIME),
    "FolderRoots": S(folders={"type": "array", "items": ref("Folder")}, shared_files={"type": "array", "items": ref("File")},
                     next_cursor=NSTR),
    "FolderDetail": {"allOf": [ref("Folder"), S(path={"type": "array", "items": S(id=STR, name=STR)},
                                                folders={"type": "array", "items": ref("Folder")},
                                                files={"type": "array", "items": ref("File")}, next_cursor=NSTR)]},
    "Property": S(name=STR, value={"type": ["string", "number"]}, unit=STR, iri=STR, source={"enum": ["extracted", "user"]}),
    "Version": S(version={"type": "integer"}, size={"type": "integer"}, sha256=STR, media_type=STR, created_at=TIME),
    "File": S(id=STR, name=STR, folder_id=STR, size={"type": "integer"}, sha256=STR, media_type=STR,
              kind={"enum": ["structure", "reaction", "crystal", "image", "pdf", "office", "table", "archive", "text", "other"]},
              status={"enum": ["uploaded", "processing", "processed", "failed"]}, error=STR, version={"type": "integer"},
              owner_id=STR, visibility={"enum": ["private", "public"]}, created_at=TIME, updated_at=TIME,
              versions={"type": "array", "items": ref("Version")}, properties={"type": "array", "items": ref("Property")},
              metadata={"type": "object"},
              artifacts={"type": "array", "items": S(kind=STR, media_type=STR, url=STR)}, record_count={"type": "integer"}),
    "FileList": S(files={"type": "array", "items": ref("File")}),
    "Record": S(id=STR, file_id=STR, index={"type": "integer"}, version={"type": "integer"}, title=STR, smiles=STR,
                inchikey=STR, error={"type": "string", "description": "Why this record could not be read or described"},
                properties={"type": "array", "items": ref("Property")}),
    "StructureHits": S(hits={"type": "array", "items": S(record_id=STR, file_id=STR, title=STR, smiles=STR,
                                                          similarity={"type": "number"})},
                       query_smiles=STR, truncated={"type": "boolean"}),
    "SearchHits": S(hits={"type": "array", "items": S(file_id=STR, record_id=STR, name=STR, title=STR, kind=STR,
                                                       snippet=STR, score={"type": "number"})},
                    next_cursor=NSTR),
    "RecordList": S(records={"type": "array", "items": ref("Record")}, next_cursor=NSTR),
    "JobRequest": {"type": "object", "required": ["type"], "properties": {
        "type": {"enum": ["ingest", "extract", "convert", "unpack", "noop"]}, "inputs": {"type": "array", "items": STR},
        "params": {"type": "object"}, "output_folder_id": STR}},
    "Job": S(id=STR, type=STR, state={"enum": ["queued", "running", "succeeded", "failed", "canceled"]},
             progress={"type": "number", "minimum": 0, "maximum": 1}, attempts={"type": "integer"},
             max_attempts={"type": "integer"}, error=STR, inputs={"type": "array", "items": STR},
             outputs={"type": "array", "items": STR}, params={"type": "object"}, output_folder_id=STR, owner_id=STR,
             result={"type": "object", "description": "unpack only, once it succeeded: the folder it made "
                     "(folder_id), how many files and entries, and the members it skipped (path, reason)",
                     "properties": {"folder_id": STR, "files": {"type": "integer"}, "entries": {"type": "integer"},
                                    "skipped": {"type": "array", "items": S(path=STR, reason=STR)}}},
             created_at=TIME, started_at=TIME, finished_at=TIME, updated_at=TIME),
    "JobList": S(jobs={"type": "array", "items": ref("Job")}, next_cursor=NSTR),
    "WebhookRequest": {"type": "object", "required": ["url", "events", "secret"], "properties": {
        "url": STR, "secret": {"type": "string", "minLength": 16},
        "events": {"type": "array", "items": {"enum": ["*", "job.queued", "job.running", "job.succeeded", "job.failed",
                                                       "job.canceled", "file.processing", "file.processed", "file.failed"]}}}},
    "Webhook": S(id=STR, url=STR, events={"type": "array", "items": STR}, created_at=TIME),
    "WebhookList": S(webhooks={"type": "array", "items": ref("Webhook")}),
    "FilePatch": S(name=STR, folder_id=STR, metadata={"type": "object", "additionalProperties": {"oneOf": [
        {"type": ["string", "number", "boolean"]},
        {"type": "object", "required": ["value"], "properties": {"value": {"type": ["string", "number", "boolean"]},
                                                                 "unit": STR, "iri": STR}}]}}),
}

doc = {
    "openapi": "3.1.0",
    "info": {"title": "carboy", "version": VERSION, "description":
             "Single-binary scientific data server. Errors are application/problem+json; ids are opaque strings; times "
             "are RFC 3339 UTC; lists take limit and cursor and return next_cursor. Anything the caller may not see "
             "answers 404. Authenticate with the session cookie (browser; state-changing requests need a same-origin "
             "Origin or X-Carboy-CSRF header) or an API token (Authorization: Bearer)."},
    "paths": paths,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "carboy_session"}},
        "responses": {"Problem": {"description": "Problem", "content": {"application/problem+json": {"schema": ref("Problem")}}}},
        "schemas": schemas},
    "security": [{"bearer": []}, {"session": []}],
}

with open(OUT, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
