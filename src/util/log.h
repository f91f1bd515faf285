/* Logging. CB_LOG checks the level before formatting anything (as Redis's serverLog).
 * Each line carries a module tag; CARBOY_LOG=json makes every line a JSON object. */
#ifndef CB_LOG_H
#define CB_LOG_H

enum { CB_LOG_DEBUG = 0, CB_LOG_INFO, CB_LOG_WARN, CB_LOG_ERROR };

extern int cb_log_level;

void cb_log_set_json(int on);
void cb_log_emit(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CB_LOG(level, module, ...)                 \
  do {                                             \
    if ((level) >= cb_log_level)                   \
      cb_log_emit((level), (module), __VA_ARGS__); \
  } while (0)

/* A failed system call: names the call, the path and errno's text (as SQLite's
 * unixLogError). */
#define CB_LOG_SYSERR(module, call, path) cb_log_syserr((module), (call), (path), __func__)
void cb_log_syserr(const char *module, const char *call, const char *path, const char *func);

#endif
