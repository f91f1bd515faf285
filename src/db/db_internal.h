/* Shared by the files of src/db/ only. */
#ifndef CB_DB_INTERNAL_H
#define CB_DB_INTERNAL_H
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>

#include "util/err.h"

sqlite3 *db_conn(void);
/* A cached statement for sql (a string literal), reset and unbound. */
sqlite3_stmt *db_prep(const char *sql);
/* Binds arguments by a format: s = text (NULL binds NULL), i = int64_t, d = double, n = NULL. */
cb_err db_bind(sqlite3_stmt *st, const char *fmt, va_list ap);
/* Prepares and binds; step it and sqlite3_reset() when done. NULL on failure. */
sqlite3_stmt *db_query(const char *sql, const char *fmt, ...);
/* Prepares, binds, steps once and resets. */
cb_err db_exec(const char *sql, const char *fmt, ...);
cb_err db_rc(int rc);
int db_changes(void);
void db_col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap);
#define DB_COPY(st, col, field) db_col_copy((st), (col), (field), sizeof(field))

#endif
