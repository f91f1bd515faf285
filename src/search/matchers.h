/* Matchers: resident converter processes (`carboy worker`, confined as the job workers'
 * are) that serve structure searches while a request waits, with no job row and no queue:
 * they read a query structure (its canonical SMILES, InChIKey and FP2 fingerprint) and
 * match SMARTS patterns against the candidates a fingerprint screen passed, keeping the
 * molecules they read for the next query (convert/chem/match.c). */
#ifndef CB_MATCHERS_H
#define CB_MATCHERS_H
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/err.h"

struct matchers_config {
  int count; /* processes (CARBOY_MATCHERS) */
  const char *self_exe;
  const char *data_dir;
  uint64_t memory; /* each one's memory limit */
};

/* Prepares count matchers (each started at its first request). */
cb_err matchers_start(const struct matchers_config *cfg, struct cb_errbuf *eb);
/* Kills them; waits for requests using one to end. */
void matchers_stop(void);

/* Sends req (an object with "op": "query" or "match") for owner (the user whose search it
 * is: a matcher serves one at a time) to an idle matcher, waiting up to timeout_s for one
 * to be idle and as long for its answer; *result gets the answer's result (caller
 * deletes). A matcher that dies under the request is replaced and the request sent once
 * more to a new one; one that runs out of time is replaced, and the request fails.
 * Errors: CB_EINVAL (the query is at fault: eb says why), CB_EIO (no answer: eb says why),
 * CB_ETHROTTLED (none idle in time, or none could be started). */
cb_err matchers_call(const char *owner, cJSON *req, int timeout_s, cJSON **result, struct cb_errbuf *eb);
/* How many there are (a request spreads its batches over them). */
int matchers_count(void);

#endif
