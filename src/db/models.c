/* Models (schemas/sql/0016_models.sql): their rows, their training jobs and their files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "util/util.h"

#define MODEL_COLS                                                                              \
  "m.id, m.folder_id, m.owner_id, m.name, coalesce(m.file_id, ''), m.state, m.error, "          \
  "coalesce(m.job_id, ''), coalesce(m.training_file_id, ''), m.spec, m.summary, m.created_at, " \
  "m.updated_at"
/* A model whose file was deleted, or whose folder was, is gone with it. */
#define MODEL_LIVE                                                                           \
  " m.folder_id IN (SELECT id FROM folders WHERE deleted_at IS NULL) AND (m.file_id IS NULL" \
  " OR m.file_id IN (SELECT id FROM files WHERE deleted_at IS NULL))"

static const struct db_col model_cols[] = {
  DB_TEXT(struct cb_model, id),        DB_TEXT(struct cb_model, folder_id), DB_TEXT(struct cb_model, owner_id),
  DB_TEXT(struct cb_model, name),      DB_TEXT(struct cb_model, file_id),   DB_TEXT(struct cb_model, state),
  DB_DUP(struct cb_model, error),      DB_TEXT(struct cb_model, job_id),    DB_TEXT(struct cb_model, training_file_id),
  DB_DUP(struct cb_model, spec),       DB_DUP(struct cb_model, summary),    DB_TEXT(struct cb_model, created_at),
  DB_TEXT(struct cb_model, updated_at)};

DB_READER(read_model, struct cb_model, model_cols)
DB_READ_ONE(model_one, struct cb_model, read_model)
DB_VISITOR(model, struct cb_model, db_model_cb, read_model, db_model_clear)

void db_model_clear(struct cb_model *m)
{
  if (!m)
    return;
  free(m->error);
  free(m->spec);
  free(m->summary);
  m->error = m->spec = m->summary = NULL;
}

cb_err db_model_get(const char *id, struct cb_model *out)
{
  return model_one(db_query("SELECT " MODEL_COLS " FROM models m WHERE m.id = ? AND" MODEL_LIVE, "s", id), out);
}

cb_err db_model_of_file(const char *file_id, struct cb_model *out)
{
  return model_one(db_query("SELECT " MODEL_COLS " FROM models m WHERE m.file_id = ? AND" MODEL_LIVE, "s", file_id),
                   out);
}

cb_err db_model_list(const struct db_viewer *v, const char *folder_id, const char *after_name, const char *after_id,
                     int limit, db_model_cb cb, void *ctx)
{
  struct model_visit mv = {cb, ctx};
  sqlite3_stmt *st = db_query(
    "SELECT " MODEL_COLS " FROM models m WHERE" MODEL_LIVE " AND (?1 IS NULL OR m.folder_id = ?1)"
    " AND (?2 IS NULL OR (m.name, m.id) > (?2, ?3))"
    " AND (?7 = 1 OR " DB_FOLDER_VISIBLE_SQL(
      "m.folder_id", "?5", "?6") " OR EXISTS (SELECT 1 FROM files f WHERE f.id = m.file_id "
                                 "AND " DB_FILE_VISIBLE_SQL("f", "?5", "?6") "))"
                                                                             " ORDER BY m.name, m.id LIMIT ?4",
    "sssissi", folder_id, after_name, after_id, (int64_t)limit, v->user_id, v->link, (int64_t)v->all);
  return db_each_row(st, model_row, &mv);
}

cb_err db_model_train(struct cb_model *m, const struct cb_job *j, const char *const *inputs, int ninputs, int *again)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  *again = 0;
  cb_err e = db_begin();
  if (e)
    return e;
  /* a model of that name in the folder is trained again: a new version of its file */
  /* a training whose job ended without recording its end here (canceled, failed by the
   * reaper) counts as ended */
  sqlite3_stmt *st = db_query("SELECT m.id, CASE WHEN m.state = 'training' AND coalesce((SELECT j.state IN"
                              " ('queued', 'running') FROM jobs j WHERE j.id = m.job_id), 0) = 0 THEN 'failed'"
                              " ELSE m.state END FROM models m WHERE m.folder_id = ? AND m.name = ? AND" MODEL_LIVE
                              " ORDER BY m.created_at LIMIT 1",
                              "ss", m->folder_id, m->name);
  e = db_one_row(st);
  char state[16] = "";
  if (!e) {
    db_col_copy(st, 0, m->id, sizeof m->id);
    db_col_copy(st, 1, state, sizeof state);
    sqlite3_reset(st);
    *again = 1;
    if (!strcmp(state, "training"))
      e = CB_ECONFLICT; /* one training at a time */
    else
      e = db_exec("UPDATE models SET state = 'training', error = NULL, job_id = ?, training_file_id = ?, spec = ?,"
                  " updated_at = ? WHERE id = ?",
                  "sssss", j->id, m->training_file_id, m->spec, ts, m->id);
  } else if (e == CB_ENOTFOUND) {
    cb_id_new(m->id);
    e = db_exec("INSERT INTO models(id, folder_id, owner_id, name, state, job_id, training_file_id, spec, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, 'training', ?, ?, ?, ?, ?)",
                "sssssssss", m->id, m->folder_id, m->owner_id, m->name, j->id, m->training_file_id, m->spec, ts, ts);
  }
  if (!e)
    e = db_job_insert_tx(j, inputs, ninputs);
  return db_end(e);
}

cb_err db_model_trained(const char *job_id, const char *instance, const char *sha256, int64_t size, const char *summary,
                        char file_id[CB_ID_LEN + 1])
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_begin();
  if (e)
    return e;
  struct cb_model m = {0};
  e = model_one(db_query("SELECT " MODEL_COLS " FROM models m WHERE m.job_id = ? AND" MODEL_LIVE, "s", job_id), &m);
  if (e == CB_ENOTFOUND) {
    /* no model of this training: deleted, or trained anew since (CB_EINVAL: the job fails,
     * never runs again), unless the job is no longer this instance's */
    sqlite3_stmt *st = db_query("SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? AND state = 'running'", "ss",
                                job_id, instance);
    cb_err le = db_one_row(st);
    if (!le)
      sqlite3_reset(st);
    e = le == CB_ENOTFOUND ? CB_ENOTFOUND : le ? le : CB_EINVAL;
  }
  char name[CB_NAME_MAX + 32];
  if (!e) {
    /* the bundle's file: the model's own, or a new one named after it */
    struct cb_file f = {0};
    if (m.file_id[0] && !db_file_get(m.file_id, &f))
      snprintf(name, sizeof name, "%s", f.name);
    else
      snprintf(name, sizeof name, "%.*s.carboy-model.json", CB_NAME_MAX - 24, m.name);
    db_file_clear(&f);
    e = db_file_put_tx(m.folder_id, name, m.owner_id, sha256, size, "application/vnd.carboy.model+json", "model", 0,
                       file_id);
  }
  if (!e)
    e = db_exec("UPDATE models SET state = 'ready', error = NULL, file_id = ?, summary = ?, updated_at = ?"
                " WHERE id = ? AND job_id = ?",
                "sssss", file_id, summary, ts, m.id, job_id);
  if (!e) {
    char outputs[CB_ID_LEN + 8];
    snprintf(outputs, sizeof outputs, "[\"%s\"]", file_id);
    e = db_job_finish(job_id, instance, "succeeded", NULL, outputs);
  }
  if (!e)
    e = db_exec("INSERT OR IGNORE INTO job_files(job_id, file_id, role) VALUES (?, ?, 'output')", "ss", job_id,
                file_id);
  db_model_clear(&m);
  return db_end(e);
}

cb_err db_model_failed(const char *job_id, const char *error)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  /* a model trained before keeps its file, and answers from it; its state says the new
   * training failed */
  return db_exec("UPDATE models SET state = 'failed', error = ?, updated_at = ? WHERE job_id = ?", "sss", error, ts,
                 job_id);
}

cb_err db_model_from_file_tx(const char *file_id, const char *summary)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_exec("UPDATE models SET summary = ?, updated_at = ? WHERE file_id = ? AND state <> 'training'", "sss",
                     summary, ts, file_id);
  if (e || db_changes())
    return e;
  sqlite3_stmt *st = db_query("SELECT 1 FROM models WHERE file_id = ?", "s", file_id);
  e = db_one_row(st);
  if (!e) {
    sqlite3_reset(st);
    return CB_OK; /* training again: its job records the new version */
  }
  if (e != CB_ENOTFOUND)
    return e;
  /* an uploaded bundle: a model named after its file, in its folder */
  char id[CB_ID_LEN + 1];
  cb_id_new(id);
  return db_exec("INSERT INTO models(id, folder_id, owner_id, name, file_id, state, spec, summary, created_at,"
                 " updated_at) SELECT ?, f.folder_id, f.owner_id,"
                 " CASE WHEN f.name LIKE '%.carboy-model.json' THEN substr(f.name, 1, length(f.name) - 18)"
                 " ELSE f.name END, f.id, 'ready', '{}', ?, ?, ? FROM files f WHERE f.id = ?",
                 "sssss", id, summary, ts, ts, file_id);
}
