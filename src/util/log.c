#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

int cb_log_level = CB_LOG_INFO;
static int log_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void cb_log_set_json(int on)
{
  log_json = on;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cb_log_emit(int level, const char *module, const char *fmt, ...)
{
  char msg[2048], ts[40];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cb_time_now_rfc3339(ts, sizeof ts);
  if (level < CB_LOG_DEBUG || level > CB_LOG_ERROR)
    level = CB_LOG_ERROR;

  pthread_mutex_lock(&log_lock);
  if (log_json) {
    struct cb_buf b = {0};
    cb_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":", ts, level_names[level]);
    cb_buf_json_string(&b, module);
    cb_buf_puts(&b, ",\"msg\":");
    cb_buf_json_string(&b, msg);
    cb_buf_puts(&b, "}\n");
    if (b.data)
      fputs(b.data, stderr);
    cb_buf_free(&b);
  } else {
    fprintf(stderr, "%s %-5s [%s] %s\n", ts, level_names[level], module, msg);
  }
  fflush(stderr);
  pthread_mutex_unlock(&log_lock);
}

void cb_log_syserr(const char *module, const char *call, const char *path, const char *func)
{
  int err = errno;
  if (CB_LOG_ERROR >= cb_log_level)
    cb_log_emit(CB_LOG_ERROR, module, "%s(%s) failed in %s: %s", call, path ? path : "", func, strerror(err));
  errno = err;
}
