/* Named queries for the job queue, artifacts, and the ingest's transaction. */
#include <sqlite3.h>
#include <stdlib.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/db_internal.h"

#define JOB_COLS                                                                                   \
  "id, type, state, coalesce(owner_id, ''), inputs, params, outputs, "                             \
  "coalesce(output_folder_id, ''), progress, attempts, max_attempts, coalesce(error, ''), "        \
  "cancel_requested, run_after, created_at, coalesce(started_at, ''), coalesce(finished_at, ''), " \
  "updated_at, result, lane"

static const struct db_col job_cols[] = {DB_TEXT(struct cb_job, id),
                                         DB_TEXT(struct cb_job, type),
                                         DB_TEXT(struct cb_job, state),
                                         DB_TEXT(struct cb_job, owner_id),
                                         DB_DUP(struct cb_job, inputs),
                                         DB_DUP(struct cb_job, params),
                                         DB_DUP(struct cb_job, outputs),
                                         DB_TEXT(struct cb_job, output_folder_id),
                                         DB_NUM(struct cb_job, progress),
                                         DB_NUM(struct cb_job, attempts),
                                         DB_NUM(struct cb_job, max_attempts),
                                         DB_TEXT(struct cb_job, error),
                                         DB_NUM(struct cb_job, cancel_requested),
                                         DB_TEXT(struct cb_job, run_after),
                                         DB_TEXT(struct cb_job, created_at),
                                         DB_TEXT(struct cb_job, started_at),
                                         DB_TEXT(struct cb_job, finished_at),
                                         DB_TEXT(struct cb_job, updated_at),
                                         DB_DUP(struct cb_job, result),
                                         DB_TEXT(struct cb_job, lane)};

DB_READER(read_job, struct cb_job, job_cols)

DB_READ_ONE(job_one, struct cb_job, read_job)

void db_job_clear(struct cb_job *j)
{
  if (!j)
    return;
  free(j->inputs);
  free(j->params);
  free(j->outputs);
  free(j->result);
  j->inputs = j->params = j->outputs = j->result = NULL;
}

static void now(char *ts)
{
  cb_time_now_rfc3339(ts, CB_TIME_MAX);
}

static _Atomic int64_t interactive_ingest_max;

void db_jobs_set_interactive_ingest_max(int64_t bytes)
{
  interactive_ingest_max = bytes;
}

const char *db_ingest_lane(int64_t size)
{
  int64_t max = interactive_ingest_max;
  return max > 0 && size <= max ? "interactive" : "batch";
}

cb_err db_job_insert_tx(const struct cb_job *j, const char *const *input_ids, int n)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("INSERT INTO jobs(id, type, state, owner_id, inputs, params, output_folder_id,"
                     " max_attempts, run_after, created_at, updated_at, lane)"
                     " VALUES (?, ?, 'queued', nullif(?, ''), ?, ?, nullif(?, ''), ?, ?, ?, ?, ?)",
                     "ssssssissss", j->id, j->type, j->owner_id, j->inputs ? j->inputs : "[]",
                     j->params ? j->params : "{}", j->output_folder_id,
                     (int64_t)(j->max_attempts > 0 ? j->max_attempts : 3), ts, ts, ts,
                     strcmp(j->lane, "interactive") ? "batch" : "interactive");
  for (int i = 0; !e && i < n; i++)
    e = db_exec("INSERT OR IGNORE INTO job_files(job_id, file_id, role) VALUES (?, ?, 'input')", "ss", j->id,
                input_ids[i]);
  if (!e)
    db_note_job_created(j->id);
  return e;
}

cb_err db_job_create(const struct cb_job *j, const char *const *input_ids, int n)
{
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_job_insert_tx(j, input_ids, n);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

cb_err db_job_create_once(const struct cb_job *j, const char *const *input_ids, int n, char joined[CB_ID_LEN + 1])
{
  joined[0] = '\0';
  cb_err e = db_begin();
  if (e)
    return e;
  sqlite3_stmt *st = db_query("SELECT id FROM jobs INDEXED BY jobs_pending WHERE type = ?"
                              " AND state IN ('queued', 'running') AND inputs = ? AND params = ? LIMIT 1",
                              "sss", j->type, j->inputs ? j->inputs : "[]", j->params ? j->params : "{}");
  e = db_one_row(st);
  if (!e) {
    db_col_copy(st, 0, joined, CB_ID_LEN + 1);
    sqlite3_reset(st);
  } else if (e == CB_ENOTFOUND) {
    e = db_job_insert_tx(j, input_ids, n);
  }
  return db_end(e);
}

cb_err db_job_get(const char *id, struct cb_job *out)
{
  sqlite3_stmt *st = db_query("SELECT " JOB_COLS " FROM jobs WHERE id = ?", "s", id);
  return job_one(st, out);
}

DB_VISITOR(job, struct cb_job, db_job_cb, read_job, db_job_clear)

cb_err db_job_list(const char *owner_id, const char *state, const char *before_created, const char *before_id,
                   const char *hidden_types, int limit, db_job_cb cb, void *ctx)
{
  struct job_visit jc = {cb, ctx};
  return db_each_row(db_query("SELECT " JOB_COLS " FROM jobs WHERE (?1 IS NULL OR owner_id = ?1)"
                              " AND (?2 IS NULL OR state = ?2)"
                              " AND (?3 IS NULL OR (created_at, id) < (?3, ?4))"
                              " AND (?6 IS NULL OR type NOT IN (SELECT value FROM json_each(?6)))"
                              " ORDER BY created_at DESC, id DESC LIMIT ?5",
                              "ssssis", owner_id, state, before_created, before_id, (int64_t)limit, hidden_types),
                     job_row, &jc);
}

/* The fair pick of a lane (?4) at ?2: its queued jobs' owners are walked in the order of
 * the claim index, one seek each (a recursive skip over jobs_lane_claim), and each owner's
 * head, the first of its jobs by (run_after, created_at), is due or none of its jobs is.
 * Of the owners with a due head, the one least recently served in the lane (job_turns;
 * never served first) goes; between equals, the older head. */
#define OWNER_KEY "coalesce(owner_id, '')"
#define LANE_QUEUED "FROM jobs INDEXED BY jobs_lane_claim WHERE state = 'queued' AND lane = ?4"
#define FAIR_PICK                                                                                     \
  "WITH RECURSIVE owners(o) AS ("                                                                     \
  " SELECT (SELECT " OWNER_KEY " " LANE_QUEUED " ORDER BY " OWNER_KEY " LIMIT 1)"                     \
  " UNION ALL SELECT (SELECT " OWNER_KEY " " LANE_QUEUED " AND " OWNER_KEY " > o ORDER BY " OWNER_KEY \
  " LIMIT 1) FROM owners WHERE o IS NOT NULL)"                                                        \
  " SELECT h.id FROM owners JOIN jobs h ON h.id = (SELECT id " LANE_QUEUED " AND " OWNER_KEY " = o"   \
  " ORDER BY run_after, created_at LIMIT 1)"                                                          \
  " LEFT JOIN job_turns t ON t.lane = ?4 AND t.owner = o"                                             \
  " WHERE o IS NOT NULL AND h.run_after <= ?2"                                                        \
  " ORDER BY t.served IS NOT NULL, t.served, h.run_after, h.created_at LIMIT 1"

cb_err db_job_claim(const char *instance, const char *lane, const char *now_ts, const char *lease_until,
                    struct cb_job *out)
{
  /* the claim and the owner's turn in one transaction: instances sharing the queue see
   * both or neither */
  cb_err e = db_begin();
  if (e)
    return e;
  sqlite3_stmt *st = db_query("UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires = ?3,"
                              " attempts = attempts + 1, started_at = coalesce(started_at, ?2),"
                              " updated_at = ?2 WHERE id = (" FAIR_PICK ") RETURNING " JOB_COLS,
                              "ssss", instance, now_ts, lease_until, lane);
  e = db_one_row(st);
  if (!e) {
    read_job(st, out);
    /* step to the end so the statement completes its write */
    while (sqlite3_step(st) == SQLITE_ROW)
      ;
    sqlite3_reset(st);
    e = db_exec("INSERT INTO job_turns(lane, owner, served)"
                " VALUES (?1, ?2, (SELECT coalesce(max(served), 0) + 1 FROM job_turns WHERE lane = ?1))"
                " ON CONFLICT (lane, owner) DO UPDATE SET served = excluded.served",
                "ss", lane, out->owner_id);
    if (e)
      db_job_clear(out);
  }
  return db_end(e);
}

cb_err db_job_claim_group(const char *instance, const char *lane, const char *owner_id, const char *type,
                          int64_t max_size, int max, const char *now_ts, const char *lease_until, const char *first_id,
                          struct cb_job **out, int *n)
{
  *out = NULL;
  *n = 0;
  if (max <= 0)
    return CB_OK;
  struct cb_job *v = calloc((size_t)max, sizeof *v);
  if (!v)
    return CB_ENOMEM;
  cb_err e = db_begin();
  if (e) {
    free(v);
    return e;
  }
  /* the owner's next due jobs in claim order (a bounded walk of the claim index), then
   * those of the type whose input is small */
  sqlite3_stmt *st = db_query(
    "UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires = ?3, attempts = attempts + 1,"
    " started_at = coalesce(started_at, ?2), updated_at = ?2"
    " WHERE id IN (SELECT c.id FROM (SELECT id, type, run_after, created_at FROM jobs INDEXED BY jobs_lane_claim"
    "  WHERE state = 'queued' AND lane = ?4 AND coalesce(owner_id, '') = ?5 AND run_after <= ?2"
    "  ORDER BY run_after, created_at LIMIT 4 * ?8) c"
    "  JOIN job_files jf ON jf.job_id = c.id AND jf.role = 'input'"
    "  JOIN files f ON f.id = jf.file_id JOIN file_versions fv ON fv.file_id = f.id AND fv.version = f.version"
    "  WHERE c.type = ?6 AND fv.size <= ?7 ORDER BY c.run_after, c.created_at LIMIT ?8)"
    " RETURNING " JOB_COLS,
    "ssssssii", instance, now_ts, lease_until, lane, owner_id, type, max_size, (int64_t)max);
  if (!st)
    e = CB_EDB;
  int rc;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n < max)
      read_job(st, &v[(*n)++]);
  }
  if (st) {
    if (!e && rc != SQLITE_DONE)
      e = db_rc(rc);
    sqlite3_reset(st);
  }
  /* their files (and the leading job's) are being processed now */
  struct cb_buf ids = {0};
  if (!e && *n)
    e = cb_buf_printf(&ids, "[\"%s\"", first_id);
  for (int i = 0; !e && i < *n; i++)
    e = cb_buf_printf(&ids, ",\"%s\"", v[i].id);
  if (!e && *n)
    e = cb_buf_puts(&ids, "]");
  if (!e && *n)
    e = db_exec("UPDATE files SET status = 'processing', error = NULL, updated_at = ?1"
                " WHERE deleted_at IS NULL AND (id, version) IN (SELECT jf.file_id,"
                "  coalesce(json_extract(j.params, '$.version'), f.version) FROM jobs j"
                "  JOIN job_files jf ON jf.job_id = j.id AND jf.role = 'input' JOIN files f ON f.id = jf.file_id"
                "  WHERE j.id IN (SELECT value FROM json_each(?2)))",
                "ss", now_ts, ids.data);
  cb_buf_free(&ids);
  e = db_end(e);
  if (e) {
    for (int i = 0; i < *n; i++)
      db_job_clear(&v[i]);
    free(v);
    *n = 0;
    return e;
  }
  *out = v;
  return CB_OK;
}

cb_err db_job_lane_counts(int64_t queued[2], int64_t running[2])
{
  memset(queued, 0, 2 * sizeof queued[0]);
  memset(running, 0, 2 * sizeof running[0]);
  sqlite3_stmt *st = db_query("SELECT lane = 'batch', state = 'running', count(*) FROM jobs INDEXED BY jobs_state"
                              " WHERE state IN ('queued', 'running') GROUP BY 1, 2",
                              "");
  if (!st)
    return CB_EDB;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int batch = sqlite3_column_int(st, 0), run = sqlite3_column_int(st, 1);
    (run ? running : queued)[batch ? 1 : 0] = sqlite3_column_int64(st, 2);
  }
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_job_heartbeat(const char *id, const char *instance, const char *lease_until, double progress, int *cancel)
{
  char ts[CB_TIME_MAX];
  now(ts);
  sqlite3_stmt *st = db_query("UPDATE jobs SET lease_expires = ?, progress = max(progress, ?), updated_at = ?"
                              " WHERE id = ? AND lease_owner = ? AND state = 'running'"
                              " RETURNING cancel_requested",
                              "sdsss", lease_until, progress, ts, id, instance);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *cancel = sqlite3_column_int(st, 0);
  while (sqlite3_step(st) == SQLITE_ROW)
    ;
  sqlite3_reset(st);
  return CB_OK;
}

static cb_err finish_tx(const char *id, const char *instance, const char *state, const char *error, const char *outputs)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("UPDATE jobs SET state = ?, error = ?, outputs = coalesce(?, outputs),"
                     " progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END,"
                     " finished_at = ?, updated_at = ?, lease_owner = NULL, lease_expires = NULL"
                     " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                     "ssssssss", state, error, outputs, state, ts, ts, id, instance);
  return e ? e : (db_changes() ? CB_OK : CB_ENOTFOUND);
}

cb_err db_job_finish(const char *id, const char *instance, const char *state, const char *error,
                     const char *outputs_json)
{
  return finish_tx(id, instance, state, error, outputs_json);
}

cb_err db_job_defer(const char *id, const char *instance, const char *run_after, const char *error)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("UPDATE jobs SET state = 'queued', run_after = ?, error = ?, updated_at = ?,"
                     " lease_owner = NULL, lease_expires = NULL"
                     " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                     "sssss", run_after, error, ts, id, instance);
  return e ? e : (db_changes() ? CB_OK : CB_ENOTFOUND);
}

cb_err db_job_requeue_orphans(const char *instance, const char *now_ts, int *n)
{
  cb_err e = db_exec("UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL,"
                     " updated_at = ?2 WHERE state = 'running' AND (lease_owner IS NOT ?1 OR lease_expires < ?2)",
                     "ss", instance, now_ts);
  *n = e ? 0 : db_changes();
  return e;
}

cb_err db_job_cancel(const char *id, const char *now_ts)
{
  cb_err e = db_exec("UPDATE jobs SET state = 'canceled', finished_at = ?2, updated_at = ?2,"
                     " error = 'canceled' WHERE id = ?1 AND state = 'queued'",
                     "ss", id, now_ts);
  if (e || db_changes())
    return e;
  e = db_exec("UPDATE jobs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1 AND state = 'running'", "ss", id,
              now_ts);
  return e ? e : (db_changes() ? CB_OK : CB_ECONFLICT);
}

cb_err db_job_retry(const char *id, const char *now_ts)
{
  cb_err e = db_exec("UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, cancel_requested = 0,"
                     " progress = 0, run_after = ?2, finished_at = NULL, updated_at = ?2"
                     " WHERE id = ?1 AND state IN ('failed', 'canceled')",
                     "ss", id, now_ts);
  return e ? e : (db_changes() ? CB_OK : CB_ECONFLICT);
}

cb_err db_job_counts(int64_t counts[5])
{
  static const char *const states[5] = {"queued", "running", "succeeded", "failed", "canceled"};
  memset(counts, 0, 5 * sizeof counts[0]);
  sqlite3_stmt *st = db_query("SELECT state, count(*) FROM jobs GROUP BY state", "");
  if (!st)
    return CB_EDB;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *s = (const char *)sqlite3_column_text(st, 0);
    for (int i = 0; i < 5; i++)
      if (s && !strcmp(s, states[i]))
        counts[i] = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  return CB_OK;
}

int db_job_touches_file(const char *job_id, const char *file_id)
{
  sqlite3_stmt *st = db_query("SELECT 1 FROM job_files WHERE job_id = ? AND file_id = ?", "ss", job_id, file_id);
  if (!st)
    return 0;
  int found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  return found;
}

/* ------------------------------------------------------------ ingest */

cb_err db_file_set_status(const char *file_id, int64_t version, const char *status, const char *error)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("UPDATE files SET status = ?, error = ?, updated_at = ? WHERE id = ? AND version = ?", "ssssi", status,
                 error, ts, file_id, version);
}

/* Line notations are searched by structure, not by words: their tokens would only fill
 * the full-text index. */
static int unindexed(const char *name)
{
  static const char *const names[] = {"canonical_smiles", "inchi", "reaction_smiles", "reactant", "agent", "product"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(name, names[i]))
      return 1;
  return 0;
}

/* One record (a JSON line) into records and properties, as record number idx. */
static cb_err insert_record(const char *file_id, int64_t version, int64_t idx, cJSON *rec)
{
  cJSON *title = cJSON_GetObjectItemCaseSensitive(rec, "title");
  cJSON *smiles = cJSON_GetObjectItemCaseSensitive(rec, "smiles");
  cJSON *key = cJSON_GetObjectItemCaseSensitive(rec, "inchikey");
  cJSON *err = cJSON_GetObjectItemCaseSensitive(rec, "error");
  cJSON *fp = cJSON_GetObjectItemCaseSensitive(rec, "fp2");
  unsigned char bits[128];
  int has_fp = cJSON_IsString(fp) && strlen(fp->valuestring) == 256 && cb_is_hex(fp->valuestring, 256);
  for (int b = 0; has_fp && b < 128; b++) {
    const char *h = fp->valuestring + 2 * b;
    int hi = h[0] <= '9' ? h[0] - '0' : (h[0] | 0x20) - 'a' + 10,
        lo = h[1] <= '9' ? h[1] - '0' : (h[1] | 0x20) - 'a' + 10;
    bits[b] = (unsigned char)(hi << 4 | lo);
  }
  char id[CB_ID_LEN + 1];
  cb_err e = cb_id_new(id);
  if (e)
    return e;
  sqlite3_stmt *st = db_prep("INSERT INTO records(id, file_id, version, idx, title, smiles, inchikey, error, fp)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st)
    return CB_EDB;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, file_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, version);
  sqlite3_bind_int64(st, 4, idx);
  const cJSON *texts[] = {title, smiles, key, err};
  for (int i = 0; i < 4; i++) {
    if (cJSON_IsString(texts[i]))
      sqlite3_bind_text(st, 5 + i, texts[i]->valuestring, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 5 + i);
  }
  if (has_fp)
    sqlite3_bind_blob(st, 9, bits, 128, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 9);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE)
    return db_rc(rc);
  cJSON *p;
  struct cb_buf words = {0}; /* the record's text values, for full-text search */
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rec, "properties"))
  {
    cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name"), *value = cJSON_GetObjectItemCaseSensitive(p, "value");
    cJSON *unit = cJSON_GetObjectItemCaseSensitive(p, "unit"), *iri = cJSON_GetObjectItemCaseSensitive(p, "iri");
    const char *u = cJSON_IsString(unit) ? unit->valuestring : NULL, *i = cJSON_IsString(iri) ? iri->valuestring : NULL;
    if (e || !cJSON_IsString(name))
      continue;
    if (cJSON_IsString(value) && !unindexed(name->valuestring))
      cb_buf_printf(&words, "%s%s", words.len ? " " : "", value->valuestring);
    if (cJSON_IsNumber(value))
      e = db_exec("INSERT INTO properties(file_id, record_id, name, value_num, unit, iri, source)"
                  " VALUES (?, ?, ?, ?, ?, ?, 'extracted')",
                  "sssdss", file_id, id, name->valuestring, value->valuedouble, u, i);
    else if (cJSON_IsString(value))
      e = db_exec("INSERT INTO properties(file_id, record_id, name, value_text, unit, iri, source)"
                  " VALUES (?, ?, ?, ?, ?, ?, 'extracted')",
                  "ssssss", file_id, id, name->valuestring, value->valuestring, u, i);
  }
  if (!e)
    e = db_search_index_record_tx(file_id, id, cJSON_IsString(title) ? title->valuestring : NULL, words.data);
  cb_buf_free(&words);
  return e;
}

static cb_err clear_records(const char *file_id, int64_t version)
{
  cb_err e = db_search_forget_records_tx(file_id, version);
  if (!e)
    e = db_exec("DELETE FROM properties WHERE record_id IN (SELECT id FROM records WHERE file_id = ? AND version = ?)",
                "si", file_id, version);
  if (!e)
    e = db_exec(
      "DELETE FROM record_depictions WHERE record_id IN (SELECT id FROM records WHERE file_id = ? AND version = ?)",
      "si", file_id, version);
  if (!e)
    e = db_exec("DELETE FROM record_depiction_failures WHERE record_id IN"
                " (SELECT id FROM records WHERE file_id = ? AND version = ?)",
                "si", file_id, version);
  if (!e)
    e = db_exec("DELETE FROM records WHERE file_id = ? AND version = ?", "si", file_id, version);
  /* the structure index reads the file again (a file processed again, a failed attempt's
   * records gone): no search finds a record that is no longer there */
  if (!e && db_changes())
    e = db_exec("INSERT INTO structure_changes(file_id) VALUES (?)", "s", file_id);
  if (!e) /* processed again: a conversion that failed may work now */
    e = db_exec("DELETE FROM conversion_failures WHERE file_id = ? AND version = ?", "si", file_id, version);
  return e;
}

/* Stores the complete lines of feed->path past feed->offset, at most max records (0: all),
 * within the caller's transaction. Memory stays flat: one line at a time. *more is set
 * when complete lines are left. */
static cb_err feed_tx(struct db_records_feed *feed, int max, int *more)
{
  *more = 0;
  cb_err e = CB_OK;
  if (!feed->started) {
    if ((e = clear_records(feed->file_id, feed->version)))
      return e;
    feed->started = 1;
  }
  FILE *f = fopen(feed->path, "rb");
  if (!f)
    return CB_OK; /* nothing written yet */
  if (fseeko(f, (off_t)feed->offset, SEEK_SET)) {
    fclose(f);
    return CB_EIO;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int done = 0;
  while (!e && (n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] != '\n')
      break; /* still being written */
    if (max && done == max) {
      *more = 1;
      break;
    }
    feed->offset += n;
    cJSON *rec = cJSON_ParseWithLength(line, (size_t)n);
    if (!rec)
      continue;
    e = insert_record(feed->file_id, feed->version, feed->next_idx++, rec);
    cJSON_Delete(rec);
    done++;
  }
  free(line);
  fclose(f);
  return e;
}

cb_err db_records_feed(struct db_records_feed *feed, const char *job_id, const char *instance, int batch)
{
  struct db_records_feed saved = *feed;
  int more;
  cb_err e = db_begin();
  if (e)
    return e;
  e = feed_tx(feed, batch, &more);
  /* only the lease holder writes: a job taken over stops here */
  if (!e &&
      !db_exec("UPDATE jobs SET updated_at = updated_at WHERE id = ? AND lease_owner = ? AND state = 'running'", "ss",
               job_id, instance) &&
      !db_changes())
    e = CB_ENOTFOUND;
  if (!e)
    e = db_commit();
  else
    db_rollback();
  if (e)
    *feed = saved;
  return e;
}

cb_err db_records_delete(const char *file_id, int64_t version)
{
  cb_err e = db_begin();
  if (e)
    return e;
  e = clear_records(file_id, version);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

/* One ingest's results and its job's success, within the caller's transaction:
 * CB_ENOTFOUND when the job is no longer instance's. Its search rows are left to
 * ingest_index_tx (*index set when they are due). */
static cb_err ingest_apply_tx(const char *instance, const struct db_ingest *it, const char *ts, int *index)
{
  const char *file_id = it->file_id;
  int64_t version = it->version;
  *index = 0;
  /* A newer version uploaded meanwhile keeps its own state; its own job describes it. */
  cb_err e = db_exec("UPDATE files SET kind = coalesce(?, kind), media_type = coalesce(?, media_type),"
                     " status = 'processed', error = NULL, updated_at = ? WHERE id = ? AND version = ?",
                     "ssssi", it->kind, it->media_type, ts, file_id, version);
  if (e || !db_changes())
    goto finish;
  if (it->media_type) /* the version's own record, which downloads are served with */
    e = db_exec("UPDATE file_versions SET media_type = ? WHERE file_id = ? AND version = ?", "ssi", it->media_type,
                file_id, version);
  if (!e)
    e = db_exec("DELETE FROM properties WHERE file_id = ? AND record_id IS NULL AND source = 'extracted'", "s",
                file_id);
  int more;
  if (!e && it->feed)
    e = feed_tx(it->feed, 0, &more);
  for (int i = 0; !e && i < it->nprops; i++) {
    const struct cb_property *p = &it->props[i];
    if (p->is_num)
      e = db_exec("INSERT INTO properties(file_id, record_id, name, value_num, unit, iri, source)"
                  " VALUES (?, NULL, ?, ?, ?, ?, 'extracted')",
                  "ssdss", file_id, p->name, p->value_num, p->unit, p->iri);
    else
      e = db_exec("INSERT INTO properties(file_id, record_id, name, value_text, unit, iri, source)"
                  " VALUES (?, NULL, ?, ?, ?, ?, 'extracted')",
                  "sssss", file_id, p->name, p->value_text, p->unit, p->iri);
  }
  *index = !e;
  if (!e && it->model && it->kind && !strcmp(it->kind, "model"))
    e = db_model_from_file_tx(file_id, it->model);
  for (int i = 0; !e && i < it->narts; i++) {
    const struct cb_artifact *a = &it->arts[i];
    e = db_exec("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)", "sis", a->sha256, a->size,
                ts);
    if (!e)
      e = db_exec("INSERT OR REPLACE INTO artifacts(file_id, version, kind, media_type, sha256, size, created_at)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)",
                  "sisssis", file_id, version, a->kind, a->media_type, a->sha256, a->size, ts);
  }
finish:
  /* Only the lease holder may apply: a job that was taken over never applies twice. The
   * check comes last so finished_at is when the results are in; within this IMMEDIATE
   * transaction nobody else can change the job meanwhile. */
  if (!e)
    e = finish_tx(it->job_id, instance, "succeeded", NULL, NULL);
  return e;
}

/* The search rows of an applied ingest: its extracted properties' row and its text (the
 * file's own row, its name and metadata, is not the ingest's). */
static cb_err ingest_index_tx(const struct db_ingest *it)
{
  const char *text = NULL;
  for (int i = 0; i < it->narts; i++)
    if (!strcmp(it->arts[i].kind, "text") && it->arts[i].path)
      text = it->arts[i].path;
  cb_err e = db_search_index_props_tx(it->file_id);
  return e ? e : db_search_index_text_tx(it->file_id, text);
}

cb_err db_ingest_apply_many(const char *instance, struct db_ingest *items, int n)
{
  char ts[CB_TIME_MAX];
  now(ts);
  /* where the feeds stood, for a rollback to put them back */
  struct db_records_feed *saved = calloc((size_t)n + 1, sizeof *saved);
  char *out = calloc((size_t)n + 1, 1);              /* items kept out by their own error */
  int *index = calloc((size_t)n + 1, sizeof *index); /* items whose search rows are due */
  if (!saved || !out || !index) {
    free(saved);
    free(out);
    free(index);
    return CB_ENOMEM;
  }
  for (int i = 0; i < n; i++)
    if (items[i].feed)
      saved[i] = *items[i].feed;
  /* No savepoint per item, and every item's search rows after all the items' other rows:
   * once FTS5 has words pending in a transaction, each savepoint (SAVEPOINT, or the one
   * SQLite opens for a statement that writes several rows) makes it write them out as a
   * new segment, which cost more than the items themselves. An item that cannot be
   * applied (its lease lost, or its own trouble: a record the database refuses) is rare:
   * the whole transaction is rolled back and done again without it. An error of the
   * transaction itself ends everything. */
  cb_err e;
  for (;;) {
    int failed = -1;
    e = db_begin();
    for (int k = 0; !e && failed < 0 && k < 2 * n; k++) {
      int i = k % n;
      if (out[i] || (k >= n && !index[i]))
        continue;
      cb_err ie = k < n ? ingest_apply_tx(instance, &items[i], ts, &index[i]) : ingest_index_tx(&items[i]);
      items[i].result = ie;
      if (ie && sqlite3_get_autocommit(db_conn()))
        e = ie; /* the transaction is gone */
      else if (ie)
        failed = i;
    }
    if (!e && failed < 0) {
      e = db_commit();
      break;
    }
    db_rollback();
    for (int i = 0; i < n; i++)
      if (items[i].feed)
        *items[i].feed = saved[i];
    if (e)
      break;
    out[failed] = 1; /* its result stays its own error */
  }
  if (e) {
    for (int i = 0; i < n; i++) {
      items[i].result = e;
      if (items[i].feed)
        *items[i].feed = saved[i];
    }
  }
  free(saved);
  free(out);
  free(index);
  return e;
}

cb_err db_convert_apply(const char *job_id, const char *instance, const char *folder_id, const char *name,
                        const char *owner_id, const char *sha256, int64_t size, const char *media_type,
                        const char *kind, char file_id[CB_ID_LEN + 1])
{
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_file_put_tx(folder_id, name, owner_id, sha256, size, media_type, kind, 0, file_id);
  if (!e) {
    char outputs[CB_ID_LEN + 8];
    snprintf(outputs, sizeof outputs, "[\"%s\"]", file_id);
    e = finish_tx(job_id, instance, "succeeded", NULL, outputs);
  }
  if (!e)
    e = db_exec("INSERT OR IGNORE INTO job_files(job_id, file_id, role) VALUES (?, ?, 'output')", "ss", job_id,
                file_id);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The folder id of dir (a path below the new folder; "" is the new folder itself). */
static const char *unpack_folder(char **paths, char (*ids)[CB_ID_LEN + 1], int n, const char *root, const char *dir)
{
  if (!*dir)
    return root;
  char **hit = bsearch(&dir, paths, (size_t)n, sizeof *paths, cmp_str);
  return hit ? ids[hit - paths] : NULL;
}

cb_err db_unpack_apply(const char *job_id, const char *instance, const char *parent_id, const char *folder_id,
                       const char *name, const char *owner_id, const char *const *dirs, int ndirs,
                       struct db_unpack_file *files, int nfiles, const char *result_json)
{
  /* every folder needed: the directories named, and every file's ancestors */
  int cap = ndirs + 1, n = 0;
  for (int i = 0; i < nfiles; i++)
    for (const char *p = files[i].path; (p = strchr(p, '/')); p++)
      cap++;
  char **paths = calloc((size_t)cap, sizeof *paths);
  char(*ids)[CB_ID_LEN + 1] = calloc((size_t)cap, sizeof *ids);
  struct cb_buf outputs = {0};
  cb_err e = paths && ids ? CB_OK : CB_ENOMEM;
  for (int i = 0; !e && i < ndirs; i++)
    if (!(paths[n++] = strdup(dirs[i])))
      e = CB_ENOMEM;
  for (int i = 0; !e && i < nfiles; i++)
    for (const char *p = files[i].path; !e && (p = strchr(p, '/')); p++)
      if (!(paths[n++] = strndup(files[i].path, (size_t)(p - files[i].path))))
        e = CB_ENOMEM;
  if (e)
    goto out;
  qsort(paths, (size_t)n, sizeof *paths, cmp_str);
  int u = 0;
  for (int i = 0; i < n; i++) {
    if (u && !strcmp(paths[u - 1], paths[i])) {
      free(paths[i]);
      continue;
    }
    paths[u++] = paths[i];
  }
  n = u;
  if ((e = db_begin()))
    goto out;
  /* the new folder: the archive's name, or "name (2)", ... when that is taken */
  struct cb_folder f = {0};
  snprintf(f.id, sizeof f.id, "%s", folder_id);
  snprintf(f.parent_id, sizeof f.parent_id, "%s", parent_id);
  snprintf(f.owner_id, sizeof f.owner_id, "%s", owner_id);
  e = CB_EEXIST;
  for (int k = 1; e == CB_EEXIST && k <= 1000; k++) {
    if (k == 1)
      snprintf(f.name, sizeof f.name, "%s", name);
    else
      snprintf(f.name, sizeof f.name, "%.*s (%d)", CB_NAME_MAX - 16, name, k);
    e = db_folder_insert(&f);
  }
  /* the tree below it; parents sort before their children */
  for (int i = 0; !e && i < n; i++) {
    const char *slash = strrchr(paths[i], '/');
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - paths[i]) : 0, paths[i]);
    const char *pid = unpack_folder(paths, ids, n, folder_id, parent);
    struct cb_folder sub = {0};
    e = pid ? cb_id_new(sub.id) : CB_EINVAL;
    if (e)
      break;
    snprintf(sub.name, sizeof sub.name, "%s", slash ? slash + 1 : paths[i]);
    snprintf(sub.parent_id, sizeof sub.parent_id, "%s", pid);
    snprintf(sub.owner_id, sizeof sub.owner_id, "%s", owner_id);
    memcpy(ids[i], sub.id, sizeof ids[i]);
    e = db_folder_insert(&sub);
  }
  cb_buf_puts(&outputs, "[");
  for (int i = 0; !e && i < nfiles; i++) {
    const char *slash = strrchr(files[i].path, '/');
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - files[i].path) : 0, files[i].path);
    const char *pid = unpack_folder(paths, ids, n, folder_id, parent);
    e = pid ? db_file_put_tx(pid, slash ? slash + 1 : files[i].path, owner_id, files[i].sha256, files[i].size,
                             "application/octet-stream", "other", 0, files[i].file_id)
            : CB_EINVAL;
    if (!e)
      e = db_exec("INSERT OR IGNORE INTO job_files(job_id, file_id, role) VALUES (?, ?, 'output')", "ss", job_id,
                  files[i].file_id);
    if (!e)
      e = cb_buf_printf(&outputs, "%s\"%s\"", i ? "," : "", files[i].file_id);
  }
  if (!e)
    e = cb_buf_puts(&outputs, "]");
  if (!e)
    e = finish_tx(job_id, instance, "succeeded", NULL, outputs.data);
  if (!e)
    e = db_exec("UPDATE jobs SET result = ? WHERE id = ?", "ss", result_json, job_id);
  if (!e)
    e = db_commit();
  if (e)
    db_rollback();
out:
  for (int i = 0; paths && i < n; i++)
    free(paths[i]);
  free(paths);
  free(ids);
  cb_buf_free(&outputs);
  return e;
}

cb_err db_artifact_apply(const char *job_id, const char *instance, const char *file_id, int64_t version,
                         const char *kind, const char *media_type, const char *sha256, int64_t size)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)", "sis", sha256, size, ts);
  if (!e)
    e = db_exec("INSERT OR REPLACE INTO artifacts(file_id, version, kind, media_type, sha256, size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                "sisssis", file_id, version, kind, media_type, sha256, size, ts);
  if (!e)
    e = finish_tx(job_id, instance, "succeeded", NULL, NULL);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

static void read_artifact(sqlite3_stmt *st, struct cb_artifact_row *a)
{
  DB_COPY(st, 0, a->kind);
  DB_COPY(st, 1, a->media_type);
  DB_COPY(st, 2, a->sha256);
  a->size = sqlite3_column_int64(st, 3);
}

DB_READ_ONE(artifact_one, struct cb_artifact_row, read_artifact)

DB_VISITOR(art, struct cb_artifact_row, db_artifact_cb, read_artifact, DB_NO_CLEAR)

cb_err db_artifacts(const char *file_id, int64_t version, db_artifact_cb cb, void *ctx)
{
  struct art_visit ac = {cb, ctx};
  return db_each_row(db_query("SELECT kind, media_type, sha256, size FROM artifacts WHERE file_id = ?"
                              " AND version = ? ORDER BY kind",
                              "si", file_id, version),
                     art_row, &ac);
}

cb_err db_artifact_get(const char *file_id, int64_t version, const char *kind, struct cb_artifact_row *out)
{
  sqlite3_stmt *st = db_query("SELECT kind, media_type, sha256, size FROM artifacts WHERE file_id = ?"
                              " AND version = ? AND kind = ?",
                              "sis", file_id, version, kind);
  return artifact_one(st, out);
}

/* ------------------------------------------------------------ webhooks */

#define WEBHOOK_COLS                                                                                   \
  "w.id, w.owner_id, w.url, w.events, w.secret, w.created_at, w.failures, coalesce(w.last_error, '')," \
  " coalesce(w.disabled_at, ''), coalesce(w.disabled_reason, '')"

static const struct db_col webhook_cols[] = {
  DB_TEXT(struct cb_webhook, id),          DB_TEXT(struct cb_webhook, owner_id),
  DB_TEXT(struct cb_webhook, url),         DB_TEXT(struct cb_webhook, events),
  DB_TEXT(struct cb_webhook, secret),      DB_TEXT(struct cb_webhook, created_at),
  DB_NUM(struct cb_webhook, failures),     DB_TEXT(struct cb_webhook, last_error),
  DB_TEXT(struct cb_webhook, disabled_at), DB_TEXT(struct cb_webhook, disabled_reason)};

DB_READER(read_webhook, struct cb_webhook, webhook_cols)

cb_err db_webhook_create(const struct cb_webhook *w)
{
  return db_exec("INSERT INTO webhooks(id, owner_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                 "ssssss", w->id, w->owner_id, w->url, w->events, w->secret, w->created_at);
}

DB_VISITOR(webhook, struct cb_webhook, db_webhook_cb, read_webhook, DB_NO_CLEAR)

cb_err db_webhook_list(const char *owner_id, db_webhook_cb cb, void *ctx)
{
  struct webhook_visit wc = {cb, ctx};
  /* for the sender (owner NULL): the enabled ones of accounts that still act */
  return db_each_row(
    db_query("SELECT " WEBHOOK_COLS " FROM webhooks w JOIN users u ON u.id = w.owner_id"
             " WHERE w.deleted_at IS NULL AND (?1 IS NULL OR w.owner_id = ?1)"
             " AND (?1 IS NOT NULL OR (w.disabled_at IS NULL AND " USER_ACTIVE("u.") "))"
                                                                                     " ORDER BY w.created_at",
             "s", owner_id),
    webhook_row, &wc);
}

cb_err db_webhook_count(const char *owner_id, int64_t *n)
{
  sqlite3_stmt *st = db_query("SELECT count(*) FROM webhooks WHERE owner_id = ? AND deleted_at IS NULL", "s", owner_id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *n = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_webhook_result(const char *id, int ok, const char *error, int disable_after, int *disabled)
{
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  *disabled = 0;
  if (ok)
    return db_exec("UPDATE webhooks SET failures = 0 WHERE id = ?", "s", id);
  cb_err e = db_exec("UPDATE webhooks SET failures = failures + 1, last_error = ? WHERE id = ?", "ss", error, id);
  if (e)
    return e;
  /* too many failures in a row: off, with its pending deliveries */
  e = db_exec("UPDATE webhooks SET disabled_at = ?1, disabled_reason = ?2 || ' attempts in a row failed; the last: '"
              " || coalesce(last_error, '?') WHERE id = ?3 AND failures >= ?2 AND disabled_at IS NULL",
              "sis", now, (int64_t)disable_after, id);
  if (!e && db_changes()) {
    *disabled = 1;
    e = db_exec("UPDATE deliveries SET state = 'failed', last_error = 'the webhook was disabled'"
                " WHERE webhook_id = ? AND state = 'pending'",
                "s", id);
  }
  return e;
}

cb_err db_delivery_pending(const char *webhook_id, int64_t *n)
{
  sqlite3_stmt *st = db_query("SELECT count(*) FROM deliveries WHERE webhook_id = ? AND state = 'pending'", "s",
                              webhook_id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *n = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_webhook_delete(const char *owner_id, const char *id, const char *now_ts)
{
  cb_err e = db_exec("UPDATE webhooks SET deleted_at = ? WHERE id = ? AND owner_id = ? AND deleted_at IS NULL", "sss",
                     now_ts, id, owner_id);
  return e ? e : (db_changes() ? CB_OK : CB_ENOTFOUND);
}

cb_err db_webhook_set_disabled(const char *owner_id, const char *id, int disabled, const char *now_ts)
{
  /* on again: from a clean slate (no failures counted); off by hand: kept as it was
   * when it is already off */
  cb_err e = db_exec("UPDATE webhooks SET"
                     " disabled_at = CASE WHEN ?3 THEN coalesce(disabled_at, ?4) END,"
                     " disabled_reason = CASE WHEN ?3 THEN coalesce(disabled_reason, 'disabled by its owner') END,"
                     " failures = CASE WHEN ?3 THEN failures ELSE 0 END"
                     " WHERE id = ?1 AND owner_id = ?2 AND deleted_at IS NULL",
                     "ssis", id, owner_id, (int64_t)(disabled != 0), now_ts);
  return e ? e : (db_changes() ? CB_OK : CB_ENOTFOUND);
}

cb_err db_delivery_add(const char *webhook_id, const char *event, const char *payload, const char *when)
{
  return db_exec("INSERT INTO deliveries(webhook_id, event, payload, next_attempt, created_at)"
                 " VALUES (?, ?, ?, ?, ?)",
                 "sssss", webhook_id, event, payload, when, when);
}

struct delivery_ctx {
  db_delivery_cb cb;
  void *ctx;
};

static int delivery_row(sqlite3_stmt *st, void *p)
{
  struct delivery_ctx *dc = p;
  struct cb_delivery d;
  d.id = sqlite3_column_int64(st, 0);
  DB_COPY(st, 1, d.webhook_id);
  DB_COPY(st, 2, d.url);
  DB_COPY(st, 3, d.secret);
  DB_COPY(st, 4, d.event);
  d.payload = strdup((const char *)sqlite3_column_text(st, 5));
  d.attempts = sqlite3_column_int(st, 6);
  int stop = dc->cb(&d, dc->ctx);
  free(d.payload);
  return stop;
}

cb_err db_delivery_due(const char *now_ts, int limit, db_delivery_cb cb, void *ctx)
{
  struct delivery_ctx dc = {cb, ctx};
  /* the oldest due delivery of each webhook (deliveries of one webhook go in order), so
   * a webhook with a long queue hides nobody else's behind it */
  return db_each_row(db_query("SELECT id, webhook_id, url, secret, event, payload, attempts FROM"
                              " (SELECT d.id, d.webhook_id, w.url, w.secret, d.event, d.payload, d.attempts,"
                              " d.next_attempt, row_number() OVER (PARTITION BY d.webhook_id"
                              " ORDER BY d.next_attempt, d.id) AS nth"
                              " FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                              " WHERE d.state = 'pending' AND d.next_attempt <= ? AND w.deleted_at IS NULL"
                              " AND w.disabled_at IS NULL)"
                              " WHERE nth = 1 ORDER BY next_attempt, id LIMIT ?",
                              "si", now_ts, (int64_t)limit),
                     delivery_row, &dc);
}

cb_err db_delivery_result(int64_t id, const char *state, int attempts, const char *next_attempt, int last_status,
                          const char *last_error)
{
  return db_exec("UPDATE deliveries SET state = ?, attempts = ?, next_attempt = coalesce(?, next_attempt),"
                 " last_status = ?, last_error = ? WHERE id = ?",
                 "sisisi", state, (int64_t)attempts, next_attempt, (int64_t)last_status, last_error, id);
}

/* ------------------------------------------------------------ records */

#define RECORD_COLS \
  "id, file_id, version, idx, coalesce(title, ''), smiles, coalesce(inchikey, ''), coalesce(error, '')"

static const struct db_col record_cols[] = {DB_TEXT(struct cb_record, id),       DB_TEXT(struct cb_record, file_id),
                                            DB_NUM(struct cb_record, version),   DB_NUM(struct cb_record, index),
                                            DB_TEXT(struct cb_record, title),    DB_DUP(struct cb_record, smiles),
                                            DB_TEXT(struct cb_record, inchikey), DB_TEXT(struct cb_record, error)};

DB_READER(read_record, struct cb_record, record_cols)

DB_READ_ONE(record_one, struct cb_record, read_record)

void db_record_clear(struct cb_record *r)
{
  if (!r)
    return;
  free(r->smiles);
  r->smiles = NULL;
}

DB_VISITOR(record, struct cb_record, db_record_cb, read_record, db_record_clear)

cb_err db_records(const char *file_id, int64_t version, int64_t after_index, int limit, db_record_cb cb, void *ctx)
{
  struct record_visit rc = {cb, ctx};
  return db_each_row(db_query("SELECT " RECORD_COLS " FROM records WHERE file_id = ? AND version = ? AND idx > ?"
                              " ORDER BY idx LIMIT ?",
                              "siii", file_id, version, after_index, (int64_t)limit),
                     record_row, &rc);
}

/* One statement for every sort key and direction (the statement cache keys on the SQL's
 * address); the CASEs pick the key and the direction, and only a property's key runs the
 * subquery. ?3: the sort key, ?4: 1 for descending, ?5: the filter or NULL. */
#define RECORDS_FILTER                                                                                         \
  " WHERE r.file_id = ?1 AND r.version = ?2 AND (?5 IS NULL OR instr(lower(coalesce(r.title, '')), lower(?5))" \
  " OR instr(lower(coalesce(r.smiles, '')), lower(?5)) OR instr(lower(coalesce(r.inchikey, '')), lower(?5))"   \
  " OR EXISTS (SELECT 1 FROM properties p WHERE p.record_id = r.id AND instr(lower(p.value_text), lower(?5))))"

cb_err db_records_sorted(const struct db_records_query *rq, int64_t *total, db_record_cb cb, void *ctx)
{
  const char *sort = rq->sort && *rq->sort ? rq->sort : "index";
  const char *q = rq->q && *rq->q ? rq->q : NULL;
  if (total) {
    /* ?3 and ?4 are not used here: bound as NULL to reach ?5 */
    sqlite3_stmt *st = db_query("SELECT count(*) FROM records r" RECORDS_FILTER, "sinns", rq->file_id, rq->version, q);
    cb_err e = db_one_row(st);
    if (e)
      return e;
    *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  struct record_visit rc = {cb, ctx};
  return db_each_row(
    db_query(
      "SELECT id, file_id, version, idx, coalesce(title, ''), smiles, coalesce(inchikey, ''), coalesce(error, '')"
      " FROM (SELECT r.*, CASE ?3 WHEN 'index' THEN r.idx WHEN 'title' THEN nullif(lower(r.title), '')"
      " WHEN 'smiles' THEN nullif(r.smiles, '') ELSE (SELECT coalesce(p.value_num, p.value_text) FROM"
      " properties p WHERE p.record_id = r.id AND p.name = ?3 ORDER BY p.id LIMIT 1) END AS k"
      " FROM records r" RECORDS_FILTER ")"
      " ORDER BY k IS NULL, CASE WHEN ?4 = 0 THEN k END, CASE WHEN ?4 = 1 THEN k END DESC, idx LIMIT ?6 OFFSET ?7",
      "sisisii", rq->file_id, rq->version, sort, (int64_t)(rq->desc ? 1 : 0), q, (int64_t)rq->limit, rq->offset),
    record_row, &rc);
}

cb_err db_record_get(const char *id, struct cb_record *out)
{
  sqlite3_stmt *st = db_query("SELECT " RECORD_COLS " FROM records WHERE id = ?", "s", id);
  return record_one(st, out);
}

int64_t db_record_count(const char *file_id, int64_t version)
{
  sqlite3_stmt *st = db_query("SELECT count(*) FROM records WHERE file_id = ? AND version = ?", "si", file_id, version);
  int64_t n = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  if (st)
    sqlite3_reset(st);
  return n;
}

cb_err db_record_properties(const char *record_id, db_property_cb cb, void *ctx)
{
  struct property_visit pc = {cb, ctx};
  return db_each_row(db_query("SELECT name, value_text, value_num, unit, iri, source FROM properties"
                              " WHERE record_id = ? ORDER BY id",
                              "s", record_id),
                     db_property_row, &pc);
}

cb_err db_record_first(const char *file_id, int64_t version, struct cb_record *out)
{
  sqlite3_stmt *st = db_query("SELECT " RECORD_COLS " FROM records WHERE file_id = ? AND version = ? AND error IS NULL"
                              " ORDER BY idx LIMIT 1",
                              "si", file_id, version);
  return record_one(st, out);
}

cb_err db_depiction_get(const char *record_id, char sha256[65], int64_t *size)
{
  sqlite3_stmt *st = db_query("SELECT sha256, size FROM record_depictions WHERE record_id = ?", "s", record_id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  db_col_copy(st, 0, sha256, 65);
  *size = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_depiction_apply(const char *job_id, const char *instance, const char *record_id, const char *sha256,
                          int64_t size)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = finish_tx(job_id, instance, "succeeded", NULL, NULL);
  if (!e)
    e = db_exec("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)", "sis", sha256, size, ts);
  if (!e)
    e = db_exec("INSERT OR REPLACE INTO record_depictions(record_id, sha256, size, created_at) VALUES (?, ?, ?, ?)",
                "ssis", record_id, sha256, size, ts);
  if (!e)
    e = db_exec("DELETE FROM record_depiction_failures WHERE record_id = ?", "s", record_id);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

cb_err db_depiction_fail(const char *record_id, const char *job_id, const char *error)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT OR REPLACE INTO record_depiction_failures(record_id, error, job_id, created_at)"
                 " VALUES (?, ?, ?, ?)",
                 "ssss", record_id, error, job_id, ts);
}

/* The text of the one row st finds (a remembered failure's error). */
static cb_err one_text(sqlite3_stmt *st, char *out, size_t size)
{
  cb_err e = db_one_row(st);
  if (e)
    return e;
  db_col_copy(st, 0, out, size);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_depiction_failure(const char *record_id, char *error, size_t size)
{
  return one_text(db_query("SELECT error FROM record_depiction_failures WHERE record_id = ?", "s", record_id), error,
                  size);
}

cb_err db_conversion_fail(const char *file_id, int64_t version, const char *kind, const char *job_id, const char *error)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT OR REPLACE INTO conversion_failures(file_id, version, kind, error, job_id, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)",
                 "sissss", file_id, version, kind, error, job_id, ts);
}

cb_err db_conversion_failure(const char *file_id, int64_t version, const char *kind, char *error, size_t size)
{
  return one_text(db_query("SELECT error FROM conversion_failures WHERE file_id = ? AND version = ? AND kind = ?",
                           "sis", file_id, version, kind),
                  error, size);
}

cb_err db_job_finish_result(const char *id, const char *instance, const char *result_json)
{
  cb_err e = db_begin();
  if (e)
    return e;
  e = finish_tx(id, instance, "succeeded", NULL, NULL);
  if (!e)
    e = db_exec("UPDATE jobs SET result = ? WHERE id = ?", "ss", result_json, id);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

char *db_job_result(const char *id)
{
  sqlite3_stmt *st = db_query("SELECT result FROM jobs WHERE id = ?", "s", id);
  char *out = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = strdup((const char *)sqlite3_column_text(st, 0));
  if (st)
    sqlite3_reset(st);
  return out;
}
