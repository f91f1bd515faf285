/* One error enum for the whole program. Functions return cb_err; CB_OK is 0.
 * Error text that belongs to a request or a job travels with it, never in a global, and
 * always the one way: a `struct cb_errbuf *eb` argument that the function fills with
 * cb_errf (not a char buffer and its size). */
#ifndef CB_ERR_H
#define CB_ERR_H
#include <stddef.h>

typedef enum {
  CB_OK = 0,
  CB_ENOMEM,     /* out of memory */
  CB_EINVAL,     /* invalid argument or input */
  CB_ENOTFOUND,  /* no such object (or not visible to the caller) */
  CB_EEXIST,     /* already exists / conflicts with an existing object */
  CB_ETOOBIG,    /* over a configured size limit */
  CB_EIO,        /* I/O error on a local file */
  CB_ENOSPC,     /* no space left on the store */
  CB_EDB,        /* database error */
  CB_ESTORE,     /* blob store error */
  CB_ECHECKSUM,  /* content does not match its checksum */
  CB_EABORTED,   /* the peer went away or the server is stopping */
  CB_ECONFLICT,  /* state conflict (e.g. wrong upload offset, cycle in a move) */
  CB_EUSAGE,     /* command-line usage error */
  CB_EFORBIDDEN, /* visible to the caller, but not theirs to change */
  CB_EAUTH,      /* credentials missing, invalid, expired or revoked */
  CB_ETHROTTLED, /* too many attempts; try later */
  CB_ECOUNT
} cb_err;

const char *cb_strerror(cb_err e);

/* The human-readable reason of a failure. 512 bytes: the longest reasons are a
 * converter's, which reach jobs and clients whole up to that length. */
struct cb_errbuf {
  char msg[512];
};
void cb_errf(struct cb_errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
