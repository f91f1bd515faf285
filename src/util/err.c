#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const names[CB_ECOUNT] = {
  [CB_OK] = "ok",
  [CB_ENOMEM] = "out of memory",
  [CB_EINVAL] = "invalid input",
  [CB_ENOTFOUND] = "not found",
  [CB_EEXIST] = "already exists",
  [CB_ETOOBIG] = "too large",
  [CB_EIO] = "I/O error",
  [CB_ENOSPC] = "no space left on store",
  [CB_EDB] = "database error",
  [CB_ESTORE] = "blob store error",
  [CB_ECHECKSUM] = "checksum mismatch",
  [CB_EABORTED] = "aborted",
  [CB_ECONFLICT] = "conflict",
  [CB_EUSAGE] = "usage error",
  [CB_EFORBIDDEN] = "forbidden",
  [CB_EAUTH] = "not authenticated",
  [CB_ETHROTTLED] = "too many attempts",
};

const char *cb_strerror(cb_err e)
{
  if ((int)e < 0 || e >= CB_ECOUNT || !names[e])
    return "unknown error";
  return names[e];
}

void cb_errf(struct cb_errbuf *eb, const char *fmt, ...)
{
  va_list ap;
  if (!eb)
    return;
  va_start(ap, fmt);
  vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
  va_end(ap);
}
